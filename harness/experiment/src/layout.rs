//! Where everything lives on disk. Every folder and file name the stages read or write is
//! spelled here and nowhere else, so a reader (the planner, `evaluate --artifact`, a test) and
//! the writer of a file always agree.
//!
//! ```text
//! <runs_dir>/<name>/                 ExperimentDir
//!   .lock                            held while upstream artifacts are made
//!   comparison.csv                   every network of the last evaluated point
//!   ann-<key>/  snn-<key>/  ft-<key>/   ArtifactDir, one per network
//!     manifest.json  model.bpk  scale_factors.json  training_curve.csv
//!     evaluation.csv  layers.csv
//!     checkpoint/state.json  checkpoint/epoch-<k>/{model,optimizer}.bpk
//!     evaluation-v<version>/<weights hash>/<split>/{ann.json, T<t>.json, pictures/<image>/<panel>.png}
//! ```

use std::path::{Path, PathBuf};

use crate::artifacts::CODE_VERSIONS;
use crate::config::{ExperimentConfig, Split};

/// The weights of an artifact folder, burnpack.
pub const MODEL_FILE: &str = "model.bpk";

/// The per-layer scale factors of a spiking network, sealed JSON.
pub const SCALE_FACTORS_FILE: &str = "scale_factors.json";

/// The files a spiking network's manifest vouches for.
pub const SNN_FILES: [&str; 2] = [MODEL_FILE, SCALE_FACTORS_FILE];

/// The folder of one experiment's artifacts, `<runs_dir>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentDir(PathBuf);

impl ExperimentDir {
    /// The artifacts folder of `config`.
    pub fn of(config: &ExperimentConfig) -> Self {
        ExperimentDir(config.runs_dir.join(&config.name))
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A trained (or imported) ANN.
    pub fn ann(&self, key: &str) -> ArtifactDir {
        ArtifactDir(self.0.join(format!("ann-{key}")))
    }

    /// A converted network.
    pub fn converted(&self, key: &str) -> ArtifactDir {
        ArtifactDir(self.0.join(format!("snn-{key}")))
    }

    /// A fine-tuned network.
    pub fn finetuned(&self, key: &str) -> ArtifactDir {
        ArtifactDir(self.0.join(format!("ft-{key}")))
    }

    /// The lock file that serialises shards making the same upstream artifacts.
    pub fn lock(&self) -> PathBuf {
        self.0.join(".lock")
    }

    /// Every network of a point, side by side (tidy CSV with a `model` column).
    pub fn comparison_csv(&self) -> PathBuf {
        self.0.join("comparison.csv")
    }
}

/// One artifact folder: an ANN, a converted or a fine-tuned network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactDir(PathBuf);

impl ArtifactDir {
    /// An artifact folder given by its path (`evaluate --artifact DIR`).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        ArtifactDir(path.into())
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The hash in the folder's name (`ann-<key>` → `<key>`).
    pub fn key(&self) -> String {
        let name = self
            .0
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match name.split_once('-') {
            Some((_, key)) => key.to_string(),
            None => name,
        }
    }

    /// The provenance manifest; its presence marks a usable artifact.
    pub fn manifest(&self) -> PathBuf {
        self.0.join("manifest.json")
    }

    /// The selected (or converted) parameters, burnpack.
    pub fn model(&self) -> PathBuf {
        self.0.join(MODEL_FILE)
    }

    /// Per-layer scale factors of a converted network (readable JSON).
    pub fn scale_factors(&self) -> PathBuf {
        self.0.join(SCALE_FACTORS_FILE)
    }

    /// Per-epoch training curve.
    pub fn training_curve(&self) -> PathBuf {
        self.0.join("training_curve.csv")
    }

    /// Every evaluated row (tidy CSV: split, image, time_steps, metric, value).
    pub fn evaluation_csv(&self) -> PathBuf {
        self.0.join("evaluation.csv")
    }

    /// Per-layer spike figures of a spiking network.
    pub fn layers_csv(&self) -> PathBuf {
        self.0.join("layers.csv")
    }

    /// The resumable training state.
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.0.join("checkpoint")
    }

