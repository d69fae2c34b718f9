//! The `evaluate` stage: run the trained ANN and every converted SNN of a config on held-out
//! images and write per-image and split-level metrics as tidy CSV
//! (`split,image,time_steps,metric,value`; split-level rows have image `all`, ANN rows an empty
//! `time_steps`). A converted network is simulated once up to the largest T and scored at every
//! T of `evaluate.time_steps` on the way, with its spike counts and energy.

use std::path::Path;

use burn::tensor::Device;
use spiking_unet_core::model::UNet;
use spiking_unet_core::simulate::{
    ENERGY_PER_MAC_PJ, simulate, spike_report, time_chunk_for_budget,
};

use crate::config::EvaluateConfig;
use crate::convert::load_snn;

use crate::artifacts::{self, Manifest, files};
use crate::config::Split;
use crate::task::{ImageScore, Metrics, Task, images_to_tensor, tensor_values};
use crate::{Error, Result};

/// One line of an evaluation table.
#[derive(Debug, Clone, PartialEq)]
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
        let input = images_to_tensor(std::iter::once(&item.input), device);
        model.check_input(input.dims())?;
        let output = tensor_values(model.forward(input))?;
        scores.push(task.score(&item, &output)?);
    }
    let aggregate = task.aggregate(&scores)?;
    Ok((scores, aggregate))
}

/// Evaluate the ANN in artifact folder `dir` on `splits`, write `evaluation.csv` there, and
/// return its rows.
pub fn evaluate_ann(dir: &Path, splits: &[Split]) -> Result<Vec<MetricRow>> {
    let manifest = Manifest::read(dir)?;
    if !manifest.is_complete() {
        return Err(Error::Artifact {
            path: dir.to_path_buf(),
            message: "training has not finished; rerun `train` with the same config to resume it"
                .into(),
        });
    }
    let device = spiking_unet_core::device::device(&manifest.config.backend)?;
    let task = Task::build(&manifest.config)?;
    let model = artifacts::load_module(manifest.unet.init(&device)?, &dir.join(files::MODEL))?;
    let mut rows = Vec::new();
    for &split in splits {
        let (scores, aggregate) = score_split(&model, &task, split, &device)?;
        for score in &scores {
            for (metric, value) in &score.values {
                let (image, metric) = (score.image.clone(), metric.clone());
                rows.push(MetricRow {
                    split,
                    image,
                    time_steps: None,
                    metric,
                    value: *value,
                });
            }
        }
        // The ANN's energy as the authors count it: MACs × 4.6 pJ, per image.
        let items = task.eval_items(split);
        let macs: Vec<f64> = items
            .iter()
            .map(|i| model.macs(i.input.height, i.input.width) as f64)
            .collect();
        let mut aggregate = aggregate;
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
    }
    artifacts::write_atomic(&dir.join(files::EVALUATION), to_csv(&rows).as_bytes())?;
    Ok(rows)
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

/// One layer's spike figures at one checkpoint, for `layers.csv`.
#[derive(Debug, Clone, PartialEq)]
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

/// Evaluate the converted network in `dir`: simulate each held-out image once up to the largest
/// T, score the read-out at every T, and write `evaluation.csv` and `layers.csv` there.
pub fn evaluate_snn(dir: &Path, evaluate: &EvaluateConfig) -> Result<Vec<MetricRow>> {
    let backend: crate::convert::SnnManifest = artifacts::read_json(&dir.join(files::MANIFEST))?;
    let device = spiking_unet_core::device::device(&backend.config.backend)?;
    let (manifest, snn) = load_snn(dir, &device)?;
    let task = Task::build(&manifest.config)?;
    let budget = evaluate.memory_budget_mib * 1024 * 1024;
    let mut rows = Vec::new();
    let mut layer_rows = Vec::new();
    for &split in &evaluate.splits {
        // Per checkpoint: the per-image scores and spike figures.
        let mut scores: Vec<Vec<ImageScore>> =
            evaluate.time_steps.iter().map(|_| Vec::new()).collect();
        let mut spikes: Vec<Vec<Vec<(String, f64)>>> = vec![Vec::new(); evaluate.time_steps.len()];
        for item in task.eval_items(split) {
            let (h, w) = (item.input.height, item.input.width);
            let chunk = evaluate
                .time_chunk
                .unwrap_or_else(|| time_chunk_for_budget(&snn.unet, 1, h, w, budget, 8));
            let input = images_to_tensor(std::iter::once(&item.input), &device);
            let checkpoints = simulate(&snn, input, &evaluate.time_steps, chunk)?;
            for (k, checkpoint) in checkpoints.iter().enumerate() {
                let output = tensor_values(checkpoint.mean_output())?;
                let score = task.score(&item, &output)?;
                let report = spike_report(&snn.unet, checkpoint, 1, h, w);
                let t = checkpoint.time_steps;
                let figures = spike_values(&report);
                for (metric, value) in score.values.iter().cloned().chain(figures.iter().cloned()) {
                    rows.push(MetricRow {
                        split,
                        image: item.name.clone(),
                        time_steps: Some(t),
                        metric,
                        value,
                    });
                }
                for (site, spikes, firing_rate, synaptic_operations) in &report.layers {
                    layer_rows.push(LayerRow {
                        split,
                        image: item.name.clone(),
                        time_steps: t,
                        layer: site.to_string(),
                        spikes: *spikes,
                        firing_rate: *firing_rate,
                        synaptic_operations: *synaptic_operations,
                    });
                }
                scores[k].push(score);
                spikes[k].push(figures);
            }
        }
        for (k, &t) in evaluate.time_steps.iter().enumerate() {
            let mut aggregate = task.aggregate(&scores[k])?;
            // Spikes and energy: the mean per image (the authors' per-sample average).
            if let Some(first) = spikes[k].first() {
                for (i, (name, _)) in first.iter().enumerate() {
                    let values: Vec<f64> = spikes[k].iter().map(|v| v[i].1).collect();
                    aggregate.push((name.clone(), spiking_unet_core::metrics::mean(&values)?));
                }
            }
            for (metric, value) in aggregate {
                rows.push(MetricRow {
                    split,
                    image: "all".into(),
                    time_steps: Some(t),
                    metric,
                    value,
                });
            }
        }
    }
    artifacts::write_atomic(&dir.join(files::EVALUATION), to_csv(&rows).as_bytes())?;
    let mut text =
        String::from("split,image,time_steps,layer,spikes,firing_rate,synaptic_operations\n");
    for r in &layer_rows {
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.split, r.image, r.time_steps, r.layer, r.spikes, r.firing_rate, r.synaptic_operations
        ));
    }
    artifacts::write_atomic(&dir.join("layers.csv"), text.as_bytes())?;
    Ok(rows)
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

