//! `evaluate CONFIG` (the ANN and every converted SNN of an experiment, side by side) or
//! `evaluate --artifact DIR` (one ANN or SNN artifact).

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigEdits, run};
use spiking_unet_experiment::config::{EvaluateConfig, Simulator, Split};
use spiking_unet_experiment::evaluate::{self, MetricRow};
use spiking_unet_experiment::layout::ArtifactDir;
use spiking_unet_experiment::sweep::Shard;

#[derive(Parser)]
#[command(
    name = "evaluate",
    version,
    about = "Evaluate the ANN and converted SNNs of a config (metric vs T, spikes, energy) or one artifact",
    after_help = "Examples:\n  evaluate configs/quickstart-denoise.yaml --time-steps 8,32\n  \
                  evaluate --artifact runs/quickstart/snn-0123abcd4567 --splits validation\n  \
                  evaluate configs/quickstart.yaml --simulator reference --log-format json"
)]
struct Args {
    /// Experiment config whose ANN and converted networks to evaluate.
    #[arg(required_unless_present = "artifact")]
    config: Option<PathBuf>,
    /// One artifact folder to evaluate instead (runs/<name>/ann-<key>, snn-<key> or ft-<key>;
    /// its manifest says which).
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
    edits: ConfigEdits,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SimulatorArg {
    Auto,
    Engine,
    Reference,
}

impl SimulatorArg {
    fn simulator(self) -> Simulator {
        match self {
            SimulatorArg::Auto => Simulator::Auto,
            SimulatorArg::Engine => Simulator::Engine,
            SimulatorArg::Reference => Simulator::Reference,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SimulatorArg::Auto => "auto",
            SimulatorArg::Engine => "engine",
            SimulatorArg::Reference => "reference",
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    Validation,
    Test,
}

impl SplitArg {
    fn split(self) -> Split {
        match self {
            SplitArg::Validation => Split::Validation,
            SplitArg::Test => Split::Test,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SplitArg::Validation => "validation",
            SplitArg::Test => "test",
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        // The evaluation flags are `--set` edits of the config's `evaluate` section (or of
        // the defaults, for one artifact).
        let mut edits = args.edits.clone();
        if !args.splits.is_empty() {
            let names: Vec<&str> = args.splits.iter().map(|s| s.name()).collect();
            edits
                .set
                .push(("evaluate.splits".into(), format!("[{}]", names.join(", "))));
        }
        if !args.time_steps.is_empty() {
            let steps: Vec<String> = args.time_steps.iter().map(|t| t.to_string()).collect();
            edits.set.push((
                "evaluate.time_steps".into(),
                format!("[{}]", steps.join(", ")),
            ));
        }
        if let Some(simulator) = args.simulator {
            edits
                .set
                .push(("evaluate.simulator".into(), simulator.name().into()));
        }
        match (&args.artifact, &args.config) {
            (Some(dir), _) => {
                let dir = ArtifactDir::at(dir);
                let settings = artifact_settings(&args)?;
                let rows = evaluate::evaluate_artifact(&dir, &settings)?.rows;
                print_summary(&[(dir.to_string(), &rows)]);
                println!("per-image rows: {}", dir.evaluation_csv().display());
            }
            (None, Some(path)) => {
                let plan = edits.plan(path, Shard::ALL)?;
                for point in &plan.points {
                    if point.point.label != "base" {
                        println!("== point {}: {}", point.point.index, point.point.label);
                    }
                    let comparison = evaluate::evaluate_point(point)?;
                    let networks: Vec<(String, &Vec<MetricRow>)> = comparison
                        .networks
                        .iter()
                        .map(|m| (m.network.label.clone(), &m.rows))
                        .collect();
                    print_summary(&networks);
                    println!("all rows: {}", comparison.csv.display());
                }
            }
            (None, None) => unreachable!("clap requires one of CONFIG and --artifact"),
        }
        Ok(())
    })
}

/// The evaluation settings for one artifact: the defaults with the flags applied.
fn artifact_settings(args: &Args) -> anyhow::Result<EvaluateConfig> {
    if !args.edits.set.is_empty() || args.edits.backend.backend.is_some() {
        anyhow::bail!(
            "--set and --backend edit a config; an artifact is evaluated as it was made \
             (use --splits, --time-steps, --simulator)"
        );
    }
    let mut settings = EvaluateConfig::default();
    if !args.splits.is_empty() {
        settings.splits = args.splits.iter().map(|s| s.split()).collect();
    }
    if !args.time_steps.is_empty() {
        settings.time_steps = args.time_steps.clone();
    }
    if let Some(simulator) = args.simulator {
        settings.simulator = simulator.simulator();
    }
    Ok(settings)
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
