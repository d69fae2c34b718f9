//! Simulation paths on the quickstart-sized spiking U-Net (width 16, depth 4, MT neurons,
//! random weights scaled so every layer spikes): T = 32 on one 128x128 and one 256x256 image,
//! step by step (`time_chunk` 1) against time-batched chunks of 4 and 8 steps. The spikes of all
//! three are identical (see `simulate` tests); this measures only their speed.
//! `cargo bench -p spiking-unet-core --bench simulation`; results in BENCHMARKS.md.

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use spiking_unet_core::model::{Head, UNetConfig};
use spiking_unet_core::neuron::Neuron;
use spiking_unet_core::simulate::{SpikingUNet, simulate};

fn paths(c: &mut Criterion) {
    let device = Device::flex();
    device.seed(0);
    let unet = UNetConfig {
        in_channels: 1,
        out_channels: 1,
        width: 16,
        depth: 4,
        head: Head::Residual,
    }
    .init(&device)
    .expect("valid config");
    let snn = SpikingUNet {
        unet,
        neuron: Neuron::paper_mt(),
    };
    for side in [128, 256] {
        let x =
            Tensor::<4>::random([1, 1, side, side], Distribution::Default, &device).mul_scalar(4.0);
        for chunk in [1, 4, 8] {
            c.bench_function(
                &format!("simulate w16 MT T=32 {side}x{side} chunk {chunk}"),
                |b| b.iter(|| simulate(&snn, x.clone(), &[32], chunk).expect("simulates")),
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = paths
}
criterion_main!(benches);
