//! The `convert` stage: turn the trained ANN of a config into one spiking U-Net per
//! (normalization, neuron) pair of its `convert` section.
//!
//! Each SNN is an artifact folder `runs/<name>/snn-<key>` holding the rescaled weights
//! (`model.bpk`), the per-layer scale factors (`scale_factors.json`, readable) and a manifest
//! with the conversion settings, the neuron, and the provenance of the ANN it came from,
//! including the sha256 of the exact ANN weights. The key hashes the ANN's key and every
//! conversion setting, so factors can never be reused for another model (the authors' cache of
//! λ files could: authors-code §3.5).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spiking_unet_core::convert::{
    Activations, ConversionSpec, ScaleFactors, rescale, scale_factors,
};
use spiking_unet_core::model::UNetConfig;
use spiking_unet_core::neuron::Neuron;
use spiking_unet_core::simulate::SpikingUNet;

use crate::artifacts::{self, Manifest, Provenance, files, sha256_file};
use crate::config::ExperimentConfig;
use crate::task::{Task, images_to_tensor};
use crate::{Error, Result};

/// File of the scale factors in an SNN folder.
pub const SCALE_FACTORS: &str = "scale_factors.json";

/// The manifest of a converted network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnnManifest {
    /// Always `snn`.
    pub kind: String,
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
    /// Provenance of the conversion run.
    pub provenance: Provenance,
    /// Provenance of the ANN.
    pub ann_provenance: Provenance,
    /// Present when this network was fine-tuned (a `ft-` folder).
    #[serde(default)]
    pub finetune: Option<crate::finetune::FinetuneRecord>,
}

impl SnnManifest {
    /// `connection_wise / mt[2,1,0.5,0.25]`-style label.
    pub fn label(&self) -> String {
        format!(
            "{} / {}",
            self.spec.normalization.label(),
            self.neuron.label()
        )
    }
}

/// One (normalization, neuron) variant of a config, and the folder it lives in.
#[derive(Debug, Clone)]
pub struct Variant {
    /// How to convert.
    pub spec: ConversionSpec,
    /// Which neuron.
    pub neuron: Neuron,
    /// Calibration samples.
    pub calibration_samples: usize,
    /// `runs/<name>/snn-<key>`.
    pub dir: PathBuf,
}

/// The calibration sample count of a config (the authors': 32 denoising, 64 segmentation).
pub fn calibration_samples(config: &ExperimentConfig, task: &Task) -> usize {
    config.convert.calibration_samples.unwrap_or(match task {
        Task::Denoising(_) => 32,
        Task::Segmentation(_) => 64,
    })
}

/// Every conversion variant of a config, in config order (normalizations outer, neurons inner).
pub fn variants(config: &ExperimentConfig, task: &Task) -> Vec<Variant> {
    let ann_key = artifacts::ann_key(config);
    let samples = calibration_samples(config, task);
    let mut variants = Vec::new();
    for &normalization in &config.convert.normalizations {
        for neuron in &config.convert.neurons {
            let spec = ConversionSpec {
                normalization,
                statistic: config.convert.statistic,
                authors_off_by_one: config.convert.authors_off_by_one,
            };
            let inputs = serde_json::json!({ "code": artifacts::CODE_VERSIONS.convert, "ann": ann_key, "spec": spec, "neuron": neuron, "samples": samples });
            let key = artifacts::short_hash(inputs.to_string().as_bytes());
            let dir = config
                .runs_dir
                .join(&config.name)
                .join(format!("snn-{key}"));
            variants.push(Variant {
                spec,
                neuron: neuron.clone(),
                calibration_samples: samples,
                dir,
            });
        }
    }
    variants
}

/// What [`convert`] did for one variant.
#[derive(Debug)]
pub struct ConvertOutcome {
    /// The SNN folder.
    pub dir: PathBuf,
    /// `normalization / neuron`.
    pub label: String,
    /// True when the artifact already existed.
    pub reused: bool,
}

