//! `evaluate CONFIG` (the ANN and every converted SNN of an experiment, side by side) or
//! `evaluate --artifact DIR` (one ANN or SNN artifact).

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::{BackendArg, run};
use spiking_unet_experiment::config::{EvaluateConfig, Simulator, Split};
use spiking_unet_experiment::evaluate::{self, MetricRow};
use spiking_unet_experiment::sweep;

#[derive(Parser)]
#[command(
    about = "Evaluate the ANN and converted SNNs of a config (metric vs T, spikes, energy) or one artifact"
)]
struct Args {
    /// Experiment config whose ANN and converted networks to evaluate.
    #[arg(required_unless_present = "artifact")]
    config: Option<PathBuf>,
    /// One artifact folder to evaluate instead (runs/<name>/ann-<key> or snn-<key>).
    #[arg(long, conflicts_with = "config")]
    artifact: Option<PathBuf>,
    /// Splits to evaluate (default: the config's `evaluate.splits`, or test).
    #[arg(long, value_enum, value_delimiter = ',')]
    splits: Vec<SplitArg>,
    /// Time steps for spiking networks (default: the config's, or 4,8,16,32,64,128).
    #[arg(long, value_delimiter = ',')]
    time_steps: Vec<usize>,
    /// What runs the networks (default: the config's `evaluate.simulator`, or auto): the CPU
    /// inference engine, burn's reference path, or auto (the engine on CPU backends).
    #[arg(long, value_enum)]
    simulator: Option<SimulatorArg>,
    #[command(flatten)]
    backend: BackendArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SimulatorArg {
    Auto,
    Engine,
    Reference,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    Validation,
    Test,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        let overrides = |evaluate: &mut EvaluateConfig| {
            if !args.splits.is_empty() {
                evaluate.splits = args
                    .splits
                    .iter()
                    .map(|s| match s {
                        SplitArg::Validation => Split::Validation,
                        SplitArg::Test => Split::Test,
                    })
                    .collect();
            }
            if !args.time_steps.is_empty() {
                evaluate.time_steps = args.time_steps.clone();
            }
            if let Some(simulator) = args.simulator {
                evaluate.simulator = match simulator {
                    SimulatorArg::Auto => Simulator::Auto,
                    SimulatorArg::Engine => Simulator::Engine,
                    SimulatorArg::Reference => Simulator::Reference,
                };
            }
        };
        match (&args.artifact, &args.config) {
            (Some(dir), _) => {
                let mut settings = EvaluateConfig::default();
                overrides(&mut settings);
                let rows = if dir
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("snn-"))
                {
                    evaluate::evaluate_snn(dir, &settings)?
                } else {
                    evaluate::evaluate_ann(dir, &settings)?
                };
                print_summary(&[(dir.display().to_string(), &rows)]);
                println!("per-image rows: {}", dir.join("evaluation.csv").display());
            }
            (None, Some(path)) => {
                let config = args.backend.load(path)?;
                for point in sweep::expand(&config, path)? {
                    let mut config = point.config;
                    if point.label != "base" {
                        println!("== point {}: {}", point.index, point.label);
                    }
                    overrides(&mut config.evaluate);
                    let comparison = evaluate::evaluate_config(&config)?;
                    let models: Vec<(String, &Vec<MetricRow>)> = comparison
                        .models
                        .iter()
                        .map(|m| (m.label.clone(), &m.rows))
                        .collect();
                    print_summary(&models);
                    println!("all rows: {}", comparison.csv.display());
                }
            }
            (None, None) => unreachable!("clap requires one of CONFIG and --artifact"),
        }
        Ok(())
    })
}

/// The split-level quality metrics, one line per model and T.
fn print_summary(models: &[(String, &Vec<MetricRow>)]) {
    let shown = [
        "psnr",
        "ssim",
        "f1",
        "miou",
        "spikes_paper",
        "energy_pj",
        "energy_paper_pj",
    ];
    for (label, rows) in models {
        println!("== {label}");
        let mut line = String::new();
        let mut current = None;
        for row in rows
            .iter()
            .filter(|r| r.image == "all" && shown.contains(&r.metric.as_str()))
        {
            let key = (row.split, row.time_steps);
            if current != Some(key) {
                if !line.is_empty() {
                    println!("{line}");
                }
                let t = row
                    .time_steps
                    .map_or("ANN".to_string(), |t| format!("T={t}"));
                line = format!("   {:<10} {:>6}", row.split.to_string(), t);
                current = Some(key);
            }
            line.push_str(&format!("  {} {:.4}", row.metric, row.value));
        }
        if !line.is_empty() {
            println!("{line}");
        }
    }
}
