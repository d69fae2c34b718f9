//! Dataset pipelines: from the files of a downloaded (or user-supplied) benchmark folder to the
//! data crate's [`DenoisingImages`](spiking_unet_data::DenoisingImages) parts and
//! [`SegmentationImages`](spiking_unet_data::SegmentationImages), decoded and preprocessed as the
//! authors' code does (`reference/authors-code.md` §7, with the evaluation layouts of §7.1/§7.3
//! and §8.1).
//!
//! Each loader takes the dataset's root folder, finds its files by the layouts the public copies
//! come in (a Hugging Face parquet table, an official zip, a GitHub mirror), and records the
//! SHA-256 of every file it reads so that experiment results can name their exact inputs. A
//! folder that lacks a needed file gives [`Error::Layout`](crate::error::Error::Layout) naming
//! the expected path; a file that cannot be decoded gives
//! [`Error::Decode`](crate::error::Error::Decode) naming the file.

pub mod camseq;
pub mod decode;
pub mod denoising;
pub mod drive;
pub mod isbi;
