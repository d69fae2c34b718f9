//! The `reproduce` pipeline: every implemented stage of an experiment, in order, each reusing
//! or resuming what an earlier run left: train (or import) → convert → finetune → evaluate.
//! Reports join when they land, and the result says which stages it cannot run.

use std::path::Path;

use crate::Result;
use crate::config::ExperimentConfig;
use crate::convert::{self, ConvertOutcome};
use crate::evaluate::{self, Comparison};
use crate::finetune::{self, FinetuneOutcome};
use crate::train::{self, TrainOutcome};

/// What one `reproduce` run produced.
#[derive(Debug)]
pub struct Reproduction {
    /// The training outcome (possibly reused or imported).
    pub training: TrainOutcome,
    /// One outcome per conversion variant.
    pub conversions: Vec<ConvertOutcome>,
    /// One outcome per fine-tuned variant.
    pub finetuned: Vec<FinetuneOutcome>,
    /// ANN and SNN metrics side by side.
    pub comparison: Comparison,
    /// Stages of the paper's pipeline that this version cannot run yet.
    pub stages_not_yet_available: Vec<&'static str>,
}

/// Run the pipeline of `config`, read from `config_path`.
pub fn reproduce(config: &ExperimentConfig, config_path: &Path) -> Result<Reproduction> {
    let training = train::train(config, config_path)?;
    let conversions = convert::convert(config, config_path)?;
    let finetuned = finetune::finetune(config, config_path)?;
    let comparison = evaluate::evaluate_config(config)?;
    Ok(Reproduction {
        training,
        conversions,
        finetuned,
        comparison,
        stages_not_yet_available: vec!["report"],
    })
}
