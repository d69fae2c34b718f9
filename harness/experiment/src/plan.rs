//! The plan of a run, resolved once from a config file (and `--shard`) and handed to every
//! stage: the sweep points of this shard, and for each its networks (ANN, converted, fine-tuned)
//! with labels and artifact folders. Stages read what they need from it instead of re-deriving
//! it, and a point loads its task (the dataset) once, on first use, only when a stage that runs
//! needs images: printing a plan (`reproduce --dry-run`) touches no dataset.
//!
//! [`Plan::steps`] says what each stage would do with each artifact (run, resume or reuse) by
//! looking at the artifact folders; [`Plan::evaluations`] merges what every point needs from one
//! spiking network, so it is simulated once, to the largest T any point asks for.

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use spiking_unet_datasets::DatasetInput;

use crate::artifacts::Provenance;
use crate::config::{EvaluateConfig, ExperimentConfig, Split};
use crate::integrity::{self, Health};
use crate::layout::{ArtifactDir, EvaluationCache};
use crate::manifest::Manifest;
use crate::networks::{Network, NetworkKind, WeightHashes, networks};
use crate::sweep::{Shard, SweepPoint, expand};
use crate::task::Task;
use crate::{Error, Result};

/// Everything a run of one config file will touch.
pub struct Plan {
    /// The file's config (overrides applied), as the report stage reads it.
    pub config: ExperimentConfig,
    /// The config file, for provenance and messages.
    pub config_path: PathBuf,
    /// The slice of the sweep this plan covers.
    pub shard: Shard,
    /// Points in the whole sweep (before sharding).
    pub total_points: usize,
    /// This shard's points, in sweep order.
    pub points: Vec<PointPlan>,
}

/// One sweep point, resolved.
pub struct PointPlan {
    /// The point: label, swept settings and complete config.
    pub point: SweepPoint,
    /// The config file it came from.
    pub config_path: PathBuf,
    /// Its networks: the ANN first, then the converted, then the fine-tuned ones.
    pub networks: Vec<Network>,
    task: OnceCell<Task>,
    /// Where the task's benchmark datasets came from, once it is built.
    inputs: OnceCell<Vec<DatasetInput>>,
    /// True for the first point (in sweep order) of its `point` column: the one whose pictures
    /// the results show. Points that differ only in columns of their own (normalization,
    /// neuron, ...) share one picture folder, and concurrent shards must not race for it.
    pub exports_pictures: bool,
}

impl Plan {
    /// Expand `config`'s sweep, keep `shard`'s points, and resolve their networks. Reads no
    /// dataset; hashes imported weight files once each.
    pub fn new(config: ExperimentConfig, config_path: &Path, shard: Shard) -> Result<Plan> {
        let all = expand(&config, config_path)
            .and_then(|all| check_points(&config, config_path, &all).map(|()| all))
            .map_err(|err| crate::config::locate(err, config_path))?;
        let total_points = all.len();
        let mut columns = HashSet::new();
        let first_of_column: Vec<bool> = all
            .iter()
            .map(|p| columns.insert(crate::results::point_column(p)))
            .collect();
        let mut hashes = WeightHashes::default();
        let points = shard
            .select(all)
            .into_iter()
            .map(|point| PointPlan {
                exports_pictures: first_of_column[point.index],
                networks: networks(&point.config, &mut hashes),
                point,
                config_path: config_path.to_path_buf(),
                task: OnceCell::new(),
                inputs: OnceCell::new(),
            })
            .collect();
        Ok(Plan {
            config,
            config_path: config_path.to_path_buf(),
            shard,
            total_points,
            points,
        })
    }

    /// What every point needs from each network, merged per network in plan order: the splits,
    /// and for a spiking network every T any point evaluates it at.
    pub fn evaluations(&self) -> Vec<Evaluation> {
        let mut merged: IndexMap<ArtifactDir, (Evaluation, BTreeSet<usize>)> = IndexMap::new();
        for (index, point) in self.points.iter().enumerate() {
            let config = point.config();
            for network in &point.networks {
                let (evaluation, steps) = merged.entry(network.dir.clone()).or_insert_with(|| {
                    let settings = EvaluateConfig {
                        splits: Vec::new(),
                        time_steps: Vec::new(),
                        ..config.evaluate.clone()
                    };
                    (
                        Evaluation {
                            network: network.clone(),
                            point: index,
                            settings,
                        },
                        BTreeSet::new(),
                    )
                });
                if network.kind != NetworkKind::Ann {
                    steps.extend(config.evaluation_steps());
                }
                for split in &config.evaluate.splits {
                    if !evaluation.settings.splits.contains(split) {
                        evaluation.settings.splits.push(*split);
                    }
                }
            }
        }
        merged
            .into_values()
            .map(|(mut evaluation, steps)| {
                evaluation.settings.time_steps = steps.into_iter().collect();
                evaluation
            })
            .collect()
    }

