//! `convert CONFIG`: convert the trained ANN of an experiment into one spiking U-Net per
//! (normalization, neuron) pair of its `convert` section.

use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigArg, run};
use spiking_unet_experiment::convert;

#[derive(Parser)]
#[command(
    name = "convert",
    version,
    about = "Convert a trained ANN U-Net into spiking U-Nets (IF / multi-threshold / burst neurons; layer-, connection- or channel-wise normalization)",
    after_help = "Examples:\n  convert configs/quickstart-denoise.yaml\n  \
                  convert configs/quickstart-denoise.yaml --set 'convert.statistic={percentile: 99.9}'"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        args.config.each_point(|point| {
            for outcome in convert::convert(point)? {
                let verb = if outcome.reused {
                    "already converted"
                } else {
                    "converted"
                };
                println!("{verb}: {} -> {}", outcome.label, outcome.dir);
            }
            Ok(())
        })
    })
}
