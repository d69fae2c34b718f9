//! `reproduce CONFIG...`: run every implemented stage of each experiment config, reusing and
//! resuming earlier runs' artifacts, and print the headline metrics.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::run;
use spiking_unet_experiment::{config, reproduce};

#[derive(Parser)]
#[command(about = "Run the pipeline of one or more experiment configs (today: train -> evaluate)")]
struct Args {
    /// YAML experiment configs, e.g. configs/quickstart-denoise.yaml configs/quickstart-segment.yaml.
    #[arg(required = true)]
    configs: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        // Validate every config before any work, so a typo in the last one costs nothing.
        let configs = args
            .configs
            .iter()
            .map(|path| config::load(path).map(|c| (path, c)))
            .collect::<Result<Vec<_>, _>>()?;
        for (path, config) in configs {
            let result = reproduce::reproduce(&config, path)
                .with_context(|| format!("reproducing {}", path.display()))?;
            println!("== {} ({})", config.name, result.ann_dir.display());
            for row in result.ann_metrics.iter().filter(|r| r.image == "all") {
                println!(
                    "   ANN {:<10} {:<11} {:>9.4}",
                    row.split.to_string(),
                    row.metric,
                    row.value
                );
            }
            println!(
                "   stages not available yet: {}",
                result.stages_not_yet_available.join(", ")
            );
        }
        Ok(())
    })
}