/// Convert the ANN of `config` into every variant of its `convert` section.
pub fn convert(config: &ExperimentConfig, config_path: &Path) -> Result<Vec<ConvertOutcome>> {
    let ann_dir = artifacts::ann_dir(config);
    let ann_manifest = Manifest::read(&ann_dir).map_err(|_| Error::Artifact {
        path: ann_dir.clone(),
        message: "no trained ANN for this config; run `train` (or `reproduce`) first".into(),
    })?;
    if !ann_manifest.is_complete() {
        return Err(Error::Artifact {
            path: ann_dir,
            message: "the ANN has not finished training; rerun `train`".into(),
        });
    }
    let device = spiking_unet_core::device::device(&config.backend)?;
    let task = Task::build(config)?;
    let ann_model_path = ann_dir.join(files::MODEL);
    let ann_model_sha256 = sha256_file(&ann_model_path)?;
    let ann = artifacts::load_module(ann_manifest.unet.init(&device)?, &ann_model_path)?;

    let all = variants(config, &task);
    let mut outcomes = Vec::new();
    let mut activations: Option<Activations> = None;
    let mut factors_of: Vec<(ConversionSpec, ScaleFactors)> = Vec::new();
    for variant in all {
        let manifest = SnnManifest {
            kind: "snn".into(),
            key: variant
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().trim_start_matches("snn-").to_string())
                .unwrap_or_default(),
            ann_dir: ann_dir.clone(),
            ann_model_sha256: ann_model_sha256.clone(),
            config: config.clone(),
            unet: ann_manifest.unet.clone(),
            spec: variant.spec.clone(),
            neuron: variant.neuron.clone(),
            calibration_samples: variant.calibration_samples,
            provenance: Provenance::collect(config, config_path, task.sources()),
            ann_provenance: ann_manifest.provenance.clone(),
            finetune: None,
        };
        let label = manifest.label();
        if variant.dir.join(files::MANIFEST).exists() {
            outcomes.push(ConvertOutcome {
                dir: variant.dir,
                label,
                reused: true,
            });
            continue;
        }
        if activations.is_none() {
            let calibration = calibration_batch(&task, variant.calibration_samples, &device);
            activations = Some(Activations::record(&ann, calibration)?);
        }
        let recorded = activations.as_ref().expect("recorded just above");
        let factors = match factors_of.iter().find(|(spec, _)| *spec == variant.spec) {
            Some((_, factors)) => factors.clone(),
            None => {
                let factors =
                    scale_factors(&ann, recorded, &variant.spec, variant.calibration_samples)?;
                factors_of.push((variant.spec.clone(), factors.clone()));
                factors
            }
        };
        let scaled = rescale(&ann, &factors)?;
        artifacts::write_json(&variant.dir.join(SCALE_FACTORS), &factors)?;
        artifacts::save_module(scaled, &variant.dir.join(files::MODEL))?;
        // The manifest goes last: its presence marks a complete artifact.
        artifacts::write_json(&variant.dir.join(files::MANIFEST), &manifest)?;
        tracing::info!("converted {label} -> {}", variant.dir.display());
        outcomes.push(ConvertOutcome {
            dir: variant.dir,
            label,
            reused: false,
        });
    }
    Ok(outcomes)
}

/// Load a converted network from its folder, checking it still matches the ANN it came from.
pub fn load_snn(dir: &Path, device: &burn::tensor::Device) -> Result<(SnnManifest, SpikingUNet)> {
    let manifest_path = dir.join(files::MANIFEST);
    if !manifest_path.exists() {
        return Err(Error::Artifact {
            path: dir.to_path_buf(),
            message: "not a converted network; run `convert` first".into(),
        });
    }
    let manifest: SnnManifest = artifacts::read_json(&manifest_path)?;
    let ann_model = manifest.ann_dir.join(files::MODEL);
    if ann_model.exists() && sha256_file(&ann_model)? != manifest.ann_model_sha256 {
        return Err(Error::Artifact {
            path: dir.to_path_buf(),
            message: format!(
                "{} changed after this conversion; delete this folder and rerun `convert`",
                ann_model.display()
            ),
        });
    }
    let unet = artifacts::load_module(manifest.unet.init(device)?, &dir.join(files::MODEL))?;
    let neuron = manifest.neuron.clone();
    Ok((manifest, SpikingUNet { unet, neuron }))
}

/// The calibration inputs: random training patches (denoising) or the first training patches
/// (segmentation), as the authors drew them.
fn calibration_batch(
    task: &Task,
    samples: usize,
    device: &burn::tensor::Device,
) -> burn::tensor::Tensor<4> {
    match task {
        Task::Denoising(t) => images_to_tensor(
            t.calibration_patches(samples).iter().map(|s| &s.noisy),
            device,
        ),
        Task::Segmentation(t) => images_to_tensor(
            t.calibration_patches(samples).iter().map(|s| &s.image),
            device,
        ),
    }
}

