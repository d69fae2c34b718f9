//! Denoising images (authors-code §7.1, §7.2, §8.1): the clean test sets BSD68 (gray), CBSD68
//! (colour) and Set12 (gray) with their evaluation layouts, and the BSDS500-derived training
//! sets BSD400 (gray) and CBSD432 (colour). Images are returned clean, in [0, 1]; the data
//! crate's `DenoisingTask` adds the noise.
//!
//! Gray images are 8-bit gray files divided by 255; colour files read for a gray set are
//! converted with the BT.601 luma in OpenCV's rounding
//! ([`rgb_to_gray_u8`](super::decode::rgb_to_gray_u8)). JPEGs are decoded by the `image`
//! crate, whose IDCT may differ from libjpeg's by a grey level here and there.

use std::path::{Path, PathBuf};

use spiking_unet_data::{EvalLayout, Image};

use super::decode::{SourceLog, decode_gray8, decode_rgb8, files_under, find_path};
use crate::error::{Error, Result};

/// (name, clean image, evaluation layout) of each test image, as `DenoisingImages` holds them.
pub type EvaluationImages = Vec<(String, Image, EvalLayout)>;

/// (file relative to the root, SHA-256 hex) of every file read, sorted.
pub type Sources = Vec<(String, String)>;

/// A denoising test set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestSet {
    /// The 68 gray BSD test images: `testsets/BSD68/*.png` of the cszn/DnCNN repository.
    Bsd68,
    /// The same 68 images in colour: every `*.png` under the root (the deepinv/CBSD68 archive
    /// unpacks to a folder of PNGs), skipping folders whose name starts with `noisy` (copies
    /// that ship noisy versions next to the originals), sorted by path.
    Cbsd68,
    /// The 12 gray classic test images: `testsets/Set12/*.png` of the cszn/DnCNN repository.
    Set12,
}

impl TestSet {
    /// 1 for the gray sets, 3 for CBSD68.
    pub fn channels(self) -> usize {
        match self {
            Self::Cbsd68 => 3,
            Self::Bsd68 | Self::Set12 => 1,
        }
    }

    fn dataset(self) -> &'static str {
        match self {
            Self::Bsd68 => "bsd68",
            Self::Cbsd68 => "cbsd68",
            Self::Set12 => "set12",
        }
    }
}

/// How a test image is presented to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DenoisingEvaluation {
    /// The whole image, mirror-padded at the bottom and right to multiples of the size
    /// multiple ([`EvalLayout::whole_padded`]).
    #[default]
    Whole,
    /// The authors' four corner patches (§7.1, stitched as in §8.1 `merge_and_psnr`), each of
    /// the smallest multiple of the size multiple that covers its quadrant: `ceil(h / 2)` rows
    /// and `ceil(w / 2)` columns rounded up ([`corner_patch_size`]).
    Corners,
}

/// The side of a corner patch for an image side `side`: `ceil(side / 2)` (the larger
/// quadrant) rounded up to a multiple of `size_multiple` (321 x 481 with 16: 176 x 256).
pub fn corner_patch_size(side: usize, size_multiple: usize) -> usize {
    side.div_ceil(2).div_ceil(size_multiple) * size_multiple
}

/// The evaluation layout of an `height` x `width` image.
pub fn evaluation_layout(
    height: usize,
    width: usize,
    evaluation: DenoisingEvaluation,
    size_multiple: usize,
) -> Option<EvalLayout> {
    let size_multiple = size_multiple.max(1);
    match evaluation {
        DenoisingEvaluation::Whole => {
            let layout = EvalLayout::whole_padded(height, width, size_multiple);
            // Mirror padding cannot more than double a side.
            (layout.tile_size.0 < 2 * height && layout.tile_size.1 < 2 * width).then_some(layout)
        }
        DenoisingEvaluation::Corners => {
            let patch = (
                corner_patch_size(height, size_multiple),
                corner_patch_size(width, size_multiple),
            );
            (patch.0 <= height && patch.1 <= width)
                .then(|| EvalLayout::corners(height, width, patch.0, patch.1))
        }
    }
}

