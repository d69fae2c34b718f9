//! Data for the Spiking-UNet harness: the small CC0 images compiled into the crate (with their
//! SHA-256 hashes for provenance), the two offline quickstart tasks built from them —
//! Gaussian denoising of photographs and nuclei segmentation — and the deterministic splits,
//! noise and training patches of those tasks, all reproducible from (config, seed).
//!
//! This crate holds no model code and downloads nothing: the paper's public benchmark sets
//! (BSD68, DRIVE, ISBI 2012, ...) are not redistributable; the `spiking-unet-datasets` crate
//! fetches and decodes them into the [`DenoisingImages`] and [`SegmentationImages`] defined here.

#![warn(missing_docs)]

pub mod denoising;
pub mod embedded;
pub mod error;
pub mod image;
pub mod layout;
mod patch;
mod rng;
pub mod segmentation;
mod validation;

pub use denoising::{
    COLOR_IMAGES, DenoisingDataConfig, DenoisingEvalImage, DenoisingImages, DenoisingSample,
    DenoisingSplits, DenoisingTask, GRAY_IMAGES,
};
pub use embedded::{EmbeddedFile, embedded_file, embedded_files, provenance, verify_embedded};
pub use error::{Error, Result};
pub use image::{Image, LabelMap, decode_png, decode_png_gray_u8, png_shape};
pub use layout::{EvalLayout, Padding, Paste, reflect_pad};
pub use patch::{FlipMode, PatchSettings};
pub use segmentation::{
    NUCLEI_IMAGE, NUCLEI_INSTANCES, SegmentationDataConfig, SegmentationEvalImage,
    SegmentationImages, SegmentationSample, SegmentationTarget, SegmentationTask,
};
