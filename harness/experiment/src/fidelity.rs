//! `fidelity:` which behaviour a config follows where the harness departs from the authors'
//! code on purpose: `corrected` (the default), `authors` (every departure as their code does it,
//! so the numbers are what their scripts would print), or `authors:<departure>` (corrected
//! except that one departure: what the departures report sweeps).
//!
//! Each departure also has a field of its own (listed by [`Departure::field`]); a field left
//! unset (null) follows `fidelity`, a field set explicitly wins. [`ExperimentConfig::choices`]
//! gives the effective value of every departure, and [`ExperimentConfig::resolve`] writes them
//! into the config, so that manifests record them and artifact keys hash them.

use serde::{Deserialize, Serialize};
use spiking_unet_core::finetune::HeadBias;

use crate::config::{ExperimentConfig, Split};

/// The behaviour a config follows, departure by departure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fidelity {
    /// Every departure corrected.
    #[default]
    Corrected,
    /// Every departure as the authors' code does it.
    Authors,
    /// Corrected, except this departure, which is the authors'.
    AuthorsOnly(Departure),
}

/// A point where the harness departs from the authors' code on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Departure {
    /// Spikes, synaptic operations and energy per network input (authors) or per image.
    EnergyUnit,
    /// ANN MACs counted as thop does (authors) or as performed.
    MacConvention,
    /// Connection-wise normalization always at the 99.9th percentile (authors) or at the
    /// configured statistic.
    ConnectionWiseStatistic,
    /// Segmentation calibration on the first training samples in loader order (authors) or
    /// on random windows.
    Calibration,
    /// Fine-tuning on one fixed patch set with the last partial batch dropped (authors) or on
    /// fresh patches with every batch.
    FinetuneBatches,
    /// The IF flow value in fine-tuning: the spike count (authors) or the emitted θ·s.
    IfFlowValue,
    /// The connection-wise off-by-one (authors) or the exact scheme.
    OffByOne,
    /// The head bias once in the fine-tuning output (authors) or once per step.
    HeadBias,
    /// ANN checkpoint chosen on the test split (authors) or the validation split.
    TrainSelection,
    /// Fine-tuned checkpoint chosen on the test split (authors) or the validation split.
    FinetuneSelection,
}

impl Departure {
    /// Every departure, in the order the report lists them.
    pub const ALL: [Departure; 10] = [
        Departure::EnergyUnit,
        Departure::MacConvention,
        Departure::ConnectionWiseStatistic,
        Departure::Calibration,
        Departure::FinetuneBatches,
        Departure::IfFlowValue,
        Departure::OffByOne,
        Departure::HeadBias,
        Departure::TrainSelection,
        Departure::FinetuneSelection,
    ];

    /// The name in `authors:<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Departure::EnergyUnit => "energy_unit",
            Departure::MacConvention => "mac_convention",
            Departure::ConnectionWiseStatistic => "connection_wise_statistic",
            Departure::Calibration => "calibration",
            Departure::FinetuneBatches => "finetune_batches",
            Departure::IfFlowValue => "if_flow_value",
            Departure::OffByOne => "off_by_one",
            Departure::HeadBias => "head_bias",
            Departure::TrainSelection => "train_selection",
            Departure::FinetuneSelection => "finetune_selection",
        }
    }

    /// The config field that overrides this departure alone.
    pub fn field(self) -> &'static str {
        match self {
            Departure::EnergyUnit => "report.energy_unit",
            Departure::MacConvention => "report.mac_convention",
            Departure::ConnectionWiseStatistic => "convert.connection_wise_statistic",
            Departure::Calibration => "convert.calibration",
            Departure::FinetuneBatches => "finetune.batches",
            Departure::IfFlowValue => "finetune.if_flow_value",
            Departure::OffByOne => "convert.authors_off_by_one",
            Departure::HeadBias => "finetune.head_bias",
            Departure::TrainSelection => "train.selection_split",
            Departure::FinetuneSelection => "finetune.selection_split",
        }
    }

    fn from_name(name: &str) -> Option<Departure> {
        Departure::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl Fidelity {
    /// True when `departure` follows the authors' code under this fidelity.
    pub fn is_authors(self, departure: Departure) -> bool {
        match self {
            Fidelity::Corrected => false,
            Fidelity::Authors => true,
            Fidelity::AuthorsOnly(only) => only == departure,
        }
    }
}

impl Fidelity {
    /// `field` when it is set, else the `corrected` or the authors' (`theirs`) value of
    /// `departure` under this fidelity.
    fn pick<T>(self, field: Option<T>, departure: Departure, corrected: T, theirs: T) -> T {
        field.unwrap_or(if self.is_authors(departure) {
            theirs
        } else {
            corrected
        })
    }
}

impl std::fmt::Display for Fidelity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fidelity::Corrected => f.write_str("corrected"),
            Fidelity::Authors => f.write_str("authors"),
            Fidelity::AuthorsOnly(departure) => write!(f, "authors:{}", departure.name()),
        }
    }
}

