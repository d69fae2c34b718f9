//! `finetune CONFIG`: flow-based fine-tuning of the converted networks the config's `finetune`
//! section selects (rerun to resume after an interruption).

use clap::Parser;
use spiking_unet_cli::{CommonArgs, ConfigArg, run};
use spiking_unet_experiment::finetune;

#[derive(Parser)]
#[command(
    name = "finetune",
    version,
    about = "Fine-tune converted spiking U-Nets with the flow-based method (fewer time steps for the same quality)",
    after_help = "Examples:\n  finetune configs/quickstart-denoise.yaml\n  \
                  finetune configs/quickstart-denoise.yaml --set finetune.time_steps=2 --set finetune.epochs=5"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    run(&args.common, || {
        args.config.each_point(|point| {
            let outcomes = finetune::finetune(point)?;
            if outcomes.is_empty() {
                println!(
                    "nothing to fine-tune: no converted variant matches `finetune.normalizations` x `finetune.neurons`"
                );
            }
            for o in outcomes {
                let verb = if o.reused {
                    "already fine-tuned"
                } else {
                    "fine-tuned"
                };
                let s = &o.summary;
                println!(
                    "{verb}: {} -> {} (epoch {} of {} kept, {} {} = {:.4})",
                    o.label,
                    o.dir,
                    s.selected_epoch,
                    s.epochs,
                    s.selection_split,
                    s.selection_metric,
                    s.selection_value
                );
            }
            Ok(())
        })
    })
}
