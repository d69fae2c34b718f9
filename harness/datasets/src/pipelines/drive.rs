//! DRIVE retinal-vessel segmentation (authors-code §7.3): the 20 training and 20 test fundus
//! images, preprocessed per set with the retina-unet `my_PreProc`
//! ([`drive_preprocess`]), training images cropped
//! to 565 x 565, test images zero-padded to 624 x 576 and evaluated as 13 x 12 tiles of 48 x 48
//! with the authors' `kill_border` (prediction and truth forced to background outside the field
//! of view and outside the original 584 x 565).
//!
//! Two copies of the data are understood, told apart by what exists under the root:
//!
//! * the Hugging Face table `GleghornLab/DRIVE`: `data/train-*.parquet` and
//!   `data/test-*.parquet` with `Image` columns `image` (RGB) and `ground_truth` (vessels,
//!   0/255). It has no field-of-view masks, so they are derived from the red channel (see
//!   [`DriveOptions::fov_red_threshold`]);
//! * the official zip: `training/images/NN_training.tif`, `training/1st_manual/NN_manual1.gif`,
//!   `training/mask/NN_training_mask.gif` and the same under `test/` with `NN_test`.

use std::path::{Path, PathBuf};

use spiking_unet_data::{EvalLayout, Image, LabelMap, SegmentationEvalImage, SegmentationImages};

use super::decode::{
    Raster8, SourceLog, binary_labels, decode_gray8, decode_rgb8, files_under, find_path,
    parquet_image_column,
};
use crate::drive_preprocessing::{RgbImage, drive_preprocess};
use crate::error::{Error, Result};

const DATASET: &str = "drive";

/// Image sizes and the crop, padding and tiling of the authors' DRIVE pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveGeometry {
    /// Rows of every DRIVE image (584).
    pub height: usize,
    /// Columns of every DRIVE image (565).
    pub width: usize,
    /// First training row kept (9: retina-unet crops `[9:574]`).
    pub crop_top: usize,
    /// Training rows kept from `crop_top` on (565, which makes the training images square).
    pub crop_height: usize,
    /// Rows of an evaluation image after zero padding (624 = 13 tiles).
    pub padded_height: usize,
    /// Columns of an evaluation image after zero padding (576 = 12 tiles).
    pub padded_width: usize,
    /// Side of the square evaluation tiles (48).
    pub tile: usize,
}

impl DriveGeometry {
    /// The sizes of the real dataset and of the authors' code.
    pub const PAPER: Self = Self {
        height: 584,
        width: 565,
        crop_top: 9,
        crop_height: 565,
        padded_height: 624,
        padded_width: 576,
        tile: 48,
    };

    fn validate(&self, root: &Path) -> Result<()> {
        let fits = self.crop_top + self.crop_height <= self.height
            && self.padded_height >= self.height
            && self.padded_width >= self.width
            && self.tile > 0
            && self.padded_height.is_multiple_of(self.tile)
            && self.padded_width.is_multiple_of(self.tile);
        if fits {
            Ok(())
        } else {
            Err(Error::Layout {
                dataset: DATASET.to_owned(),
                folder: root.to_path_buf(),
                detail: format!(
                    "inconsistent DRIVE geometry {self:?}: the crop must fit the image and the padded size must cover it in whole tiles"
                ),
            })
        }
    }
}

impl Default for DriveGeometry {
    fn default() -> Self {
        Self::PAPER
    }
}

/// The red-channel threshold that derives a field of view when the copy has no masks.
pub const DEFAULT_FOV_RED_THRESHOLD: u8 = 25;

/// Choices of the DRIVE pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveOptions {
    /// 0 (the default, the authors' practice): the test set doubles as the validation set.
    /// `n > 0`: the last `n` training images (by number) are held out for validation,
    /// evaluated like test images and not trained on. They are still preprocessed together with
    /// the other training images, so the training inputs stay those of the authors.
    pub validation_images: usize,
    /// Copies without field-of-view masks (the Hugging Face table) get one per image: the
    /// pixels whose red sample is **greater than** this value (default 25) are inside, nothing
    /// else is done (no morphology). The fundus is bright red on a black surround, so this
    /// recovers the circular field of view; it is not bit-identical to the official masks.
    pub fov_red_threshold: u8,
    /// Image size, crop, padding and tiling; [`DriveGeometry::PAPER`] unless testing.
    pub geometry: DriveGeometry,
}

