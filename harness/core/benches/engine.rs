//! The inference engine, layer by layer and whole: a 3x3 conv and a transposed conv of the
//! width-64 U-Net (all tiles, both cores), the 3x3 conv dense and event-driven on a sparse
//! spike input, simulations (MT; IF dense and event-driven) and one ANN forward, against
//! burn's reference simulation on the same network.
//! `cargo bench -p spiking-unet-core --bench engine`; results in BENCHMARKS.md.

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use rayon::prelude::*;
use spiking_unet_core::engine::Engine;
use spiking_unet_core::engine::buffer::Padded;
use spiking_unet_core::engine::conv::{Convolution, PackedConv, PackedUpConv, tiles};
use spiking_unet_core::engine::events::Events;
use spiking_unet_core::model::{Head, UNetConfig};
use spiking_unet_core::neuron::{Neuron, Reset};
use spiking_unet_core::simulate::{SpikingUNet, simulate};

fn random(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 1000.0 - 0.5
        })
        .collect()
}

fn layers(c: &mut Criterion) {
    // conv2 of the width-64 U-Net on a 128x128 image (64 -> 64 channels).
    let (h, w, ch) = (128, 128, 64);
    let mut src = Padded::zeros(1, h, w, ch);
    let values = random(h * w * ch, 1);
    for y in 0..h {
        let o = src.offset(0, y, 0);
        src.data[o..o + w * ch].copy_from_slice(&values[y * w * ch..][..w * ch]);
    }
    let conv = PackedConv::pack(&random(ch * ch * 9, 2), [ch, ch, 3, 3], None).expect("3x3");
    c.bench_function("engine conv3x3 64->64 128x128", |b| {
        b.iter(|| {
            tiles(1, h, w + 2, ch).par_iter().for_each(|tile| {
                let mut scratch = Vec::new();
                conv.compute(&src, tile, 1, None, &mut scratch);
            })
        })
    });
    // The same conv on IF-like spikes: one input in ten is 1, the rest 0.
    let mut spikes = Padded::zeros(1, h, w, ch);
    for y in 0..h {
        let o = spikes.offset(0, y, 0);
        for (k, v) in spikes.data[o..o + w * ch].iter_mut().enumerate() {
            *v = f32::from((k * 7 + y * 13) % 10 == 0);
        }
    }
    c.bench_function("engine conv3x3 64->64 128x128 10% spikes, dense", |b| {
        b.iter(|| {
            tiles(1, h, w + 2, ch).par_iter().for_each(|tile| {
                let mut scratch = Vec::new();
                conv.compute(&spikes, tile, 1, None, &mut scratch);
            })
        })
    });
    c.bench_function(
        "engine conv3x3 64->64 128x128 10% spikes, event-driven",
        |b| {
            b.iter(|| {
                let events = Events::gather(&spikes, None);
                tiles(1, h, w + 2, ch).par_iter().for_each(|tile| {
                    let mut scratch = Vec::new();
                    conv.compute_events(&events, tile, 1, None, &mut scratch);
                })
            })
        },
    );
    // convtranspose4 of the width-64 U-Net: 128 -> 64 channels, 64x64 -> 128x128.
    let mut low = Padded::zeros(1, h / 2, w / 2, 2 * ch);
    let values = random(h / 2 * w / 2 * 2 * ch, 3);
    for y in 0..h / 2 {
        let o = low.offset(0, y, 0);
        low.data[o..o + w / 2 * 2 * ch]
            .copy_from_slice(&values[y * w / 2 * 2 * ch..][..w / 2 * 2 * ch]);
    }
    let up = PackedUpConv::pack(&random(2 * ch * ch * 9, 4), [2 * ch, ch, 3, 3], None).expect("up");
    c.bench_function("engine convtranspose 128->64 64x64->128x128", |b| {
        b.iter(|| {
            tiles(1, h / 2, w / 2 + 2, ch).par_iter().for_each(|tile| {
                let mut scratch = Vec::new();
                up.compute(&low, tile, 1, None, &mut scratch);
            })
        })
    });
}

fn steps(c: &mut Criterion) {
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
    let x = Tensor::<4>::random([1, 1, 256, 256], Distribution::Default, &device).mul_scalar(4.0);
    let engine = Engine::spiking(&snn).expect("compiles");
    let ann = Engine::ann(&snn.unet).expect("compiles");
    c.bench_function("engine w16 MT 256x256 T=8", |b| {
        b.iter(|| {
            engine
                .simulate(x.clone(), &[8], 1, false)
                .expect("simulates")
        })
    });
    c.bench_function("burn reference w16 MT 256x256 T=8", |b| {
        b.iter(|| simulate(&snn, x.clone(), &[8], 1).expect("simulates"))
    });
    let if_snn = SpikingUNet {
        unet: snn.unet.clone(),
        neuron: Neuron::If {
            threshold: 1.0,
            reset: Reset::Zero,
        },
    };
    let if_engine = Engine::spiking(&if_snn).expect("compiles");
    c.bench_function("engine w16 IF 256x256 T=8", |b| {
        b.iter(|| {
            if_engine
                .simulate(x.clone(), &[8], 1, false)
                .expect("simulates")
        })
    });
    let if_dense = if_engine.clone().with_event_driven_below(0.0);
    c.bench_function("engine w16 IF 256x256 T=8, dense only", |b| {
        b.iter(|| {
            if_dense
                .simulate(x.clone(), &[8], 1, false)
                .expect("simulates")
        })
    });
    c.bench_function("engine w16 ANN forward 256x256", |b| {
        b.iter(|| ann.forward_tensor(x.clone()).expect("runs"))
    });
    c.bench_function("burn w16 ANN forward 256x256", |b| {
        b.iter(|| snn.unet.forward(x.clone()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = layers, steps
}
criterion_main!(benches);
