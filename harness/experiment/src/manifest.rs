//! The manifest of an artifact folder, one tagged type for every kind: an ANN (`kind: ann`) or a
//! spiking network (`kind: snn`, converted, and fine-tuned when it has a `finetune` record).
//! Readers dispatch on the tag, never on a folder's name, and loading a network checks what it
//! was made from.

use std::path::{Path, PathBuf};

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
}

/// The manifest of a converted or fine-tuned network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnnManifest {
    /// The hash naming the folder.
    pub key: String,
    /// The ANN artifact it was converted from.
    pub ann_dir: PathBuf,
    /// sha256 of that ANN's `model.bpk` at conversion time.
    pub ann_model_sha256: String,
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
    /// Read the manifest of `dir`; an error says what the folder is missing.
    pub fn read(dir: &ArtifactDir) -> Result<Manifest> {
        let path = dir.manifest();
        if !path.exists() {
            return Err(Error::Artifact {
                path: dir.path().to_path_buf(),
                message: "no manifest.json here: not an artifact folder, or its stage has not \
                          run yet (run the stage, or `reproduce`)"
                    .into(),
            });
        }
        artifacts::read_json(&path)
    }

    /// Write it as `dir`'s manifest (atomically).
    pub fn write(&self, dir: &ArtifactDir) -> Result<()> {
        artifacts::write_json(&dir.manifest(), self)
    }

    /// True when the folder holds finished weights: trained to the end or imported; converted;
    /// fine-tuned to the end.
    pub fn is_complete(&self) -> bool {
        match self {
            Manifest::Ann(ann) => ann.is_complete(),
            Manifest::Snn(snn) => snn.finetune.as_ref().is_none_or(|f| f.summary.is_some()),
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
        self.training.is_some() || self.imported_from.is_some()
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

/// Load a finished ANN and its manifest.
pub fn load_ann(dir: &ArtifactDir, device: &Device) -> Result<(AnnManifest, UNet)> {
    let manifest = AnnManifest::read(dir)?;
    if !manifest.is_complete() {
        return Err(Error::Artifact {
            path: dir.path().to_path_buf(),
            message: "training has not finished; rerun `train` with the same config to resume it"
                .into(),
        });
    }
    let model = artifacts::load_module(manifest.unet.init(device)?, &dir.model())?;
    Ok((manifest, model))
}

/// Load a spiking network, checking that the ANN it was converted from has not changed since.
pub fn load_snn(dir: &ArtifactDir, device: &Device) -> Result<(SnnManifest, SpikingUNet)> {
    let manifest = SnnManifest::read(dir)?;
    let ann_model = ArtifactDir::at(&manifest.ann_dir).model();
    if ann_model.exists() && sha256_file(&ann_model)? != manifest.ann_model_sha256 {
        return Err(Error::Artifact {
            path: dir.path().to_path_buf(),
            message: format!(
                "{} changed after this conversion; delete this folder and rerun `convert`",
                ann_model.display()
            ),
        });
    }
    let unet = artifacts::load_module(manifest.unet.init(device)?, &dir.model())?;
    let neuron = manifest.neuron.clone();
    Ok((manifest, SpikingUNet { unet, neuron }))
}

/// Export the weights of an ANN or SNN artifact folder as safetensors in the authors' naming.
pub fn export_weights(dir: &ArtifactDir, out: &Path) -> Result<()> {
    let manifest = Manifest::read(dir)?;
    let (unet, config) = match &manifest {
        Manifest::Ann(ann) => (&ann.unet, &ann.config),
        Manifest::Snn(snn) => (&snn.unet, &snn.config),
    };
    let device = spiking_unet_core::device::device(&config.backend)?;
    let model = artifacts::load_module(unet.init(&device)?, &dir.model())?;
    spiking_unet_core::interop::export_safetensors(&model, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_decides_the_kind_and_the_old_ann_layout_still_reads() {
        // An ANN manifest as `train` wrote it before the tagged type: `kind` first.
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
