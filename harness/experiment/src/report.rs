//! The `report` stage: merge the shard tables in a config's results folder and write its
//! tables (Markdown, LaTeX, CSV) and figures. The rendering is `spiking-unet-report`'s; this
//! module decides which T the comparison tables show.

use std::path::PathBuf;

use spiking_unet_report::ReportSettings;
use spiking_unet_report::tables::{CostCounting, TableSettings};

use crate::fidelity::{EnergyUnit, MacConvention};

use crate::plan::Plan;
use crate::{Error, Result};

/// Merge the shard tables in the results folder of `plan`'s config and write its tables and
/// figures. The plan must cover the whole sweep (the tables show every point's T).
pub fn report(plan: &Plan) -> Result<Vec<PathBuf>> {
    if plan.shard.count > 1 {
        return Err(Error::Argument(format!(
            "the report covers every point of {}; plan it without --shard",
            plan.config_path.display()
        )));
    }
    let config = &plan.config;
    let settings = ReportSettings {
        tables: table_settings(plan),
        command: format!(
            "cargo run --release --bin reproduce -- {}",
            plan.config_path.display()
        ),
        summary_file: config.report.summary_file.clone(),
    };
    let results_dir = config.results_dir();
    crate::lock::clear_leftovers(&results_dir)?;
    spiking_unet_report::render(&results_dir, &settings).map_err(Error::Report)
}

/// The T the comparison tables show: `report.time_steps`, or every point's fine-tuning T and
/// largest evaluated T.
pub fn table_settings(plan: &Plan) -> TableSettings {
    let config = &plan.config;
    let time_steps = match &config.report.time_steps {
        Some(steps) => steps.iter().map(|&t| t as u32).collect(),
        None => {
            let mut steps = Vec::new();
            for point in &plan.points {
                let point = point.config();
                let evaluated = point.evaluation_steps();
                steps.push(*evaluated.last().expect("validated non-empty") as u32);
                if !point.finetune.normalizations.is_empty() {
                    steps.push(point.finetune.time_steps as u32);
                }
            }
            steps.sort_unstable();
            steps.dedup();
            steps
        }
    };
    let counting = plan
        .points
        .iter()
        .map(|point| {
            let choices = point.config().choices();
            let counting = CostCounting {
                per_input: choices.energy_unit == EnergyUnit::PerInput,
                thop: choices.mac_convention == MacConvention::Thop,
            };
            (crate::results::point_column(&point.point), counting)
        })
        .collect();
    TableSettings {
        time_steps,
        alpha: config.report.alpha,
        counting,
    }
}
