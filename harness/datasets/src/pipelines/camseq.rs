//! CamSeq01 driving-scene segmentation (authors-code §7.5): 101 RGB frames of 960 x 720 with
//! colour-coded label images, 32 classes listed in `label_colors.txt`. Inputs are RGB / 255;
//! a label pixel gets the class whose colour it matches exactly, and class 0 when it matches
//! none (as the authors' one-hot-then-argmax does). The authors' split is not in their code;
//! see [`CamSeqOptions`].
//!
//! The copy is searched recursively: `label_colors.txt` anywhere under the root, and every frame
//! `X.png` with its label `X_L.png` in the same folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use spiking_unet_data::{EvalLayout, Image, LabelMap, SegmentationEvalImage, SegmentationImages};

use super::decode::{SourceLog, decode_rgb8, files_under, find_path};
use crate::error::{Error, Result};

const DATASET: &str = "camseq01";

/// How the frames are split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CamSeqOptions {
    /// The last `test_frames` frames in name order (the end of the video) are the test set
    /// (default 20 of the 101, about a fifth, one contiguous stretch so that test frames are
    /// not interleaved with their near-identical neighbours).
    pub test_frames: usize,
    /// The `validation_frames` frames just before the test frames are held out for
    /// validation. Default 0: the test set doubles as the validation set (the authors'
    /// practice).
    pub validation_frames: usize,
    /// Frame sides must be multiples of this (16 for the four 2x poolings of the U-Net); whole
    /// frames are fed, so a frame that is not is refused rather than padded.
    pub size_multiple: usize,
}

impl Default for CamSeqOptions {
    fn default() -> Self {
        Self {
            test_frames: 20,
            validation_frames: 0,
            size_multiple: 16,
        }
    }
}

/// Parses `label_colors.txt`: one class per non-empty line, `R G B` then the name, separated
/// by tabs or spaces (`#` lines are comments). Class ids follow line order. At most 256 classes
/// (ids are u8).
pub fn parse_label_colors(text: &str, file: &Path) -> Result<Vec<([u8; 3], String)>> {
    let fail = |line: usize, detail: String| Error::Decode {
        file: file.to_path_buf(),
        detail: format!("line {line}: {detail}"),
    };
    let mut classes = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut colour = [0u8; 3];
        for component in &mut colour {
            let field = fields
                .next()
                .ok_or_else(|| fail(number, format!("`{line}` lacks R G B")))?;
            *component = field
                .parse()
                .map_err(|_| fail(number, format!("`{field}` is not a colour value 0..255")))?;
        }
        let name = fields.collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(fail(number, format!("`{line}` has no class name")));
        }
        classes.push((colour, name));
    }
    if classes.is_empty() || classes.len() > 256 {
        return Err(Error::Decode {
            file: file.to_path_buf(),
            detail: format!("{} classes; expected 1 to 256", classes.len()),
        });
    }
    Ok(classes)
}

