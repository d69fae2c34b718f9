//! The `data.benchmark` section of an experiment config: which public dataset to use, with the
//! authors' settings as defaults, and how it becomes a task (fetch, verify, decode).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spiking_unet_data::{
    DenoisingImages, DenoisingTask, FlipMode, Image, PatchSettings, SegmentationTask,
};

use crate::error::{Error, Result};
use crate::fetch::{FetchOptions, FetchSettings, Materialized, fetch};
use crate::manifest::Manifest;
use crate::pipelines::{camseq, denoising, drive, isbi};

/// The paper's benchmark datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchmarkDataset {
    /// BSD68, gray denoising; trained on BSD400.
    Bsd68,
    /// CBSD68, colour denoising; trained on CBSD432.
    Cbsd68,
    /// Set12, gray denoising; trained on BSD400 (the authors evaluate the BSD model on it).
    Set12,
    /// DRIVE retinal vessels (2 classes).
    Drive,
    /// ISBI 2012 EM membranes (2 classes).
    Isbi2012,
    /// CamSeq01 street scenes (32 classes).
    Camseq01,
}

impl BenchmarkDataset {
    /// The manifest name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bsd68 => "bsd68",
            Self::Cbsd68 => "cbsd68",
            Self::Set12 => "set12",
            Self::Drive => "drive",
            Self::Isbi2012 => "isbi2012",
            Self::Camseq01 => "camseq01",
        }
    }

    fn is_denoising(self) -> bool {
        matches!(self, Self::Bsd68 | Self::Cbsd68 | Self::Set12)
    }
}

/// How denoising test images are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenoisingEvaluation {
    /// The authors' four corner patches, stitched by quadrant (authors-code.md §8.1).
    #[default]
    Corners,
    /// The whole image, mirror-padded to a multiple of the size multiple and cropped back.
    Whole,
}

/// The `data.benchmark` section. Fields left null take the authors' value for the dataset
/// (listed per field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkDataConfig {
    /// bsd68 | cbsd68 | set12 | drive | isbi2012 | camseq01. Required.
    pub dataset: BenchmarkDataset,
    /// Denoising noise level in 8-bit units (the paper: 15, 25, 35, 45, 50). Default 25.
    #[serde(default = "default_sigma")]
    pub sigma: f32,
    /// Denoising evaluation: corners (the authors') | whole. Default corners.
    #[serde(default)]
    pub evaluation: DenoisingEvaluation,
    /// Side of the training patches. Default: drive 48, isbi2012 512 (whole slices),
    /// camseq01 720 (whole-height crops), denoising 64.
    #[serde(default)]
    pub patch_size: Option<usize>,
    /// Training patches per epoch. Default: drive 12000, isbi2012 25, camseq01 81,
    /// denoising 10000 (the authors train on the first 10,000 patches).
    #[serde(default)]
    pub patches_per_epoch: Option<usize>,
    /// Draw the patches once and only reshuffle them each epoch. Default: true for drive (the
    /// authors extract 12,000 patches once), false otherwise.
    #[serde(default)]
    pub fixed_patches: Option<bool>,
    /// Random flips: none | both | vertical. Default: vertical for isbi2012 (the authors'
    /// augmentation), none otherwise.
    #[serde(default)]
    pub flips: Option<FlipMode>,
    /// Training images held out for validation (model selection). Default 0: the test set is
    /// also the validation set, as in the authors' scripts (which select on the test set).
    #[serde(default)]
    pub validation_images: usize,
    /// A folder holding the dataset already (unpacked; for DRIVE the official zip's layout
    /// also works, for ISBI 2012 the TIFF stacks). It must be complete; see
    /// `trust_local_copy`. Default null: download into the cache.
    #[serde(default)]
    pub local_copy: Option<PathBuf>,
    /// For denoising: a folder holding BSDS500 (the training images) already. Default null.
    #[serde(default)]
    pub training_local_copy: Option<PathBuf>,
    /// Accept the local copies' files that no reference SHA-256 vouches for (the manifests
    /// have none yet, so only files recorded by an earlier download have one), once they are
    /// complete and decode. The run's provenance then records the copy as trusted and
    /// unverified ([`LoadedBenchmark::inputs`]). Default false: such a copy is an error.
    /// Left out of the serialised config when false, so existing run keys do not change.
    #[serde(default, skip_serializing_if = "is_false")]
    pub trust_local_copy: bool,
    /// Accept the dataset's terms where its manifest requires an opt-in (DRIVE). Default false.
    #[serde(default)]
    pub accept_terms: bool,
}