/// burn seeds its random stream per backend, not per thread: tests that initialise networks
/// in parallel would draw from each other's stream. They take this lock.
#[cfg(test)]
pub(crate) static SEEDED_STREAM: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use spiking_unet_core::convert::Normalization;
    use spiking_unet_core::neuron::Reset;
    use spiking_unet_core::simulate::simulate;

    /// A tiny network trained for real (a few seconds), in a temporary runs folder.
    fn trained_tiny(runs: &Path, data: &str, extra: &str) -> ExperimentConfig {
        let text = format!(
            "name: tiny\nseed: 5\nruns_dir: {}\ndata:\n{data}\
             model:\n  width: 8\n  depth: 2\ntrain:\n  epochs: 2\n{extra}",
            runs.display()
        );
        let config = parse(&text, Path::new("tiny.yaml")).expect("valid tiny config");
        crate::train::train(&config, Path::new("tiny.yaml")).expect("tiny training runs");
        config
    }

    const DENOISING: &str =
        "  denoising:\n    patch_size: 32\n    patches_per_epoch: 64\n    eval_crop: 64\n";
    const SEGMENTATION: &str = "  segmentation:\n    patch_size: 32\n    patches_per_epoch: 64\n    \
        val_regions: [[256, 0, 64, 64]]\n    test_regions: [[256, 256, 64, 64]]\n";

    fn relative_l2(a: &[f32], b: &[f32]) -> f64 {
        let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
        let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
        (num / den).sqrt()
    }

    /// Relative L2 error between the SNN read-out and the ANN output on the first test image,
    /// at each T, for a tiny trained network converted with max / IF-subtract / connection-wise.
    fn conversion_errors(data: &str, steps: &[usize]) -> Vec<f64> {
        let _stream = SEEDED_STREAM
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let runs = tempfile::tempdir().expect("temporary folder");
        let neuron = "convert:\n  statistic: max\n  normalizations: [connection_wise]\n  neurons: [{kind: if, reset: subtract}]\n";
        let config = trained_tiny(runs.path(), data, neuron);
        let outcomes = convert(&config, Path::new("tiny.yaml")).expect("conversion runs");
        assert_eq!(outcomes.len(), 1);
        let device = burn::tensor::Device::flex();
        let (manifest, snn) = load_snn(&outcomes[0].dir, &device).expect("SNN loads");
        assert_eq!(manifest.spec.normalization, Normalization::ConnectionWise);
        assert_eq!(
            manifest.neuron,
            Neuron::If {
                threshold: 1.0,
                reset: Reset::Subtract
            }
        );

        let ann_dir = artifacts::ann_dir(&config);
        let ann_manifest = Manifest::read(&ann_dir).expect("ANN manifest");
        let template = ann_manifest.unet.init(&device).expect("valid");
        let ann = artifacts::load_module(template, &ann_dir.join(files::MODEL)).expect("ANN loads");
        let task = Task::build(&config).expect("task");
        let item = &task.eval_items(crate::config::Split::Test)[0];
        let input = images_to_tensor(std::iter::once(&item.input), &device);
        let expected = ann
            .forward(input.clone())
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        let checkpoints = simulate(&snn, input, steps, 8).expect("simulation runs");
        checkpoints
            .iter()
            .map(|c| {
                relative_l2(
                    &c.mean_output()
                        .into_data()
                        .try_to_vec::<f32>()
                        .expect("f32"),
                    &expected,
                )
            })
            .collect()
    }

    #[test]
    fn a_converted_segmenter_approaches_its_ann_as_t_grows() {
        let steps = [16, 64, 256, 1024];
        let errors = conversion_errors(SEGMENTATION, &steps);
        eprintln!("segmenter: relative L2 error SNN vs ANN logits at T = {steps:?}: {errors:?}");
        for pair in errors.windows(2) {
            assert!(
                pair[1] < pair[0],
                "the error falls with T: {errors:?} at T = {steps:?}"
            );
        }
        assert!(
            errors[3] < 0.02,
            "relative L2 error at T = 1024 below 2 %: {errors:?}"
        );
    }

    #[test]
    fn a_converted_denoiser_error_falls_like_one_over_t() {
        // The denoiser's read-out is a small residual, so the rate-coding error (one spike in
        // T per neuron and layer) is large relative to it; it still has to fall as 1/T.
        let steps = [16, 64, 256, 1024];
        let errors = conversion_errors(DENOISING, &steps);
        eprintln!("denoiser: relative L2 error SNN vs ANN residual at T = {steps:?}: {errors:?}");
        for pair in errors.windows(2) {
            assert!(
                pair[1] < pair[0] / 3.0,
                "each 4x more steps cut the error by > 3x: {errors:?}"
            );
        }
    }

    #[test]
    fn factors_belong_to_their_ann_and_a_changed_ann_is_refused() {
        let _stream = SEEDED_STREAM
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let runs = tempfile::tempdir().expect("temporary folder");
        let config = trained_tiny(
            runs.path(),
            DENOISING,
            "convert:\n  normalizations: [layer_wise, connection_wise]\n",
        );
        let outcomes = convert(&config, Path::new("tiny.yaml")).expect("conversion runs");
        assert_eq!(outcomes.len(), 2);
        let factors: ScaleFactors =
            artifacts::read_json(&outcomes[1].dir.join(SCALE_FACTORS)).expect("readable factors");
        assert_eq!(
            factors.layers.len(),
            4 * 2 + 3 + 2,
            "11 convs and 2 transposed convs at depth 2"
        );
        // Converting again reuses; changing the ANN's weights makes the SNN refuse to load.
        assert!(
            convert(&config, Path::new("tiny.yaml"))
                .expect("rerun")
                .iter()
                .all(|o| o.reused)
        );
        let ann_model = artifacts::ann_dir(&config).join(files::MODEL);
        let mut bytes = std::fs::read(&ann_model).expect("ANN weights");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&ann_model, bytes).expect("writable");
        let err = load_snn(&outcomes[0].dir, &burn::tensor::Device::flex())
            .expect_err("stale conversion");
        assert!(
            err.to_string().contains("changed after this conversion"),
            "{err}"
        );
    }
}
