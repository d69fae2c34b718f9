//! The engine against burn's reference path, on small converted networks.
//!
//! Why these tolerances (measured on the test networks below, T up to 128, all neurons and
//! normalizations). The engine sums each convolution's products in another order than
//! burn-flex (its own GEMM blocking, one GEMM per kernel row instead of one im2col GEMM; or,
//! event-driven, tap by tap over the nonzero inputs with fused multiply-adds), so currents
//! differ by a few ulps. Every comparison runs both paths: each test network's convolutions
//! forced dense, then forced event-driven. The neuron arithmetic itself is the same (bit for bit, tested
//! in `rule.rs`), so a spike moves only where a membrane sits within those ulps of a threshold:
//! nowhere in most runs up to T = 37, a few dozen to a few hundred spikes out of 3–13 million by
//! T = 128 (at most 4.4e-5 of the total, 5e-4 of one layer's count).
//! - Spike counts: the network's total within 1e-4 relative at every checkpoint; each layer
//!   within 5e-3 relative or 8 spikes (a moved spike is a large share of a quiet layer; the
//!   margin over the measured 5e-4 is for CPUs whose GEMM kernels sum in yet another order).
//! - Read-outs, while no spike has moved (every layer's count equal): within 1e-5 of the
//!   output's largest magnitude, the ulps of the convolutions and of the sum over T (the
//!   engine takes it as head(Σ_t s_t) + T·b, exact in the spikes, which are small dyadic
//!   numbers).
//! - Read-outs after a spike has moved: one spike in the last layers changes 9 head outputs by
//!   a whole weight, so no element-wise bound of 1e-5 can hold; the mean absolute difference
//!   stays within 5e-3 of the mean absolute read-out (measured at most 1.1e-3).

use burn::tensor::{Device, Distribution, Tensor};

use super::*;
use crate::convert::{
    Activations, ConversionSpec, Normalization, Statistic, rescale, scale_factors,
};
use crate::model::{Head, UNetConfig};
use crate::neuron::Neuron;
use crate::simulate::{simulate, simulate_keeping_state};

fn unet(depth: usize, head: Head, in_channels: usize, seed: u64) -> UNet {
    let device = Device::flex();
    device.seed(seed);
    UNetConfig {
        in_channels,
        out_channels: 2,
        width: 8,
        depth,
        head,
    }
    .init(&device)
    .expect("valid config")
}

fn input(shape: [usize; 4], scale: f32, seed: u64) -> Tensor<4> {
    let device = Device::flex();
    device.seed(seed);
    Tensor::<4>::random(shape, Distribution::Default, &device).mul_scalar(scale)
}

fn converted(normalization: Normalization, neuron: Neuron, x: &Tensor<4>) -> SpikingUNet {
    let ann = unet(4, Head::Residual, 1, 11);
    let spec = ConversionSpec {
        normalization,
        statistic: Statistic::Percentile(99.0),
        authors_off_by_one: false,
    };
    let activations =
        Activations::record(&ann, x.clone(), std::slice::from_ref(&spec)).expect("recorded");
    let factors = scale_factors(&ann, &activations, &spec, 2).expect("factors");
    SpikingUNet {
        unet: rescale(&ann, &factors).expect("rescaled"),
        neuron,
    }
}

fn data(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32")
}

/// max |a − b| / max(max |a|, 1e-6).
fn relative_max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let diff = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

fn neurons() -> Vec<Neuron> {
    Neuron::one_of_each()
}

#[test]
fn the_ann_forward_matches_burn() {
    let _rng = crate::random_stream();
    for (depth, head, channels, shape) in [
        (4, Head::Residual, 1, [2, 1, 32, 48]),
        (2, Head::Logits, 3, [1, 3, 16, 24]),
        (0, Head::Residual, 1, [1, 1, 8, 8]),
    ] {
        let model = unet(depth, head, channels, 3);
        let x = input(shape, 1.0, 5);
        let reference = data(model.forward(x.clone()));
        for below in [0.0, 2.0] {
            let engine = Engine::ann(&model)
                .expect("compiles")
                .with_event_driven_below(below);
            let fast = data(engine.forward_tensor(x.clone()).expect("runs"));
            let diff = relative_max_difference(&reference, &fast);
            // A different summation order in every conv: a few ulps per layer.
            assert!(
                diff < 1e-5,
                "depth {depth} {head:?} event-driven below {below}: relative difference {diff}"
            );
        }
    }
}

