//! Atomic file writes: a reader (or a crash) sees the old file or the whole new one, never half.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Write `bytes` to `path`: write a temporary file beside it, flush it to disk, then rename it
/// over the target. Creates the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("creating folder", dir))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(Error::io("creating a temporary file in", dir))?;
    file.write_all(bytes).map_err(Error::io("writing", path))?;
    file.as_file()
        .sync_all()
        .map_err(Error::io("flushing", path))?;
    // Temporary files are private (0600); results are meant to be read by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(Error::io("setting permissions of", path))?;
    }
    file.persist(path).map_err(|err| Error::Io {
        action: "renaming into",
        path: path.to_path_buf(),
        source: err.error,
    })?;
    Ok(())
}
