//! The `convert` stage: turn the trained ANN of a sweep point into one spiking U-Net per
//! (normalization, neuron) pair of its `convert` section.
//!
//! Each SNN is an artifact folder `runs/<name>/snn-<key>` holding the rescaled weights
//! (`model.bpk`), the per-layer scale factors (`scale_factors.json`, readable) and a manifest
//! with the conversion settings, the neuron, and the provenance of the ANN it came from,
//! including the sha256 of the exact ANN weights. The key hashes the ANN's key and every
//! conversion setting, so factors can never be reused for another model (the authors' cache of
//! λ files could: authors-code §3.5).

use spiking_unet_core::convert::{
    Activations, ConversionSpec, ScaleFactors, rescale, scale_factors,
};

use crate::artifacts;
use crate::layout::{ArtifactDir, SNN_FILES};
use crate::manifest::{Contents, Manifest, SnnManifest, load_ann};
use crate::networks::{NetworkKind, Variant};
use crate::plan::PointPlan;
use crate::task::{Task, images_to_tensor};
use crate::{Error, Result};

/// What [`convert`] did for one variant.
#[derive(Debug)]
pub struct ConvertOutcome {
    /// The SNN folder.
    pub dir: ArtifactDir,
    /// `normalization / neuron`.
    pub label: String,
    /// True when the artifact already existed.
    pub reused: bool,
}

/// Convert the ANN of `point` into every converted network of its plan. Reads the dataset only
/// when a network is missing.
pub fn convert(point: &PointPlan) -> Result<Vec<ConvertOutcome>> {
    let config = point.config();
    let ann_dir = &point.ann().dir;
    let Some(Manifest::Ann(ann_manifest)) = Manifest::read_if_present(ann_dir)? else {
        return Err(Error::Artifact {
            path: ann_dir.path().to_path_buf(),
            message: "no trained ANN for this config; run `train` (or `reproduce`) first".into(),
        });
    };
    let Some(ann_contents) = &ann_manifest.contents else {
        return Err(Error::Artifact {
            path: ann_dir.path().to_path_buf(),
            message: "the ANN has not finished training; rerun `train`".into(),
        });
    };
    let mut outcomes = Vec::new();
    // Loaded (and hashed) on the first variant that has to be made.
    let mut ann = None;
    let mut activations: Option<(Activations, usize)> = None;
    let mut factors_of: Vec<(ConversionSpec, ScaleFactors)> = Vec::new();
    // One calibration pass keeps what every variant's statistics need.
    let specs: Vec<ConversionSpec> = point
        .networks_of(NetworkKind::Converted)
        .filter_map(|network| network.variant.as_ref())
        .map(|variant| variant.spec.clone())
        .collect();
    for network in point.networks_of(NetworkKind::Converted) {
        let variant = network
            .variant
            .as_ref()
            .expect("a converted network has a variant");
        let dir = &network.dir;
        if Manifest::read_if_present(dir)?.is_some() {
            outcomes.push(ConvertOutcome {
                dir: dir.clone(),
                label: network.label.clone(),
                reused: true,
            });
            continue;
        }
        tracing::info!(event = "stage", stage = "convert", network = network.label, dir = %dir, "convert: {} -> {dir}", network.label);
        let device = spiking_unet_core::device::device(&config.backend)?;
        let task = point.task()?;
        if ann.is_none() {
            ann = Some(load_ann(ann_dir, &device)?.1);
        }
        let model = ann.as_ref().expect("loaded just above");
        if activations.is_none() {
            let calibration = calibration_batch(task, variant, &device);
            // Fewer than asked when whole images are taken and there are fewer images.
            let count = calibration.dims()[0];
            activations = Some((Activations::record(model, calibration, &specs)?, count));
        }
        let (recorded, count) = activations.as_ref().expect("recorded just above");
        let factors = match factors_of.iter().find(|(spec, _)| *spec == variant.spec) {
            Some((_, factors)) => factors.clone(),
            None => {
                let factors = scale_factors(model, recorded, &variant.spec, *count)?;
                factors_of.push((variant.spec.clone(), factors.clone()));
                factors
            }
        };
        let scaled = rescale(model, &factors)?;
        artifacts::write_sealed(&dir.scale_factors(), &factors)?;
        artifacts::save_module(scaled.clone(), &dir.model())?;
        let contents = Contents::record(dir, &scaled, &SNN_FILES)?;
        // The manifest goes last: its presence marks a complete artifact.
        let manifest = SnnManifest {
            key: dir.key(),
            ann_dir: ann_dir.path().to_path_buf(),
            ann_weights_sha256: ann_contents.weights_sha256.clone(),
            config: config.clone(),
            unet: ann_manifest.unet.clone(),
            spec: variant.spec.clone(),
            neuron: variant.neuron.clone(),
            calibration_samples: variant.calibration_samples,
            provenance: point.provenance()?,
            ann_provenance: ann_manifest.provenance.clone(),
            finetune: None,
            contents: Some(contents),
        };
        Manifest::Snn(manifest).write(dir)?;
        outcomes.push(ConvertOutcome {
            dir: dir.clone(),
            label: network.label.clone(),
            reused: false,
        });
    }
    Ok(outcomes)
}

/// The calibration inputs: random training patches (denoising), the first training patches
/// (segmentation), or the first whole training images (segmentation under the authors'
/// calibration on ISBI 2012 and CamSeq01).
fn calibration_batch(
    task: &Task,
    variant: &Variant,
    device: &burn::tensor::Device,
) -> burn::tensor::Tensor<4> {
    let samples = variant.calibration_samples;
    match task {
        Task::Denoising(t) => images_to_tensor(
            t.calibration_patches(samples).iter().map(|s| &s.noisy),
            device,
        ),
        Task::Segmentation(t) if variant.calibration_whole_images => images_to_tensor(
            t.first_training_images(samples).iter().map(|s| &s.image),
            device,
        ),
        Task::Segmentation(t) => images_to_tensor(
            t.calibration_patches(samples).iter().map(|s| &s.image),
            device,
        ),
    }
}
