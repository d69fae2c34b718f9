//! Scoring a network on a split's held-out images, as model selection does after every epoch
//! of training (the ANN) and of fine-tuning (the spiking network at its fine-tuning T). The
//! `evaluate` stage scores the same way and adds spike counts, caches and pictures.

use burn::tensor::Device;
use spiking_unet_core::engine::Engine;
use spiking_unet_core::model::UNet;
use spiking_unet_core::simulate::{SpikingUNet, simulate};

use crate::Result;
use crate::config::Split;
use crate::task::{ImageScore, Metrics, Task, tensor_values};

/// Run the ANN `model` on every image of `split`; the per-image scores and the split's metrics.
pub fn score_ann(
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

/// The split's metrics of a spiking network's read-out after `time_steps` steps, simulated by
/// the CPU engine when `use_engine`, else by burn's reference path.
pub fn score_snn(
    snn: &SpikingUNet,
    task: &Task,
    split: Split,
    time_steps: usize,
    device: &Device,
    use_engine: bool,
) -> Result<Metrics> {
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
