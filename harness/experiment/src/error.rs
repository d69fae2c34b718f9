//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while running an experiment stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A config file that does not parse (the message carries line, column and field).
    #[error("{path}: {message}")]
    ConfigSyntax {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with location.
        message: String,
    },
    /// A config value that parses but is not allowed.
    #[error("{path}{}: field `{field}`: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    ConfigValue {
        /// The config file.
        path: PathBuf,
        /// The line of the field in the file, when it is there (not for defaults or `--set`).
        line: Option<usize>,
        /// Dotted path of the offending field, e.g. `train.batch_size`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An artifact folder that is missing, incomplete or of the wrong kind.
    #[error("artifact {path}: {message}")]
    Artifact {
        /// The artifact folder or file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file whose content is not what was recorded when it was written: damaged, truncated
    /// or edited. The reason names both hashes (or what is malformed).
    #[error("{path}: {reason}. It is damaged: `reproduce` moves it aside and rebuilds it")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A model record (burnpack) that cannot be saved or loaded.
    #[error("model record {path}: {message}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// An error from the numerical core.
    #[error(transparent)]
    Core(#[from] spiking_unet_core::Error),
    /// An error from the data layer.
    #[error(transparent)]
    Data(#[from] spiking_unet_data::Error),
    /// A public benchmark dataset could not be fetched, verified or decoded.
    #[error(transparent)]
    Datasets(#[from] spiking_unet_datasets::Error),
    /// The results store, a table or a figure failed.
    #[error(transparent)]
    Report(#[from] spiking_unet_report::Error),
    /// A metric that could not be computed (shapes or labels that do not fit).
    #[error("metric: {0}")]
    Metric(#[from] spiking_unet_core::metrics::MetricError),
    /// A JSON document that could not be (de)serialised.
    #[error("JSON {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A command-line argument outside its allowed values (the message names both).
    #[error("{0}")]
    Argument(String),
    /// A stage that a later issue of the roadmap implements.
    #[error("`{0}` is not implemented yet in this version of the harness")]
    NotImplemented(&'static str),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