impl Default for DriveOptions {
    fn default() -> Self {
        Self {
            validation_images: 0,
            fov_red_threshold: DEFAULT_FOV_RED_THRESHOLD,
            geometry: DriveGeometry::PAPER,
        }
    }
}

/// One decoded DRIVE image before preprocessing.
struct Fundus {
    /// The DRIVE number (training 21..40, test 01..20).
    number: usize,
    rgb: Raster8,
    /// Class ids, 1 = vessel.
    vessels: Vec<u8>,
    /// true = inside the field of view.
    field_of_view: Vec<bool>,
}

/// Loads DRIVE from `root` (either layout, see the module documentation).
///
/// Training pairs are the preprocessed images cropped to `crop_height` rows from `crop_top`
/// (1 channel, values in [0, 1]) with their vessel maps ({0, 1}). Test (and held-out
/// validation) images are zero-padded at the bottom and right to the padded size, with
/// [`EvalLayout::grid`] tiles, labels set to 0 outside the field of view, and
/// `field_of_view` true only inside both the mask and the original image. Names are
/// `train_NN` / `test_NN`.
pub fn load(root: &Path, options: &DriveOptions) -> Result<SegmentationImages> {
    let geometry = options.geometry;
    geometry.validate(root)?;
    let mut log = SourceLog::new(root);
    let shards = |split: &str| match find_path(root, "data") {
        Some(data) => files_under(&data, |name| {
            name.starts_with(&format!("{split}-")) && name.ends_with(".parquet")
        }),
        None => Vec::new(),
    };
    let (train_files, test_files) = (shards("train"), shards("test"));
    let (train, test) = if !train_files.is_empty() || !test_files.is_empty() {
        if train_files.is_empty() || test_files.is_empty() {
            return Err(layout_error(
                root,
                "expected both data/train-00000-of-00001.parquet and data/test-00000-of-00001.parquet"
                    .to_owned(),
            ));
        }
        let threshold = options.fov_red_threshold;
        (
            load_parquet(&train_files, 21, threshold, &mut log)?,
            load_parquet(&test_files, 1, threshold, &mut log)?,
        )
    } else if let Some(training) = find_path(root, "training/images") {
        let base = training
            .parent()
            .and_then(Path::parent)
            .expect("found below root")
            .to_path_buf();
        (
            load_official(root, &base, "training", "training", &mut log)?,
            load_official(root, &base, "test", "test", &mut log)?,
        )
    } else {
        return Err(layout_error(
            root,
            "expected the Hugging Face table data/train-00000-of-00001.parquet or the official layout training/images/21_training.tif"
                .to_owned(),
        ));
    };
    for fundus in train.iter().chain(&test) {
        if (fundus.rgb.height, fundus.rgb.width) != (geometry.height, geometry.width) {
            return Err(layout_error(
                root,
                format!(
                    "image {} is {}x{}; every DRIVE image must be {}x{}",
                    fundus.number,
                    fundus.rgb.height,
                    fundus.rgb.width,
                    geometry.height,
                    geometry.width
                ),
            ));
        }
    }
    if options.validation_images >= train.len() {
        return Err(layout_error(
            root,
            format!(
                "cannot hold out {} of the {} training images for validation",
                options.validation_images,
                train.len()
            ),
        ));
    }

    // The authors standardise each set with its own statistics (my_PreProc per set).
    let train_inputs = preprocess(&train);
    let test_inputs = preprocess(&test);

    let kept = train.len() - options.validation_images;
    let mut train_pairs = Vec::with_capacity(kept);
    for (fundus, input) in train.iter().zip(&train_inputs).take(kept) {
        train_pairs.push(training_pair(fundus, input, &geometry)?);
    }
    let test_images = test
        .iter()
        .zip(&test_inputs)
        .map(|(fundus, input)| evaluation_image("test", fundus, input, &geometry))
        .collect::<Result<Vec<_>>>()?;
    let validation = if options.validation_images == 0 {
        test_images.clone()
    } else {
        train
            .iter()
            .zip(&train_inputs)
            .skip(kept)
            .map(|(fundus, input)| evaluation_image("train", fundus, input, &geometry))
            .collect::<Result<Vec<_>>>()?
    };
    Ok(SegmentationImages {
        channels: 1,
        class_names: vec!["background".to_owned(), "vessel".to_owned()],
        train: train_pairs,
        validation,
        test: test_images,
        sources: log.into_sorted(),
    })
}

