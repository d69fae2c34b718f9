//! The `finetune` stage: flow-based fine-tuning (authors-code §5) of the converted networks the
//! config's `finetune` section selects, so they reach their quality in fewer time steps.
//!
//! Each result is an SNN artifact `runs/<name>/ft-<key>` laid out like a converted one (weights,
//! scale factors, a manifest naming the neuron), so `evaluate` treats both the same way. Its
//! manifest adds the fine-tuning settings and summary. Checkpoints and resumption work as for
//! ANN training: a killed run continues from its last complete epoch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use spiking_unet_core::engine::Engine;
use spiking_unet_core::finetune::{Flow, flow_forward};
use spiking_unet_core::simulate::{SpikingUNet, simulate, time_chunk_for_budget};

use crate::artifacts::{self, Provenance, TrainingSummary, files};
use crate::config::{ExperimentConfig, FinetuneConfig, Split};
use crate::convert::{SCALE_FACTORS, SnnManifest, Variant, load_snn, variants};
use crate::task::{Task, metric_value, tensor_values};
use crate::train::{
    EpochRecord, TrainingState, build_optimizer, commit_epoch, descend, epoch_progress_bar, resume,
    summarize,
};
use crate::{Error, Result};

/// What fine-tuning added to an SNN manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRecord {
    /// The converted network it started from.
    pub source: PathBuf,
    /// The settings.
    pub settings: FinetuneConfig,
    /// Present once fine-tuning finished.
    pub summary: Option<TrainingSummary>,
}

/// What [`finetune`] did for one variant.
#[derive(Debug)]
pub struct FinetuneOutcome {
    /// The fine-tuned artifact folder.
    pub dir: PathBuf,
    /// `normalization / neuron` of the source.
    pub label: String,
    /// How it ended.
    pub summary: TrainingSummary,
    /// True when it already existed.
    pub reused: bool,
}

/// The converted variants the `finetune` section selects, each with its fine-tuned folder.
pub fn selected(config: &ExperimentConfig, task: &Task) -> Vec<(Variant, PathBuf)> {
    let settings = &config.finetune;
    variants(config, task)
        .into_iter()
        .filter(|v| {
            settings.normalizations.contains(&v.spec.normalization)
                && settings.neurons.contains(&v.neuron)
        })
        .map(|v| {
            let inputs =
                serde_json::json!({ "code": artifacts::CODE_VERSIONS.finetune, "source": v.dir, "settings": settings, "seed": config.seed });
            let dir = config.runs_dir.join(&config.name).join(format!(
                "ft-{}",
                artifacts::short_hash(inputs.to_string().as_bytes())
            ));
            (v, dir)
        })
        .collect()
}

/// Fine-tune every selected converted network of `config`.
pub fn finetune(config: &ExperimentConfig, config_path: &Path) -> Result<Vec<FinetuneOutcome>> {
    let task = Task::build(config)?;
    let mut outcomes = Vec::new();
    for (variant, dir) in selected(config, &task) {
        outcomes.push(finetune_one(config, config_path, &task, &variant.dir, dir)?);
    }
    Ok(outcomes)
}

