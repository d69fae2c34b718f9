//! The quickstart segmentation task: nuclei in one embedded 512x512 fluorescence image.
//!
//! Stands in for the paper's ISBI 2012 / DRIVE experiments (not redistributable). The image is
//! split into disjoint rectangular regions for training, validation and test; the per-pixel
//! target is derived from the instance map.

use std::fmt;
use std::str::FromStr;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::embedded::{embedded_file, provenance};
use crate::error::{Error, Result};
use crate::image::{Image, LabelMap, decode_png, decode_png_gray_u8, png_shape};
use crate::layout::EvalLayout;
use crate::patch::{PatchSettings, epoch_patches, sample_flips, sample_window};
use crate::rng::{Stream, stream_rng};
use crate::validation::{check_patches_per_epoch, check_side, check_size_multiple};

/// Embedded file of the raw nuclei image.
pub const NUCLEI_IMAGE: &str = "segmentation/dsb2018_nuclei_image.png";
/// Embedded file of the nuclei instance map (0 background, 1..=183 one id per nucleus).
pub const NUCLEI_INSTANCES: &str = "segmentation/dsb2018_nuclei_instances.png";

/// What the network is trained to predict, derived from the instance map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentationTarget {
    /// 2 classes: 0 background, 1 nucleus (instance id > 0).
    #[default]
    Foreground,
    /// 2 classes: 1 on the inner boundary of each nucleus, 0 elsewhere (the ISBI-like
    /// "membrane" target). A pixel is boundary when its id is > 0 and at least one of its
    /// 4-neighbours inside the image has a different id (background or another nucleus);
    /// neighbours outside the image are ignored, so the image border itself is no boundary.
    Boundary,
    /// 3 classes: 0 background, 1 nucleus interior (foreground but not boundary), 2 boundary.
    ThreeClass,
}

impl SegmentationTarget {
    /// Every target, in the order of the config spelling list.
    pub const ALL: [SegmentationTarget; 3] = [Self::Foreground, Self::Boundary, Self::ThreeClass];

    /// The config spelling, e.g. `three_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Foreground => "foreground",
            Self::Boundary => "boundary",
            Self::ThreeClass => "three_class",
        }
    }

    /// Number of classes the network outputs.
    pub fn num_classes(self) -> usize {
        self.class_names().len()
    }

    /// Names of the classes, indexed by class id.
    pub fn class_names(self) -> Vec<&'static str> {
        match self {
            Self::Foreground => vec!["background", "nucleus"],
            Self::Boundary => vec!["non_boundary", "boundary"],
            Self::ThreeClass => vec!["background", "interior", "boundary"],
        }
    }

    /// The class map of this target for an instance map.
    pub fn labels_from_instances(self, instances: &LabelMap) -> LabelMap {
        let (height, width) = (instances.height, instances.width);
        let mut labels = Vec::with_capacity(height * width);
        for y in 0..height {
            for x in 0..width {
                let id = instances.get(y, x);
                let label = match self {
                    Self::Foreground => u8::from(id > 0),
                    Self::Boundary => u8::from(is_boundary(instances, y, x)),
                    Self::ThreeClass if id == 0 => 0,
                    Self::ThreeClass if is_boundary(instances, y, x) => 2,
                    Self::ThreeClass => 1,
                };
                labels.push(label);
            }
        }
        LabelMap {
            height,
            width,
            labels,
        }
    }
}

/// Whether (y, x) is a foreground pixel with a differently labelled 4-neighbour in the image.
fn is_boundary(instances: &LabelMap, y: usize, x: usize) -> bool {
    let id = instances.get(y, x);
    if id == 0 {
        return false;
    }
    let differs = |ny: usize, nx: usize| instances.get(ny, nx) != id;
    (y > 0 && differs(y - 1, x))
        || (y + 1 < instances.height && differs(y + 1, x))
        || (x > 0 && differs(y, x - 1))
        || (x + 1 < instances.width && differs(y, x + 1))
}

impl fmt::Display for SegmentationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SegmentationTarget {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|target| target.as_str() == s)
            .ok_or_else(|| {
                let allowed: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
                Error::config(
                    "data.target",
                    format!("unknown target `{s}`; allowed: {}", allowed.join(", ")),
                )
            })
    }
}

