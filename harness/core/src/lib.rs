//! The numerical core of the Spiking-UNet harness: the paper's U-Net ([`model`]), its training
//! losses ([`loss`]), the evaluation metrics of the authors' code ([`metrics`]), spiking neurons
//! ([`neuron`]), ANN→SNN conversion ([`convert`]), SNN simulation with spike and energy counts
//! ([`simulate`]), the fast CPU inference engine ([`engine`]) and the compute device selection
//! ([`device`]).
//!
//! In the pipeline train → convert → finetune → evaluate → report, this crate holds the maths of
//! every stage and nothing else: it depends on burn only, never reads a file or a config, and
//! never names a backend type (burn 0.22 picks the backend at run time through a `Device`), so
//! the same code runs on the `flex` CPU backend, wgpu or CUDA. Data loading lives in
//! `spiking-unet-data`; configs, artifacts and stage runners in `spiking-unet-experiment`.
#![warn(missing_docs)]

pub mod convert;
pub mod device;
pub mod engine;
mod error;
pub mod finetune;
pub mod interop;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod neuron;
pub mod simulate;

pub use error::{Error, Result};

/// Held for the whole of every test that seeds or draws from burn's random stream. The stream
/// is one per process, tests run on parallel threads, and parameters are drawn lazily at their
/// first use, so without it a test can draw its weights after a neighbour reseeded (seen as a
/// test that failed once in several runs).
#[cfg(test)]
pub(crate) fn random_stream() -> std::sync::MutexGuard<'static, ()> {
    static STREAM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    STREAM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
