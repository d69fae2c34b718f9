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
