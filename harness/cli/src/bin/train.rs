//! `train CONFIG`: train (or resume, or reuse) the ANN U-Net of an experiment.

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigArg, run};
use spiking_unet_experiment::train;

#[derive(Parser)]
#[command(
    name = "train",
    version,
    about = "Train the ANN U-Net of an experiment config; rerun to resume after an interruption",
    after_help = "Examples:\n  train configs/quickstart-denoise.yaml\n  \
                  train configs/quickstart-denoise.yaml --set train.epochs=3 --threads 2\n  \
                  train configs/sweep-ladders.yaml --shard 2/4 --log-format json"
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
            let outcome = train::train(point).context("training")?;
            match &outcome.summary {
                Some(s) => println!(
                    "{}: {} (epoch {} of {} kept, {} {} = {:.4})",
                    if outcome.reused {
                        "already trained"
                    } else {
                        "trained"
                    },
                    outcome.dir,
                    s.selected_epoch,
                    s.epochs,
                    s.selection_split,
                    s.selection_metric,
                    s.selection_value
                ),
                None => println!("imported pretrained weights: {}", outcome.dir),
            }
            Ok(())
        })
    })
}
