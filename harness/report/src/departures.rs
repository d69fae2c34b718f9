//! The departures report: for a results folder whose sweep has a `fidelity` axis
//! (`corrected`, `authors`, `authors:<departure>`), what each departure from the authors' code
//! changes on its own, and what all of them change together, against the corrected harness.
//!
//! A point's `point` column reads `<rest> fidelity=<value>`; points that share `<rest>` (and
//! dataset, noise, split) are compared network by network: the main metric at every T as a
//! difference, spikes and energy at the largest T as a ratio, each counted in its own point's
//! unit (so `authors:energy_unit` shows the per-input/per-image ratio). A departure that changes
//! nothing in the setting is listed as such.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::plot::{self, LineChart, Series};
use crate::tables::{Detail, GroupKey, Method, Summary, Table, TableSettings, mean_std};

/// The piece of a `point` column that names the fidelity.
const AXIS: &str = "fidelity=";

/// The fidelity every variant is compared with.
const CORRECTED: &str = "corrected";

/// One compared setting: the groups of its fidelity variants.
struct Family {
    /// The corrected group's key with the fidelity removed from `point`.
    base: GroupKey,
    /// `corrected`, `authors`, `authors:<departure>` → group.
    variants: BTreeMap<String, GroupKey>,
}

/// `point` without its fidelity piece, and the fidelity; `None` when it has none.
fn split_point(point: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = point.split(' ').collect();
    let fidelity = parts.iter().find_map(|p| p.strip_prefix(AXIS))?;
    let rest: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !p.starts_with(AXIS))
        .collect();
    let rest = if rest.is_empty() {
        "base".to_string()
    } else {
        rest.join(" ")
    };
    Some((rest, fidelity.to_string()))
}

/// True for a group of a single departure (`authors:<departure>`), whose figures the report
/// leaves out: the departures table and figure show what it changes.
pub fn is_single_departure(group: &GroupKey) -> bool {
    split_point(&group.point).is_some_and(|(_, f)| f.starts_with("authors:"))
}

/// The families of `summary` that have a corrected variant and at least one other.
fn families(summary: &Summary) -> Vec<Family> {
    let mut families: BTreeMap<GroupKey, BTreeMap<String, GroupKey>> = BTreeMap::new();
    for group in summary.groups() {
        if let Some((rest, fidelity)) = split_point(&group.point) {
            let base = GroupKey {
                point: rest,
                ..group.clone()
            };
            families.entry(base).or_default().insert(fidelity, group);
        }
    }
    families
        .into_iter()
        .filter(|(_, v)| v.contains_key(CORRECTED) && v.len() > 1)
        .map(|(base, variants)| Family { base, variants })
        .collect()
}

/// The variants other than corrected, single departures first (by name), `authors` last.
fn compared(family: &Family) -> Vec<(&String, &GroupKey)> {
    let mut variants: Vec<(&String, &GroupKey)> = family
        .variants
        .iter()
        .filter(|(f, _)| f.as_str() != CORRECTED)
        .collect();
    variants.sort_by_key(|(f, _)| (f.as_str() == "authors", (*f).clone()));
    variants
}

/// The mean of `metric` for `method` at `t` in `group`.
fn mean(summary: &Summary, group: &GroupKey, method: &Method, t: u32, metric: &str) -> Option<f64> {
    summary
        .values(group, method, t, metric)
        .map(|values| mean_std(values).0)
}

/// The method of `group` that is `method` under another fidelity: the same network but for
/// the statistic, which the authors' connection-wise percentile renames.
fn counterpart(summary: &Summary, group: &GroupKey, method: &Method) -> Option<Method> {
    summary
        .methods(group)
        .into_iter()
        .find(|m| m.without_statistic() == method.without_statistic())
}

/// `+0.12` (dB) or `-0.0132`; `0` when equal.
fn difference(metric: &str, delta: f64) -> String {
    if delta == 0.0 {
        "0".into()
    } else if metric == "psnr" {
        format!("{delta:+.2}")
    } else {
        format!("{delta:+.4}")
    }
}

/// `×1.284`, or `–` when either side is missing or zero.
fn ratio(variant: Option<f64>, corrected: Option<f64>) -> String {
    match (variant, corrected) {
        (Some(v), Some(c)) if c != 0.0 => format!("×{:.4}", v / c),
        _ => "–".into(),
    }
}

