//! What happens to a layer's pre-activations: the ANN's ReLU (or identity after a pool), or a
//! spiking neuron's update, applied to a run of channels of one pixel.
//!
//! The spiking rules are [`Neuron::step_scalar`]'s, written as loops over the channels (the
//! threshold loop outside) so that they vectorise, with the same arithmetic in the same order:
//! `v += I`, then for each threshold `f = [v > θ]`, `v -= f·θ`, `emitted += f·θ`. The engine's
//! membranes therefore follow the reference path's exactly whenever the currents agree.

use crate::neuron::{Neuron, Reset};

/// The activation of one site.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// ANN: max(x, 0).
    Relu,
    /// ANN after a pool: x.
    Identity,
    /// IF neuron (threshold, reset).
    If(f32, Reset),
    /// Multi-threshold neuron, thresholds largest first.
    MultiThreshold(Vec<f32>),
    /// Burst neuron (threshold, largest spike count per step).
    Burst(f32, f32),
}

/// The per-element state a spiking rule updates, for one run of channels.
pub struct RunState<'a> {
    /// Membrane potentials.
    pub membrane: &'a mut [f32],
    /// Σ_t of the input currents (kept only when the flow is recorded).
    pub accumulated_input: Option<&'a mut [f32]>,
    /// Σ_t of the emitted values (kept for the flow and for the head's input).
    pub accumulated_output: Option<&'a mut [f32]>,
}

impl Rule {
    /// The rule of a spiking neuron (its ladder sorted once, not at every step).
    pub fn spiking(neuron: &Neuron) -> Rule {
        match neuron {
            Neuron::If { threshold, reset } => Rule::If(*threshold, *reset),
            Neuron::MultiThreshold { ladder } => Rule::MultiThreshold(ladder.thresholds()),
            Neuron::Burst {
                threshold,
                max_spikes,
            } => Rule::Burst(*threshold, *max_spikes as f32),
        }
    }

    /// True for neurons (which keep a membrane), false for the ANN's activations.
    pub fn is_spiking(&self) -> bool {
        !matches!(self, Rule::Relu | Rule::Identity)
    }

    /// Apply the rule to the currents in `out` (replaced by the emitted values, or the
    /// activation); returns the spikes emitted. `state` is `None` exactly for the ANN rules.
    #[inline]
    pub fn apply(&self, out: &mut [f32], state: Option<RunState<'_>>) -> u64 {
        match (self, state) {
            (Rule::Relu, _) => {
                for x in out.iter_mut() {
                    *x = x.max(0.0);
                }
                0
            }
            (Rule::Identity, _) => 0,
            (rule, Some(state)) => fire(rule, out, state),
            (_, None) => unreachable!("spiking layers always carry a state"),
        }
    }
}

/// One time step of a spiking `rule` on a run: `out` holds the currents on entry and the emitted
/// values on exit.
#[inline]
fn fire(rule: &Rule, out: &mut [f32], state: RunState<'_>) -> u64 {
    let RunState {
        membrane,
        accumulated_input,
        accumulated_output,
    } = state;
    debug_assert_eq!(membrane.len(), out.len());
    if let Some(acc) = accumulated_input {
        for (a, x) in acc.iter_mut().zip(out.iter()) {
            *a += x;
        }
    }
    for (v, x) in membrane.iter_mut().zip(out.iter()) {
        *v += x;
    }
    // Spikes are summed as f32 per run (at most 4096 small integers: exact), then as u64.
    let mut spikes = 0.0f32;
    match rule {
        Rule::If(theta, reset) => {
            let theta = *theta;
            for (v, x) in membrane.iter_mut().zip(out.iter_mut()) {
                let fired = *v >= theta;
                let f = fired as u32 as f32;
                *v = match reset {
                    Reset::Zero => {
                        if fired {
                            0.0
                        } else {
                            *v
                        }
                    }
                    Reset::Subtract => *v - f * theta,
                };
                *x = f * theta;
                spikes += f;
            }
        }
        Rule::MultiThreshold(thresholds) => {
            out.fill(0.0);
            for &theta in thresholds {
                for (v, x) in membrane.iter_mut().zip(out.iter_mut()) {
                    let f = (*v > theta) as u32 as f32;
                    let value = f * theta;
                    *v -= value;
                    *x += value;
                    spikes += f;
                }
            }
        }
        Rule::Burst(theta, cap) => {
            let (theta, cap) = (*theta, *cap);
            for (v, x) in membrane.iter_mut().zip(out.iter_mut()) {
                let n = (*v / theta).floor().clamp(0.0, cap);
                let emitted = n * theta;
                *v -= emitted;
                *x = emitted;
                spikes += n;
            }
        }
        Rule::Relu | Rule::Identity => unreachable!("ANN rules have no membrane"),
    }
    if let Some(acc) = accumulated_output {
        for (a, x) in acc.iter_mut().zip(out.iter()) {
            *a += x;
        }
    }
    spikes as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::Ladder;

    #[test]
    fn the_run_rules_follow_the_scalar_reference_bit_for_bit() {
        let neurons = [
            Neuron::If {
                threshold: 1.0,
                reset: Reset::Zero,
            },
            Neuron::If {
                threshold: 0.7,
                reset: Reset::Subtract,
            },
            Neuron::paper_mt(),
            Neuron::MultiThreshold {
                ladder: Ladder::Geometric {
                    base: 1.5,
                    ratio: 0.5,
                    count: 3,
                },
            },
            Neuron::Burst {
                threshold: 1.0,
                max_spikes: 3,
            },
        ];
        let inputs: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin() * 2.3).collect();
        for neuron in neurons {
            let rule = Rule::spiking(&neuron);
            let mut membrane = vec![0.0; inputs.len()];
            let mut scalar_v = vec![0.0; inputs.len()];
            for step in 0..12 {
                let mut out: Vec<f32> = inputs
                    .iter()
                    .map(|x| x * (1.0 + step as f32 * 0.1))
                    .collect();
                let expected: Vec<(f32, u32)> = out
                    .iter()
                    .zip(scalar_v.iter_mut())
                    .map(|(x, v)| neuron.step_scalar(v, *x))
                    .collect();
                let spikes = rule.apply(
                    &mut out,
                    Some(RunState {
                        membrane: &mut membrane,
                        accumulated_input: None,
                        accumulated_output: None,
                    }),
                );
                let emitted: Vec<f32> = expected.iter().map(|e| e.0).collect();
                assert_eq!(out, emitted, "{} step {step}", neuron.label());
                assert_eq!(membrane, scalar_v, "{} step {step}", neuron.label());
                assert_eq!(spikes, expected.iter().map(|e| e.1 as u64).sum::<u64>());
            }
        }
    }
}
