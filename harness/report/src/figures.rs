//! The paper's figures from the results store, one set per group (see [`crate::tables`]):
//! the main metric vs T per method, spikes and energy vs T, firing rate per layer, the
//! normalization factor per layer, threshold-ladder sweeps, and qualitative grids of the images
//! a run exported (input, target, ANN, spiking networks at several T).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plot::{self, BarChart, GrayImage, ImageGrid, LineChart, Series};
use crate::store::ResultRow;
use crate::tables::{Detail, GroupKey, Method, Summary, mean_std, slug};
use crate::{Error, Result};

/// Draw every figure of every group into `dir`; returns the files written.
pub fn draw_all(
    rows: &[ResultRow],
    summary: &Summary,
    image_root: &Path,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    // A single departure's figures would repeat the corrected ones; the departures figure
    // shows what it changes.
    for group in summary
        .groups()
        .into_iter()
        .filter(|g| !crate::departures::is_single_departure(g))
    {
        let stem = |kind: &str| dir.join(format!("{}-{kind}", group.slug()));
        let methods = summary.methods(&group);
        let detail = Detail::of(methods.iter());
        let metric = summary.main_metric(&group);
        let spiking: Vec<&Method> = methods.iter().filter(|m| !m.is_ann()).collect();

        let quality = metric_vs_t(summary, &group, &methods, &detail, &metric, &metric, 1.0);
        files.extend(plot::line_chart(
            &LineChart {
                title: format!("{}: {metric} vs T", group.title()),
                x_label: "time steps T".into(),
                y_label: metric.clone(),
                log_x: true,
                log_y: false,
                series: quality,
            },
            &stem("quality-vs-t"),
        )?);
        let spiking_methods: Vec<Method> = spiking.iter().map(|m| (*m).clone()).collect();
        let spikes = metric_vs_t(
            summary,
            &group,
            &spiking_methods,
            &detail,
            "spikes_paper",
            "spikes_paper",
            1.0,
        );
        files.extend(plot::line_chart(
            &LineChart {
                title: format!("{}: spikes per image vs T", group.title()),
                x_label: "time steps T".into(),
                y_label: "spikes per image".into(),
                log_x: true,
                log_y: true,
                series: spikes,
            },
            &stem("spikes-vs-t"),
        )?);
        let energy = metric_vs_t(
            summary,
            &group,
            &methods,
            &detail,
            "energy_paper_pj",
            "energy_pj",
            1e-6,
        );
        files.extend(plot::line_chart(
            &LineChart {
                title: format!(
                    "{}: energy per image vs T (0.9 pJ/spike, 4.6 pJ/MAC)",
                    group.title()
                ),
                x_label: "time steps T".into(),
                y_label: "energy per image (µJ)".into(),
                log_x: true,
                log_y: true,
                series: energy,
            },
            &stem("energy-vs-t"),
        )?);
        if detail.ladders {
            let ladders: Vec<Method> = methods.iter().filter(|m| m.is_mt()).cloned().collect();
            let series = metric_vs_t(summary, &group, &ladders, &detail, &metric, &metric, 1.0);
            files.extend(plot::line_chart(
                &LineChart {
                    title: format!("{}: threshold ladders, {metric} vs T", group.title()),
                    x_label: "time steps T".into(),
                    y_label: metric.clone(),
                    log_x: true,
                    log_y: false,
                    series,
                },
                &stem("ladders"),
            )?);
        }
        if let Some(chart) = per_layer(rows, &group, &detail, "firing_rate", true) {
            files.extend(plot::bar_chart(&chart, &stem("firing-rate"))?);
        }
        if let Some(chart) = per_layer(rows, &group, &detail, "factor", false) {
            files.extend(plot::bar_chart(&chart, &stem("factors"))?);
        }
        if let Some(grid) = qualitative(image_root, &group)? {
            files.extend(plot::image_grid(&grid, &stem("qualitative"))?);
        }
    }
    Ok(files)
}

/// One series per method: `metric` (the ANN: `ann_metric`, flat over the group's T) times `scale`,
/// mean over seeds with the std as error bars.
fn metric_vs_t(
    summary: &Summary,
    group: &GroupKey,
    methods: &[Method],
    detail: &Detail,
    metric: &str,
    ann_metric: &str,
    scale: f64,
) -> Vec<Series> {
    let steps = summary.time_steps(group);
    methods
        .iter()
        .filter_map(|m| {
            let name = if m.is_ann() { ann_metric } else { metric };
            let mut points = Vec::new();
            let mut errors = Vec::new();
            for &t in &steps {
                if let Some(values) = summary.values(group, m, t, name) {
                    let (mean, std) = mean_std(values);
                    points.push((t as f64, mean * scale));
                    errors.push(std * scale);
                }
            }
            let several_seeds = errors.iter().any(|e| *e > 0.0);
            (!points.is_empty()).then(|| Series {
                label: m.short_label(detail),
                points,
                errors: several_seeds.then_some(errors),
            })
        })
        .collect()
}

