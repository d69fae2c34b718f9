//! Shared plumbing of the harness binaries: logging setup and the common `CONFIG` argument.
//! Each binary in `src/bin/` stays a few lines: parse, call one library function, report.

use std::path::PathBuf;
use std::process::ExitCode;

use spiking_unet_experiment::config::{self, ExperimentConfig};
use spiking_unet_experiment::sweep::{self, Shard};

/// Run a binary's body: set up logging, and turn an error into a one-paragraph message naming
/// every cause (`error: reading config x.yaml: ...`) and exit code 1, never a backtrace.
pub fn run(body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    init_logging();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Send `tracing` output to stderr, at `info` unless `RUST_LOG` says otherwise; the GPU
/// runtime's own `info` lines (one per kernel it tunes) only at `warn`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,cubecl_runtime=warn,cubecl_wgpu=warn,wgpu_core=warn,wgpu_hal=warn",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// `--backend NAME`, shared by every binary that computes: the config's `backend:` line,
/// replaced before the sweep is expanded, so it is recorded and keys artifacts exactly as an
/// edit of the YAML would.
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

    /// [`config::load`] with the backend applied; logs the device it will run on.
    pub fn load(&self, path: &std::path::Path) -> anyhow::Result<ExperimentConfig> {
        let mut config = config::load(path)?;
        self.apply(&mut config)?;
        tracing::info!(
            "backend {}",
            spiking_unet_core::device::describe(&config.backend)?
        );
        Ok(config)
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
    pub backend: BackendArg,
}

impl ConfigArg {
    /// Validate the config and run `stage` on each point of its sweep in this shard (the config
    /// itself when it has no sweep), naming each point first when there are several. With
    /// `--check`, only validate.
    pub fn each_point(
        &self,
        mut stage: impl FnMut(&ExperimentConfig) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let config = self.backend.load(&self.config)?;
        let points = self.shard.select(sweep::expand(&config, &self.config)?);
        if self.check {
            println!("{}: valid ({} points)", self.config.display(), points.len());
            return Ok(());
        }
        for point in &points {
            if points.len() > 1 || point.label != "base" {
                println!("== point {}: {}", point.index, point.label);
            }
            stage(&point.config)?;
        }
        Ok(())
    }
}
