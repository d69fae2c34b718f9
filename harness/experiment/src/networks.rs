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

use spiking_unet_core::convert::{ConversionSpec, Normalization, Statistic};
use spiking_unet_core::neuron::Neuron;

use crate::artifacts::{CODE_VERSIONS, sha256_file, short_hash};
use crate::config::{DataConfig, ExperimentConfig};
use crate::fidelity::{Calibration, ConnectionWiseStatistic};
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
    /// Which samples: whole training images in order (the authors' segmentation loader on
    /// ISBI 2012 and CamSeq01) rather than the first windows of the training stream.
    pub calibration_whole_images: bool,
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

/// True when conversion calibrates on whole training images in order: `calibration:
/// first_samples` on a dataset whose training samples are whole images (ISBI 2012, CamSeq01).
/// On the other datasets the authors' first samples are the first patches drawn, which is what
/// `random_windows` takes too.
pub fn calibration_whole_images(config: &ExperimentConfig) -> bool {
    config.choices().calibration == Calibration::FirstSamples
        && matches!(&config.data, DataConfig::Benchmark(data) if data.trains_on_whole_images())
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
    let choices = config.choices();
    let whole_images = calibration_whole_images(config);
    let mut converted = Vec::new();
    for &normalization in &config.convert.normalizations {
        for neuron in &config.convert.neurons {
            let statistic = match (normalization, choices.connection_wise_statistic) {
                (Normalization::ConnectionWise, ConnectionWiseStatistic::Percentile999) => {
                    Statistic::Percentile(99.9)
                }
                _ => config.convert.statistic,
            };
            let spec = ConversionSpec {
                normalization,
                statistic,
                // The off-by-one is a connection-wise bug; elsewhere it would only split keys.
                authors_off_by_one: choices.off_by_one
                    && normalization == Normalization::ConnectionWise,
            };
            let mut inputs = serde_json::json!({ "code": CODE_VERSIONS.convert, "ann": ann_key, "spec": spec, "neuron": neuron, "samples": samples });
            // Only when it changes the samples, so that keys of the default draw stay put.
            if whole_images {
                inputs["calibration"] = "whole_images".into();
            }
            let variant = Variant {
                spec,
                neuron: neuron.clone(),
                calibration_samples: samples,
                calibration_whole_images: whole_images,
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
            // Settings that cannot act are left out of the key, so that switching them reuses
            // the fine-tuned network: the IF flow value unless an IF threshold is not 1, the
            // head bias at T = 1 (once per step is once).
            let mut keyed = settings.clone();
            if !matches!(variant.neuron, Neuron::If { threshold, .. } if threshold != 1.0) {
                keyed.if_flow_value = None;
            }
            if settings.time_steps == 1 {
                keyed.head_bias = None;
            }
            let inputs = serde_json::json!({ "code": CODE_VERSIONS.finetune, "source": network.dir.path(), "settings": keyed, "seed": config.seed });
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

    /// The networks of `config` as its sweep point would plan them (departures resolved).
    fn planned(extra: &str) -> Vec<Network> {
        let mut config = config(extra);
        config.resolve();
        networks(&config, &mut WeightHashes::default())
    }

    #[test]
    fn keys_follow_what_a_departure_changes_and_only_that() {
        let both = "convert:\n  normalizations: [layer_wise, connection_wise]\n";
        let keys =
            |text: &str| -> Vec<String> { planned(text).iter().map(|n| n.dir.key()).collect() };
        let dirs = |extra: &str| keys(&format!("{both}{extra}"));
        let corrected = dirs("");
        // The off-by-one changes the connection-wise network and what is fine-tuned from it.
        let off_by_one = dirs("fidelity: authors:off_by_one\n");
        assert_eq!(off_by_one[..2], corrected[..2], "ANN and layer-wise shared");
        assert_ne!(off_by_one[2], corrected[2]);
        assert_ne!(off_by_one[3], corrected[3]);
        // Test-set selection retrains the ANN, so everything changes.
        let selection = dirs("fidelity: authors:train_selection\n");
        assert!(selection.iter().zip(&corrected).all(|(a, b)| a != b));
        // A departure that cannot act here (MT neurons, threshold 1; a patch dataset; p99.9
        // already) reuses every network.
        for inert in [
            "if_flow_value",
            "calibration",
            "connection_wise_statistic",
            "energy_unit",
        ] {
            assert_eq!(
                dirs(&format!("fidelity: authors:{inert}\n")),
                corrected,
                "{inert}"
            );
        }
        // Under `statistic: max` the authors' connection-wise percentile is a new network.
        let with_max = format!("{both}  statistic: max\n");
        let max = keys(&format!(
            "{with_max}fidelity: authors:connection_wise_statistic\n"
        ));
        let max_corrected = keys(&with_max);
        assert_eq!(max[1], max_corrected[1]);
        assert_ne!(max[2], max_corrected[2]);
        // Fine-tuning batches change only the fine-tuned network.
        let batches = dirs("fidelity: authors:finetune_batches\n");
        assert_eq!(batches[..3], corrected[..3]);
        assert_ne!(batches[3], corrected[3]);
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