/// A per-layer bar chart of `metric` for the spiking methods of `group`: at the largest T when
/// `at_largest_t` (firing rates), or T-independent (factors, one series per normalization).
fn per_layer(
    rows: &[ResultRow],
    group: &GroupKey,
    detail: &Detail,
    metric: &str,
    at_largest_t: bool,
) -> Option<BarChart> {
    let rows: Vec<&ResultRow> = rows
        .iter()
        .filter(|r| r.layer.is_some() && r.metric == metric && GroupKey::of_row(r) == *group)
        .collect();
    let t = if at_largest_t {
        rows.iter().filter_map(|r| r.time_steps).max()
    } else {
        None
    };
    let mut categories: Vec<String> = Vec::new();
    // (method in paper order, or none for factors; label) -> layer -> values over seeds
    let mut series: BTreeMap<(Option<Method>, String), BTreeMap<String, Vec<f64>>> =
        BTreeMap::new();
    for row in rows.iter().filter(|r| r.time_steps == t) {
        let layer = row.layer.clone().expect("filtered");
        if !categories.contains(&layer) {
            categories.push(layer.clone());
        }
        let method = Method::of_id(&row.id);
        let label = if at_largest_t {
            method.short_label(detail)
        } else {
            // Factors depend on the normalization and statistic, not on the neuron.
            format!(
                "{} {}",
                row.id
                    .normalization
                    .clone()
                    .unwrap_or_default()
                    .replace('_', "-"),
                row.id.statistic.clone().unwrap_or_default()
            )
        };
        // A normalization's factors repeat for each of its neurons; the mean is unchanged.
        let key = (at_largest_t.then_some(method), label);
        series
            .entry(key)
            .or_default()
            .entry(layer)
            .or_default()
            .push(row.value);
    }
    if categories.is_empty() {
        return None;
    }
    let series = series
        .into_iter()
        .map(|((_, label), by_layer)| {
            let values = categories
                .iter()
                .map(|c| by_layer.get(c).map_or(f64::NAN, |v| mean_std(v).0))
                .collect();
            (label, values)
        })
        .collect();
    let (title, y_label) = match t {
        Some(t) => (
            format!("{}: firing rate per layer at T={t}", group.title()),
            "spikes / (neuron · T)".to_string(),
        ),
        None => (
            format!("{}: normalization factor per layer", group.title()),
            "λ (layer output scale)".to_string(),
        ),
    };
    Some(BarChart {
        title,
        x_label: "layer".into(),
        y_label,
        log_y: false,
        categories,
        series,
    })
}

/// The folder a run exports a group's images to: `<root>/<experiment>/<point>/<split>/`.
pub fn image_dir(root: &Path, experiment: &str, point: &str, split: &str) -> PathBuf {
    root.join(slug(experiment))
        .join(slug(point))
        .join(slug(split))
}

/// The panels of each exported image, ordered input, target, ANN, then spiking outputs by T.
fn qualitative(root: &Path, group: &GroupKey) -> Result<Option<ImageGrid>> {
    let dir = image_dir(root, &group.experiment, &group.point, &group.split);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    images.sort();
    let mut rows = Vec::new();
    for image in images {
        let mut panels: Vec<PathBuf> = std::fs::read_dir(&image)
            .map_err(Error::io("listing", &image))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        panels.sort_by_key(|p| panel_order(&p.file_stem().unwrap_or_default().to_string_lossy()));
        let panels = panels
            .iter()
            .map(|p| {
                Ok((
                    panel_caption(&p.file_stem().unwrap_or_default().to_string_lossy()),
                    read_gray(p)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let name = image
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        rows.push((name, panels));
    }
    Ok((!rows.is_empty()).then(|| ImageGrid {
        title: format!("{}: input, target, ANN and spiking outputs", group.title()),
        rows,
    }))
}

/// `input`, `target`, `ann`, then `converted-T8`, ..., then `finetuned-T3`: sortable key.
fn panel_order(stem: &str) -> (u8, u32, String) {
    let t = |s: &str| {
        s.rsplit("-T")
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0)
    };
    match stem {
        "input" => (0, 0, String::new()),
        "target" => (1, 0, String::new()),
        "ann" => (2, 0, String::new()),
        s if s.starts_with("converted") => (3, t(s), s.into()),
        s => (4, t(s), s.into()),
    }
}

/// `converted-T8` -> `converted T=8`.
fn panel_caption(stem: &str) -> String {
    match stem.rsplit_once("-T") {
        Some((kind, t)) => format!("{kind} T={t}"),
        None if stem == "ann" => "ANN".into(),
        None => stem.to_string(),
    }
}

/// A PNG as gray levels (colour averaged).
fn read_gray(path: &Path) -> Result<GrayImage> {
    let file = std::fs::File::open(path).map_err(Error::io("opening", path))?;
    let bad = |message: String| Error::Plot {
        path: path.to_path_buf(),
        message,
    };
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let mut buffer = vec![0; reader.output_buffer_size().unwrap_or(0)];
    let info = reader
        .next_frame(&mut buffer)
        .map_err(|e| bad(e.to_string()))?;
    let channels = info.color_type.samples();
    let pixels = buffer[..info.buffer_size()]
        .chunks(channels)
        .map(|px| {
            let colour = &px[..channels.min(3)];
            (colour.iter().map(|&v| v as u32).sum::<u32>() / colour.len() as u32) as u8
        })
        .collect();
    Ok(GrayImage {
        width: info.width as usize,
        height: info.height as usize,
        pixels,
    })
}
