//! The layouts of the built-in datasets' local copies, with tiny files: complete copies pass
//! (and the pipelines read exactly the files checked), missing, extra and damaged files are
//! errors naming them, and files the pipelines never read are ignored.

use image::ImageFormat;

use super::*;
use crate::pipelines::decode::fixtures::{encode, image_parquet, tiff_pages, write};

/// Checks `folder` as a trusted copy of the built-in dataset `name`, with no reference hashes.
fn check_trusted(name: &str, folder: &Path) -> Result<Checked> {
    let manifest = Manifest::named(name).unwrap();
    check(&manifest, folder, true, &|_| Reference::default())
}

fn gray(seed: usize) -> Vec<u8> {
    (0..16).map(|i| (i * 9 + seed * 31) as u8).collect()
}

fn rgb(seed: usize) -> Vec<u8> {
    (0..48).map(|i| (i * 5 + seed * 17) as u8).collect()
}

fn png_gray(seed: usize) -> Vec<u8> {
    encode(&gray(seed), 4, 4, 1, ImageFormat::Png)
}

fn png_rgb(seed: usize) -> Vec<u8> {
    encode(&rgb(seed), 4, 4, 3, ImageFormat::Png)
}

#[test]
fn cbsd68_is_68_colour_pngs_outside_noisy_folders() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..68 {
        write(
            dir.path(),
            &format!("CBSD68/original/{k:04}.png"),
            &png_rgb(k),
        );
    }
    write(dir.path(), "CBSD68/noisy25/0000.png", &png_rgb(99));
    write(dir.path(), "CBSD68/README.md", b"x");
    let checked = check_trusted("cbsd68", dir.path()).unwrap();
    assert_eq!(checked.files.len(), 68);
    assert_eq!(checked.trusted_unverified.len(), 68);
    let notes = checked.notes.join("\n");
    assert!(notes.contains("2 other file(s)"), "{notes}");
    let (images, sources) = crate::pipelines::denoising::load_test_set(
        dir.path(),
        crate::pipelines::denoising::TestSet::Cbsd68,
        crate::pipelines::denoising::DenoisingEvaluation::Whole,
        4,
    )
    .unwrap();
    assert_eq!(images.len(), 68);
    assert_eq!(sources, checked.files);

    // One more PNG would be evaluated as a 69th test image.
    write(dir.path(), "CBSD68/original/extra.png", &png_rgb(70));
    let err = check_trusted("cbsd68", dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 68,
                found: 69,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("extra ones would be used"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("CBSD68/original/extra.png")).unwrap();
    std::fs::remove_file(dir.path().join("CBSD68/original/0005.png")).unwrap();
    let err = check_trusted("cbsd68", dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 68,
                found: 67,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_archive_in_place_of_its_content_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "CBSD68.tar.gz", b"archive");
    let err = check_trusted("cbsd68", dir.path()).unwrap_err();
    assert!(
        matches!(err, Error::LocalCopyFileCount { found: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("unpack it"), "{err}");
}

#[test]
fn bsds500_needs_every_split_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = encode(&rgb(1), 4, 4, 3, ImageFormat::Jpeg);
    for (split, count) in [("train", 200), ("test", 200), ("val", 100)] {
        for k in 0..count {
            write(
                dir.path(),
                &format!("BSDS500-master/BSDS500/data/images/{split}/{k}.jpg"),
                &jpeg,
            );
        }
    }
    write(
        dir.path(),
        "BSDS500-master/BSDS500/data/images/val/Thumbs.db",
        b"x",
    );
    let checked = check_trusted("bsds500", dir.path()).unwrap();
    assert_eq!(checked.files.len(), 500);

    std::fs::remove_file(
        dir.path()
            .join("BSDS500-master/BSDS500/data/images/val/7.jpg"),
    )
    .unwrap();
    let err = check_trusted("bsds500", dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 100,
                found: 99,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("val/"), "{err}");
}

/// DRIVE's official layout with 4x4 images.
fn write_drive_official(root: &Path) {
    for (split, numbers) in [("training", 21..=40), ("test", 1..=20)] {
        for n in numbers {
            write(
                root,
                &format!("DRIVE/{split}/images/{n:02}_{split}.tif"),
                &encode(&rgb(n), 4, 4, 3, ImageFormat::Tiff),
            );
            write(
                root,
                &format!("DRIVE/{split}/1st_manual/{n:02}_manual1.gif"),
                &encode(&gray(n), 4, 4, 1, ImageFormat::Gif),
            );
            write(
                root,
                &format!("DRIVE/{split}/mask/{n:02}_{split}_mask.gif"),
                &encode(&gray(n), 4, 4, 1, ImageFormat::Gif),
            );
        }
    }
}

#[test]
fn drive_official_layout_is_checked_file_by_file() {
    let dir = tempfile::tempdir().unwrap();
    write_drive_official(dir.path());
    write(
        dir.path(),
        "DRIVE/test/2nd_manual/01_manual2.gif",
        b"unused",
    );
    let checked = check_trusted("drive", dir.path()).unwrap();
    assert_eq!(checked.files.len(), 120);
    assert!(checked.notes.join("\n").contains("official DRIVE layout"));

    write(
        dir.path(),
        "DRIVE/training/images/41_training.tif",
        &encode(&rgb(41), 4, 4, 3, ImageFormat::Tiff),
    );
    let err = check_trusted("drive", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyUnexpectedFile { file, .. } if file == "DRIVE/training/images/41_training.tif"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("DRIVE/training/images/41_training.tif")).unwrap();
    std::fs::remove_file(dir.path().join("DRIVE/test/mask/07_test_mask.gif")).unwrap();
    let err = check_trusted("drive", dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 120,
                found: 119,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("`DRIVE/test/mask/07_test_mask.gif`"),
        "{err}"
    );
}

#[test]
fn an_empty_drive_folder_names_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let err = check_trusted("drive", dir.path()).unwrap_err();
    assert!(
        matches!(err, Error::LocalCopyFileCount { found: 0, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("data/train-00000-of-00001.parquet")
            && text.contains("official DRIVE layout"),
        "{text}"
    );
}

#[test]
fn drive_tables_must_have_twenty_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cells = |count: usize| {
        (0..count)
            .map(|k| (png_rgb(k), format!("{k}.png")))
            .collect::<Vec<_>>()
    };
    for (split, rows) in [("train", 20), ("test", 19)] {
        image_parquet(
            &dir.path()
                .join(format!("data/{split}-00000-of-00001.parquet")),
            &[("image", cells(rows)), ("ground_truth", cells(rows))],
        );
    }
    let err = check_trusted("drive", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyDamagedFile { file, detail, .. }
            if file.ends_with("test-00000-of-00001.parquet") && detail.contains("19 row(s)")),
        "{err}"
    );
    std::fs::write(
        dir.path().join("data/test-00000-of-00001.parquet"),
        b"PAR1 garbage",
    )
    .unwrap();
    let err = check_trusted("drive", dir.path()).unwrap_err();
    assert!(matches!(err, Error::LocalCopyDamagedFile { .. }), "{err}");
}