#[test]
fn the_simulation_matches_burn_for_every_neuron_and_normalization() {
    let _rng = crate::random_stream();
    let x = input([2, 1, 32, 32], 3.0, 7);
    let checkpoints = [1, 8, 37, 128];
    let (mut strict, mut compared) = (0, 0);
    for normalization in [
        Normalization::None,
        Normalization::LayerWise,
        Normalization::ConnectionWise,
        Normalization::ChannelWise,
    ] {
        for neuron in neurons() {
            let snn = converted(normalization, neuron.clone(), &x);
            let reference = simulate(&snn, x.clone(), &checkpoints, 1).expect("simulated");
            let engine = Engine::spiking(&snn).expect("compiles");
            // Every convolution dense, then every one event-driven.
            for (chunk, below) in [(1, 0.0), (5, 0.0), (1, 2.0), (5, 2.0)] {
                let (fast, _) = engine
                    .clone()
                    .with_event_driven_below(below)
                    .simulate(x.clone(), &checkpoints, chunk, false)
                    .expect("simulated");
                let label = format!(
                    "{normalization:?} {} chunk {chunk} event-driven below {below}",
                    neuron.label()
                );
                strict += compare(&reference, &fast, &label);
                compared += checkpoints.len();
            }
        }
    }
    // Moved spikes are rare: most read-outs are held to the element-wise bound.
    assert!(
        2 * strict > compared,
        "only {strict} of {compared} read-outs compared element-wise"
    );
}

/// Compare two simulations with the tolerances of the module comment; returns the number of
/// checkpoints whose read-outs were compared element-wise (no spike moved).
fn compare(reference: &[Checkpoint], fast: &[Checkpoint], label: &str) -> usize {
    assert_eq!(reference.len(), fast.len());
    let mut strict = 0;
    for (a, b) in reference.iter().zip(fast) {
        let t = a.time_steps;
        assert_eq!(t, b.time_steps);
        let total: f64 = a.spikes.values().sum();
        let other: f64 = b.spikes.values().sum();
        assert!(
            total > 0.0,
            "{label}: the network spikes, so the check is not vacuous"
        );
        assert!(
            (total - other).abs() <= 1e-4 * total,
            "{label} T={t}: {total} spikes in burn, {other} in the engine"
        );
        for (site, &count) in &a.spikes {
            let other = b.spikes[site];
            assert!(
                (count - other).abs() <= (5e-3 * count).max(8.0),
                "{label} T={t} {site}: {count} spikes in burn, {other} in the engine"
            );
        }
        let (x, y) = (data(a.output_sum.clone()), data(b.output_sum.clone()));
        if a.spikes == b.spikes {
            let diff = relative_max_difference(&x, &y);
            assert!(diff <= 1e-5, "{label} T={t}: read-out differs by {diff}");
            strict += 1;
        } else {
            let mean = |v: &mut dyn Iterator<Item = f32>| v.map(|e| e.abs() as f64).sum::<f64>();
            let diff =
                mean(&mut x.iter().zip(&y).map(|(p, q)| p - q)) / mean(&mut x.iter().copied());
            assert!(
                diff <= 5e-3,
                "{label} T={t}: mean read-out difference {diff}"
            );
        }
    }
    strict
}

#[test]
fn every_layer_spikes_in_the_test_network() {
    let _rng = crate::random_stream();
    // Guards the test above against a network in which deep layers never fire.
    let x = input([2, 1, 32, 32], 3.0, 7);
    let snn = converted(Normalization::ConnectionWise, Neuron::paper_mt(), &x);
    let (run, _) = Engine::spiking(&snn)
        .expect("compiles")
        .simulate(x, &[32], 1, false)
        .expect("simulated");
    for (site, count) in &run[0].spikes {
        assert!(*count > 0.0, "{site} never fires");
    }
}

#[test]
fn the_flow_matches_burn() {
    let _rng = crate::random_stream();
    let x = input([2, 1, 32, 32], 3.0, 9);
    for neuron in [Neuron::paper_mt(), neurons()[1].clone()] {
        let snn = converted(Normalization::ConnectionWise, neuron.clone(), &x);
        let (_, layers) = simulate_keeping_state(&snn, x.clone(), &[6], 1).expect("simulated");
        for below in [0.0, 2.0] {
            let (_, flow) = Engine::spiking(&snn)
                .expect("compiles")
                .with_event_driven_below(below)
                .simulate(x.clone(), &[6], 3, true)
                .expect("simulated");
            assert_eq!(flow.len(), layers.len());
            let label = format!("{} event-driven below {below}", neuron.label());
            for (site, layer) in &layers {
                let (output, input) = &flow[site];
                let reference_output = data(layer.accumulated_output().expect("stepped"));
                let reference_input = data(layer.accumulated_input().expect("stepped"));
                let out_diff = relative_max_difference(&reference_output, &data(output.clone()));
                let in_diff = relative_max_difference(&reference_input, &data(input.clone()));
                // At T = 6 no spike moves on this network: the outputs agree exactly and the
                // inputs up to the conv summation order.
                assert_eq!(out_diff, 0.0, "{label} {site}: accumulated output");
                assert!(
                    in_diff < 1e-5,
                    "{label} {site}: accumulated input {in_diff}"
                );
            }
        }
    }
}

