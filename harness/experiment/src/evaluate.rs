//! The `evaluate` stage: run the ANN and every spiking network of a sweep point on held-out
//! images, and write per-image and split-level metrics as tidy CSV
//! (`split,image,time_steps,metric,value`; split-level rows have image `all`, ANN rows an empty
//! `time_steps`). A spiking network is simulated once up to the largest T and scored at every
//! T on the way, with its spike counts and energy.
//!
//! Every evaluation is cached per network's weights, split and T (see [`EvaluationCache`]),
//! so a rerun, or another point asking for the same network, reads it back instead. The cache
//! files are sealed and record the sha256 of their pictures, so an edited value or a damaged
//! picture is an error, never a number in a table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use burn::tensor::Device;
use spiking_unet_core::engine::Engine;
use spiking_unet_core::model::UNet;
use spiking_unet_core::simulate::{
    ENERGY_PER_MAC_PJ, SpikingUNet, merge_checkpoints, samples_for_budget, simulate, spike_report,
    time_chunk_for_budget,
};

use spiking_unet_report::domain::PER_INPUT;

use crate::artifacts;
use crate::config::{EvaluateConfig, Split};
use crate::layout::{ArtifactDir, EvaluationCache};
use crate::manifest::{Manifest, load_ann, load_snn};
use crate::networks::{Network, NetworkKind};
use crate::plan::{Plan, PointPlan};
use crate::sweep::Shard;
use crate::task::{ImageScore, Task, tensor_values};
use crate::{Error, Result};

/// One line of an evaluation table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Split evaluated.
    pub split: Split,
    /// Image name, or `all` for the split-level value.
    pub image: String,
    /// Time steps for a spiking network; `None` for the ANN.
    pub time_steps: Option<usize>,
    /// Metric name (`psnr`, `ssim`, `f1`, ...).
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// Images per split whose inputs and outputs are saved as PNG for qualitative figures.
pub const PICTURED_IMAGES: usize = 2;

/// What one evaluation file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CachedEvaluation {
    /// Whole-network rows.
    pub rows: Vec<MetricRow>,
    /// Per-layer rows (spiking networks).
    pub layers: Vec<LayerRow>,
    /// sha256 of the pictures this evaluation saved, by `<image>/<panel>`.
    pub pictures: BTreeMap<String, String>,
}

impl CachedEvaluation {
    /// Read a cache file back (sealed: a damaged or edited one is an error).
    pub fn read(path: &std::path::Path) -> Result<CachedEvaluation> {
        artifacts::read_sealed(path)
    }

    /// Save `png` as the picture `panel` of `image` and record its hash.
    fn save_picture(
        &mut self,
        cache: &EvaluationCache,
        (split, image, panel): (Split, &str, &str),
        png: &[u8],
    ) -> Result<()> {
        artifacts::write_atomic(&cache.picture(split, image, panel), png)?;
        self.pictures
            .insert(format!("{image}/{panel}"), artifacts::sha256_of(png));
        Ok(())
    }
}

/// One network of a point, evaluated.
#[derive(Debug)]
pub struct NetworkEvaluation {
    /// The network (label, kind, folder, variant).
    pub network: Network,
    /// Whole-network rows.
    pub rows: Vec<MetricRow>,
    /// Per-layer rows (spiking networks).
    pub layers: Vec<LayerRow>,
    /// Where its evaluations (and pictures) are cached.
    pub cache: EvaluationCache,
}

/// The networks of a point, evaluated side by side.
#[derive(Debug)]
pub struct Comparison {
    /// The ANN first, then the converted networks, then the fine-tuned ones.
    pub networks: Vec<NetworkEvaluation>,
    /// Where the combined CSV was written.
    pub csv: std::path::PathBuf,
}

