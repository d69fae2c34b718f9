//! The quickstart denoising task: additive Gaussian noise on embedded CC0 photographs.
//!
//! Mirrors the paper's denoising setup (clean images, additive white Gaussian noise of a given
//! sigma in 8-bit units, no clipping) on the embedded images instead of BSD/CBSD, which may
//! not be redistributed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::embedded::{embedded_file, provenance};
use crate::error::{Error, Result};
use crate::image::{Image, decode_png, png_shape};
use crate::layout::EvalLayout;
use crate::patch::{PatchSettings, epoch_patches, sample_flips, sample_window};
use crate::rng::{Stream, name_key, stream_rng};
use crate::validation::{check_patches_per_epoch, check_side, check_size_multiple};

/// The gray embedded images (1 channel), by file stem.
pub const GRAY_IMAGES: [&str; 5] = ["camera", "brick", "grass", "gravel", "cell"];
/// The colour embedded images (3 channels), by file stem.
pub const COLOR_IMAGES: [&str; 3] = ["astronaut", "chelsea", "coffee"];

/// The `data` section of a denoising experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DenoisingDataConfig {
    /// Colour task (astronaut, chelsea, coffee; 3 channels) instead of gray (camera, brick,
    /// grass, gravel, cell; 1 channel). Default false.
    pub color: bool,
    /// Noise standard deviation in 8-bit units; the noise added to the [0, 1] images has
    /// standard deviation sigma/255 and the result is not clipped, as in the authors' code.
    /// Default 25.
    pub sigma: f32,
    /// File stems of the training images; null = the default of the colour group: gray
    /// ["brick", "grass", "gravel"], colour ["astronaut"]. Default null.
    pub train_images: Option<Vec<String>>,
    /// File stems of the validation images; null = gray ["cell"], colour ["chelsea"].
    /// Default null.
    pub val_images: Option<Vec<String>>,
    /// File stems of the test images; null = gray ["camera"], colour ["coffee"]. Default null.
    pub test_images: Option<Vec<String>>,
    /// Side of the square training patches in pixels; must be a multiple of the network's
    /// size multiple and fit in every training image. Default 64.
    pub patch_size: usize,
    /// Training patches drawn per epoch. Default 256.
    pub patches_per_epoch: usize,
    /// Side in pixels of the square centre crop used for validation and test images; must be
    /// a multiple of the network's size multiple and fit in every validation/test image.
    /// null = the whole image, centre-cropped to the largest multiple of the size multiple on
    /// each side. Default 256.
    pub eval_crop: Option<usize>,
    /// Random horizontal and vertical flips of training patches. Default true.
    pub flips: bool,
}

impl Default for DenoisingDataConfig {
    fn default() -> Self {
        Self {
            color: false,
            sigma: 25.0,
            train_images: None,
            val_images: None,
            test_images: None,
            patch_size: 64,
            patches_per_epoch: 256,
            eval_crop: Some(256),
            flips: true,
        }
    }
}

/// The image stems of each split after defaults are filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenoisingSplits {
    /// Training images.
    pub train: Vec<String>,
    /// Validation images.
    pub val: Vec<String>,
    /// Test images.
    pub test: Vec<String>,
}

