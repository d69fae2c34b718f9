//! `reproduce`: the whole stage graph — train → convert → finetune → evaluate → report — for
//! every point of a [`Plan`]. This module only orders the stages; each stage module does its
//! own work and none calls another.
//!
//! Each stage's artifact is keyed by a hash of what it depends on (see [`crate::networks`]), so
//! a stage whose artifact exists is reused and a killed stage resumes: rerunning after a crash,
//! or after changing only an evaluation setting, redoes only what changed. Evaluations are
//! cached per network and T, and every T a shard needs from one network comes from one
//! simulation.
//!
//! Before a stage uses an artifact, [`integrity::repair`] checks it: a damaged one is moved
//! aside (and said so) and the stage rebuilds it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use spiking_unet_report::store::{self, ResultRow};

use crate::artifacts::{self, Provenance};
use crate::evaluate::Comparison;
use crate::layout::ArtifactDir;
use crate::networks::NetworkKind;
use crate::plan::{Plan, PointPlan, Stage};
use crate::{Error, Result, convert, evaluate, finetune, integrity, lock, report, results, train};

/// What one `reproduce` run produced.
#[derive(Debug)]
pub struct Reproduction {
    /// Steps (each artifact's stage once, and the report) that found their work done, by this
    /// run's start or by a concurrent run, of `steps` in all.
    pub reused: usize,
    /// Steps in all.
    pub steps: usize,
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
            line: None,
            field: "sweep".into(),
            message: format!(
                "shard {} of {} points has no points",
                plan.shard, plan.total_points
            ),
        });
    }
    let results_dir = plan.config.results_dir();
    crate::lock::clear_leftovers(&results_dir)?;
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stage = |stage: Stage, what: &str| {
        tracing::info!(event = "stage", stage = %stage, what, "== {stage}: {what}");
    };
    // What each step found: reused (true) or made. An artifact shared by several points
    // counts once, by its first outcome.
    let mut outcomes: BTreeMap<(Stage, PathBuf), bool> = BTreeMap::new();
    let mut record = |stage: Stage, dir: &Path, reused: bool| {
        outcomes.entry((stage, dir.to_path_buf())).or_insert(reused);
    };
    let mut checked = HashSet::new();
    for point in &plan.points {
        let _lock = lock::hold(point.config())?;
        let label = &point.point.label;
        stage(Stage::Train, label);
        repair(point, NetworkKind::Ann, &mut checked)?;
        let trained = train::train(point)?;
        record(Stage::Train, trained.dir.path(), trained.reused);
        stage(Stage::Convert, label);
        repair(point, NetworkKind::Converted, &mut checked)?;
        for converted in convert::convert(point)? {
            record(Stage::Convert, converted.dir.path(), converted.reused);
        }
        stage(Stage::Finetune, label);
        repair(point, NetworkKind::Finetuned, &mut checked)?;
        for finetuned in finetune::finetune(point)? {
            record(Stage::Finetune, finetuned.dir.path(), finetuned.reused);
        }
    }
    // Each network once, to the largest T any point needs; the points then read the cached
    // evaluations back.
    for evaluation in plan.evaluations() {
        stage(Stage::Evaluate, &evaluation.network.label);
        let point = &plan.points[evaluation.point];
        let evaluated =
            evaluate::evaluate_network(point, &evaluation.network, &evaluation.settings)?;
        record(
            Stage::Evaluate,
            evaluation.network.dir.path(),
            evaluated.reused,
        );
    }
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut points = Vec::new();
    let mut dataset_files = BTreeMap::new();
    let mut dataset_inputs = Vec::new();
    for point in &plan.points {
        let comparison = evaluate::evaluate_point(point)?;
        let column = results::point_column(&point.point);
        rows.extend(results::rows(point.config(), &column, &comparison)?);
        if point.exports_pictures {
            results::export_pictures(point.config(), &column, &comparison, &results_dir)?;
        }
        let point_provenance = point.provenance()?;
        dataset_files.extend(point_provenance.dataset_files);
        for input in point_provenance.dataset_inputs {
            if !dataset_inputs.contains(&input) {
                dataset_inputs.push(input);
            }
        }
        points.push((point.point.label.clone(), comparison));
    }

    let shard_dir = store::shard_dir(&results_dir, &plan.shard.slug());
    let shard_table = store::write(&rows, &shard_dir.join("results")).map_err(Error::Report)?;
    let mut provenance = Provenance::collect(
        &plan.config,
        &plan.config_path,
        dataset_files.into_iter().collect(),
    );
    provenance.started_at = started_at;
    provenance.dataset_inputs = dataset_inputs;
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
        reused: outcomes.values().filter(|&&reused| reused).count(),
        // The report always runs.
        steps: outcomes.len() + 1,
        points,
        results_dir,
        shard_table,
        report_files,
    })
}

/// Move aside whatever is damaged in the artifacts of `kind` of `point` (and in their
/// evaluations), saying so, so that the stage rebuilds it.
/// Points share networks: each folder is checked once per run (`checked`).
fn repair(point: &PointPlan, kind: NetworkKind, checked: &mut HashSet<ArtifactDir>) -> Result<()> {
    for network in point.networks_of(kind) {
        if !checked.insert(network.dir.clone()) {
            continue;
        }
        for line in integrity::repair(&network.dir)? {
            tracing::warn!(
                event = "damaged",
                network = network.label,
                "damaged: {line}"
            );
        }
    }
    Ok(())
}
