//! Artifact folders: where each stage writes, how (atomically), and the provenance manifest
//! that makes every number traceable to a config, a seed, a commit, a backend and the exact
//! dataset files.
//!
//! A stage's folder is named by a hash of everything its result depends on, so rerunning a
//! config finds (and resumes or reuses) the same folder, and changing a setting that matters
//! gives a new one instead of silently mixing results.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spiking_unet_core::model::UNetConfig;

use crate::config::{ExperimentConfig, Split};
use crate::{Error, Result};

/// File names inside an artifact folder, in one place so readers and writers agree.
pub mod files {
    /// The provenance manifest ([`super::Manifest`]).
    pub const MANIFEST: &str = "manifest.json";
    /// The selected model's parameters (burnpack).
    pub const MODEL: &str = "model.bpk";
    /// Per-epoch training curve.
    pub const TRAINING_CURVE: &str = "training_curve.csv";
    /// Folder of the resumable training state.
    pub const CHECKPOINT_DIR: &str = "checkpoint";
    /// Evaluation results (tidy CSV: split, image, metric, value).
    pub const EVALUATION: &str = "evaluation.csv";
}

/// What an artifact folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// A trained ANN U-Net.
    Ann,
}

/// Where a number came from: enough to rerun it and to notice when inputs changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The config file the run was started from.
    pub config_path: PathBuf,
    /// Master seed.
    pub seed: u64,
    /// `git rev-parse HEAD` of the working tree, with `-dirty` when it had uncommitted
    /// changes; `unknown` outside a git checkout.
    pub git_commit: String,
    /// Backend name (`flex`, `wgpu`, ...).
    pub backend: String,
    /// What the backend ran on: the CPU model, or the wgpu adapter, graphics API and driver
    /// (a software Vulkan such as lavapipe says so here). Empty in manifests written before
    /// it was recorded.
    #[serde(default)]
    pub device: String,
    /// `(file, sha256)` of every dataset file read.
    pub dataset_files: Vec<(String, String)>,
    /// Version of this harness.
    pub harness_version: String,
    /// Version of burn it was built with.
    pub burn_version: String,
    /// Worker threads available to the run.
    pub threads: usize,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
}

impl Provenance {
    /// Collect the provenance of a run of `config` read from `config_path`.
    pub fn collect(
        config: &ExperimentConfig,
        config_path: &Path,
        dataset_files: Vec<(String, String)>,
    ) -> Self {
        Provenance {
            config_path: config_path.to_path_buf(),
            seed: config.seed,
            git_commit: git_commit(),
            backend: config.backend.clone(),
            device: spiking_unet_core::device::describe(&config.backend)
                .unwrap_or_else(|err| err.to_string()),
            dataset_files,
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            burn_version: BURN_VERSION.to_string(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

/// Versions of the code that makes each kind of artifact. An artifact's key hashes the version
/// of its stage, so bumping one (when a change alters results) makes every run redo that stage
/// and what follows instead of reusing stale files.
pub struct CodeVersions {
    /// ANN training (and import).
    pub train: u32,
    /// Conversion.
    pub convert: u32,
    /// Fine-tuning.
    pub finetune: u32,
}

/// The current [`CodeVersions`]; evaluation has its own, `evaluate::EVALUATION_VERSION`.
pub const CODE_VERSIONS: CodeVersions = CodeVersions {
    train: 1,
    convert: 1,
    finetune: 1,
};

/// burn's version, pinned in the workspace manifest.
const BURN_VERSION: &str = "0.22.1";

/// How training ended, for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs run.
    pub epochs: usize,
    /// Epoch (1-based) whose weights were kept.
    pub selected_epoch: usize,
    /// Split the selection looked at.
    pub selection_split: Split,
    /// Metric the selection maximised (`psnr`, `f1` or `miou`).
    pub selection_metric: String,
    /// Its value at the selected epoch.
    pub selection_value: f64,
    /// Wall-clock seconds spent training, summed over resumed sessions.
    pub seconds: f64,
}

/// The manifest of an artifact folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What the folder holds.
    pub kind: ArtifactKind,
    /// The hash naming the folder.
    pub key: String,
    /// The resolved config.
    pub config: ExperimentConfig,
    /// The network, to rebuild it before loading the weights.
    pub unet: UNetConfig,
    /// Where it came from.
    pub provenance: Provenance,
    /// Present once training finished.
    pub training: Option<TrainingSummary>,
    /// `(file, sha256)` when the weights were imported (`model.pretrained`) instead of trained.
    #[serde(default)]
    pub imported_from: Option<(PathBuf, String)>,
}

impl Manifest {
    /// Read `manifest.json` of an artifact folder.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(files::MANIFEST);
        if !path.exists() {
            return Err(Error::Artifact {
                path: dir.to_path_buf(),
                message: format!(
                    "no {} here; is this an artifact folder written by `train`?",
                    files::MANIFEST
                ),
            });
        }
        read_json(&path)
    }
}

/// The folder of the ANN trained by `config`: `<runs_dir>/<name>/ann-<key>`.
pub fn ann_dir(config: &ExperimentConfig) -> PathBuf {
    config
        .runs_dir
        .join(&config.name)
        .join(format!("ann-{}", ann_key(config)))
}

/// Hash of everything a trained ANN depends on: schema version, seed, backend, data, model and
/// training settings (not the evaluation settings, not the name).
pub fn ann_key(config: &ExperimentConfig) -> String {
    let inputs = serde_json::json!({
        "code": CODE_VERSIONS.train,
        "version": config.version,
        "seed": config.seed,
        "backend": config.backend,
        "data": config.data,
        "model": config.model,
        "train": config.train,
        // Imported weights are identified by content, so replacing the file gives a new key.
        "pretrained": config.model.pretrained.as_ref().map(|p| sha256_file(p).unwrap_or_else(|_| p.display().to_string())),
    });
    short_hash(inputs.to_string().as_bytes())
}

/// SHA-256 of a file's bytes, as hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl Manifest {
    /// True when the folder holds usable weights (trained to the end, or imported).
    pub fn is_complete(&self) -> bool {
        self.training.is_some() || self.imported_from.is_some()
    }
}

