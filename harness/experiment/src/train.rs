//! The `train` stage: fit the ANN U-Net of a config, keep the checkpoint that scores best on the
//! selection split, and leave a resumable state after every epoch.
//!
//! Resumption: after each epoch the weights and the optimizer state go to
//! `checkpoint/epoch-<k>/`, and only then does `checkpoint/state.json` (written atomically) point
//! at them. A run killed at any moment therefore restarts from the last complete epoch, and since
//! every epoch's patches depend only on (seed, epoch), the resumed run computes what the
//! uninterrupted one would have.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord, RmsPropConfig, SgdConfig,
    momentum::MomentumConfig,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use spiking_unet_core::model::UNet;

use crate::artifacts::{self, ArtifactKind, Manifest, Provenance, TrainingSummary, files};
use crate::config::{ExperimentConfig, Optimizer, Split, TrainConfig};
use crate::evaluate::score_split;
use crate::task::{Task, metric_value};
use crate::{Error, Result};

/// What a call to [`train`] did.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The artifact folder.
    pub dir: PathBuf,
    /// How training ended (`None` when the weights were imported).
    pub summary: Option<TrainingSummary>,
    /// `Some(k)` when the run continued from a checkpoint after epoch `k`.
    pub resumed_after_epoch: Option<usize>,
    /// True when the artifact was already complete and nothing ran.
    pub reused: bool,
}

/// One row of the training curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch, 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Selection metric on the selection split after the epoch.
    pub selection_value: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
}

/// The resumable state, `checkpoint/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TrainingState {
    /// Epochs completed; their weights are in `checkpoint/epoch-<epochs_done>/`.
    pub(crate) epochs_done: usize,
    /// Curve so far.
    pub(crate) curve: Vec<EpochRecord>,
}

impl TrainingState {
    pub(crate) fn best(&self) -> Option<&EpochRecord> {
        // The first epoch wins ties, so selection does not drift on plateaus.
        self.curve
            .iter()
            .fold(None, |best: Option<&EpochRecord>, r| match best {
                Some(b) if b.selection_value >= r.selection_value => Some(b),
                _ => Some(r),
            })
    }
}

/// Train the ANN of `config` (read from `config_path`), resuming or reusing its artifact folder.
pub fn train(config: &ExperimentConfig, config_path: &Path) -> Result<TrainOutcome> {
    let dir = artifacts::ann_dir(config);
    let manifest_path = dir.join(files::MANIFEST);
    if manifest_path.exists() {
        let manifest = Manifest::read(&dir)?;
        if manifest.is_complete() {
            let summary = manifest.training;
            return Ok(TrainOutcome {
                dir,
                summary,
                resumed_after_epoch: None,
                reused: true,
            });
        }
    }
    if let Some(weights) = &config.model.pretrained {
        return import_pretrained(config, config_path, weights, dir);
    }

    let task = Task::build(config)?;
    let unet = task.unet(config);
    let device = spiking_unet_core::device::device(&config.backend)?;
    let train_device = device.clone().autodiff();
    train_device.seed(config.seed);
    // Drawn on the CPU from the seed: every backend starts from the same weights.
    let mut model = unet.init_seeded(config.seed, &train_device)?;
    let mut optimizer = build_optimizer(&config.train);
    let checkpoint_dir = dir.join(files::CHECKPOINT_DIR);
    let state_path = checkpoint_dir.join("state.json");

    let mut state = TrainingState::default();
    let mut resumed_after_epoch = None;
    if state_path.exists() {
        (state, model, optimizer) = resume(&checkpoint_dir, model, optimizer)?;
        resumed_after_epoch = Some(state.epochs_done);
        tracing::info!(
            "resuming {} after epoch {}",
            dir.display(),
            state.epochs_done
        );
    } else {
        // The resolved config and provenance go down before any work (nothing is lost if the
        // run dies, and a half-trained folder still says what it is).
        let provenance = Provenance::collect(config, config_path, task.sources());
        let manifest = Manifest {
            kind: ArtifactKind::Ann,
            key: artifacts::ann_key(config),
            config: config.clone(),
            unet: unet.clone(),
            provenance,
            training: None,
            imported_from: None,
        };
        artifacts::write_json(&manifest_path, &manifest)?;
    }

    let train = &config.train;
    let metric = task.selection_metric();
    for epoch in state.epochs_done + 1..=train.epochs {
        let started = Instant::now();
        let batches = task.training_batches(epoch, train.batch_size, &train_device);
        let progress = epoch_progress_bar(epoch, train.epochs, batches.len());
        let mut loss_sum = 0.0;
        for batch in &batches {
            let loss = task.loss(model.forward(batch.input.clone()), batch.target.clone());
            let loss_value;
            (model, loss_value) = descend(model, &mut optimizer, train.learning_rate, loss);
            loss_sum += loss_value;
            progress.set_message(format!("{loss_value:.5}"));
            progress.inc(1);
        }
        progress.finish_and_clear();

        let (_, aggregate) = score_split(&model.valid(), &task, train.selection_split, &device)?;
        let selection_value = metric_value(&aggregate, metric);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / batches.len().max(1) as f64,
            selection_value,
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "epoch {epoch}/{}: loss {:.5}, {} {metric} {:.4} ({:.1} s)",
            train.epochs,
            record.train_loss,
            train.selection_split,
            record.selection_value,
            record.seconds
        );
        commit_epoch(&dir, &mut state, record, &model, &optimizer, metric)?;
    }

    let summary = summarize(&state, &dir, train.selection_split, metric)?;
    let mut manifest = Manifest::read(&dir)?;
    manifest.training = Some(summary.clone());
    artifacts::write_json(&manifest_path, &manifest)?;
    Ok(TrainOutcome {
        dir,
        summary: Some(summary),
        resumed_after_epoch,
        reused: false,
    })
}

