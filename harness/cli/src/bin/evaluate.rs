//! `evaluate CONFIG` or `evaluate --artifact DIR`: score a trained model on held-out images.

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::run;
use spiking_unet_experiment::config::{self, Split};
use spiking_unet_experiment::{artifacts, evaluate};

#[derive(Parser)]
#[command(
    about = "Evaluate an ANN artifact; writes evaluation.csv (split,image,metric,value) into it"
)]
struct Args {
    /// Experiment config whose trained ANN to evaluate.
    #[arg(required_unless_present = "artifact")]
    config: Option<PathBuf>,
    /// An artifact folder to evaluate instead (e.g. runs/quickstart-denoise/ann-<key>).
    #[arg(long, conflicts_with = "config")]
    artifact: Option<PathBuf>,
    /// Splits to evaluate (default: the config's `evaluate.splits`, or test).
    #[arg(long, value_enum, value_delimiter = ',')]
    splits: Vec<SplitArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    Validation,
    Test,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        let (dir, mut splits) = match (&args.artifact, &args.config) {
            (Some(dir), _) => (dir.clone(), vec![Split::Test]),
            (None, Some(path)) => {
                let config = config::load(path)?;
                (artifacts::ann_dir(&config), config.evaluate.splits.clone())
            }
            (None, None) => unreachable!("clap requires one of CONFIG and --artifact"),
        };
        if !args.splits.is_empty() {
            splits = args
                .splits
                .iter()
                .map(|s| match s {
                    SplitArg::Validation => Split::Validation,
                    SplitArg::Test => Split::Test,
                })
                .collect();
        }
        let rows = evaluate::evaluate_ann(&dir, &splits)?;
        println!(
            "{:<11} {:<16} {:<12} {:>10}",
            "split", "image", "metric", "value"
        );
        for row in rows.iter().filter(|r| r.image == "all") {
            println!(
                "{:<11} {:<16} {:<12} {:>10.4}",
                row.split.to_string(),
                row.image,
                row.metric,
                row.value
            );
        }
        println!(
            "per-image rows: {}",
            dir.join(artifacts::files::EVALUATION).display()
        );
        Ok(())
    })
}
