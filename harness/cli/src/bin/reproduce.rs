//! `reproduce CONFIG...`: run the stage graph (train → convert → finetune → evaluate → report)
//! of each config, for every point of its sweep or one `--shard`, reusing and resuming earlier
//! runs' artifacts. `--dry-run` prints the plan and runs nothing.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigEdits, run};
use spiking_unet_experiment::reproduce;
use spiking_unet_experiment::sweep::Shard;

#[derive(Parser)]
#[command(
    name = "reproduce",
    version,
    about = "Train, convert, fine-tune, evaluate and report the experiments of YAML configs",
    after_help = "Examples:\n  reproduce configs/quickstart.yaml\n  \
                  reproduce configs/paper/bsd68.yaml --dry-run\n  \
                  reproduce configs/paper/bsd68.yaml --backend wgpu --set train.epochs=10\n  \
                  reproduce configs/sweep-ladders.yaml --shard 1/4 --threads 8 --log-format json"
)]
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
    edits: ConfigEdits,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        // Plan every config (and its sweep) before any work, so a typo in the last one costs
        // nothing. Planning reads no dataset.
        let mut plans = Vec::new();
        for path in &args.configs {
            plans.push(args.edits.plan(path, args.shard)?);
        }
        for plan in plans {
            let path = &plan.config_path;
            if args.dry_run {
                println!(
                    "== {} ({} of its {} points, shard {}): plan",
                    path.display(),
                    plan.points.len(),
                    plan.total_points,
                    args.shard
                );
                for point in &plan.points {
                    println!("   point {}: {}", point.point.index, point.point.label);
                }
                for step in plan.steps()? {
                    println!("   {step}");
                }
                continue;
            }
            let result = reproduce::reproduce(&plan)
                .with_context(|| format!("reproducing {}", path.display()))?;
            println!(
                "== {}: {} points, {} of {} steps reused",
                path.display(),
                result.points.len(),
                result.reused,
                result.steps
            );
            for (label, comparison) in &result.points {
                println!("   point {label}");
                for model in &comparison.networks {
                    let values: Vec<String> = model
                        .rows
                        .iter()
                        .filter(|r| r.image == "all" && ["psnr", "f1"].contains(&r.metric.as_str()))
                        .map(|r| match r.time_steps {
                            Some(t) => format!("T={t}: {:.3}", r.value),
                            None => format!("{} {:.3}", r.metric, r.value),
                        })
                        .collect();
                    println!("     {:<40} {}", model.network.label, values.join("  "));
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