/// Evaluate every network of `point` (made beforehand) at
/// [`crate::config::ExperimentConfig::evaluation_steps`], reusing cached evaluations, and write
/// `runs/<name>/comparison.csv` with a `model` column.
pub fn evaluate_point(point: &PointPlan) -> Result<Comparison> {
    let config = point.config();
    let settings = EvaluateConfig {
        time_steps: config.evaluation_steps(),
        ..config.evaluate.clone()
    };
    let mut networks = Vec::new();
    for network in &point.networks {
        let evaluated = evaluate_network(point, network, &settings)?;
        networks.push(NetworkEvaluation {
            network: network.clone(),
            rows: evaluated.rows,
            layers: evaluated.layers,
            cache: evaluated.cache,
        });
    }
    let mut table = vec![
        ["model", "split", "image", "time_steps", "metric", "value"]
            .map(String::from)
            .to_vec(),
    ];
    for evaluated in &networks {
        table.extend(evaluated.rows.iter().map(|row| {
            let mut fields = vec![evaluated.network.label.clone()];
            fields.extend(csv_fields(row));
            fields
        }));
    }
    let csv = crate::layout::ExperimentDir::of(config).comparison_csv();
    artifacts::write_atomic(&csv, artifacts::csv_text(&table)?.as_bytes())?;
    Ok(Comparison { networks, csv })
}

/// One network's evaluation: what [`evaluate_network`] returns.
#[derive(Debug)]
pub struct Evaluated {
    /// Whole-network rows.
    pub rows: Vec<MetricRow>,
    /// Per-layer rows (spiking networks).
    pub layers: Vec<LayerRow>,
    /// Where they are cached.
    pub cache: EvaluationCache,
    /// True when every evaluation was read back from the cache and nothing ran.
    pub reused: bool,
}

/// Evaluate one network of `point` on the splits of `settings` (and, for a spiking network,
/// at its T), reusing cached evaluations; writes `evaluation.csv` (and `layers.csv`) in its
/// folder. An error names the stage to run when the network is missing or unfinished.
pub fn evaluate_network(
    point: &PointPlan,
    network: &Network,
    settings: &EvaluateConfig,
) -> Result<Evaluated> {
    let manifest = Manifest::read_if_present(&network.dir)?;
    let Some(contents) = manifest.as_ref().and_then(Manifest::contents) else {
        let stage = match network.kind {
            NetworkKind::Ann => "trained yet; run `train`",
            NetworkKind::Converted => "converted yet; run `convert`",
            NetworkKind::Finetuned => "fine-tuned yet; run `finetune`",
        };
        return Err(Error::Artifact {
            path: network.dir.path().to_path_buf(),
            message: format!("{} is not {stage} (or `reproduce`) first", network.label),
        });
    };
    let cache = network.dir.evaluations(&contents.weights_sha256);
    match network.kind {
        NetworkKind::Ann => evaluate_ann(point, &network.dir, cache, settings),
        _ => evaluate_snn(point, (&network.dir, &network.label), cache, settings),
    }
}

/// Evaluate the artifact folder `dir`, whatever it holds (its manifest says), with the task of
/// the config it was made with: `evaluate --artifact DIR`.
pub fn evaluate_artifact(dir: &ArtifactDir, settings: &EvaluateConfig) -> Result<Evaluated> {
    let manifest = Manifest::read(dir)?;
    let Some(contents) = manifest.contents() else {
        return Err(Error::Artifact {
            path: dir.path().to_path_buf(),
            message: "its stage has not finished; rerun it (or `reproduce`) first".into(),
        });
    };
    let cache = dir.evaluations(&contents.weights_sha256);
    let mut plan = Plan::new(manifest.config().clone(), &dir.manifest(), Shard::ALL)?;
    let point = plan.points.remove(0);
    let label = dir.path().display().to_string();
    match manifest {
        Manifest::Ann(_) => evaluate_ann(&point, dir, cache, settings),
        Manifest::Snn(_) => evaluate_snn(&point, (dir, &label), cache, settings),
    }
}

/// Evaluate the ANN in `dir` on the splits of `evaluate`.
fn evaluate_ann(
    point: &PointPlan,
    dir: &ArtifactDir,
    cache: EvaluationCache,
    evaluate: &EvaluateConfig,
) -> Result<Evaluated> {
    let backend = &point.config().backend;
    let mut loaded: Option<(Device, UNet)> = None;
    let mut rows = Vec::new();
    for &split in &evaluate.splits {
        let file = cache.file(split, None);
        if !file.exists() {
            if loaded.is_none() {
                let device = spiking_unet_core::device::device(backend)?;
                let (_, model) = load_ann(dir, &device)?;
                loaded = Some((device, model));
            }
            let (device, model) = loaded.as_ref().expect("loaded just above");
            let evaluation = evaluate_ann_split(
                &cache,
                model,
                point.task()?,
                split,
                evaluate,
                (device, backend),
            )?;
            artifacts::write_sealed(&file, &evaluation)?;
        }
        rows.extend(CachedEvaluation::read(&file)?.rows);
    }
    log_evaluations("ann", &rows);
    artifacts::write_atomic(&dir.evaluation_csv(), metric_csv(&rows)?.as_bytes())?;
    Ok(Evaluated {
        rows,
        layers: Vec::new(),
        cache,
        reused: loaded.is_none(),
    })
}

