//! Checking a local copy: a folder holding a dataset the user obtained themselves, used instead
//! of a download (`datasets fetch NAME --local-copy DIR`, `data.benchmark.local_copy`).
//!
//! A local copy is never modified, and it is accepted only when it is the whole dataset. The
//! checks, in order (the first failure is the error):
//!
//! 1. **Layout.** A dataset's copy may come in one of a few layouts: the files of its manifest
//!    (`testsets/Set12/01.png` … `12.png`), or an original layout (DRIVE's official
//!    `training/images/21_training.tif` …, ISBI's `train-volume.tif` stacks, an unpacked
//!    archive). The files may sit in the folder or below it, found as the pipelines find them.
//!    The first layout with any of its files present is checked; a folder with none (an empty
//!    folder) is held against the first.
//! 2. **Every file present.** A missing file is [`Error::LocalCopyFileCount`] naming the
//!    missing ones; where only the number of files is known (unpacked archives), a different
//!    number is the same error. A file the dataset does not have, in a place its pipeline reads
//!    from (a 13th PNG next to Set12's twelve), is [`Error::LocalCopyUnexpectedFile`]: the
//!    pipeline would use it as part of the dataset. Any other file (a README, ground truth the
//!    pipeline does not read) is ignored and counted in a note.
//! 3. **Reference sizes and hashes.** A file with a size or SHA-256 in the manifest, or a
//!    SHA-256 recorded by an earlier download into the cache, must match it.
//! 4. **Content.** A file without a reference SHA-256 must be what it claims to be: every
//!    image fully decoded, TIFF stacks counted by page, parquet tables by row,
//!    `label_colors.txt` parsed. Random bytes named `.png` are [`Error::LocalCopyDamagedFile`]
//!    naming the file.
//! 5. **Trust.** Files that passed 1–4 without a reference SHA-256 are accepted only when the
//!    user says to trust the copy ([`Error::LocalCopyUnverified`] otherwise, explaining
//!    `--trust-local-copy`); they are returned so that results can record the copy as trusted
//!    and unverified.
//!
//! The layouts mirror how the pipelines (`pipelines/*.rs`) find their files; a change to one
//! must be made to the other (the tests here run both on the same folders).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fetch::sha256_file;
use crate::manifest::Manifest;
use crate::pipelines::camseq::parse_label_colors;
use crate::pipelines::decode::{
    decode_image, files_under, find_path, parquet_image_column, relative_name, tiff_stack,
};

/// What is known about a file of the manifest before looking at it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reference {
    /// Its SHA-256 and where that comes from ("from the manifest", "recorded at the first
    /// download in ...").
    pub sha256: Option<(String, String)>,
    /// Its size in bytes, from the manifest.
    pub size: Option<u64>,
}

/// A local copy that passed every check.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// (file relative to the copy, SHA-256) of every file of the dataset.
    pub files: Vec<(String, String)>,
    /// The files accepted without a reference SHA-256 (only when trusted), relative to the copy.
    pub trusted_unverified: Vec<String>,
    /// What was found, one line each.
    pub notes: Vec<String>,
}