/// Loads CamSeq01 from `root`: frames sorted by file name, the last
/// [`CamSeqOptions::test_frames`] for testing, whole frames evaluated with
/// [`EvalLayout::whole`] and no field of view. Inputs have 3 channels in [0, 1]; names are the
/// frame file stems.
pub fn load(root: &Path, options: &CamSeqOptions) -> Result<SegmentationImages> {
    let mut log = SourceLog::new(root);
    let colors_path = find_path(root, "label_colors.txt")
        .ok_or_else(|| layout_error(root, "expected label_colors.txt".to_owned()))?;
    let colors_text = String::from_utf8(log.read(&colors_path)?).map_err(|_| Error::Decode {
        file: colors_path.clone(),
        detail: "not UTF-8 text".to_owned(),
    })?;
    let classes = parse_label_colors(&colors_text, &colors_path)?;
    // The first class listed with a colour wins, as argmax picks the first of equal scores.
    let mut class_of: HashMap<[u8; 3], u8> = HashMap::new();
    for (id, (colour, _)) in classes.iter().enumerate() {
        class_of.entry(*colour).or_insert(id as u8);
    }

    let frames = frame_pairs(root)?;
    let held_out = options.test_frames + options.validation_frames;
    if options.test_frames == 0 || held_out >= frames.len() {
        return Err(layout_error(
            root,
            format!(
                "{} frames cannot give {} test and {} validation frames and leave some for training",
                frames.len(),
                options.test_frames,
                options.validation_frames
            ),
        ));
    }

    let mut decoded = Vec::with_capacity(frames.len());
    for (frame_path, label_path) in &frames {
        let frame = decode_rgb8(&log.read(frame_path)?, frame_path)?;
        let label = decode_rgb8(&log.read(label_path)?, label_path)?;
        if (label.height, label.width) != (frame.height, frame.width) {
            return Err(Error::Decode {
                file: label_path.clone(),
                detail: format!(
                    "label is {}x{}, its frame {}x{}",
                    label.height, label.width, frame.height, frame.width
                ),
            });
        }
        let multiple = options.size_multiple.max(1);
        if !frame.height.is_multiple_of(multiple) || !frame.width.is_multiple_of(multiple) {
            return Err(Error::Decode {
                file: frame_path.clone(),
                detail: format!(
                    "frame is {}x{}; whole frames are fed to the network, so both sides must be multiples of {multiple}",
                    frame.height, frame.width
                ),
            });
        }
        let labels = label
            .samples
            .chunks_exact(3)
            .map(|pixel| {
                class_of
                    .get(&[pixel[0], pixel[1], pixel[2]])
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let name = frame_path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let image = Image::new(3, frame.height, frame.width, frame.to_planes(255.0))?;
        let labels = LabelMap::new(frame.height, frame.width, labels)?;
        decoded.push((name, image, labels));
    }

    let evaluation = |(name, image, labels): (String, Image, LabelMap)| SegmentationEvalImage {
        name,
        layout: EvalLayout::whole(image.height, image.width),
        image,
        labels,
        field_of_view: None,
    };
    let test: Vec<SegmentationEvalImage> = decoded
        .split_off(decoded.len() - options.test_frames)
        .into_iter()
        .map(evaluation)
        .collect();
    let validation = if options.validation_frames == 0 {
        test.clone()
    } else {
        decoded
            .split_off(decoded.len() - options.validation_frames)
            .into_iter()
            .map(evaluation)
            .collect()
    };
    let train = decoded
        .into_iter()
        .map(|(_, image, labels)| (image, labels))
        .collect();
    Ok(SegmentationImages {
        channels: 3,
        class_names: classes.into_iter().map(|(_, name)| name).collect(),
        train,
        validation,
        test,
        sources: log.into_sorted(),
    })
}

fn layout_error(root: &Path, detail: String) -> Error {
    Error::layout(DATASET, root, detail)
}

/// Every (frame `X.png`, label `X_L.png`) under `root`, sorted by frame file name. A frame
/// without its label, or a label without its frame, is an error: a silently dropped frame
/// would shift the split.
fn frame_pairs(root: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let pngs = files_under(root, |name| name.ends_with(".png"));
    let is_label = |path: &PathBuf| {
        path.file_name()
            .is_some_and(|name| name.to_string_lossy().ends_with("_L.png"))
    };
    let mut pairs = Vec::new();
    for frame in pngs.iter().filter(|path| !is_label(path)) {
        let stem = frame.file_stem().unwrap_or_default().to_string_lossy();
        let label = frame.with_file_name(format!("{stem}_L.png"));
        if !label.is_file() {
            return Err(layout_error(
                root,
                format!(
                    "frame {} has no label; expected {}",
                    frame.display(),
                    label.display()
                ),
            ));
        }
        pairs.push((frame.clone(), label));
    }
    for label in pngs.iter().filter(|path| is_label(path)) {
        let name = label.file_name().unwrap_or_default().to_string_lossy();
        let frame = label.with_file_name(format!("{}.png", &name[..name.len() - "_L.png".len()]));
        if !frame.is_file() {
            return Err(layout_error(
                root,
                format!(
                    "label {} has no frame; expected {}",
                    label.display(),
                    frame.display()
                ),
            ));
        }
    }
    if pairs.is_empty() {
        return Err(layout_error(
            root,
            "expected frames X.png with labels X_L.png".to_owned(),
        ));
    }
    pairs.sort_by(|a, b| (a.0.file_name(), &a.0).cmp(&(b.0.file_name(), &b.0)));
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::super::decode::fixtures::{encode, write};
    use super::*;

    const COLORS: &str =
        "64 128 64\tAnimal\n192 0 128\tArchway\n0 128 192 Bicyclist\n\n0 0 0\tVoid\n";
    const H: usize = 16;
    const W: usize = 32;

    /// Frame `index`: RGB pattern; label: stripes of the four classes plus one unknown colour
    /// at pixel 0.
    fn frame_and_label(index: usize) -> (Vec<u8>, Vec<u8>) {
        let frame = (0..H * W * 3).map(|i| ((i + index) % 256) as u8).collect();
        let palette = [[64, 128, 64], [192, 0, 128], [0, 128, 192], [0, 0, 0]];
        let mut label: Vec<u8> = (0..H * W)
            .flat_map(|p| palette[(p % W + index) % 4])
            .collect();
        label[..3].copy_from_slice(&[1, 2, 3]);
        (frame, label)
    }

    fn write_copy(root: &Path, count: usize) {
        write(root, "CamSeq01/label_colors.txt", COLORS.as_bytes());
        for index in 0..count {
            let (frame, label) = frame_and_label(index);
            let stem = format!("0016E5_{:05}", 7959 + 2 * index);
            write(
                root,
                &format!("CamSeq01/{stem}.png"),
                &encode(&frame, H, W, 3, ImageFormat::Png),
            );
            write(
                root,
                &format!("CamSeq01/{stem}_L.png"),
                &encode(&label, H, W, 3, ImageFormat::Png),
            );
        }
    }

    #[test]
    fn parses_tab_and_space_separated_colours() {
        let classes = parse_label_colors(COLORS, Path::new("c.txt")).unwrap();
        assert_eq!(classes.len(), 4);
        assert_eq!(classes[2], ([0, 128, 192], "Bicyclist".to_owned()));
        let spaced = parse_label_colors("1 2 3 Road Shoulder\n", Path::new("c.txt")).unwrap();
        assert_eq!(spaced[0].1, "Road Shoulder");
        let err = parse_label_colors("1 2 300 X\n", Path::new("c.txt")).unwrap_err();
        assert!(
            err.to_string().contains("c.txt") && err.to_string().contains("line 1"),
            "{err}"
        );
        assert!(parse_label_colors("", Path::new("c.txt")).is_err());
    }

    #[test]
    fn end_to_end_split_and_class_decoding() {
        let dir = tempfile::tempdir().unwrap();
        write_copy(dir.path(), 6);
        let options = CamSeqOptions {
            test_frames: 2,
            ..CamSeqOptions::default()
        };
        let images = load(dir.path(), &options).unwrap();
        assert_eq!(images.channels, 3);
        assert_eq!(
            images.class_names,
            ["Animal", "Archway", "Bicyclist", "Void"]
        );
        assert_eq!(images.train.len(), 4);
        assert_eq!(
            images
                .test
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["0016E5_07967", "0016E5_07969"]
        );
        assert_eq!(images.validation, images.test);
        assert_eq!(images.sources.len(), 13);
        assert_eq!(images.sources[0].0, "CamSeq01/0016E5_07959.png");

        let test = &images.test[1];
        let (frame, _) = frame_and_label(5);
        assert_eq!(
            (test.image.channels, test.image.height, test.image.width),
            (3, H, W)
        );
        // Channel 1 (green) of pixel 1 is interleaved sample 4.
        assert_eq!(test.image.data[H * W + 1], f32::from(frame[4]) / 255.0);
        assert!(test.image.data.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(test.layout, EvalLayout::whole(H, W));
        assert_eq!(test.labels.labels[0], 0, "unknown colour → 0");
        for x in 1..W {
            assert_eq!(usize::from(test.labels.labels[x]), (x + 5) % 4, "x {x}");
        }
        let (_, train_labels) = &images.train[0];
        assert_eq!(train_labels.labels[W + 3], 3);

        let with_validation = CamSeqOptions {
            test_frames: 2,
            validation_frames: 1,
            ..CamSeqOptions::default()
        };
        let images = load(dir.path(), &with_validation).unwrap();
        assert_eq!(images.train.len(), 3);
        assert_eq!(images.validation[0].name, "0016E5_07965");
    }

    #[test]
    fn refuses_sizes_off_the_multiple_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        write_copy(dir.path(), 3);
        let options = CamSeqOptions {
            test_frames: 1,
            size_multiple: 32,
            ..CamSeqOptions::default()
        };
        let err = load(dir.path(), &options).unwrap_err();
        assert!(err.to_string().contains("multiples of 32"), "{err}");

        std::fs::remove_file(dir.path().join("CamSeq01/0016E5_07961_L.png")).unwrap();
        let options = CamSeqOptions {
            test_frames: 1,
            ..CamSeqOptions::default()
        };
        let err = load(dir.path(), &options).unwrap_err();
        assert!(err.to_string().contains("0016E5_07961_L.png"), "{err}");

        std::fs::remove_file(dir.path().join("CamSeq01/label_colors.txt")).unwrap();
        let err = load(dir.path(), &options).unwrap_err();
        assert!(err.to_string().contains("label_colors.txt"), "{err}");

        let few = tempfile::tempdir().unwrap();
        write_copy(few.path(), 2);
        let err = load(few.path(), &CamSeqOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("2 frames cannot give 20 test"),
            "{err}"
        );
    }
}