/// Make an ANN artifact from weights trained elsewhere (the authors' naming).
fn import_pretrained(
    config: &ExperimentConfig,
    config_path: &Path,
    weights: &Path,
    dir: PathBuf,
) -> Result<TrainOutcome> {
    let task = Task::build(config)?;
    let unet = task.unet(config);
    let device = spiking_unet_core::device::device(&config.backend)?;
    let model = spiking_unet_core::interop::import_weights(&unet, weights, &device)?;
    artifacts::save_module(model, &dir.join(files::MODEL))?;
    let manifest = Manifest {
        kind: ArtifactKind::Ann,
        key: artifacts::ann_key(config),
        config: config.clone(),
        unet,
        provenance: Provenance::collect(config, config_path, task.sources()),
        training: None,
        imported_from: Some((weights.to_path_buf(), artifacts::sha256_file(weights)?)),
    };
    artifacts::write_json(&dir.join(files::MANIFEST), &manifest)?;
    Ok(TrainOutcome {
        dir,
        summary: None,
        resumed_after_epoch: None,
        reused: false,
    })
}

/// One optimizer step on `loss`; returns the updated model and the loss value.
pub(crate) fn descend(
    model: UNet,
    optimizer: &mut ModuleOptimizer,
    learning_rate: f64,
    loss: burn::tensor::Tensor<1>,
) -> (UNet, f64) {
    let value = loss.clone().into_scalar::<f32>() as f64;
    let gradients = GradientsParams::from_grads(loss.backward(), &model);
    (optimizer.step(learning_rate, model, gradients), value)
}

/// Record a finished epoch in artifact folder `dir`: keep its weights as `model.bpk` if its
/// selection value is the best so far, commit the checkpoint, rewrite the training curve.
pub(crate) fn commit_epoch(
    dir: &Path,
    state: &mut TrainingState,
    record: EpochRecord,
    model: &UNet,
    optimizer: &ModuleOptimizer,
    metric: &str,
) -> Result<()> {
    let epoch = record.epoch;
    let improved = state
        .best()
        .is_none_or(|best| record.selection_value > best.selection_value);
    state.curve.push(record);
    if improved {
        artifacts::save_module(model.valid(), &dir.join(files::MODEL))?;
    }
    save_checkpoint(
        &dir.join(files::CHECKPOINT_DIR),
        state,
        epoch,
        model,
        optimizer,
    )?;
    artifacts::write_atomic(
        &dir.join(files::TRAINING_CURVE),
        curve_csv(&state.curve, metric).as_bytes(),
    )
}

