//! Is an artifact folder fit to use? The readers check on their own (every JSON document is
//! sealed, every other file is hashed in its manifest) and fail with [`Error::Damaged`]; this
//! module asks the same questions up front, for `reproduce --dry-run` to say what will be
//! rebuilt and for `reproduce` to move damaged artifacts aside and rebuild them.
//!
//! A damaged artifact folder (manifest, weights, scale factors or checkpoint) is moved aside
//! whole, as `<folder>.damaged-<time>`, since nothing in it can be trusted; a damaged
//! evaluation file (or one of its pictures) is moved aside alone, and only that evaluation is
//! redone. Nothing is deleted: the damaged copy stays for inspection.

use std::path::{Path, PathBuf};

use crate::evaluate::CachedEvaluation;
use crate::layout::ArtifactDir;
use crate::manifest::{Manifest, check_ann_unchanged};
use crate::training::verify_checkpoint;
use crate::{Error, Result, artifacts};

/// The state of one artifact folder.
#[derive(Debug)]
pub enum Health {
    /// No manifest yet: its stage makes it from scratch.
    Absent,
    /// Started and not finished; `resumable` when it has a checkpoint to continue from.
    Unfinished {
        /// A verified checkpoint exists.
        resumable: bool,
    },
    /// Finished, and every file it vouches for matches.
    Complete,
    /// Something it vouches for does not match: `(file, reason)`.
    Damaged(PathBuf, String),
}

/// Check `dir`: its manifest, the files the manifest vouches for, the ANN a spiking network was
/// converted from, and its checkpoint when unfinished. Only I/O failures are errors.
pub fn inspect(dir: &ArtifactDir) -> Result<Health> {
    let manifest = match damage(Manifest::read_if_present(dir))? {
        Err(damaged) => return Ok(damaged),
        Ok(None) => return Ok(Health::Absent),
        Ok(Some(manifest)) => manifest,
    };
    let check = match (&manifest, manifest.contents()) {
        (Manifest::Snn(snn), Some(contents)) => contents
            .verify(dir)
            .and_then(|()| check_ann_unchanged(dir, snn)),
        (_, Some(contents)) => contents.verify(dir),
        (_, None) => verify_checkpoint(dir),
    };
    Ok(match damage(check)? {
        Err(damaged) => damaged,
        Ok(()) if manifest.is_complete() => Health::Complete,
        Ok(()) => Health::Unfinished {
            resumable: dir.checkpoint_state().exists(),
        },
    })
}

/// The evaluation files of a finished network that do not verify (their seal, or a picture
/// they recorded), with the reason: `(evaluation file, reason)`.
pub fn damaged_evaluations(dir: &ArtifactDir) -> Result<Vec<(PathBuf, String)>> {
    let Ok(Some(manifest)) = Manifest::read_if_present(dir) else {
        return Ok(Vec::new());
    };
    let Some(contents) = manifest.contents() else {
        return Ok(Vec::new());
    };
    let cache = dir.evaluations(&contents.weights_sha256);
    let mut damaged = Vec::new();
    for split_dir in subfolders(cache.path())? {
        for file in json_files(&split_dir)? {
            let check = CachedEvaluation::read(&file).and_then(|evaluation| {
                for (name, sha256) in &evaluation.pictures {
                    let picture = split_dir.join("pictures").join(format!("{name}.png"));
                    artifacts::verify_file(&picture, sha256)?;
                }
                Ok(())
            });
            // A damaged picture is redone by evaluating again: the evaluation file goes aside.
            if let Err(Health::Damaged(path, reason)) = damage(check)? {
                let reason = if path == file {
                    reason
                } else {
                    format!("its picture {}: {reason}", path.display())
                };
                damaged.push((file, reason));
            }
        }
    }
    Ok(damaged)
}

/// Move whatever in `dir` is damaged aside, so that the stages rebuild it: the whole folder
/// when the artifact is, else each damaged evaluation file. Returns one line per move.
pub fn repair(dir: &ArtifactDir) -> Result<Vec<String>> {
    let mut moved = Vec::new();
    if let Health::Damaged(file, reason) = inspect(dir)? {
        let aside = move_aside(dir.path())?;
        moved.push(format!(
            "{}: {reason}; moved the artifact aside to {} and rebuilding it",
            file.display(),
            aside.display()
        ));
        return Ok(moved);
    }
    for (file, reason) in damaged_evaluations(dir)? {
        let aside = move_aside(&file)?;
        moved.push(format!(
            "{}: {reason}; moved it aside to {} and evaluating again",
            file.display(),
            aside.display()
        ));
    }
    Ok(moved)
}

/// Rename `path` to `<path>.damaged-<UTC time>` (`-2`, `-3`, ... when taken).
fn move_aside(path: &Path) -> Result<PathBuf> {
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    // Two moves of one path within a second get distinct names.
    let aside = (1..)
        .map(|n| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".damaged-{time}"));
            if n > 1 {
                name.push(format!("-{n}"));
            }
            PathBuf::from(name)
        })
        .find(|candidate| !candidate.exists())
        .expect("some name is free");
    std::fs::rename(path, &aside).map_err(Error::io("moving aside", path))?;
    Ok(aside)
}

/// Splits a check's outcome: damage (and undecodable JSON, which a seal that matches cannot
/// produce unless the format changed) becomes `Err(Health::Damaged)`, other errors stay errors.
fn damage<T>(outcome: Result<T>) -> Result<std::result::Result<T, Health>> {
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(Error::Damaged { path, reason }) => Ok(Err(Health::Damaged(path, reason))),
        Err(Error::Json { path, source }) => Ok(Err(Health::Damaged(
            path,
            format!("sealed, but not readable by this version: {source}"),
        ))),
        Err(Error::Record { path, message }) => Ok(Err(Health::Damaged(path, message))),
        Err(other) => Err(other),
    }
}

fn subfolders(dir: &Path) -> Result<Vec<PathBuf>> {
    entries(dir, |p| p.is_dir())
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    entries(dir, |p| {
        p.is_file() && p.extension().is_some_and(|e| e == "json")
    })
}

fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(Error::io("listing", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    found.sort();
    Ok(found)
}