/// Loads the clean images of `set` from `root`, each with its evaluation layout, named by file
/// stem, in path order.
pub fn load_test_set(
    root: &Path,
    set: TestSet,
    evaluation: DenoisingEvaluation,
    size_multiple: usize,
) -> Result<(EvaluationImages, Sources)> {
    let files = test_files(root, set)?;
    let mut log = SourceLog::new(root);
    let mut images = Vec::with_capacity(files.len());
    for file in files {
        let image = decode_clean(&log.read(&file)?, &file, set.channels() == 3)?;
        let layout = evaluation_layout(image.height, image.width, evaluation, size_multiple)
            .ok_or_else(|| Error::Decode {
                file: file.clone(),
                detail: format!(
                    "a {}x{} image is too small for {evaluation:?} evaluation with size multiple {size_multiple}",
                    image.height, image.width
                ),
            })?;
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        images.push((name, image, layout));
    }
    Ok((images, log.into_sorted()))
}

fn test_files(root: &Path, set: TestSet) -> Result<Vec<PathBuf>> {
    let is_png = |name: &str| name.to_ascii_lowercase().ends_with(".png");
    let (files, expected) = match set {
        TestSet::Bsd68 | TestSet::Set12 => {
            let folder = if set == TestSet::Bsd68 {
                "testsets/BSD68"
            } else {
                "testsets/Set12"
            };
            let files = find_path(root, folder)
                .map(|found| files_under(&found, is_png))
                .unwrap_or_default();
            (files, format!("expected {folder}/*.png"))
        }
        TestSet::Cbsd68 => {
            let files = files_under(root, is_png)
                .into_iter()
                .filter(|path| {
                    let relative = path.strip_prefix(root).unwrap_or(path);
                    !relative.components().any(|part| {
                        part.as_os_str()
                            .to_string_lossy()
                            .to_ascii_lowercase()
                            .starts_with("noisy")
                    })
                })
                .collect();
            (
                files,
                "expected *.png images (anywhere below the folder)".to_owned(),
            )
        }
    };
    if files.is_empty() {
        return Err(Error::Layout {
            dataset: set.dataset().to_owned(),
            folder: root.to_path_buf(),
            detail: expected,
        });
    }
    Ok(files)
}

/// An image file as a clean image in [0, 1]: RGB planes if `color`, else 8-bit gray.
fn decode_clean(bytes: &[u8], file: &Path, color: bool) -> Result<Image> {
    let raster = if color {
        decode_rgb8(bytes, file)?
    } else {
        decode_gray8(bytes, file)?
    };
    Ok(Image::new(
        raster.channels,
        raster.height,
        raster.width,
        raster.to_planes(255.0),
    )?)
}

/// PSNR (peak 1) above which a training candidate counts as the same picture as an excluded
/// test image: re-encodings of one photograph score 35 dB and more, different photographs
/// far below 20 dB.
pub const SAME_PICTURE_PSNR_DB: f64 = 30.0;

