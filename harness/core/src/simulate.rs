//! Simulation of a converted spiking U-Net (authors-code §3.7, §4).
//!
//! Direct (analog) coding: conv1 of the image is computed once and injected as the input current
//! of the first neuron layer at every step. Layers update synchronously: at step t each layer
//! receives what its sources emitted at step t. The head has no neuron; its outputs (bias
//! included, every step) are summed over time, and the read-out at T is that sum / T.
//!
//! There is one simulation loop with a `time_chunk` knob. With `time_chunk = 1` it is the
//! step-by-step reference: the whole network per time step. With `time_chunk = k` each layer
//! processes k time steps at once: the k input currents go through the conv as one batched
//! call (time stacked on the batch axis), then the neuron scans them in order, carrying its
//! membrane from slice to slice and from chunk to chunk. Spikes are identical on the CPU
//! backend (tested); the read-out differs only by the order of the sum over time (≤ 1e-6
//! relative). Chunks never straddle a checkpoint, so every checkpoint sees exactly its steps.

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::convert::fan_out;
use crate::model::{Site, UNet};
use crate::neuron::{Neuron, NeuronLayer};
use crate::{Error, Result};

/// Energy per accumulate (a spike arriving at a synapse), 45 nm, as the authors use (0.9 pJ).
pub const ENERGY_PER_AC_PJ: f64 = 0.9;
/// Energy per multiply-accumulate, 45 nm, as the authors use (4.6 pJ).
pub const ENERGY_PER_MAC_PJ: f64 = 4.6;

/// A converted network: the rescaled U-Net and the neuron model placed at every site.
#[derive(Debug, Clone)]
pub struct SpikingUNet {
    /// The U-Net with normalized weights.
    pub unet: UNet,
    /// The neuron at every activation site (after every ReLU and every average pool).
    pub neuron: Neuron,
}

/// What the simulation reports at one checkpoint T.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Time steps simulated.
    pub time_steps: usize,
    /// Σ over the first T steps of the head's output, `[batch, out, h, w]`.
    pub output_sum: Tensor<4>,
    /// Spikes per site since the start, over the whole batch.
    pub spikes: BTreeMap<Site, f64>,
}

impl Checkpoint {
    /// The read-out at T: the head's output averaged over time.
    pub fn mean_output(&self) -> Tensor<4> {
        self.output_sum.clone().div_scalar(self.time_steps as f64)
    }
}

/// Spike and energy figures of one checkpoint for one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeReport {
    /// Per site: (site, spikes, firing rate = spikes / (neurons · T), synaptic operations).
    pub layers: Vec<(Site, f64, f64, f64)>,
    /// Spikes of all neuron layers (26 at depth 4: pools included).
    pub spikes: f64,
    /// Spikes of the ReLU-replacing layers only (22 at depth 4): what the authors count.
    pub spikes_paper: f64,
    /// Σ spikes × fan-out (the weights each spike reaches).
    pub synaptic_operations: f64,
    /// MACs of the analog first layer (computed once, the input current is static).
    pub first_layer_macs: f64,
    /// The paper's energy: spikes_paper × 0.9 pJ + first-layer MACs × 4.6 pJ.
    pub energy_paper_pj: f64,
    /// Synaptic-operation energy: synaptic_operations × 0.9 pJ + first-layer MACs × 4.6 pJ.
    pub energy_synops_pj: f64,
}

/// Simulate `snn` on `input` (`[batch, c, h, w]`) up to the last checkpoint, reporting at each.
///
/// `checkpoints` must be strictly increasing and positive; `time_chunk` ≥ 1 is the number of
/// time steps each layer processes per batched call (1 = step by step).
pub fn simulate(
    snn: &SpikingUNet,
    input: Tensor<4>,
    checkpoints: &[usize],
    time_chunk: usize,
) -> Result<Vec<Checkpoint>> {
    simulate_keeping_state(snn, input, checkpoints, time_chunk).map(|(reports, _)| reports)
}

