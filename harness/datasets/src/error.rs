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
        "dataset `{dataset}` may only be downloaded by users who accept its terms:\n\n{terms}\n\nTo accept them, pass `--accept-terms` to `datasets fetch`, or set `data.benchmark.accept_terms: true` in the experiment config; or point at a copy you obtained yourself with `--local-copy DIR --trust-local-copy` / `data.benchmark.local_copy` with `trust_local_copy: true`."
    )]
    TermsNotAccepted {
        /// The dataset.
        dataset: String,
        /// Its terms, as in the manifest.
        terms: String,
    },

    /// Files are missing and cannot be downloaded (offline, or the host is unreachable).
    #[error(
        "dataset `{dataset}`: {missing} file(s) missing from {cache}, first `{first}`, and it cannot be downloaded: {reason}.\nTwo ways out: connect to the network and run `datasets fetch {dataset}` (unset HF_HUB_OFFLINE if it is set), or point at a complete copy you already have with `--local-copy DIR` / `data.benchmark.local_copy` (adding `--trust-local-copy` / `trust_local_copy: true` if no reference hash vouches for its files)."
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

    /// A file's size differs from the manifest's: truncated or padded, and fetching it again
    /// did not help (or it is a local copy, which is never overwritten).
    #[error(
        "dataset `{dataset}`: `{file}` is {actual} bytes, expected {expected} (from the manifest); {advice}"
    )]
    SizeMismatch {
        /// The dataset.
        dataset: String,
        /// The file, relative to the dataset root.
        file: String,
        /// The size the manifest gives.
        expected: u64,
        /// The size on disk.
        actual: u64,
        /// What the user can do.
        advice: String,
    },

    /// Cached files have no reference SHA-256 to be checked against: the manifest has none and
    /// `recorded.json` does not list them (deleted, or written by nothing). `verify` never
    /// takes what is on disk as the truth, and an offline `fetch` cannot download them afresh.
    #[error(
        "dataset `{dataset}`: {count} cached file(s) have no reference SHA-256, first `{first}`: the manifest has none and {record} does not list them (it was deleted, or the files were never downloaded by this tool). What is on disk is never taken as the truth: run `datasets fetch {dataset}` online to download them afresh and record their hashes."
    )]
    Unverifiable {
        /// The dataset.
        dataset: String,
        /// How many files lack a reference hash.
        count: usize,
        /// The first of them.
        first: String,
        /// The `recorded.json` that should have listed them.
        record: PathBuf,
    },

    /// A downloaded archive does not unpack (truncated or damaged).
    #[error("dataset `{dataset}`: archive `{file}` does not unpack: {detail}. {advice}")]
    BadArchive {
        /// The dataset.
        dataset: String,
        /// The archive, relative to the dataset root.
        file: String,
        /// The unpacker's message.
        detail: String,
        /// What happened to the archive and what the user can do.
        advice: String,
    },

    /// A local copy does not hold the dataset's files: fewer (an empty or partial folder), or,
    /// where only the count is known, more than the dataset has.
    #[error(
        "dataset `{dataset}`: the local copy {folder} has {found} of the {expected} file(s) of {layout}: {detail}"
    )]
    LocalCopyFileCount {
        /// The dataset.
        dataset: String,
        /// The local copy.
        folder: PathBuf,
        /// The layout checked, in words (where the files sit).
        layout: String,
        /// How many files the dataset has there.
        expected: usize,
        /// How many were found.
        found: usize,
        /// Which files are missing, or which are too many, and what to do.
        detail: String,
    },

    /// A local copy holds a file that is not part of the dataset where its pipeline reads
    /// files, so it would be evaluated as part of the dataset.
    #[error(
        "dataset `{dataset}`: the local copy {folder} has `{file}`, which is not one of the files of {layout}, where the pipeline reads the dataset's files: it would be used as part of the dataset. Move it out of the copy (files the pipeline does not read are ignored)."
    )]
    LocalCopyUnexpectedFile {
        /// The dataset.
        dataset: String,
        /// The local copy.
        folder: PathBuf,
        /// The extra file, relative to the local copy.
        file: String,
        /// The layout checked, in words.
        layout: String,
    },

    /// A file of a local copy is not what it should be (an image that does not decode, a
    /// stack with the wrong page count, an unreadable table).
    #[error("dataset `{dataset}`: local copy file `{file}` is damaged: {detail}")]
    LocalCopyDamagedFile {
        /// The dataset.
        dataset: String,
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        detail: String,
    },

    /// A local copy's files have no reference SHA-256 and the user did not say to trust them.
    #[error(
        "dataset `{dataset}`: {count} file(s) of the local copy {folder} have no reference SHA-256 to check them against, first `{first}` (the manifest has none, and none was recorded by a download). They are complete and decode, but whether they are the published dataset cannot be checked. If you trust this copy, pass `--trust-local-copy` (or set `data.benchmark.trust_local_copy: true`): the results then record it as a trusted, unverified local copy. Otherwise run `datasets fetch {dataset}` to download the dataset and record its hashes."
    )]
    LocalCopyUnverified {
        /// The dataset.
        dataset: String,
        /// The local copy.
        folder: PathBuf,
        /// How many files have no reference hash.
        count: usize,
        /// The first of them, relative to the local copy.
        first: String,
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
