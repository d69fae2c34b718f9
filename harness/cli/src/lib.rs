//! Shared plumbing of the harness binaries: logging setup and the common `CONFIG` argument.
//! Each binary in `src/bin/` stays a few lines: parse, call one library function, report.

use std::path::PathBuf;
use std::process::ExitCode;

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

/// Send `tracing` output to stderr, at `info` unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

/// The experiment config argument shared by the stage binaries.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// YAML experiment config, e.g. configs/quickstart-denoise.yaml.
    pub config: PathBuf,
    /// Only parse and validate the config, then exit.
    #[arg(long)]
    pub check: bool,
}
