//! Shared plumbing of the harness binaries: the options every binary has (`--threads`,
//! `--log-format`, `--version`), the ones every binary that reads a config has (`--set`,
//! `--backend`), logging setup, and turning a config into a [`Plan`]. Each binary in
//! `src/bin/` stays a few lines: parse, plan, call one library function, report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use spiking_unet_experiment::config::{self, ExperimentConfig};
use spiking_unet_experiment::plan::{Plan, PointPlan};
use spiking_unet_experiment::sweep::Shard;

/// Options of every binary.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Worker threads for CPU work (burn's CPU kernels and the spiking engine); default one
    /// per core. Recorded in each artifact's provenance.
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,
    /// Log format on stderr: `text` for people; `json` for programs (one object per line, with
    /// an `event` field — `stage`, `epoch`, `evaluation` — and the metric values).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `INFO message` lines.
    Text,
    /// One JSON object per line (tracing's JSON layer), fields at the top level.
    Json,
}

/// Run a binary's body: set up logging and threads, and turn an error into a one-paragraph
/// message naming every cause (`error: reading config x.yaml: ...`) and exit code 1, never a
/// backtrace.
pub fn run(common: &CommonArgs, body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    init_logging(common.log_format);
    let result = match common.threads {
        Some(threads) => spiking_unet_core::device::set_worker_threads(threads)
            .map_err(anyhow::Error::from)
            .and_then(|()| body()),
        None => body(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match common.log_format {
                LogFormat::Text => eprintln!("error: {err:#}"),
                LogFormat::Json => tracing::error!(event = "error", "{err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Send `tracing` output to stderr, at `info` unless `RUST_LOG` says otherwise; the GPU
/// runtime's own `info` lines (one per kernel it tunes) only at `warn`.
fn init_logging(format: LogFormat) {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "info,cubecl_runtime=warn,cubecl_wgpu=warn,wgpu_core=warn,wgpu_hal=warn",
            )
        })
    };
    match format {
        // The message says it all for people; the fields repeat it for programs.
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_writer(std::io::stderr)
            .fmt_fields(tracing_subscriber::fmt::format::debug_fn(
                |writer, field, value| match field.name() {
                    "message" => write!(writer, "{value:?}"),
                    _ => Ok(()),
                },
            ))
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init(),
    }
}

/// `--backend NAME`: the config's `backend:` line, replaced before the sweep is expanded, so it
/// is recorded and keys artifacts exactly as an edit of the YAML would.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArg {
    /// Compute backend instead of the config's `backend:`: flex (CPU, always built), or
    /// ndarray, wgpu, cuda (each needs a build with `--features NAME`).
    #[arg(long, value_name = "NAME")]
    pub backend: Option<String>,
}

impl BackendArg {
    /// Put the chosen backend into `config`, after checking this build has it.
    pub fn apply(&self, config: &mut ExperimentConfig) -> anyhow::Result<()> {
        if let Some(name) = &self.backend {
            spiking_unet_core::device::device(name)
                .map_err(|err| anyhow::anyhow!("--backend {name}: {err}"))?;
            config.backend = name.clone();
        }
        Ok(())
    }
}

/// `--set`, `--backend` and `--allow-large-t`: edits of a config given on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigEdits {
    /// Override one config value as an edit of the YAML would (repeatable; typed and validated;
    /// recorded in each manifest's resolved config, so it changes artifact keys like an edit):
    /// `--set train.epochs=3 --set convert.neurons='[{kind: if}]'`.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE", value_parser = parse_edit)]
    pub set: Vec<(String, String)>,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Accept time steps above 10,000 (ten times the paper's largest T); without it such a T
    /// is taken for a typo and refused.
    #[arg(long)]
    pub allow_large_t: bool,
}

fn parse_edit(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!(
            "expected KEY.PATH=VALUE such as train.epochs=3, got {text:?}"
        )),
    }
}

impl ConfigEdits {
    /// Read and validate the config at `path`, then apply `--backend` and `--set` (in that
    /// order); logs the device it will run on.
    pub fn load(&self, path: &Path) -> anyhow::Result<ExperimentConfig> {
        let mut config = config::load(path)?;
        self.backend.apply(&mut config)?;
        let config = config::apply_overrides(config, &self.set, path)?;
        tracing::info!(
            "backend {}",
            spiking_unet_core::device::describe(&config.backend)?
        );
        Ok(config)
    }

    /// [`ConfigEdits::load`], then the plan of `shard` of its sweep, checking its T against
    /// the bound unless `--allow-large-t`.
    pub fn plan(&self, path: &Path, shard: Shard) -> anyhow::Result<Plan> {
        let plan = Plan::new(self.load(path)?, path, shard)?;
        if !self.allow_large_t {
            plan.check_time_step_bound()?;
        }
        Ok(plan)
    }
}

/// The experiment config argument shared by the stage binaries.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// YAML experiment config, e.g. configs/quickstart-denoise.yaml.
    pub config: PathBuf,
    /// Only parse and validate the config (and its sweep), then exit.
    #[arg(long)]
    pub check: bool,
    /// For a sweep: run only slice i of n of its points (1-based), e.g. `--shard 2/4`.
    #[arg(long, value_parser = Shard::parse, default_value = "1/1")]
    pub shard: Shard,
    #[command(flatten)]
    pub edits: ConfigEdits,
}

impl ConfigArg {
    /// Plan the config and run `stage` on each point of its sweep in this shard (the config
    /// itself when it has no sweep), naming each point first when there are several. With
    /// `--check`, only validate.
    pub fn each_point(
        &self,
        mut stage: impl FnMut(&PointPlan) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let plan = self.edits.plan(&self.config, self.shard)?;
        if self.check {
            println!(
                "{}: valid ({} points)",
                self.config.display(),
                plan.points.len()
            );
            return Ok(());
        }
        for point in &plan.points {
            if plan.points.len() > 1 || point.point.label != "base" {
                println!("== point {}: {}", point.point.index, point.point.label);
            }
            // The lock `reproduce` takes too: a standalone stage and a running sweep never
            // build the same artifact at once.
            let _lock = spiking_unet_experiment::lock::hold(point.config())?;
            stage(point)?;
        }
        Ok(())
    }
}