impl From<Fidelity> for String {
    fn from(fidelity: Fidelity) -> String {
        fidelity.to_string()
    }
}

impl TryFrom<String> for Fidelity {
    type Error = String;

    fn try_from(text: String) -> Result<Fidelity, String> {
        let names: Vec<&str> = Departure::ALL.iter().map(|d| d.name()).collect();
        match text.as_str() {
            "corrected" => Ok(Fidelity::Corrected),
            "authors" => Ok(Fidelity::Authors),
            other => other
                .strip_prefix("authors:")
                .and_then(Departure::from_name)
                .map(Fidelity::AuthorsOnly)
                .ok_or_else(|| {
                    format!(
                        "fidelity `{other}`: allowed values are corrected, authors, or \
                         authors:<departure> with a departure among {}",
                        names.join(", ")
                    )
                }),
        }
    }
}

/// What spikes, synaptic operations and energy are counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergyUnit {
    /// The whole image, summing the tiles it is cut into.
    PerImage,
    /// One network input (a tile or patch), as the authors average.
    PerInput,
}

/// How the ANN's multiply-accumulates are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacConvention {
    /// The MACs performed (a transposed conv per input pixel, bias adds included).
    Performed,
    /// thop's count, which the authors report (transposed conv per output pixel, pools).
    Thop,
}

/// The statistic connection-wise normalization uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionWiseStatistic {
    /// `convert.statistic`, as for the other normalizations.
    Configured,
    /// The 99.9th percentile whatever `convert.statistic` says, as the authors' code does
    /// (their `-s max` only renames a cache folder).
    #[serde(rename = "percentile_99.9")]
    Percentile999,
}

/// Which training samples calibrate a segmentation network's conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// The first windows of the training stream, drawn at random with replacement.
    RandomWindows,
    /// The first training samples in loader order, as the authors: where the dataset trains
    /// on whole images (ISBI 2012, CamSeq01) each image once, whole, in file order; where it
    /// trains on patches (DRIVE, the embedded nuclei image) the first patches drawn, which is
    /// `random_windows` again.
    FirstSamples,
}

/// How fine-tuning batches are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinetuneBatches {
    /// Fresh patches every epoch; the last partial batch is kept.
    Fresh,
    /// One fixed set of patches (the first epoch's), reshuffled every epoch, and the last
    /// partial batch dropped: the authors fine-tune on the first 10,000 stored patches with
    /// `drop_last=True`.
    FixedDropLast,
}

/// What an IF neuron's flow (its forward value in the fine-tuning pass) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfFlowValue {
    /// The emitted value θ·s, what the read-out sees.
    Emitted,
    /// The spike count s, as the authors' train state returns (differs only when θ ≠ 1).
    Count,
}

