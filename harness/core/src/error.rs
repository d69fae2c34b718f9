//! The one error type of this crate.

/// Everything that can go wrong in the numerical core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model configuration that cannot be built.
    #[error("invalid model configuration: {0}")]
    InvalidModel(String),
    /// An input tensor whose shape does not fit the network.
    #[error("input shape does not fit the U-Net: {0}")]
    InputShape(String),
    /// Neuron constants that cannot work (non-positive threshold, empty ladder, ...).
    #[error("invalid neuron: {0}")]
    InvalidNeuron(String),
    /// A conversion that cannot be carried out as asked.
    #[error("conversion: {0}")]
    Conversion(String),
    /// Weights that cannot be written or read in the authors' naming.
    #[error("weights: {0}")]
    Weights(String),
    /// A backend name that is unknown or not compiled into this binary.
    #[error("backend `{name}` is not available: {reason}")]
    Backend {
        /// The name that was asked for.
        name: String,
        /// Why it cannot be used, and what can.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