/// The summary of a finished epoch loop.
pub(crate) fn summarize(
    state: &TrainingState,
    dir: &Path,
    split: Split,
    metric: &str,
) -> Result<TrainingSummary> {
    let best = state.best().ok_or_else(|| Error::Artifact {
        path: dir.to_path_buf(),
        message: "no epoch was recorded".into(),
    })?;
    Ok(TrainingSummary {
        epochs: state.epochs_done,
        selected_epoch: best.epoch,
        selection_split: split,
        selection_metric: metric.to_string(),
        selection_value: best.selection_value,
        seconds: state.curve.iter().map(|r| r.seconds).sum(),
    })
}

/// Load the state, weights and optimizer state of the last committed epoch.
pub(crate) fn resume(
    checkpoint_dir: &Path,
    model: UNet,
    optimizer: ModuleOptimizer,
) -> Result<(TrainingState, UNet, ModuleOptimizer)> {
    let state: TrainingState = artifacts::read_json(&checkpoint_dir.join("state.json"))?;
    let epoch_dir = checkpoint_dir.join(format!("epoch-{}", state.epochs_done));
    let model = artifacts::load_module(model, &epoch_dir.join("model.bpk"))?;
    let optimizer_path = epoch_dir.join("optimizer.bpk");
    let record = OptimizerRecord::load(&optimizer_path).map_err(|err| Error::Record {
        path: optimizer_path.clone(),
        message: err.to_string(),
    })?;
    Ok((state, model, optimizer.load_record(record)))
}

/// The optimizer of the config, with PyTorch's default constants so runs compare to the authors'.
pub(crate) fn build_optimizer(train: &TrainConfig) -> ModuleOptimizer {
    match train.optimizer {
        Optimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        Optimizer::Sgd => {
            let momentum = (train.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(train.momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(momentum).init()
        }
        Optimizer::Rmsprop => RmsPropConfig::new()
            .with_momentum(train.momentum as f32)
            .with_epsilon(1e-8)
            .init(),
    }
}

/// Write epoch `epoch`'s weights and optimizer state, then commit by rewriting `state.json`, then
/// drop the previous epoch's folder.
pub(crate) fn save_checkpoint(
    checkpoint_dir: &Path,
    state: &mut TrainingState,
    epoch: usize,
    model: &UNet,
    optimizer: &ModuleOptimizer,
) -> Result<()> {
    let epoch_dir = checkpoint_dir.join(format!("epoch-{epoch}"));
    artifacts::save_module(model.clone(), &epoch_dir.join("model.bpk"))?;
    let optimizer_path = epoch_dir.join("optimizer.bpk");
    let bytes = optimizer
        .to_record()
        .into_bytes()
        .map_err(|err| Error::Record {
            path: optimizer_path.clone(),
            message: err.to_string(),
        })?;
    artifacts::write_atomic(&optimizer_path, &bytes)?;
    let previous = checkpoint_dir.join(format!("epoch-{}", state.epochs_done));
    state.epochs_done = epoch;
    artifacts::write_json(&checkpoint_dir.join("state.json"), state)?;
    if previous != epoch_dir && previous.exists() {
        std::fs::remove_dir_all(&previous)
            .map_err(Error::io("removing old checkpoint", &previous))?;
    }
    Ok(())
}

pub(crate) fn curve_csv(curve: &[EpochRecord], metric: &str) -> String {
    let mut text = format!("epoch,train_loss,selection_{metric},seconds\n");
    for r in curve {
        text.push_str(&format!(
            "{},{},{},{:.3}\n",
            r.epoch, r.train_loss, r.selection_value, r.seconds
        ));
    }
    text
}

pub(crate) fn epoch_progress_bar(epoch: usize, epochs: usize, batches: usize) -> ProgressBar {
    let bar = ProgressBar::new(batches as u64);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} batches, loss {msg} ({elapsed})",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}
