//! The `data.benchmark` section of an experiment config: which public dataset to use, with the
//! authors' settings as defaults, and how it becomes a task (fetch, verify, decode).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spiking_unet_data::{
    DenoisingImages, DenoisingTask, FlipMode, Image, PatchSettings, SegmentationTask,
};

use crate::error::{Error, Result};
use crate::fetch::{FetchOptions, FetchSettings, fetch};
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
    /// also works). Default null: download into the cache.
    #[serde(default)]
    pub local_copy: Option<PathBuf>,
    /// For denoising: a folder holding BSDS500 (the training images) already. Default null.
    #[serde(default)]
    pub training_local_copy: Option<PathBuf>,
    /// Accept the dataset's terms where its manifest requires an opt-in (DRIVE). Default false.
    #[serde(default)]
    pub accept_terms: bool,
}

fn default_sigma() -> f32 {
    25.0
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
    pub fn load(
        &self,
        seed: u64,
        size_multiple: usize,
        settings: &FetchSettings,
    ) -> Result<BenchmarkTask> {
        self.validate(size_multiple)?;
        let manifest = Manifest::named(self.dataset.name())?;
        let options = FetchOptions {
            accept_terms: self.accept_terms,
            local_copy: self.local_copy.clone(),
        };
        let data = fetch(&manifest, settings, &options)?;
        let patches = self.patch_settings();
        let with_holdout = self.validation_images;
        Ok(match self.dataset {
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
                let training_options = FetchOptions {
                    accept_terms: self.accept_terms,
                    local_copy: self.training_local_copy.clone(),
                };
                let training_data = fetch(&training, settings, &training_options)?;
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
        })
    }
}
