//! The CC0 images compiled into the crate, with their recorded SHA-256 hashes.
//!
//! The files live in `datasets/embedded/` (see its README.md for provenance). Compiling them in
//! lets the quickstart experiments and the tests run offline and from any working directory.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One compiled-in file.
#[derive(Debug)]
pub struct EmbeddedFile {
    /// Path below `datasets/embedded/`, e.g. `denoising/camera.png`.
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// Lower-case hex SHA-256 of `bytes`, as listed in `datasets/embedded/SHA256SUMS`.
    pub sha256: &'static str,
}

impl EmbeddedFile {
    /// Checks that the compiled-in bytes still hash to the recorded SHA-256, so that a
    /// provenance manifest never records a hash the data does not have.
    pub fn verify(&self) -> Result<()> {
        let actual = sha256_hex(self.bytes);
        if actual == self.sha256 {
            Ok(())
        } else {
            Err(Error::HashMismatch {
                file: self.name.to_owned(),
                expected: self.sha256.to_owned(),
                actual,
            })
        }
    }
}

macro_rules! embedded_file {
    ($name:literal, $sha256:literal) => {
        EmbeddedFile {
            name: $name,
            bytes: include_bytes!(concat!("../../../datasets/embedded/", $name)),
            sha256: $sha256,
        }
    };
}

static FILES: [EmbeddedFile; 10] = [
    embedded_file!(
        "denoising/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"
    ),
    embedded_file!(
        "denoising/brick.png",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"
    ),
    embedded_file!(
        "denoising/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"
    ),
    embedded_file!(
        "denoising/cell.png",
        "8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515"
    ),
    embedded_file!(
        "denoising/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"
    ),
    embedded_file!(
        "denoising/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"
    ),
    embedded_file!(
        "denoising/grass.png",
        "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"
    ),
    embedded_file!(
        "denoising/gravel.png",
        "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12"
    ),
    embedded_file!(
        "segmentation/dsb2018_nuclei_image.png",
        "ce2a32221ffe8efae4227ae08e7a8fd810f80d2a61ed5fa68c9b0550348e493c"
    ),
    embedded_file!(
        "segmentation/dsb2018_nuclei_instances.png",
        "2f574f94096ce2b04fdde5f5055cc26b804cb94d03d46fc27865bc7bf7977685"
    ),
];

/// Every compiled-in file, sorted by name.
pub fn embedded_files() -> &'static [EmbeddedFile] {
    &FILES
}

/// The compiled-in file called `name` (e.g. `denoising/camera.png`).
pub fn embedded_file(name: &str) -> Result<&'static EmbeddedFile> {
    FILES
        .iter()
        .find(|file| file.name == name)
        .ok_or_else(|| Error::UnknownEmbeddedFile {
            name: name.to_owned(),
            allowed: FILES
                .iter()
                .map(|file| file.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Checks every compiled-in file against its recorded SHA-256.
pub fn verify_embedded() -> Result<()> {
    FILES.iter().try_for_each(EmbeddedFile::verify)
}

/// `(name, sha256)` of each named embedded file, after checking its hash: the provenance
/// record of the files a task reads.
pub fn provenance<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<(String, String)>> {
    names
        .into_iter()
        .map(|name| {
            let file = embedded_file(name)?;
            file.verify()?;
            Ok((file.name.to_owned(), file.sha256.to_owned()))
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{decode_png, decode_png_gray_u8};

    const SHA256SUMS: &str = include_str!("../../../datasets/embedded/SHA256SUMS");

    #[test]
    fn recomputed_hashes_match_the_recorded_ones() {
        for file in embedded_files() {
            assert_eq!(sha256_hex(file.bytes), file.sha256, "{}", file.name);
        }
        verify_embedded().unwrap();
    }

    #[test]
    fn sha256sums_lists_exactly_the_embedded_files() {
        let listed: Vec<(&str, &str)> = SHA256SUMS
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (hash, name) = line.split_once("  ").unwrap();
                (name.trim(), hash)
            })
            .collect();
        let compiled: Vec<(&str, &str)> = embedded_files()
            .iter()
            .map(|file| (file.name, file.sha256))
            .collect();
        assert_eq!(listed, compiled);
    }

    #[test]
    fn tampered_bytes_are_detected() {
        let tampered = EmbeddedFile {
            name: "denoising/camera.png",
            bytes: b"not the camera",
            sha256: embedded_file("denoising/camera.png").unwrap().sha256,
        };
        let err = tampered.verify().unwrap_err();
        assert!(
            matches!(err, Error::HashMismatch { ref file, .. } if file == "denoising/camera.png")
        );
    }

    #[test]
    fn unknown_name_lists_the_allowed_names() {
        let err = embedded_file("denoising/lena.png").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("denoising/lena.png"), "{message}");
        assert!(message.contains("denoising/camera.png"), "{message}");
        assert!(
            message.contains("segmentation/dsb2018_nuclei_instances.png"),
            "{message}"
        );
    }

    #[test]
    fn provenance_pairs_names_with_hashes() {
        let pairs = provenance(["denoising/cell.png"]).unwrap();
        assert_eq!(
            pairs,
            vec![(
                "denoising/cell.png".to_owned(),
                "8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515".to_owned()
            )]
        );
        assert!(provenance(["nope.png"]).is_err());
    }

    #[test]
    fn every_file_decodes_with_its_documented_shape() {
        let expected = [
            ("denoising/astronaut.png", (3, 512, 512)),
            ("denoising/brick.png", (1, 512, 512)),
            ("denoising/camera.png", (1, 512, 512)),
            ("denoising/cell.png", (1, 660, 550)),
            ("denoising/chelsea.png", (3, 300, 451)),
            ("denoising/coffee.png", (3, 400, 600)),
            ("denoising/grass.png", (1, 512, 512)),
            ("denoising/gravel.png", (1, 512, 512)),
            ("segmentation/dsb2018_nuclei_image.png", (1, 512, 512)),
            ("segmentation/dsb2018_nuclei_instances.png", (1, 512, 512)),
        ];
        for (name, shape) in expected {
            let image = decode_png(embedded_file(name).unwrap().bytes, name).unwrap();
            assert_eq!((image.channels, image.height, image.width), shape, "{name}");
            assert!(image.data.iter().all(|v| (0.0..=1.0).contains(v)), "{name}");
            let spread = image.data.iter().fold(0.0f32, |m, &v| m.max(v));
            assert!(spread > 0.0, "{name} is blank");
        }
    }

    #[test]
    fn nuclei_maps_have_the_documented_value_ranges() {
        let name = "segmentation/dsb2018_nuclei_instances.png";
        let ids = decode_png_gray_u8(embedded_file(name).unwrap().bytes, name).unwrap();
        assert_eq!(ids.labels.iter().max(), Some(&183));
        let mut seen = [false; 256];
        ids.labels.iter().for_each(|&id| seen[id as usize] = true);
        // Ids are not contiguous: 125 nuclei carry ids between 1 and 183.
        assert_eq!(seen.iter().filter(|&&s| s).count(), 1 + 125);

        let name = "segmentation/dsb2018_nuclei_image.png";
        let raw = decode_png_gray_u8(embedded_file(name).unwrap().bytes, name).unwrap();
        assert_eq!(raw.labels.iter().max(), Some(&235));
    }
}