/// Checks the local copy `folder` of `manifest`'s dataset (see the module documentation).
/// `reference` gives what is known of a manifest path; `trust` accepts files without a
/// reference SHA-256.
pub(crate) fn check(
    manifest: &Manifest,
    folder: &Path,
    trust: bool,
    reference: &dyn Fn(&str) -> Reference,
) -> Result<Checked> {
    let dataset = manifest.name.as_str();
    if !folder.is_dir() {
        return Err(Error::layout(
            dataset,
            folder,
            "the local copy is not a folder".into(),
        ));
    }
    let layouts = layouts(manifest);
    let (layout, scans) = choose_layout(folder, &layouts);
    let others: Vec<&str> = layouts
        .iter()
        .filter(|other| !std::ptr::eq(*other, layout))
        .map(|other| other.description.as_str())
        .collect();

    // 2. Every file present, nothing the pipeline would read in addition.
    let count_error = |expected: usize, found: usize, detail: String| {
        let mut detail = detail;
        if found == 0 || expected > found {
            detail.push_str(&hints(manifest, folder, &others));
        }
        Error::LocalCopyFileCount {
            dataset: dataset.to_owned(),
            folder: folder.to_owned(),
            layout: layout.description.clone(),
            expected,
            found,
            detail,
        }
    };
    let missing: Vec<&String> = scans.iter().flat_map(|scan| &scan.missing).collect();
    if !missing.is_empty() {
        let found: usize = scans.iter().map(|scan| scan.named_found).sum();
        return Err(count_error(
            found + missing.len(),
            found,
            format!("missing {}", list(missing.iter().map(|m| m.as_str()))),
        ));
    }
    for (group, scan) in layout.groups.iter().zip(&scans) {
        if let Files::Counted { count, what, .. } = &group.files
            && scan.found.len() != *count
        {
            let names = scan.found.iter().map(|(_, name)| name.as_str());
            let detail = if scan.found.len() < *count {
                format!(
                    "the dataset has {count} {what} and every one is needed (found {})",
                    list(names)
                )
            } else {
                format!(
                    "the dataset has {count} {what}; the pipeline reads every one of them, so the extra ones would be used as part of the dataset: remove the files that are not part of it (found {})",
                    list(names)
                )
            };
            return Err(count_error(*count, scan.found.len(), detail));
        }
    }
    if let Some(extra) = scans.iter().flat_map(|scan| &scan.unexpected).next() {
        return Err(Error::LocalCopyUnexpectedFile {
            dataset: dataset.to_owned(),
            folder: folder.to_owned(),
            file: relative_name(folder, extra),
            layout: layout.description.clone(),
        });
    }

    // 3 and 4: reference sizes and hashes where known, content everywhere else.
    let mut files = Vec::new();
    let mut unverified = Vec::new();
    for (group, scan) in layout.groups.iter().zip(&scans) {
        for (path, name) in &scan.found {
            let in_copy = relative_name(folder, path);
            // The manifest names a file by its path below the layout's base.
            let known = reference(&join(&[group.folder.as_str(), name.as_str()]));
            let hash = check_file(dataset, path, &in_copy, &known, group.content)?;
            if known.sha256.is_none() {
                unverified.push(in_copy.clone());
            }
            files.push((in_copy, hash));
        }
    }

    // 5. Trust.
    if !unverified.is_empty() && !trust {
        return Err(Error::LocalCopyUnverified {
            dataset: dataset.to_owned(),
            folder: folder.to_owned(),
            count: unverified.len(),
            first: unverified[0].clone(),
        });
    }

    let mut notes = vec![format!(
        "{dataset}: local copy {} checked as {}: {} file(s) present, none missing",
        folder.display(),
        layout.description,
        files.len()
    )];
    if !unverified.is_empty() {
        notes.push(format!(
            "{dataset}: {} of them have no reference SHA-256 and were accepted because the copy is trusted (--trust-local-copy); results record it as a trusted, unverified local copy",
            unverified.len()
        ));
    }
    let used: BTreeSet<&str> = files.iter().map(|(file, _)| file.as_str()).collect();
    let ignored: Vec<String> = files_under(folder, |_| true)
        .iter()
        .map(|path| relative_name(folder, path))
        .filter(|file| !used.contains(file.as_str()))
        .collect();
    if !ignored.is_empty() {
        notes.push(format!(
            "{dataset}: {} other file(s) in the local copy are not part of the dataset and are ignored: {}",
            ignored.len(),
            list(ignored.iter().map(String::as_str))
        ));
    }
    Ok(Checked {
        files,
        trusted_unverified: unverified,
        notes,
    })
}

/// One way a copy of a dataset can be laid out: the files its pipeline reads, by folder.
struct Layout {
    /// Where the files sit, in words, for messages.
    description: String,
    /// A path (folder or file) whose first match at or below the copy, found as the pipelines
    /// find their files ([`find_path`]), fixes the layout's base folder: the match with the
    /// anchor's own components taken off. Empty: the copy itself is the base.
    anchor: String,
    /// The files, by folder.
    groups: Vec<Group>,
}

/// The files of one folder of a layout.
struct Group {
    /// The folder, relative to the layout's base, `/`-separated; empty for the base itself.
    folder: String,
    /// Which files the dataset has there.
    files: Files,
    /// What each file must decode as when it has no reference SHA-256.
    content: Content,
}

