//! Spiking neurons (authors-code §2): integrate-and-fire (IF), the paper's multi-threshold (MT)
//! neuron, and a burst neuron from the conversion literature. None leaks, none has a refractory
//! period or a lower bound on the membrane, exactly as the authors' neurons.
//!
//! A [`NeuronLayer`] holds one layer's state (membrane, accumulated input and output, spike
//! count) as tensors and advances it with [`NeuronLayer::step`]; the rules are written once, for
//! a tensor of any number of time slices. [`Neuron::step_scalar`] is the same rule on one `f32`,
//! kept as the readable reference the tensor code is tested against.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How an IF neuron's membrane is reset after a spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// v ← 0 (the authors' CLI default, `reset_by_zero`).
    Zero,
    /// v ← v − θ (`reset_by_subtraction`, the authors' `-d` flag; keeps the residual charge).
    Subtract,
}

/// A threshold ladder for the MT neuron: either listed, or generated geometrically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a list of thresholds such as [2, 1, 0.5, 0.25], or a generator {base: 2, ratio: 0.5, count: 4}"
)]
pub enum Ladder {
    /// Explicit thresholds, in any order (they are visited largest first).
    List(Vec<f32>),
    /// `base · ratio^k` for k = 0..count.
    Geometric {
        /// Largest threshold.
        base: f32,
        /// Factor between consecutive thresholds, in (0, 1).
        ratio: f32,
        /// Number of thresholds.
        count: usize,
    },
}

impl Ladder {
    /// The paper's ladder {2, 1, 0.5, 0.25} (authors-code §2.2; constants, not multiples of θ).
    pub fn paper() -> Ladder {
        Ladder::List(vec![2.0, 1.0, 0.5, 0.25])
    }

    /// The thresholds, largest first.
    pub fn thresholds(&self) -> Vec<f32> {
        let mut values = match self {
            Ladder::List(values) => values.clone(),
            Ladder::Geometric { base, ratio, count } => {
                (0..*count).map(|k| base * ratio.powi(k as i32)).collect()
            }
        };
        values.sort_by(|a, b| b.total_cmp(a));
        values
    }
}

fn default_threshold() -> f32 {
    1.0
}

fn default_reset() -> Reset {
    Reset::Zero
}

fn default_ladder() -> Ladder {
    Ladder::paper()
}

fn default_max_spikes() -> u32 {
    4
}

/// A neuron model and its constants, as configs spell it (`kind: if | multi_threshold | burst`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Neuron {
    /// Integrate-and-fire: v += I; spike of θ when v ≥ θ; reset to zero or by subtraction.
    If {
        /// Threshold θ in normalized units. Default 1.
        #[serde(default = "default_threshold")]
        threshold: f32,
        /// Reset after a spike. Default `zero` (the authors' default).
        #[serde(default = "default_reset")]
        reset: Reset,
    },
    /// The paper's MT neuron: thresholds visited largest first with strict `>`, each crossed one
    /// subtracted from v and counted as one spike; the emitted value is their sum.
    MultiThreshold {
        /// Threshold ladder. Default [2, 1, 0.5, 0.25].
        #[serde(default = "default_ladder")]
        ladder: Ladder,
    },
    /// Burst neuron (Li & Zeng 2022): up to `max_spikes` spikes of θ per step, n = ⌊v/θ⌋ capped,
    /// reset by subtraction.
    Burst {
        /// Threshold θ. Default 1.
        #[serde(default = "default_threshold")]
        threshold: f32,
        /// Largest number of spikes per step. Default 4.
        #[serde(default = "default_max_spikes")]
        max_spikes: u32,
    },
}

impl Neuron {
    /// One neuron of each kind at threshold 1: IF reset to zero, IF reset by subtraction, the
    /// paper's MT and a burst neuron of up to 3 spikes; what the equivalence tests sweep.
    pub fn one_of_each() -> Vec<Neuron> {
        vec![
            Neuron::If {
                threshold: 1.0,
                reset: Reset::Zero,
            },
            Neuron::If {
                threshold: 1.0,
                reset: Reset::Subtract,
            },
            Neuron::paper_mt(),
            Neuron::Burst {
                threshold: 1.0,
                max_spikes: 3,
            },
        ]
    }

