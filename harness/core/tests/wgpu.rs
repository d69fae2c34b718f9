//! The wgpu backend against flex, on the same weights: the GPU test group. Built only with
//! `--features wgpu`; run it on a machine with a Vulkan driver (a GPU's, or Mesa's lavapipe on
//! a CPU: `apt-get install mesa-vulkan-drivers`).
//!
//! Tolerances: both backends compute in f32 but sum in different orders (cubecl's kernels
//! against flex's GEMM), measured at a few 1e-7 relative for a forward pass; gradients go
//! through more sums, and a ReLU whose input sits at zero can switch, so they are held to 1e-4
//! relative (L2 over each parameter's gradient).
//!
//! What these tests found (2026-11-30, Mesa lavapipe 22.3.6): the forward pass of both U-Nets
//! and every gradient of the segmenter's (1x1 head, 2 outputs) agree with flex, but every
//! gradient of the denoiser's (3x3 head with padding 1, one output channel) is wrong, by 2.5–3.1
//! in relative L2, with an L1 loss and with a squared error alike, from the head's own bias
//! gradient (a plain sum of the output gradient) down to conv1. So the fault is not the L1 loss
//! (`abs`'s backward) but burn's wgpu autodiff around the one-channel output of the residual
//! head; this is why the quickstart denoiser does not learn on wgpu. The two failing tests are
//! marked `ignore`; `cargo test -p spiking-unet-core --features wgpu --test wgpu -- --ignored`
//! reproduces it.
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, DeviceKind, Distribution, Tensor};
use spiking_unet_core::loss;
use spiking_unet_core::model::{Head, UNet, UNetConfig};

fn wgpu() -> Device {
    Device::wgpu(DeviceKind::DefaultDevice)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().expect("f32")
}

/// ‖a − b‖ / ‖a‖.
fn relative_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let norm: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    (diff / norm.max(1e-30)).sqrt()
}

/// A width-8 U-Net with its parameters tracked for gradients (initialised on flex).
fn unet(head: Head, out_channels: usize) -> UNet {
    let cpu = Device::flex().autodiff();
    cpu.seed(3);
    UNetConfig {
        in_channels: 1,
        out_channels,
        width: 8,
        depth: 2,
        head,
    }
    .init(&cpu)
    .expect("valid config")
}

fn random(shape: [usize; 4], seed: u64) -> Tensor<4> {
    let cpu = Device::flex();
    cpu.seed(seed);
    Tensor::<4>::random(shape, Distribution::Default, &cpu)
}

/// Every parameter's gradient of `loss(model(x))`, by parameter, on `device`.
fn gradients(
    model: &UNet,
    x: &Tensor<4>,
    loss: impl Fn(Tensor<4>) -> Tensor<1>,
    device: &Device,
) -> Vec<(String, Vec<f32>)> {
    let device = device.clone().autodiff();
    // `fork`, not `to_device`: the copy gets its own autodiff graph, with its parameters as
    // leaves that collect gradients.
    let model = model.clone().fork(&device);
    let output = model.forward(x.clone().to_device(&device));
    let grads = GradientsParams::from_grads(loss(output).backward(), &model);
    let mut out = Vec::new();
    let convs = model.convs.iter().chain([&model.head]);
    for (k, conv) in convs.enumerate() {
        let g = grads.get::<4>(conv.weight.id).expect("a weight gradient");
        out.push((format!("conv {k} weight"), values(g)));
        if let Some(bias) = &conv.bias {
            let g = grads.get::<1>(bias.id).expect("a bias gradient");
            out.push((format!("conv {k} bias"), values(g)));
        }
    }
    for (k, up) in model.ups.iter().enumerate() {
        let g = grads.get::<4>(up.weight.id).expect("a weight gradient");
        out.push((format!("up {k} weight"), values(g)));
    }
    out
}

fn assert_gradients_agree(head: Head, out_channels: usize, loss: impl Fn(Tensor<4>) -> Tensor<1>) {
    let model = unet(head, out_channels);
    let x = random([2, 1, 32, 32], 5);
    let cpu = gradients(&model, &x, &loss, &Device::flex());
    let gpu = gradients(&model, &x, &loss, &wgpu());
    let errors: Vec<(String, f64)> = cpu
        .iter()
        .zip(&gpu)
        .map(|((name, a), (_, b))| (name.clone(), relative_l2(a, b)))
        .collect();
    assert!(
        errors.iter().all(|(_, error)| *error < 1e-4),
        "{head:?}: relative errors per parameter {errors:?}"
    );
}

#[test]
fn the_forward_pass_matches_flex() {
    for (head, out_channels) in [(Head::Residual, 1), (Head::Logits, 2)] {
        let model = unet(head, out_channels);
        let x = random([2, 1, 32, 32], 7);
        let a = values(model.forward(x.clone()));
        let b = values(model.to_device(&wgpu()).forward(x.to_device(&wgpu())));
        let error = relative_l2(&a, &b);
        assert!(error < 1e-5, "{head:?}: relative error {error:.2e}");
    }
}

#[test]
#[ignore = "fails on burn 0.22.1 wgpu (lavapipe): every gradient of the residual-head U-Net is off by 2.5-3.1 relative; see the module comment"]
fn the_l1_gradient_of_the_denoiser_matches_flex() {
    let target = random([2, 1, 32, 32], 9);
    assert_gradients_agree(Head::Residual, 1, move |output| {
        let device = output.device();
        loss::l1(output, target.clone().to_device(&device))
    });
}

#[test]
#[ignore = "fails on burn 0.22.1 wgpu (lavapipe): every gradient of the residual-head U-Net is off by 2.5-3.1 relative; see the module comment"]
fn a_squared_error_gradient_of_the_denoiser_matches_flex() {
    let target = random([2, 1, 32, 32], 9);
    assert_gradients_agree(Head::Residual, 1, move |output| {
        let device = output.device();
        (output - target.clone().to_device(&device))
            .powi_scalar(2)
            .mean()
    });
}

#[test]
fn the_mean_output_gradient_of_the_segmenter_matches_flex() {
    assert_gradients_agree(Head::Logits, 2, |output| output.mean());
}