/// Score the ANN on one split and save its pictures.
fn evaluate_ann_split(
    cache: &EvaluationCache,
    model: &UNet,
    task: &Task,
    split: Split,
    evaluate: &EvaluateConfig,
    (device, backend): (&Device, &str),
) -> Result<CachedEvaluation> {
    let engine = if evaluate.simulator.uses_engine(backend) {
        Some(Engine::ann(model)?)
    } else {
        None
    };
    let mut evaluation = CachedEvaluation::default();
    let items = task.eval_items(split);
    let mut scores = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let input = item.network_input(device);
        model.check_input(input.dims())?;
        let output = match &engine {
            Some(engine) => engine.forward_tensor(input)?,
            None => model.forward(input),
        };
        let output = item.recompose(&tensor_values(output)?);
        if k < PICTURED_IMAGES {
            let (input, target) = task.item_pictures(item);
            let output = task.output_picture(item, &output)?;
            for (panel, picture) in [("input", input), ("target", target), ("ann", output)] {
                evaluation.save_picture(cache, (split, &item.name, panel), &picture.to_png())?;
            }
        }
        scores.push(task.score(item, &output)?);
    }
    let rows = &mut evaluation.rows;
    for score in &scores {
        for (metric, value) in &score.values {
            rows.push(MetricRow {
                split,
                image: score.image.clone(),
                time_steps: None,
                metric: metric.clone(),
                value: *value,
            });
        }
    }
    let mut aggregate = task.aggregate(&scores)?;
    // The ANN's energy, MACs × 4.6 pJ per image, on what the network processed (every tile),
    // in two conventions: `macs` counts the multiply-adds performed; `macs_thop` counts as thop
    // does, which is what the authors report (about 1.28x more on the width-64 U-Net).
    let over_tiles = |count: &dyn Fn(usize, usize) -> u64| -> Vec<f64> {
        items
            .iter()
            .map(|i| {
                let (h, w) = i.layout.tile_size;
                (i.tiles() as u64 * count(h, w)) as f64
            })
            .collect()
    };
    if !items.is_empty() {
        let mean_macs = spiking_unet_core::metrics::mean(&over_tiles(&|h, w| model.macs(h, w)))?;
        let mean_thop =
            spiking_unet_core::metrics::mean(&over_tiles(&|h, w| model.macs_thop(h, w)))?;
        let inputs: usize = items.iter().map(|i| i.tiles()).sum();
        let per_image_values = [
            ("macs".to_string(), mean_macs),
            ("energy_pj".into(), mean_macs * ENERGY_PER_MAC_PJ),
            ("macs_thop".into(), mean_thop),
            ("energy_thop_pj".into(), mean_thop * ENERGY_PER_MAC_PJ),
        ];
        // Per network input: the split's total over its inputs (tiles).
        let scale = items.len() as f64 / inputs.max(1) as f64;
        let per_input: Vec<(String, f64)> = per_image_values
            .iter()
            .map(|(name, value)| (name.clone(), value * scale))
            .collect();
        aggregate.extend(per_image_values);
        aggregate.extend(per_input_values(per_input));
    }
    for (metric, value) in aggregate {
        rows.push(MetricRow {
            split,
            image: "all".into(),
            time_steps: None,
            metric,
            value,
        });
    }
    Ok(evaluation)
}

