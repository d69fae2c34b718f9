//! The `evaluate` stage: run the trained ANN and every converted SNN of a config on held-out
//! images and write per-image and split-level metrics as tidy CSV
//! (`split,image,time_steps,metric,value`; split-level rows have image `all`, ANN rows an empty
//! `time_steps`). A converted network is simulated once up to the largest T and scored at every
//! T of `evaluate.time_steps` on the way, with its spike counts and energy.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use burn::tensor::Device;
use spiking_unet_core::engine::Engine;
use spiking_unet_core::model::UNet;
use spiking_unet_core::simulate::{
    ENERGY_PER_MAC_PJ, merge_checkpoints, samples_for_budget, simulate, spike_report,
    time_chunk_for_budget,
};

use crate::config::EvaluateConfig;
use crate::config::ExperimentConfig;
use crate::convert::{Variant, load_snn};

use crate::artifacts::{self, Manifest, files};
use crate::config::Split;
use crate::task::{ImageScore, Metrics, Task, tensor_values};
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

/// Run `model` on every image of `split` and score it.
///
/// Returns the per-image scores and the split-level metrics.
pub fn score_split(
    model: &UNet,
    task: &Task,
    split: Split,
    device: &Device,
) -> Result<(Vec<ImageScore>, Metrics)> {
    let mut scores = Vec::new();
    for item in task.eval_items(split) {
        let input = item.network_input(device);
        model.check_input(input.dims())?;
        let output = item.recompose(&tensor_values(model.forward(input))?);
        scores.push(task.score(&item, &output)?);
    }
    let aggregate = task.aggregate(&scores)?;
    Ok((scores, aggregate))
}

/// Bumped whenever scoring or spike counting changes meaning, so cached evaluations are redone.
pub const EVALUATION_VERSION: u32 = 1;

/// Images per split whose inputs and outputs are saved as PNG for qualitative figures.
pub const PICTURED_IMAGES: usize = 2;

/// Where an artifact keeps its evaluation of `split`: one file per T (`T8.json`) or `ann.json`,
/// and `pictures/` with the outputs of the first [`PICTURED_IMAGES`] images. A file's presence
/// means that evaluation is done; it is reused until [`EVALUATION_VERSION`] changes.
pub fn cache_dir(artifact: &Path, split: Split) -> PathBuf {
    artifact
        .join(format!("evaluation-v{EVALUATION_VERSION}"))
        .join(split.to_string())
}

/// The file holding one evaluation: `ann.json`, or `T<t>.json` for a spiking network.
fn cache_file(artifact: &Path, split: Split, time_steps: Option<usize>) -> PathBuf {
    cache_dir(artifact, split).join(match time_steps {
        Some(t) => format!("T{t}.json"),
        None => "ann.json".into(),
    })
}

/// What one evaluation file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CachedEvaluation {
    rows: Vec<MetricRow>,
    layers: Vec<LayerRow>,
}

/// The pictures saved for qualitative figures: `pictures/<image>/{input,target,ann,T8}.png`.
pub fn picture_path(artifact: &Path, split: Split, image: &str, panel: &str) -> PathBuf {
    cache_dir(artifact, split)
        .join("pictures")
        .join(image)
        .join(format!("{panel}.png"))
}

/// The T among `steps` that `artifact` has not evaluated on `split` yet.
pub fn pending_steps(artifact: &Path, split: Split, steps: &[usize]) -> Vec<usize> {
    steps
        .iter()
        .copied()
        .filter(|&t| !cache_file(artifact, split, Some(t)).exists())
        .collect()
}

/// True when the ANN in `artifact` has been evaluated on `split`.
pub fn ann_evaluated(artifact: &Path, split: Split) -> bool {
    cache_file(artifact, split, None).exists()
}

