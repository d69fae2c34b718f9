//! `convert CONFIG`: convert the trained ANN of an experiment into one spiking U-Net per
//! (normalization, neuron) pair of its `convert` section.

use clap::Parser;
use spiking_unet_cli::{ConfigArg, run};
use spiking_unet_experiment::convert;

#[derive(Parser)]
#[command(
    about = "Convert a trained ANN U-Net into spiking U-Nets (IF / multi-threshold / burst neurons; layer-, connection- or channel-wise normalization)"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        args.config.each_point(|config| {
            for outcome in convert::convert(config, &args.config.config)? {
                let verb = if outcome.reused {
                    "already converted"
                } else {
                    "converted"
                };
                println!("{verb}: {} -> {}", outcome.label, outcome.dir.display());
            }
            Ok(())
        })
    })
}
