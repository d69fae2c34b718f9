//! The GPU test group: the wgpu backend against flex, on the same weights. Built only with
//! `--features wgpu`; run it on a machine with a Vulkan driver (a GPU's, or Mesa's lavapipe on
//! a CPU: `apt-get install mesa-vulkan-drivers`), as CI does:
//! `cargo test --release -p spiking-unet-core --features wgpu --test wgpu`.
//!
//! Covered: the forward pass, gradients, a few training steps of the denoiser, conversion
//! factors, simulation with every neuron kind (burn's path, which runs on the device), and an
//! epoch of flow-based fine-tuning, each on a width-8 U-Net at 32x32.
//!
//! Tolerances: both backends compute in f32 but sum in different orders (cubecl's kernels
//! against flex's GEMM), measured at 1e-7..1e-6 relative for a forward pass; gradients go
//! through more sums and a ReLU whose input sits at zero can switch, so they are held to 1e-4
//! relative (L2 over each parameter's gradient). Training drifts further with each step; see
//! the tests for their bounds.
//!
//! What these tests found (2026-11-30, Mesa lavapipe 22.3.6): burn 0.22.1's GPU convolution
//! returns its output in a layout that some later operations misread (one output channel:
//! `conv(x) − t` wrong, `t − conv(x)` right; two: splitting the batch axis of the output sums
//! the wrong elements). It made the quickstart denoiser (one output channel) unlearnable on
//! wgpu. `model::standard_layout` works around it at the head; without that, four of these
//! tests fail.
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::optim::GradientsParams;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Distribution, Tensor};
use spiking_unet_core::convert::{
    Activations, ConversionSpec, Normalization, Statistic, rescale, scale_factors,
};
use spiking_unet_core::finetune::{Flow, HeadBias, flow_forward};
use spiking_unet_core::loss;
use spiking_unet_core::model::{Head, UNet, UNetConfig};
use spiking_unet_core::neuron::Neuron;
use spiking_unet_core::simulate::{SpikingUNet, simulate};

