//! `finetune CONFIG`: flow-based fine-tuning of the converted networks the config's `finetune`
//! section selects (rerun to resume after an interruption).

use clap::Parser;
use spiking_unet_cli::{ConfigArg, run};
use spiking_unet_experiment::finetune;

#[derive(Parser)]
#[command(
    about = "Fine-tune converted spiking U-Nets with the flow-based method (fewer time steps for the same quality)"
)]
struct Args {
    #[command(flatten)]
    config: ConfigArg,
}

fn main() -> std::process::ExitCode {
    run(|| {
        let args = Args::parse();
        args.config.each_point(|config| {
        let outcomes = finetune::finetune(config, &args.config.config)?;
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
                "{verb}: {} -> {} (epoch {} of {} kept, {} {} at T={} = {:.4})",
                o.label,
                o.dir.display(),
                s.selected_epoch,
                s.epochs,
                s.selection_split,
                s.selection_metric,
                config.finetune.time_steps,
                s.selection_value
            );
        }
        Ok(())
        })
    })
}