fn finetune_one(
    config: &ExperimentConfig,
    config_path: &Path,
    task: &Task,
    source: &Path,
    dir: PathBuf,
) -> Result<FinetuneOutcome> {
    let settings = &config.finetune;
    let device = spiking_unet_core::device::device(&config.backend)?;
    let (source_manifest, _) = load_snn(source, &device).map_err(|_| Error::Artifact {
        path: source.to_path_buf(),
        message: "this converted network does not exist yet; run `convert` (or `reproduce`) first"
            .into(),
    })?;
    let label = source_manifest.label();
    let manifest_path = dir.join(files::MANIFEST);
    if manifest_path.exists() {
        let manifest: SnnManifest = artifacts::read_json(&manifest_path)?;
        if let Some(summary) = manifest.finetune.and_then(|f| f.summary) {
            return Ok(FinetuneOutcome {
                dir,
                label,
                summary,
                reused: true,
            });
        }
    }

    let train_device = device.clone().autodiff();
    train_device.seed(config.seed);
    let template = source_manifest.unet.init(&train_device)?;
    let mut model = artifacts::load_module(template, &source.join(files::MODEL))?;
    let optimizer_settings = settings.optimizer_settings();
    let mut optimizer = build_optimizer(&optimizer_settings);
    let checkpoint_dir = dir.join(files::CHECKPOINT_DIR);
    let mut state = TrainingState::default();
    if checkpoint_dir.join("state.json").exists() {
        (state, model, optimizer) = resume(&checkpoint_dir, model, optimizer)?;
        tracing::info!(
            "resuming {} after epoch {}",
            dir.display(),
            state.epochs_done
        );
    } else {
        let mut manifest = source_manifest.clone();
        // Provenance of this fine-tuning run; the ANN's stays in `ann_provenance`.
        manifest.provenance = Provenance::collect(config, config_path, task.sources());
        manifest.finetune = Some(FinetuneRecord {
            source: source.to_path_buf(),
            settings: settings.clone(),
            summary: None,
        });
        std::fs::create_dir_all(&dir).map_err(Error::io("creating folder", &dir))?;
        std::fs::copy(source.join(SCALE_FACTORS), dir.join(SCALE_FACTORS))
            .map_err(Error::io("copying scale factors to", &dir))?;
        artifacts::write_json(&manifest_path, &manifest)?;
    }

    let neuron = source_manifest.neuron.clone();
    let t = settings.time_steps;
    let metric = task.selection_metric();
    let budget = config.evaluate.memory_budget_mib * 1024 * 1024;
    let use_engine = config.evaluate.simulator.uses_engine(&config.backend);
    for epoch in state.epochs_done + 1..=settings.epochs {
        let started = Instant::now();
        let batches = task.training_batches(epoch, settings.batch_size, &train_device);
        let progress = epoch_progress_bar(epoch, settings.epochs, batches.len());
        let mut loss_sum = 0.0;
        for batch in &batches {
            // 1. The T-step simulation, without gradients, on the current weights.
            let snn = SpikingUNet {
                unet: model.valid(),
                neuron: neuron.clone(),
            };
            let input = batch.input.clone().inner();
            let [b, _, h, w] = input.dims();
            let chunk = config
                .evaluate
                .time_chunk
                .unwrap_or_else(|| time_chunk_for_budget(&snn.unet, b, h, w, budget, 8));
            let flow = if use_engine {
                let engine = Engine::spiking(&snn)?;
                Flow::record_with_engine(&engine, input, t, chunk, &train_device)?
            } else {
                Flow::record(&snn, input, t, chunk, &train_device)?
            };
            // 2. One differentiable pass on the accumulated flow; 3. the task loss and a step.
            let output = flow_forward(&model, batch.input.clone(), &flow, settings.head_bias)?;
            let loss = task.loss(output, batch.target.clone());
            let loss_value;
            (model, loss_value) = descend(model, &mut optimizer, settings.learning_rate, loss);
            loss_sum += loss_value;
            progress.set_message(format!("{loss_value:.5}"));
            progress.inc(1);
        }
        progress.finish_and_clear();

        let snn = SpikingUNet {
            unet: model.valid(),
            neuron: neuron.clone(),
        };
        let selection_value = metric_value(
            &score_at(&snn, task, settings.selection_split, t, &device, use_engine)?,
            metric,
        );
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / batches.len().max(1) as f64,
            selection_value,
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "fine-tune {label} epoch {epoch}/{}: loss {:.5}, {} {metric} at T={t} {:.4} ({:.1} s)",
            settings.epochs,
            record.train_loss,
            settings.selection_split,
            selection_value,
            record.seconds
        );
        commit_epoch(&dir, &mut state, record, &model, &optimizer, metric)?;
    }

    let summary = summarize(&state, &dir, settings.selection_split, metric)?;
    let mut manifest: SnnManifest = artifacts::read_json(&manifest_path)?;
    if let Some(record) = manifest.finetune.as_mut() {
        record.summary = Some(summary.clone());
    }
    artifacts::write_json(&manifest_path, &manifest)?;
    Ok(FinetuneOutcome {
        dir,
        label,
        summary,
        reused: false,
    })
}

/// Split-level metrics of an SNN's read-out at T steps.
fn score_at(
    snn: &SpikingUNet,
    task: &Task,
    split: Split,
    time_steps: usize,
    device: &Device,
    use_engine: bool,
) -> Result<Vec<(String, f64)>> {
    let engine = if use_engine {
        Some(Engine::spiking(snn)?)
    } else {
        None
    };
    let mut scores = Vec::new();
    for item in task.eval_items(split) {
        let input = item.network_input(device);
        let checkpoint = match &engine {
            Some(engine) => engine.simulate(input, &[time_steps], 8, false)?.0,
            None => simulate(snn, input, &[time_steps], 8)?,
        }
        .remove(0);
        let output = item.recompose(&tensor_values(checkpoint.mean_output())?);
        scores.push(task.score(&item, &output)?);
    }
    task.aggregate(&scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn one_epoch_of_fine_tuning_runs_in_seconds_and_lowers_the_training_loss() {
        let runs = tempfile::tempdir().expect("temporary folder");
        let text = format!(
            "name: tiny\nseed: 4\nruns_dir: {}\ndata:\n  denoising:\n    patch_size: 32\n    patches_per_epoch: 32\n    eval_crop: 32\n\
             model:\n  width: 8\n  depth: 2\ntrain:\n  epochs: 3\n  batch_size: 4\n\
             finetune:\n  time_steps: 4\n  epochs: 2\n  learning_rate: 0.001\n  batch_size: 4\n",
            runs.path().display()
        );
        let config = parse(&text, Path::new("tiny.yaml")).expect("valid tiny config");
        let _stream = crate::convert::SEEDED_STREAM
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::train::train(&config, Path::new("tiny.yaml")).expect("training runs");
        crate::convert::convert(&config, Path::new("tiny.yaml")).expect("conversion runs");
        let outcomes = finetune(&config, Path::new("tiny.yaml")).expect("fine-tuning runs");
        assert_eq!(outcomes.len(), 1);
        let curve =
            std::fs::read_to_string(outcomes[0].dir.join(files::TRAINING_CURVE)).expect("curve");
        let losses: Vec<f64> = curve
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .nth(1)
                    .expect("loss column")
                    .parse()
                    .expect("number")
            })
            .collect();
        assert_eq!(losses.len(), 2);
        assert!(losses[1] < losses[0], "the training loss falls: {losses:?}");
        // The result is an SNN artifact like any other.
        let (manifest, _) = load_snn(&outcomes[0].dir, &Device::flex()).expect("loads");
        assert!(manifest.finetune.and_then(|f| f.summary).is_some());
        assert!(
            finetune(&config, Path::new("tiny.yaml"))
                .expect("rerun")
                .iter()
                .all(|o| o.reused)
        );
    }
}