/// The effective value of every departure for one config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choices {
    /// `report.energy_unit`.
    pub energy_unit: EnergyUnit,
    /// `report.mac_convention`.
    pub mac_convention: MacConvention,
    /// `convert.connection_wise_statistic`.
    pub connection_wise_statistic: ConnectionWiseStatistic,
    /// `convert.calibration`.
    pub calibration: Calibration,
    /// `finetune.batches`.
    pub finetune_batches: FinetuneBatches,
    /// `finetune.if_flow_value`.
    pub if_flow_value: IfFlowValue,
    /// `convert.authors_off_by_one`.
    pub off_by_one: bool,
    /// `finetune.head_bias`.
    pub head_bias: HeadBias,
    /// `train.selection_split`.
    pub train_selection: Split,
    /// `finetune.selection_split`.
    pub finetune_selection: Split,
}

impl ExperimentConfig {
    /// The effective value of every departure: its field when set, else what `fidelity` says.
    pub fn choices(&self) -> Choices {
        let f = self.fidelity;
        Choices {
            energy_unit: f.pick(
                self.report.energy_unit,
                Departure::EnergyUnit,
                EnergyUnit::PerImage,
                EnergyUnit::PerInput,
            ),
            mac_convention: f.pick(
                self.report.mac_convention,
                Departure::MacConvention,
                MacConvention::Performed,
                MacConvention::Thop,
            ),
            connection_wise_statistic: f.pick(
                self.convert.connection_wise_statistic,
                Departure::ConnectionWiseStatistic,
                ConnectionWiseStatistic::Configured,
                ConnectionWiseStatistic::Percentile999,
            ),
            calibration: f.pick(
                self.convert.calibration,
                Departure::Calibration,
                Calibration::RandomWindows,
                Calibration::FirstSamples,
            ),
            finetune_batches: f.pick(
                self.finetune.batches,
                Departure::FinetuneBatches,
                FinetuneBatches::Fresh,
                FinetuneBatches::FixedDropLast,
            ),
            if_flow_value: f.pick(
                self.finetune.if_flow_value,
                Departure::IfFlowValue,
                IfFlowValue::Emitted,
                IfFlowValue::Count,
            ),
            off_by_one: f.pick(
                self.convert.authors_off_by_one,
                Departure::OffByOne,
                false,
                true,
            ),
            head_bias: f.pick(
                self.finetune.head_bias,
                Departure::HeadBias,
                HeadBias::Consistent,
                HeadBias::Authors,
            ),
            train_selection: f.pick(
                self.train.selection_split,
                Departure::TrainSelection,
                Split::Validation,
                Split::Test,
            ),
            finetune_selection: f.pick(
                self.finetune.selection_split,
                Departure::FinetuneSelection,
                Split::Validation,
                Split::Test,
            ),
        }
    }

