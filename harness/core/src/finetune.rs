//! Flow-based fine-tuning of a converted network (authors-code §2.4, §5).
//!
//! One step on a batch x:
//! 1. simulate the SNN for T steps without gradients; keep, per neuron layer, the accumulated
//!    output A (sum of emitted values) and the mask M = [accumulated input > 0] ([`Flow`]);
//! 2. run one differentiable pass: conv1 receives T·x, every neuron site returns A in the
//!    forward direction and passes M ⊙ (upstream gradient) backward ([`flow_gate`]), linear
//!    layers act on the A's, and the head output is divided by T ([`flow_forward`]);
//! 3. the caller applies the task loss and an optimizer step. Thresholds are not parameters.
//!
//! This is back-propagation through an ANN whose activations are the SNN's accumulated spike
//! "flow" and whose ReLU derivatives are the masks.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, FlowTensors};
use crate::model::{Site, UNet};
use crate::simulate::{SpikingUNet, simulate_keeping_state};
use crate::{Error, Result};

/// How the head's bias enters the training pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadBias {
    /// (W·A + T·b) / T: the bias counted once per step, as in the simulated read-out, so the
    /// trained output is exactly what evaluation computes. The default.
    Consistent,
    /// (W·A + b) / T: the authors' training pass, which adds the bias once while their
    /// read-out adds it every step (authors-code §5.1).
    Authors,
}

/// Per site, the accumulated output A and the gradient mask M of a T-step simulation.
pub struct Flow {
    sites: BTreeMap<Site, (Tensor<4>, Tensor<4>)>,
    time_steps: usize,
}

impl Flow {
    /// Simulate `snn` on `input` for `time_steps` steps (no gradients) and keep the flow,
    /// moved to `device` (the training device).
    pub fn record(
        snn: &SpikingUNet,
        input: Tensor<4>,
        time_steps: usize,
        time_chunk: usize,
        device: &Device,
    ) -> Result<Flow> {
        let (_, layers) = simulate_keeping_state(snn, input, &[time_steps], time_chunk)?;
        let mut accumulated = BTreeMap::new();
        for (site, layer) in layers {
            let (Some(output), Some(input)) =
                (layer.accumulated_output(), layer.accumulated_input())
            else {
                return Err(Error::Conversion(format!("{site} never stepped")));
            };
            accumulated.insert(site, (output, input));
        }
        Ok(Flow::from_accumulated(accumulated, time_steps, device))
    }

    /// [`Flow::record`] with the CPU inference engine (`engine` compiled from the current
    /// weights).
    pub fn record_with_engine(
        engine: &Engine,
        input: Tensor<4>,
        time_steps: usize,
        time_chunk: usize,
        device: &Device,
    ) -> Result<Flow> {
        let (_, accumulated) = engine.simulate(input, &[time_steps], time_chunk, true)?;
        Ok(Flow::from_accumulated(accumulated, time_steps, device))
    }

    /// The flow with every accumulated output divided by `divisor`: an IF neuron's spike
    /// count from its emitted θ·s (divisor θ), as the authors' train state returns it.
    pub fn divided_by(self, divisor: f64) -> Flow {
        let sites = self
            .sites
            .into_iter()
            .map(|(site, (output, mask))| (site, (output.div_scalar(divisor), mask)))
            .collect();
        Flow {
            sites,
            time_steps: self.time_steps,
        }
    }

    /// The flow from each site's accumulated output and input.
    fn from_accumulated(accumulated: FlowTensors, time_steps: usize, device: &Device) -> Flow {
        // Re-create on the training device: the flow is a constant there, not a graph node.
        let to = |t: Tensor<4>| Tensor::from_data(t.into_data(), device);
        let sites = accumulated
            .into_iter()
            .map(|(site, (output, input))| {
                let mask = input.greater_elem(0.0).float();
                (site, (to(output), to(mask)))
            })
            .collect();
        Flow { sites, time_steps }
    }
}

/// Forward: `accumulated`; backward: `mask ⊙ upstream`. Written with detach so burn's autodiff
/// does the rest: `g − stop(g)` is zero in value and has gradient `mask`, and `accumulated` is a
/// constant.
pub fn flow_gate(z: Tensor<4>, accumulated: Tensor<4>, mask: Tensor<4>) -> Tensor<4> {
    let gated = z * mask;
    gated.clone() - gated.detach() + accumulated
}

