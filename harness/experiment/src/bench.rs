//! The harness side of the side-by-side benchmark (`scripts/bench/run.sh`, binary
//! `bench-engine`): build a converted U-Net of a given width on seeded random weights, write it
//! for the PyTorch twin (`scripts/bench/twin.py`) with its input and the engine's read-out, and
//! time the engine's ANN forward and simulation (and, on request, burn's reference path).
//!
//! The weights go out through the same function as the `export` binary, in the authors'
//! naming; input and read-out as raw little-endian f32 files described by `case.json`. The
//! engine's time per layer of one step goes to `profile.csv` beside them.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;
use spiking_unet_core::convert::{
    Activations, ConversionSpec, Normalization, Statistic, rescale, scale_factors,
};
use spiking_unet_core::engine::Engine;
use spiking_unet_core::model::{Head, UNetConfig};
use spiking_unet_core::neuron::{Neuron, Reset};
use spiking_unet_core::simulate::{SpikingUNet, simulate};

use crate::artifacts;
use crate::task::tensor_values;
use crate::{Error, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchCase {
    /// U-Net width (paper: 64).
    pub width: usize,
    /// Side of the square gray input image.
    pub size: usize,
    /// `mt`, `if-zero` or `if-subtract`.
    pub neuron: String,
    /// Normalization of the conversion.
    pub normalization: Normalization,
    /// Time steps simulated.
    pub time_steps: usize,
    /// Seed of the weights and the input.
    pub seed: u64,
    /// Timed repetitions (the median is reported).
    pub repeats: usize,
    /// Also time burn's reference simulation (once; slow).
    pub reference: bool,
    /// Only simulate once and report the peak memory (no timing, no profile).
    pub memory_only: bool,
    /// The event-driven threshold (input density) of the engine, if not its default.
    pub event_driven_below: Option<f32>,
    /// Convert as the authors' code does (`fidelity: authors`: the connection-wise off-by-one,
    /// the 99.9th percentile), and also write the ANN and its calibration batch, so that the
    /// twin converts the ANN itself and checks the harness's conversion.
    pub authors: bool,
}

/// What was measured, in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchTimes {
    /// Threads the engine ran on.
    pub threads: usize,
    /// The engine's ANN forward of the same network (absent with `memory_only`).
    pub ann_forward_s: Option<f64>,
    /// The engine's simulation, per time step (absent with `memory_only`).
    pub snn_step_s: Option<f64>,
    /// burn's reference simulation (step by step), per time step, if asked for.
    pub reference_step_s: Option<f64>,
    /// Peak resident memory of the simulation alone (reset before it), MiB.
    pub simulation_peak_rss_mib: Option<f64>,
    /// Spikes of all sites over the run.
    pub spikes: f64,
}