fn layout_error(root: &Path, detail: String) -> Error {
    Error::layout(DATASET, root, detail)
}

/// The rows of one split of the Hugging Face table, sorted by DRIVE number. The number comes
/// from the leading digits of each cell's file name, or from the row order starting at
/// `first_number` when the table has no names.
fn load_parquet(
    files: &[PathBuf],
    first_number: usize,
    fov_red_threshold: u8,
    log: &mut SourceLog,
) -> Result<Vec<Fundus>> {
    let mut images = Vec::new();
    for file in files {
        log.read(file)?;
        let inputs = parquet_image_column(file, "image")?;
        let truths = parquet_image_column(file, "ground_truth")?;
        for (input, truth) in inputs.iter().zip(&truths) {
            let row = images.len();
            let number = input
                .path
                .as_deref()
                .and_then(leading_number)
                .unwrap_or(first_number + row);
            let cell = file.with_file_name(format!(
                "{}[row {row}]",
                file.file_name().unwrap_or_default().to_string_lossy()
            ));
            let rgb = decode_rgb8(&input.bytes, &cell)?;
            let vessels = binary_labels(&decode_gray8(&truth.bytes, &cell)?.samples);
            let field_of_view = rgb
                .samples
                .chunks_exact(3)
                .map(|pixel| pixel[0] > fov_red_threshold)
                .collect();
            images.push(Fundus {
                number,
                rgb,
                vessels,
                field_of_view,
            });
        }
    }
    images.sort_by_key(|fundus| fundus.number);
    Ok(images)
}

/// One split of the official layout under `base`: every `{folder}/images/NN_{suffix}.tif` with
/// its `1st_manual/NN_manual1.gif` and `mask/NN_{suffix}_mask.gif`.
fn load_official(
    root: &Path,
    base: &Path,
    folder: &str,
    suffix: &str,
    log: &mut SourceLog,
) -> Result<Vec<Fundus>> {
    let split = base.join(folder);
    let pattern = format!("_{suffix}.tif");
    let mut numbered: Vec<(usize, PathBuf)> =
        files_under(&split.join("images"), |name| name.ends_with(&pattern))
            .into_iter()
            .filter_map(|path| {
                let number = leading_number(&path.file_name()?.to_string_lossy())?;
                Some((number, path))
            })
            .collect();
    if numbered.is_empty() {
        return Err(layout_error(
            root,
            format!("no images {}/images/NN{pattern}", split.display()),
        ));
    }
    numbered.sort();
    let required = |path: PathBuf| {
        if path.is_file() {
            Ok(path)
        } else {
            Err(layout_error(root, format!("expected {}", path.display())))
        }
    };
    numbered
        .into_iter()
        .map(|(number, image_path)| {
            let manual = required(split.join(format!("1st_manual/{number:02}_manual1.gif")))?;
            let mask = required(split.join(format!("mask/{number:02}_{suffix}_mask.gif")))?;
            let rgb = decode_rgb8(&log.read(&image_path)?, &image_path)?;
            let vessels = binary_labels(&decode_gray8(&log.read(&manual)?, &manual)?.samples);
            let fov = decode_gray8(&log.read(&mask)?, &mask)?;
            if (fov.height, fov.width) != (rgb.height, rgb.width) {
                return Err(Error::Decode {
                    file: mask,
                    detail: format!(
                        "mask is {}x{}, its image {}x{}",
                        fov.height, fov.width, rgb.height, rgb.width
                    ),
                });
            }
            Ok(Fundus {
                number,
                rgb,
                vessels,
                // The authors' test masks count as inside where > 0.
                field_of_view: fov.samples.iter().map(|&v| v > 0).collect(),
            })
        })
        .collect()
}