/// [`simulate`], also returning every neuron layer as it stands after the last step (its
/// accumulated input and output are what flow-based fine-tuning trains on).
pub fn simulate_keeping_state(
    snn: &SpikingUNet,
    input: Tensor<4>,
    checkpoints: &[usize],
    time_chunk: usize,
) -> Result<(Vec<Checkpoint>, BTreeMap<Site, NeuronLayer>)> {
    if checkpoints.is_empty() || checkpoints[0] == 0 || checkpoints.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(Error::Conversion(format!(
            "checkpoints must be positive and strictly increasing, got {checkpoints:?}"
        )));
    }
    if time_chunk == 0 {
        return Err(Error::Conversion("time_chunk must be >= 1".into()));
    }
    snn.unet.check_input(input.dims())?;
    let batch = input.dims()[0];
    let mut layers: BTreeMap<Site, NeuronLayer> = snn
        .unet
        .sites()
        .into_iter()
        .map(|site| (site, NeuronLayer::new(snn.neuron.clone())))
        .collect();
    // Direct coding: the first conv's output is the constant current of every step.
    let current = snn.unet.convs[0].forward(input);
    let mut output_sum: Option<Tensor<4>> = None;
    let mut reports = Vec::with_capacity(checkpoints.len());
    let mut t = 0;
    for &checkpoint in checkpoints {
        while t < checkpoint {
            let steps = time_chunk.min(checkpoint - t);
            let chunk_current = if steps == 1 {
                current.clone()
            } else {
                current.clone().repeat_dim(0, steps)
            };
            let out = snn.unet.forward_with(chunk_current, &mut |site, x| {
                layers
                    .get_mut(&site)
                    .expect("a layer for every site")
                    .step(x, steps)
            });
            let [_, c, h, w] = out.dims();
            let summed = if steps == 1 {
                out
            } else {
                out.reshape([steps, batch, c, h, w])
                    .sum_dim(0)
                    .reshape([batch, c, h, w]) // [b, c, h, w]
            };
            output_sum = Some(match output_sum.take() {
                Some(acc) => acc + summed,
                None => summed,
            });
            t += steps;
        }
        reports.push(Checkpoint {
            time_steps: checkpoint,
            output_sum: output_sum.clone().expect("at least one step ran"),
            spikes: layers
                .iter()
                .map(|(site, layer)| (*site, layer.spike_count()))
                .collect(),
        });
    }
    Ok((reports, layers))
}

/// Time steps per batched call that keep the chunk's activations within `budget_bytes`,
/// capped at `max_chunk`.
///
/// Per time step and sample a layer holds its conv output, its emitted values and the slices
/// and concatenations of the scan: about four copies of every site's activation, plus the
/// skips that wait for the decoder.
pub fn time_chunk_for_budget(
    unet: &UNet,
    batch: usize,
    height: usize,
    width: usize,
    budget_bytes: u64,
    max_chunk: usize,
) -> usize {
    let per_step = 4 * 4 * batch as u64 * unet.site_elements(height, width);
    ((budget_bytes / per_step.max(1)) as usize).clamp(1, max_chunk.max(1))
}

/// Samples per simulated batch that keep one time step's activations within `budget_bytes`:
/// all `batch` samples when they fit, at least one. Sized like [`time_chunk_for_budget`], so
/// the two together bound a chunk's memory where one step of every tile would not fit.
pub fn samples_for_budget(
    unet: &UNet,
    batch: usize,
    height: usize,
    width: usize,
    budget_bytes: u64,
) -> usize {
    let per_sample = 4 * 4 * unet.site_elements(height, width);
    ((budget_bytes / per_sample.max(1)) as usize).clamp(1, batch.max(1))
}

/// The checkpoints of one batch simulated in parts (consecutive groups of its samples): read-out
/// sums joined along the batch axis in order, spike counts added.
pub fn merge_checkpoints(parts: Vec<Vec<Checkpoint>>) -> Result<Vec<Checkpoint>> {
    let mut parts = parts.into_iter();
    let Some(mut merged) = parts.next() else {
        return Ok(Vec::new());
    };
    for part in parts {
        if part.len() != merged.len() {
            return Err(Error::Conversion(format!(
                "parts of a batch reached {} and {} checkpoints",
                merged.len(),
                part.len()
            )));
        }
        for (total, checkpoint) in merged.iter_mut().zip(part) {
            if total.time_steps != checkpoint.time_steps {
                return Err(Error::Conversion(format!(
                    "parts of a batch at T = {} and T = {}",
                    total.time_steps, checkpoint.time_steps
                )));
            }
            total.output_sum =
                Tensor::cat(vec![total.output_sum.clone(), checkpoint.output_sum], 0);
            for (site, spikes) in checkpoint.spikes {
                *total.spikes.entry(site).or_insert(0.0) += spikes;
            }
        }
    }
    Ok(merged)
}

