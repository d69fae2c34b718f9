//! The public benchmark datasets of the paper — DRIVE, ISBI 2012, CamSeq01, BSD68, CBSD68,
//! Set12 and the BSDS500-derived training sets — fetched on the user's machine (none may be
//! redistributed), verified by SHA-256, and decoded exactly as the authors' pipelines do.
//!
//! A YAML manifest per dataset (`datasets/manifests/`) says where the files live (a Hugging
//! Face dataset repo at a pinned revision, or plain HTTPS URLs), their SHA-256, licence terms
//! and citation. [`fetch()`] materialises a dataset in the local cache (or checks a local copy
//! the user already has); [`pipelines`] turn the files into the data crate's images.
//!
//! Nothing unverified reaches a pipeline silently: a cached file must match its reference hash
//! (the manifest's, or the one recorded at its first download, which only a download writes);
//! a local copy must be complete, match reference hashes where they exist, decode, and, where
//! no reference exists, be trusted explicitly (`--trust-local-copy`), which results record
//! ([`fetch::Materialized::trusted_unverified`], [`benchmark::DatasetInput`]).

#![warn(missing_docs)]

pub mod archive;
pub mod benchmark;
pub mod drive_preprocessing;
pub mod error;
pub mod fetch;
pub mod local_copy;
pub mod manifest;
/// Test support only: other crates' tests enable it with the `test-support` feature; it is not
/// part of the library a binary links.
#[cfg(any(test, feature = "test-support"))]
pub mod mock_hub;
pub mod pipelines;

pub use benchmark::{
    BenchmarkDataConfig, BenchmarkDataset, BenchmarkTask, DatasetInput, DenoisingEvaluation,
    LoadedBenchmark,
};
pub use error::{Error, Result};
pub use fetch::{FetchOptions, FetchSettings, Materialized, fetch, verify};
pub use manifest::Manifest;