fn default_sigma() -> f32 {
    25.0
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Where one dataset a benchmark read came from and how far it was verified: what an
/// experiment's provenance records next to the hashes of the files read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    /// The manifest name (`set12`, `bsds500`, ...).
    pub dataset: String,
    /// The folder the pipeline read: the cache, or the user's local copy.
    pub root: PathBuf,
    /// Whether `root` is a local copy (`local_copy` / `training_local_copy`) rather than the
    /// download cache.
    pub local_copy: bool,
    /// The local copy's files (relative to `root`) accepted without a reference SHA-256
    /// because the config set `trust_local_copy`. Empty: every file matched a reference hash.
    pub trusted_unverified: Vec<String>,
}

impl DatasetInput {
    fn new(dataset: &str, local_copy: bool, data: &Materialized) -> Self {
        Self {
            dataset: dataset.to_owned(),
            root: data.root.clone(),
            local_copy,
            trusted_unverified: data.trusted_unverified.clone(),
        }
    }

    /// Every file read matched a reference SHA-256 (the manifest's or a recorded download's).
    pub fn is_verified(&self) -> bool {
        self.trusted_unverified.is_empty()
    }

    /// One line for logs and reports, e.g. "set12: trusted local copy /data/Set12, unverified
    /// (12 file(s) without a reference SHA-256)".
    pub fn summary(&self) -> String {
        let origin = if self.local_copy {
            "local copy"
        } else {
            "download cache"
        };
        if self.is_verified() {
            format!(
                "{}: {origin} {}, verified by SHA-256",
                self.dataset,
                self.root.display()
            )
        } else {
            format!(
                "{}: trusted {origin} {}, unverified ({} file(s) without a reference SHA-256)",
                self.dataset,
                self.root.display(),
                self.trusted_unverified.len()
            )
        }
    }
}

/// A benchmark task with the account of where its data came from.
pub struct LoadedBenchmark {
    /// The decoded task.
    pub task: BenchmarkTask,
    /// Every dataset read, in order: the test set, then (denoising) the training set.
    pub inputs: Vec<DatasetInput>,
}

/// A benchmark dataset decoded into one of the data crate's tasks.
pub enum BenchmarkTask {
    /// BSD68, CBSD68 or Set12.
    Denoising(DenoisingTask),
    /// DRIVE, ISBI 2012 or CamSeq01.
    Segmentation(SegmentationTask),
}

impl BenchmarkDataConfig {
    /// Whether this is a denoising dataset (else segmentation).
    pub fn is_denoising(&self) -> bool {
        self.dataset.is_denoising()
    }

    /// Whether the authors' training loader serves whole images (ISBI 2012 slices, CamSeq01
    /// frames) rather than patches (DRIVE, the denoising sets): their conversion then
    /// calibrates on those whole images, in file order.
    pub fn trains_on_whole_images(&self) -> bool {
        matches!(
            self.dataset,
            BenchmarkDataset::Isbi2012 | BenchmarkDataset::Camseq01
        )
    }