#[test]
fn time_chunks_and_channel_tiles_do_not_change_the_spikes() {
    let _rng = crate::random_stream();
    // Chunks of several steps convolve whole images in one GEMM; step by step, each image
    // alone. Both must give the same spikes, whichever path each image's convolutions take:
    // all dense, all event-driven, the engine's default, and a threshold inside the range of
    // the densities, so that the steps of one chunk take different paths.
    let x = input([1, 1, 64, 64], 3.0, 13);
    let snn = converted(Normalization::ConnectionWise, Neuron::paper_mt(), &x);
    let engine = Engine::spiking(&snn).expect("compiles");
    let densities: Vec<f64> = engine
        .clone()
        .with_event_driven_below(2.0)
        .profile(x.clone(), 16)
        .expect("profiled")
        .iter()
        .filter_map(|layer| layer.input_density)
        .collect();
    let middle = densities.iter().sum::<f64>() / densities.len() as f64;
    let mixed = engine.clone().with_event_driven_below(middle as f32);
    let shares = mixed.profile(x.clone(), 16).expect("profiled");
    assert!(
        shares
            .iter()
            .filter_map(|layer| layer.event_driven)
            .any(|share| share > 0.0 && share < 1.0),
        "some layer's steps take both paths at threshold {middle}"
    );
    for below in [EVENT_DRIVEN_BELOW, 0.0, 2.0, middle as f32] {
        let engine = engine.clone().with_event_driven_below(below);
        let (one, _) = engine
            .simulate(x.clone(), &[16, 40], 1, false)
            .expect("simulated");
        for chunk in [3, 8, 40] {
            let (other, _) = engine
                .simulate(x.clone(), &[16, 40], chunk, false)
                .expect("simulated");
            let label = format!("event-driven below {below}, chunk {chunk} against chunk 1");
            let strict = compare(&one, &other, &label);
            assert_eq!(strict, 2, "{label}: the same spikes as step by step");
        }
    }
}

#[test]
fn the_event_driven_path_gives_the_dense_paths_spikes() {
    let _rng = crate::random_stream();
    // Both paths sum the same products in different orders, so they agree as the engine and
    // burn do (the tolerances of `compare`), and mostly to the element.
    let x = input([1, 1, 64, 64], 3.0, 13);
    let (mut strict, mut compared) = (0, 0);
    for neuron in [Neuron::paper_mt(), neurons()[0].clone()] {
        let snn = converted(Normalization::ConnectionWise, neuron.clone(), &x);
        let engine = Engine::spiking(&snn).expect("compiles");
        let run = |below: f32, chunk: usize| {
            engine
                .clone()
                .with_event_driven_below(below)
                .simulate(x.clone(), &[16, 40], chunk, false)
                .expect("simulated")
                .0
        };
        let dense = run(0.0, 1);
        for chunk in [1, 4] {
            let events = run(2.0, chunk);
            let label = format!("{} event-driven, chunk {chunk}", neuron.label());
            strict += compare(&dense, &events, &label);
            compared += 2;
        }
    }
    assert!(
        2 * strict > compared,
        "only {strict} of {compared} read-outs agree element-wise"
    );
}

#[test]
fn the_profile_reports_the_path_each_convolution_took() {
    let _rng = crate::random_stream();
    let x = input([1, 1, 32, 32], 3.0, 7);
    let snn = converted(Normalization::ConnectionWise, neurons()[0].clone(), &x);
    for (below, share) in [(0.0, 0.0), (2.0, 1.0)] {
        let layers = Engine::spiking(&snn)
            .expect("compiles")
            .with_event_driven_below(below)
            .profile(x.clone(), 4)
            .expect("profiled");
        let convolutions: Vec<_> = layers.iter().filter(|l| l.event_driven.is_some()).collect();
        // 17 3x3 convs after conv1, and 4 transposed convs.
        assert_eq!(convolutions.len(), 21);
        for layer in convolutions {
            assert_eq!(layer.event_driven, Some(share), "{}", layer.layer);
            let density = layer.input_density.expect("measured");
            assert!(
                density > 0.0 && density <= 1.0,
                "{}: {density}",
                layer.layer
            );
        }
    }
}

#[test]
fn bad_inputs_are_errors() {
    let _rng = crate::random_stream();
    let x = input([1, 1, 32, 32], 1.0, 1);
    let snn = converted(Normalization::LayerWise, Neuron::paper_mt(), &x);
    let engine = Engine::spiking(&snn).expect("compiles");
    assert!(
        engine
            .simulate(input([1, 1, 30, 32], 1.0, 1), &[4], 1, false)
            .is_err()
    );
    assert!(
        engine
            .simulate(input([1, 2, 32, 32], 1.0, 1), &[4], 1, false)
            .is_err()
    );
    assert!(engine.simulate(x.clone(), &[4, 4], 1, false).is_err());
    assert!(engine.simulate(x.clone(), &[4], 0, false).is_err());
    assert!(
        Engine::ann(&snn.unet)
            .expect("compiles")
            .simulate(x, &[4], 1, false)
            .is_err()
    );
}
