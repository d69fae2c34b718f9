//! The `finetune` stage: flow-based fine-tuning (authors-code §5) of the converted networks the
//! config's `finetune` section selects, so they reach their quality in fewer time steps.
//!
//! Each result is an SNN artifact `runs/<name>/ft-<key>` laid out like a converted one (weights,
//! scale factors, a manifest naming the neuron), so `evaluate` treats both the same way. Its
//! manifest adds the fine-tuning settings and summary. The epoch loop, checkpoints and
//! resumption are [`crate::training`]'s, as for ANN training.

use burn::module::Module;
use spiking_unet_core::engine::Engine;
use spiking_unet_core::finetune::{Flow, flow_forward};
use spiking_unet_core::model::UNet;
use spiking_unet_core::neuron::Neuron;
use spiking_unet_core::simulate::{SpikingUNet, time_chunk_for_budget};

use crate::artifacts;
use crate::fidelity::{FinetuneBatches, IfFlowValue};
use crate::layout::{ArtifactDir, SNN_FILES};
use crate::manifest::{Contents, FinetuneRecord, Manifest, SnnManifest, TrainingSummary, load_snn};
use crate::networks::{Network, NetworkKind};
use crate::plan::PointPlan;
use crate::scoring::score_snn;
use crate::task::{Sampling, metric_value};
use crate::training::{EpochLoop, build_optimizer};
use crate::{Error, Result};

/// What [`finetune`] did for one network.
#[derive(Debug)]
pub struct FinetuneOutcome {
    /// The fine-tuned artifact folder.
    pub dir: ArtifactDir,
    /// The fine-tuned network's label.
    pub label: String,
    /// How it ended.
    pub summary: TrainingSummary,
    /// True when it already existed.
    pub reused: bool,
}

/// Fine-tune every fine-tuned network of `point`'s plan from its converted source.
pub fn finetune(point: &PointPlan) -> Result<Vec<FinetuneOutcome>> {
    point
        .networks_of(NetworkKind::Finetuned)
        .map(|network| finetune_one(point, network))
        .collect()
}

fn finetune_one(point: &PointPlan, network: &Network) -> Result<FinetuneOutcome> {
    let config = point.config();
    let settings = &config.finetune;
    let choices = config.choices();
    let dir = &network.dir;
    let label = network.label.clone();
    if let Some(Manifest::Snn(manifest)) = Manifest::read_if_present(dir)?
        && manifest.contents.is_some()
        && let Some(summary) = manifest.finetune.and_then(|f| f.summary)
    {
        return Ok(FinetuneOutcome {
            dir: dir.clone(),
            label,
            summary,
            reused: true,
        });
    }
    let source = network
        .source
        .as_ref()
        .expect("a fine-tuned network has a source");
    let device = spiking_unet_core::device::device(&config.backend)?;
    if Manifest::read_if_present(source)?.is_none() {
        return Err(Error::Artifact {
            path: source.path().to_path_buf(),
            message:
                "this converted network does not exist yet; run `convert` (or `reproduce`) first"
                    .into(),
        });
    }
    let (source_manifest, _) = load_snn(source, &device)?;
    tracing::info!(event = "stage", stage = "finetune", network = label, dir = %dir, "finetune: {label} -> {dir}");

    let task = point.task()?;
    let train_device = device.clone().autodiff();
    train_device.seed(config.seed);
    let template = source_manifest.unet.init(&train_device)?;
    let model = artifacts::load_module(template, &source.model())?;
    let epochs = EpochLoop {
        stage: "finetune",
        network: &label,
        dir,
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        sampling: Sampling {
            fixed_set: choices.finetune_batches == FinetuneBatches::FixedDropLast,
            drop_last: choices.finetune_batches == FinetuneBatches::FixedDropLast,
        },
        learning_rate: settings.learning_rate,
        selection_split: choices.finetune_selection,
        selection_metric: task.selection_metric(),
    };
    let optimizer = build_optimizer(settings.optimizer, settings.momentum);
    let started = epochs.start_or_resume(model, optimizer, || {
        let mut manifest = source_manifest.clone();
        // Provenance of this fine-tuning run; the ANN's stays in `ann_provenance`.
        manifest.key = dir.key();
        manifest.provenance = point.provenance()?;
        manifest.finetune = Some(FinetuneRecord {
            source: source.path().to_path_buf(),
            settings: settings.clone(),
            summary: None,
        });
        // Vouched for again once fine-tuning has finished.
        manifest.contents = None;
        std::fs::create_dir_all(dir.path()).map_err(Error::io("creating folder", dir.path()))?;
        std::fs::copy(source.scale_factors(), dir.scale_factors())
            .map_err(Error::io("copying scale factors to", dir.path()))?;
        Manifest::Snn(manifest).write(dir)
    })?;

    let neuron = source_manifest.neuron.clone();
    let t = settings.time_steps;
    let budget = config.evaluate.memory_budget_mib * 1024 * 1024;
    let use_engine = config.evaluate.simulator.uses_engine(&config.backend);
    let spiking = |model: &UNet| SpikingUNet {
        unet: model.valid(),
        neuron: neuron.clone(),
    };
    let summary = epochs.run(
        started,
        task,
        &train_device,
        |model, batch| {
            // 1. The T-step simulation, without gradients, on the current weights.
            let snn = spiking(model);
            let input = batch.input.clone().inner();
            let [b, _, h, w] = input.dims();
            let chunk = config
                .evaluate
                .time_chunk
                .unwrap_or_else(|| time_chunk_for_budget(&snn.unet, b, h, w, budget, 8));
            let flow = if use_engine {
                Flow::record_with_engine(&Engine::spiking(&snn)?, input, t, chunk, &train_device)?
            } else {
                Flow::record(&snn, input, t, chunk, &train_device)?
            };
            // The authors' IF train state returns the spike count, not the emitted θ·s.
            let flow = match (&neuron, choices.if_flow_value) {
                (Neuron::If { threshold, .. }, IfFlowValue::Count) => {
                    flow.divided_by(*threshold as f64)
                }
                _ => flow,
            };
            // 2. One differentiable pass on the accumulated flow; 3. the task loss.
            let output = flow_forward(model, batch.input.clone(), &flow, choices.head_bias)?;
            Ok(task.loss(output, batch.target.clone()))
        },
        |model| {
            let metrics = score_snn(
                &spiking(model),
                task,
                choices.finetune_selection,
                t,
                &device,
                use_engine,
            )?;
            Ok(metric_value(&metrics, task.selection_metric()))
        },
    )?;

    let mut manifest = SnnManifest::read(dir)?;
    if let Some(record) = manifest.finetune.as_mut() {
        record.summary = Some(summary.clone());
    }
    let kept = artifacts::load_module(source_manifest.unet.init(&device)?, &dir.model())?;
    manifest.contents = Some(Contents::record(dir, &kept, &SNN_FILES)?);
    Manifest::Snn(manifest).write(dir)?;
    Ok(FinetuneOutcome {
        dir: dir.clone(),
        label,
        summary,
        reused: false,
    })
}
