//! The manifest of an artifact folder, one tagged type for every kind: an ANN (`kind: ann`) or a
//! spiking network (`kind: snn`, converted, and fine-tuned when it has a `finetune` record).
//! Readers dispatch on the tag, never on a folder's name, and loading a network checks what it
//! was made from.
//!
//! A manifest is sealed (see [`artifacts::write_sealed`]) and lists, in [`Contents`], the sha256
//! of every file it vouches for; loading verifies them first, so damaged weights or scale
//! factors are an error naming the file, never numbers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use spiking_unet_core::convert::ConversionSpec;
use spiking_unet_core::model::{UNet, UNetConfig};
use spiking_unet_core::neuron::Neuron;
use spiking_unet_core::simulate::SpikingUNet;

use crate::artifacts::{self, Provenance, sha256_file};
use crate::config::{ExperimentConfig, FinetuneConfig, Split};
use crate::layout::ArtifactDir;
use crate::{Error, Result};

/// What an artifact folder holds, as `manifest.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// A manifest is read a handful of times per run; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Manifest {
    /// A trained or imported ANN.
    Ann(AnnManifest),
    /// A converted (and possibly fine-tuned) spiking network.
    Snn(SnnManifest),
}

/// The manifest of an ANN folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnManifest {
    /// The hash naming the folder.
    pub key: String,
    /// The resolved config.
    pub config: ExperimentConfig,
    /// The network, to rebuild it before loading the weights.
    pub unet: UNetConfig,
    /// Where it came from.
    pub provenance: Provenance,
    /// Present once training finished.
    pub training: Option<TrainingSummary>,
    /// `(file, sha256)` when the weights were imported (`model.pretrained`) instead of trained.
    #[serde(default)]
    pub imported_from: Option<(PathBuf, String)>,
    /// The finished weights, by content: present once training finished or the import was done.
    pub contents: Option<Contents>,
}

/// The manifest of a converted or fine-tuned network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnnManifest {
    /// The hash naming the folder.
    pub key: String,
    /// The ANN artifact it was converted from.
    pub ann_dir: PathBuf,
    /// [`Contents::weights_sha256`] of that ANN at conversion time.
    pub ann_weights_sha256: String,
    /// The resolved config.
    pub config: ExperimentConfig,
    /// The network shape.
    pub unet: UNetConfig,
    /// Normalization, statistic, off-by-one.
    pub spec: ConversionSpec,
    /// The neuron at every site.
    pub neuron: Neuron,
    /// Calibration samples the statistics were computed on.
    pub calibration_samples: usize,
    /// Provenance of the run that made this folder (conversion or fine-tuning).
    pub provenance: Provenance,
    /// Provenance of the ANN.
    pub ann_provenance: Provenance,
    /// Present when this network was fine-tuned (a `ft-` folder).
    #[serde(default)]
    pub finetune: Option<FinetuneRecord>,
    /// The finished weights and scale factors, by content: present once converted, or once
    /// fine-tuning finished.
    pub contents: Option<Contents>,
}

/// What a manifest vouches for, by content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// SHA-256 of the weights' tensors ([`artifacts::weights_sha256`]): the same for the same
    /// weights whatever the file's bytes. It names the evaluation cache, so evaluations of
    /// other weights can never be read back for these.
    pub weights_sha256: String,
    /// SHA-256 of every file the manifest vouches for, by name in the folder (`model.bpk`,
    /// `scale_factors.json`).
    pub files: BTreeMap<String, String>,
}

impl Contents {
    /// Hash `weights` and the files `names` of `dir` as they are now.
    pub fn record(dir: &ArtifactDir, weights: &impl Module, names: &[&str]) -> Result<Contents> {
        let files = names
            .iter()
            .map(|name| Ok((name.to_string(), sha256_file(&dir.path().join(name))?)))
            .collect::<Result<_>>()?;
        Ok(Contents {
            weights_sha256: artifacts::weights_sha256(weights),
            files,
        })
    }

    /// Check every file against its recorded hash: [`Error::Damaged`] names the first that
    /// differs, with both hashes.
    pub fn verify(&self, dir: &ArtifactDir) -> Result<()> {
        for (name, sha256) in &self.files {
            artifacts::verify_file(&dir.path().join(name), sha256)?;
        }
        Ok(())
    }
}

