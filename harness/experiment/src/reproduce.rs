//! `reproduce`: the whole stage graph — train → convert → finetune → evaluate → report — for
//! every point of a [`Plan`]. This module only orders the stages; each stage module does its
//! own work and none calls another.
//!
//! Each stage's artifact is keyed by a hash of what it depends on (see [`crate::networks`]), so
//! a stage whose artifact exists is reused and a killed stage resumes: rerunning after a crash,
//! or after changing only an evaluation setting, redoes only what changed. Evaluations are
//! cached per network and T, and every T a shard needs from one network comes from one
//! simulation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use spiking_unet_report::store::{self, ResultRow};

use crate::artifacts::{self, Provenance};
use crate::evaluate::Comparison;
use crate::networks::NetworkKind;
use crate::plan::{Plan, Stage, Step};
use crate::{Error, Result, convert, evaluate, finetune, report, results, train};

/// What one `reproduce` run produced.
#[derive(Debug)]
pub struct Reproduction {
    /// The plan it followed.
    pub plan: Vec<Step>,
    /// Per point: its label and its networks' metrics.
    pub points: Vec<(String, Comparison)>,
    /// The results folder.
    pub results_dir: PathBuf,
    /// This run's shard table (Parquet, CSV).
    pub shard_table: [PathBuf; 2],
    /// Tables and figures written (none for a shard of several).
    pub report_files: Vec<PathBuf>,
}

/// Run every stage for the points of `plan`.
pub fn reproduce(plan: &Plan) -> Result<Reproduction> {
    if plan.points.is_empty() {
        return Err(Error::ConfigValue {
            path: plan.config_path.clone(),
            field: "sweep".into(),
            message: format!(
                "shard {} of {} points has no points",
                plan.shard, plan.total_points
            ),
        });
    }
    let steps = plan.steps();
    let results_dir = plan.config.results_dir();
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stage = |stage: Stage, what: &str| {
        tracing::info!(event = "stage", stage = %stage, what, "== {stage}: {what}");
    };
    for point in &plan.points {
        let _lock = lock_runs(point)?;
        let label = &point.point.label;
        stage(Stage::Train, label);
        train::train(point)?;
        stage(Stage::Convert, label);
        convert::convert(point)?;
        stage(Stage::Finetune, label);
        finetune::finetune(point)?;
    }
    // Each spiking network once, to the largest T any point needs; the points then read the
    // cached evaluations back.
    for evaluation in plan.evaluations() {
        if evaluation.network.kind != NetworkKind::Ann {
            stage(Stage::Evaluate, &evaluation.network.label);
            let point = &plan.points[evaluation.point];
            evaluate::evaluate_network(point, &evaluation.network, &evaluation.settings)?;
        }
    }
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut outcomes = Vec::new();
    let mut dataset_files = BTreeMap::new();
    for point in &plan.points {
        let comparison = evaluate::evaluate_point(point)?;
        let column = results::point_column(&point.point);
        rows.extend(results::rows(point.config(), &column, &comparison)?);
        results::export_pictures(point.config(), &column, &comparison, &results_dir)?;
        dataset_files.extend(point.task()?.sources());
        outcomes.push((point.point.label.clone(), comparison));
    }

    let shard_dir = store::shard_dir(&results_dir, &plan.shard.slug());
    let shard_table = store::write(&rows, &shard_dir.join("results")).map_err(Error::Report)?;
    let mut provenance = Provenance::collect(
        &plan.config,
        &plan.config_path,
        dataset_files.into_iter().collect(),
    );
    provenance.started_at = started_at;
    let record = serde_json::json!({
        "provenance": provenance,
        "config_sha256": artifacts::sha256_file(&plan.config_path)?,
        "shard": plan.shard.to_string(),
        "points": plan.points.iter().map(|p| serde_json::json!({"index": p.point.index, "label": p.point.label, "seed": p.config().seed})).collect::<Vec<_>>(),
        "finished_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    });
    artifacts::write_json(&shard_dir.join(spiking_unet_report::PROVENANCE), &record)?;

    let report_files = if plan.shard.count > 1 {
        Vec::new()
    } else {
        stage(Stage::Report, &results_dir.display().to_string());
        report::report(plan)?
    };
    Ok(Reproduction {
        plan: steps,
        points: outcomes,
        results_dir,
        shard_table,
        report_files,
    })
}

/// An exclusive lock on `runs/<name>/.lock` while upstream artifacts are made, so shards
/// started together on one file system train a shared ANN once: the second waits, then reuses.
fn lock_runs(point: &crate::plan::PointPlan) -> Result<std::fs::File> {
    let runs = crate::layout::ExperimentDir::of(point.config());
    let dir = runs.path();
    std::fs::create_dir_all(dir).map_err(Error::io("creating folder", dir))?;
    let path = runs.lock();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("opening lock file", &path))?;
    file.lock().map_err(Error::io("locking", &path))?;
    Ok(file)
}