    /// The paper's MT neuron with its ladder {2, 1, 0.5, 0.25}.
    pub fn paper_mt() -> Neuron {
        Neuron::MultiThreshold {
            ladder: Ladder::paper(),
        }
    }

    /// A short label for tables: `if-zero`, `if-subtract`, `mt[2,1,0.5,0.25]`, `burst4`.
    pub fn label(&self) -> String {
        match self {
            Neuron::If { threshold, reset } => {
                let reset = match reset {
                    Reset::Zero => "zero",
                    Reset::Subtract => "subtract",
                };
                if *threshold == 1.0 {
                    format!("if-{reset}")
                } else {
                    format!("if-{reset}-th{threshold}")
                }
            }
            Neuron::MultiThreshold { ladder } => {
                let list: Vec<String> = ladder.thresholds().iter().map(|t| t.to_string()).collect();
                format!("mt[{}]", list.join(","))
            }
            Neuron::Burst {
                threshold,
                max_spikes,
            } => {
                if *threshold == 1.0 {
                    format!("burst{max_spikes}")
                } else {
                    format!("burst{max_spikes}-th{threshold}")
                }
            }
        }
    }

    /// Check the constants: positive finite thresholds, a non-empty ladder without repeats.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::InvalidNeuron(message));
        match self {
            Neuron::If { threshold, .. } | Neuron::Burst { threshold, .. }
                if !(*threshold > 0.0 && threshold.is_finite()) =>
            {
                bad(format!(
                    "threshold must be a positive number, got {threshold}"
                ))
            }
            Neuron::Burst { max_spikes: 0, .. } => bad("max_spikes must be >= 1".into()),
            Neuron::MultiThreshold { ladder } => {
                if let Ladder::Geometric { ratio, count, .. } = ladder
                    && (!(*ratio > 0.0 && *ratio < 1.0) || *count == 0)
                {
                    return bad(format!(
                        "a generated ladder needs 0 < ratio < 1 and count >= 1, got ratio {ratio}, count {count}"
                    ));
                }
                let values = ladder.thresholds();
                if values.is_empty() || values.iter().any(|t| !(*t > 0.0 && t.is_finite())) {
                    return bad(format!(
                        "ladder thresholds must be positive numbers, got {values:?}"
                    ));
                }
                if values.windows(2).any(|w| w[0] == w[1]) {
                    return bad(format!(
                        "ladder thresholds must be distinct, got {values:?}"
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One time step on one neuron: returns (emitted value, spikes) and updates `v`.
    ///
    /// This is the reference rule, written for reading; [`NeuronLayer::step`] must agree with it.
    pub fn step_scalar(&self, v: &mut f32, input: f32) -> (f32, u32) {
        *v += input;
        match self {
            Neuron::If { threshold, reset } => {
                if *v >= *threshold {
                    match reset {
                        Reset::Zero => *v = 0.0,
                        Reset::Subtract => *v -= threshold,
                    }
                    (*threshold, 1)
                } else {
                    (0.0, 0)
                }
            }
            Neuron::MultiThreshold { ladder } => {
                let (mut emitted, mut spikes) = (0.0, 0);
                for theta in ladder.thresholds() {
                    if *v > theta {
                        *v -= theta;
                        emitted += theta;
                        spikes += 1;
                    }
                }
                (emitted, spikes)
            }
            Neuron::Burst {
                threshold,
                max_spikes,
            } => {
                let n = burst_count(*v, *threshold, *max_spikes);
                let emitted = n as f32 * threshold;
                *v -= emitted;
                (emitted, n)
            }
        }
    }
}

/// ⌊v/θ⌋ clamped to [0, max]. Spelled out for the scalar path; the tensor path computes the
/// same expression.
fn burst_count(v: f32, threshold: f32, max_spikes: u32) -> u32 {
    (v / threshold).floor().clamp(0.0, max_spikes as f32) as u32
}

/// The state of one neuron layer over a simulation: membrane, accumulators, spike count.
///
/// State is created at the first step (from the input's shape) and cleared by [`reset`]
/// (NeuronLayer::reset), which the simulator calls before every sample: no state crosses samples.
#[derive(Debug, Clone)]
pub struct NeuronLayer {
    neuron: Neuron,
    thresholds: Vec<f32>,
    membrane: Option<Tensor<4>>,
    accumulated_input: Option<Tensor<4>>,
    accumulated_output: Option<Tensor<4>>,
    spikes: Option<Tensor<1>>,
}

impl NeuronLayer {
    /// A layer of `neuron`s with no state yet.
    pub fn new(neuron: Neuron) -> Self {
        let thresholds = match &neuron {
            Neuron::MultiThreshold { ladder } => ladder.thresholds(),
            Neuron::If { threshold, .. } | Neuron::Burst { threshold, .. } => vec![*threshold],
        };
        NeuronLayer {
            neuron,
            thresholds,
            membrane: None,
            accumulated_input: None,
            accumulated_output: None,
            spikes: None,
        }
    }

    /// Forget all state (v = 0, accumulators and counters = 0).
    pub fn reset(&mut self) {
        self.membrane = None;
        self.accumulated_input = None;
        self.accumulated_output = None;
        self.spikes = None;
    }

    /// Advance the layer over consecutive time steps and return what it emits.
    ///
    /// `input` holds `steps` time slices stacked along the batch axis, time-major: slice `t`
    /// is rows `t·b .. (t+1)·b`. With `steps = 1` this is one ordinary step; with more, the
    /// caller has computed a whole chunk of input currents in one batched call and the neuron
    /// scans them in order, carrying the membrane across slices (and across calls).
    ///
    /// # Shapes
    /// - `input`: `[steps · batch, channels, h, w]`
    /// - output: same shape
    pub fn step(&mut self, input: Tensor<4>, steps: usize) -> Tensor<4> {
        let [rows, c, h, w] = input.dims();
        let batch = rows / steps;
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let current = if steps == 1 {
                input.clone()
            } else {
                input.clone().narrow(0, t * batch, batch)
            };
            outputs.push(self.step_once(current));
        }
        if steps == 1 {
            outputs.pop().expect("one output per step")
        } else {
            Tensor::cat(outputs, 0) // [steps · batch, c, h, w]
        }
        .reshape([rows, c, h, w])
    }

    fn step_once(&mut self, current: Tensor<4>) -> Tensor<4> {
        let v = match self.membrane.take() {
            Some(v) => v + current.clone(),
            None => current.clone(),
        };
        let (v, emitted, spikes) = match &self.neuron {
            Neuron::If { threshold, reset } => {
                let fired = v.clone().greater_equal_elem(*threshold);
                let spikes = fired.clone().float();
                let v = match reset {
                    Reset::Zero => v.mask_fill(fired, 0.0),
                    Reset::Subtract => v - spikes.clone().mul_scalar(*threshold),
                };
                (v, spikes.clone().mul_scalar(*threshold), spikes)
            }
            Neuron::MultiThreshold { .. } => {
                let mut v = v;
                let mut emitted = v.zeros_like();
                let mut spikes = v.zeros_like();
                for &theta in &self.thresholds {
                    let fired = v.clone().greater_elem(theta).float();
                    let value = fired.clone().mul_scalar(theta);
                    v = v - value.clone();
                    emitted = emitted + value;
                    spikes = spikes + fired;
                }
                (v, emitted, spikes)
            }
            Neuron::Burst {
                threshold,
                max_spikes,
            } => {
                let n = v
                    .clone()
                    .div_scalar(*threshold)
                    .floor()
                    .clamp(0.0, *max_spikes as f32);
                let emitted = n.clone().mul_scalar(*threshold);
                (v - emitted.clone(), emitted, n)
            }
        };
        self.membrane = Some(v);
        let add = |acc: Option<Tensor<4>>, x: Tensor<4>| {
            Some(match acc {
                Some(a) => a + x,
                None => x,
            })
        };
        self.accumulated_input = add(self.accumulated_input.take(), current);
        self.accumulated_output = add(self.accumulated_output.take(), emitted.clone());
        let count = spikes.sum();
        self.spikes = Some(match self.spikes.take() {
            Some(s) => s + count,
            None => count,
        });
        emitted
    }

    /// Spikes emitted since the last reset, over all neurons of the layer (a crossed MT
    /// threshold counts as one spike, as in the paper).
    pub fn spike_count(&self) -> f64 {
        self.spikes
            .clone()
            .map_or(0.0, |s| s.into_scalar::<f32>() as f64)
    }

    /// Σ_t of the emitted values (IF: θ·count; MT: sum of ladders crossed), per neuron.
    pub fn accumulated_output(&self) -> Option<Tensor<4>> {
        self.accumulated_output.clone()
    }

    /// Σ_t of the input currents, per neuron.
    pub fn accumulated_input(&self) -> Option<Tensor<4>> {
        self.accumulated_input.clone()
    }

    /// The membrane potential, per neuron.
    pub fn membrane(&self) -> Option<Tensor<4>> {
        self.membrane.clone()
    }

    /// The neuron model.
    pub fn neuron(&self) -> &Neuron {
        &self.neuron
    }
}

/// A constant `[1, 1, 1, n]` tensor of `values`, for tests and small probes.
pub fn row(values: &[f32], device: &burn::tensor::Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [1, 1, 1, values.len()]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn if_neuron(reset: Reset) -> Neuron {
        Neuron::If {
            threshold: 1.0,
            reset,
        }
    }

    /// Run a scalar neuron on a constant input; return (emitted per step, final v, spikes).
    fn scalar_run(neuron: &Neuron, input: f32, steps: usize) -> (Vec<f32>, f32, u32) {
        let mut v = 0.0;
        let mut total = 0;
        let emitted = (0..steps)
            .map(|_| {
                let (e, n) = neuron.step_scalar(&mut v, input);
                total += n;
                e
            })
            .collect();
        (emitted, v, total)
    }

    /// The same on a tensor layer, one step at a time and all steps in one chunk.
    fn tensor_runs(neuron: &Neuron, input: f32, steps: usize) -> [(Vec<f32>, f32, f64); 2] {
        let device = Device::flex();
        let run = |chunked: bool| {
            let mut layer = NeuronLayer::new(neuron.clone());
            let emitted: Vec<f32> = if chunked {
                let x = row(&[input], &device).repeat_dim(0, steps);
                layer
                    .step(x, steps)
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("f32")
            } else {
                (0..steps)
                    .map(|_| layer.step(row(&[input], &device), 1).into_scalar::<f32>())
                    .collect()
            };
            let v = layer.membrane().expect("stepped").into_scalar::<f32>();
            (emitted, v, layer.spike_count())
        };
        [run(false), run(true)]
    }

    /// Check a trajectory of authors-code §2.3 on both paths.
    fn check(
        neuron: &Neuron,
        input: f32,
        steps: usize,
        expected: &[f32],
        final_v: f32,
        spikes: u32,
    ) {
        let (emitted, v, n) = scalar_run(neuron, input, steps);
        assert_eq!(emitted, expected, "{} x={input}: emitted", neuron.label());
        assert!(
            (v - final_v).abs() < 1e-5,
            "{} x={input}: v = {v}, expected {final_v}",
            neuron.label()
        );
        assert_eq!(n, spikes, "{} x={input}: spikes", neuron.label());
        for (emitted_t, v_t, n_t) in tensor_runs(neuron, input, steps) {
            assert_eq!(
                emitted_t,
                expected,
                "tensor path, {} x={input}",
                neuron.label()
            );
            assert_eq!(v_t, v, "tensor and scalar membranes agree bit for bit");
            assert_eq!(n_t, spikes as f64);
        }
    }

    #[test]
    fn multi_threshold_trajectories_of_the_reference() {
        let mt = Neuron::paper_mt();
        check(
            &mt,
            0.3,
            8,
            &[0.25, 0.25, 0.25, 0.25, 0.5, 0.25, 0.25, 0.25],
            0.15,
            8,
        );
        check(
            &mt,
            0.6,
            8,
            &[0.5, 0.5, 0.75, 0.5, 0.75, 0.5, 0.5, 0.75],
            0.05,
            11,
        );
        check(
            &mt,
            1.0,
            8,
            &[0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            0.25,
            9,
        );
        check(
            &mt,
            1.7,
            8,
            &[1.5, 1.75, 1.75, 1.75, 1.75, 1.5, 1.75, 1.75],
            0.10,
            22,
        );
        check(&mt, 5.0, 8, &[3.75; 8], 10.0, 32);
        check(&mt, 0.25, 4, &[0.0, 0.25, 0.25, 0.25], 0.25, 3);
        check(&mt, 3.75, 3, &[3.5, 3.75, 3.75], 0.25, 11);
        check(&mt, 2.0, 3, &[1.75, 2.0, 2.0], 0.25, 5);
    }

    #[test]
    fn if_trajectories_of_the_reference() {
        let sub = if_neuron(Reset::Subtract);
        check(&sub, 0.3, 8, &[0., 0., 0., 1., 0., 0., 1., 0.], 0.4, 2);
        check(&sub, 0.6, 8, &[0., 1., 0., 1., 1., 0., 1., 0.], 0.8, 4);
        check(&sub, 1.7, 8, &[1.0; 8], 5.6, 8);
        let zero = if_neuron(Reset::Zero);
        check(&zero, 0.3, 8, &[0., 0., 0., 1., 0., 0., 0., 1.], 0.0, 2);
        check(&zero, 0.6, 8, &[0., 1., 0., 1., 0., 1., 0., 1.], 0.0, 4);
    }

    #[test]
    fn negative_input_never_fires_and_is_not_bounded() {
        for neuron in [
            if_neuron(Reset::Zero),
            if_neuron(Reset::Subtract),
            Neuron::paper_mt(),
            Neuron::Burst {
                threshold: 1.0,
                max_spikes: 4,
            },
        ] {
            check(&neuron, -0.4, 8, &[0.0; 8], -3.2, 0);
        }
    }

    #[test]
    fn burst_emits_up_to_k_spikes_and_keeps_the_rest() {
        let burst = Neuron::Burst {
            threshold: 1.0,
            max_spikes: 2,
        };
        // x = 2.5: v 2.5 → 2 spikes, 0.5 left; v 3.0 → 2 spikes, 1.0 left; v 3.5 → 2, 1.5 left.
        check(&burst, 2.5, 3, &[2.0, 2.0, 2.0], 1.5, 6);
        check(&burst, 0.6, 4, &[0.0, 1.0, 0.0, 1.0], 0.4, 2);
    }

    #[test]
    fn ladders_can_be_listed_in_any_order_or_generated() {
        let generated = Ladder::Geometric {
            base: 2.0,
            ratio: 0.5,
            count: 4,
        };
        assert_eq!(generated.thresholds(), vec![2.0, 1.0, 0.5, 0.25]);
        assert_eq!(
            Ladder::List(vec![0.25, 2.0, 0.5, 1.0]).thresholds(),
            vec![2.0, 1.0, 0.5, 0.25]
        );
        assert!(
            Neuron::MultiThreshold {
                ladder: Ladder::List(vec![1.0, 1.0])
            }
            .validate()
            .is_err()
        );
        assert!(
            Neuron::MultiThreshold {
                ladder: Ladder::List(vec![])
            }
            .validate()
            .is_err()
        );
        assert!(
            Neuron::If {
                threshold: 0.0,
                reset: Reset::Zero
            }
            .validate()
            .is_err()
        );
        assert!(Neuron::paper_mt().validate().is_ok());
    }

    #[test]
    fn reset_clears_every_counter() {
        let device = Device::flex();
        let mut layer = NeuronLayer::new(Neuron::paper_mt());
        layer.step(row(&[3.0, 0.3], &device), 1);
        assert!(layer.spike_count() > 0.0);
        layer.reset();
        assert_eq!(layer.spike_count(), 0.0);
        assert!(layer.membrane().is_none() && layer.accumulated_output().is_none());
    }
}
