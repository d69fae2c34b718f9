//! ISBI 2012 EM segmentation (authors-code §7.4): the 30 labelled 512 x 512 training slices of
//! the challenge, split into training and test slices (the authors' split is not in their code;
//! see [`IsbiOptions`]), fed whole and **unnormalised** (gray 0..255 as f32, as the authors'
//! loader does), with binary labels where white (cell interior) is class 1.
//!
//! Two copies are understood: the PNG pairs of the zhixuhao/unet GitHub mirror
//! (`data/membrane/train/image/{0..29}.png` and `.../label/{0..29}.png`) and the challenge's
//! TIFF stacks (`train-volume.tif`, `train-labels.tif`, one page per slice).

use std::path::{Path, PathBuf};

use spiking_unet_data::{EvalLayout, Image, LabelMap, SegmentationEvalImage, SegmentationImages};

use super::decode::{Raster8, SourceLog, binary_labels, decode_gray8, find_path, tiff_stack};
use crate::error::{Error, Result};

const DATASET: &str = "isbi2012";

/// Which slices test and validate; every other slice trains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsbiOptions {
    /// Test slices by index (0-based, stack order). Default: the last five, 25..=29, a
    /// contiguous block so that test slices are not sandwiched between (and nearly identical
    /// to) training slices.
    pub test_slices: Vec<usize>,
    /// Validation slices, held out from training. Default: none, and the test set doubles as
    /// the validation set (the authors' practice for all tasks).
    pub validation_slices: Vec<usize>,
}

impl Default for IsbiOptions {
    fn default() -> Self {
        Self {
            test_slices: (25..30).collect(),
            validation_slices: Vec::new(),
        }
    }
}