/// First 12 hex digits of the SHA-256 of `bytes`.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Write `bytes` to `path` so that readers see either the old file or the whole new one
/// (see [`spiking_unet_report::atomic::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(spiking_unet_report::atomic::write_atomic(path, bytes)?)
}

/// Write `value` as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, text.as_bytes())
}

/// Read a JSON document.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Save a module's parameters (burnpack, parameter ids kept so optimizer state still matches).
pub fn save_module<M: Module>(module: M, path: &Path) -> Result<()> {
    let record_error = |err: burn::store::RecordError| Error::Record {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    let bytes = module.into_record().into_bytes().map_err(record_error)?;
    write_atomic(path, &bytes)
}

/// Load parameters saved by [`save_module`] into `template`, which must have the same structure.
pub fn load_module<M: Module>(template: M, path: &Path) -> Result<M> {
    let record_error = |err: burn::store::RecordError| Error::Record {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    if !path.exists() {
        return Err(Error::Record {
            path: path.to_path_buf(),
            message: "file not found".into(),
        });
    }
    let record = ModuleRecord::load(path).map_err(record_error)?;
    template.try_load_record(record).map_err(record_error)
}

/// Export the weights of an ANN or SNN artifact folder as safetensors in the authors' naming.
pub fn export_weights(dir: &Path, out: &Path) -> Result<()> {
    #[derive(Deserialize)]
    struct Shape {
        unet: UNetConfig,
        config: ExperimentConfig,
    }
    let shape: Shape = read_json(&dir.join(files::MANIFEST)).map_err(|_| Error::Artifact {
        path: dir.to_path_buf(),
        message: "not an artifact folder (no readable manifest.json)".into(),
    })?;
    let device = spiking_unet_core::device::device(&shape.config.backend)?;
    let model = load_module(shape.unet.init(&device)?, &dir.join(files::MODEL))?;
    spiking_unet_core::interop::export_safetensors(&model, out)?;
    Ok(())
}

/// The commit of the working tree, `-dirty` when it has changes to tracked files.
fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("sub/a.json");
        write_json(&path, &vec![1, 2, 3]).expect("first write");
        write_json(&path, &vec![4]).expect("second write");
        let back: Vec<i32> = read_json(&path).expect("read back");
        assert_eq!(back, vec![4]);
        let entries = std::fs::read_dir(path.parent().expect("has parent"))
            .expect("list")
            .count();
        assert_eq!(entries, 1, "only the target file remains");
    }

    #[test]
    fn keys_change_with_training_inputs_but_not_with_evaluation_settings() {
        let text = "name: t\ndata:\n  denoising: {}\n";
        let base = crate::config::parse(text, Path::new("t.yaml")).expect("valid");
        let mut other_eval = base.clone();
        other_eval.evaluate.splits = vec![Split::Validation];
        assert_eq!(ann_key(&base), ann_key(&other_eval));
        let mut other_seed = base.clone();
        other_seed.seed = 1;
        assert_ne!(ann_key(&base), ann_key(&other_seed));
    }
}