/// Evaluate the ANN in artifact folder `dir` on the splits of `evaluate` (reusing earlier
/// evaluations), write `evaluation.csv` there, and return its rows.
pub fn evaluate_ann(dir: &Path, evaluate: &EvaluateConfig) -> Result<Vec<MetricRow>> {
    let manifest = Manifest::read(dir)?;
    if !manifest.is_complete() {
        return Err(Error::Artifact {
            path: dir.to_path_buf(),
            message: "training has not finished; rerun `train` with the same config to resume it"
                .into(),
        });
    }
    let mut rows = Vec::new();
    for &split in &evaluate.splits {
        let file = cache_file(dir, split, None);
        if !file.exists() {
            let evaluation = evaluate_ann_split(dir, &manifest, split, evaluate)?;
            artifacts::write_json(&file, &evaluation)?;
        }
        rows.extend(artifacts::read_json::<CachedEvaluation>(&file)?.rows);
    }
    artifacts::write_atomic(&dir.join(files::EVALUATION), to_csv(&rows).as_bytes())?;
    Ok(rows)
}

/// Score the ANN on one split and save its pictures.
fn evaluate_ann_split(
    dir: &Path,
    manifest: &Manifest,
    split: Split,
    evaluate: &EvaluateConfig,
) -> Result<CachedEvaluation> {
    let backend = &manifest.config.backend;
    let device = spiking_unet_core::device::device(backend)?;
    let task = Task::build(&manifest.config)?;
    let model = artifacts::load_module(manifest.unet.init(&device)?, &dir.join(files::MODEL))?;
    let engine = if evaluate.simulator.uses_engine(backend) {
        Some(Engine::ann(&model)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let items = task.eval_items(split);
    let mut scores = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let input = item.network_input(&device);
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
                let path = picture_path(dir, split, &item.name, panel);
                artifacts::write_atomic(&path, &picture.to_png())?;
            }
        }
        scores.push(task.score(item, &output)?);
    }
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
    // The ANN's energy as the authors count it: MACs × 4.6 pJ, per image.
    let macs: Vec<f64> = items
        .iter()
        .map(|i| model.macs(i.input.height, i.input.width) as f64)
        .collect();
    if !macs.is_empty() {
        let mean_macs = spiking_unet_core::metrics::mean(&macs)?;
        aggregate.push(("macs".into(), mean_macs));
        aggregate.push(("energy_pj".into(), mean_macs * ENERGY_PER_MAC_PJ));
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
    Ok(CachedEvaluation {
        rows,
        layers: Vec::new(),
    })
}

/// The rows as CSV text with a header.
pub fn to_csv(rows: &[MetricRow]) -> String {
    let mut text = String::from("split,image,time_steps,metric,value\n");
    for row in rows {
        let steps = row.time_steps.map(|t| t.to_string()).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            row.split, row.image, steps, row.metric, row.value
        ));
    }
    text
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

/// Evaluate the spiking network in `dir` at every T of `evaluate.time_steps`: T already
/// evaluated are read back; the others come from one simulation up to the largest of them.
/// Writes `evaluation.csv` and `layers.csv` there (every requested T) and returns the rows.
pub fn evaluate_snn(dir: &Path, evaluate: &EvaluateConfig) -> Result<Vec<MetricRow>> {
    Ok(evaluate_snn_with_layers(dir, evaluate)?.0)
}