/// Evaluate the spiking network in `dir` at every T of `evaluate.time_steps`: T already
/// evaluated are read back; the others come from one simulation up to the largest of them.
/// Writes `evaluation.csv` and `layers.csv` there (every requested T).
fn evaluate_snn(
    point: &PointPlan,
    (dir, label): (&ArtifactDir, &str),
    cache: EvaluationCache,
    evaluate: &EvaluateConfig,
) -> Result<Evaluated> {
    let backend = &point.config().backend;
    let mut loaded: Option<(Device, SpikingUNet, Option<Engine>)> = None;
    let (mut rows, mut layers) = (Vec::new(), Vec::new());
    for &split in &evaluate.splits {
        let missing = cache.unevaluated(split, &evaluate.time_steps);
        if !missing.is_empty() {
            if loaded.is_none() {
                let device = spiking_unet_core::device::device(backend)?;
                let (_, snn) = load_snn(dir, &device)?;
                let engine = if evaluate.simulator.uses_engine(backend) {
                    Some(Engine::spiking(&snn)?)
                } else {
                    None
                };
                loaded = Some((device, snn, engine));
            }
            let (device, snn, engine) = loaded.as_ref().expect("loaded just above");
            tracing::info!(event = "stage", stage = "evaluate", network = label, split = %split, "evaluate: {label} on {split}");
            simulate_split(
                (&cache, label),
                (snn, engine.as_ref()),
                (point.task()?, device),
                split,
                &missing,
                evaluate,
            )?;
        }
        for &t in &evaluate.time_steps {
            let cached = CachedEvaluation::read(&cache.file(split, Some(t)))?;
            rows.extend(cached.rows);
            layers.extend(cached.layers);
        }
    }
    log_evaluations(label, &rows);
    artifacts::write_atomic(&dir.evaluation_csv(), metric_csv(&rows)?.as_bytes())?;
    let mut table = vec![
        [
            "split",
            "image",
            "time_steps",
            "layer",
            "spikes",
            "firing_rate",
            "synaptic_operations",
        ]
        .map(String::from)
        .to_vec(),
    ];
    table.extend(layers.iter().map(|r| {
        vec![
            r.split.to_string(),
            r.image.clone(),
            r.time_steps.to_string(),
            r.layer.clone(),
            r.spikes.to_string(),
            r.firing_rate.to_string(),
            r.synaptic_operations.to_string(),
        ]
    }));
    artifacts::write_atomic(&dir.layers_csv(), artifacts::csv_text(&table)?.as_bytes())?;
    Ok(Evaluated {
        rows,
        layers,
        cache,
        reused: loaded.is_none(),
    })
}

/// One machine-readable event per evaluated split and T, with the split-level metrics that
/// tables show (`--log-format json` turns it into one JSON object).
fn log_evaluations(network: &str, rows: &[MetricRow]) {
    let mut groups: Vec<(Split, Option<usize>)> = Vec::new();
    for row in rows.iter().filter(|r| r.image == "all") {
        if !groups.contains(&(row.split, row.time_steps)) {
            groups.push((row.split, row.time_steps));
        }
    }
    for (split, time_steps) in groups {
        let value = |name: &str| {
            rows.iter()
                .find(|r| {
                    r.image == "all"
                        && r.split == split
                        && r.time_steps == time_steps
                        && r.metric == name
                })
                .map(|r| r.value)
        };
        tracing::info!(
            event = "evaluation",
            network,
            split = %split,
            time_steps,
            psnr = value("psnr"),
            ssim = value("ssim"),
            accuracy = value("accuracy"),
            jaccard = value("jaccard"),
            f1 = value("f1"),
            miou = value("miou"),
            spikes = value("spikes"),
            energy_pj = value("energy_pj").or(value("energy_synops_pj")),
            "evaluated {network} on {split}{}",
            time_steps.map(|t| format!(" at T={t}")).unwrap_or_default()
        );
    }
}

/// The fields of a row in `evaluation.csv` order.
fn csv_fields(row: &MetricRow) -> Vec<String> {
    vec![
        row.split.to_string(),
        row.image.clone(),
        row.time_steps.map(|t| t.to_string()).unwrap_or_default(),
        row.metric.clone(),
        row.value.to_string(),
    ]
}

/// The rows as CSV text with a header (`evaluation.csv`).
pub fn metric_csv(rows: &[MetricRow]) -> Result<String> {
    let mut table = vec![
        ["split", "image", "time_steps", "metric", "value"]
            .map(String::from)
            .to_vec(),
    ];
    table.extend(rows.iter().map(csv_fields));
    artifacts::csv_text(&table)
}

