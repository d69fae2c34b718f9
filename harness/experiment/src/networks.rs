//! The networks of one experiment: its ANN, one converted network per (normalization, neuron)
//! of `convert`, and the fine-tuned ones `finetune` selects among those. Each has a label (as
//! tables and logs show it) and an artifact folder named by the hash of what it depends on.
//!
//! Keys: the ANN's hashes the seed, backend, data, model and training settings (and the bytes
//! of imported weights); a converted network's hashes the ANN's key and its conversion settings;
//! a fine-tuned one's hashes its source folder and the fine-tuning settings. Each also hashes
//! the version of its stage's code ([`CODE_VERSIONS`]), so a change that alters results makes
//! every run redo that stage and what follows.

use std::collections::HashMap;
use std::path::PathBuf;

use spiking_unet_core::convert::ConversionSpec;
use spiking_unet_core::neuron::Neuron;

use crate::artifacts::{CODE_VERSIONS, sha256_file, short_hash};
use crate::config::{DataConfig, ExperimentConfig};
use crate::layout::{ArtifactDir, ExperimentDir};

/// What a network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// The trained (or imported) ANN.
    Ann,
    /// A converted network.
    Converted,
    /// A converted network after fine-tuning.
    Finetuned,
}

/// How a spiking network is made from the ANN.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Normalization, statistic, off-by-one.
    pub spec: ConversionSpec,
    /// The neuron at every site.
    pub neuron: Neuron,
    /// Calibration samples the statistics are computed on.
    pub calibration_samples: usize,
}

impl Variant {
    /// `connection_wise / mt[2,1,0.5,0.25]`.
    pub fn label(&self) -> String {
        format!(
            "{} / {}",
            self.spec.normalization.label(),
            self.neuron.label()
        )
    }
}

/// One network of an experiment, whether or not it exists yet.
#[derive(Debug, Clone)]
pub struct Network {
    /// What it is.
    pub kind: NetworkKind,
    /// `ann`, `layer_wise / if-zero`, `finetuned T=4 connection_wise / mt[...]`.
    pub label: String,
    /// Its artifact folder.
    pub dir: ArtifactDir,
    /// How it is converted (`None` for the ANN).
    pub variant: Option<Variant>,
    /// The converted network a fine-tuned one starts from.
    pub source: Option<ArtifactDir>,
}

/// SHA-256 of imported weight files, computed once per file however many sweep points use it.
#[derive(Debug, Default)]
pub struct WeightHashes(HashMap<PathBuf, String>);

impl WeightHashes {
    fn of(&mut self, path: &std::path::Path) -> String {
        self.0
            .entry(path.to_path_buf())
            // A missing file is keyed by its name; importing it then says it is missing.
            .or_insert_with(|| sha256_file(path).unwrap_or_else(|_| path.display().to_string()))
            .clone()
    }
}

/// Hash of everything a trained ANN depends on (not the evaluation settings, not the name).
pub fn ann_key(config: &ExperimentConfig, hashes: &mut WeightHashes) -> String {
    let inputs = serde_json::json!({
        "code": CODE_VERSIONS.train,
        "version": config.version,
        "seed": config.seed,
        "backend": config.backend,
        "data": config.data,
        "model": config.model,
        "train": config.train,
        // Imported weights are identified by content, so replacing the file gives a new key.
        "pretrained": config.model.pretrained.as_ref().map(|p| hashes.of(p)),
    });
    short_hash(inputs.to_string().as_bytes())
}

/// The calibration sample count of a config (the authors': 32 denoising, 64 segmentation).
pub fn calibration_samples(config: &ExperimentConfig) -> usize {
    let denoising = match &config.data {
        DataConfig::Denoising(_) => true,
        DataConfig::Segmentation(_) => false,
        DataConfig::Benchmark(data) => data.is_denoising(),
    };
    config
        .convert
        .calibration_samples
        .unwrap_or(if denoising { 32 } else { 64 })
}

