//! The `reproduce` pipeline: every implemented stage of an experiment, in order, each reusing
//! or resuming what an earlier run left. Today that is train → evaluate (ANN); conversion,
//! fine-tuning and reports join as they land, and the result says which stages ran.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::config::ExperimentConfig;
use crate::evaluate::{self, MetricRow};
use crate::train::{self, TrainOutcome};

/// What one `reproduce` run produced.
#[derive(Debug)]
pub struct Reproduction {
    /// The ANN artifact folder.
    pub ann_dir: PathBuf,
    /// The training outcome (possibly reused).
    pub training: TrainOutcome,
    /// Evaluation rows of the ANN on the config's splits.
    pub ann_metrics: Vec<MetricRow>,
    /// Stages of the paper's pipeline that this version cannot run yet.
    pub stages_not_yet_available: Vec<&'static str>,
}

/// Run the pipeline of `config`, read from `config_path`.
pub fn reproduce(config: &ExperimentConfig, config_path: &Path) -> Result<Reproduction> {
    let training = train::train(config, config_path)?;
    let ann_metrics = evaluate::evaluate_ann(&training.dir, &config.evaluate.splits)?;
    Ok(Reproduction {
        ann_dir: training.dir.clone(),
        training,
        ann_metrics,
        stages_not_yet_available: vec!["convert", "finetune", "report"],
    })
}
