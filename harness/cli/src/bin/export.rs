//! `export --artifact DIR --out FILE.safetensors`: write an ANN or converted SNN's weights in
//! the authors' PyTorch naming (conv1..conv19, convtranspose1..4), for use outside the harness.

use std::path::PathBuf;

use clap::Parser;
use spiking_unet_cli::run;
use spiking_unet_experiment::artifacts;

#[derive(Parser)]
#[command(about = "Export an artifact's weights as safetensors in the authors' PyTorch naming")]
struct Args {
    /// Artifact folder (runs/<name>/ann-<key> or snn-<key>).
    #[arg(long)]
    artifact: PathBuf,
    /// Output file, e.g. unet.safetensors.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        artifacts::export_weights(&args.artifact, &args.out)?;
        println!("wrote {}", args.out.display());
        Ok(())
    })
}
