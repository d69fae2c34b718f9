//! The epoch loop that ANN training and flow-based fine-tuning share: batches, optimizer steps,
//! a selection score after every epoch, the kept weights, the curve, the progress bar, and
//! checkpoints that make a killed run resumable.
//!
//! Resumption: after each epoch the weights and the optimizer state go to
//! `checkpoint/epoch-<k>/`, and only then does `checkpoint/state.json` (written atomically)
//! point at them. A run killed at any moment therefore restarts from the last complete epoch,
//! and since every epoch's batches depend only on (seed, epoch), the resumed run computes what
//! the uninterrupted one would have. `state.json` is sealed and records the sha256 of the
//! checkpoint's files and of the kept weights, so a damaged checkpoint is an error (which
//! `reproduce` answers by moving the folder aside and training again), never resumed from.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{
    AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord, RmsPropConfig, SgdConfig,
    momentum::MomentumConfig,
};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use spiking_unet_core::model::UNet;

use crate::artifacts;
use crate::config::{Optimizer, Split};
use crate::layout::ArtifactDir;
use crate::manifest::TrainingSummary;
use crate::task::{Batch, Sampling, Task};
use crate::{Error, Result};

/// What one epoch loop runs: the settings both stages have.
pub struct EpochLoop<'a> {
    /// `train` or `finetune`, for logs.
    pub stage: &'static str,
    /// The network's label, for logs.
    pub network: &'a str,
    /// Where weights, curve and checkpoints go.
    pub dir: &'a ArtifactDir,
    /// Epochs in all (a resumed run does the rest).
    pub epochs: usize,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// How patches become batches.
    pub sampling: Sampling,
    /// Constant learning rate.
    pub learning_rate: f64,
    /// Split the selection scores.
    pub selection_split: Split,
    /// The metric the selection maximises.
    pub selection_metric: &'static str,
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
    /// Wall-clock seconds of the epoch (training and selection).
    pub seconds: f64,
}

/// The resumable state, `checkpoint/state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TrainingState {
    /// Epochs completed; their weights are in `checkpoint/epoch-<epochs_done>/`.
    epochs_done: usize,
    /// Curve so far.
    curve: Vec<EpochRecord>,
    /// sha256 of the files the state vouches for, by path in the artifact folder: the kept
    /// weights (`model.bpk`) and the last epoch's checkpoint.
    files: BTreeMap<String, String>,
}

/// The names [`TrainingState::files`] uses.
fn relative(dir: &ArtifactDir, path: &std::path::Path) -> String {
    path.strip_prefix(dir.path())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Read `checkpoint/state.json` (sealed) and verify the files it vouches for.
fn read_state(dir: &ArtifactDir) -> Result<TrainingState> {
    let state: TrainingState = artifacts::read_sealed(&dir.checkpoint_state())?;
    for (name, sha256) in &state.files {
        artifacts::verify_file(&dir.path().join(name), sha256)?;
    }
    Ok(state)
}

/// Verify the checkpoint of `dir` (the state and every file it vouches for), when it has one.
pub fn verify_checkpoint(dir: &ArtifactDir) -> Result<()> {
    if dir.checkpoint_state().exists() {
        read_state(dir)?;
    }
    Ok(())
}

impl TrainingState {
    fn best(&self) -> Option<&EpochRecord> {
        // The first epoch wins ties, so selection does not drift on plateaus.
        self.curve
            .iter()
            .fold(None, |best: Option<&EpochRecord>, r| match best {
                Some(b) if b.selection_value >= r.selection_value => Some(b),
                _ => Some(r),
            })
    }
}

/// The optimizer, with PyTorch's default constants so runs compare to the authors'.
pub fn build_optimizer(optimizer: Optimizer, momentum: f64) -> ModuleOptimizer {
    match optimizer {
        Optimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        Optimizer::Sgd => {
            let momentum = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
            });
            SgdConfig::new().with_momentum(momentum).init()
        }
        Optimizer::Rmsprop => RmsPropConfig::new()
            .with_momentum(momentum as f32)
            .with_epsilon(1e-8)
            .init(),
    }
}

