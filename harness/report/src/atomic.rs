//! Atomic file writes: a reader (or a crash) sees the old file or the whole new one, never half.
//!
//! The temporary file is named `.tmp-spiking-unet-<host>-<pid>-<random>`, so that the next run
//! can tell the leftovers of a killed run (see [`remove_leftovers`]) from the files of a run
//! still writing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// Write `bytes` to `path`: write a temporary file beside it, flush it to disk, then rename it
/// over the target. Creates the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("creating folder", dir))?;
    let mut file = tempfile::Builder::new()
        .prefix(&format!(
            "{TEMPORARY_PREFIX}{}-{}-",
            host_name(),
            std::process::id()
        ))
        .tempfile_in(dir)
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

/// How every temporary file of [`write_atomic`] begins.
pub const TEMPORARY_PREFIX: &str = ".tmp-spiking-unet-";

/// A temporary file from another machine is taken for a leftover once it is this old (its
/// process cannot be asked whether it still runs).
const FOREIGN_LEFTOVER_AGE: Duration = Duration::from_secs(24 * 3600);

/// Remove the temporary files of [`write_atomic`] under `dir` (recursively) whose process is
/// gone: written on this machine by a process that no longer runs, or on another machine more
/// than a day ago. Returns the files removed.
pub fn remove_leftovers(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    if !dir.is_dir() {
        return Ok(removed);
    }
    let host = host_name();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(Error::io("listing", &folder))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                folders.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(rest) = name.strip_prefix(TEMPORARY_PREFIX) else {
                continue;
            };
            if is_leftover(rest, &host, &path) {
                std::fs::remove_file(&path).map_err(Error::io("removing leftover", &path))?;
                removed.push(path);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// `rest` is `<host>-<pid>-<random>`; the host name may itself contain dashes.
fn is_leftover(rest: &str, host: &str, path: &Path) -> bool {
    if let Some(after_host) = rest.strip_prefix(&format!("{host}-"))
        && let Some(pid) = after_host
            .split('-')
            .next()
            .and_then(|p| p.parse::<u32>().ok())
    {
        return pid != std::process::id() && !process_is_running(pid);
    }
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok());
    age.is_some_and(|age| age > FOREIGN_LEFTOVER_AGE)
}

fn process_is_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without /proc, assume it runs; the age rule does not apply to this machine's files,
        // so leftovers stay until removed by hand.
        true
    }
}

/// This machine's name (without dashes' ambiguity mattering: it is matched as a prefix).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().replace(['/', '\\'], "_"))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_processes_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let sub = dir.path().join("store/shard-1-of-1");
        std::fs::create_dir_all(&sub).expect("folder");
        let host = host_name();
        // A pid above the kernel's maximum (4194304) never runs.
        let dead = sub.join(format!("{TEMPORARY_PREFIX}{host}-4294967-abc"));
        let alive = sub.join(format!(
            "{TEMPORARY_PREFIX}{host}-{}-abc",
            std::process::id()
        ));
        let foreign = sub.join(format!("{TEMPORARY_PREFIX}elsewhere-12-abc"));
        let unrelated = sub.join("results.csv");
        for path in [&dead, &alive, &foreign, &unrelated] {
            std::fs::write(path, b"x").expect("writes");
        }
        let removed = remove_leftovers(dir.path()).expect("scans");
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists());
        assert!(alive.exists() && foreign.exists() && unrelated.exists());
    }

    #[test]
    fn a_write_leaves_only_the_target() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").expect("writes");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }
}
