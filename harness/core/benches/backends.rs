//! Backend comparison on the quickstart-sized U-Net (width 16, depth 4): one forward pass on a
//! 1x1x256x256 image and one training step (forward, backward, Adam) on an 8x1x64x64 batch, for
//! every backend compiled in. `cargo bench -p spiking-unet-core --bench backends` measures flex;
//! add `--features ndarray` (or wgpu, cuda) to compare. Results: BENCHMARKS.md.

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use spiking_unet_core::device::{available_backends, device};
use spiking_unet_core::loss;
use spiking_unet_core::model::{Head, UNetConfig};

fn unet() -> UNetConfig {
    UNetConfig {
        in_channels: 1,
        out_channels: 1,
        width: 16,
        depth: 4,
        head: Head::Residual,
    }
}

fn read_back(t: Tensor<4>) -> f32 {
    // Reading a value synchronises asynchronous backends, so the timing covers the work.
    t.slice([0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>()
}

fn forward(c: &mut Criterion) {
    for name in available_backends() {
        let device: Device = device(name).expect("compiled-in backend");
        device.seed(0);
        let model = unet().init(&device).expect("valid config");
        let x = Tensor::<4>::random([1, 1, 256, 256], Distribution::Default, &device);
        c.bench_function(&format!("forward w16 1x1x256x256 [{name}]"), |b| {
            b.iter(|| read_back(model.forward(x.clone())))
        });
    }
}

fn train_step(c: &mut Criterion) {
    for name in available_backends() {
        let device = device(name).expect("compiled-in backend").autodiff();
        device.seed(0);
        let mut model = unet().init(&device).expect("valid config");
        let mut optimizer = AdamConfig::new().init();
        let x = Tensor::<4>::random([8, 1, 64, 64], Distribution::Default, &device);
        let y = Tensor::<4>::random([8, 1, 64, 64], Distribution::Default, &device);
        c.bench_function(&format!("train step w16 8x1x64x64 [{name}]"), |b| {
            b.iter(|| {
                let l = loss::l1(model.forward(x.clone()), y.clone());
                let grads = GradientsParams::from_grads(l.backward(), &model);
                model = optimizer.step(1e-4, model.clone(), grads);
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = forward, train_step
}
criterion_main!(benches);
