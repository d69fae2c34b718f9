//! The crate's single error type.

/// Everything that can go wrong while loading embedded data or building a task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PNG decoder rejected a file (corrupt or truncated data).
    #[error("cannot decode PNG `{file}`: {source}")]
    Png {
        /// The file being decoded, e.g. `denoising/camera.png`.
        file: String,
        /// The decoder's own error.
        #[source]
        source: png::DecodingError,
    },

    /// A PNG decoded fine but has a layout this crate does not read
    /// (for instance an instance map that is not 8-bit gray).
    #[error("unsupported PNG `{file}`: {detail}")]
    UnsupportedPng {
        /// The file being decoded.
        file: String,
        /// What is unsupported about it.
        detail: String,
    },

    /// The bytes of an embedded file do not hash to the SHA-256 recorded for it.
    #[error("SHA-256 mismatch for embedded file `{file}`: expected {expected}, got {actual}")]
    HashMismatch {
        /// The embedded file, e.g. `denoising/camera.png`.
        file: String,
        /// The hash recorded in `datasets/embedded/SHA256SUMS`.
        expected: String,
        /// The hash of the compiled-in bytes.
        actual: String,
    },

    /// A name matches no embedded file.
    #[error("unknown embedded file `{name}`; allowed: {allowed}")]
    UnknownEmbeddedFile {
        /// The name asked for.
        name: String,
        /// Comma-separated list of the embedded file names.
        allowed: String,
    },

    /// A configuration field (or a function argument standing in for one) holds an invalid value.
    #[error("invalid `{field}`: {message}")]
    InvalidConfig {
        /// The offending field, as written in the experiment config, e.g. `data.val_regions[0]`.
        field: String,
        /// The rule that was broken, including the bad value and, where a set of values is
        /// allowed, that set.
        message: String,
    },

    /// Pixel data whose length does not match the shape it was given.
    #[error("{what}: expected {expected} values for the given shape, got {actual}")]
    ShapeMismatch {
        /// What was being built, e.g. `Image 3x4x5`.
        what: String,
        /// The length the shape requires.
        expected: usize,
        /// The length supplied.
        actual: usize,
    },
}

/// Shorthand for results carrying this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an [`Error::InvalidConfig`] from anything string-like.
    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field: field.into(),
            message: message.into(),
        }
    }
}