/// Which files a group holds.
enum Files {
    /// Exactly these names, relative to the group's folder. `reads` picks, among every file
    /// below the folder (by its path relative to the folder), those the pipeline would read as
    /// part of the dataset: such a file that is not named here is an error.
    Named {
        names: Vec<String>,
        reads: Option<fn(&str) -> bool>,
    },
    /// Exactly `count` files below the folder (searched recursively, as the pipelines search)
    /// whose path relative to the folder satisfies `matches`; the names are not known in
    /// advance (the content of an archive).
    Counted {
        count: usize,
        matches: fn(&str) -> bool,
        /// The files in words, plural ("colour PNG images").
        what: &'static str,
    },
}

/// What a file must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Nothing checked beyond a reference hash.
    Any,
    /// An image the pipelines' decoder reads (PNG, JPEG, GIF, TIFF, BMP), decoded in full.
    Image,
    /// A multi-page 8-bit gray TIFF with this many pages (the ISBI 2012 stacks).
    Stack { pages: usize },
    /// A parquet table whose image columns `image` and `ground_truth` have this many rows
    /// (the Hugging Face DRIVE table).
    ImageTable { rows: usize },
    /// A `label_colors.txt` with this many classes (CamSeq01).
    LabelColors { classes: usize },
}

/// What a scan of one group found.
struct Scan {
    /// (file on disk, its name relative to the group's folder) of the dataset's files found.
    found: Vec<(PathBuf, String)>,
    /// How many of the group's named files were found (0 for a counted group).
    named_found: usize,
    /// The group's named files not found, relative to the copy.
    missing: Vec<String>,
    /// Files the pipeline would read that are not the dataset's.
    unexpected: Vec<PathBuf>,
}

/// The layouts a copy of `manifest`'s dataset may come in, the pipeline's preferred one first.
fn layouts(manifest: &Manifest) -> Vec<Layout> {
    // The denoising pipeline reads every PNG below the test set's folder (any case).
    fn any_png(path: &str) -> bool {
        path.to_ascii_lowercase().ends_with(".png")
    }
    fn any_jpg(path: &str) -> bool {
        path.to_ascii_lowercase().ends_with(".jpg")
    }
    match manifest.name.as_str() {
        "bsd68" | "set12" => vec![manifest_layout(manifest, Some(any_png), None)],
        "cbsd68" => vec![Layout {
            description: "the unpacked CBSD68 archive (68 colour PNGs anywhere below the folder, outside folders named noisy*)".into(),
            anchor: String::new(),
            groups: vec![Group {
                folder: String::new(),
                files: Files::Counted {
                    count: 68,
                    // The pipeline skips copies that ship noisy versions next to the originals.
                    matches: |path| {
                        any_png(path)
                            && !path
                                .split('/')
                                .any(|part| part.to_ascii_lowercase().starts_with("noisy"))
                    },
                    what: "PNG images",
                },
                content: Content::Image,
            }],
        }],
        "bsds500" => vec![Layout {
            description: "the unpacked BSDS500 archive (BSDS500/data/images/{train,test,val}/*.jpg)"
                .into(),
            anchor: "BSDS500/data/images".into(),
            groups: [
                ("train", 200, "JPEG images in train/"),
                ("test", 200, "JPEG images in test/"),
                ("val", 100, "JPEG images in val/"),
            ]
            .into_iter()
            .map(|(split, count, what)| Group {
                folder: format!("BSDS500/data/images/{split}"),
                files: Files::Counted {
                    count,
                    matches: any_jpg,
                    what,
                },
                content: Content::Image,
            })
            .collect(),
        }],
        "drive" => vec![
            manifest_layout(
                manifest,
                // The pipeline reads every `train-*.parquet` and `test-*.parquet` shard.
                Some(|path| {
                    let name = path.rsplit('/').next().unwrap_or(path);
                    (name.starts_with("train-") || name.starts_with("test-"))
                        && name.ends_with(".parquet")
                }),
                Some(Content::ImageTable { rows: 20 }),
            ),
            drive_official(),
        ],
        "isbi2012" => vec![
            manifest_layout(
                manifest,
                // The pipeline reads `image/0.png`, `image/1.png`, ... while they exist.
                Some(|path| {
                    path.strip_prefix("image/")
                        .and_then(|name| name.strip_suffix(".png"))
                        .is_some_and(|stem| {
                            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())
                        })
                }),
                None,
            ),
            Layout {
                description: "the challenge's stacks (train-volume.tif and train-labels.tif, 30 pages each)".into(),
                anchor: "train-volume.tif".into(),
                groups: vec![Group {
                    folder: String::new(),
                    files: Files::Named {
                        names: vec!["train-volume.tif".into(), "train-labels.tif".into()],
                        reads: None,
                    },
                    content: Content::Stack { pages: 30 },
                }],
            },
        ],
        "camseq01" => vec![Layout {
            description: "the unpacked CamSeq01 archive (101 frames X.png with labels X_L.png, and label_colors.txt)".into(),
            anchor: String::new(),
            groups: vec![
                Group {
                    folder: String::new(),
                    files: Files::Counted {
                        count: 1,
                        matches: |path| path.rsplit('/').next() == Some("label_colors.txt"),
                        what: "label_colors.txt files",
                    },
                    content: Content::LabelColors { classes: 32 },
                },
                Group {
                    folder: String::new(),
                    files: Files::Counted {
                        count: 101,
                        matches: |path| path.ends_with(".png") && !path.ends_with("_L.png"),
                        what: "frames (X.png)",
                    },
                    content: Content::Image,
                },
                Group {
                    folder: String::new(),
                    files: Files::Counted {
                        count: 101,
                        matches: |path| path.ends_with("_L.png"),
                        what: "label images (X_L.png)",
                    },
                    content: Content::Image,
                },
            ],
        }],
        // A dataset without a pipeline (a test manifest, a user's own): its files, exactly.
        _ => vec![manifest_layout(manifest, None, None)],
    }
}