/// One table per family: every network a departure changes, with the change.
pub fn tables(summary: &Summary, settings: &TableSettings) -> Vec<Table> {
    families(summary)
        .iter()
        .map(|family| {
            let corrected = &family.variants[CORRECTED];
            let metric = summary.main_metric(corrected);
            let steps = summary.time_steps(corrected);
            let largest = steps.last().copied().unwrap_or(0);
            let methods = summary.methods(corrected);
            let detail = Detail::of(methods.iter());
            let mut header = vec!["fidelity".to_string(), "network".to_string()];
            header.extend(steps.iter().map(|t| format!("Δ{metric} T={t}")));
            header.extend([format!("spikes T={largest}"), format!("energy T={largest}")]);
            let mut rows = Vec::new();
            for (fidelity, group) in compared(family) {
                let before = rows.len();
                let (own, theirs) = (settings.counting_of(group), settings.counting_of(corrected));
                for method in &methods {
                    let Some(other) = counterpart(summary, group, method) else {
                        continue;
                    };
                    let deltas: Vec<Option<f64>> = steps
                        .iter()
                        .map(|&t| {
                            Some(
                                mean(summary, group, &other, t, &metric)?
                                    - mean(summary, corrected, method, t, &metric)?,
                            )
                        })
                        .collect();
                    let cost = |counting: crate::tables::CostCounting, g, m: &Method| {
                        let spikes = (!m.is_ann())
                            .then(|| mean(summary, g, m, largest, &counting.spikes()))
                            .flatten();
                        (spikes, mean(summary, g, m, largest, &counting.energy(m)))
                    };
                    let (spikes, energy) = cost(own, group, &other);
                    let (spikes0, energy0) = cost(theirs, corrected, method);
                    let unchanged = deltas.iter().all(|d| d.is_none_or(|d| d == 0.0))
                        && spikes == spikes0
                        && energy == energy0;
                    if unchanged {
                        continue;
                    }
                    let mut row = vec![fidelity.clone(), method.label(&detail)];
                    row.extend(
                        deltas
                            .iter()
                            .map(|d| d.map_or("–".into(), |d| difference(&metric, d))),
                    );
                    row.push(ratio(spikes, spikes0));
                    row.push(ratio(energy, energy0));
                    rows.push(row);
                }
                if rows.len() == before {
                    let mut row = vec![fidelity.clone(), "no change in this setting".into()];
                    row.extend(std::iter::repeat_n("0".to_string(), steps.len()));
                    row.extend(["×1".into(), "×1".into()]);
                    rows.push(row);
                }
            }
            Table {
                caption: format!(
                    "{}: what each departure from the authors' code changes (fidelity \
                     authors:<departure> switches that one alone, authors all of them), against \
                     the corrected harness: Δ{metric} = with it minus corrected; spikes and \
                     energy as with-it / corrected, each counted in its own unit",
                    family.base.title()
                ),
                header,
                rows,
            }
        })
        .collect()
}

/// The network the figure follows: converted connection-wise MT when there is one, else the
/// first spiking network.
fn followed(methods: &[Method]) -> Option<&Method> {
    methods
        .iter()
        .find(|m| m.is_converted_connection_wise_mt())
        .or_else(|| methods.iter().find(|m| !m.is_ann()))
}