/// The differentiable pass of a fine-tuning step on `input` with the recorded `flow`.
///
/// # Shapes
/// - `input`: `[batch, c, h, w]`; output: `[batch, out, h, w]`, in read-out units
pub fn flow_forward(
    unet: &UNet,
    input: Tensor<4>,
    flow: &Flow,
    head_bias: HeadBias,
) -> Result<Tensor<4>> {
    let t = flow.time_steps as f64;
    let first = unet.convs[0].forward(input.mul_scalar(t));
    let mut missing = None;
    let out = unet.forward_with(first, &mut |site, z| match flow.sites.get(&site) {
        Some((accumulated, mask)) => flow_gate(z, accumulated.clone(), mask.clone()),
        None => {
            missing = Some(site);
            z
        }
    });
    if let Some(site) = missing {
        return Err(Error::Conversion(format!("no recorded flow at {site}")));
    }
    let out = match (head_bias, &unet.head.bias) {
        (HeadBias::Consistent, Some(bias)) => {
            let [_, channels, _, _] = out.dims();
            out + bias.val().reshape([1, channels, 1, 1]).mul_scalar(t - 1.0)
        }
        _ => out,
    };
    Ok(out.div_scalar(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn counts_are_the_emitted_flow_over_the_threshold_and_the_mask_stays() {
        let device = Device::flex();
        let emitted = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 1.5, 3.0, 4.5], [1, 1, 2, 2]),
            &device,
        );
        let mask = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 1.0, 1.0], [1, 1, 2, 2]),
            &device,
        );
        let flow = Flow {
            sites: BTreeMap::from([(Site::Conv(1), (emitted, mask.clone()))]),
            time_steps: 4,
        };
        let counts = flow.divided_by(1.5);
        let (output, kept) = &counts.sites[&Site::Conv(1)];
        let values = output.clone().into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(values, [0.0, 1.0, 2.0, 3.0], "θ = 1.5: spike counts");
        assert_eq!(
            kept.clone().into_data().try_to_vec::<f32>().expect("f32"),
            mask.into_data().try_to_vec::<f32>().expect("f32")
        );
        assert_eq!(counts.time_steps, 4);
    }

    #[test]
    fn the_gate_returns_the_flow_and_passes_the_masked_gradient() {
        let _rng = crate::random_stream();
        let device = Device::flex().autodiff();
        device.seed(2);
        let conv1 = Conv2dConfig::new([1, 3], [3, 3]).init(&device);
        let conv2 = Conv2dConfig::new([3, 2], [3, 3]).init(&device);
        let x = Tensor::<4>::random([2, 1, 8, 8], Distribution::Default, &device);
        let weights = Tensor::<4>::random([2, 2, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        let accumulated = Tensor::<4>::random([2, 3, 6, 6], Distribution::Default, &device);
        let mask = Tensor::<4>::random([2, 3, 6, 6], Distribution::Default, &device)
            .greater_elem(0.5)
            .float();

        // Gradient at the gate's input z, through the gate.
        let z = conv1.forward(x.clone()).detach().require_grad();
        let y = flow_gate(z.clone(), accumulated.clone(), mask.clone());
        let forward_value = y.clone();
        let loss = (conv2.forward(y) * weights.clone()).sum();
        let through_gate = z.grad(&loss.backward()).expect("z has a gradient");

        // The upstream gradient: the same loss with the gate's output as a leaf.
        let leaf = accumulated.clone().detach().require_grad();
        let loss = (conv2.forward(leaf.clone()) * weights).sum();
        let upstream = leaf.grad(&loss.backward()).expect("leaf has a gradient");

        let expected = (upstream * mask.inner())
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let actual = through_gate.into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(
            actual, expected,
            "gradient = M ⊙ upstream, element by element"
        );
        let value = forward_value.into_data().try_to_vec::<f32>().expect("f32");
        assert_eq!(
            value,
            accumulated.into_data().try_to_vec::<f32>().expect("f32"),
            "forward = A"
        );
        let _ = TensorData::new(vec![0.0f32], [1]);
    }
}
