//! `export --artifact DIR --out FILE.safetensors`: write an ANN or converted SNN's weights in
//! the authors' PyTorch naming (conv1..conv19, convtranspose1..4), for use outside the harness.

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::{CommonArgs, run};
use spiking_unet_experiment::layout::ArtifactDir;
use spiking_unet_experiment::manifest;

#[derive(Parser)]
#[command(
    name = "export",
    version,
    about = "Export an artifact's weights as safetensors in the authors' PyTorch naming",
    after_help = "Example:\n  export --artifact runs/quickstart/snn-0123abcd4567 --out snn.safetensors"
)]
struct Args {
    /// Artifact folder (runs/<name>/ann-<key>, snn-<key> or ft-<key>).
    #[arg(long)]
    artifact: PathBuf,
    /// Output file, e.g. unet.safetensors.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        manifest::export_weights(&ArtifactDir::at(&args.artifact), &args.out)?;
        println!("wrote {}", args.out.display());
        Ok(())
    })
}
