//! From evaluated networks to the results store: one [`ResultRow`] per measured value, with the
//! columns that identify the network (task, dataset, noise, model kind, neuron, reset,
//! normalization, statistic, ladder, seed), per-layer firing rates and normalization factors, and
//! the pictures the qualitative figures show.

use std::path::Path;

use serde_json::Value;
use spiking_unet_core::convert::ScaleFactors;
use spiking_unet_core::neuron::{Neuron, Reset};
use spiking_unet_report::figures::image_dir;
use spiking_unet_report::store::{ModelId, ResultRow};

use crate::artifacts;
use crate::config::{DataConfig, ExperimentConfig, Split};
use crate::evaluate::{CachedEvaluation, Comparison};
use crate::fidelity::Fidelity;
use crate::layout::EvaluationCache;
use crate::networks::{Network, NetworkKind, Variant};
use crate::sweep::SweepPoint;
use crate::{Error, Result};

/// Sweep axes that have columns of their own in the store, so they stay out of the `point`
/// column (which would otherwise split one paper table into one table per value).
const AXES_WITH_COLUMNS: [&str; 6] = [
    "seed",
    "evaluate.",
    "convert.neurons",
    "convert.normalizations",
    "convert.statistic",
    "data.denoising.sigma",
];

/// The `point` column of a sweep point: its zip label, then its other axes, without the axes
/// that have columns; `base` when nothing is left.
pub fn point_column(point: &SweepPoint) -> String {
    let mut parts: Vec<String> = point.zip_label.iter().cloned().collect();
    for (axis, value) in &point.settings {
        let has_column = AXES_WITH_COLUMNS
            .iter()
            .any(|a| axis == a || (a.ends_with('.') && axis.starts_with(a)));
        if has_column || (point.zip_label.is_some() && point.zip_axes.contains(axis)) {
            continue;
        }
        let name = axis.rsplit('.').next().unwrap_or(axis);
        parts.push(format!("{name}={}", compact(value)));
    }
    // A config run wholly in another fidelity says so in every table, swept or not.
    let swept = point.settings.iter().any(|(axis, _)| axis == "fidelity");
    if !swept && point.config.fidelity != Fidelity::Corrected {
        parts.push(format!("fidelity={}", point.config.fidelity));
    }
    if parts.is_empty() {
        "base".into()
    } else {
        parts.join(" ")
    }
}

/// A value as a label piece.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The dataset a config reads, as the store names it.
pub fn dataset_name(config: &ExperimentConfig) -> &'static str {
    match &config.data {
        DataConfig::Denoising(data) if data.color => "embedded-color",
        DataConfig::Denoising(_) => "embedded-gray",
        DataConfig::Segmentation(_) => "embedded-nuclei",
        DataConfig::Benchmark(data) => data.dataset.name(),
    }
}

