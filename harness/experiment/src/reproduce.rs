//! The `reproduce` stage graph: train → convert → finetune → evaluate → report, for every point
//! of a config's sweep (or the one experiment it describes).
//!
//! Each stage's artifact is keyed by a hash of what it depends on (its config section, its
//! inputs' keys and the version of its code, see [`crate::artifacts::CODE_VERSIONS`]), so a
//! stage whose artifact exists is reused and a killed stage resumes: rerunning after a crash, or
//! after changing only an evaluation setting, redoes only what changed. Evaluations are cached
//! per network and T, and every T a shard needs from one network comes from one simulation.
//! [`plan`] says what would run without running it (`reproduce --dry-run`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use spiking_unet_report::ReportSettings;
use spiking_unet_report::store::{self, ResultRow};
use spiking_unet_report::tables::TableSettings;

use crate::artifacts::{self, Manifest, Provenance, files};
use crate::config::{EvaluateConfig, ExperimentConfig};
use crate::convert::SnnManifest;
use crate::evaluate::{self, Comparison, ModelKind};
use crate::sweep::{Shard, SweepPoint};
use crate::task::Task;
use crate::{Error, Result, convert, finetune, results, train};

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// ANN training or import.
    Train,
    /// ANN → SNN conversion.
    Convert,
    /// Flow-based fine-tuning.
    Finetune,
    /// Scoring networks at every T.
    Evaluate,
    /// Tables and figures.
    Report,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Train => "train",
            Stage::Convert => "convert",
            Stage::Finetune => "finetune",
            Stage::Evaluate => "evaluate",
            Stage::Report => "report",
        })
    }
}

/// What a stage will do with its artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing there yet: run it.
    Run,
    /// A killed run left a checkpoint: continue from it.
    Resume,
    /// Done before: reuse it.
    Reuse,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Run => "run",
            Action::Resume => "resume",
            Action::Reuse => "reuse",
        })
    }
}

/// One step of the plan.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its stage.
    pub stage: Stage,
    /// What it makes (`ann`, `layer_wise / if-zero`, ...).
    pub what: String,
    /// The artifact folder.
    pub artifact: PathBuf,
    /// What will happen.
    pub action: Action,
    /// Details: the T still to simulate, the points that share it.
    pub note: String,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<9} {:<7} {:<44} {}",
            self.stage.to_string(),
            self.action.to_string(),
            self.what,
            self.artifact.display()
        )?;
        if !self.note.is_empty() {
            write!(f, "  ({})", self.note)?;
        }
        Ok(())
    }
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Which slice of the sweep.
    pub shard: Shard,
}

/// The splits and T each spiking network must be evaluated at, over all `points`: a network
/// shared by several points is simulated once, to the largest T any of them needs.
fn evaluation_needs(points: &[SweepPoint]) -> Result<IndexMap<PathBuf, (String, EvaluateConfig)>> {
    let mut needs: IndexMap<PathBuf, (String, EvaluateConfig)> = IndexMap::new();
    for point in points {
        let config = &point.config;
        let task = Task::build(config)?;
        for (label, kind, dir) in evaluate::models(config, &task) {
            let steps = match kind {
                ModelKind::Ann => Vec::new(),
                _ => config.evaluation_steps(),
            };
            let (_, settings) = needs.entry(dir).or_insert_with(|| {
                (
                    label,
                    EvaluateConfig {
                        splits: Vec::new(),
                        time_steps: Vec::new(),
                        ..config.evaluate.clone()
                    },
                )
            });
            settings.time_steps.extend(steps);
            settings.time_steps.sort_unstable();
            settings.time_steps.dedup();
            for split in &config.evaluate.splits {
                if !settings.splits.contains(split) {
                    settings.splits.push(*split);
                }
            }
        }
    }
    Ok(needs)
}

