//! `bench-engine --width 64 --size 256 --neuron mt --time-steps 32 --out DIR`: the harness side
//! of `scripts/bench/run.sh`. Builds a converted U-Net on seeded random weights, writes weights
//! (authors' naming), input and read-out for the PyTorch twin, and prints the engine's timings
//! as JSON. With `--backend NAME` it times burn on that backend instead
//! (`scripts/bench/gpu.sh`).

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::{CommonArgs, run};
use spiking_unet_core::convert::Normalization;
use spiking_unet_experiment::bench::{self, BenchCase};

#[derive(Parser)]
#[command(
    name = "bench-engine",
    version,
    about = "Time the spiking inference engine on a converted U-Net and write the case for the PyTorch twin",
    after_help = "Examples:\n  bench-engine --width 64 --size 256 --neuron mt --time-steps 32 --out /tmp/case\n  \
                  bench-engine --width 16 --size 64 --backend wgpu --threads 2"
)]
struct Args {
    /// U-Net width (the paper's is 64).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Side of the square input image (a multiple of 16).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Neuron: mt, if-zero or if-subtract.
    #[arg(long, default_value = "mt", value_parser = ["mt", "if-zero", "if-subtract"])]
    neuron: String,
    /// Normalization: layer_wise or connection_wise.
    #[arg(long, default_value = "connection_wise", value_parser = ["layer_wise", "connection_wise"])]
    normalization: String,
    /// Time steps simulated.
    #[arg(long, default_value_t = 32)]
    time_steps: usize,
    /// Seed of the weights and the input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Timed repetitions; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also time burn's reference simulation once (slow).
    #[arg(long)]
    reference: bool,
    /// Only simulate once and report the simulation's peak memory (no timing).
    #[arg(long)]
    memory_only: bool,
    /// Run a convolution event-driven below this share of nonzero inputs (default: the
    /// engine's measured threshold; 0 = always dense, 2 = always event-driven).
    #[arg(long)]
    event_driven_below: Option<f32>,
    /// Instead of the engine, time burn on this backend (flex, wgpu, ...): an ANN training
    /// step, an ANN forward and burn's simulation per step, all on the device
    /// (`scripts/bench/gpu.sh`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["reference", "memory_only", "event_driven_below"])]
    backend: Option<String>,
    /// Convert as the authors' code does (connection-wise off-by-one, 99.9th percentile) and
    /// also write the ANN and the calibration batch, for the twin's conversion check.
    #[arg(long)]
    authors: bool,
    /// Folder for the twin's inputs (weights, input, read-out, case.json).
    #[arg(long, required_unless_present = "backend")]
    out: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        let case = BenchCase {
            width: args.width,
            size: args.size,
            neuron: args.neuron,
            normalization: match args.normalization.as_str() {
                "layer_wise" => Normalization::LayerWise,
                _ => Normalization::ConnectionWise,
            },
            time_steps: args.time_steps,
            seed: args.seed,
            repeats: args.repeats,
            reference: args.reference,
            memory_only: args.memory_only,
            event_driven_below: args.event_driven_below,
            authors: args.authors,
        };
        let json = match (&args.backend, &args.out) {
            (Some(backend), _) => serde_json::to_string(&bench::run_on_backend(&case, backend)?)?,
            (None, Some(out)) => serde_json::to_string(&bench::run(&case, out)?)?,
            (None, None) => unreachable!("clap requires --out without --backend"),
        };
        println!("{json}");
        Ok(())
    })
}