/// Loads a denoising training set from a BSDS500 copy (the BIDS/BSDS500 GitHub archive:
/// `.../BSDS500/data/images/{train,val,test}/*.jpg`, found anywhere below `bsds_root`).
///
/// * `color = false`: **BSD400**, the 200 `train` + 200 `test` images in gray. This is the
///   usual derivation of the literature's Train400: BSD68 comes from the `val` split (the old
///   BSDS300 test set), so train + test never overlaps it.
/// * `color = true`: **CBSD432**, `train` + `test` + `val` (500) in colour minus the images that
///   match one of `exclude` (pass the CBSD68 test images): same size, allowing a 90° rotation
///   or a transpose (portrait images are sometimes stored rotated), and PSNR above
///   [`SAME_PICTURE_PSNR_DB`]. With the 68 CBSD68 images this leaves 432.
///
/// `exclude` applies to the gray set too (comparing images with the same channel count). Images
/// are in [0, 1], not rotated (training cuts random patches, so orientation does not matter),
/// in split order train, test, val and then by file name.
pub fn load_training_set(
    bsds_root: &Path,
    color: bool,
    exclude: &[Image],
) -> Result<(Vec<Image>, Sources)> {
    let dataset = if color { "cbsd432" } else { "bsd400" };
    let images_folder =
        find_path(bsds_root, "BSDS500/data/images").ok_or_else(|| Error::Layout {
            dataset: dataset.to_owned(),
            folder: bsds_root.to_path_buf(),
            detail: "expected BSDS500/data/images/{train,test,val}/*.jpg".to_owned(),
        })?;
    let splits: &[&str] = if color {
        &["train", "test", "val"]
    } else {
        &["train", "test"]
    };
    let mut log = SourceLog::new(bsds_root);
    let mut images = Vec::new();
    for split in splits {
        let folder = images_folder.join(split);
        let files = files_under(&folder, |name| name.to_ascii_lowercase().ends_with(".jpg"));
        if files.is_empty() {
            return Err(Error::Layout {
                dataset: dataset.to_owned(),
                folder: bsds_root.to_path_buf(),
                detail: format!("expected {}/*.jpg", folder.display()),
            });
        }
        for file in files {
            let image = decode_clean(&log.read(&file)?, &file, color)?;
            if !exclude.iter().any(|target| same_picture(&image, target)) {
                images.push(image);
            }
        }
    }
    Ok((images, log.into_sorted()))
}