/// The `data` section of a segmentation experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentationDataConfig {
    /// Target derived from the instance map: foreground | boundary | three_class.
    /// Default foreground.
    pub target: SegmentationTarget,
    /// Regions of the 512x512 image, each [top, left, height, width] in pixels, inside which
    /// training patches are drawn; each side at least `patch_size`.
    /// Default [[0, 0, 256, 512]] (the top half).
    pub train_regions: Vec<[usize; 4]>,
    /// Validation regions, [top, left, height, width] in pixels, each evaluated whole; sides
    /// must be multiples of the network's size multiple. Default [[256, 0, 256, 256]]
    /// (bottom-left quarter).
    pub val_regions: Vec<[usize; 4]>,
    /// Test regions, as `val_regions`. Default [[256, 256, 256, 256]] (bottom-right quarter).
    pub test_regions: Vec<[usize; 4]>,
    /// Side of the square training patches in pixels; a multiple of the network's size
    /// multiple. Default 64.
    pub patch_size: usize,
    /// Training patches drawn per epoch. Default 256.
    pub patches_per_epoch: usize,
    /// Random horizontal and vertical flips of training patches (image and labels together).
    /// Default true.
    pub flips: bool,
}

impl Default for SegmentationDataConfig {
    fn default() -> Self {
        Self {
            target: SegmentationTarget::Foreground,
            train_regions: vec![[0, 0, 256, 512]],
            val_regions: vec![[256, 0, 256, 256]],
            test_regions: vec![[256, 256, 256, 256]],
            patch_size: 64,
            patches_per_epoch: 256,
            flips: true,
        }
    }
}