    /// What running this plan would do, stage by stage, each artifact once. Looks only at the
    /// artifact folders, and verifies them: a damaged one is planned as `rebuild`.
    pub fn steps(&self) -> Result<Vec<Step>> {
        let mut steps: Vec<Step> = Vec::new();
        let mut seen = HashSet::new();
        // Folders found complete (and verified, weights hashed) by the first pass; the
        // evaluation steps read their caches without hashing the weights again.
        let mut complete = HashSet::new();
        for point in &self.points {
            let config = point.config();
            for network in &point.networks {
                if !seen.insert((network.kind, network.dir.clone())) {
                    continue;
                }
                let health = integrity::inspect(&network.dir)?;
                let (done, resumable) = match &health {
                    Health::Complete => {
                        complete.insert(network.dir.clone());
                        (true, false)
                    }
                    Health::Unfinished { resumable } => (false, *resumable),
                    Health::Absent | Health::Damaged(..) => (false, false),
                };
                let (stage, what, action, note) = match network.kind {
                    NetworkKind::Ann => (
                        Stage::Train,
                        "ann".to_string(),
                        action_for(done, resumable),
                        if config.model.pretrained.is_some() {
                            "import".to_string()
                        } else {
                            format!("{} epochs", config.train.epochs)
                        },
                    ),
                    NetworkKind::Converted => (
                        Stage::Convert,
                        network.label.clone(),
                        action_for(done, false),
                        String::new(),
                    ),
                    NetworkKind::Finetuned => (
                        Stage::Finetune,
                        network.label.clone(),
                        action_for(done, resumable),
                        format!("{} epochs", config.finetune.epochs),
                    ),
                };
                let (action, note) = match health {
                    Health::Damaged(file, reason) => (
                        Action::Rebuild,
                        format!("(damaged: {}: {reason})", file.display()),
                    ),
                    _ if action == Action::Reuse => (action, String::new()),
                    _ => (action, note),
                };
                steps.push(Step {
                    stage,
                    what,
                    artifact: network.dir.path().to_path_buf(),
                    action,
                    note,
                });
            }
        }
        for evaluation in self.evaluations() {
            let dir = &evaluation.network.dir;
            let settings = &evaluation.settings;
            // Evaluations are cached by the weights' hash; unfinished (or damaged) weights have
            // none yet, so everything is pending.
            let cache = if complete.contains(dir) {
                Manifest::read(dir)?
                    .contents()
                    .map(|c| dir.evaluations(&c.weights_sha256))
            } else {
                None
            };
            let damaged = integrity::damaged_evaluations(dir)?;
            let mut pending: Vec<String> = settings
                .splits
                .iter()
                .flat_map(|&split| pending_evaluations(cache.as_ref(), split, &settings.time_steps))
                .collect();
            pending.extend(
                damaged
                    .iter()
                    .map(|(file, reason)| format!("(damaged: {}: {reason})", file.display())),
            );
            steps.push(Step {
                stage: Stage::Evaluate,
                what: evaluation.network.label.clone(),
                artifact: dir.path().to_path_buf(),
                action: match (pending.is_empty(), damaged.is_empty()) {
                    (true, _) => Action::Reuse,
                    (false, true) => Action::Run,
                    (false, false) => Action::Rebuild,
                },
                note: pending.join(", "),
            });
        }
        if !self.points.is_empty() {
            steps.push(Step {
                stage: Stage::Report,
                what: "tables and figures".into(),
                artifact: self.config.results_dir(),
                action: Action::Run,
                note: if self.shard.count > 1 {
                    "this shard's table only; run `report` once every shard is done".into()
                } else {
                    String::new()
                },
            });
        }
        Ok(steps)
    }
}