impl DenoisingDataConfig {
    /// The stems allowed for this config's colour setting.
    pub fn allowed_images(&self) -> &'static [&'static str] {
        if self.color {
            &COLOR_IMAGES
        } else {
            &GRAY_IMAGES
        }
    }

    /// The splits, with unset lists replaced by the defaults of the colour group.
    pub fn resolved_splits(&self) -> DenoisingSplits {
        let (train, val, test): (&[&str], &[&str], &[&str]) = if self.color {
            (&["astronaut"], &["chelsea"], &["coffee"])
        } else {
            (&["brick", "grass", "gravel"], &["cell"], &["camera"])
        };
        let resolve = |given: &Option<Vec<String>>, default: &[&str]| {
            given
                .clone()
                .unwrap_or_else(|| default.iter().map(|&name| name.to_owned()).collect())
        };
        DenoisingSplits {
            train: resolve(&self.train_images, train),
            val: resolve(&self.val_images, val),
            test: resolve(&self.test_images, test),
        }
    }

    /// Checks the config for a network whose input sides must be multiples of `size_multiple`
    /// (2^depth for a U-Net of that depth; 16 for depth 4).
    pub fn validate(&self, size_multiple: usize) -> Result<()> {
        check_size_multiple(size_multiple)?;
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(Error::config(
                "data.sigma",
                format!("must be a positive number, got {}", self.sigma),
            ));
        }
        check_patches_per_epoch(self.patches_per_epoch)?;
        check_side("data.patch_size", self.patch_size, size_multiple)?;
        if let Some(crop) = self.eval_crop {
            check_side("data.eval_crop", crop, size_multiple)?;
        }

        let splits = self.resolved_splits();
        let named_splits = [
            ("data.train_images", &splits.train),
            ("data.val_images", &splits.val),
            ("data.test_images", &splits.test),
        ];
        for (index, &(field, names)) in named_splits.iter().enumerate() {
            self.check_names(field, names)?;
            for &(other_field, other_names) in &named_splits[index + 1..] {
                if let Some(shared) = names.iter().find(|name| other_names.contains(name)) {
                    return Err(Error::config(
                        field,
                        format!(
                            "image `{shared}` is also in `{other_field}`; splits must be disjoint"
                        ),
                    ));
                }
            }
        }

        for name in &splits.train {
            let (_, height, width) = image_shape(name)?;
            if self.patch_size > height || self.patch_size > width {
                return Err(Error::config(
                    "data.patch_size",
                    format!(
                        "{0}x{0} patches do not fit in training image `{name}` ({height}x{width})",
                        self.patch_size
                    ),
                ));
            }
        }
        for (field, names) in [
            ("data.val_images", &splits.val),
            ("data.test_images", &splits.test),
        ] {
            for name in names {
                let (_, height, width) = image_shape(name)?;
                match self.eval_crop {
                    Some(crop) if crop > height || crop > width => {
                        return Err(Error::config(
                            "data.eval_crop",
                            format!(
                                "a {crop}x{crop} crop does not fit in `{name}` ({height}x{width}) from `{field}`"
                            ),
                        ));
                    }
                    None if height < size_multiple || width < size_multiple => {
                        return Err(Error::config(
                            field,
                            format!(
                                "`{name}` ({height}x{width}) is smaller than the size multiple {size_multiple}"
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn check_names(&self, field: &str, names: &[String]) -> Result<()> {
        let allowed = self.allowed_images();
        if names.is_empty() {
            return Err(Error::config(
                field,
                format!(
                    "must list at least one image; allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
        for (index, name) in names.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                let group = if self.color { "colour" } else { "gray" };
                return Err(Error::config(
                    field,
                    format!(
                        "unknown image `{name}` for a {group} task (color: {}); allowed: {}",
                        self.color,
                        allowed.join(", ")
                    ),
                ));
            }
            if names[..index].contains(name) {
                return Err(Error::config(
                    field,
                    format!("image `{name}` is listed twice"),
                ));
            }
        }
        Ok(())
    }
}

fn file_name(stem: &str) -> String {
    format!("denoising/{stem}.png")
}

fn image_shape(stem: &str) -> Result<(usize, usize, usize)> {
    let name = file_name(stem);
    png_shape(embedded_file(&name)?.bytes, &name)
}

fn load_image(stem: &str) -> Result<Image> {
    let name = file_name(stem);
    decode_png(embedded_file(&name)?.bytes, &name)
}

/// One training (or calibration) example.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoisingSample {
    /// The noisy patch, the network input.
    pub noisy: Image,
    /// `noisy - clean`, i.e. the noise: the target of residual learning.
    pub residual: Image,
    /// The clean patch.
    pub clean: Image,
}

/// One validation or test image with its fixed noise.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoisingEvalImage {
    /// File stem, e.g. `camera`.
    pub name: String,
    /// The clean (centre-cropped) image.
    pub clean: Image,
    /// `clean` plus its noise realisation.
    pub noisy: Image,
    /// How `noisy` is tiled for the network and the outputs stitched back to `clean`'s size.
    pub layout: EvalLayout,
}

/// Clean images of a denoising dataset, before any noise: what a dataset pipeline (the
/// embedded images here, BSD68 and friends in the datasets crate) hands to [`DenoisingTask`].
#[derive(Debug, Clone)]
pub struct DenoisingImages {
    /// 1 (gray) or 3 (colour).
    pub channels: usize,
    /// Training images, from which random patches are cut.
    pub train: Vec<Image>,
    /// Validation images: (name, clean image, layout).
    pub validation: Vec<(String, Image, EvalLayout)>,
    /// Test images: (name, clean image, layout).
    pub test: Vec<(String, Image, EvalLayout)>,
    /// (file, sha256) of every file read.
    pub sources: Vec<(String, String)>,
}

/// The denoising data of one experiment: training images, and validation/test images with
/// their noise, all determined by (config, seed).
#[derive(Debug, Clone)]
pub struct DenoisingTask {
    seed: u64,
    channels: usize,
    noise_std: f32,
    patches: PatchSettings,
    train: Vec<Image>,
    validation: Vec<DenoisingEvalImage>,
    test: Vec<DenoisingEvalImage>,
    sources: Vec<(String, String)>,
}

impl DenoisingTask {
    /// Validates `config` (see [`DenoisingDataConfig::validate`]), decodes its images and
    /// draws the validation and test noise.
    pub fn new(config: &DenoisingDataConfig, seed: u64, size_multiple: usize) -> Result<Self> {
        config.validate(size_multiple)?;
        let splits = config.resolved_splits();
        let files: Vec<String> = [&splits.train, &splits.val, &splits.test]
            .into_iter()
            .flatten()
            .map(|stem| file_name(stem))
            .collect();
        let sources = provenance(files.iter().map(String::as_str))?;
        let train = splits
            .train
            .iter()
            .map(|stem| load_image(stem))
            .collect::<Result<Vec<_>>>()?;
        let eval_set = |stems: &[String]| {
            stems
                .iter()
                .map(|stem| {
                    let clean = eval_crop(&load_image(stem)?, config.eval_crop, size_multiple);
                    let layout = EvalLayout::whole(clean.height, clean.width);
                    Ok((stem.clone(), clean, layout))
                })
                .collect::<Result<Vec<_>>>()
        };
        let images = DenoisingImages {
            channels: if config.color { 3 } else { 1 },
            train,
            validation: eval_set(&splits.val)?,
            test: eval_set(&splits.test)?,
            sources,
        };
        let patches =
            PatchSettings::per_epoch(config.patch_size, config.patches_per_epoch, config.flips);
        Ok(Self::from_images(images, config.sigma, patches, seed))
    }

    /// The task on already decoded clean images: draws the validation and test noise
    /// (sigma in 8-bit units, unclipped), each image from its own stream keyed by its name.
    pub fn from_images(
        images: DenoisingImages,
        sigma: f32,
        patches: PatchSettings,
        seed: u64,
    ) -> Self {
        let noise_std = sigma / 255.0;
        let with_noise = |set: Vec<(String, Image, EvalLayout)>, stream: Stream| {
            set.into_iter()
                .map(|(name, clean, layout)| {
                    let mut rng = stream_rng(seed, stream, name_key(&name));
                    let noisy = add_noise(&clean, noise_std, &mut rng);
                    DenoisingEvalImage {
                        name,
                        clean,
                        noisy,
                        layout,
                    }
                })
                .collect()
        };
        Self {
            seed,
            channels: images.channels,
            noise_std,
            patches,
            train: images.train,
            validation: with_noise(images.validation, Stream::DenoisingValidation),
            test: with_noise(images.test, Stream::DenoisingTest),
            sources: images.sources,
        }
    }

    /// Input (and output) channels: 1 for gray, 3 for colour.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Standard deviation of the noise on the [0, 1] scale (sigma / 255).
    pub fn noise_std(&self) -> f32 {
        self.noise_std
    }

    /// Deterministic training patches for an epoch: the same (config, seed, epoch) always
    /// gives the same patches, flips and noise.
    pub fn training_patches(&self, epoch: usize) -> Vec<DenoisingSample> {
        self.training_patches_with(epoch, false)
    }

    /// The training patches of an epoch; with `fixed_set`, drawn from one fixed set (epoch 0's
    /// patches, in an order shuffled by the epoch) whatever the config says: the authors
    /// fine-tune on one stored patch set (the first 10,000 patches of their training file).
    pub fn training_patches_with(&self, epoch: usize, fixed_set: bool) -> Vec<DenoisingSample> {
        let settings = PatchSettings {
            fixed: self.patches.fixed || fixed_set,
            ..self.patches
        };
        epoch_patches(self.seed, Stream::DenoisingTrain, epoch, settings, |rng| {
            self.draw_patches(rng, settings.patches_per_epoch)
        })
    }

    /// Calibration patches: `count` random training patches from a dedicated random stream
    /// (for ANN-to-SNN conversion statistics), independent of the training epochs.
    pub fn calibration_patches(&self, count: usize) -> Vec<DenoisingSample> {
        let mut rng = stream_rng(self.seed, Stream::DenoisingCalibration, 0);
        self.draw_patches(&mut rng, count)
    }

    /// The validation images, in config order.
    pub fn validation(&self) -> &[DenoisingEvalImage] {
        &self.validation
    }

    /// The test images, in config order.
    pub fn test(&self) -> &[DenoisingEvalImage] {
        &self.test
    }

    /// (file, sha256) of every file this task reads, in the order train, val, test.
    pub fn sources(&self) -> Vec<(String, String)> {
        self.sources.clone()
    }

    fn draw_patches(&self, rng: &mut ChaCha8Rng, count: usize) -> Vec<DenoisingSample> {
        let sizes: Vec<(usize, usize)> = self
            .train
            .iter()
            .map(|image| (image.height, image.width))
            .collect();
        let side = self.patches.patch_size;
        (0..count)
            .map(|_| {
                let window = sample_window(rng, &sizes, side);
                let flips = sample_flips(rng, self.patches.flips);
                let clean = flips.apply_to_image(self.train[window.source].crop(
                    window.top,
                    window.left,
                    side,
                    side,
                ));
                let noisy = add_noise(&clean, self.noise_std, rng);
                DenoisingSample {
                    residual: noisy.sub(&clean),
                    noisy,
                    clean,
                }
            })
            .collect()
    }
}

/// The centre crop evaluated on: `crop` x `crop` if given, else the largest multiple of
/// `size_multiple` on each side.
fn eval_crop(image: &Image, crop: Option<usize>, size_multiple: usize) -> Image {
    let (height, width) = match crop {
        Some(side) => (side, side),
        None => (
            image.height / size_multiple * size_multiple,
            image.width / size_multiple * size_multiple,
        ),
    };
    image.crop(
        (image.height - height) / 2,
        (image.width - width) / 2,
        height,
        width,
    )
}

/// `clean` plus white Gaussian noise of standard deviation `std`, unclipped.
fn add_noise(clean: &Image, std: f32, rng: &mut ChaCha8Rng) -> Image {
    let data = clean
        .data
        .iter()
        .map(|&value| value + std * rng.sample::<f32, _>(StandardNormal))
        .collect();
    Image { data, ..*clean }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_config() -> DenoisingDataConfig {
        DenoisingDataConfig {
            patches_per_epoch: 8,
            ..DenoisingDataConfig::default()
        }
    }

    fn invalid_field(config: &DenoisingDataConfig) -> (String, String) {
        match config.validate(16) {
            Err(Error::InvalidConfig { field, message }) => (field, message),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    fn names(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|&s| s.to_owned()).collect())
    }

    #[test]
    fn default_config_is_valid_in_both_colour_groups() {
        DenoisingDataConfig::default().validate(16).unwrap();
        let colour = DenoisingDataConfig {
            color: true,
            ..DenoisingDataConfig::default()
        };
        colour.validate(16).unwrap();
        assert_eq!(
            colour.resolved_splits(),
            DenoisingSplits {
                train: vec!["astronaut".into()],
                val: vec!["chelsea".into()],
                test: vec!["coffee".into()],
            }
        );
    }

    #[test]
    fn unknown_image_names_the_field_and_lists_allowed_values() {
        let config = DenoisingDataConfig {
            train_images: names(&["brick", "astronaut"]),
            ..DenoisingDataConfig::default()
        };
        let (field, message) = invalid_field(&config);
        assert_eq!(field, "data.train_images");
        assert!(message.contains("`astronaut`"), "{message}");
        assert!(
            message.contains("camera, brick, grass, gravel, cell"),
            "{message}"
        );
    }

    #[test]
    fn overlapping_splits_are_rejected() {
        let config = DenoisingDataConfig {
            test_images: names(&["brick"]),
            ..DenoisingDataConfig::default()
        };
        let (field, message) = invalid_field(&config);
        assert_eq!(field, "data.train_images");
        assert!(
            message.contains("`brick`") && message.contains("data.test_images"),
            "{message}"
        );
    }

    #[test]
    fn other_rules_are_enforced() {
        let cases = [
            (
                DenoisingDataConfig {
                    val_images: names(&[]),
                    ..DenoisingDataConfig::default()
                },
                "data.val_images",
            ),
            (
                DenoisingDataConfig {
                    test_images: names(&["camera", "camera"]),
                    ..DenoisingDataConfig::default()
                },
                "data.test_images",
            ),
            (
                DenoisingDataConfig {
                    patch_size: 40,
                    ..DenoisingDataConfig::default()
                },
                "data.patch_size",
            ),
            (
                DenoisingDataConfig {
                    patch_size: 528,
                    ..DenoisingDataConfig::default()
                },
                "data.patch_size",
            ),
            (
                DenoisingDataConfig {
                    eval_crop: Some(520),
                    ..DenoisingDataConfig::default()
                },
                "data.eval_crop",
            ),
            (
                DenoisingDataConfig {
                    color: true,
                    eval_crop: Some(304),
                    ..DenoisingDataConfig::default()
                },
                "data.eval_crop",
            ),
            (
                DenoisingDataConfig {
                    sigma: 0.0,
                    ..DenoisingDataConfig::default()
                },
                "data.sigma",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(invalid_field(&config).0, expected, "{config:?}");
        }
    }

    #[test]
    fn same_seed_and_epoch_give_identical_patches() {
        let config = small_config();
        let a = DenoisingTask::new(&config, 42, 16).unwrap();
        let b = DenoisingTask::new(&config, 42, 16).unwrap();
        assert_eq!(a.training_patches(3), b.training_patches(3));
        assert_eq!(a.calibration_patches(4), b.calibration_patches(4));
        assert_eq!(a.validation(), b.validation());
        assert_eq!(a.test(), b.test());
    }

    #[test]
    fn different_seed_or_epoch_give_different_patches() {
        let config = small_config();
        let a = DenoisingTask::new(&config, 42, 16).unwrap();
        let b = DenoisingTask::new(&config, 43, 16).unwrap();
        assert_ne!(a.training_patches(0), a.training_patches(1));
        assert_ne!(a.training_patches(0), b.training_patches(0));
        assert_ne!(a.calibration_patches(8), a.training_patches(0));
        assert_ne!(a.validation()[0].noisy, b.validation()[0].noisy);
        assert_eq!(a.validation()[0].clean, b.validation()[0].clean);
    }

    #[test]
    fn evaluation_noise_ignores_the_training_settings() {
        let a = DenoisingTask::new(&small_config(), 5, 16).unwrap();
        let b = DenoisingTask::new(
            &DenoisingDataConfig {
                patches_per_epoch: 3,
                patch_size: 32,
                flips: false,
                train_images: names(&["grass"]),
                ..DenoisingDataConfig::default()
            },
            5,
            16,
        )
        .unwrap();
        assert_eq!(a.validation(), b.validation());
        assert_eq!(a.test(), b.test());
        // Validation and test noise come from different streams.
        assert_ne!(
            a.validation()[0].noisy.sub(&a.validation()[0].clean).data[..64],
            a.test()[0].noisy.sub(&a.test()[0].clean).data[..64]
        );
    }

    #[test]
    fn residual_is_exactly_noisy_minus_clean_and_has_the_requested_std() {
        let config = DenoisingDataConfig {
            patches_per_epoch: 128,
            ..DenoisingDataConfig::default()
        };
        let task = DenoisingTask::new(&config, 1, 16).unwrap();
        let patches = task.training_patches(0);
        assert_eq!(patches.len(), 128);
        let mut noise = Vec::new();
        for patch in &patches {
            assert_eq!(
                (patch.noisy.channels, patch.noisy.height, patch.noisy.width),
                (1, 64, 64)
            );
            for ((&n, &c), &r) in patch
                .noisy
                .data
                .iter()
                .zip(&patch.clean.data)
                .zip(&patch.residual.data)
            {
                assert_eq!(r, n - c);
            }
            noise.extend(patch.residual.data.iter().map(|&r| f64::from(r)));
        }
        let mean = noise.iter().sum::<f64>() / noise.len() as f64;
        let std =
            (noise.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
        let target = 25.0 / 255.0;
        assert!((std / target - 1.0).abs() < 0.03, "std {std} vs {target}");
        assert!(mean.abs() < 0.01 * target, "mean {mean}");
        // Unclipped: some noisy values leave [0, 1].
        assert!(
            patches
                .iter()
                .flat_map(|p| &p.noisy.data)
                .any(|&v| !(0.0..=1.0).contains(&v))
        );
    }

    #[test]
    fn evaluation_images_are_centre_crops_with_the_right_noise() {
        let task = DenoisingTask::new(&DenoisingDataConfig::default(), 9, 16).unwrap();
        let cell = load_image("cell").unwrap();
        let val = &task.validation()[0];
        assert_eq!(val.name, "cell");
        // cell is 660x550: the 256 crop starts at ((660-256)/2, (550-256)/2).
        assert_eq!(val.clean, cell.crop(202, 147, 256, 256));
        let residual = val.noisy.sub(&val.clean);
        let std = (residual
            .data
            .iter()
            .map(|&r| f64::from(r).powi(2))
            .sum::<f64>()
            / residual.data.len() as f64)
            .sqrt();
        assert!((std / (25.0 / 255.0) - 1.0).abs() < 0.03, "std {std}");
        assert_eq!(task.test()[0].name, "camera");
    }

    #[test]
    fn whole_image_evaluation_floors_to_the_size_multiple() {
        let config = DenoisingDataConfig {
            color: true,
            eval_crop: None,
            patches_per_epoch: 1,
            ..DenoisingDataConfig::default()
        };
        let task = DenoisingTask::new(&config, 0, 16).unwrap();
        assert_eq!(task.channels(), 3);
        let val = &task.validation()[0].clean;
        assert_eq!((val.channels, val.height, val.width), (3, 288, 448));
        let test = &task.test()[0].clean;
        assert_eq!((test.height, test.width), (400, 592));
    }

    #[test]
    fn colour_patches_have_three_channels() {
        let config = DenoisingDataConfig {
            color: true,
            patches_per_epoch: 2,
            patch_size: 32,
            ..DenoisingDataConfig::default()
        };
        let task = DenoisingTask::new(&config, 0, 16).unwrap();
        for patch in task.training_patches(0) {
            assert_eq!(
                (patch.noisy.channels, patch.noisy.height, patch.noisy.width),
                (3, 32, 32)
            );
        }
    }

    #[test]
    fn sources_name_every_file_read() {
        let task = DenoisingTask::new(&small_config(), 0, 16).unwrap();
        let files: Vec<String> = task.sources().into_iter().map(|(file, _)| file).collect();
        assert_eq!(
            files,
            [
                "denoising/brick.png",
                "denoising/grass.png",
                "denoising/gravel.png",
                "denoising/cell.png",
                "denoising/camera.png"
            ]
        );
    }

    #[test]
    fn config_parses_from_yaml_with_defaults_and_rejects_unknown_fields() {
        let config: DenoisingDataConfig =
            serde_saphyr::from_str("sigma: 50\ntrain_images: [brick]\neval_crop: null\n").unwrap();
        assert_eq!(config.sigma, 50.0);
        assert_eq!(config.train_images, names(&["brick"]));
        assert_eq!(config.eval_crop, None);
        assert_eq!(config.patch_size, 64);
        assert!(serde_saphyr::from_str::<DenoisingDataConfig>("sigmaa: 50\n").is_err());
    }
}