/// One layer's spike figures at one checkpoint (split-level: the mean over images), for
/// `layers.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Split evaluated.
    pub split: Split,
    /// Image name.
    pub image: String,
    /// Time steps.
    pub time_steps: usize,
    /// Site name (`relu3`, `pool1`, ...).
    pub layer: String,
    /// Spikes per sample.
    pub spikes: f64,
    /// Spikes / (neurons · T).
    pub firing_rate: f64,
    /// Spikes × fan-out.
    pub synaptic_operations: f64,
}

/// Simulate every image of `split` once up to the largest of `steps`, score the read-out at
/// each of `steps`, and save one evaluation file per T (and the pictures).
fn simulate_split(
    (cache, label): (&EvaluationCache, &str),
    (snn, engine): (&SpikingUNet, Option<&Engine>),
    (task, device): (&Task, &Device),
    split: Split,
    steps: &[usize],
    evaluate: &EvaluateConfig,
) -> Result<()> {
    let budget = evaluate.memory_budget_mib * 1024 * 1024;
    let items = task.eval_items(split);
    let progress = progress_bar(
        items.len() as u64 * *steps.last().unwrap_or(&0) as u64,
        &format!("simulate {label}"),
    );
    // Per checkpoint: the evaluation file being built, per-image scores and spike figures.
    let mut files: Vec<CachedEvaluation> =
        steps.iter().map(|_| CachedEvaluation::default()).collect();
    let mut scores: Vec<Vec<ImageScore>> = steps.iter().map(|_| Vec::new()).collect();
    let mut figures: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); steps.len()];
    let mut layer_sums: Vec<Vec<(String, [f64; 3])>> = vec![Vec::new(); steps.len()];
    for (k, item) in items.iter().enumerate() {
        let (h, w) = item.layout.tile_size;
        let tiles = item.tiles();
        // Tiles in groups that fit the budget (all at once when one step of them does), then
        // as many time steps per batched call as still fit.
        let group = samples_for_budget(&snn.unet, tiles, h, w, budget);
        let chunk = evaluate
            .time_chunk
            .unwrap_or_else(|| time_chunk_for_budget(&snn.unet, group, h, w, budget, 8));
        let input = item.network_input(device);
        let mut parts = Vec::new();
        for start in (0..tiles).step_by(group) {
            let tiles_here = input.clone().narrow(0, start, group.min(tiles - start));
            parts.push(match engine {
                Some(engine) => engine.simulate(tiles_here, steps, chunk, false)?.0,
                None => simulate(snn, tiles_here, steps, chunk)?,
            });
        }
        let checkpoints = merge_checkpoints(parts)?;
        progress.inc(*steps.last().unwrap_or(&0) as u64);
        for (c, checkpoint) in checkpoints.iter().enumerate() {
            let output = item.recompose(&tensor_values(checkpoint.mean_output())?);
            let t = checkpoint.time_steps;
            if k < PICTURED_IMAGES {
                let picture = task.output_picture(item, &output)?;
                files[c].save_picture(
                    cache,
                    (split, &item.name, &format!("T{t}")),
                    &picture.to_png(),
                )?;
            }
            let score = task.score(item, &output)?;
            // Counted per network input (one tile, the authors' unit) and per image (all of
            // its tiles); the per-input figures carry the suffix `_per_input`.
            let per_input = spike_report(&snn.unet, checkpoint, tiles, h, w);
            let report = per_image(per_input.clone(), tiles);
            let mut values = spike_values(&report);
            values.extend(per_input_values(spike_values(&per_input)));
            for (metric, value) in score.values.iter().chain(values.iter()) {
                files[c].rows.push(MetricRow {
                    split,
                    image: item.name.clone(),
                    time_steps: Some(t),
                    metric: metric.clone(),
                    value: *value,
                });
            }
            if layer_sums[c].is_empty() {
                layer_sums[c] = report
                    .layers
                    .iter()
                    .map(|(site, ..)| (site.to_string(), [0.0; 3]))
                    .collect();
            }
            for ((_, sums), (_, spikes, rate, synops)) in
                layer_sums[c].iter_mut().zip(&report.layers)
            {
                sums[0] += spikes;
                sums[1] += rate;
                sums[2] += synops;
            }
            scores[c].push(score);
            figures[c].push(values);
        }
    }
    progress.finish_and_clear();
    let n = items.len().max(1) as f64;
    for (c, &t) in steps.iter().enumerate() {
        let mut aggregate = task.aggregate(&scores[c])?;
        // Spikes and energy: the mean per image, and the mean per network input over every
        // input of the split (the authors' per-sample average), weighting images by their tiles.
        if let Some(first) = figures[c].first() {
            for (i, (name, _)) in first.iter().enumerate() {
                let values: Vec<f64> = figures[c].iter().map(|v| v[i].1).collect();
                let value = if name.ends_with(PER_INPUT) {
                    let tiles: Vec<usize> = items.iter().map(|item| item.tiles()).collect();
                    mean_per_input(&values, &tiles)
                } else {
                    spiking_unet_core::metrics::mean(&values)?
                };
                aggregate.push((name.clone(), value));
            }
        }
        for (metric, value) in aggregate {
            files[c].rows.push(MetricRow {
                split,
                image: "all".into(),
                time_steps: Some(t),
                metric,
                value,
            });
        }
        files[c].layers = layer_sums[c]
            .iter()
            .map(|(layer, [spikes, rate, synops])| LayerRow {
                split,
                image: "all".into(),
                time_steps: t,
                layer: layer.clone(),
                spikes: spikes / n,
                firing_rate: rate / n,
                synaptic_operations: synops / n,
            })
            .collect();
        artifacts::write_sealed(&cache.file(split, Some(t)), &files[c])?;
    }
    Ok(())
}

