//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while storing, tabulating or plotting results.
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
    /// polars could not build, read or write a table.
    #[error("results table {context}")]
    Table {
        /// What was being done, with the file when there is one.
        context: String,
        /// polars' error.
        source: polars::error::PolarsError,
    },
    /// A results table that reads but does not hold what a report needs.
    #[error("{path}: {message}")]
    Contents {
        /// The table (or the folder of shard tables).
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A file whose content is not what was recorded when it was written.
    #[error("{path}: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not match (both hashes), and what to do.
        reason: String,
    },
    /// A significance test that cannot be run on the samples given.
    #[error("{test}: {message}")]
    Statistics {
        /// The test (`shapiro_wilk`, `t_test`, `mann_whitney_u`).
        test: &'static str,
        /// Why (too few values, constant sample, ...).
        message: String,
    },
    /// A plot that could not be drawn or written.
    #[error("plot {path}: {message}")]
    Plot {
        /// The file being written.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// A tolerance file that does not parse or names an unknown metric.
    #[error("{path}: {message}")]
    Tolerance {
        /// The tolerance file.
        path: PathBuf,
        /// The parser's message, or what is wrong.
        message: String,
    },
}

impl Error {
    /// A closure for `map_err` that wraps an I/O error with its action and path.
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

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