/// Checks that need every point of the sweep: distinct labels, and `report.time_steps` among
/// the T some point evaluates.
fn check_points(config: &ExperimentConfig, path: &Path, points: &[SweepPoint]) -> Result<()> {
    let invalid = |field: &str, message: String| Error::ConfigValue {
        path: path.to_path_buf(),
        line: None,
        field: field.to_string(),
        message,
    };
    let mut labels = HashSet::new();
    if let Some(twice) = points.iter().find(|p| !labels.insert(p.label.as_str())) {
        return Err(invalid(
            "sweep",
            format!(
                "two points are both labelled `{}`: give distinct values (or zip_labels)",
                twice.label
            ),
        ));
    }
    if let Some(wanted) = &config.report.time_steps {
        let evaluated: BTreeSet<usize> = points
            .iter()
            .flat_map(|p| p.config.evaluation_steps())
            .collect();
        if let Some(t) = wanted.iter().find(|t| !evaluated.contains(t)) {
            return Err(invalid(
                "report.time_steps",
                format!(
                    "T = {t} is not evaluated by any point, so the tables could not show it; \
                     evaluated: {evaluated:?}"
                ),
            ));
        }
    }
    Ok(())
}

impl Plan {
    /// An error when a point simulates more than [`crate::config::MAX_TIME_STEPS`] steps, the
    /// guard against a typo such as `time_steps: [4000000000]` (binaries skip it with
    /// `--allow-large-t`).
    pub fn check_time_step_bound(&self) -> Result<()> {
        let bound = crate::config::MAX_TIME_STEPS;
        for point in &self.points {
            let config = point.config();
            let largest = config.evaluation_steps().into_iter().max().unwrap_or(0);
            let t = largest.max(config.finetune.time_steps);
            if t > bound {
                let field = if config.finetune.time_steps == t {
                    "finetune.time_steps"
                } else {
                    "evaluate.time_steps"
                };
                let err = Error::ConfigValue {
                    path: self.config_path.clone(),
                    line: None,
                    field: field.into(),
                    message: format!(
                        "T = {t} is above {bound} (at point `{}`); if you mean it, pass \
                         --allow-large-t",
                        point.point.label
                    ),
                };
                return Err(crate::config::locate(err, &self.config_path));
            }
        }
        Ok(())
    }
}

/// `test T=8`-style names of the evaluations of `split` not cached in `dir` yet (`test` for an
/// ANN, which has no T).
fn pending_evaluations(
    cache: Option<&EvaluationCache>,
    split: Split,
    steps: &[usize],
) -> Vec<String> {
    if steps.is_empty() {
        return if cache.is_some_and(|c| c.ann_evaluated(split)) {
            Vec::new()
        } else {
            vec![split.to_string()]
        };
    }
    let pending = match cache {
        Some(cache) => cache.unevaluated(split, steps),
        None => steps.to_vec(),
    };
    pending
        .into_iter()
        .map(|t| format!("{split} T={t}"))
        .collect()
}

/// Reuse what is finished, resume what left a checkpoint, run the rest.
fn action_for(done: bool, resumable: bool) -> Action {
    match (done, resumable) {
        (true, _) => Action::Reuse,
        (false, true) => Action::Resume,
        (false, false) => Action::Run,
    }
}

impl PointPlan {
    /// The point's complete config.
    pub fn config(&self) -> &ExperimentConfig {
        &self.point.config
    }

    /// The point's task, built (dataset loaded and preprocessed) on first use only.
    pub fn task(&self) -> Result<&Task> {
        if let Some(task) = self.task.get() {
            return Ok(task);
        }
        let (task, inputs) = Task::build(self.config())?;
        let _ = self.inputs.set(inputs);
        Ok(self.task.get_or_init(|| task))
    }

    /// The provenance of a run on this point: config, seed, commit, backend, the dataset files
    /// read and where each dataset came from (builds the task if needed).
    pub fn provenance(&self) -> Result<Provenance> {
        let task = self.task()?;
        let mut provenance = Provenance::collect(self.config(), &self.config_path, task.sources());
        provenance.dataset_inputs = self.inputs.get().cloned().unwrap_or_default();
        Ok(provenance)
    }

    /// The ANN.
    pub fn ann(&self) -> &Network {
        &self.networks[0]
    }

    /// The networks of one kind, in plan order.
    pub fn networks_of(&self, kind: NetworkKind) -> impl Iterator<Item = &Network> {
        self.networks.iter().filter(move |n| n.kind == kind)
    }
}