/// The identity columns of `network` of `config` at sweep point `point`.
fn model_id(config: &ExperimentConfig, point: &str, network: &Network) -> ModelId {
    let (task, sigma) = match &config.data {
        DataConfig::Denoising(data) => ("denoising", Some(data.sigma as f64)),
        DataConfig::Segmentation(_) => ("segmentation", None),
        DataConfig::Benchmark(data) if data.is_denoising() => {
            ("denoising", Some(data.sigma as f64))
        }
        DataConfig::Benchmark(_) => ("segmentation", None),
    };
    let mut id = ModelId {
        experiment: config.name.clone(),
        point: point.to_string(),
        dataset: dataset_name(config).into(),
        task: task.into(),
        sigma,
        model: "ann".into(),
        neuron: None,
        reset: None,
        normalization: None,
        statistic: None,
        ladder: None,
        finetune_time_steps: None,
        seed: config.seed,
    };
    let Some(variant) = &network.variant else {
        return id;
    };
    match network.kind {
        NetworkKind::Ann => return id,
        NetworkKind::Converted => id.model = "converted".into(),
        NetworkKind::Finetuned => {
            id.model = "finetuned".into();
            id.finetune_time_steps = Some(config.finetune.time_steps as u32);
        }
    }
    let join = |values: &[f32]| {
        values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (neuron, reset, ladder) = match &variant.neuron {
        Neuron::If { threshold, reset } => (
            "if",
            Some(match reset {
                Reset::Zero => "zero",
                Reset::Subtract => "subtract",
            }),
            join(&[*threshold]),
        ),
        Neuron::MultiThreshold { ladder } => ("multi_threshold", None, join(&ladder.thresholds())),
        Neuron::Burst {
            threshold,
            max_spikes,
        } => ("burst", None, format!("{threshold}x{max_spikes}")),
    };
    id.neuron = Some(neuron.into());
    id.reset = reset.map(str::to_string);
    id.ladder = Some(ladder);
    id.normalization = Some(variant.spec.normalization.label().into());
    id.statistic = Some(variant.spec.statistic.label());
    id
}

/// Every row of an evaluated config: whole-network metrics (per image and split-level), firing
/// rate, spikes and synaptic operations per layer, and each converted network's factors.
pub fn rows(
    config: &ExperimentConfig,
    point: &str,
    comparison: &Comparison,
) -> Result<Vec<ResultRow>> {
    let mut rows = Vec::new();
    for model in &comparison.networks {
        let id = model_id(config, point, &model.network);
        for r in &model.rows {
            rows.push(ResultRow {
                id: id.clone(),
                split: r.split.to_string(),
                image: r.image.clone(),
                time_steps: r.time_steps.map(|t| t as u32),
                layer: None,
                metric: r.metric.clone(),
                value: r.value,
            });
        }
        for l in &model.layers {
            for (metric, value) in [
                ("firing_rate", l.firing_rate),
                ("spikes", l.spikes),
                ("synaptic_operations", l.synaptic_operations),
            ] {
                rows.push(ResultRow {
                    id: id.clone(),
                    split: l.split.to_string(),
                    image: l.image.clone(),
                    time_steps: Some(l.time_steps as u32),
                    layer: Some(l.layer.clone()),
                    metric: metric.into(),
                    value,
                });
            }
        }
        if model.network.kind == NetworkKind::Converted {
            let factors: ScaleFactors = artifacts::read_sealed(&model.network.dir.scale_factors())?;
            for layer in &factors.layers {
                // One number per layer: the mean output factor over its channels.
                let lambda = match &layer.lambda_out {
                    spiking_unet_core::convert::Scale::Uniform(v) => *v as f64,
                    other => {
                        let values = other.expand(1);
                        values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64
                    }
                };
                for split in &config.evaluate.splits {
                    rows.push(ResultRow {
                        id: id.clone(),
                        split: split.to_string(),
                        image: "all".into(),
                        time_steps: None,
                        layer: Some(layer.layer.clone()),
                        metric: "factor".into(),
                        value: lambda,
                    });
                }
            }
        }
    }
    Ok(rows)
}

/// The bytes of a cached picture, checked against the hash its evaluation recorded (the
/// ANN's `ann.json` for `input`, `target` and `ann`; `T<t>.json` for the panel `T<t>`).
fn verified_picture(
    cache: &EvaluationCache,
    split: Split,
    (image, panel): (&str, &str),
) -> Result<Vec<u8>> {
    let time_steps = panel.strip_prefix('T').and_then(|t| t.parse().ok());
    let evaluation = CachedEvaluation::read(&cache.file(split, time_steps))?;
    let path = cache.picture(split, image, panel);
    let recorded = evaluation
        .pictures
        .get(&format!("{image}/{panel}"))
        .ok_or_else(|| Error::Damaged {
            path: path.clone(),
            reason: "no evaluation recorded this picture".into(),
        })?;
    artifacts::verify_file(&path, recorded)?;
    std::fs::read(&path).map_err(Error::io("reading", &path))
}

/// Copy the pictures of the headline networks into `<results>/images/...`: input, target and
/// ANN output; the converted networks that fine-tuning starts from (else the first MT one) at
/// the smallest, middle and largest evaluated T and the fine-tuning T; the fine-tuned ones at
/// their T.
pub fn export_pictures(
    config: &ExperimentConfig,
    point: &str,
    comparison: &Comparison,
    results_dir: &Path,
) -> Result<()> {
    let steps = config.evaluation_steps();
    let mut shown: Vec<usize> = vec![steps[0], steps[steps.len() / 2], steps[steps.len() - 1]];
    let finetuning = comparison
        .networks
        .iter()
        .any(|m| m.network.kind == NetworkKind::Finetuned);
    if finetuning {
        shown.push(config.finetune.time_steps);
    }
    shown.sort_unstable();
    shown.dedup();
    let headline = |v: &Variant| {
        if finetuning {
            config
                .finetune
                .normalizations
                .contains(&v.spec.normalization)
                && config.finetune.neurons.contains(&v.neuron)
        } else {
            matches!(v.neuron, Neuron::MultiThreshold { .. })
        }
    };
    let mut converted_done = false;
    for model in &comparison.networks {
        let network = &model.network;
        let (panels, prefix): (Vec<String>, &str) = match (network.kind, &network.variant) {
            (NetworkKind::Ann, _) => (vec!["input".into(), "target".into(), "ann".into()], ""),
            (NetworkKind::Converted, Some(v)) if headline(v) && !converted_done => {
                converted_done = true;
                (
                    shown.iter().map(|t| format!("T{t}")).collect(),
                    "converted-",
                )
            }
            (NetworkKind::Finetuned, _) => (
                vec![format!("T{}", config.finetune.time_steps)],
                "finetuned-",
            ),
            (NetworkKind::Converted, _) => continue,
        };
        for &split in &config.evaluate.splits {
            let Ok(images) = std::fs::read_dir(model.cache.pictures(split)) else {
                continue;
            };
            for image in images.filter_map(|e| e.ok()) {
                let image = image.file_name().to_string_lossy().to_string();
                for panel in &panels {
                    let from = model.cache.picture(split, &image, panel);
                    if !from.exists() {
                        continue;
                    }
                    let bytes = verified_picture(&model.cache, split, (&image, panel))?;
                    let name = if prefix.is_empty() {
                        panel.clone()
                    } else {
                        format!("{prefix}{panel}")
                    };
                    let to = image_dir(
                        &spiking_unet_report::image_root(results_dir),
                        &config.name,
                        point,
                        &split.to_string(),
                    )
                    .join(&image)
                    .join(format!("{name}.png"));
                    artifacts::write_atomic(&to, &bytes)?;
                }
            }
        }
    }
    Ok(())
}