/// How an epoch loop (training or fine-tuning) ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Epochs run.
    pub epochs: usize,
    /// Epoch (1-based) whose weights were kept.
    pub selected_epoch: usize,
    /// Split the selection looked at.
    pub selection_split: Split,
    /// Metric the selection maximised (`psnr`, `f1` or `miou`).
    pub selection_metric: String,
    /// Its value at the selected epoch.
    pub selection_value: f64,
    /// Wall-clock seconds spent, summed over resumed sessions.
    pub seconds: f64,
}

/// What fine-tuning added to an SNN manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRecord {
    /// The converted network it started from.
    pub source: PathBuf,
    /// The settings.
    pub settings: FinetuneConfig,
    /// Present once fine-tuning finished.
    pub summary: Option<TrainingSummary>,
}

impl Manifest {
    /// Read the manifest of `dir`; an error says what the folder is missing, or that the
    /// manifest is damaged.
    pub fn read(dir: &ArtifactDir) -> Result<Manifest> {
        Manifest::read_if_present(dir)?.ok_or_else(|| Error::Artifact {
            path: dir.path().to_path_buf(),
            message: "no manifest.json here: not an artifact folder, or its stage has not run \
                      yet (run the stage, or `reproduce`)"
                .into(),
        })
    }

    /// The manifest of `dir`, `None` when the folder has none yet; a damaged one is an error.
    pub fn read_if_present(dir: &ArtifactDir) -> Result<Option<Manifest>> {
        let path = dir.manifest();
        if !path.exists() {
            return Ok(None);
        }
        artifacts::read_sealed(&path).map(Some)
    }

    /// Write it as `dir`'s manifest (sealed, atomically).
    pub fn write(&self, dir: &ArtifactDir) -> Result<()> {
        artifacts::write_sealed(&dir.manifest(), self)
    }

    /// True when the folder holds finished weights: trained to the end or imported; converted;
    /// fine-tuned to the end.
    pub fn is_complete(&self) -> bool {
        self.contents().is_some()
    }

    /// What the manifest vouches for, once the weights are final.
    pub fn contents(&self) -> Option<&Contents> {
        match self {
            Manifest::Ann(ann) => ann.contents.as_ref(),
            Manifest::Snn(snn) => snn.contents.as_ref(),
        }
    }

    /// The resolved config the artifact was made with.
    pub fn config(&self) -> &ExperimentConfig {
        match self {
            Manifest::Ann(ann) => &ann.config,
            Manifest::Snn(snn) => &snn.config,
        }
    }
}

impl AnnManifest {
    /// True when the weights are final: trained to the end, or imported.
    pub fn is_complete(&self) -> bool {
        self.contents.is_some()
    }

    /// Read `dir`'s manifest, which must be an ANN's.
    pub fn read(dir: &ArtifactDir) -> Result<AnnManifest> {
        match Manifest::read(dir)? {
            Manifest::Ann(ann) => Ok(ann),
            Manifest::Snn(_) => Err(Error::Artifact {
                path: dir.path().to_path_buf(),
                message: "this is a spiking network, not an ANN".into(),
            }),
        }
    }
}

impl SnnManifest {
    /// Read `dir`'s manifest, which must be a spiking network's.
    pub fn read(dir: &ArtifactDir) -> Result<SnnManifest> {
        match Manifest::read(dir)? {
            Manifest::Snn(snn) => Ok(snn),
            Manifest::Ann(_) => Err(Error::Artifact {
                path: dir.path().to_path_buf(),
                message: "this is an ANN, not a spiking network".into(),
            }),
        }
    }
}

/// Load a finished ANN and its manifest, its files verified first.
pub fn load_ann(dir: &ArtifactDir, device: &Device) -> Result<(AnnManifest, UNet)> {
    let manifest = AnnManifest::read(dir)?;
    let model = load_verified(
        dir,
        &Manifest::Ann(manifest.clone()),
        &manifest.unet,
        device,
    )?;
    Ok((manifest, model))
}

/// Load a spiking network, its files verified first, checking that the ANN it was converted
/// from still holds the weights it was converted from.
pub fn load_snn(dir: &ArtifactDir, device: &Device) -> Result<(SnnManifest, SpikingUNet)> {
    let manifest = SnnManifest::read(dir)?;
    check_ann_unchanged(dir, &manifest)?;
    let unet = load_verified(
        dir,
        &Manifest::Snn(manifest.clone()),
        &manifest.unet,
        device,
    )?;
    let neuron = manifest.neuron.clone();
    Ok((manifest, SpikingUNet { unet, neuron }))
}