/// Loads the labelled ISBI 2012 slices from `root` (either layout) and splits them.
///
/// Inputs are 1-channel images with the raw gray values 0..255; labels are {0 = membrane,
/// 1 = cell} (see [`binary_labels`]); evaluation is whole-image ([`EvalLayout::whole`]) with no
/// field of view. Names are `slice_NN`.
pub fn load(root: &Path, options: &IsbiOptions) -> Result<SegmentationImages> {
    let mut log = SourceLog::new(root);
    let slices = if let Some(first) = find_path(root, "data/membrane/train/image/0.png") {
        let train = first
            .parent()
            .and_then(Path::parent)
            .expect("found below root")
            .to_path_buf();
        load_pngs(root, &train, &mut log)?
    } else if let Some(volume) = find_path(root, "train-volume.tif") {
        load_stacks(root, &volume, &mut log)?
    } else {
        return Err(layout_error(
            root,
            "expected data/membrane/train/image/0.png (with .../label/0.png) or train-volume.tif (with train-labels.tif)"
                .to_owned(),
        ));
    };

    let count = slices.len();
    let mut role = vec![Role::Train; count];
    for (indices, assigned) in [
        (&options.test_slices, Role::Test),
        (&options.validation_slices, Role::Validation),
    ] {
        for &index in indices {
            if index >= count {
                return Err(layout_error(
                    root,
                    format!("slice {index} was asked for but the copy has {count} slices"),
                ));
            }
            if role[index] != Role::Train {
                return Err(layout_error(
                    root,
                    format!("slice {index} is listed twice among the test and validation slices"),
                ));
            }
            role[index] = assigned;
        }
    }
    if !role.contains(&Role::Train) || !role.contains(&Role::Test) {
        return Err(layout_error(
            root,
            "the split leaves no training slice or no test slice".to_owned(),
        ));
    }

    let mut train = Vec::new();
    let mut validation = Vec::new();
    let mut test = Vec::new();
    for (index, ((image, labels), role)) in slices.into_iter().zip(role).enumerate() {
        match role {
            Role::Train => train.push((image, labels)),
            Role::Validation | Role::Test => {
                let evaluation = SegmentationEvalImage {
                    name: format!("slice_{index:02}"),
                    layout: EvalLayout::whole(image.height, image.width),
                    image,
                    labels,
                    field_of_view: None,
                };
                if role == Role::Test {
                    test.push(evaluation);
                } else {
                    validation.push(evaluation);
                }
            }
        }
    }
    if validation.is_empty() {
        validation = test.clone();
    }
    Ok(SegmentationImages {
        channels: 1,
        class_names: vec!["membrane".to_owned(), "cell".to_owned()],
        train,
        validation,
        test,
        sources: log.into_sorted(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Train,
    Validation,
    Test,
}

fn layout_error(root: &Path, detail: String) -> Error {
    Error::layout(DATASET, root, detail)
}

/// The PNG pairs `train/image/{i}.png`, `train/label/{i}.png` for i = 0, 1, ... as long as
/// images exist.
fn load_pngs(root: &Path, train: &Path, log: &mut SourceLog) -> Result<Vec<(Image, LabelMap)>> {
    let mut slices = Vec::new();
    loop {
        let index = slices.len();
        let image_path = train.join(format!("image/{index}.png"));
        if !image_path.is_file() {
            break;
        }
        let label_path = train.join(format!("label/{index}.png"));
        if !label_path.is_file() {
            return Err(layout_error(
                root,
                format!("expected the label {}", label_path.display()),
            ));
        }
        let image = decode_gray8(&log.read(&image_path)?, &image_path)?;
        let labels = decode_gray8(&log.read(&label_path)?, &label_path)?;
        slices.push(slice(image, labels, &label_path)?);
    }
    Ok(slices)
}

/// The pages of `train-volume.tif` and of `train-labels.tif` next to it.
fn load_stacks(root: &Path, volume: &Path, log: &mut SourceLog) -> Result<Vec<(Image, LabelMap)>> {
    let labels_path: PathBuf = volume.with_file_name("train-labels.tif");
    if !labels_path.is_file() {
        return Err(layout_error(
            root,
            format!("expected {}", labels_path.display()),
        ));
    }
    let images = tiff_stack(&log.read(volume)?, volume)?;
    let labels = tiff_stack(&log.read(&labels_path)?, &labels_path)?;
    if images.len() != labels.len() {
        return Err(Error::Decode {
            file: labels_path,
            detail: format!(
                "{} label pages for {} image pages",
                labels.len(),
                images.len()
            ),
        });
    }
    images
        .into_iter()
        .zip(labels)
        .map(|(image, labels)| slice(image, labels, &labels_path))
        .collect()
}

/// One (input, labels) slice: raw gray values as f32, labels made binary.
fn slice(image: Raster8, labels: Raster8, labels_file: &Path) -> Result<(Image, LabelMap)> {
    if (labels.height, labels.width) != (image.height, image.width) {
        return Err(Error::Decode {
            file: labels_file.to_path_buf(),
            detail: format!(
                "labels are {}x{}, the image {}x{}",
                labels.height, labels.width, image.height, image.width
            ),
        });
    }
    // No /255: the authors feed ISBI's raw 0..255 values to the network.
    let input = Image::new(1, image.height, image.width, image.to_planes(1.0))?;
    let labels = LabelMap::new(labels.height, labels.width, binary_labels(&labels.samples))?;
    Ok((input, labels))
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::super::decode::fixtures::{encode, tiff_pages, write};
    use super::*;

    const SIDE: usize = 16;

    /// Slice `index`: a gradient image, and labels with a membrane (black) cross.
    fn slice_pixels(index: usize) -> (Vec<u8>, Vec<u8>) {
        let image = (0..SIDE * SIDE)
            .map(|p| ((p + index * 7) % 256) as u8)
            .collect();
        let labels = (0..SIDE * SIDE)
            .map(|p| {
                if p / SIDE == index % SIDE || p % SIDE == 3 {
                    0
                } else {
                    255
                }
            })
            .collect();
        (image, labels)
    }

    fn write_pngs(root: &Path, count: usize) {
        for index in 0..count {
            let (image, labels) = slice_pixels(index);
            write(
                root,
                &format!("unet-master/data/membrane/train/image/{index}.png"),
                &encode(&image, SIDE, SIDE, 1, ImageFormat::Png),
            );
            write(
                root,
                &format!("unet-master/data/membrane/train/label/{index}.png"),
                &encode(&labels, SIDE, SIDE, 1, ImageFormat::Png),
            );
        }
    }

    #[test]
    fn png_pairs_default_split() {
        let dir = tempfile::tempdir().unwrap();
        write_pngs(dir.path(), 30);
        let images = load(dir.path(), &IsbiOptions::default()).unwrap();
        assert_eq!(images.train.len(), 25);
        assert_eq!(images.test.len(), 5);
        assert_eq!(images.test[0].name, "slice_25");
        assert_eq!(images.validation, images.test);
        assert_eq!(images.class_names, ["membrane", "cell"]);
        assert_eq!(images.sources.len(), 60);
        assert_eq!(
            images.sources[0].0,
            "unet-master/data/membrane/train/image/0.png"
        );

        let (image, labels) = slice_pixels(27);
        let test = &images.test[2];
        assert_eq!(
            test.image.data,
            image.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
        );
        assert!(
            test.image.data.iter().any(|&v| v > 200.0),
            "raw 0..255 values"
        );
        assert_eq!(
            test.labels.labels,
            labels
                .iter()
                .map(|&v| u8::from(v == 255))
                .collect::<Vec<_>>()
        );
        assert_eq!(test.layout, EvalLayout::whole(SIDE, SIDE));
        assert!(test.field_of_view.is_none());
        let (train_image, _) = &images.train[3];
        assert_eq!(train_image.data[0], f32::from(slice_pixels(3).0[0]));
    }

    #[test]
    fn tiff_stacks_with_validation_slices() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels): (Vec<_>, Vec<_>) = (0..6).map(slice_pixels).unzip();
        write(
            dir.path(),
            "train-volume.tif",
            &tiff_pages(&images, SIDE, SIDE),
        );
        write(
            dir.path(),
            "train-labels.tif",
            &tiff_pages(&labels, SIDE, SIDE),
        );
        let options = IsbiOptions {
            test_slices: vec![5],
            validation_slices: vec![0, 2],
        };
        let loaded = load(dir.path(), &options).unwrap();
        assert_eq!(loaded.train.len(), 3);
        assert_eq!(
            loaded
                .validation
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["slice_00", "slice_02"]
        );
        assert_eq!(loaded.test[0].image.data[5], f32::from(images[5][5]));
        assert_eq!(loaded.train[0].0.data[0], f32::from(images[1][0]));
        assert_eq!(loaded.sources.len(), 2);

        let bad = IsbiOptions {
            test_slices: vec![6],
            validation_slices: vec![],
        };
        let err = load(dir.path(), &bad).unwrap_err();
        assert!(err.to_string().contains("has 6 slices"), "{err}");
        let overlap = IsbiOptions {
            test_slices: vec![1],
            validation_slices: vec![1],
        };
        assert!(load(dir.path(), &overlap).is_err());
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_pngs(dir.path(), 3);
        std::fs::remove_file(
            dir.path()
                .join("unet-master/data/membrane/train/label/1.png"),
        )
        .unwrap();
        let err = load(dir.path(), &IsbiOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Layout { .. }));
        assert!(err.to_string().contains("train/label/1.png"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-volume.tif",
            &tiff_pages(&[vec![0; 4]], 2, 2),
        );
        let err = load(dir.path(), &IsbiOptions::default()).unwrap_err();
        assert!(err.to_string().contains("train-labels.tif"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        let err = load(empty.path(), &IsbiOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("data/membrane/train/image/0.png"),
            "{err}"
        );
    }
}
