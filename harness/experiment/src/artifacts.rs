//! Artifact plumbing shared by every stage: the provenance that makes a number traceable to a
//! config, a seed, a commit, a backend and the exact dataset files; the versions of the code
//! that keys hash; and atomic writes, hashes and (de)serialisation of JSON and weights.
//!
//! Everything a later run trusts is verifiable: JSON documents are *sealed* (they carry the
//! sha256 of their own content, see [`write_sealed`]), and a manifest records the sha256 of
//! every other file it vouches for (see [`crate::manifest::Contents`]).
//!
//! An artifact folder is named by a hash of everything its result depends on (see
//! [`crate::networks`]), so rerunning a config finds, and resumes or reuses, the same folder,
//! and changing a setting that matters gives a new one instead of silently mixing results.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::Tensor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ExperimentConfig;
use crate::{Error, Result};

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
    /// Where each benchmark dataset came from: the download cache, or a local copy, and which
    /// of a local copy's files were trusted without a reference hash (`trust_local_copy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dataset_inputs: Vec<spiking_unet_datasets::DatasetInput>,
    /// Version of this harness.
    pub harness_version: String,
    /// Version of burn it was built with.
    pub burn_version: String,
    /// Worker threads the run computed with (`--threads`, else one per core).
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
            dataset_inputs: Vec::new(),
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            burn_version: BURN_VERSION.to_string(),
            threads: spiking_unet_core::device::worker_threads(),
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
    /// Scoring and spike counting: names the evaluation cache folder (`evaluation-v<n>`), so
    /// cached evaluations are redone when it changes.
    pub evaluate: u32,
}

/// The current [`CodeVersions`].
// Version 2 of each: sealed manifests and caches that record the hashes of their files.
pub const CODE_VERSIONS: CodeVersions = CodeVersions {
    train: 2,
    convert: 2,
    finetune: 2,
    evaluate: 2,
};

/// burn's version, pinned in the workspace manifest.
const BURN_VERSION: &str = "0.22.1";

pub use spiking_unet_report::checksum::sha256_of;

/// SHA-256 of a file's bytes, as hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(spiking_unet_report::checksum::sha256_file(path)?)
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

/// Rows as CSV text (the first row is the header): fields with commas, quotes or line breaks
/// are quoted, so a label such as `mt[2,1]` stays one field.
pub fn csv_text(rows: &[Vec<String>]) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(row)
            .map_err(|err| Error::Argument(format!("writing CSV: {err}")))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|err| Error::Argument(format!("writing CSV: {err}")))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 strings is UTF-8"))
}

/// Read a JSON document.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// SHA-256 of a file as a [`Error::Damaged`] check: `Ok` when it matches `expected`.
pub fn verify_file(path: &Path, expected: &str) -> Result<()> {
    if !path.exists() {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            reason: "missing, but its manifest vouches for it".into(),
        });
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            reason: format!("sha256 is {actual}, but {expected} was recorded when it was written"),
        });
    }
    Ok(())
}

// A sealed document is ordinary JSON, `{"sha256": <hex>, "content": <document>}`, written in
// exactly this layout so that the content's bytes can be hashed as they lie in the file (a
// parse and re-serialisation could change float digits and break the seal on a clean file).
const SEAL_OPEN: &str = "{\n  \"sha256\": \"";
const SEAL_MIDDLE: &str = "\",\n  \"content\": ";
const SEAL_CLOSE: &str = "\n}\n";

/// Write `value` as a sealed JSON document, atomically: the file carries the sha256 of its
/// content, so that [`read_sealed`] notices any change to it, a flipped byte or an edited value.
pub fn write_sealed(path: &Path, value: &impl Serialize) -> Result<()> {
    let content = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let hash = sha256_of(content.as_bytes());
    write_atomic(
        path,
        format!("{SEAL_OPEN}{hash}{SEAL_MIDDLE}{content}{SEAL_CLOSE}").as_bytes(),
    )
}

/// Read a document written by [`write_sealed`]; a document whose content does not match its
/// seal, or that is not sealed at all, is [`Error::Damaged`].
pub fn read_sealed<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    let damaged = |reason: String| Error::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    let unsealed = || {
        damaged(
            "not a sealed document (truncated, edited by hand, or written by an older version \
             of this harness)"
                .into(),
        )
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| unsealed())?;
    let rest = text.strip_prefix(SEAL_OPEN).ok_or_else(unsealed)?;
    let (recorded, rest) = rest.split_at_checked(64).ok_or_else(unsealed)?;
    let content = rest
        .strip_prefix(SEAL_MIDDLE)
        .and_then(|r| r.strip_suffix(SEAL_CLOSE))
        .ok_or_else(unsealed)?;
    let actual = sha256_of(content.as_bytes());
    if actual != recorded {
        return Err(damaged(format!(
            "its content hashes to {actual}, but it was sealed with {recorded}"
        )));
    }
    serde_json::from_str(content).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// SHA-256 of a module's parameters: every float tensor's path, shape and values, in the
/// module's order. Identical weights hash alike whatever file holds them (a burnpack file also
/// holds random parameter ids, so its bytes differ between identical runs).
pub fn weights_sha256<M: Module>(module: &M) -> String {
    let mut visitor = WeightsHasher {
        path: Vec::new(),
        hasher: Sha256::new(),
    };
    module.visit(&mut visitor);
    spiking_unet_report::checksum::hex(&visitor.hasher.finalize())
}

struct WeightsHasher {
    path: Vec<String>,
    hasher: Sha256,
}

impl ModuleVisitor for WeightsHasher {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data();
        self.hasher.update(self.path.join(".").as_bytes());
        for dim in data.shape().iter() {
            self.hasher.update((*dim as u64).to_le_bytes());
        }
        self.hasher.update(data.as_bytes());
    }
}

/// Save a module's parameters (burnpack, parameter ids kept so optimizer state still matches).
/// Returns the sha256 of the bytes written.
pub fn save_module<M: Module>(module: M, path: &Path) -> Result<String> {
    let record_error = |err: burn::store::RecordError| Error::Record {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    let bytes = module.into_record().into_bytes().map_err(record_error)?;
    write_atomic(path, &bytes)?;
    Ok(sha256_of(&bytes))
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

/// The commit of the working tree, `-dirty` when it has changes to tracked files outside
/// `results/`: a run that regenerates the committed results rewrites them, and that alone does
/// not make the code it ran differ from the commit.
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
            let outside_results = [":/", ":(top,exclude)results"];
            let dirty = run(&[
                &["status", "--porcelain", "--untracked-files=no", "--"][..],
                &outside_results,
            ]
            .concat())
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
    fn csv_fields_with_separators_are_quoted() {
        let rows = vec![
            vec!["model".to_string(), "value".into()],
            vec!["mt[2,1] \"x\"".to_string(), "1.5".into()],
        ];
        assert_eq!(
            csv_text(&rows).expect("writes"),
            "model,value\n\"mt[2,1] \"\"x\"\"\",1.5\n"
        );
    }

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
}
