//! Config checks shared by both tasks.

use crate::error::{Error, Result};

/// Rejects a zero size multiple, which would make every divisibility rule meaningless.
pub(crate) fn check_size_multiple(size_multiple: usize) -> Result<()> {
    if size_multiple == 0 {
        return Err(Error::config("size_multiple", "must be at least 1"));
    }
    Ok(())
}

/// Requires a patch or crop side that the network can take: positive and divisible by
/// `size_multiple`, because every U-Net level halves the sides.
pub(crate) fn check_side(field: &str, side: usize, size_multiple: usize) -> Result<()> {
    if side == 0 || !side.is_multiple_of(size_multiple) {
        return Err(Error::config(
            field,
            format!(
                "must be a positive multiple of {size_multiple} (the network's size multiple), got {side}"
            ),
        ));
    }
    Ok(())
}

/// Rejects an epoch without patches.
pub(crate) fn check_patches_per_epoch(patches_per_epoch: usize) -> Result<()> {
    if patches_per_epoch == 0 {
        return Err(Error::config(
            "data.patches_per_epoch",
            "must be at least 1",
        ));
    }
    Ok(())
}
