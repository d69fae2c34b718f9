//! The `train` stage: fit the ANN U-Net of a sweep point (or import weights trained elsewhere),
//! keeping the epoch that scores best on the selection split. The epoch loop, its checkpoints
//! and resumption are [`crate::training`]'s.

use std::path::PathBuf;

use burn::module::Module;
use spiking_unet_core::model::UNet;

use crate::Result;
use crate::artifacts;
use crate::layout::{ArtifactDir, MODEL_FILE};
use crate::manifest::{AnnManifest, Contents, Manifest, TrainingSummary};
use crate::plan::PointPlan;
use crate::scoring::score_ann;
use crate::task::{Sampling, Task, metric_value};
use crate::training::{EpochLoop, build_optimizer};

/// What a call to [`train`] did.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The artifact folder.
    pub dir: ArtifactDir,
    /// How training ended (`None` when the weights were imported).
    pub summary: Option<TrainingSummary>,
    /// `Some(k)` when the run continued from a checkpoint after epoch `k`.
    pub resumed_after_epoch: Option<usize>,
    /// True when the artifact was already complete and nothing ran.
    pub reused: bool,
}

/// Train the ANN of `point`, resuming or reusing its artifact folder.
pub fn train(point: &PointPlan) -> Result<TrainOutcome> {
    let config = point.config();
    let dir = point.ann().dir.clone();
    if let Some(Manifest::Ann(manifest)) = Manifest::read_if_present(&dir)?
        && manifest.is_complete()
    {
        return Ok(TrainOutcome {
            dir,
            summary: manifest.training,
            resumed_after_epoch: None,
            reused: true,
        });
    }
    tracing::info!(event = "stage", stage = "train", network = "ann", dir = %dir, "train: {dir}");
    if config.model.pretrained.is_some() {
        return import_pretrained(point, dir);
    }

    let task = point.task()?;
    let unet = task.unet(config);
    let device = spiking_unet_core::device::device(&config.backend)?;
    let train_device = device.clone().autodiff();
    train_device.seed(config.seed);
    // Drawn on the CPU from the seed: every backend starts from the same weights.
    let model = unet.init_seeded(config.seed, &train_device)?;
    let settings = &config.train;
    let epochs = EpochLoop {
        stage: "train",
        network: "ann",
        dir: &dir,
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        sampling: Sampling::default(),
        learning_rate: settings.learning_rate,
        selection_split: config.choices().train_selection,
        selection_metric: task.selection_metric(),
    };
    let optimizer = build_optimizer(settings.optimizer, settings.momentum);
    let started = epochs.start_or_resume(model, optimizer, || {
        manifest(point, &dir, task, None)?.write(&dir)
    })?;
    let resumed_after_epoch = started.resumed_after_epoch;
    let summary = epochs.run(
        started,
        task,
        &train_device,
        |model: &UNet, batch| {
            Ok(task.loss(model.forward(batch.input.clone()), batch.target.clone()))
        },
        |model: &UNet| {
            let (_, aggregate) = score_ann(
                &model.valid(),
                task,
                config.choices().train_selection,
                &device,
            )?;
            Ok(metric_value(&aggregate, task.selection_metric()))
        },
    )?;

    let mut manifest = AnnManifest::read(&dir)?;
    let kept = artifacts::load_module(unet.init(&device)?, &dir.model())?;
    manifest.contents = Some(Contents::record(&dir, &kept, &[MODEL_FILE])?);
    manifest.training = Some(summary.clone());
    Manifest::Ann(manifest).write(&dir)?;
    Ok(TrainOutcome {
        dir,
        summary: Some(summary),
        resumed_after_epoch,
        reused: false,
    })
}

/// The manifest of `point`'s ANN, written before training starts (so a half-trained folder
/// still says what it is) or after an import.
fn manifest(
    point: &PointPlan,
    dir: &ArtifactDir,
    task: &Task,
    imported: Option<((PathBuf, String), Contents)>,
) -> Result<Manifest> {
    let config = point.config();
    let (imported_from, contents) = imported.unzip();
    Ok(Manifest::Ann(AnnManifest {
        key: dir.key(),
        config: config.clone(),
        unet: task.unet(config),
        provenance: point.provenance()?,
        training: None,
        imported_from,
        contents,
    }))
}

/// Make an ANN artifact from weights trained elsewhere (the authors' naming).
fn import_pretrained(point: &PointPlan, dir: ArtifactDir) -> Result<TrainOutcome> {
    let config = point.config();
    let weights = config
        .model
        .pretrained
        .as_ref()
        .expect("checked by the caller");
    let task = point.task()?;
    let device = spiking_unet_core::device::device(&config.backend)?;
    let model = spiking_unet_core::interop::import_weights(&task.unet(config), weights, &device)?;
    artifacts::save_module(model.clone(), &dir.model())?;
    let imported = (weights.to_path_buf(), artifacts::sha256_file(weights)?);
    let contents = Contents::record(&dir, &model, &[MODEL_FILE])?;
    manifest(point, &dir, task, Some((imported, contents)))?.write(&dir)?;
    Ok(TrainOutcome {
        dir,
        summary: None,
        resumed_after_epoch: None,
        reused: false,
    })
}