/// The manifest's own file list as a layout, anchored at the folder all its files share (so a
/// copy may sit below the folder given, as the pipelines allow). `content` None: by extension.
fn manifest_layout(
    manifest: &Manifest,
    reads: Option<fn(&str) -> bool>,
    content: Option<Content>,
) -> Layout {
    let folder_of = |path: &str| {
        path.rsplit_once('/')
            .map_or("", |(folder, _)| folder)
            .to_owned()
    };
    let mut groups: Vec<Group> = Vec::new();
    for entry in &manifest.files {
        let folder = folder_of(&entry.path);
        let name = entry.path[folder.len()..]
            .trim_start_matches('/')
            .to_owned();
        let position = groups.iter().position(|group| group.folder == folder);
        let group = match position {
            Some(index) => &mut groups[index],
            None => {
                groups.push(Group {
                    folder: folder.clone(),
                    files: Files::Named {
                        names: Vec::new(),
                        reads: None,
                    },
                    content: content.unwrap_or_else(|| content_by_extension(&entry.path)),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        if let Files::Named { names, .. } = &mut group.files {
            names.push(name);
        }
    }
    // The folder every file is in: the longest common run of leading folder names.
    let mut anchor: Vec<&str> = groups[0]
        .folder
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    for group in &groups {
        let parts: Vec<&str> = group.folder.split('/').collect();
        let common = anchor
            .iter()
            .zip(&parts)
            .take_while(|(a, b)| a == b)
            .count();
        anchor.truncate(common);
    }
    let anchor = anchor.join("/");
    // `reads` sees paths relative to the anchor folder, whatever group they fall in.
    for group in &mut groups {
        if let Files::Named { reads: slot, .. } = &mut group.files
            && group.folder == anchor
        {
            *slot = reads;
        }
    }
    if reads.is_some() && !groups.iter().any(|group| group.folder == anchor) {
        groups.push(Group {
            folder: anchor.clone(),
            files: Files::Named {
                names: Vec::new(),
                reads,
            },
            content: Content::Any,
        });
    }
    let first = &manifest.files[0].path;
    let last = &manifest.files[manifest.files.len() - 1].path;
    let description = if manifest.files.len() == 1 {
        format!("the manifest's file list ({first})")
    } else {
        format!("the manifest's file list ({first} … {last})")
    };
    Layout {
        description,
        anchor,
        groups,
    }
}

/// DRIVE's official zip: per split, images, manual vessel maps and field-of-view masks.
fn drive_official() -> Layout {
    let mut groups = Vec::new();
    for (split, suffix, numbers) in [("training", "training", 21..=40), ("test", "test", 1..=20)] {
        let named = |name: &dyn Fn(usize) -> String| numbers.clone().map(name).collect();
        // The pipeline reads every `NN_{suffix}.tif` in images/ that starts with a number.
        let reads: fn(&str) -> bool = if suffix == "training" {
            |path| starts_with_number(path) && path.ends_with("_training.tif")
        } else {
            |path| starts_with_number(path) && path.ends_with("_test.tif")
        };
        groups.push(Group {
            folder: format!("{split}/images"),
            files: Files::Named {
                names: named(&|n| format!("{n:02}_{suffix}.tif")),
                reads: Some(reads),
            },
            content: Content::Image,
        });
        groups.push(Group {
            folder: format!("{split}/1st_manual"),
            files: Files::Named {
                names: named(&|n| format!("{n:02}_manual1.gif")),
                reads: None,
            },
            content: Content::Image,
        });
        groups.push(Group {
            folder: format!("{split}/mask"),
            files: Files::Named {
                names: named(&|n| format!("{n:02}_{suffix}_mask.gif")),
                reads: None,
            },
            content: Content::Image,
        });
    }
    Layout {
        description:
            "the official DRIVE layout (training/ and test/ with images/, 1st_manual/ and mask/)"
                .into(),
        anchor: "training/images".into(),
        groups,
    }
}

fn starts_with_number(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn content_by_extension(path: &str) -> Content {
    let lower = path.to_ascii_lowercase();
    let images = [".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp"];
    if images.iter().any(|extension| lower.ends_with(extension)) {
        Content::Image
    } else {
        Content::Any
    }
}

/// The first layout with any of its files in `folder`, with the scans of its groups; the
/// first layout, scanned where it would be, when none has any.
fn choose_layout<'a>(folder: &Path, layouts: &'a [Layout]) -> (&'a Layout, Vec<Scan>) {
    for layout in layouts {
        if let Some(base) = base_of(folder, layout) {
            let scans = scan_layout(folder, &base, layout);
            let any = scans
                .iter()
                .any(|scan| !scan.found.is_empty() || !scan.unexpected.is_empty());
            if any {
                return (layout, scans);
            }
        }
    }
    let first = &layouts[0];
    let base = base_of(folder, first).unwrap_or_else(|| folder.to_owned());
    (first, scan_layout(folder, &base, first))
}

/// Scans every group of `layout`, based at `base` in the copy `copy`.
fn scan_layout(copy: &Path, base: &Path, layout: &Layout) -> Vec<Scan> {
    // Every named file of the layout, relative to the base: a file one group's `reads` picks
    // may be another group's (ISBI's anchor folder holds both image/ and label/).
    let named: BTreeSet<String> = layout
        .groups
        .iter()
        .flat_map(|group| match &group.files {
            Files::Named { names, .. } => names
                .iter()
                .map(|name| join(&[group.folder.as_str(), name.as_str()]))
                .collect(),
            Files::Counted { .. } => Vec::new(),
        })
        .collect();
    layout
        .groups
        .iter()
        .map(|group| scan(copy, base, group, &named))
        .collect()
}

/// Where `layout`'s base is in `folder`, if its anchor is there.
fn base_of(folder: &Path, layout: &Layout) -> Option<PathBuf> {
    if layout.anchor.is_empty() {
        return Some(folder.to_owned());
    }
    let mut base = find_path(folder, &layout.anchor)?;
    for _ in layout.anchor.split('/') {
        base = base.parent()?.to_owned();
    }
    Some(base)
}

fn scan(copy: &Path, base: &Path, group: &Group, named: &BTreeSet<String>) -> Scan {
    let folder = base.join(&group.folder);
    let below = || -> Vec<(PathBuf, String)> {
        files_under(&folder, |_| true)
            .into_iter()
            .map(|path| {
                let name = relative_name(&folder, &path);
                (path, name)
            })
            .collect()
    };
    match &group.files {
        Files::Named { names, reads } => {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for name in names {
                let path = folder.join(name);
                if path.is_file() {
                    found.push((path, name.clone()));
                } else {
                    missing.push(relative_name(copy, &path));
                }
            }
            let unexpected = match reads {
                Some(reads) => below()
                    .into_iter()
                    .filter(|(_, name)| {
                        reads(name) && !named.contains(&join(&[group.folder.as_str(), name]))
                    })
                    .map(|(path, _)| path)
                    .collect(),
                None => Vec::new(),
            };
            Scan {
                named_found: found.len(),
                found,
                missing,
                unexpected,
            }
        }
        Files::Counted { matches, .. } => Scan {
            found: below()
                .into_iter()
                .filter(|(_, name)| matches(name))
                .collect(),
            named_found: 0,
            missing: Vec::new(),
            unexpected: Vec::new(),
        },
    }
}

/// `/`-joins the non-empty parts.
fn join(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks one present file: its size and SHA-256 against `known`, or, without a reference
/// SHA-256, its content. Returns its SHA-256.
fn check_file(
    dataset: &str,
    path: &Path,
    in_copy: &str,
    known: &Reference,
    content: Content,
) -> Result<String> {
    let never_overwritten = "the local copy is never overwritten: replace the file with the published one, or drop the local copy to download the dataset";
    if let Some(size) = known.size {
        let actual = std::fs::metadata(path).map_err(Error::io(path))?.len();
        if actual != size {
            return Err(Error::SizeMismatch {
                dataset: dataset.to_owned(),
                file: in_copy.to_owned(),
                expected: size,
                actual,
                advice: never_overwritten.to_owned(),
            });
        }
    }
    let actual = sha256_file(path)?;
    match &known.sha256 {
        Some((expected, _)) if *expected == actual => {}
        Some((expected, origin)) => {
            return Err(Error::HashMismatch {
                dataset: dataset.to_owned(),
                file: in_copy.to_owned(),
                expected: expected.clone(),
                actual,
                advice: format!("({origin}); {never_overwritten}"),
            });
        }
        // No reference: the content is all there is to check.
        None => check_content(dataset, path, content)?,
    }
    Ok(actual)
}

/// Whether `path` holds what `content` says, as [`Error::LocalCopyDamagedFile`] if not.
fn check_content(dataset: &str, path: &Path, content: Content) -> Result<()> {
    let damaged = |detail: String| Error::LocalCopyDamagedFile {
        dataset: dataset.to_owned(),
        file: path.to_owned(),
        detail,
    };
    // The decoders' errors name the file already; keep only their reason.
    let reason = |error: Error| match error {
        Error::Decode { detail, .. } => detail,
        other => other.to_string(),
    };
    let read = || std::fs::read(path).map_err(Error::io(path));
    match content {
        Content::Any => {}
        Content::Image => {
            decode_image(&read()?, path)
                .map_err(|e| damaged(format!("not a readable image ({})", reason(e))))?;
        }
        Content::Stack { pages } => {
            let found = tiff_stack(&read()?, path)
                .map_err(|e| damaged(format!("not a readable TIFF stack ({})", reason(e))))?
                .len();
            if found != pages {
                return Err(damaged(format!(
                    "the stack has {found} page(s); the dataset's have {pages}"
                )));
            }
        }
        Content::ImageTable { rows } => {
            for column in ["image", "ground_truth"] {
                let found = parquet_image_column(path, column)
                    .map_err(|e| damaged(format!("not a readable image table ({})", reason(e))))?
                    .len();
                if found != rows {
                    return Err(damaged(format!(
                        "column `{column}` has {found} row(s); the dataset's tables have {rows}"
                    )));
                }
            }
        }
        Content::LabelColors { classes } => {
            let text =
                String::from_utf8(read()?).map_err(|_| damaged("not UTF-8 text".to_owned()))?;
            let found = parse_label_colors(&text, path)
                .map_err(|e| damaged(reason(e)))?
                .len();
            if found != classes {
                return Err(damaged(format!(
                    "{found} classes; the dataset has {classes}"
                )));
            }
        }
    }
    Ok(())
}

/// Hints for a copy that lacks files: the other layouts it could have, and an archive that
/// was not unpacked.
fn hints(manifest: &Manifest, folder: &Path, others: &[&str]) -> String {
    let mut text = String::new();
    if !others.is_empty() {
        text.push_str(&format!(
            ". A copy may instead be laid out as {}",
            others.join(", or as ")
        ));
    }
    for archive in &manifest.unpack {
        let name = archive.rsplit('/').next().unwrap_or(archive);
        if let Some(found) = find_path(folder, name) {
            text.push_str(&format!(
                ". The folder holds the archive {}: unpack it and pass the unpacked folder",
                found.display()
            ));
        }
    }
    text
}

/// Up to five names in backquotes, then how many more.
fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        return "none".to_owned();
    }
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    match names.len() {
        n if n > 5 => format!("{} and {} more", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

#[cfg(test)]
#[path = "local_copy_tests.rs"]
mod tests;