/// A progress bar over simulated time steps (hidden when stderr is not a terminal).
/// A per-tile spike report scaled to the whole image (all its tiles), as the authors count
/// per batch and feed one image per batch: counts, operations and energy add up over the
/// tiles; firing rates are already per neuron and stay.
fn per_image(
    mut report: spiking_unet_core::simulate::SpikeReport,
    tiles: usize,
) -> spiking_unet_core::simulate::SpikeReport {
    let k = tiles as f64;
    for (_, spikes, _, synops) in &mut report.layers {
        *spikes *= k;
        *synops *= k;
    }
    report.spikes *= k;
    report.spikes_paper *= k;
    report.synaptic_operations *= k;
    report.first_layer_macs *= k;
    report.energy_paper_pj *= k;
    report.energy_synops_pj *= k;
    report
}

fn progress_bar(length: u64, message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>40} [{bar:30}] {pos}/{len} steps {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// The mean per network input over a split from each image's mean per input and its number
/// of inputs (tiles): the split's total over its inputs, as the authors average per sample.
fn mean_per_input(per_image_means: &[f64], tiles: &[usize]) -> f64 {
    let total: f64 = per_image_means
        .iter()
        .zip(tiles)
        .map(|(mean, &n)| mean * n as f64)
        .sum();
    total / tiles.iter().sum::<usize>().max(1) as f64
}

/// `values` renamed as per-network-input figures.
fn per_input_values(values: Vec<(String, f64)>) -> Vec<(String, f64)> {
    values
        .into_iter()
        .map(|(name, value)| (format!("{name}{PER_INPUT}"), value))
        .collect()
}

/// The spike and energy metrics of a report, as named in the CSVs.
fn spike_values(report: &spiking_unet_core::simulate::SpikeReport) -> Vec<(String, f64)> {
    vec![
        ("spikes".into(), report.spikes),
        ("spikes_paper".into(), report.spikes_paper),
        ("synaptic_operations".into(), report.synaptic_operations),
        ("energy_paper_pj".into(), report.energy_paper_pj),
        ("energy_synops_pj".into(), report.energy_synops_pj),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_per_input_average_over_every_input_of_the_split() {
        // An image of 4 tiles averaging 10 spikes per tile, and one of 1 tile with 30: the
        // split's 70 spikes over its 5 inputs, not the mean of the two images' means (20).
        assert_eq!(mean_per_input(&[10.0, 30.0], &[4, 1]), 14.0);
        assert_eq!(mean_per_input(&[], &[]), 0.0);
        let renamed = per_input_values(vec![("spikes".into(), 2.0)]);
        assert_eq!(renamed, vec![("spikes_per_input".to_string(), 2.0)]);
    }
}