/// The ANN and every converted variant of a config, evaluated side by side.
#[derive(Debug)]
pub struct Comparison {
    /// `(model label, rows)`: `ann` first, then `normalization / neuron` per variant.
    pub models: Vec<(String, Vec<MetricRow>)>,
    /// Where the combined CSV was written.
    pub csv: std::path::PathBuf,
}

/// Evaluate the ANN of `config` and every SNN its `convert` section names (converted
/// beforehand), and write `runs/<name>/comparison.csv` with a `model` column.
pub fn evaluate_config(config: &crate::config::ExperimentConfig) -> Result<Comparison> {
    let ann_dir = artifacts::ann_dir(config);
    let mut models = vec![(
        "ann".to_string(),
        evaluate_ann(&ann_dir, &config.evaluate.splits)?,
    )];
    let task = Task::build(config)?;
    for variant in crate::convert::variants(config, &task) {
        if !variant.dir.join(files::MANIFEST).exists() {
            return Err(Error::Artifact {
                path: variant.dir,
                message: format!(
                    "{} / {} is not converted yet; run `convert` (or `reproduce`) first",
                    variant.spec.normalization.label(),
                    variant.neuron.label()
                ),
            });
        }
        let label = format!(
            "{} / {}",
            variant.spec.normalization.label(),
            variant.neuron.label()
        );
        tracing::info!("simulating {label}");
        models.push((label, evaluate_snn(&variant.dir, &config.evaluate)?));
    }
    for (variant, dir) in crate::finetune::selected(config, &task) {
        let label = format!(
            "finetuned T={} {} / {}",
            config.finetune.time_steps,
            variant.spec.normalization.label(),
            variant.neuron.label()
        );
        let finished = dir.join(files::MANIFEST).exists()
            && artifacts::read_json::<crate::convert::SnnManifest>(&dir.join(files::MANIFEST))?
                .finetune
                .is_some_and(|f| f.summary.is_some());
        if !finished {
            return Err(Error::Artifact {
                path: dir,
                message: format!(
                    "{label} is not fine-tuned yet; run `finetune` (or `reproduce`) first"
                ),
            });
        }
        tracing::info!("simulating {label}");
        models.push((label, evaluate_snn(&dir, &config.evaluate)?));
    }
    let mut text = String::from("model,split,image,time_steps,metric,value\n");
    for (label, rows) in &models {
        for line in to_csv(rows).lines().skip(1) {
            text.push_str(&format!("{label},{line}\n"));
        }
    }
    let csv = config.runs_dir.join(&config.name).join("comparison.csv");
    artifacts::write_atomic(&csv, text.as_bytes())?;
    Ok(Comparison { models, csv })
}