/// What one spiking network (or the ANN) is evaluated on, over every point that uses it.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The network.
    pub network: Network,
    /// Index in [`Plan::points`] of the first point that uses it (its task scores it).
    pub point: usize,
    /// Splits and T (empty for the ANN) to evaluate; the other settings of that first point.
    pub settings: EvaluateConfig,
}

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// Damaged (the note says which file and why): move it aside and make it again.
    Rebuild,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Run => "run",
            Action::Resume => "resume",
            Action::Reuse => "reuse",
            Action::Rebuild => "rebuild",
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
    /// Details: the T still to simulate, the epochs to train.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_of_a_benchmark_config_reads_no_dataset_and_merges_evaluations() {
        // BSD68 is not in any cache here: building the task would fail, planning must not.
        let text = "name: p\nruns_dir: /nonexistent/runs\ndata:\n  benchmark:\n    dataset: bsd68\n\
                    convert:\n  normalizations: [layer_wise]\n  neurons: [{kind: if, reset: zero}]\n\
                    sweep:\n  grid:\n    evaluate.time_steps: {from: 1, to: 3000, step: 1}\n";
        let config = crate::config::parse(text, Path::new("p.yaml")).expect("valid");
        let plan = Plan::new(config, Path::new("p.yaml"), Shard::ALL).expect("plans");
        assert_eq!(plan.points.len(), 3000);
        let evaluations = plan.evaluations();
        assert_eq!(evaluations.len(), 2, "one ANN and one converted network");
        assert_eq!(evaluations[1].settings.time_steps.len(), 3000);
        let steps = plan.steps().expect("plans");
        let stages: Vec<Stage> = steps.iter().map(|s| s.stage).collect();
        assert_eq!(
            stages,
            [
                Stage::Train,
                Stage::Convert,
                Stage::Evaluate,
                Stage::Evaluate,
                Stage::Report
            ]
        );
        assert!(steps.iter().all(|s| s.action == Action::Run));
        assert!(plan.points.iter().all(|p| p.task.get().is_none()));
    }

    fn plan_of(text: &str) -> Result<Plan> {
        let config = crate::config::parse(text, Path::new("p.yaml"))?;
        Plan::new(config, Path::new("p.yaml"), Shard::ALL)
    }

    fn refused(text: &str) -> Error {
        match plan_of(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(err) => err,
        }
    }

    const BASE: &str = "name: p\ndata:\n  denoising: {}\n";

    #[test]
    fn repeated_points_and_labels_are_refused() {
        let err = refused(&format!(
            "{BASE}sweep:\n  zip:\n    seed: [1, 2]\n  zip_labels: [a, a]\n"
        ));
        assert!(
            err.to_string().contains("`a` names two zipped points"),
            "{err}"
        );
        let err = refused(&format!("{BASE}sweep:\n  grid:\n    seed: [1, 1]\n"));
        assert!(
            err.to_string()
                .contains("field `sweep.grid.seed`: 1 appears twice"),
            "{err}"
        );
    }

    #[test]
    fn report_time_steps_must_be_evaluated() {
        let err = refused(&format!("{BASE}report:\n  time_steps: [999]\n"));
        assert!(
            matches!(&err, Error::ConfigValue { field, .. } if field == "report.time_steps"),
            "{err}"
        );
        assert!(
            err.to_string().contains("T = 999 is not evaluated"),
            "{err}"
        );
        // A T that only a sweep point evaluates is fine.
        plan_of(&format!(
            "{BASE}report:\n  time_steps: [256]\nsweep:\n  grid:\n    evaluate.time_steps: [[4, 256], [8]]\n"
        ))
        .expect("256 is evaluated by the first point");
    }

    #[test]
    fn a_huge_t_needs_to_be_asked_for() {
        let plan =
            plan_of(&format!("{BASE}evaluate:\n  time_steps: [4, 4000000000]\n")).expect("plans");
        let err = plan.check_time_step_bound().expect_err("above the bound");
        assert!(err.to_string().contains("--allow-large-t"), "{err}");
        plan_of(&format!("{BASE}evaluate:\n  time_steps: [4, 1000]\n"))
            .expect("plans")
            .check_time_step_bound()
            .expect("the paper's largest T is fine");
    }
}