    /// Checks the fields that do not need the data; `size_multiple` is 2^depth.
    pub fn validate(&self, size_multiple: usize) -> Result<()> {
        let invalid = |field: &str, message: String| {
            Err(Error::InvalidConfig {
                field: format!("data.benchmark.{field}"),
                message,
            })
        };
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return invalid(
                "sigma",
                format!("must be a positive number, got {}", self.sigma),
            );
        }
        let patch = self.patch_settings().patch_size;
        if patch == 0 || !patch.is_multiple_of(size_multiple) {
            return invalid(
                "patch_size",
                format!("{patch} must be a positive multiple of {size_multiple} (2^model.depth)"),
            );
        }
        if self.patch_settings().patches_per_epoch == 0 {
            return invalid("patches_per_epoch", "must be at least 1".into());
        }
        Ok(())
    }

    /// Patch size, count, flips and sampling with the dataset defaults filled in.
    pub fn patch_settings(&self) -> PatchSettings {
        use BenchmarkDataset::*;
        let (patch_size, patches_per_epoch, fixed, flips) = match self.dataset {
            Drive => (48, 12_000, true, FlipMode::None),
            Isbi2012 => (512, 25, false, FlipMode::Vertical),
            Camseq01 => (720, 81, false, FlipMode::None),
            Bsd68 | Cbsd68 | Set12 => (64, 10_000, false, FlipMode::None),
        };
        PatchSettings {
            patch_size: self.patch_size.unwrap_or(patch_size),
            patches_per_epoch: self.patches_per_epoch.unwrap_or(patches_per_epoch),
            flips: self.flips.unwrap_or(flips),
            fixed: self.fixed_patches.unwrap_or(fixed),
        }
    }

    /// Fetches (or verifies) the dataset and builds its task. Deterministic in `seed`.
    ///
    /// Drops the account of where the data came from; [`Self::load_with_inputs`] keeps it.
    pub fn load(
        &self,
        seed: u64,
        size_multiple: usize,
        settings: &FetchSettings,
    ) -> Result<BenchmarkTask> {
        Ok(self.load_with_inputs(seed, size_multiple, settings)?.task)
    }

    /// Fetches (or verifies) the dataset, builds its task, and says where each dataset read
    /// came from and whether it was verified (for the run's provenance). Deterministic in
    /// `seed`.
    pub fn load_with_inputs(
        &self,
        seed: u64,
        size_multiple: usize,
        settings: &FetchSettings,
    ) -> Result<LoadedBenchmark> {
        self.validate(size_multiple)?;
        let mut inputs = Vec::new();
        let manifest = Manifest::named(self.dataset.name())?;
        let data = self.materialize(&manifest, &self.local_copy, settings, &mut inputs)?;
        let patches = self.patch_settings();
        let with_holdout = self.validation_images;
        let task = match self.dataset {
            BenchmarkDataset::Drive => {
                let options = drive::DriveOptions {
                    validation_images: with_holdout,
                    ..Default::default()
                };
                BenchmarkTask::Segmentation(SegmentationTask::from_images(
                    drive::load(&data.root, &options)?,
                    patches,
                    seed,
                ))
            }
            BenchmarkDataset::Isbi2012 => {
                let mut options = isbi::IsbiOptions::default();
                if with_holdout > 0 {
                    let train: Vec<usize> = (0..30)
                        .filter(|s| !options.test_slices.contains(s))
                        .collect();
                    options.validation_slices =
                        train[train.len().saturating_sub(with_holdout)..].to_vec();
                }
                BenchmarkTask::Segmentation(SegmentationTask::from_images(
                    isbi::load(&data.root, &options)?,
                    patches,
                    seed,
                ))
            }
            BenchmarkDataset::Camseq01 => {
                let options = camseq::CamSeqOptions {
                    validation_frames: with_holdout,
                    size_multiple,
                    ..Default::default()
                };
                BenchmarkTask::Segmentation(SegmentationTask::from_images(
                    camseq::load(&data.root, &options)?,
                    patches,
                    seed,
                ))
            }
            BenchmarkDataset::Bsd68 | BenchmarkDataset::Cbsd68 | BenchmarkDataset::Set12 => {
                let set = match self.dataset {
                    BenchmarkDataset::Bsd68 => denoising::TestSet::Bsd68,
                    BenchmarkDataset::Cbsd68 => denoising::TestSet::Cbsd68,
                    _ => denoising::TestSet::Set12,
                };
                let layout = match self.evaluation {
                    DenoisingEvaluation::Corners => denoising::DenoisingEvaluation::Corners,
                    DenoisingEvaluation::Whole => denoising::DenoisingEvaluation::Whole,
                };
                let (test, mut sources) =
                    denoising::load_test_set(&data.root, set, layout, size_multiple)?;
                let color = self.dataset == BenchmarkDataset::Cbsd68;
                let training = Manifest::named("bsds500")?;
                let training_data =
                    self.materialize(&training, &self.training_local_copy, settings, &mut inputs)?;
                let exclude: Vec<Image> = test.iter().map(|(_, image, _)| image.clone()).collect();
                let (mut train, training_sources) = denoising::load_training_set(
                    &training_data.root,
                    color,
                    if color { &exclude } else { &[] },
                )?;
                sources.extend(training_sources);
                let validation = if with_holdout > 0 {
                    let held: Vec<Image> =
                        train.split_off(train.len().saturating_sub(with_holdout));
                    held.into_iter()
                        .enumerate()
                        .map(|(index, image)| {
                            let layout = spiking_unet_data::EvalLayout::whole_padded(
                                image.height,
                                image.width,
                                size_multiple,
                            );
                            (format!("train_holdout_{index:03}"), image, layout)
                        })
                        .collect()
                } else {
                    test.clone()
                };
                let images = DenoisingImages {
                    channels: if color { 3 } else { 1 },
                    train,
                    validation,
                    test,
                    sources,
                };
                BenchmarkTask::Denoising(DenoisingTask::from_images(
                    images, self.sigma, patches, seed,
                ))
            }
        };
        Ok(LoadedBenchmark { task, inputs })
    }

    /// Fetches `manifest`'s dataset (or checks `local_copy`), logs what happened, and adds it
    /// to `inputs`.
    fn materialize(
        &self,
        manifest: &Manifest,
        local_copy: &Option<PathBuf>,
        settings: &FetchSettings,
        inputs: &mut Vec<DatasetInput>,
    ) -> Result<Materialized> {
        let options = FetchOptions {
            accept_terms: self.accept_terms,
            local_copy: local_copy.clone(),
            trust_local_copy: self.trust_local_copy,
        };
        let data = fetch(manifest, settings, &options)?;
        for note in &data.notes {
            tracing::info!("{note}");
        }
        let input = DatasetInput::new(&manifest.name, local_copy.is_some(), &data);
        if !input.is_verified() {
            tracing::warn!("{}", input.summary());
        }
        inputs.push(input);
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use image::ImageFormat;

    use super::*;
    use crate::pipelines::decode::fixtures::{encode, write};

    /// A Set12 copy (12 gray PNGs) and a BSDS500 copy (200 + 200 + 100 JPEGs), 16 x 16.
    fn local_copies() -> (tempfile::TempDir, tempfile::TempDir) {
        let picture = |seed: usize, channels: usize| -> Vec<u8> {
            (0..16 * 16 * channels)
                .map(|i| ((i * 7 + seed * 13) % 256) as u8)
                .collect()
        };
        let set12 = tempfile::tempdir().unwrap();
        for k in 1..=12 {
            write(
                set12.path(),
                &format!("testsets/Set12/{k:02}.png"),
                &encode(&picture(k, 1), 16, 16, 1, ImageFormat::Png),
            );
        }
        let bsds = tempfile::tempdir().unwrap();
        for (split, count) in [("train", 200), ("test", 200), ("val", 100)] {
            let jpeg = encode(&picture(count, 3), 16, 16, 3, ImageFormat::Jpeg);
            for k in 0..count {
                write(
                    bsds.path(),
                    &format!("BSDS500/data/images/{split}/{k}.jpg"),
                    &jpeg,
                );
            }
        }
        (set12, bsds)
    }

    fn config(set12: &Path, bsds: &Path, trust: bool) -> BenchmarkDataConfig {
        let text = format!(
            "dataset: set12\nevaluation: whole\npatch_size: 8\npatches_per_epoch: 4\nlocal_copy: {}\ntraining_local_copy: {}\ntrust_local_copy: {trust}\n",
            set12.display(),
            bsds.display()
        );
        serde_saphyr::from_str(&text).unwrap()
    }

    #[test]
    fn trusted_local_copies_load_and_say_they_are_unverified() {
        let (set12, bsds) = local_copies();
        let cache = tempfile::tempdir().unwrap();
        let settings = FetchSettings {
            data_cache: cache.path().join("data"),
            hub_cache: cache.path().join("hub"),
            offline: true,
            ..FetchSettings::from_env()
        };

        let untrusted = config(set12.path(), bsds.path(), false);
        let err = untrusted.load_with_inputs(1, 4, &settings).err().unwrap();
        assert!(
            matches!(err, Error::LocalCopyUnverified { count: 12, .. }),
            "{err}"
        );

        let trusted = config(set12.path(), bsds.path(), true);
        let loaded = trusted.load_with_inputs(1, 4, &settings).unwrap();
        assert!(matches!(loaded.task, BenchmarkTask::Denoising(_)));
        let summaries: Vec<(String, usize, bool)> = loaded
            .inputs
            .iter()
            .map(|i| (i.dataset.clone(), i.trusted_unverified.len(), i.local_copy))
            .collect();
        assert_eq!(
            summaries,
            [("set12".into(), 12, true), ("bsds500".into(), 500, true)]
        );
        assert!(loaded.inputs[0].summary().contains("trusted local copy"));
        assert_eq!(loaded.inputs[0].root, set12.path());
    }

    #[test]
    fn trust_is_serialised_only_when_set_so_run_keys_do_not_change() {
        let (set12, bsds) = (Path::new("/a"), Path::new("/b"));
        let plain = serde_json::to_string(&config(set12, bsds, false)).unwrap();
        assert!(!plain.contains("trust_local_copy"), "{plain}");
        let trusted = serde_json::to_string(&config(set12, bsds, true)).unwrap();
        assert!(trusted.contains("\"trust_local_copy\":true"), "{trusted}");
    }
}