/// The networks of `config`: the ANN first, then the converted variants in config order
/// (normalizations outer, neurons inner), then the fine-tuned ones.
pub fn networks(config: &ExperimentConfig, hashes: &mut WeightHashes) -> Vec<Network> {
    let runs = ExperimentDir::of(config);
    let ann_key = ann_key(config, hashes);
    let mut networks = vec![Network {
        kind: NetworkKind::Ann,
        label: "ann".into(),
        dir: runs.ann(&ann_key),
        variant: None,
        source: None,
    }];
    let samples = calibration_samples(config);
    let mut converted = Vec::new();
    for &normalization in &config.convert.normalizations {
        for neuron in &config.convert.neurons {
            let spec = ConversionSpec {
                normalization,
                statistic: config.convert.statistic,
                authors_off_by_one: config.convert.authors_off_by_one,
            };
            let inputs = serde_json::json!({ "code": CODE_VERSIONS.convert, "ann": ann_key, "spec": spec, "neuron": neuron, "samples": samples });
            let variant = Variant {
                spec,
                neuron: neuron.clone(),
                calibration_samples: samples,
            };
            converted.push(Network {
                kind: NetworkKind::Converted,
                label: variant.label(),
                dir: runs.converted(&short_hash(inputs.to_string().as_bytes())),
                variant: Some(variant),
                source: None,
            });
        }
    }
    let settings = &config.finetune;
    let finetuned: Vec<Network> = converted
        .iter()
        .filter_map(|network| {
            let variant = network.variant.as_ref()?;
            if !(settings.normalizations.contains(&variant.spec.normalization)
                && settings.neurons.contains(&variant.neuron))
            {
                return None;
            }
            let inputs = serde_json::json!({ "code": CODE_VERSIONS.finetune, "source": network.dir.path(), "settings": settings, "seed": config.seed });
            Some(Network {
                kind: NetworkKind::Finetuned,
                label: format!("finetuned T={} {}", settings.time_steps, variant.label()),
                dir: runs.finetuned(&short_hash(inputs.to_string().as_bytes())),
                variant: Some(variant.clone()),
                source: Some(network.dir.clone()),
            })
        })
        .collect();
    networks.extend(converted);
    networks.extend(finetuned);
    networks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Split;
    use std::path::Path;

    fn config(extra: &str) -> ExperimentConfig {
        crate::config::parse(
            &format!("name: t\nruns_dir: runs\ndata:\n  denoising: {{}}\n{extra}"),
            Path::new("t.yaml"),
        )
        .expect("valid")
    }

    #[test]
    fn keys_change_with_training_inputs_but_not_with_evaluation_settings() {
        let base = config("");
        let mut other_eval = base.clone();
        other_eval.evaluate.splits = vec![Split::Validation];
        let key = |c: &ExperimentConfig| ann_key(c, &mut WeightHashes::default());
        assert_eq!(key(&base), key(&other_eval));
        let mut other_seed = base.clone();
        other_seed.seed = 1;
        assert_ne!(key(&base), key(&other_seed));
    }

    #[test]
    fn networks_come_ann_then_converted_then_finetuned_with_their_labels() {
        let config = config(
            "convert:\n  normalizations: [layer_wise, connection_wise]\n  neurons: [{kind: if, reset: zero}]\n\
             finetune:\n  normalizations: [connection_wise]\n  neurons: [{kind: if, reset: zero}]\n  time_steps: 3\n",
        );
        let networks = networks(&config, &mut WeightHashes::default());
        let labels: Vec<&str> = networks.iter().map(|n| n.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "ann",
                "layer_wise / if-zero",
                "connection_wise / if-zero",
                "finetuned T=3 connection_wise / if-zero"
            ]
        );
        let prefixes = ["ann-", "snn-", "snn-", "ft-"];
        for (network, prefix) in networks.iter().zip(prefixes) {
            let name = network.dir.path().file_name().expect("named");
            assert!(name.to_string_lossy().starts_with(prefix), "{name:?}");
        }
        assert_eq!(networks[3].source.as_ref(), Some(&networks[2].dir));
    }
}
