//! `reproduce CONFIG...`: run every implemented stage of each experiment config, reusing and
//! resuming earlier runs' artifacts, and print the headline metrics.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::run;
use spiking_unet_experiment::{config, reproduce};

#[derive(Parser)]
#[command(
    about = "Run the pipeline of one or more experiment configs (today: train -> convert -> evaluate)"
)]
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
            println!("== {}: ANN {}", config.name, result.training.dir.display());
            for (label, rows) in &result.comparison.models {
                let metric = |r: &&spiking_unet_experiment::evaluate::MetricRow| {
                    r.image == "all" && ["psnr", "f1", "miou"].contains(&r.metric.as_str())
                };
                let values: Vec<String> = rows
                    .iter()
                    .filter(metric)
                    .map(|r| match r.time_steps {
                        Some(t) => format!("T={t}: {} {:.3}", r.metric, r.value),
                        None => format!("{} {:.3}", r.metric, r.value),
                    })
                    .collect();
                println!("   {label:<34} {}", values.join("  "));
            }
            println!("   all rows: {}", result.comparison.csv.display());
            println!(
                "   stages not available yet: {}",
                result.stages_not_yet_available.join(", ")
            );
        }
        Ok(())
    })
}
