//! Safe unpacking of the tar.gz and zip archives some datasets ship as.
//!
//! Downloaded archives are untrusted input: an entry named `../../.bashrc` or `/etc/passwd`, or
//! a link pointing outside, must never write outside the target folder ("zip slip"). Every
//! entry's path is checked before anything is written, links are refused, and the archive is
//! unpacked into a temporary sibling folder that is renamed into place only when complete, so
//! an interrupted unpack never leaves a half-filled folder that looks finished.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Unpacks `archive` (`.tar.gz`, `.tgz` or `.zip`) into `target`, which must not exist yet.
pub fn unpack(archive: &Path, target: &Path) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(Error::io(parent))?;
    let name = archive.to_string_lossy();
    if name.ends_with(".zip") {
        unpack_zip(archive, staging.path())?;
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        unpack_tar_gz(archive, staging.path())?;
    } else {
        return Err(Error::Decode {
            file: archive.to_owned(),
            detail: "unknown archive type; allowed: .tar.gz, .tgz, .zip".into(),
        });
    }
    let staged = staging.keep();
    std::fs::rename(&staged, target).map_err(Error::io(target))
}

/// `entry` as a path below the target, or an error if it is absolute or climbs out.
fn safe_relative(archive: &Path, entry: &str) -> Result<PathBuf> {
    let path = Path::new(entry);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::UnsafeArchiveEntry {
                    archive: archive.to_owned(),
                    entry: entry.to_owned(),
                });
            }
        }
    }
    Ok(clean)
}

fn write_entry(archive: &Path, root: &Path, entry: &str, reader: &mut impl Read) -> Result<()> {
    let relative = safe_relative(archive, entry)?;
    if relative.as_os_str().is_empty() {
        return Ok(());
    }
    let path = root.join(relative);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    let mut file = File::create(&path).map_err(Error::io(&path))?;
    std::io::copy(reader, &mut file).map_err(Error::io(&path))?;
    Ok(())
}

fn decode_error(archive: &Path, err: impl std::fmt::Display) -> Error {
    Error::Decode {
        file: archive.to_owned(),
        detail: err.to_string(),
    }
}

fn unpack_tar_gz(archive: &Path, root: &Path) -> Result<()> {
    let file = File::open(archive).map_err(Error::io(archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().map_err(|e| decode_error(archive, e))? {
        let mut entry = entry.map_err(|e| decode_error(archive, e))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                let dir = root.join(safe_relative(archive, &name)?);
                std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                write_entry(archive, root, &name, &mut entry)?;
            }
            // Links could point anywhere; the datasets need none.
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(Error::UnsafeArchiveEntry {
                    archive: archive.to_owned(),
                    entry: format!("{name} (a link)"),
                });
            }
            // PAX/GNU headers and the like carry metadata, not files.
            _ => {}
        }
    }
    Ok(())
}

fn unpack_zip(archive: &Path, root: &Path) -> Result<()> {
    let file = File::open(archive).map_err(Error::io(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| decode_error(archive, e))?;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| decode_error(archive, e))?;
        let name = entry
            .name()
            .map_err(|e| decode_error(archive, e))?
            .into_owned();
        if entry.is_symlink() {
            return Err(Error::UnsafeArchiveEntry {
                archive: archive.to_owned(),
                entry: format!("{name} (a link)"),
            });
        }
        if entry.is_dir() {
            let dir = root.join(safe_relative(archive, &name)?);
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        } else {
            write_entry(archive, root, &name, &mut entry)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A tar.gz holding `entries` (name, bytes); names are written raw, unchecked, so tests
    /// can build hostile archives.
    pub(crate) fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the name bytes directly like a hostile tool would.
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    pub(crate) fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_nested_files_of_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let entries: &[(&str, &[u8])] = &[("set/a.png", b"A"), ("set/sub/b.txt", b"BB")];
        for (name, bytes) in [("x.tar.gz", tar_gz(entries)), ("x.zip", zip_bytes(entries))] {
            let archive = dir.path().join(name);
            std::fs::write(&archive, bytes).unwrap();
            let target = dir.path().join(format!("out-{name}"));
            unpack(&archive, &target).unwrap();
            assert_eq!(std::fs::read(target.join("set/a.png")).unwrap(), b"A");
            assert_eq!(std::fs::read(target.join("set/sub/b.txt")).unwrap(), b"BB");
        }
    }

    #[test]
    fn entries_escaping_the_target_are_refused_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            (
                "evil.tar.gz",
                tar_gz(&[("ok.txt", b"1"), ("../escaped.txt", b"2")]),
            ),
            (
                "evil.zip",
                zip_bytes(&[("ok.txt", b"1"), ("../escaped.txt", b"2")]),
            ),
            ("abs.tar.gz", tar_gz(&[("/tmp/absolute.txt", b"3")])),
        ] {
            let archive = dir.path().join(name);
            std::fs::write(&archive, bytes).unwrap();
            let target = dir.path().join("inner").join("out");
            let err = unpack(&archive, &target).unwrap_err();
            assert!(
                matches!(err, Error::UnsafeArchiveEntry { .. }),
                "{name}: {err}"
            );
            assert!(err.to_string().contains("escapes the target folder"));
            assert!(
                !target.exists(),
                "{name}: a refused archive left {target:?}"
            );
            assert!(!dir.path().join("inner/escaped.txt").exists());
            assert!(!dir.path().join("escaped.txt").exists());
        }
    }
}