/// Spike, synaptic-operation and energy figures of a checkpoint, per sample.
pub fn spike_report(
    unet: &UNet,
    checkpoint: &Checkpoint,
    batch: usize,
    height: usize,
    width: usize,
) -> SpikeReport {
    let fan_out = fan_out(unet);
    let neurons = unet.site_neuron_counts(height, width);
    let per_sample = |value: f64| value / batch as f64;
    let mut report = SpikeReport {
        layers: Vec::new(),
        spikes: 0.0,
        spikes_paper: 0.0,
        synaptic_operations: 0.0,
        first_layer_macs: 0.0,
        energy_paper_pj: 0.0,
        energy_synops_pj: 0.0,
    };
    for (site, &count) in &checkpoint.spikes {
        let spikes = per_sample(count);
        let n = neurons.get(site).copied().unwrap_or(1) as f64;
        let synops = spikes * fan_out.get(site).copied().unwrap_or(0) as f64;
        report.layers.push((
            *site,
            spikes,
            spikes / (n * checkpoint.time_steps as f64),
            synops,
        ));
        report.spikes += spikes;
        report.synaptic_operations += synops;
        if !matches!(site, Site::Pool(_)) {
            report.spikes_paper += spikes;
        }
    }
    let [out_channels, in_channels, kh, kw] = unet.convs[0].weight.dims();
    report.first_layer_macs =
        ((kh * kw * in_channels * out_channels + out_channels) * height * width) as f64;
    let first = report.first_layer_macs * ENERGY_PER_MAC_PJ;
    report.energy_paper_pj = report.spikes_paper * ENERGY_PER_AC_PJ + first;
    report.energy_synops_pj = report.synaptic_operations * ENERGY_PER_AC_PJ + first;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{
        Activations, ConversionSpec, Normalization, Statistic, rescale, scale_factors,
    };
    use crate::model::{Head, UNetConfig};
    use burn::tensor::{Device, Distribution};

    fn converted(normalization: Normalization, neuron: Neuron) -> (SpikingUNet, Tensor<4>) {
        let device = Device::flex();
        device.seed(11);
        let ann = UNetConfig {
            in_channels: 1,
            out_channels: 2,
            width: 4,
            depth: 2,
            head: Head::Logits,
        }
        .init(&device)
        .expect("valid config");
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Default, &device);
        let spec = ConversionSpec {
            normalization,
            statistic: Statistic::Percentile(99.0),
            authors_off_by_one: false,
        };
        let activations =
            Activations::record(&ann, x.clone(), std::slice::from_ref(&spec)).expect("recorded");
        let factors = scale_factors(&ann, &activations, &spec, 2).expect("factors");
        (
            SpikingUNet {
                unet: rescale(&ann, &factors).expect("rescaled"),
                neuron,
            },
            x,
        )
    }

    #[test]
    fn a_batch_simulated_in_parts_and_merged_equals_it_simulated_whole() {
        let _rng = crate::random_stream();
        let (snn, x) = converted(Normalization::ConnectionWise, Neuron::paper_mt());
        let checkpoints = [2, 5];
        let whole = simulate(&snn, x.clone(), &checkpoints, 2).expect("simulated");
        let parts = (0..2)
            .map(|i| simulate(&snn, x.clone().narrow(0, i, 1), &checkpoints, 2))
            .collect::<Result<Vec<_>>>()
            .expect("simulated");
        let merged = merge_checkpoints(parts).expect("same checkpoints");
        for (a, b) in whole.iter().zip(&merged) {
            assert_eq!(a.time_steps, b.time_steps);
            assert_eq!(a.spikes, b.spikes, "T={}", a.time_steps);
            let a = a
                .output_sum
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32");
            let b = b
                .output_sum
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32");
            assert_eq!(a, b, "each sample's read-out is computed alone either way");
        }
        let err = merge_checkpoints(vec![whole.clone(), whole[..1].to_vec()])
            .expect_err("different checkpoints");
        assert!(err.to_string().contains("2 and 1"), "{err}");
    }

    #[test]
    fn budgets_split_batches_only_when_one_step_does_not_fit() {
        let _rng = crate::random_stream();
        let (snn, _) = converted(Normalization::LayerWise, Neuron::paper_mt());
        let per_sample = 16 * snn.unet.site_elements(16, 16);
        assert_eq!(
            samples_for_budget(&snn.unet, 6, 16, 16, 100 * per_sample),
            6
        );
        assert_eq!(
            samples_for_budget(&snn.unet, 6, 16, 16, 2 * per_sample + 1),
            2
        );
        assert_eq!(samples_for_budget(&snn.unet, 6, 16, 16, 1), 1);
    }

    #[test]
    fn time_batched_and_step_by_step_paths_emit_identical_spikes() {
        let _rng = crate::random_stream();
        let neurons = Neuron::one_of_each();
        for normalization in [
            Normalization::LayerWise,
            Normalization::ConnectionWise,
            Normalization::ChannelWise,
        ] {
            for neuron in &neurons {
                let (snn, x) = converted(normalization, neuron.clone());
                let checkpoints = [3, 8, 13];
                let reference = simulate(&snn, x.clone(), &checkpoints, 1).expect("simulated");
                for chunk in [4, 13] {
                    let batched =
                        simulate(&snn, x.clone(), &checkpoints, chunk).expect("simulated");
                    for (a, b) in reference.iter().zip(&batched) {
                        assert_eq!(
                            a.spikes,
                            b.spikes,
                            "{normalization:?} {} chunk {chunk} T={}",
                            neuron.label(),
                            a.time_steps
                        );
                        let scale = a
                            .output_sum
                            .clone()
                            .abs()
                            .max()
                            .into_scalar::<f32>()
                            .max(1.0);
                        let diff = (a.output_sum.clone() - b.output_sum.clone())
                            .abs()
                            .max()
                            .into_scalar::<f32>();
                        assert!(
                            diff <= 1e-5 * scale,
                            "read-out differs by {diff} (scale {scale})"
                        );
                    }
                }
                assert!(
                    reference[2].spikes.values().sum::<f64>() > 0.0,
                    "the network spikes, so the check is not vacuous"
                );
            }
        }
    }

    #[test]
    fn checkpoints_agree_with_separate_shorter_runs() {
        let _rng = crate::random_stream();
        let (snn, x) = converted(Normalization::ConnectionWise, Neuron::paper_mt());
        let together = simulate(&snn, x.clone(), &[5, 9], 2).expect("simulated");
        let alone = simulate(&snn, x, &[5], 1).expect("simulated");
        assert_eq!(together[0].spikes, alone[0].spikes);
        assert!(
            simulate(
                &snn,
                Tensor::zeros([1, 1, 16, 16], &Device::flex()),
                &[4, 4],
                1
            )
            .is_err()
        );
    }

    #[test]
    fn the_report_counts_the_paper_layers_and_energy() {
        let _rng = crate::random_stream();
        let (snn, x) = converted(Normalization::ConnectionWise, Neuron::paper_mt());
        let run = simulate(&snn, x, &[6], 1).expect("simulated");
        let report = spike_report(&snn.unet, &run[0], 2, 16, 16);
        let pools: f64 = report
            .layers
            .iter()
            .filter(|l| matches!(l.0, Site::Pool(_)))
            .map(|l| l.1)
            .sum();
        assert!((report.spikes - report.spikes_paper - pools).abs() < 1e-9);
        let first = (9 * 4 + 4) as f64 * 256.0;
        assert_eq!(report.first_layer_macs, first);
        assert!((report.energy_paper_pj - (report.spikes_paper * 0.9 + first * 4.6)).abs() < 1e-6);
        assert!(
            report.synaptic_operations > report.spikes,
            "each spike reaches many weights"
        );
    }
}