/// A model and optimizer ready for the epoch loop: fresh, or restored from a checkpoint.
pub struct Started {
    state: TrainingState,
    model: UNet,
    optimizer: ModuleOptimizer,
    /// `Some(k)` when the run continues from a checkpoint after epoch `k`.
    pub resumed_after_epoch: Option<usize>,
}

impl EpochLoop<'_> {
    /// Continue from the last committed epoch when `dir` has a checkpoint; otherwise call
    /// `start` (which writes the manifest before any work, so nothing is lost if the run dies
    /// and a half-trained folder still says what it is) and begin at epoch 1.
    pub fn start_or_resume(
        &self,
        model: UNet,
        optimizer: ModuleOptimizer,
        start: impl FnOnce() -> Result<()>,
    ) -> Result<Started> {
        if !self.dir.checkpoint_state().exists() {
            start()?;
            return Ok(Started {
                state: TrainingState::default(),
                model,
                optimizer,
                resumed_after_epoch: None,
            });
        }
        let state = read_state(self.dir)?;
        let files = self.dir.checkpoint_epoch(state.epochs_done);
        let model = artifacts::load_module(model, &files.model)?;
        let record = OptimizerRecord::load(&files.optimizer).map_err(|err| Error::Record {
            path: files.optimizer.clone(),
            message: err.to_string(),
        })?;
        tracing::info!(
            stage = self.stage,
            network = self.network,
            after_epoch = state.epochs_done,
            "resuming {}",
            self.dir
        );
        Ok(Started {
            resumed_after_epoch: Some(state.epochs_done),
            state,
            model,
            optimizer: optimizer.load_record(record),
        })
    }

    /// Run the remaining epochs: for every batch, `loss_of(model, batch)` and one optimizer
    /// step; after every epoch, `score(model)` (the selection metric), keeping the best
    /// epoch's weights as `model.bpk`. Returns how it ended.
    pub fn run(
        &self,
        started: Started,
        task: &Task,
        device: &Device,
        mut loss_of: impl FnMut(&UNet, &Batch) -> Result<Tensor<1>>,
        mut score: impl FnMut(&UNet) -> Result<f64>,
    ) -> Result<TrainingSummary> {
        let Started {
            mut state,
            mut model,
            mut optimizer,
            ..
        } = started;
        for epoch in state.epochs_done + 1..=self.epochs {
            let started = Instant::now();
            let batches = task.training_batches(epoch, self.batch_size, self.sampling, device);
            if batches.is_empty() {
                return Err(Error::Argument(format!(
                    "{} of {}: no full batch of {} in an epoch's patches, and the last partial \
                     batch is dropped (`finetune.batches: fixed_drop_last`, the authors'); draw \
                     more patches per epoch or use smaller batches",
                    self.stage, self.network, self.batch_size
                )));
            }
            let progress = epoch_progress_bar(epoch, self.epochs, batches.len());
            let mut loss_sum = 0.0;
            for batch in &batches {
                let loss = loss_of(&model, batch)?;
                let loss_value = loss.clone().into_scalar::<f32>() as f64;
                let gradients = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(self.learning_rate, model, gradients);
                loss_sum += loss_value;
                progress.set_message(format!("{loss_value:.5}"));
                progress.inc(1);
            }
            progress.finish_and_clear();

            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / batches.len().max(1) as f64,
                selection_value: score(&model)?,
                seconds: started.elapsed().as_secs_f64(),
            };
            tracing::info!(
                event = "epoch",
                stage = self.stage,
                network = self.network,
                epoch,
                epochs = self.epochs,
                loss = record.train_loss,
                split = %self.selection_split,
                metric = self.selection_metric,
                value = record.selection_value,
                seconds = record.seconds,
                "{} {} epoch {epoch}/{}: loss {:.5}, {} {} {:.4} ({:.1} s)",
                self.stage,
                self.network,
                self.epochs,
                record.train_loss,
                self.selection_split,
                self.selection_metric,
                record.selection_value,
                record.seconds
            );
            self.commit_epoch(&mut state, record, &model, &optimizer)?;
        }
        let best = state.best().ok_or_else(|| Error::Artifact {
            path: self.dir.path().to_path_buf(),
            message: "no epoch was recorded".into(),
        })?;
        // The kept weights are the ones the state recorded, not whatever lies there now.
        if let Some(sha256) = state.files.get("model.bpk") {
            artifacts::verify_file(&self.dir.model(), sha256)?;
        }
        Ok(TrainingSummary {
            epochs: state.epochs_done,
            selected_epoch: best.epoch,
            selection_split: self.selection_split,
            selection_metric: self.selection_metric.to_string(),
            selection_value: best.selection_value,
            seconds: state.curve.iter().map(|r| r.seconds).sum(),
        })
    }

    /// Record a finished epoch: keep its weights as `model.bpk` if its selection value is the
    /// best so far, write the epoch's checkpoint, commit it by rewriting `state.json`, drop the
    /// previous epoch's files, rewrite the training curve.
    fn commit_epoch(
        &self,
        state: &mut TrainingState,
        record: EpochRecord,
        model: &UNet,
        optimizer: &ModuleOptimizer,
    ) -> Result<()> {
        let epoch = record.epoch;
        let improved = state
            .best()
            .is_none_or(|best| record.selection_value > best.selection_value);
        state.curve.push(record);
        if improved {
            let sha256 = artifacts::save_module(model.valid(), &self.dir.model())?;
            state
                .files
                .insert(relative(self.dir, &self.dir.model()), sha256);
        }
        let files = self.dir.checkpoint_epoch(epoch);
        let model_sha256 = artifacts::save_module(model.clone(), &files.model)?;
        let bytes = optimizer
            .to_record()
            .into_bytes()
            .map_err(|err| Error::Record {
                path: files.optimizer.clone(),
                message: err.to_string(),
            })?;
        artifacts::write_atomic(&files.optimizer, &bytes)?;
        let previous = self.dir.checkpoint_epoch(state.epochs_done).dir;
        let previous_prefix = format!("{}/", relative(self.dir, &previous));
        state
            .files
            .retain(|name, _| !name.starts_with(&previous_prefix));
        state
            .files
            .insert(relative(self.dir, &files.model), model_sha256);
        state.files.insert(
            relative(self.dir, &files.optimizer),
            artifacts::sha256_of(&bytes),
        );
        state.epochs_done = epoch;
        artifacts::write_sealed(&self.dir.checkpoint_state(), state)?;
        if previous != files.dir && previous.exists() {
            std::fs::remove_dir_all(&previous)
                .map_err(Error::io("removing old checkpoint", &previous))?;
        }
        artifacts::write_atomic(
            &self.dir.training_curve(),
            curve_csv(&state.curve, self.selection_metric)?.as_bytes(),
        )
    }
}

/// The training curve as CSV.
fn curve_csv(curve: &[EpochRecord], metric: &str) -> Result<String> {
    let mut rows = vec![vec![
        "epoch".to_string(),
        "train_loss".into(),
        format!("selection_{metric}"),
        "seconds".into(),
    ]];
    rows.extend(curve.iter().map(|r| {
        vec![
            r.epoch.to_string(),
            r.train_loss.to_string(),
            r.selection_value.to_string(),
            format!("{:.3}", r.seconds),
        ]
    }));
    artifacts::csv_text(&rows)
}

fn epoch_progress_bar(epoch: usize, epochs: usize, batches: usize) -> ProgressBar {
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