/// The harness's wgpu device (the runtime can be initialised once per process, and the
/// harness does it so that it can name the adapter).
fn wgpu() -> Device {
    spiking_unet_core::device::device("wgpu").expect("a wgpu adapter (lavapipe on a CPU)")
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
/// (`init_seeded` draws every weight on the CPU before anything moves: burn would otherwise
/// draw a parameter at its first use, on whatever device it is on by then.)
fn unet(head: Head, out_channels: usize) -> UNet {
    let _rng = seeding();
    let cpu = Device::flex().autodiff();
    UNetConfig {
        in_channels: 1,
        out_channels,
        width: 8,
        depth: 2,
        head,
    }
    .init_seeded(3, &cpu)
    .expect("valid config")
}

/// Hold while seeding the CPU's random stream and drawing from it. The stream is one per
/// process and the tests run on parallel threads: without the lock, one test's `seed` lands
/// between another's seed and draws (seen here: the same "seeded" weights differing from run to
/// run).
fn seeding() -> std::sync::MutexGuard<'static, ()> {
    static STREAM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    STREAM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random(shape: [usize; 4], seed: u64) -> Tensor<4> {
    let _rng = seeding();
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
fn the_l1_gradient_of_the_denoiser_matches_flex() {
    let target = random([2, 1, 32, 32], 9);
    assert_gradients_agree(Head::Residual, 1, move |output| {
        let device = output.device();
        loss::l1(output, target.clone().to_device(&device))
    });
}

#[test]
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

/// A converted width-8 U-Net of `head` on seeded weights, and its calibration batch.
fn converted(head: Head, neuron: Neuron, normalization: Normalization) -> (SpikingUNet, Tensor<4>) {
    let out_channels = if head == Head::Logits { 2 } else { 1 };
    let ann = unet(head, out_channels).valid();
    let x = random([2, 1, 32, 32], 13);
    let spec = ConversionSpec {
        normalization,
        statistic: Statistic::Percentile(99.9),
        authors_off_by_one: false,
    };
    let activations =
        Activations::record(&ann, x.clone(), std::slice::from_ref(&spec)).expect("recorded");
    let factors = scale_factors(&ann, &activations, &spec, 2).expect("factors");
    let snn = SpikingUNet {
        unet: rescale(&ann, &factors).expect("rescaled"),
        neuron,
    };
    (snn, x)
}

#[test]
fn conversion_factors_match_flex() {
    for normalization in [Normalization::LayerWise, Normalization::ConnectionWise] {
        for statistic in [Statistic::Max, Statistic::Percentile(99.9)] {
            let ann = unet(Head::Residual, 1).valid();
            let x = random([2, 1, 32, 32], 13);
            let spec = ConversionSpec {
                normalization,
                statistic,
                authors_off_by_one: false,
            };
            let factors = |model: &UNet, x: Tensor<4>| {
                let activations =
                    Activations::record(model, x, std::slice::from_ref(&spec)).expect("recorded");
                let factors = scale_factors(model, &activations, &spec, 2).expect("factors");
                factors
                    .layers
                    .iter()
                    .flat_map(|layer| layer.lambda_out.expand(1))
                    .collect::<Vec<f32>>()
            };
            let cpu = factors(&ann, x.clone());
            let gpu = factors(&ann.clone().to_device(&wgpu()), x.to_device(&wgpu()));
            let error = relative_l2(&cpu, &gpu);
            // Percentiles pick one activation out of the sorted layer: agreement to the
            // forward pass's own 1e-7..1e-6.
            assert!(error < 1e-5, "{normalization:?} {statistic:?}: {error:.2e}");
        }
    }
}

/// Spike counts may differ where a membrane lands within rounding of a threshold (a few 1e-7
/// relative apart on the two backends): one flipped spike changes what follows by one
/// threshold. Counts are held to 1e-3 relative (the bar) and read-outs, means over T
/// of the head's output, to 1e-3 relative L2; both measured at 1e-6 or below here.
#[test]
fn simulation_matches_flex_for_every_neuron() {
    let neurons = Neuron::one_of_each();
    let checkpoints = [1, 4, 16];
    for head in [Head::Residual, Head::Logits] {
        for neuron in &neurons {
            let (snn, x) = converted(head, neuron.clone(), Normalization::ConnectionWise);
            let on_gpu = SpikingUNet {
                unet: snn.unet.clone().to_device(&wgpu()),
                neuron: snn.neuron.clone(),
            };
            let cpu = simulate(&snn, x.clone(), &checkpoints, 4).expect("simulated");
            let gpu = simulate(&on_gpu, x.to_device(&wgpu()), &checkpoints, 4).expect("simulated");
            for (a, b) in cpu.iter().zip(&gpu) {
                let label = format!("{head:?} {} T={}", neuron.label(), a.time_steps);
                let error = relative_l2(&values(a.mean_output()), &values(b.mean_output()));
                assert!(error < 1e-3, "{label}: read-out {error:.2e}");
                let total: f64 = a.spikes.values().sum();
                assert!(
                    total > 0.0,
                    "{label}: no spikes, the comparison would be empty"
                );
                for (site, count) in &a.spikes {
                    let other = b.spikes[site];
                    assert!(
                        (count - other).abs() <= 1e-3 * count.max(1.0),
                        "{label} {site}: {count} spikes on flex, {other} on wgpu"
                    );
                }
            }
        }
    }
}

/// Synthetic denoising data: smooth images, noise of σ = 0.1, seeded.
fn noisy_pairs(seed: u64) -> (Tensor<4>, Tensor<4>) {
    let _rng = seeding();
    let cpu = Device::flex();
    cpu.seed(seed);
    let coarse = Tensor::<4>::random([4, 1, 8, 8], Distribution::Default, &cpu);
    let clean = burn::tensor::module::interpolate(
        coarse,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([32, 32]),
    );
    let noise = Tensor::<4>::random([4, 1, 32, 32], Distribution::Normal(0.0, 0.1), &cpu);
    (clean.clone() + noise, clean)
}

/// The L1 loss after each of `steps` Adam steps of the denoiser on `device`.
fn denoiser_losses(device: &Device, steps: usize) -> Vec<f32> {
    let device = device.clone().autodiff();
    let mut model = unet(Head::Residual, 1).fork(&device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let (noisy, clean) = noisy_pairs(17);
    let (noisy, clean) = (noisy.to_device(&device), clean.to_device(&device));
    let mut losses = Vec::new();
    for _ in 0..steps {
        let residual = model.forward(noisy.clone());
        let loss = loss::l1(residual, noisy.clone() - clean.clone());
        losses.push(loss.clone().into_scalar::<f32>());
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(3e-3, model, gradients);
    }
    losses
}

/// The quickstart case of the issue: on wgpu the denoiser did not learn. Both backends take
/// the same Adam steps from the same weights on the same batch. f32 rounding makes the paths
/// drift apart, slowly: after 30 steps the losses agreed to 1e-7 relative here (0.1387 falling
/// to 0.0841 on both). They are held to 1e-3, room for another CPU under lavapipe.
#[test]
fn a_denoiser_learns_on_wgpu_as_on_flex() {
    let steps = 30;
    let cpu = denoiser_losses(&Device::flex(), steps);
    let gpu = denoiser_losses(&wgpu(), steps);
    assert!(
        cpu[steps - 1] < 0.85 * cpu[0],
        "flex did not learn: {cpu:?}"
    );
    for (step, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        assert!(
            (a - b).abs() <= 1e-3 * a,
            "step {step}: loss {a} on flex, {b} on wgpu\nflex {cpu:?}\nwgpu {gpu:?}"
        );
    }
}

/// One epoch (three batches) of flow-based fine-tuning on each backend: simulate T = 4 steps on
/// the device, the differentiable pass on the flow, an Adam step. Returns the losses and the
/// head's weights after the epoch.
fn fine_tuning_epoch(device: &Device) -> (Vec<f32>, Vec<f32>) {
    let (snn, _) = converted(
        Head::Residual,
        Neuron::paper_mt(),
        Normalization::ConnectionWise,
    );
    let train = device.clone().autodiff();
    let mut model = snn.unet.clone().fork(&train).train();
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let mut losses = Vec::new();
    for batch in 0..3 {
        let (noisy, clean) = noisy_pairs(20 + batch);
        let current = SpikingUNet {
            unet: model.valid(),
            neuron: snn.neuron.clone(),
        };
        let flow = Flow::record(&current, noisy.clone().to_device(device), 4, 4, &train)
            .expect("recorded");
        let (noisy, clean) = (noisy.to_device(&train), clean.to_device(&train));
        let output =
            flow_forward(&model, noisy.clone(), &flow, HeadBias::Consistent).expect("flow forward");
        let loss = loss::l1(output, noisy - clean);
        losses.push(loss.clone().into_scalar::<f32>());
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-3, model, gradients);
    }
    (losses, values(model.head.weight.val()))
}

#[test]
fn fine_tuning_one_epoch_matches_flex() {
    let (cpu_losses, cpu_head) = fine_tuning_epoch(&Device::flex());
    let (gpu_losses, gpu_head) = fine_tuning_epoch(&wgpu());
    let error = relative_l2(&cpu_head, &gpu_head);
    assert!(error < 1e-3, "head weights after the epoch: {error:.2e}");
    for (a, b) in cpu_losses.iter().zip(&gpu_losses) {
        assert!(
            (a - b).abs() <= 1e-3 * a,
            "losses {cpu_losses:?} vs {gpu_losses:?}"
        );
    }
}
