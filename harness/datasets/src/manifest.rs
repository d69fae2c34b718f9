//! Dataset manifests: where a dataset's files are hosted, what they hash to, and the terms,
//! citation and preprocessing that go with them.
//!
//! The manifests live as YAML in `datasets/manifests/` and are compiled into the binaries, so
//! `datasets list` works from any directory; a test (or a user with a new mirror) can load one
//! from a file instead.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One dataset's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short name used on the command line and in configs, e.g. `drive`.
    pub name: String,
    /// One-line description.
    pub title: String,
    /// `denoising` or `segmentation`.
    pub task: String,
    /// Where the files are downloaded from.
    pub source: Source,
    /// The files, relative to the repository root (hub) or the base URL (HTTPS).
    pub files: Vec<FileEntry>,
    /// Archives among `files` to unpack (tar.gz or zip) after verification.
    #[serde(default)]
    pub unpack: Vec<String>,
    /// Downloads need an explicit opt-in (`--accept-terms`, `accept_terms: true`), and the
    /// terms are printed before the first download.
    #[serde(default)]
    pub requires_opt_in: bool,
    /// Licence or terms of use, as published by the dataset's owners.
    pub terms: String,
    /// How to cite the dataset.
    pub citation: String,
    /// The preprocessing the harness applies (authors-code.md §7), in words.
    pub preprocessing: String,
    /// How this manifest's source was checked: which listings were seen, what is unverified.
    pub verification: String,
}

/// Where a dataset is hosted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A Hugging Face dataset repository, fetched with hf-hub into the standard cache.
    Hub {
        /// `owner/name`.
        repo: String,
        /// A commit sha (pinned), or a branch such as `main`, which the first download
        /// resolves to a commit and records, so later fetches stay on that commit.
        revision: String,
    },
    /// Plain HTTPS: each file is `base_url` + its path.
    Https {
        /// Prefix of every file's URL, ending in `/`.
        base_url: String,
    },
}

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the repository root or base URL; also its path in the cache.
    pub path: String,
    /// Lower-case hex SHA-256, or null when not yet known: the first download records it in
    /// the user's cache and later fetches check against that.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes, or null when not known. Checked before the hash, so a truncated file is
    /// reported as such ("is 512 bytes, expected 1024").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Source {
    /// A commit sha pins the revision; anything else is a branch or tag.
    pub fn pinned_revision(&self) -> Option<&str> {
        match self {
            Source::Hub { revision, .. } if is_sha(revision, 40) => Some(revision),
            _ => None,
        }
    }
}

fn is_sha(text: &str, length: usize) -> bool {
    text.len() == length && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The manifests compiled into the crate, as (file name, YAML).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "bsd68.yaml",
        include_str!("../../../datasets/manifests/bsd68.yaml"),
    ),
    (
        "cbsd68.yaml",
        include_str!("../../../datasets/manifests/cbsd68.yaml"),
    ),
    (
        "set12.yaml",
        include_str!("../../../datasets/manifests/set12.yaml"),
    ),
    (
        "bsds500.yaml",
        include_str!("../../../datasets/manifests/bsds500.yaml"),
    ),
    (
        "drive.yaml",
        include_str!("../../../datasets/manifests/drive.yaml"),
    ),
    (
        "isbi2012.yaml",
        include_str!("../../../datasets/manifests/isbi2012.yaml"),
    ),
    (
        "camseq01.yaml",
        include_str!("../../../datasets/manifests/camseq01.yaml"),
    ),
];