/// What running `points` would do, stage by stage, each artifact once.
pub fn plan(points: &[SweepPoint], sharded: bool) -> Result<Vec<Step>> {
    let mut steps: Vec<Step> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut add = |step: Step| {
        if seen.insert((step.stage, step.artifact.clone())) {
            steps.push(step);
        }
    };
    for point in points {
        let config = &point.config;
        let task = Task::build(config)?;
        let ann = artifacts::ann_dir(config);
        let (action, note) = match Manifest::read(&ann) {
            Ok(m) if m.is_complete() => (Action::Reuse, String::new()),
            _ if ann.join(files::CHECKPOINT_DIR).join("state.json").exists() => {
                (Action::Resume, String::new())
            }
            _ if config.model.pretrained.is_some() => (Action::Run, "import".into()),
            _ => (Action::Run, format!("{} epochs", config.train.epochs)),
        };
        add(Step {
            stage: Stage::Train,
            what: "ann".into(),
            artifact: ann,
            action,
            note,
        });
        for variant in convert::variants(config, &task) {
            let done = variant.dir.join(files::MANIFEST).exists();
            add(Step {
                stage: Stage::Convert,
                what: format!(
                    "{} / {}",
                    variant.spec.normalization.label(),
                    variant.neuron.label()
                ),
                artifact: variant.dir,
                action: if done { Action::Reuse } else { Action::Run },
                note: String::new(),
            });
        }
        for (variant, dir) in finetune::selected(config, &task) {
            let finished = artifacts::read_json::<SnnManifest>(&dir.join(files::MANIFEST))
                .is_ok_and(|m| m.finetune.is_some_and(|f| f.summary.is_some()));
            let action = if finished {
                Action::Reuse
            } else if dir.join(files::CHECKPOINT_DIR).join("state.json").exists() {
                Action::Resume
            } else {
                Action::Run
            };
            add(Step {
                stage: Stage::Finetune,
                what: format!(
                    "T={} {} / {}",
                    config.finetune.time_steps,
                    variant.spec.normalization.label(),
                    variant.neuron.label()
                ),
                artifact: dir,
                action,
                note: format!("{} epochs", config.finetune.epochs),
            });
        }
    }
    for (dir, (label, settings)) in evaluation_needs(points)? {
        let pending: Vec<String> = settings
            .splits
            .iter()
            .flat_map(|&split| {
                if settings.time_steps.is_empty() {
                    let missing = !evaluate::ann_evaluated(&dir, split);
                    missing
                        .then(|| split.to_string())
                        .into_iter()
                        .collect::<Vec<_>>()
                } else {
                    evaluate::pending_steps(&dir, split, &settings.time_steps)
                        .into_iter()
                        .map(|t| format!("{split} T={t}"))
                        .collect()
                }
            })
            .collect();
        add(Step {
            stage: Stage::Evaluate,
            what: label,
            artifact: dir,
            action: if pending.is_empty() {
                Action::Reuse
            } else {
                Action::Run
            },
            note: if pending.is_empty() {
                String::new()
            } else {
                pending.join(", ")
            },
        });
    }
    if let Some(first) = points.first() {
        add(Step {
            stage: Stage::Report,
            what: "tables and figures".into(),
            artifact: first.config.results_dir(),
            action: Action::Run,
            note: if sharded {
                "this shard's table only; run `report` once every shard is done".into()
            } else {
                String::new()
            },
        });
    }
    Ok(steps)
}

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