/// One figure per family: the main metric vs T of the followed network under corrected, under
/// authors, and under each single departure that changes it.
pub fn figures(summary: &Summary, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for family in families(summary) {
        let corrected = &family.variants[CORRECTED];
        let metric = summary.main_metric(corrected);
        let methods = summary.methods(corrected);
        let Some(method) = followed(&methods) else {
            continue;
        };
        let curve = |group: &GroupKey| -> Vec<(f64, f64)> {
            let Some(other) = counterpart(summary, group, method) else {
                return Vec::new();
            };
            summary
                .time_steps(group)
                .into_iter()
                .filter_map(|t| Some((t as f64, mean(summary, group, &other, t, &metric)?)))
                .collect()
        };
        let reference = curve(corrected);
        let mut series = vec![Series {
            label: CORRECTED.into(),
            points: reference.clone(),
            errors: None,
        }];
        for (fidelity, group) in compared(&family) {
            let points = curve(group);
            if points != reference || fidelity == "authors" {
                series.push(Series {
                    label: fidelity.clone(),
                    points,
                    errors: None,
                });
            }
        }
        let detail = Detail::of(methods.iter());
        files.extend(plot::line_chart(
            &LineChart {
                title: format!(
                    "{}: departures, {} {metric} vs T",
                    family.base.title(),
                    method.short_label(&detail)
                ),
                x_label: "time steps T".into(),
                y_label: metric.clone(),
                log_x: true,
                log_y: false,
                series,
            },
            &dir.join(format!("{}-departures", family.base.slug())),
        )?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ModelId, ResultRow};
    use crate::tables::CostCounting;

    fn row(point: &str, model: &str, t: Option<u32>, metric: &str, value: f64) -> ResultRow {
        let spiking = model != "ann";
        ResultRow {
            id: ModelId {
                experiment: "q".into(),
                point: point.into(),
                dataset: "embedded-nuclei".into(),
                task: "segmentation".into(),
                sigma: None,
                model: model.into(),
                neuron: spiking.then(|| "multi_threshold".into()),
                reset: None,
                normalization: spiking.then(|| "connection_wise".into()),
                statistic: spiking.then(|| "p99.9".into()),
                ladder: spiking.then(|| "2,1,0.5,0.25".into()),
                finetune_time_steps: None,
                seed: 0,
            },
            split: "test".into(),
            image: "all".into(),
            time_steps: t,
            layer: None,
            metric: metric.into(),
            value,
        }
    }

    /// corrected, one departure that moves F1 at T=4, one that changes nothing, and the
    /// per-input unit that divides spikes by 4.
    fn rows() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for (fidelity, f1_at_4) in [
            ("corrected", 0.5),
            ("authors:off_by_one", 0.3),
            ("authors:head_bias", 0.5),
            ("authors:energy_unit", 0.5),
        ] {
            let point = format!("segment fidelity={fidelity}");
            rows.push(row(&point, "ann", None, "f1", 0.8));
            rows.push(row(&point, "ann", None, "energy_pj", 100.0));
            rows.push(row(&point, "ann", None, "energy_pj_per_input", 25.0));
            for (t, f1) in [(4, f1_at_4), (8, 0.7)] {
                rows.push(row(&point, "converted", Some(t), "f1", f1));
                rows.push(row(&point, "converted", Some(t), "spikes_paper", 40.0));
                rows.push(row(
                    &point,
                    "converted",
                    Some(t),
                    "spikes_paper_per_input",
                    10.0,
                ));
                rows.push(row(&point, "converted", Some(t), "energy_paper_pj", 36.0));
                rows.push(row(
                    &point,
                    "converted",
                    Some(t),
                    "energy_paper_pj_per_input",
                    9.0,
                ));
            }
        }
        rows
    }

    #[test]
    fn each_departure_shows_what_it_changes_and_nothing_else() {
        let summary = Summary::of(&rows());
        let mut settings = TableSettings {
            time_steps: vec![],
            alpha: 0.05,
            counting: BTreeMap::new(),
        };
        settings.counting.insert(
            "segment fidelity=authors:energy_unit".into(),
            CostCounting {
                per_input: true,
                thop: false,
            },
        );
        let tables = tables(&summary, &settings);
        assert_eq!(tables.len(), 1);
        let table = &tables[0];
        assert_eq!(
            table.header,
            [
                "fidelity",
                "network",
                "Δf1 T=4",
                "Δf1 T=8",
                "spikes T=8",
                "energy T=8"
            ]
        );
        let find = |fidelity: &str| -> Vec<&Vec<String>> {
            table.rows.iter().filter(|r| r[0] == fidelity).collect()
        };
        let unit = find("authors:energy_unit");
        assert_eq!(unit.len(), 2, "the ANN and the converted network: {unit:?}");
        assert_eq!(unit[0][5], "×0.2500", "ANN energy per input");
        assert_eq!(unit[1][4], "×0.2500", "spikes per input");
        let off_by_one = find("authors:off_by_one");
        assert_eq!(off_by_one.len(), 1, "only the converted network moves");
        assert_eq!(off_by_one[0][2..4], ["-0.2000", "0"]);
        assert_eq!(
            find("authors:head_bias")[0][1],
            "no change in this setting",
            "a departure without effect says so"
        );
        assert!(is_single_departure(&GroupKey::of_row(&rows()[13])));
        assert!(!is_single_departure(&GroupKey::of_row(&rows()[0])));
    }

    #[test]
    fn a_point_without_fidelity_is_not_a_family() {
        let rows: Vec<ResultRow> = rows()
            .into_iter()
            .map(|mut r| {
                r.id.point = r.id.point.replace("fidelity=", "sigma=");
                r
            })
            .collect();
        let summary = Summary::of(&rows);
        let settings = TableSettings {
            time_steps: vec![],
            alpha: 0.05,
            counting: BTreeMap::new(),
        };
        assert!(tables(&summary, &settings).is_empty());
        assert_eq!(
            split_point("denoise fidelity=authors"),
            Some(("denoise".into(), "authors".into()))
        );
        assert_eq!(split_point("fidelity=corrected").expect("has").0, "base");
    }
}