#[test]
fn isbi_png_and_stack_layouts() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..30 {
        let base = "unet-master/data/membrane/train";
        write(dir.path(), &format!("{base}/image/{k}.png"), &png_gray(k));
        write(
            dir.path(),
            &format!("{base}/label/{k}.png"),
            &png_gray(k + 1),
        );
    }
    let checked = check_trusted("isbi2012", dir.path()).unwrap();
    assert_eq!(checked.files.len(), 60);
    let images = crate::pipelines::isbi::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(images.sources, {
        let mut files = checked.files.clone();
        files.sort();
        files
    });
    // A 31st slice would be read as one.
    write(
        dir.path(),
        "unet-master/data/membrane/train/image/30.png",
        &png_gray(30),
    );
    let err = check_trusted("isbi2012", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyUnexpectedFile { file, .. } if file.ends_with("image/30.png")),
        "{err}"
    );

    let stacks = tempfile::tempdir().unwrap();
    let pages: Vec<Vec<u8>> = (0..30).map(gray).collect();
    write(stacks.path(), "train-volume.tif", &tiff_pages(&pages, 4, 4));
    write(
        stacks.path(),
        "train-labels.tif",
        &tiff_pages(&pages[..29], 4, 4),
    );
    let err = check_trusted("isbi2012", stacks.path()).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyDamagedFile { file, detail, .. }
            if file.ends_with("train-labels.tif") && detail.contains("29 page(s)")),
        "{err}"
    );
    write(stacks.path(), "train-labels.tif", &tiff_pages(&pages, 4, 4));
    assert_eq!(
        check_trusted("isbi2012", stacks.path())
            .unwrap()
            .files
            .len(),
        2
    );
}

fn label_colors(classes: usize) -> String {
    (0..classes)
        .map(|k| format!("{} {} {}\tclass{k}\n", k * 7, 255 - k, k))
        .collect()
}

#[test]
fn camseq_needs_101_pairs_and_32_classes() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..101 {
        write(dir.path(), &format!("0016E5_{k:05}.png"), &png_rgb(k));
        write(dir.path(), &format!("0016E5_{k:05}_L.png"), &png_rgb(k + 1));
    }
    write(dir.path(), "label_colors.txt", label_colors(32).as_bytes());
    let checked = check_trusted("camseq01", dir.path()).unwrap();
    assert_eq!(checked.files.len(), 203);

    write(dir.path(), "label_colors.txt", label_colors(31).as_bytes());
    let err = check_trusted("camseq01", dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::LocalCopyDamagedFile { detail, .. } if detail.contains("31 classes")),
        "{err}"
    );
    write(dir.path(), "label_colors.txt", label_colors(32).as_bytes());
    std::fs::remove_file(dir.path().join("0016E5_00050_L.png")).unwrap();
    let err = check_trusted("camseq01", dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LocalCopyFileCount {
                expected: 101,
                found: 100,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("label images"), "{err}");
}

#[test]
fn a_path_that_is_not_a_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = check_trusted("set12", &dir.path().join("nothing")).unwrap_err();
    assert!(matches!(err, Error::Layout { .. }), "{err}");
    assert!(err.to_string().contains("not a folder"), "{err}");
}