    /// `checkpoint/state.json`: which epoch's files are complete. Written last, atomically.
    pub fn checkpoint_state(&self) -> PathBuf {
        self.checkpoint_dir().join("state.json")
    }

    /// The weights and optimizer state after `epoch`.
    pub fn checkpoint_epoch(&self, epoch: usize) -> EpochFiles {
        let dir = self.checkpoint_dir().join(format!("epoch-{epoch}"));
        EpochFiles {
            model: dir.join("model.bpk"),
            optimizer: dir.join("optimizer.bpk"),
            dir,
        }
    }

    /// The evaluations of the weights whose [`crate::manifest::Contents::weights_sha256`] is
    /// `weights_sha256`: `evaluation-v<version>/<first 12 hex digits>/`. The folder carries the
    /// evaluation code's version, so a change in scoring starts a fresh cache, and the weights'
    /// hash, so evaluations of other weights are never read back for these.
    pub fn evaluations(&self, weights_sha256: &str) -> EvaluationCache {
        let short = weights_sha256.get(..12).unwrap_or(weights_sha256);
        EvaluationCache(
            self.0
                .join(format!("evaluation-v{}", CODE_VERSIONS.evaluate))
                .join(short),
        )
    }
}

/// The cached evaluations of one network's weights, one sealed JSON file per split and T.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationCache(PathBuf);

impl EvaluationCache {
    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The evaluations of `split`.
    pub fn split_dir(&self, split: Split) -> PathBuf {
        self.0.join(split.to_string())
    }

    /// The cached evaluation of `split`: `ann.json` for the ANN, `T<t>.json` for a spiking
    /// network at `t` steps. Its presence means that evaluation is done.
    pub fn file(&self, split: Split, time_steps: Option<usize>) -> PathBuf {
        self.split_dir(split).join(match time_steps {
            Some(t) => format!("T{t}.json"),
            None => "ann.json".into(),
        })
    }

    /// The T among `steps` whose evaluation of `split` is not cached yet.
    pub fn unevaluated(&self, split: Split, steps: &[usize]) -> Vec<usize> {
        steps
            .iter()
            .copied()
            .filter(|&t| !self.file(split, Some(t)).exists())
            .collect()
    }

    /// Whether the ANN's evaluation of `split` is cached.
    pub fn ann_evaluated(&self, split: Split) -> bool {
        self.file(split, None).exists()
    }

    /// A picture for the qualitative figures: `pictures/<image>/{input,target,ann,T8}.png`.
    pub fn picture(&self, split: Split, image: &str, panel: &str) -> PathBuf {
        self.pictures(split)
            .join(image)
            .join(format!("{panel}.png"))
    }

    /// The pictures of `split`.
    pub fn pictures(&self, split: Split) -> PathBuf {
        self.split_dir(split).join("pictures")
    }
}

impl std::fmt::Display for ArtifactDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.display().fmt(f)
    }
}

/// The files of one checkpointed epoch.
pub struct EpochFiles {
    /// `checkpoint/epoch-<k>/`.
    pub dir: PathBuf,
    /// The weights.
    pub model: PathBuf,
    /// The optimizer state (moments, step counts).
    pub optimizer: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        let config = crate::config::parse(
            "name: t\nruns_dir: runs\ndata:\n  denoising: {}\n",
            Path::new("t.yaml"),
        )
        .expect("valid");
        let runs = ExperimentDir::of(&config);
        assert_eq!(runs.path(), Path::new("runs/t"));
        let ft = runs.finetuned("0123abcd");
        assert_eq!(ft.path(), Path::new("runs/t/ft-0123abcd"));
        assert_eq!(ft.key(), "0123abcd");
        assert_eq!(
            ft.evaluations("abcdef0123456789")
                .file(Split::Test, Some(8)),
            Path::new("runs/t/ft-0123abcd/evaluation-v2/abcdef012345/test/T8.json")
        );
        assert_eq!(
            runs.ann("k").checkpoint_epoch(3).optimizer,
            Path::new("runs/t/ann-k/checkpoint/epoch-3/optimizer.bpk")
        );
    }
}