    /// Write the effective value of every departure into its field, so that what a manifest
    /// records and what a key hashes is the behaviour, however it was asked for.
    pub fn resolve(&mut self) {
        let choices = self.choices();
        self.report.energy_unit = Some(choices.energy_unit);
        self.report.mac_convention = Some(choices.mac_convention);
        self.convert.connection_wise_statistic = Some(choices.connection_wise_statistic);
        self.convert.calibration = Some(choices.calibration);
        self.finetune.batches = Some(choices.finetune_batches);
        self.finetune.if_flow_value = Some(choices.if_flow_value);
        self.convert.authors_off_by_one = Some(choices.off_by_one);
        self.finetune.head_bias = Some(choices.head_bias);
        self.train.selection_split = Some(choices.train_selection);
        self.finetune.selection_split = Some(choices.finetune_selection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(extra: &str) -> ExperimentConfig {
        crate::config::parse(
            &format!("name: t\ndata:\n  denoising: {{}}\n{extra}"),
            Path::new("t.yaml"),
        )
        .expect("valid")
    }

    #[test]
    fn authors_switches_every_departure_and_a_field_still_wins() {
        let corrected = config("").choices();
        let authors = config("fidelity: authors\n").choices();
        assert_eq!(corrected.energy_unit, EnergyUnit::PerImage);
        assert_eq!(authors.energy_unit, EnergyUnit::PerInput);
        assert_eq!(authors.mac_convention, MacConvention::Thop);
        assert_eq!(
            authors.connection_wise_statistic,
            ConnectionWiseStatistic::Percentile999
        );
        assert_eq!(authors.calibration, Calibration::FirstSamples);
        assert_eq!(authors.finetune_batches, FinetuneBatches::FixedDropLast);
        assert_eq!(authors.if_flow_value, IfFlowValue::Count);
        assert!(authors.off_by_one && !corrected.off_by_one);
        assert_eq!(authors.head_bias, HeadBias::Authors);
        assert_eq!(
            (authors.train_selection, authors.finetune_selection),
            (Split::Test, Split::Test)
        );
        assert_eq!(
            (corrected.train_selection, corrected.finetune_selection),
            (Split::Validation, Split::Validation)
        );
        // Every field differs between the two modes: no departure is forgotten.
        let differ = [
            corrected.energy_unit != authors.energy_unit,
            corrected.mac_convention != authors.mac_convention,
            corrected.connection_wise_statistic != authors.connection_wise_statistic,
            corrected.calibration != authors.calibration,
            corrected.finetune_batches != authors.finetune_batches,
            corrected.if_flow_value != authors.if_flow_value,
            corrected.off_by_one != authors.off_by_one,
            corrected.head_bias != authors.head_bias,
            corrected.train_selection != authors.train_selection,
            corrected.finetune_selection != authors.finetune_selection,
        ];
        assert_eq!(differ, [true; 10]);

        let overridden = config("fidelity: authors\nconvert:\n  authors_off_by_one: false\n");
        assert!(!overridden.choices().off_by_one);
        assert_eq!(overridden.choices().head_bias, HeadBias::Authors);
    }

    #[test]
    fn one_departure_alone_switches_only_that_one() {
        for departure in Departure::ALL {
            let text = format!("fidelity: authors:{}\n", departure.name());
            let one = config(&text);
            assert_eq!(one.fidelity, Fidelity::AuthorsOnly(departure));
            let switched = Departure::ALL
                .into_iter()
                .filter(|d| one.fidelity.is_authors(*d))
                .count();
            assert_eq!(switched, 1, "{departure:?}");
            // The departure's own field is the one that changes.
            let mut resolved = one.clone();
            resolved.resolve();
            let mut corrected = config("");
            corrected.resolve();
            let changed: Vec<String> = diff(&resolved, &corrected);
            assert_eq!(
                changed,
                vec![departure.field().to_string(), "fidelity".into()],
                "{departure:?}"
            );
        }
    }

    /// The dotted paths whose values differ between two configs.
    fn diff(a: &ExperimentConfig, b: &ExperimentConfig) -> Vec<String> {
        fn walk(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
            match (a, b) {
                (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                    for (key, value) in x {
                        let path = if at.is_empty() {
                            key.clone()
                        } else {
                            format!("{at}.{key}")
                        };
                        walk(value, &y[key], &path, out);
                    }
                }
                _ if a != b => out.push(at.to_string()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(
            &serde_json::to_value(a).expect("json"),
            &serde_json::to_value(b).expect("json"),
            "",
            &mut out,
        );
        out.sort_by_key(|p| p == "fidelity");
        out
    }

    #[test]
    fn a_wrong_fidelity_lists_the_allowed_values() {
        let message = crate::config::parse(
            "name: t\nfidelity: authors:typo\ndata:\n  denoising: {}\n",
            Path::new("f.yaml"),
        )
        .expect_err("unknown departure")
        .to_string();
        assert!(
            message.contains("corrected") && message.contains("off_by_one"),
            "{message}"
        );
    }
}
