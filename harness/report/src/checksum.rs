//! SHA-256 as lower-case hex: what `SHA256SUMS` files, manifests and sealed documents record.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// SHA-256 of `bytes`.
pub fn sha256_of(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    Ok(sha256_of(&bytes))
}

/// A digest as lower-case hex.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