/// An error when the ANN folder `snn` was converted from now holds other weights (it was
/// retrained): the spiking network is stale.
pub fn check_ann_unchanged(dir: &ArtifactDir, snn: &SnnManifest) -> Result<()> {
    let ann = ArtifactDir::at(&snn.ann_dir);
    // A damaged ANN manifest is the ANN's own damage (reported and rebuilt as such), not this
    // network's: only a readable one that names other weights makes this one stale.
    if let Ok(Some(Manifest::Ann(ann_manifest))) = Manifest::read_if_present(&ann)
        && let Some(contents) = &ann_manifest.contents
        && contents.weights_sha256 != snn.ann_weights_sha256
    {
        return Err(Error::Damaged {
            path: dir.manifest(),
            reason: format!(
                "converted from ANN weights {}, but {} now holds weights {} (it was retrained)",
                snn.ann_weights_sha256, ann, contents.weights_sha256
            ),
        });
    }
    Ok(())
}

/// Verify the files `manifest` vouches for, then load the weights into a `unet`.
fn load_verified(
    dir: &ArtifactDir,
    manifest: &Manifest,
    unet: &UNetConfig,
    device: &Device,
) -> Result<UNet> {
    let Some(contents) = manifest.contents() else {
        return Err(Error::Artifact {
            path: dir.path().to_path_buf(),
            message: "its stage has not finished; rerun it with the same config (or \
                      `reproduce`) to resume it"
                .into(),
        });
    };
    contents.verify(dir)?;
    artifacts::load_module(unet.init(device)?, &dir.model())
}

/// Export the weights of an ANN or SNN artifact folder as safetensors in the authors' naming.
pub fn export_weights(dir: &ArtifactDir, out: &Path) -> Result<()> {
    let manifest = Manifest::read(dir)?;
    let (unet, config) = match &manifest {
        Manifest::Ann(ann) => (&ann.unet, &ann.config),
        Manifest::Snn(snn) => (&snn.unet, &snn.config),
    };
    let device = spiking_unet_core::device::device(&config.backend)?;
    let model = load_verified(dir, &manifest, unet, &device)?;
    spiking_unet_core::interop::export_safetensors(&model, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_decides_the_kind() {
        let config = crate::config::parse("name: t\ndata:\n  denoising: {}\n", Path::new("t"))
            .expect("valid");
        let provenance = Provenance::collect(&config, Path::new("t"), Vec::new());
        let ann = AnnManifest {
            key: "k".into(),
            config: config.clone(),
            unet: config.unet(1, 1),
            provenance,
            training: None,
            imported_from: None,
            contents: None,
        };
        let text = serde_json::to_string(&Manifest::Ann(ann.clone())).expect("serializes");
        assert!(text.starts_with(r#"{"kind":"ann","key":"k""#), "{text}");
        let back: Manifest = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, Manifest::Ann(ann));
        assert!(!back.is_complete());
        let wrong = text.replacen(r#""kind":"ann""#, r#""kind":"snn""#, 1);
        assert!(serde_json::from_str::<Manifest>(&wrong).is_err());
    }
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    fn sealed_manifest(dir: &ArtifactDir) -> Manifest {
        let config = crate::config::parse("name: t\ndata:\n  denoising: {}\n", Path::new("t"))
            .expect("valid");
        let manifest = Manifest::Ann(AnnManifest {
            key: "k".into(),
            config: config.clone(),
            unet: config.unet(1, 1),
            provenance: Provenance::collect(&config, Path::new("t"), Vec::new()),
            training: None,
            imported_from: None,
            contents: Some(Contents {
                weights_sha256: "0".repeat(64),
                files: BTreeMap::new(),
            }),
        });
        manifest.write(dir).expect("writes");
        manifest
    }

    #[test]
    fn an_edited_or_truncated_manifest_is_damaged_not_used() {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let dir = ArtifactDir::at(tmp.path());
        let manifest = sealed_manifest(&dir);
        assert_eq!(Manifest::read(&dir).expect("clean reads"), manifest);
        let text = std::fs::read_to_string(dir.manifest()).expect("reads");

        // An edited value that still parses: the seal catches it.
        let edited = text.replacen("\"seed\": 0", "\"seed\": 1", 1);
        assert_ne!(edited, text, "the test edits a real field");
        std::fs::write(dir.manifest(), &edited).expect("writes");
        let err = Manifest::read(&dir).expect_err("edited");
        assert!(
            matches!(&err, Error::Damaged { reason, .. } if reason.contains("sealed with")),
            "{err}"
        );

        // A truncated file.
        std::fs::write(dir.manifest(), &text[..text.len() / 2]).expect("writes");
        let err = Manifest::read(&dir).expect_err("truncated");
        assert!(matches!(err, Error::Damaged { .. }), "{err}");
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