impl Manifest {
    /// Parses and checks a manifest; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Manifest> {
        let manifest: Manifest = serde_saphyr::from_str(text).map_err(|err| Error::Manifest {
            file: file.to_owned(),
            detail: err.to_string(),
        })?;
        manifest.check(file)?;
        Ok(manifest)
    }

    /// Reads a manifest from a YAML file.
    pub fn from_file(path: &std::path::Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// Every built-in manifest, in a fixed order.
    pub fn built_in() -> Vec<Manifest> {
        BUILT_IN
            .iter()
            .map(|(file, text)| {
                Manifest::parse(text, file).expect("built-in manifests are checked by a test")
            })
            .collect()
    }

    /// The built-in manifest called `name`.
    pub fn named(name: &str) -> Result<Manifest> {
        let all = Manifest::built_in();
        let allowed = all
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        all.into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownDataset {
                name: name.to_owned(),
                allowed,
            })
    }

    fn check(&self, file: &str) -> Result<()> {
        let fail = |detail: String| {
            Err(Error::Manifest {
                file: file.to_owned(),
                detail,
            })
        };
        if !["denoising", "segmentation"].contains(&self.task.as_str()) {
            return fail(format!(
                "`task` is `{}`; allowed: denoising, segmentation",
                self.task
            ));
        }
        if self.files.is_empty() {
            return fail("`files` is empty".into());
        }
        if let Source::Https { base_url } = &self.source
            && !base_url.ends_with('/')
        {
            return fail(format!(
                "`source.https.base_url` `{base_url}` must end in `/`"
            ));
        }
        for entry in &self.files {
            if entry.path.is_empty()
                || entry.path.starts_with('/')
                || entry
                    .path
                    .split('/')
                    .any(|part| part == ".." || part.is_empty())
            {
                return fail(format!(
                    "`files[].path` `{}` must be a relative path without `..` or empty parts",
                    entry.path
                ));
            }
            if let Some(sha) = &entry.sha256
                && !(is_sha(sha, 64) && sha.bytes().all(|b| !b.is_ascii_uppercase()))
            {
                return fail(format!(
                    "`sha256` of `{}` is `{sha}`; expected 64 lower-case hex digits or null",
                    entry.path
                ));
            }
        }
        for archive in &self.unpack {
            if !self.files.iter().any(|f| &f.path == archive) {
                return fail(format!(
                    "`unpack` names `{archive}`, which is not in `files`"
                ));
            }
            if !(archive.ends_with(".tar.gz")
                || archive.ends_with(".tgz")
                || archive.ends_with(".zip"))
            {
                return fail(format!(
                    "`unpack` entry `{archive}`: allowed archive types are .tar.gz, .tgz, .zip"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_manifests_parse_and_have_unique_names() {
        let all = Manifest::built_in();
        let mut names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.len(), BUILT_IN.len());
        // DRIVE's owners forbid redistribution: it must never download without an opt-in.
        assert!(Manifest::named("drive").unwrap().requires_opt_in);
    }

    #[test]
    fn unknown_names_list_the_allowed_ones() {
        let err = Manifest::named("imagenet").unwrap_err().to_string();
        assert!(err.contains("imagenet") && err.contains("drive") && err.contains("bsd68"));
    }

    #[test]
    fn bad_fields_are_named() {
        let base = "name: x\ntitle: t\ntask: denoising\nsource: {https: {base_url: 'http://h/'}}\nterms: t\ncitation: c\npreprocessing: p\nverification: v\n";
        let err = |extra: &str| {
            Manifest::parse(&format!("{base}{extra}"), "x.yaml")
                .unwrap_err()
                .to_string()
        };
        assert!(err("files: [{path: ../etc/passwd}]").contains("without `..`"));
        assert!(err("files: [{path: a.png, sha256: ABC}]").contains("64 lower-case hex"));
        assert!(err("files: [{path: a.png}]\nunpack: [b.zip]").contains("not in `files`"));
        assert!(err("files: [{path: a.png}]\nmirror: x").contains("mirror"));
        assert!(err("files: [{path: a.png, size: -1}]").contains("size"));
        let sized = Manifest::parse(
            &format!("{base}files: [{{path: a.png, size: 12}}]"),
            "x.yaml",
        );
        assert_eq!(sized.unwrap().files[0].size, Some(12));
        assert!(Manifest::parse(&format!("{base}files: [{{path: a.png}}]"), "x.yaml").is_ok());
    }
}
