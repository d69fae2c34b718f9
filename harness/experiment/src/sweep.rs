//! Sweeps: one config file, many experiments. A `sweep:` block names axes over config paths
//! (`evaluate.time_steps`, `convert.neurons`, `data.denoising.sigma`, `seed`, ...), each with a
//! list of values or a range; [`expand`] turns the file into labelled points, each a complete,
//! validated [`ExperimentConfig`].
//!
//! ```yaml
//! sweep:
//!   grid:                        # cartesian product, the last axis varying fastest
//!     convert.normalizations: [layer_wise, connection_wise]
//!     evaluate.time_steps: {from: 4, to: 128, factor: 2}
//!   zip:                         # taken together, index by index (all the same length)
//!     data.denoising.sigma: [15, 25]
//!     finetune.time_steps: [1, 2]
//!   zip_labels: [sigma15, sigma25]
//! ```
//!
//! A value replaces the config value at its path; a single value given for a list field (such as
//! `convert.neurons`) becomes a one-element list, so each point is one variant. Points share
//! upstream artifacts because artifacts are keyed by what they depend on: points that differ only
//! in `evaluate` reuse one ANN and one conversion. [`Shard`] picks a deterministic slice of the
//! points, for job arrays.

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ExperimentConfig;
use crate::{Error, Result};

/// The `sweep:` block of a config file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Axes combined as a cartesian product, in file order; the last varies fastest.
    #[serde(default)]
    pub grid: IndexMap<String, AxisValues>,
    /// Axes taken together: the k-th point uses the k-th value of every axis.
    #[serde(default)]
    pub zip: IndexMap<String, AxisValues>,
    /// Names for the zipped points, used in labels instead of their values.
    #[serde(default)]
    pub zip_labels: Option<Vec<String>>,
}

/// The values of one axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of values, or a range {from, to, step} or {from, to, factor}"
)]
pub enum AxisValues {
    /// Explicit values, in order.
    List(Vec<Value>),
    /// `from` to `to` inclusive, adding `step` or multiplying by `factor`.
    Range(Range),
}

/// A numeric range; integers stay integers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// First value.
    pub from: f64,
    /// Last value (included when reached exactly).
    pub to: f64,
    /// Added to get the next value.
    #[serde(default)]
    pub step: Option<f64>,
    /// Multiplied to get the next value (geometric ranges, e.g. T = 4, 8, ..., 128).
    #[serde(default)]
    pub factor: Option<f64>,
}

/// One experiment of a sweep.
#[derive(Debug, Clone)]
pub struct SweepPoint {
    /// Position in the full expansion (0-based); stable across runs and shards.
    pub index: usize,
    /// Human label such as `sigma25 normalizations=layer_wise time_steps=8`; `base` without a sweep.
    pub label: String,
    /// `(config path, value)` of every axis at this point, zipped axes first.
    pub settings: Vec<(String, Value)>,
    /// The point's name from `zip_labels`, when the sweep gives them.
    pub zip_label: Option<String>,
    /// The zipped axes.
    pub zip_axes: Vec<String>,
    /// The complete config of this point (its `sweep` is `None`).
    pub config: ExperimentConfig,
}

