//! The crate's single error type. Every message names the dataset or file involved and, where
//! the user has a way out, says what it is.

use std::path::PathBuf;

/// Everything that can go wrong while fetching, verifying or decoding a dataset.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A dataset name no manifest knows.
    #[error("unknown dataset `{name}`; allowed: {allowed}")]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// Comma-separated list of the known names.
        allowed: String,
    },

    /// A manifest file that does not parse or breaks a rule.
    #[error("invalid dataset manifest `{file}`: {detail}")]
    Manifest {
        /// The manifest file (or its embedded name).
        file: String,
        /// What is wrong, naming the field.
        detail: String,
    },

    /// A `data.benchmark` config field holds an invalid value.
    #[error("invalid `{field}`: {message}")]
    InvalidConfig {
        /// The field, e.g. `data.benchmark.sigma`.
        field: String,
        /// The rule broken, with the bad value and what is allowed.
        message: String,
    },

    /// The dataset's terms require an explicit opt-in that was not given.
    #[error(
        "dataset `{dataset}` may only be downloaded by users who accept its terms:\n\n{terms}\n\nTo accept them, pass `--accept-terms` to `datasets fetch`, or set `data.benchmark.accept_terms: true` in the experiment config; or point at a copy you obtained yourself with `--local-copy DIR` / `data.benchmark.local_copy`."
    )]
    TermsNotAccepted {
        /// The dataset.
        dataset: String,
        /// Its terms, as in the manifest.
        terms: String,
    },

    /// Files are missing and cannot be downloaded (offline, or the host is unreachable).
    #[error(
        "dataset `{dataset}`: {missing} file(s) missing from {cache}, first `{first}`, and it cannot be downloaded: {reason}.\nTwo ways out: connect to the network and run `datasets fetch {dataset}` (unset HF_HUB_OFFLINE if it is set), or point at a copy you already have with `--local-copy DIR` / `data.benchmark.local_copy`."
    )]
    Unavailable {
        /// The dataset.
        dataset: String,
        /// How many files are missing.
        missing: usize,
        /// The first missing file.
        first: String,
        /// Where they were looked for.
        cache: PathBuf,
        /// Why they cannot be downloaded (offline mode, or the transport's error).
        reason: String,
    },

    /// A file's SHA-256 differs from the manifest's (or the one recorded at first download),
    /// and fetching it again did not help (or it is a local copy, which is never overwritten).
    #[error("dataset `{dataset}`: `{file}` has SHA-256 {actual}, expected {expected} {advice}")]
    HashMismatch {
        /// The dataset.
        dataset: String,
        /// The file, relative to the dataset root.
        file: String,
        /// The expected hash.
        expected: String,
        /// The hash of the bytes on disk.
        actual: String,
        /// Where the expected hash comes from (the manifest, or the first download), in
        /// parentheses, then what the user can do.
        advice: String,
    },

    /// A download failed for a reason other than the network being unreachable.
    #[error("dataset `{dataset}`: cannot download `{file}` from {url}: {detail}")]
    Download {
        /// The dataset.
        dataset: String,
        /// The file.
        file: String,
        /// The URL tried.
        url: String,
        /// The transport's message.
        detail: String,
    },

    /// An archive entry would be written outside the folder it is unpacked into.
    #[error(
        "archive `{archive}`: entry `{entry}` escapes the target folder; refusing to unpack it"
    )]
    UnsafeArchiveEntry {
        /// The archive file.
        archive: PathBuf,
        /// The offending entry name.
        entry: String,
    },

    /// A file that cannot be decoded (image, archive, parquet, text).
    #[error("cannot decode `{file}`: {detail}")]
    Decode {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// A dataset folder that lacks what its pipeline needs.
    #[error("dataset `{dataset}` in {folder}: {detail}")]
    Layout {
        /// The dataset.
        dataset: String,
        /// The folder read.
        folder: PathBuf,
        /// What was expected and not found.
        detail: String,
    },

    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path operated on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An error from the data crate (building images).
    #[error(transparent)]
    Data(#[from] spiking_unet_data::Error),
}

/// Shorthand for results carrying this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A dataset folder that lacks what its pipeline needs.
    pub fn layout(dataset: &str, folder: &std::path::Path, detail: String) -> Error {
        Error::Layout {
            dataset: dataset.to_owned(),
            folder: folder.to_owned(),
            detail,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