impl SegmentationDataConfig {
    /// Checks the config for a network whose input sides must be multiples of `size_multiple`
    /// (2^depth for a U-Net of that depth; 16 for depth 4).
    pub fn validate(&self, size_multiple: usize) -> Result<()> {
        check_size_multiple(size_multiple)?;
        check_side("data.patch_size", self.patch_size, size_multiple)?;
        check_patches_per_epoch(self.patches_per_epoch)?;

        let (_, image_height, image_width) =
            png_shape(embedded_file(NUCLEI_IMAGE)?.bytes, NUCLEI_IMAGE)?;
        let splits = self.named_splits();
        for &(field, regions) in &splits {
            if regions.is_empty() {
                return Err(Error::config(field, "must list at least one region"));
            }
            for (index, &[top, left, height, width]) in regions.iter().enumerate() {
                let region_field = format!("{field}[{index}]");
                let region = [top, left, height, width];
                if height == 0 || width == 0 {
                    return Err(Error::config(
                        region_field,
                        format!("region {region:?} is empty"),
                    ));
                }
                let fits = top
                    .checked_add(height)
                    .is_some_and(|bottom| bottom <= image_height)
                    && left
                        .checked_add(width)
                        .is_some_and(|right| right <= image_width);
                if !fits {
                    return Err(Error::config(
                        region_field,
                        format!(
                            "region {region:?} ([top, left, height, width]) is not inside the {image_height}x{image_width} image"
                        ),
                    ));
                }
                if field == "data.train_regions" {
                    if height < self.patch_size || width < self.patch_size {
                        return Err(Error::config(
                            region_field,
                            format!(
                                "region {region:?} is smaller than the {0}x{0} training patches",
                                self.patch_size
                            ),
                        ));
                    }
                } else if !height.is_multiple_of(size_multiple)
                    || !width.is_multiple_of(size_multiple)
                {
                    return Err(Error::config(
                        region_field,
                        format!(
                            "region {region:?} must have height and width multiples of {size_multiple} (the network's size multiple)"
                        ),
                    ));
                }
            }
        }

        for (split_index, &(field, regions)) in splits.iter().enumerate() {
            for &(other_field, other_regions) in &splits[split_index + 1..] {
                for (index, region) in regions.iter().enumerate() {
                    for (other_index, other) in other_regions.iter().enumerate() {
                        if overlaps(region, other) {
                            return Err(Error::config(
                                format!("{field}[{index}]"),
                                format!(
                                    "region {region:?} overlaps {other_field}[{other_index}] {other:?}; regions of different splits must be disjoint"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn named_splits(&self) -> [(&'static str, &[[usize; 4]]); 3] {
        [
            ("data.train_regions", &self.train_regions),
            ("data.val_regions", &self.val_regions),
            ("data.test_regions", &self.test_regions),
        ]
    }
}

/// Whether two [top, left, height, width] rectangles share a pixel.
fn overlaps(a: &[usize; 4], b: &[usize; 4]) -> bool {
    let [a_top, a_left, a_height, a_width] = *a;
    let [b_top, b_left, b_height, b_width] = *b;
    a_top < b_top + b_height
        && b_top < a_top + a_height
        && a_left < b_left + b_width
        && b_left < a_left + a_width
}

/// One training (or calibration) example.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationSample {
    /// The input patch (1 channel, raw value / 255).
    pub image: Image,
    /// The target class of every pixel.
    pub labels: LabelMap,
}

/// One validation or test image (a region of the embedded image, or a benchmark image).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationEvalImage {
    /// `{split}_region{index}` (e.g. `test_region0`) or the benchmark's image name.
    pub name: String,
    /// The input image.
    pub image: Image,
    /// The target class of every pixel, at the layout's output size.
    pub labels: LabelMap,
    /// How `image` is tiled for the network and the outputs stitched back.
    pub layout: EvalLayout,
    /// Pixels (of the output) that count as predicted background whatever the network says:
    /// the authors' DRIVE `kill_border` outside the field of view. None = all pixels are the
    /// network's.
    pub field_of_view: Option<Vec<bool>>,
}

/// Decoded images and class maps of a segmentation dataset: what a dataset pipeline (the
/// embedded nuclei image here, DRIVE and friends in the datasets crate) hands to
/// [`SegmentationTask`].
#[derive(Debug, Clone)]
pub struct SegmentationImages {
    /// Input channels.
    pub channels: usize,
    /// Class names, indexed by class id.
    pub class_names: Vec<String>,
    /// Training (image, class map) pairs, from which random patches are cut.
    pub train: Vec<(Image, LabelMap)>,
    /// Validation images.
    pub validation: Vec<SegmentationEvalImage>,
    /// Test images.
    pub test: Vec<SegmentationEvalImage>,
    /// (file, sha256) of every file read.
    pub sources: Vec<(String, String)>,
}

/// The segmentation data of one experiment, determined by (config, seed).
#[derive(Debug, Clone)]
pub struct SegmentationTask {
    seed: u64,
    patches: PatchSettings,
    images: SegmentationImages,
}

impl SegmentationTask {
    /// Validates `config` (see [`SegmentationDataConfig::validate`]), decodes the image and
    /// instance map and cuts out the training, validation and test regions.
    pub fn new(config: &SegmentationDataConfig, seed: u64, size_multiple: usize) -> Result<Self> {
        config.validate(size_multiple)?;
        let sources = provenance([NUCLEI_IMAGE, NUCLEI_INSTANCES])?;
        let image = decode_png(embedded_file(NUCLEI_IMAGE)?.bytes, NUCLEI_IMAGE)?;
        let instances =
            decode_png_gray_u8(embedded_file(NUCLEI_INSTANCES)?.bytes, NUCLEI_INSTANCES)?;
        if (instances.height, instances.width) != (image.height, image.width) {
            return Err(Error::UnsupportedPng {
                file: NUCLEI_INSTANCES.to_owned(),
                detail: format!(
                    "instance map is {}x{} but the image is {}x{}",
                    instances.height, instances.width, image.height, image.width
                ),
            });
        }
        // Derive the target on the whole map before cutting regions, so that a region's edge
        // does not invent boundaries that are not there.
        let labels = config.target.labels_from_instances(&instances);

        let eval_set = |split: &str, regions: &[[usize; 4]]| -> Vec<SegmentationEvalImage> {
            regions
                .iter()
                .enumerate()
                .map(
                    |(index, &[top, left, height, width])| SegmentationEvalImage {
                        name: format!("{split}_region{index}"),
                        image: image.crop(top, left, height, width),
                        labels: labels.crop(top, left, height, width),
                        layout: EvalLayout::whole(height, width),
                        field_of_view: None,
                    },
                )
                .collect()
        };
        let train = config
            .train_regions
            .iter()
            .map(|&[top, left, height, width]| {
                (
                    image.crop(top, left, height, width),
                    labels.crop(top, left, height, width),
                )
            })
            .collect();
        let images = SegmentationImages {
            channels: image.channels,
            class_names: config
                .target
                .class_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            train,
            validation: eval_set("val", &config.val_regions),
            test: eval_set("test", &config.test_regions),
            sources,
        };
        let patches =
            PatchSettings::per_epoch(config.patch_size, config.patches_per_epoch, config.flips);
        Ok(Self::from_images(images, patches, seed))
    }

    /// The task on already decoded images and class maps.
    pub fn from_images(images: SegmentationImages, patches: PatchSettings, seed: u64) -> Self {
        Self {
            seed,
            patches,
            images,
        }
    }

    /// Number of classes the network outputs.
    pub fn num_classes(&self) -> usize {
        self.images.class_names.len()
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.images.channels
    }

    /// Deterministic training patches for an epoch: the same (config, seed, epoch) always
    /// gives the same patches and flips.
    pub fn training_patches(&self, epoch: usize) -> Vec<SegmentationSample> {
        self.training_patches_with(epoch, false)
    }

    /// The training patches of an epoch; with `fixed_set`, drawn from one fixed set (epoch 0's
    /// patches, in an order shuffled by the epoch) whatever the config says: the authors
    /// fine-tune on one stored patch set.
    pub fn training_patches_with(&self, epoch: usize, fixed_set: bool) -> Vec<SegmentationSample> {
        let settings = PatchSettings {
            fixed: self.patches.fixed || fixed_set,
            ..self.patches
        };
        epoch_patches(
            self.seed,
            Stream::SegmentationTrain,
            epoch,
            settings,
            |rng| self.draw_patches(rng, settings.patches_per_epoch),
        )
    }

    /// The first `count` training images, whole and in order (all of them if there are fewer),
    /// each mirrored as a training sample would be: the authors' calibration on datasets whose
    /// loader serves whole images (the first 64 samples in loader order, authors-code §3.2).
    /// The flips come from the calibration patches' stream, so they are fixed by the seed.
    pub fn first_training_images(&self, count: usize) -> Vec<SegmentationSample> {
        let mut rng = stream_rng(self.seed, Stream::SegmentationTrain, 0);
        self.images
            .train
            .iter()
            .take(count)
            .map(|(image, labels)| {
                let flips = sample_flips(&mut rng, self.patches.flips);
                SegmentationSample {
                    image: flips.apply_to_image(image.clone()),
                    labels: flips.apply_to_labels(labels.clone()),
                }
            })
            .collect()
    }

    /// The first `count` training patches in a fixed order: those of epoch 0, continuing the
    /// same random stream past `patches_per_epoch` if `count` is larger (the authors used the
    /// first 64 training samples for conversion statistics).
    pub fn calibration_patches(&self, count: usize) -> Vec<SegmentationSample> {
        let mut rng = stream_rng(self.seed, Stream::SegmentationTrain, 0);
        self.draw_patches(&mut rng, count)
    }

    /// The validation images, in config order.
    pub fn validation(&self) -> &[SegmentationEvalImage] {
        &self.images.validation
    }

    /// The test images, in config order.
    pub fn test(&self) -> &[SegmentationEvalImage] {
        &self.images.test
    }

    /// (file, sha256) of every file read.
    pub fn sources(&self) -> Vec<(String, String)> {
        self.images.sources.clone()
    }

    /// Names of the classes, indexed by class id.
    pub fn class_names(&self) -> &[String] {
        &self.images.class_names
    }

    fn draw_patches(&self, rng: &mut ChaCha8Rng, count: usize) -> Vec<SegmentationSample> {
        let sizes: Vec<(usize, usize)> = self
            .images
            .train
            .iter()
            .map(|(image, _)| (image.height, image.width))
            .collect();
        let side = self.patches.patch_size;
        (0..count)
            .map(|_| {
                let window = sample_window(rng, &sizes, side);
                let (image, labels) = &self.images.train[window.source];
                let flips = sample_flips(rng, self.patches.flips);
                SegmentationSample {
                    image: flips.apply_to_image(image.crop(window.top, window.left, side, side)),
                    labels: flips.apply_to_labels(labels.crop(window.top, window.left, side, side)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two nuclei (ids 1 and 2) touching along a vertical edge, and background.
    fn tiny_instances() -> LabelMap {
        #[rustfmt::skip]
        let ids = vec![
            0, 0, 0, 0, 0,
            0, 1, 1, 2, 2,
            0, 1, 1, 2, 2,
            0, 1, 1, 2, 2,
            1, 1, 1, 0, 0,
        ];
        LabelMap::new(5, 5, ids).unwrap()
    }

    #[test]
    fn targets_on_a_hand_made_map() {
        let instances = tiny_instances();
        #[rustfmt::skip]
        let foreground = vec![
            0, 0, 0, 0, 0,
            0, 1, 1, 1, 1,
            0, 1, 1, 1, 1,
            0, 1, 1, 1, 1,
            1, 1, 1, 0, 0,
        ];
        // (2,2) is boundary only because its right neighbour is nucleus 2. (2,4) and (4,1)
        // touch nothing but their own nucleus and the image border, which does not count.
        #[rustfmt::skip]
        let boundary = vec![
            0, 0, 0, 0, 0,
            0, 1, 1, 1, 1,
            0, 1, 1, 1, 0,
            0, 1, 1, 1, 1,
            1, 0, 1, 0, 0,
        ];
        #[rustfmt::skip]
        let three_class = vec![
            0, 0, 0, 0, 0,
            0, 2, 2, 2, 2,
            0, 2, 2, 2, 1,
            0, 2, 2, 2, 2,
            2, 1, 2, 0, 0,
        ];
        let got = |target: SegmentationTarget| target.labels_from_instances(&instances).labels;
        assert_eq!(got(SegmentationTarget::Foreground), foreground);
        assert_eq!(got(SegmentationTarget::Boundary), boundary);
        assert_eq!(got(SegmentationTarget::ThreeClass), three_class);
    }

    #[test]
    fn interior_pixels_of_a_large_nucleus_are_not_boundary() {
        let mut ids = vec![0u8; 36];
        for y in 1..5 {
            for x in 1..5 {
                ids[y * 6 + x] = 7;
            }
        }
        let labels = SegmentationTarget::ThreeClass
            .labels_from_instances(&LabelMap::new(6, 6, ids).unwrap());
        let interior: Vec<(usize, usize)> = (0..6)
            .flat_map(|y| (0..6).map(move |x| (y, x)))
            .filter(|&(y, x)| labels.get(y, x) == 1)
            .collect();
        assert_eq!(interior, vec![(2, 2), (2, 3), (3, 2), (3, 3)]);
    }

    #[test]
    fn target_names_and_parsing() {
        assert_eq!(
            "three_class".parse::<SegmentationTarget>().unwrap(),
            SegmentationTarget::ThreeClass
        );
        let message = "membrane"
            .parse::<SegmentationTarget>()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("data.target")
                && message.contains("foreground, boundary, three_class"),
            "{message}"
        );
        let yaml_err =
            serde_saphyr::from_str::<SegmentationDataConfig>("target: membrane\n").unwrap_err();
        let yaml_message = yaml_err.to_string();
        assert!(yaml_message.contains("three_class"), "{yaml_message}");
        assert_eq!(SegmentationTarget::ThreeClass.num_classes(), 3);
        assert_eq!(SegmentationTarget::Boundary.num_classes(), 2);
    }

    #[test]
    fn config_parses_from_yaml() {
        let config: SegmentationDataConfig =
            serde_saphyr::from_str("target: boundary\nval_regions: [[256, 0, 128, 256]]\n")
                .unwrap();
        assert_eq!(config.target, SegmentationTarget::Boundary);
        assert_eq!(config.val_regions, vec![[256, 0, 128, 256]]);
        assert_eq!(
            config.train_regions,
            SegmentationDataConfig::default().train_regions
        );
        assert!(serde_saphyr::from_str::<SegmentationDataConfig>("regions: []\n").is_err());
    }

    #[test]
    fn real_foreground_fraction_matches_the_source() {
        let task = SegmentationTask::new(&SegmentationDataConfig::default(), 0, 16).unwrap();
        // The default regions tile the whole image, so together they hold every label.
        let all: Vec<u8> = std::iter::once(&task.images.train[0].1)
            .chain(task.validation().iter().map(|image| &image.labels))
            .chain(task.test().iter().map(|image| &image.labels))
            .flat_map(|map| map.labels.iter().copied())
            .collect();
        assert_eq!(all.len(), 512 * 512);
        let fraction = all.iter().filter(|&&l| l == 1).count() as f64 / all.len() as f64;
        assert!(
            (fraction - 0.199).abs() < 0.0015,
            "foreground fraction {fraction}"
        );
    }

    #[test]
    fn default_regions_are_disjoint_and_cover_the_image() {
        let config = SegmentationDataConfig::default();
        config.validate(16).unwrap();
        let mut covered = vec![0u8; 512 * 512];
        for &(_, regions) in &config.named_splits() {
            for &[top, left, height, width] in regions {
                for y in top..top + height {
                    for x in left..left + width {
                        covered[y * 512 + x] += 1;
                    }
                }
            }
        }
        assert!(covered.iter().all(|&c| c == 1));
    }

    fn invalid(config: SegmentationDataConfig) -> (String, String) {
        match config.validate(16) {
            Err(Error::InvalidConfig { field, message }) => (field, message),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn region_rules_name_the_field() {
        let (field, message) = invalid(SegmentationDataConfig {
            test_regions: vec![[256, 256, 256, 256], [200, 0, 64, 64]],
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.train_regions[0]");
        assert!(
            message.contains("data.test_regions[1]") && message.contains("disjoint"),
            "{message}"
        );

        let (field, message) = invalid(SegmentationDataConfig {
            val_regions: vec![[256, 0, 256, 256], [300, 0, 100, 96]],
            test_regions: vec![[0, 0, 16, 16]],
            train_regions: vec![[16, 0, 240, 512]],
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.val_regions[1]");
        assert!(message.contains("multiples of 16"), "{message}");

        let (field, message) = invalid(SegmentationDataConfig {
            test_regions: vec![[256, 256, 256, 272]],
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.test_regions[0]");
        assert!(
            message.contains("not inside the 512x512 image"),
            "{message}"
        );

        let (field, _) = invalid(SegmentationDataConfig {
            train_regions: vec![[0, 0, 32, 512]],
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.train_regions[0]");

        let (field, _) = invalid(SegmentationDataConfig {
            patch_size: 72,
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.patch_size");

        let (field, _) = invalid(SegmentationDataConfig {
            val_regions: vec![],
            ..SegmentationDataConfig::default()
        });
        assert_eq!(field, "data.val_regions");
    }

    #[test]
    fn patches_are_deterministic_sized_and_inside_the_train_region() {
        let config = SegmentationDataConfig {
            target: SegmentationTarget::ThreeClass,
            patches_per_epoch: 16,
            flips: false,
            ..SegmentationDataConfig::default()
        };
        let task = SegmentationTask::new(&config, 3, 16).unwrap();
        assert_eq!((task.num_classes(), task.channels()), (3, 1));
        assert_eq!(
            task.class_names(),
            vec!["background", "interior", "boundary"]
        );
        let patches = task.training_patches(0);
        assert_eq!(
            patches,
            SegmentationTask::new(&config, 3, 16)
                .unwrap()
                .training_patches(0)
        );
        assert_ne!(patches, task.training_patches(1));
        assert_ne!(
            patches,
            SegmentationTask::new(&config, 4, 16)
                .unwrap()
                .training_patches(0)
        );
        assert_eq!(task.calibration_patches(4), patches[..4]);
        assert_eq!(task.calibration_patches(20)[..16], patches[..]);

        for patch in &patches {
            assert_eq!(
                (patch.image.channels, patch.image.height, patch.image.width),
                (1, 64, 64)
            );
            assert_eq!((patch.labels.height, patch.labels.width), (64, 64));
            // Without flips each patch is a window of the top half; find it to check the
            // image and labels were cut at the same place.
            let found = (0..=192).any(|top| {
                (0..=448).any(|left| {
                    task.images.train[0].0.data[top * 512 + left] == patch.image.data[0]
                        && task.images.train[0].0.crop(top, left, 64, 64) == patch.image
                        && task.images.train[0].1.crop(top, left, 64, 64) == patch.labels
                })
            });
            assert!(found, "patch not found inside the training region");
        }
    }

    #[test]
    fn the_authors_draws_fixed_patches_and_whole_images_in_order() {
        let config = SegmentationDataConfig {
            patches_per_epoch: 8,
            flips: false,
            // Two training regions: whole images of different sizes, in config order.
            train_regions: vec![[0, 0, 128, 128], [128, 0, 64, 128]],
            ..SegmentationDataConfig::default()
        };
        let task = SegmentationTask::new(&config, 5, 16).unwrap();
        // One fixed set, reshuffled: every epoch holds epoch 0's patches, in another order.
        let first = task.training_patches_with(1, true);
        let second = task.training_patches_with(2, true);
        assert_ne!(first, second, "reshuffled each epoch");
        for patch in &task.training_patches(0) {
            assert!(first.contains(patch) && second.contains(patch));
        }
        assert_ne!(task.training_patches(1), first, "fresh draws differ");
        // The first training images, whole, in order; no more than there are.
        let images = task.first_training_images(64);
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].image, task.images.train[0].0);
        assert_eq!(images[1].labels, task.images.train[1].1);
        assert_eq!(task.first_training_images(1).len(), 1);
    }

    #[test]
    fn flips_move_image_and_labels_together() {
        let config = SegmentationDataConfig {
            patches_per_epoch: 16,
            ..SegmentationDataConfig::default()
        };
        let task = SegmentationTask::new(&config, 11, 16).unwrap();
        let mut flipped = 0;
        for patch in task.training_patches(0) {
            // Undo each possible flip combination and look for the window it came from; the
            // labels must come from the same window under the same flips.
            let undo = [(false, false), (true, false), (false, true), (true, true)];
            let origin = undo.iter().find_map(|&(horizontal, vertical)| {
                let flips = crate::patch::Flips {
                    horizontal,
                    vertical,
                };
                let image = flips.apply_to_image(patch.image.clone());
                let labels = flips.apply_to_labels(patch.labels.clone());
                (0..=192)
                    .flat_map(|top| (0..=448).map(move |left| (top, left)))
                    .find(|&(top, left)| {
                        task.images.train[0].0.data[top * 512 + left] == image.data[0]
                            && task.images.train[0].0.crop(top, left, 64, 64) == image
                            && task.images.train[0].1.crop(top, left, 64, 64) == labels
                    })
                    .map(|_| horizontal || vertical)
            });
            assert!(
                origin.is_some(),
                "patch and labels do not come from one flipped window"
            );
            flipped += usize::from(origin == Some(true));
        }
        assert!(flipped > 0, "flips enabled but no patch was flipped");
    }

    #[test]
    fn eval_regions_match_the_config() {
        let task = SegmentationTask::new(&SegmentationDataConfig::default(), 0, 16).unwrap();
        let names: Vec<&str> = task
            .validation()
            .iter()
            .chain(task.test())
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["val_region0", "test_region0"]);
        let test = &task.test()[0];
        let image = decode_png(embedded_file(NUCLEI_IMAGE).unwrap().bytes, NUCLEI_IMAGE).unwrap();
        assert_eq!(test.image, image.crop(256, 256, 256, 256));
        assert_eq!((test.labels.height, test.labels.width), (256, 256));
        assert_eq!(test.layout, EvalLayout::whole(256, 256));
        assert_eq!(
            task.sources()
                .into_iter()
                .map(|(file, _)| file)
                .collect::<Vec<_>>(),
            [NUCLEI_IMAGE, NUCLEI_INSTANCES]
        );
    }
}