fn neuron(name: &str) -> Result<Neuron> {
    Ok(match name {
        "mt" => Neuron::paper_mt(),
        "if-zero" => Neuron::If {
            threshold: 1.0,
            reset: Reset::Zero,
        },
        "if-subtract" => Neuron::If {
            threshold: 1.0,
            reset: Reset::Subtract,
        },
        other => {
            return Err(Error::Argument(format!(
                "--neuron {other}: allowed values are mt, if-zero, if-subtract"
            )));
        }
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median seconds of `repeats` runs of `f` after one warm-up run.
fn time(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut times = Vec::new();
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64());
    }
    Ok(median(times))
}

/// Peak resident set size of this process in MiB (Linux), after `reset` optionally zeroed it.
fn peak_rss_mib(reset: bool) -> Option<f64> {
    if reset {
        // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn write_f32(path: &Path, values: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    artifacts::write_atomic(path, &bytes)
}

/// What was measured on a burn backend (`bench-engine --backend NAME`), in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BackendTimes {
    /// The backend name.
    pub backend: String,
    /// What it ran on (CPU model, or wgpu adapter and driver).
    pub device: String,
    /// One ANN training step (forward, L1 loss, backward, Adam) on a batch of one image.
    pub ann_train_step_s: f64,
    /// One ANN forward of one image.
    pub ann_forward_s: f64,
    /// burn's simulation (time-batched, chunks of 8 steps), per time step.
    pub snn_step_s: f64,
    /// Spikes of all sites over the run.
    pub spikes: f64,
}

/// Time the case on a burn backend: ANN training step, ANN forward and burn's simulation, all on
/// the device. Each timed run ends by reading a value back, which waits for the device.
pub fn run_on_backend(case: &BenchCase, backend: &str) -> Result<BackendTimes> {
    let device = spiking_unet_core::device::device(backend)?;
    let snn = converted(case, &Device::flex())?;
    let shape = [1, 1, case.size, case.size];
    let cpu = Device::flex();
    cpu.seed(case.seed + 1);
    let x = Tensor::<4>::random(shape, Distribution::Default, &cpu).to_device(&device);
    let ann = snn.unet.clone().to_device(&device);
    let on_device = SpikingUNet {
        unet: ann.clone(),
        neuron: snn.neuron.clone(),
    };
    let ann_forward_s = time(case.repeats, || {
        tensor_values(ann.forward(x.clone()))?;
        Ok(())
    })?;
    let train = device.clone().autodiff();
    let mut model = Some(snn.unet.clone().fork(&train).train());
    let mut optimizer = burn::optim::AdamConfig::new().with_epsilon(1e-8).init();
    let (noisy, target) = (
        x.clone().to_device(&train),
        x.zeros_like().to_device(&train),
    );
    let ann_train_step_s = time(case.repeats, || {
        let current = model.take().expect("the model is put back after each step");
        let loss = spiking_unet_core::loss::l1(current.forward(noisy.clone()), target.clone());
        loss.clone().into_scalar::<f32>();
        let gradients = burn::optim::GradientsParams::from_grads(loss.backward(), &current);
        model = Some(optimizer.step(1e-4, current, gradients));
        Ok(())
    })?;
    let t = case.time_steps;
    let mut spikes = 0.0;
    let snn_step_s = time(case.repeats, || {
        let run = simulate(&on_device, x.clone(), &[t], 8.min(t))?;
        spikes = run[0].spikes.values().sum();
        Ok(())
    })? / t as f64;
    Ok(BackendTimes {
        backend: backend.to_string(),
        device: spiking_unet_core::device::describe(backend)?,
        ann_train_step_s,
        ann_forward_s,
        snn_step_s,
        spikes,
    })
}

/// The case's converted U-Net on seeded random weights, built on `device`.
fn converted(case: &BenchCase, device: &Device) -> Result<SpikingUNet> {
    Ok(converted_from_ann(case, device)?.0)
}

/// [`converted`], with the ANN it came from and its calibration batch.
fn converted_from_ann(
    case: &BenchCase,
    device: &Device,
) -> Result<(SpikingUNet, spiking_unet_core::model::UNet, Tensor<4>)> {
    let neuron = neuron(&case.neuron)?;
    device.seed(case.seed);
    let ann = UNetConfig {
        in_channels: 1,
        out_channels: 1,
        width: case.width,
        depth: 4,
        head: Head::Residual,
    }
    .init(device)?;
    // Scale factors from four 64x64 random images: cheap at width 64, and any factors will
    // do, since harness and twin run the same rescaled weights.
    let calibration = Tensor::<4>::random([4, 1, 64, 64], Distribution::Default, device);
    let spec = ConversionSpec {
        normalization: case.normalization,
        statistic: Statistic::Percentile(99.9),
        authors_off_by_one: case.authors,
    };
    let activations = Activations::record(&ann, calibration.clone(), std::slice::from_ref(&spec))?;
    let factors = scale_factors(&ann, &activations, &spec, 4)?;
    drop(activations);
    let snn = SpikingUNet {
        unet: rescale(&ann, &factors)?,
        neuron,
    };
    Ok((snn, ann, calibration))
}

/// Build the case's network, write it to `out` for the twin, and time the engine.
pub fn run(case: &BenchCase, out: &Path) -> Result<BenchTimes> {
    let device = Device::flex();
    let (snn, ann, calibration) = converted_from_ann(case, &device)?;
    let shape = [1, 1, case.size, case.size];
    let x = Tensor::<4>::random(shape, Distribution::Default, &device);
    let mut engine = Engine::spiking(&snn)?;
    let mut ann_engine = Engine::ann(&snn.unet)?;
    if let Some(density) = case.event_driven_below {
        engine = engine.with_event_driven_below(density);
        ann_engine = ann_engine.with_event_driven_below(density);
    }
    let input = tensor_values(x.clone())?;

    let t = case.time_steps;
    peak_rss_mib(true);
    let (run, _) = engine.simulate(x.clone(), &[t], 1, false)?;
    let simulation_peak_rss_mib = peak_rss_mib(false);
    let readout = tensor_values(run[0].mean_output())?;
    let spikes = run[0].spikes.values().sum();
    let threads = spiking_unet_core::engine::threads();
    if case.memory_only {
        return Ok(BenchTimes {
            threads,
            ann_forward_s: None,
            snn_step_s: None,
            reference_step_s: None,
            simulation_peak_rss_mib,
            spikes,
        });
    }

    std::fs::create_dir_all(out).map_err(Error::io("creating folder", out))?;
    // The case folder is rewritten on every run; the safetensors writer never overwrites.
    let weights = out.join("weights.safetensors");
    if weights.exists() {
        std::fs::remove_file(&weights).map_err(Error::io("replacing", &weights))?;
    }
    spiking_unet_core::interop::export_safetensors(&snn.unet, &weights)?;
    if case.authors {
        let ann_weights = out.join("ann.safetensors");
        if ann_weights.exists() {
            std::fs::remove_file(&ann_weights).map_err(Error::io("replacing", &ann_weights))?;
        }
        spiking_unet_core::interop::export_safetensors(&ann, &ann_weights)?;
        write_f32(
            &out.join("calibration.f32"),
            &tensor_values(calibration.clone())?,
        )?;
    }
    write_f32(&out.join("input.f32"), &input)?;
    write_f32(&out.join("readout.f32"), &readout)?;
    let description = serde_json::json!({
        "width": case.width,
        "input_shape": shape,
        "output_shape": shape,
        "time_steps": t,
        "neuron": case.neuron,
        "normalization": case.normalization.label(),
        "authors": case.authors,
        "calibration_shape": calibration.dims(),
        "seed": case.seed,
        "threads": threads,
    });
    artifacts::write_json(&out.join("case.json"), &description)?;

    let ann_forward_s = time(case.repeats, || {
        ann_engine.forward(&input, shape)?;
        Ok(())
    })?;
    let snn_step_s = time(case.repeats, || {
        engine.simulate(x.clone(), &[t], 1, false)?;
        Ok(())
    })? / t as f64;
    let profile = engine.profile(x.clone(), t)?;
    let mut text = String::from("layer,seconds_per_step,input_density,event_driven_share\n");
    let optional = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for layer in &profile {
        text.push_str(&format!(
            "{},{},{},{}\n",
            layer.layer,
            layer.seconds_per_step,
            optional(layer.input_density),
            optional(layer.event_driven)
        ));
    }
    artifacts::write_atomic(&out.join("profile.csv"), text.as_bytes())?;
    let reference_step_s = if case.reference {
        let start = Instant::now();
        simulate(&snn, x.clone(), &[t], 1)?;
        Some(start.elapsed().as_secs_f64() / t as f64)
    } else {
        None
    };
    Ok(BenchTimes {
        threads,
        ann_forward_s: Some(ann_forward_s),
        snn_step_s: Some(snn_step_s),
        reference_step_s,
        simulation_peak_rss_mib,
        spikes,
    })
}