/// A deterministic slice of a sweep: shard `index` of `count`, 1-based, in contiguous blocks so
/// that neighbouring points (which share upstream artifacts) stay together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, 1..=count.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Shard {
    /// Every point.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Parse `i/n` with 1 <= i <= n.
    pub fn parse(text: &str) -> std::result::Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("expected i/n such as 1/2, got {text:?}"))?;
        let parse = |s: &str| s.trim().parse::<usize>().map_err(|e| format!("{s:?}: {e}"));
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("need 1 <= i <= n, got {index}/{count}"));
        }
        Ok(Shard { index, count })
    }

    /// The points of this shard: block `index` of `count` near-equal contiguous blocks.
    pub fn select<T>(&self, points: Vec<T>) -> Vec<T> {
        let n = points.len();
        let start = n * (self.index - 1) / self.count;
        let end = n * self.index / self.count;
        points.into_iter().skip(start).take(end - start).collect()
    }

    /// `shard-1-of-2`, for file names.
    pub fn slug(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The points of `config` (read from `path`, named in errors): one point labelled `base` when
/// it has no sweep.
pub fn expand(config: &ExperimentConfig, path: &Path) -> Result<Vec<SweepPoint>> {
    let mut base = config.clone();
    let Some(sweep) = base.sweep.take() else {
        base.resolve();
        return Ok(vec![SweepPoint {
            index: 0,
            label: "base".into(),
            settings: Vec::new(),
            zip_label: None,
            zip_axes: Vec::new(),
            config: base,
        }]);
    };
    let invalid = |field: String, message: String| Error::ConfigValue {
        path: path.to_path_buf(),
        line: None,
        field,
        message,
    };
    let grid = expand_axes(&sweep.grid, "grid", path)?;
    let zip = expand_axes(&sweep.zip, "zip", path)?;
    let zip_len = zip.first().map_or(1, |(_, values)| values.len());
    if let Some((axis, values)) = zip.iter().find(|(_, v)| v.len() != zip_len) {
        return Err(invalid(
            format!("sweep.zip.{axis}"),
            format!(
                "zipped axes must have the same length: {} has {zip_len}, this one {}",
                zip[0].0,
                values.len()
            ),
        ));
    }
    if let Some(labels) = &sweep.zip_labels {
        if labels.len() != zip_len {
            return Err(invalid(
                "sweep.zip_labels".into(),
                format!("{} labels for {zip_len} zipped points", labels.len()),
            ));
        }
        if let Some(twice) = first_repeated(labels) {
            return Err(invalid(
                "sweep.zip_labels".into(),
                format!("`{twice}` names two zipped points; every label must be different"),
            ));
        }
    }
    for (block, axes) in [("grid", &grid), ("zip", &zip)] {
        for (axis, values) in axes {
            let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            if let Some(twice) = first_repeated(&texts) {
                return Err(invalid(
                    format!("sweep.{block}.{axis}"),
                    format!("{twice} appears twice: the sweep would run the same point twice"),
                ));
            }
        }
    }
    for (axis, _) in grid.iter().chain(&zip) {
        if axis == "sweep" || axis.starts_with("report") || axis == "name" {
            return Err(invalid(
                format!("sweep: {axis}"),
                "`name`, `sweep` and `report` belong to the whole file and cannot be swept".into(),
            ));
        }
    }

    let base_value = serde_json::to_value(&base).expect("a config serializes to JSON");
    let mut points = Vec::new();
    for z in 0..zip_len {
        // The grid as an odometer: the last axis varies fastest.
        let total: usize = grid.iter().map(|(_, v)| v.len()).product();
        for g in 0..total {
            let mut settings = Vec::new();
            let mut label = Vec::new();
            if !zip.is_empty() {
                match &sweep.zip_labels {
                    Some(labels) => label.push(labels[z].clone()),
                    None => label.extend(zip.iter().map(|(a, v)| axis_label(a, &v[z]))),
                }
                settings.extend(zip.iter().map(|(a, v)| (a.clone(), v[z].clone())));
            }
            let mut rest = g;
            let mut chosen = vec![Value::Null; grid.len()];
            for (k, (_, values)) in grid.iter().enumerate().rev() {
                chosen[k] = values[rest % values.len()].clone();
                rest /= values.len();
            }
            for ((axis, _), value) in grid.iter().zip(chosen) {
                label.push(axis_label(axis, &value));
                settings.push((axis.clone(), value));
            }
            let mut value = base_value.clone();
            for (axis, setting) in &settings {
                set_path(&mut value, axis, setting.clone())
                    .map_err(|message| invalid(format!("sweep: {axis}"), message))?;
            }
            let label = label.join(" ");
            let mut config: ExperimentConfig = serde_json::from_value(value).map_err(|err| {
                invalid(
                    format!("sweep point `{label}`"),
                    format!("the swept values do not make a valid config: {err}"),
                )
            })?;
            config.validate(path).map_err(|err| match err {
                // Name the axis that set the offending field, so the error points at its line.
                Error::ConfigValue { field, message, .. } => {
                    let axis = settings
                        .iter()
                        .map(|(axis, _)| axis)
                        .find(|axis| field.starts_with(axis.as_str()) || axis.starts_with(&field));
                    let block = if zip.iter().any(|(a, _)| Some(a) == axis) {
                        "zip"
                    } else {
                        "grid"
                    };
                    invalid(
                        axis.map_or(field.clone(), |axis| format!("sweep.{block}.{axis}")),
                        format!("at sweep point `{label}`: field `{field}`: {message}"),
                    )
                }
                other => invalid(format!("sweep point `{label}`"), other.to_string()),
            })?;
            // After the axes: a swept `fidelity` decides the departures its point leaves unset.
            config.resolve();
            points.push(SweepPoint {
                index: points.len(),
                label,
                settings,
                zip_label: sweep.zip_labels.as_ref().map(|labels| labels[z].clone()),
                zip_axes: zip.iter().map(|(a, _)| a.clone()).collect(),
                config,
            });
        }
    }
    Ok(points)
}

/// The first value that appears twice in `values`.
fn first_repeated(values: &[String]) -> Option<&String> {
    let mut seen = std::collections::HashSet::new();
    values.iter().find(|v| !seen.insert(*v))
}

/// The values of every axis of one block (`grid` or `zip`), in file order.
fn expand_axes(
    axes: &IndexMap<String, AxisValues>,
    block: &str,
    path: &Path,
) -> Result<Vec<(String, Vec<Value>)>> {
    axes.iter()
        .map(|(axis, values)| {
            let field = format!("sweep.{block}.{axis}");
            Ok((axis.clone(), values.expand(&field, path)?))
        })
        .collect()
}

impl AxisValues {
    /// The values in order; `field` names the axis in errors.
    fn expand(&self, field: &str, path: &Path) -> Result<Vec<Value>> {
        let invalid = |message: String| Error::ConfigValue {
            path: path.to_path_buf(),
            line: None,
            field: field.to_string(),
            message,
        };
        let values = match self {
            AxisValues::List(values) => values.clone(),
            AxisValues::Range(range) => range.values().map_err(invalid)?,
        };
        if values.is_empty() {
            return Err(invalid("an axis needs at least one value".into()));
        }
        Ok(values)
    }
}

impl Range {
    /// The values from `from` to `to`, at most 10 000 of them.
    fn values(&self) -> std::result::Result<Vec<Value>, String> {
        let next: Box<dyn Fn(f64) -> f64> = match (self.step, self.factor) {
            (Some(step), None) if step > 0.0 => Box::new(move |x| x + step),
            (None, Some(factor)) if factor > 1.0 && self.from > 0.0 => {
                Box::new(move |x| x * factor)
            }
            (Some(_), None) => return Err("`step` must be > 0".into()),
            (None, Some(_)) => return Err("`factor` must be > 1 and `from` > 0".into()),
            _ => return Err("give exactly one of `step` and `factor`".into()),
        };
        if !(self.from.is_finite() && self.to.is_finite()) || self.to < self.from {
            return Err(format!(
                "need from <= to, got {} and {}",
                self.from, self.to
            ));
        }
        let integral = |x: f64| x.fract() == 0.0;
        let all_integers = integral(self.from)
            && self.step.is_none_or(integral)
            && self.factor.is_none_or(integral);
        let mut values = Vec::new();
        let mut x = self.from;
        // A relative slack so that 0.1-steps still reach `to` despite rounding.
        while x <= self.to * (1.0 + 1e-12) + 1e-12 {
            values.push(if all_integers {
                Value::from(x as i64)
            } else {
                Value::from(x)
            });
            if values.len() > 10_000 {
                return Err("more than 10 000 values; use a larger step or factor".into());
            }
            x = next(x);
        }
        Ok(values)
    }
}

/// `time_steps=8`, `neurons=if(reset=zero,threshold=1)`, from the last path segment and a compact
/// rendering of the value.
fn axis_label(axis: &str, value: &Value) -> String {
    let name = axis.rsplit('.').next().unwrap_or(axis);
    format!("{name}={}", compact(value))
}

/// A value without JSON's quotes and braces: `if(reset=zero)`, `[2,1,0.5]`, `25`.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(compact).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => {
            let kind = map.get("kind").map(compact);
            let fields: Vec<String> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "kind")
                .map(|(k, v)| format!("{k}={}", compact(v)))
                .collect();
            match kind {
                Some(kind) if fields.is_empty() => kind,
                Some(kind) => format!("{kind}({})", fields.join(",")),
                None => format!("{{{}}}", fields.join(",")),
            }
        }
        other => other.to_string(),
    }
}