/// [`evaluate_snn`], also returning the per-layer rows (split-level means over images).
pub fn evaluate_snn_with_layers(
    dir: &Path,
    evaluate: &EvaluateConfig,
) -> Result<(Vec<MetricRow>, Vec<LayerRow>)> {
    let (mut rows, mut layers) = (Vec::new(), Vec::new());
    for &split in &evaluate.splits {
        let missing = pending_steps(dir, split, &evaluate.time_steps);
        if !missing.is_empty() {
            simulate_split(dir, split, &missing, evaluate)?;
        }
        for &t in &evaluate.time_steps {
            let cached: CachedEvaluation = artifacts::read_json(&cache_file(dir, split, Some(t)))?;
            rows.extend(cached.rows);
            layers.extend(cached.layers);
        }
    }
    artifacts::write_atomic(&dir.join(files::EVALUATION), to_csv(&rows).as_bytes())?;
    let mut text =
        String::from("split,image,time_steps,layer,spikes,firing_rate,synaptic_operations\n");
    for r in &layers {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.split, r.image, r.time_steps, r.layer, r.spikes, r.firing_rate, r.synaptic_operations
        ));
    }
    artifacts::write_atomic(&dir.join("layers.csv"), text.as_bytes())?;
    Ok((rows, layers))
}