/// The decimal number a DRIVE file name starts with (`21_training.tif` → 21).
fn leading_number(name: &str) -> Option<usize> {
    let name = name.rsplit('/').next().unwrap_or(name);
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `my_PreProc` of one whole set.
fn preprocess(set: &[Fundus]) -> Vec<Vec<f64>> {
    let images: Vec<RgbImage<'_>> = set
        .iter()
        .map(|fundus| RgbImage::new(&fundus.rgb.samples, fundus.rgb.height, fundus.rgb.width))
        .collect();
    drive_preprocess(&images)
}

fn training_pair(
    fundus: &Fundus,
    input: &[f64],
    geometry: &DriveGeometry,
) -> Result<(Image, LabelMap)> {
    let width = geometry.width;
    let rows = geometry.crop_top * width..(geometry.crop_top + geometry.crop_height) * width;
    let image = Image::new(
        1,
        geometry.crop_height,
        width,
        input[rows.clone()].iter().map(|&v| v as f32).collect(),
    )?;
    let labels = LabelMap::new(geometry.crop_height, width, fundus.vessels[rows].to_vec())?;
    Ok((image, labels))
}

fn evaluation_image(
    split: &str,
    fundus: &Fundus,
    input: &[f64],
    geometry: &DriveGeometry,
) -> Result<SegmentationEvalImage> {
    let (height, width) = (geometry.height, geometry.width);
    let (padded_height, padded_width) = (geometry.padded_height, geometry.padded_width);
    let mut pixels = vec![0.0f32; padded_height * padded_width];
    let mut labels = vec![0u8; padded_height * padded_width];
    let mut field_of_view = vec![false; padded_height * padded_width];
    for y in 0..height {
        for x in 0..width {
            let (source, target) = (y * width + x, y * padded_width + x);
            pixels[target] = input[source] as f32;
            if fundus.field_of_view[source] {
                field_of_view[target] = true;
                // kill_border zeroes the ground truth outside the field of view too.
                labels[target] = fundus.vessels[source];
            }
        }
    }
    Ok(SegmentationEvalImage {
        name: format!("{split}_{:02}", fundus.number),
        image: Image::new(1, padded_height, padded_width, pixels)?,
        labels: LabelMap::new(padded_height, padded_width, labels)?,
        layout: EvalLayout::grid(padded_height, padded_width, geometry.tile),
        field_of_view: Some(field_of_view),
    })
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::super::decode::fixtures::{encode, image_parquet, write};
    use super::*;

    /// A small stand-in for the real sizes: 20 x 18 images, crop 2..20, padded to 24 x 24 in
    /// 8 x 8 tiles.
    const SMALL: DriveGeometry = DriveGeometry {
        height: 20,
        width: 18,
        crop_top: 2,
        crop_height: 18,
        padded_height: 24,
        padded_width: 24,
        tile: 8,
    };

    /// A synthetic fundus: a bright disc (red 60..) on black, vessels on every 4th column
    /// inside it; returns (RGB, vessel mask 0/255, FOV mask 0/255).
    fn fundus(seed: usize, height: usize, width: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (cy, cx, radius) = (
            height as f64 / 2.0,
            width as f64 / 2.0,
            height.min(width) as f64 * 0.45,
        );
        let mut rgb = Vec::new();
        let mut vessels = Vec::new();
        let mut fov = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let inside = ((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)).sqrt() < radius;
                let texture = ((x * 7 + y * 13 + seed * 31) % 90) as u8;
                if inside {
                    rgb.extend([60 + texture, 30 + texture / 2, 10 + texture / 3]);
                } else {
                    rgb.extend([3, 2, 1]);
                }
                vessels.push(if inside && x % 4 == seed % 4 { 255 } else { 0 });
                fov.push(if inside { 255 } else { 0 });
            }
        }
        (rgb, vessels, fov)
    }

    fn write_official(root: &Path, geometry: &DriveGeometry, train: &[usize], test: &[usize]) {
        let (h, w) = (geometry.height, geometry.width);
        for (split, suffix, numbers) in [("training", "training", train), ("test", "test", test)] {
            for &n in numbers {
                let (rgb, vessels, fov) = fundus(n, h, w);
                write(
                    root,
                    &format!("DRIVE/{split}/images/{n:02}_{suffix}.tif"),
                    &encode(&rgb, h, w, 3, ImageFormat::Tiff),
                );
                write(
                    root,
                    &format!("DRIVE/{split}/1st_manual/{n:02}_manual1.gif"),
                    &encode(&vessels, h, w, 1, ImageFormat::Gif),
                );
                write(
                    root,
                    &format!("DRIVE/{split}/mask/{n:02}_{suffix}_mask.gif"),
                    &encode(&fov, h, w, 1, ImageFormat::Gif),
                );
            }
        }
    }

    fn small_options(validation_images: usize) -> DriveOptions {
        DriveOptions {
            validation_images,
            geometry: SMALL,
            ..DriveOptions::default()
        }
    }

    #[test]
    fn official_layout_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        write_official(dir.path(), &SMALL, &[21, 22, 23], &[1, 2]);
        let images = load(dir.path(), &small_options(0)).unwrap();
        assert_eq!(images.channels, 1);
        assert_eq!(images.class_names, ["background", "vessel"]);
        assert_eq!(images.train.len(), 3);
        assert_eq!(images.test.len(), 2);
        assert_eq!(images.validation.len(), 2);
        assert_eq!(images.validation[1].name, "test_02");
        assert_eq!(images.sources.len(), 15);
        assert_eq!(images.sources[0].0, "DRIVE/test/1st_manual/01_manual1.gif");

        // Training: the preprocessed training set, rows 2..20.
        let raw: Vec<_> = [21, 22, 23].iter().map(|&n| fundus(n, 20, 18)).collect();
        let rgbs: Vec<RgbImage<'_>> = raw
            .iter()
            .map(|(rgb, _, _)| RgbImage::new(rgb, 20, 18))
            .collect();
        let expected = drive_preprocess(&rgbs);
        let (image, labels) = &images.train[1];
        assert_eq!((image.channels, image.height, image.width), (1, 18, 18));
        let want: Vec<f32> = expected[1][2 * 18..].iter().map(|&v| v as f32).collect();
        assert_eq!(image.data, want);
        let want_labels: Vec<u8> = raw[1].1[2 * 18..]
            .iter()
            .map(|&v| u8::from(v == 255))
            .collect();
        assert_eq!(labels.labels, want_labels);
        assert!(labels.labels.contains(&1));

        // Test: preprocessed with the test set's own statistics, zero-padded to 24 x 24.
        let raw: Vec<_> = [1, 2].iter().map(|&n| fundus(n, 20, 18)).collect();
        let rgbs: Vec<RgbImage<'_>> = raw
            .iter()
            .map(|(rgb, _, _)| RgbImage::new(rgb, 20, 18))
            .collect();
        let expected = drive_preprocess(&rgbs);
        let test = &images.test[0];
        assert_eq!(test.name, "test_01");
        assert_eq!((test.image.height, test.image.width), (24, 24));
        assert_eq!(test.layout.tiles.len(), 9);
        assert_eq!(test.layout.output_size, (24, 24));
        assert_eq!(test.image.data[5 * 24 + 7], expected[0][5 * 18 + 7] as f32);
        assert_eq!(test.image.data[5 * 24 + 20], 0.0);
        assert_eq!(test.image.data[22 * 24 + 3], 0.0);
        let fov = test.field_of_view.as_ref().unwrap();
        assert!(fov[10 * 24 + 9]);
        assert!(!fov[0] && !fov[10 * 24 + 19] && !fov[21 * 24 + 9]);
        for (index, &inside) in fov.iter().enumerate() {
            let (y, x) = (index / 24, index % 24);
            let truth = y < 20 && x < 18 && raw[0].2[y * 18 + x] == 255;
            assert_eq!(inside, truth, "fov at ({y}, {x})");
            if !inside {
                assert_eq!(test.labels.labels[index], 0);
            } else {
                assert_eq!(
                    test.labels.labels[index],
                    u8::from(raw[0].1[y * 18 + x] == 255)
                );
            }
        }
    }

    #[test]
    fn holding_out_training_images_for_validation() {
        let dir = tempfile::tempdir().unwrap();
        write_official(dir.path(), &SMALL, &[21, 22, 23], &[1]);
        let images = load(dir.path(), &small_options(1)).unwrap();
        assert_eq!(images.train.len(), 2);
        assert_eq!(images.validation.len(), 1);
        assert_eq!(images.validation[0].name, "train_23");
        assert_eq!(images.validation[0].image.height, 24);
        assert_eq!(images.test[0].name, "test_01");
        let err = load(dir.path(), &small_options(3)).unwrap_err();
        assert!(err.to_string().contains("cannot hold out 3"), "{err}");
    }

    #[test]
    fn missing_mask_names_the_expected_file() {
        let dir = tempfile::tempdir().unwrap();
        write_official(dir.path(), &SMALL, &[21], &[1]);
        std::fs::remove_file(dir.path().join("DRIVE/test/mask/01_test_mask.gif")).unwrap();
        let err = load(dir.path(), &small_options(0)).unwrap_err();
        assert!(matches!(err, Error::Layout { .. }), "{err}");
        assert!(
            err.to_string().contains("test/mask/01_test_mask.gif"),
            "{err}"
        );

        let empty = tempfile::tempdir().unwrap();
        let err = load(empty.path(), &small_options(0)).unwrap_err();
        assert!(
            err.to_string().contains("train-00000-of-00001.parquet"),
            "{err}"
        );
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_official(dir.path(), &SMALL, &[21], &[1]);
        let err = load(dir.path(), &DriveOptions::default()).unwrap_err();
        assert!(err.to_string().contains("must be 584x565"), "{err}");
    }

    #[test]
    fn hugging_face_table_with_derived_field_of_view() {
        let dir = tempfile::tempdir().unwrap();
        let (h, w) = (SMALL.height, SMALL.width);
        for (split, numbers, suffix) in [("train", [22, 21], "training"), ("test", [2, 1], "test")]
        {
            let cells = |column: usize| -> Vec<(Vec<u8>, String)> {
                numbers
                    .iter()
                    .map(|&n| {
                        let (rgb, vessels, _) = fundus(n, h, w);
                        let bytes = if column == 0 {
                            encode(&rgb, h, w, 3, ImageFormat::Png)
                        } else {
                            encode(&vessels, h, w, 1, ImageFormat::Png)
                        };
                        (bytes, format!("{n:02}_{suffix}.tif"))
                    })
                    .collect()
            };
            image_parquet(
                &dir.path()
                    .join(format!("data/{split}-00000-of-00001.parquet")),
                &[("image", cells(0)), ("ground_truth", cells(1))],
            );
        }
        let images = load(dir.path(), &small_options(0)).unwrap();
        assert_eq!(images.train.len(), 2);
        assert_eq!(images.test[0].name, "test_01", "rows sorted by number");
        assert_eq!(
            images
                .sources
                .iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>(),
            [
                "data/test-00000-of-00001.parquet",
                "data/train-00000-of-00001.parquet"
            ]
        );
        let (_, vessels, fov_mask) = fundus(1, h, w);
        let fov = images.test[0].field_of_view.as_ref().unwrap();
        for y in 0..h {
            for x in 0..w {
                assert_eq!(fov[y * 24 + x], fov_mask[y * w + x] == 255, "({y}, {x})");
                assert_eq!(
                    images.test[0].labels.labels[y * 24 + x],
                    u8::from(vessels[y * w + x] == 255)
                );
            }
        }
        let (_, labels) = &images.train[0];
        let (_, vessels, _) = fundus(21, h, w);
        assert_eq!(
            labels.labels[0..w],
            vessels[2 * w..3 * w]
                .iter()
                .map(|&v| u8::from(v == 255))
                .collect::<Vec<_>>()[..]
        );
    }

    /// The real geometry on one training and one test image: 565 x 565 training crops, a
    /// 624 x 576 padded test image in 13 x 12 tiles of 48.
    #[test]
    fn paper_geometry() {
        let dir = tempfile::tempdir().unwrap();
        write_official(dir.path(), &DriveGeometry::PAPER, &[21], &[1]);
        let images = load(dir.path(), &DriveOptions::default()).unwrap();
        let (image, labels) = &images.train[0];
        assert_eq!((image.height, image.width), (565, 565));
        assert_eq!((labels.height, labels.width), (565, 565));
        assert!(image.data.iter().all(|v| (0.0..=1.0).contains(v)));
        let test = &images.test[0];
        assert_eq!((test.image.height, test.image.width), (624, 576));
        assert_eq!(test.layout.tiles.len(), 13 * 12);
        assert_eq!(test.layout.tile_size, (48, 48));
        assert_eq!(test.layout.output_size, (624, 576));
        assert_eq!(test.labels.labels.len(), 624 * 576);
        assert_eq!(test.field_of_view.as_ref().unwrap().len(), 624 * 576);
    }
}