/// Run every stage for the points of `shard` (all points of `config_path`'s sweep by default).
pub fn reproduce(
    config: &ExperimentConfig,
    config_path: &Path,
    options: &Options,
) -> Result<Reproduction> {
    let all = crate::sweep::expand(config, config_path)?;
    let points = options.shard.select(all);
    let sharded = options.shard.count > 1;
    let plan = plan(&points, sharded)?;
    let results_dir = config.results_dir();
    if points.is_empty() {
        return Err(Error::ConfigValue {
            path: config_path.to_path_buf(),
            field: "sweep".into(),
            message: format!("shard {} has no points", options.shard),
        });
    }

    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stage = |stage: Stage, what: &str| eprintln!("== {stage}: {what}");
    for point in &points {
        let _lock = lock_runs(&point.config)?;
        stage(Stage::Train, &point.label);
        train::train(&point.config, config_path)?;
        stage(Stage::Convert, &point.label);
        convert::convert(&point.config, config_path)?;
        stage(Stage::Finetune, &point.label);
        finetune::finetune(&point.config, config_path)?;
    }
    for (dir, (label, settings)) in evaluation_needs(&points)? {
        if !settings.time_steps.is_empty() {
            stage(Stage::Evaluate, &label);
            evaluate::evaluate_snn_with_layers(&dir, &settings)?;
        }
    }
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut outcomes = Vec::new();
    let mut dataset_files = BTreeMap::new();
    for point in &points {
        let comparison = evaluate::evaluate_config(&point.config)?;
        let column = results::point_column(point);
        rows.extend(results::rows(&point.config, &column, &comparison)?);
        results::export_pictures(&point.config, &column, &comparison, &results_dir)?;
        dataset_files.extend(Task::build(&point.config)?.sources());
        outcomes.push((point.label.clone(), comparison));
    }

    let shard_dir = store::shard_dir(&results_dir, &options.shard.slug());
    let shard_table = store::write(&rows, &shard_dir.join("results")).map_err(Error::Report)?;
    let mut provenance =
        Provenance::collect(config, config_path, dataset_files.into_iter().collect());
    provenance.started_at = started_at;
    let record = serde_json::json!({
        "provenance": provenance,
        "config_sha256": artifacts::sha256_file(config_path)?,
        "shard": options.shard.to_string(),
        "points": points.iter().map(|p| serde_json::json!({"index": p.index, "label": p.label, "seed": p.config.seed})).collect::<Vec<_>>(),
        "finished_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    });
    artifacts::write_json(&shard_dir.join(spiking_unet_report::PROVENANCE), &record)?;

    let report_files = if sharded {
        Vec::new()
    } else {
        stage(Stage::Report, &results_dir.display().to_string());
        report(config, config_path)?
    };
    Ok(Reproduction {
        plan,
        points: outcomes,
        results_dir,
        shard_table,
        report_files,
    })
}

/// Merge the shard tables in `config`'s results folder and write its tables and figures.
pub fn report(config: &ExperimentConfig, config_path: &Path) -> Result<Vec<PathBuf>> {
    let settings = ReportSettings {
        tables: table_settings(config, config_path)?,
        command: format!(
            "cargo run --release --bin reproduce -- {}",
            config_path.display()
        ),
        summary_file: config.report.summary_file.clone(),
    };
    spiking_unet_report::render(&config.results_dir(), &settings).map_err(Error::Report)
}

/// The T the comparison tables show: `report.time_steps`, or every point's fine-tuning T and
/// largest evaluated T.
pub fn table_settings(config: &ExperimentConfig, config_path: &Path) -> Result<TableSettings> {
    let time_steps = match &config.report.time_steps {
        Some(steps) => steps.iter().map(|&t| t as u32).collect(),
        None => {
            let mut steps = Vec::new();
            for point in crate::sweep::expand(config, config_path)? {
                let evaluated = point.config.evaluation_steps();
                steps.push(*evaluated.last().expect("validated non-empty") as u32);
                if !point.config.finetune.normalizations.is_empty() {
                    steps.push(point.config.finetune.time_steps as u32);
                }
            }
            steps.sort_unstable();
            steps.dedup();
            steps
        }
    };
    Ok(TableSettings {
        time_steps,
        alpha: config.report.alpha,
    })
}

/// An exclusive lock on `runs/<name>/.lock` while upstream artifacts are made, so shards
/// started together on one file system train a shared ANN once: the second waits, then reuses.
fn lock_runs(config: &ExperimentConfig) -> Result<std::fs::File> {
    let dir = config.runs_dir.join(&config.name);
    std::fs::create_dir_all(&dir).map_err(Error::io("creating folder", &dir))?;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("opening lock file", &path))?;
    file.lock().map_err(Error::io("locking", &path))?;
    Ok(file)
}
