//! Experiments of the Spiking-UNet harness: the YAML schema ([`config`]), the task as the stages
//! see it ([`task`]), artifact folders with provenance ([`artifacts`]) and the stage runners
//! ([`train`], [`evaluate`]).
//!
//! This is the crate the binaries call: each stage of train → convert → finetune → evaluate →
//! report is one function here taking a validated config. It owns files, progress bars and
//! resumption; the maths lives in `spiking-unet-core` and the images in `spiking-unet-data`.
#![warn(missing_docs)]

pub mod artifacts;
pub mod bench;
pub mod config;
pub mod convert;
mod error;
pub mod evaluate;
pub mod finetune;
pub mod reproduce;
pub mod results;
pub mod sweep;
pub mod task;
pub mod train;

pub use error::{Error, Result};
