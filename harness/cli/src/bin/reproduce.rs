//! `reproduce CONFIG...`: run the stage graph (train → convert → finetune → evaluate → report)
//! of each config, for every point of its sweep or one `--shard`, reusing and resuming earlier
//! runs' artifacts. `--dry-run` prints the plan and runs nothing.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::{BackendArg, run};
use spiking_unet_experiment::reproduce::{self, Options};
use spiking_unet_experiment::sweep::{self, Shard};

#[derive(Parser)]
#[command(about = "Train, convert, fine-tune, evaluate and report the experiments of YAML configs")]
struct Args {
    /// YAML experiment configs, e.g. configs/quickstart.yaml.
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// Print which stages would run and which artifacts would be reused, then stop.
    #[arg(long)]
    dry_run: bool,
    /// Run slice i of n of each sweep (1-based, contiguous blocks), e.g. `--shard 2/4` in a job
    /// array; then run `report CONFIG` once every shard is done.
    #[arg(long, value_parser = Shard::parse, default_value = "1/1")]
    shard: Shard,
    #[command(flatten)]
    backend: BackendArg,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        // Validate every config (and its sweep) before any work, so a typo in the last one costs nothing.
        let mut configs = Vec::new();
        for path in &args.configs {
            let config = args.backend.load(path)?;
            let points = args.shard.select(sweep::expand(&config, path)?);
            configs.push((path, config, points));
        }
        for (path, config, points) in configs {
            if args.dry_run {
                println!(
                    "== {} ({} of its points, shard {}): plan",
                    path.display(),
                    points.len(),
                    args.shard
                );
                for point in &points {
                    println!("   point {}: {}", point.index, point.label);
                }
                for step in reproduce::plan(&points, args.shard.count > 1)? {
                    println!("   {step}");
                }
                continue;
            }
            let result = reproduce::reproduce(&config, path, &Options { shard: args.shard })
                .with_context(|| format!("reproducing {}", path.display()))?;
            let reused = result
                .plan
                .iter()
                .filter(|s| s.action == reproduce::Action::Reuse)
                .count();
            println!(
                "== {}: {} points, {} of {} steps reused",
                path.display(),
                result.points.len(),
                reused,
                result.plan.len()
            );
            for (label, comparison) in &result.points {
                println!("   point {label}");
                for model in &comparison.models {
                    let values: Vec<String> = model
                        .rows
                        .iter()
                        .filter(|r| r.image == "all" && ["psnr", "f1"].contains(&r.metric.as_str()))
                        .map(|r| match r.time_steps {
                            Some(t) => format!("T={t}: {:.3}", r.value),
                            None => format!("{} {:.3}", r.metric, r.value),
                        })
                        .collect();
                    println!("     {:<40} {}", model.label, values.join("  "));
                }
            }
            println!("   results table: {}", result.shard_table[1].display());
            if result.report_files.is_empty() {
                println!(
                    "   shard {} done; run `report {}` after the others",
                    args.shard,
                    path.display()
                );
            } else {
                println!("   tables and figures: {}", result.results_dir.display());
            }
        }
        Ok(())
    })
}
