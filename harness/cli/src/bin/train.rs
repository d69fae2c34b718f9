//! `train CONFIG`: train (or resume, or reuse) the ANN U-Net of an experiment.

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::{ConfigArg, run};
use spiking_unet_experiment::train;

#[derive(Parser)]
#[command(
    about = "Train the ANN U-Net of an experiment config; rerun to resume after an interruption"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        args.config.each_point(|config| {
            let outcome = train::train(config, &args.config.config).context("training")?;
            match &outcome.summary {
                Some(s) => println!(
                    "{}: {} (epoch {} of {} kept, {} {} = {:.4})",
                    if outcome.reused {
                        "already trained"
                    } else {
                        "trained"
                    },
                    outcome.dir.display(),
                    s.selected_epoch,
                    s.epochs,
                    s.selection_split,
                    s.selection_metric,
                    s.selection_value
                ),
                None => println!("imported pretrained weights: {}", outcome.dir.display()),
            }
            Ok(())
        })
    })
}