/// Simulate every image of `split` once up to the largest of `steps`, score the read-out at
/// each of `steps`, and save one evaluation file per T (and the pictures).
fn simulate_split(
    dir: &Path,
    split: Split,
    steps: &[usize],
    evaluate: &EvaluateConfig,
) -> Result<()> {
    let backend: crate::convert::SnnManifest = artifacts::read_json(&dir.join(files::MANIFEST))?;
    let device = spiking_unet_core::device::device(&backend.config.backend)?;
    let (manifest, snn) = load_snn(dir, &device)?;
    let engine = if evaluate.simulator.uses_engine(&backend.config.backend) {
        Some(Engine::spiking(&snn)?)
    } else {
        None
    };
    let task = Task::build(&manifest.config)?;
    let budget = evaluate.memory_budget_mib * 1024 * 1024;
    let items = task.eval_items(split);
    let progress = progress_bar(
        items.len() as u64 * *steps.last().unwrap_or(&0) as u64,
        &format!("simulate {}", manifest.label()),
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
        let input = item.network_input(&device);
        let mut parts = Vec::new();
        for start in (0..tiles).step_by(group) {
            let tiles_here = input.clone().narrow(0, start, group.min(tiles - start));
            parts.push(match &engine {
                Some(engine) => engine.simulate(tiles_here, steps, chunk, false)?.0,
                None => simulate(&snn, tiles_here, steps, chunk)?,
            });
        }
        let checkpoints = merge_checkpoints(parts)?;
        progress.inc(*steps.last().unwrap_or(&0) as u64);
        for (c, checkpoint) in checkpoints.iter().enumerate() {
            let output = item.recompose(&tensor_values(checkpoint.mean_output())?);
            let t = checkpoint.time_steps;
            if k < PICTURED_IMAGES {
                let picture = task.output_picture(item, &output)?;
                artifacts::write_atomic(
                    &picture_path(dir, split, &item.name, &format!("T{t}")),
                    &picture.to_png(),
                )?;
            }
            let score = task.score(item, &output)?;
            let report = per_image(spike_report(&snn.unet, checkpoint, tiles, h, w), tiles);
            let values = spike_values(&report);
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
        // Spikes and energy: the mean per image (the authors' per-sample average).
        if let Some(first) = figures[c].first() {
            for (i, (name, _)) in first.iter().enumerate() {
                let values: Vec<f64> = figures[c].iter().map(|v| v[i].1).collect();
                aggregate.push((name.clone(), spiking_unet_core::metrics::mean(&values)?));
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
        artifacts::write_json(&cache_file(dir, split, Some(t)), &files[c])?;
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

/// What a network of a config is.
#[derive(Debug, Clone)]
pub enum ModelKind {
    /// The trained (or imported) ANN.
    Ann,
    /// A converted network.
    Converted(Variant),
    /// A converted network after fine-tuning.
    Finetuned(Variant),
}

/// One network of a config, evaluated.
#[derive(Debug)]
pub struct ModelEvaluation {
    /// `ann`, `normalization / neuron` or `finetuned T=3 normalization / neuron`.
    pub label: String,
    /// What it is.
    pub kind: ModelKind,
    /// Its artifact folder.
    pub dir: PathBuf,
    /// Whole-network rows.
    pub rows: Vec<MetricRow>,
    /// Per-layer rows (spiking networks).
    pub layers: Vec<LayerRow>,
}

/// The ANN and every converted variant of a config, evaluated side by side.
#[derive(Debug)]
pub struct Comparison {
    /// The ANN first, then the converted variants, then the fine-tuned ones.
    pub models: Vec<ModelEvaluation>,
    /// Where the combined CSV was written.
    pub csv: PathBuf,
}

/// The networks of `config` (ANN, converted variants, fine-tuned ones), each with its folder
/// and label, whether or not they exist yet.
pub fn models(config: &ExperimentConfig, task: &Task) -> Vec<(String, ModelKind, PathBuf)> {
    let mut models = vec![(
        "ann".to_string(),
        ModelKind::Ann,
        artifacts::ann_dir(config),
    )];
    for variant in crate::convert::variants(config, task) {
        let label = format!(
            "{} / {}",
            variant.spec.normalization.label(),
            variant.neuron.label()
        );
        let dir = variant.dir.clone();
        models.push((label, ModelKind::Converted(variant), dir));
    }
    for (variant, dir) in crate::finetune::selected(config, task) {
        let label = format!(
            "finetuned T={} {} / {}",
            config.finetune.time_steps,
            variant.spec.normalization.label(),
            variant.neuron.label()
        );
        models.push((label, ModelKind::Finetuned(variant), dir));
    }
    models
}

/// Evaluate the ANN of `config` and every SNN its `convert` and `finetune` sections name (made
/// beforehand) at [`ExperimentConfig::evaluation_steps`], reusing earlier evaluations, and write
/// `runs/<name>/comparison.csv` with a `model` column.
pub fn evaluate_config(config: &ExperimentConfig) -> Result<Comparison> {
    let task = Task::build(config)?;
    let settings = EvaluateConfig {
        time_steps: config.evaluation_steps(),
        ..config.evaluate.clone()
    };
    let mut models = Vec::new();
    for (label, kind, dir) in self::models(config, &task) {
        let (rows, layers) = match &kind {
            ModelKind::Ann => (evaluate_ann(&dir, &settings)?, Vec::new()),
            ModelKind::Converted(_) | ModelKind::Finetuned(_) => {
                check_spiking_artifact(&label, &kind, &dir)?;
                tracing::info!("evaluating {label}");
                evaluate_snn_with_layers(&dir, &settings)?
            }
        };
        models.push(ModelEvaluation {
            label,
            kind,
            dir,
            rows,
            layers,
        });
    }
    let mut text = String::from("model,split,image,time_steps,metric,value\n");
    for model in &models {
        for line in to_csv(&model.rows).lines().skip(1) {
            text.push_str(&format!("{},{line}\n", model.label));
        }
    }
    let csv = config.runs_dir.join(&config.name).join("comparison.csv");
    artifacts::write_atomic(&csv, text.as_bytes())?;
    Ok(Comparison { models, csv })
}

/// An error telling which stage to run when a spiking network is missing or unfinished.
fn check_spiking_artifact(label: &str, kind: &ModelKind, dir: &Path) -> Result<()> {
    let manifest = dir.join(files::MANIFEST);
    let ready = match kind {
        ModelKind::Finetuned(_) => {
            manifest.exists()
                && artifacts::read_json::<crate::convert::SnnManifest>(&manifest)?
                    .finetune
                    .is_some_and(|f| f.summary.is_some())
        }
        _ => manifest.exists(),
    };
    if ready {
        return Ok(());
    }
    let stage = match kind {
        ModelKind::Finetuned(_) => "fine-tuned yet; run `finetune`",
        _ => "converted yet; run `convert`",
    };
    Err(Error::Artifact {
        path: dir.to_path_buf(),
        message: format!("{label} is not {stage} (or `reproduce`) first"),
    })
}
