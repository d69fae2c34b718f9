//! `finetune`: Fine-tune a converted spiking U-Net with the flow-based method.
//! Not implemented yet: it says so and exits with an error instead of pretending to work.

use clap::Parser;
use spiking_unet_cli::{ConfigArg, run};
use spiking_unet_experiment::{Error, config};

#[derive(Parser)]
#[command(
    about = "Fine-tune a converted spiking U-Net with the flow-based method (not implemented yet)"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        config::load(&args.config.config)?;
        Err(Error::NotImplemented("finetune").into())
    })
}