/// Replace the value at dotted `path` in `root`. Every segment must exist (the base config is
/// serialized with all its defaults, so every field does); a scalar or map set on a list field
/// becomes a one-element list.
pub(crate) fn set_path(
    root: &mut Value,
    path: &str,
    value: Value,
) -> std::result::Result<(), String> {
    let mut node = root;
    let mut walked = Vec::new();
    for segment in path.split('.') {
        let Value::Object(map) = node else {
            return Err(format!(
                "`{}` is not a section with fields",
                walked.join(".")
            ));
        };
        if !map.contains_key(segment) {
            let mut allowed: Vec<&String> = map.keys().collect();
            allowed.sort();
            let allowed: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            let here = if walked.is_empty() {
                "the config".to_string()
            } else {
                format!("`{}`", walked.join("."))
            };
            return Err(format!(
                "{here} has no field `{segment}`; it has: {}",
                allowed.join(", ")
            ));
        }
        walked.push(segment);
        node = map.get_mut(segment).expect("checked above");
    }
    *node = match (&*node, value) {
        (Value::Array(_), value @ Value::Array(_)) => value,
        (Value::Array(_), value) => Value::Array(vec![value]),
        (_, value) => value,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const BASE: &str = "name: s\ndata:\n  denoising: {}\n";

    fn points(sweep: &str) -> Result<Vec<SweepPoint>> {
        let path = Path::new("sweep.yaml");
        let config = parse(&format!("{BASE}{sweep}"), path)?;
        expand(&config, path)
    }

    #[test]
    fn a_config_without_sweep_is_one_point() {
        let points = points("").expect("valid");
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].label, "base");
    }

    #[test]
    fn grid_is_a_cartesian_product_with_the_last_axis_fastest() {
        let points = points(
            "sweep:\n  grid:\n    convert.normalizations: [layer_wise, connection_wise]\n    evaluate.time_steps: {from: 4, to: 16, factor: 2}\n",
        )
        .expect("valid sweep");
        let labels: Vec<&str> = points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "normalizations=layer_wise time_steps=4",
                "normalizations=layer_wise time_steps=8",
                "normalizations=layer_wise time_steps=16",
                "normalizations=connection_wise time_steps=4",
                "normalizations=connection_wise time_steps=8",
                "normalizations=connection_wise time_steps=16",
            ]
        );
        // A single value on a list field is a one-element list.
        assert_eq!(points[4].config.evaluate.time_steps, vec![8]);
        assert_eq!(
            points[4].config.convert.normalizations,
            vec![spiking_unet_core::convert::Normalization::ConnectionWise]
        );
        assert!(points.iter().all(|p| p.config.sweep.is_none()));
    }

    #[test]
    fn zipped_axes_move_together_and_take_their_labels() {
        let points = points(
            "sweep:\n  zip:\n    data.denoising.sigma: [15, 25]\n    finetune.time_steps: [1, 2]\n  zip_labels: [low, high]\n  grid:\n    seed: [0, 1]\n",
        )
        .expect("valid sweep");
        let summary: Vec<(String, u64, usize)> = points
            .iter()
            .map(|p| {
                let crate::config::DataConfig::Denoising(data) = &p.config.data else {
                    panic!("denoising")
                };
                (
                    p.label.clone(),
                    p.config.seed,
                    p.config.finetune.time_steps + data.sigma as usize,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("low seed=0".to_string(), 0, 16),
                ("low seed=1".to_string(), 1, 16),
                ("high seed=0".to_string(), 0, 27),
                ("high seed=1".to_string(), 1, 27),
            ]
        );
    }

    #[test]
    fn neuron_maps_get_compact_labels() {
        let points = points(
            "sweep:\n  grid:\n    convert.neurons:\n      - {kind: if, reset: subtract}\n      - {kind: multi_threshold, ladder: [1, 0.5]}\n",
        )
        .expect("valid sweep");
        assert_eq!(points[0].label, "neurons=if(reset=subtract)");
        assert_eq!(points[1].label, "neurons=multi_threshold(ladder=[1,0.5])");
        assert_eq!(points[1].config.convert.neurons.len(), 1);
    }

    #[test]
    fn bad_axes_name_the_axis_and_what_is_allowed() {
        let message = points("sweep:\n  grid:\n    train.epochz: [1, 2]\n")
            .expect_err("typo")
            .to_string();
        assert!(
            message.contains("train.epochz") && message.contains("epochs"),
            "{message}"
        );
        let message = points("sweep:\n  grid:\n    train.epochs: [1, 0]\n")
            .expect_err("epochs 0")
            .to_string();
        assert!(
            message.contains("epochs=0") && message.contains("train.epochs"),
            "{message}"
        );
        let message = points("sweep:\n  zip:\n    seed: [1, 2]\n    train.epochs: [1]\n")
            .expect_err("lengths")
            .to_string();
        assert!(message.contains("same length"), "{message}");
        let message = points("sweep:\n  grid:\n    seed: {from: 3, to: 1, step: 1}\n")
            .expect_err("empty range")
            .to_string();
        assert!(message.contains("sweep.grid.seed"), "{message}");
    }

    #[test]
    fn shards_partition_the_points_in_contiguous_blocks() {
        let all: Vec<usize> = (0..7).collect();
        let mut joined = Vec::new();
        for index in 1..=3 {
            joined.extend(Shard { index, count: 3 }.select(all.clone()));
        }
        assert_eq!(joined, all);
        assert_eq!(Shard { index: 1, count: 2 }.select(all.clone()), [0, 1, 2]);
        assert_eq!(Shard::parse("2/2"), Ok(Shard { index: 2, count: 2 }));
        assert!(
            Shard::parse("0/2").is_err()
                && Shard::parse("3/2").is_err()
                && Shard::parse("x").is_err()
        );
    }
}