/// Whether `candidate`, in one of four orientations (as is, transposed, rotated 90° either
/// way), has `target`'s shape and a PSNR against it above [`SAME_PICTURE_PSNR_DB`].
fn same_picture(candidate: &Image, target: &Image) -> bool {
    if candidate.channels != target.channels {
        return false;
    }
    let (ch, cw) = (candidate.height, candidate.width);
    // Each orientation maps a target pixel (y, x) to the candidate pixel it shows.
    // (swaps height and width, (y, x, candidate height, candidate width) -> source pixel).
    type Orientation = (bool, fn(usize, usize, usize, usize) -> (usize, usize));
    let orientations: [Orientation; 4] = [
        (false, |y, x, _, _| (y, x)),
        (true, |y, x, _, _| (x, y)),
        // Clockwise: target(y, x) = candidate(h - 1 - x, y).
        (true, |y, x, h, _| (h - 1 - x, y)),
        // Counter-clockwise: target(y, x) = candidate(x, w - 1 - y).
        (true, |y, x, _, w| (x, w - 1 - y)),
    ];
    let pixels = target.height * target.width;
    let mse_limit = 10f64.powf(-SAME_PICTURE_PSNR_DB / 10.0);
    let budget = mse_limit * (pixels * target.channels) as f64;
    orientations.iter().any(|&(swapped, source)| {
        let shape = if swapped { (cw, ch) } else { (ch, cw) };
        if shape != (target.height, target.width) {
            return false;
        }
        let mut squared_error = 0.0f64;
        for y in 0..target.height {
            for x in 0..target.width {
                let (sy, sx) = source(y, x, ch, cw);
                for c in 0..target.channels {
                    let a = candidate.data[(c * ch + sy) * cw + sx];
                    let b = target.data[(c * target.height + y) * target.width + x];
                    squared_error += f64::from(a - b).powi(2);
                }
            }
            // Different pictures exceed the budget within a few rows; stop there.
            if squared_error > budget {
                return false;
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::super::decode::fixtures::{encode, write};
    use super::super::decode::rgb_to_gray_u8;
    use super::*;

    /// A smooth colour picture (JPEG keeps it close), distinct per `seed`.
    fn picture(seed: usize, height: usize, width: usize) -> Vec<u8> {
        (0..height * width)
            .flat_map(|p| {
                let (y, x) = (p / width, p % width);
                let base = (y * 3 + x * (seed + 1) + seed * 40) % 200;
                [base as u8 + 20, (base / 2) as u8 + 60, (200 - base) as u8]
            })
            .collect()
    }

    #[test]
    fn corner_patch_sizes_cover_the_quadrants() {
        assert_eq!(corner_patch_size(321, 16), 176);
        assert_eq!(corner_patch_size(481, 16), 256);
        assert_eq!(corner_patch_size(256, 16), 128);
        assert_eq!(
            evaluation_layout(321, 481, DenoisingEvaluation::Corners, 16),
            Some(EvalLayout::corners(321, 481, 176, 256))
        );
        assert_eq!(
            evaluation_layout(10, 40, DenoisingEvaluation::Corners, 16),
            None
        );
    }

    #[test]
    fn bsd68_gray_whole_and_corners() {
        let dir = tempfile::tempdir().unwrap();
        let gray_a: Vec<u8> = (0..21 * 30).map(|i| (i % 256) as u8).collect();
        let gray_b: Vec<u8> = (0..30 * 21).map(|i| (255 - i % 256) as u8).collect();
        write(
            dir.path(),
            "DnCNN-master/testsets/BSD68/test001.png",
            &encode(&gray_a, 21, 30, 1, ImageFormat::Png),
        );
        write(
            dir.path(),
            "DnCNN-master/testsets/BSD68/test002.png",
            &encode(&gray_b, 30, 21, 1, ImageFormat::Png),
        );
        write(
            dir.path(),
            "DnCNN-master/testsets/Set12/01.png",
            &encode(&gray_a, 21, 30, 1, ImageFormat::Png),
        );

        let (images, sources) =
            load_test_set(dir.path(), TestSet::Bsd68, DenoisingEvaluation::Whole, 8).unwrap();
        assert_eq!(images.len(), 2);
        let (name, image, layout) = &images[0];
        assert_eq!(name, "test001");
        assert_eq!((image.channels, image.height, image.width), (1, 21, 30));
        assert_eq!(image.data[7], 7.0 / 255.0);
        assert_eq!(*layout, EvalLayout::whole_padded(21, 30, 8));
        assert_eq!(layout.tile_size, (24, 32));
        assert_eq!(
            sources.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
            [
                "DnCNN-master/testsets/BSD68/test001.png",
                "DnCNN-master/testsets/BSD68/test002.png"
            ]
        );

        let (images, _) =
            load_test_set(dir.path(), TestSet::Bsd68, DenoisingEvaluation::Corners, 8).unwrap();
        assert_eq!(images[0].2, EvalLayout::corners(21, 30, 16, 16));
        assert_eq!(images[1].2, EvalLayout::corners(30, 21, 16, 16));
        let err = load_test_set(dir.path(), TestSet::Bsd68, DenoisingEvaluation::Corners, 32)
            .unwrap_err();
        assert!(err.to_string().contains("test001.png"), "{err}");

        let (set12, _) =
            load_test_set(dir.path(), TestSet::Set12, DenoisingEvaluation::Whole, 8).unwrap();
        assert_eq!(set12.len(), 1);
    }

    #[test]
    fn colour_files_become_gray_with_bt601() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = picture(1, 16, 16);
        write(
            dir.path(),
            "testsets/Set12/01.png",
            &encode(&rgb, 16, 16, 3, ImageFormat::Png),
        );
        let (images, _) =
            load_test_set(dir.path(), TestSet::Set12, DenoisingEvaluation::Whole, 16).unwrap();
        let gray = rgb_to_gray_u8(&rgb);
        let want: Vec<f32> = gray.iter().map(|&v| f32::from(v) / 255.0).collect();
        assert_eq!(images[0].1.data, want);
    }

    #[test]
    fn cbsd68_reads_colour_pngs_recursively_skipping_noisy_copies() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..3 {
            let rgb = picture(index, 12, 20);
            write(
                dir.path(),
                &format!("CBSD68/original/{index:04}.png"),
                &encode(&rgb, 12, 20, 3, ImageFormat::Png),
            );
        }
        write(
            dir.path(),
            "CBSD68/noisy25/0000.png",
            &encode(&picture(9, 12, 20), 12, 20, 3, ImageFormat::Png),
        );
        let (images, sources) =
            load_test_set(dir.path(), TestSet::Cbsd68, DenoisingEvaluation::Whole, 4).unwrap();
        assert_eq!(images.len(), 3);
        assert_eq!(sources.len(), 3);
        let (name, image, _) = &images[1];
        assert_eq!(name, "0001");
        assert_eq!(image.channels, 3);
        let rgb = picture(1, 12, 20);
        // Blue plane, pixel 2.
        assert_eq!(
            image.data[2 * 12 * 20 + 2],
            f32::from(rgb[2 * 3 + 2]) / 255.0
        );
    }

    #[test]
    fn missing_test_folder_names_the_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            load_test_set(dir.path(), TestSet::Bsd68, DenoisingEvaluation::Whole, 16).unwrap_err();
        assert!(matches!(err, Error::Layout { .. }));
        assert!(err.to_string().contains("testsets/BSD68/*.png"), "{err}");
    }

    fn write_bsds(root: &Path) {
        for (split, seeds) in [("train", [0, 1]), ("test", [2, 3]), ("val", [4, 5])] {
            for seed in seeds {
                // Seed 4 is a portrait picture.
                let (h, w) = if seed == 4 { (24, 16) } else { (16, 24) };
                write(
                    root,
                    &format!("BSDS500-master/BSDS500/data/images/{split}/{seed}.jpg"),
                    &encode(&picture(seed, h, w), h, w, 3, ImageFormat::Jpeg),
                );
            }
        }
    }

    #[test]
    fn bsd400_gray_is_train_plus_test() {
        let dir = tempfile::tempdir().unwrap();
        write_bsds(dir.path());
        let (images, sources) = load_training_set(dir.path(), false, &[]).unwrap();
        assert_eq!(images.len(), 4);
        assert!(
            images
                .iter()
                .all(|i| i.channels == 1 && i.data.iter().all(|v| (0.0..=1.0).contains(v)))
        );
        assert_eq!(sources.len(), 4);
        assert!(sources.iter().all(|(f, _)| !f.contains("/val/")));
    }

    #[test]
    fn cbsd432_drops_the_test_pictures_even_rotated() {
        let dir = tempfile::tempdir().unwrap();
        write_bsds(dir.path());
        let (all, sources) = load_training_set(dir.path(), true, &[]).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(sources.len(), 6);
        // The portrait val picture (index 4, in split order) stored rotated to landscape, with
        // a little noise as a PNG re-encoding would leave; plus an unrelated picture.
        let portrait = &all[4];
        assert_eq!((portrait.height, portrait.width), (24, 16));
        let mut rotated = Vec::with_capacity(portrait.data.len());
        for c in 0..3 {
            for y in 0..16 {
                for x in 0..24 {
                    // Clockwise: rotated(y, x) = portrait(23 - x, y).
                    let v = portrait.data[(c * 24 + (23 - x)) * 16 + y];
                    rotated.push(v + if (x + y) % 2 == 0 { 0.004 } else { -0.004 });
                }
            }
        }
        let rotated = Image::new(3, 16, 24, rotated).unwrap();
        let unrelated = Image::new(3, 16, 24, vec![0.5; 3 * 16 * 24]).unwrap();
        let (kept, _) = load_training_set(dir.path(), true, &[rotated, unrelated]).unwrap();
        assert_eq!(kept.len(), 5);
        assert!(!kept.contains(portrait));
        assert!(kept.contains(&all[5]));
    }

    #[test]
    fn missing_bsds_split_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write_bsds(dir.path());
        std::fs::remove_dir_all(dir.path().join("BSDS500-master/BSDS500/data/images/val")).unwrap();
        assert!(load_training_set(dir.path(), false, &[]).is_ok());
        let err = load_training_set(dir.path(), true, &[]).unwrap_err();
        assert!(err.to_string().contains("images/val/*.jpg"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = load_training_set(empty.path(), true, &[]).unwrap_err();
        assert!(err.to_string().contains("BSDS500/data/images"), "{err}");
    }
}
