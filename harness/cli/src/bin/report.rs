//! `report CONFIG`: merge the shard tables in the config's results folder and write its tables
//! (Markdown, LaTeX, CSV) and figures (PNG, SVG). `--compare-to DIR` then checks them against a
//! committed folder within the tolerance in `DIR/tolerance.yaml`, as CI does.

use std::path::PathBuf;

use anyhow::bail;
use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigEdits, run};
use spiking_unet_experiment::report;
use spiking_unet_experiment::sweep::Shard;
use spiking_unet_report::compare::{Tolerance, compare_dirs};

#[derive(Parser)]
#[command(
    name = "report",
    version,
    about = "Tables and figures from a config's results store; optional check against committed results",
    after_help = "Examples:\n  report configs/quickstart.yaml\n  \
                  report configs/quickstart.yaml --compare-to results/quickstart\n  \
                  report configs/sweep-ladders.yaml --set report.alpha=0.01"
)]
struct Args {
    /// The experiment config whose results to report.
    config: PathBuf,
    /// Results folder to read and write instead of the config's `report.dir`.
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// A committed results folder to compare the tables with; exit 1 on a difference.
    #[arg(long)]
    compare_to: Option<PathBuf>,
    /// Tolerance file for the comparison (default: COMPARE_TO/tolerance.yaml).
    #[arg(long, requires = "compare_to")]
    tolerance: Option<PathBuf>,
    #[command(flatten)]
    edits: ConfigEdits,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        let mut edits = args.edits.clone();
        if let Some(dir) = &args.results_dir {
            edits
                .set
                .push(("report.dir".into(), dir.display().to_string()));
        }
        let plan = edits.plan(&args.config, Shard::ALL)?;
        let config = &plan.config;
        let files = report::report(&plan)?;
        println!(
            "wrote {} files under {}",
            files.len(),
            config.results_dir().display()
        );
        if let Some(expected) = &args.compare_to {
            let tolerance_path = args
                .tolerance
                .clone()
                .unwrap_or_else(|| expected.join("tolerance.yaml"));
            let tolerance = Tolerance::load(&tolerance_path)?;
            let problems = compare_dirs(expected, &config.results_dir(), &tolerance)?;
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                bail!(
                    "{} table file(s) differ from {} beyond the tolerance in {}",
                    problems.len(),
                    expected.display(),
                    tolerance_path.display()
                );
            }
            println!(
                "tables match {} (tolerance: {} absolute, {} relative)",
                expected.display(),
                tolerance.absolute,
                tolerance.relative
            );
        }
        Ok(())
    })
}
