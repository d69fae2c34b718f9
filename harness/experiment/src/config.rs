//! The YAML experiment schema: what a config file may say, its defaults, and the checks that run
//! before any work starts ([`load`] parses and validates in one step, so `--check` and every
//! stage reject a broken file the same way).
//!
//! Every struct rejects unknown keys. Defaults are listed on each field and in
//! `configs/example-all-fields.yaml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spiking_unet_core::convert::{Normalization, Statistic};
use spiking_unet_core::finetune::HeadBias;
use spiking_unet_core::model::{Head, UNetConfig};
use spiking_unet_core::neuron::Neuron;
use spiking_unet_data::denoising::DenoisingDataConfig;
use spiking_unet_data::segmentation::SegmentationDataConfig;
use spiking_unet_datasets::BenchmarkDataConfig;

use crate::fidelity::{
    Calibration, ConnectionWiseStatistic, EnergyUnit, Fidelity, FinetuneBatches, IfFlowValue,
    MacConvention,
};
use crate::sweep::SweepConfig;
use crate::{Error, Result};

/// The meaning of the schema; bumped whenever a field changes meaning. Reports show it.
pub const SCHEMA_VERSION: u32 = 1;

/// One experiment: a task on a dataset, a model, and how each stage runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Schema version the file was written for. Default: the current one (1).
    #[serde(default = "schema_version")]
    pub version: u32,
    /// Experiment name; names the folder under `runs_dir`. Required.
    pub name: String,
    /// Master seed of weights, patches, noise and batch order. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Compute backend: `flex` (CPU, default), or `ndarray`, `wgpu`, `cuda` when built with
    /// the cargo feature of that name.
    #[serde(default = "default_backend")]
    pub backend: String,
    /// `corrected` (default), `authors` (every departure from the authors' code switched to
    /// their behaviour) or `authors:<departure>` (only that one); see [`crate::fidelity`].
    /// Each departure's own field, when set, wins over this.
    #[serde(default)]
    pub fidelity: Fidelity,
    /// Folder holding the run artifacts, relative to the working directory. Default `runs`.
    #[serde(default = "default_runs_dir")]
    pub runs_dir: PathBuf,
    /// The task and its data; exactly one of `denoising:` or `segmentation:`. Required.
    pub data: DataConfig,
    /// U-Net size.
    #[serde(default)]
    pub model: ModelConfig,
    /// ANN training.
    #[serde(default)]
    pub train: TrainConfig,
    /// ANN → SNN conversion.
    #[serde(default)]
    pub convert: ConvertConfig,
    /// Flow-based fine-tuning.
    #[serde(default)]
    pub finetune: FinetuneConfig,
    /// Evaluation.
    #[serde(default)]
    pub evaluate: EvaluateConfig,
    /// Tables, plots and the results store of this file (shared by all its sweep points).
    #[serde(default)]
    pub report: ReportConfig,
    /// Axes to sweep (see [`crate::sweep`]). Default none: one experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepConfig>,
}

/// The task, named by its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataConfig {
    /// Gaussian denoising on the embedded images (residual learning, L1 loss, PSNR/SSIM).
    Denoising(DenoisingDataConfig),
    /// Nuclei segmentation on the embedded DSB2018 image (cross-entropy, accuracy/Jaccard/F1/mIoU).
    Segmentation(SegmentationDataConfig),
    /// One of the paper's public datasets (BSD68, CBSD68, Set12, DRIVE, ISBI 2012, CamSeq01),
    /// fetched into the local cache on first use (see `datasets --help`).
    Benchmark(BenchmarkDataConfig),
}

/// U-Net size; the channel counts and head follow from the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Channels of the first level (paper 64). Default 16, sized for CPU runs.
    pub width: usize,
    /// Pooling levels (paper 4). Default 4. Image sides must be multiples of 2^depth.
    pub depth: usize,
    /// ANN weights to import instead of training: a safetensors file or a PyTorch state dict
    /// (`.pt`/`.pth`) in the authors' naming (conv1..conv19, convtranspose1..4). Relative to
    /// the working directory. Default null (train).
    pub pretrained: Option<PathBuf>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            width: 16,
            depth: 4,
            pretrained: None,
        }
    }
}

/// The optimizers the authors' scripts offer (their `adadelta` crashes on a typo; not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8).
    Adam,
    /// Plain SGD, with `momentum` if non-zero.
    Sgd,
    /// RMSprop with PyTorch's defaults (alpha 0.99, eps 1e-8), with `momentum`.
    Rmsprop,
}

/// A data split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training images or regions.
    Train,
    /// Held-out images or regions used for model selection.
    Validation,
    /// Held-out images or regions used only for reporting.
    Test,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        })
    }
}

/// ANN training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimizer: `adam` (default), `sgd` or `rmsprop`.
    pub optimizer: Optimizer,
    /// Constant learning rate. Default 1e-3. (The authors' scripts default to 1e-6, which
    /// barely moves a network trained from scratch in a CPU-sized budget.)
    pub learning_rate: f64,
    /// Momentum for `sgd` and `rmsprop`. Default 0 (PyTorch's default).
    pub momentum: f64,
    /// Samples per optimizer step. Default 8 (the authors' default).
    pub batch_size: usize,
    /// Passes over `patches_per_epoch` training patches. Default 20.
    pub epochs: usize,
    /// Split on which the kept checkpoint is chosen: `validation` or `test`; null = as
    /// `fidelity` says (corrected: `validation`; authors: `test`, as they selected on the test
    /// set, which makes test numbers optimistic). Recorded in the manifest.
    pub selection_split: Option<Split>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: Optimizer::Adam,
            learning_rate: 1e-3,
            momentum: 0.0,
            batch_size: 8,
            epochs: 20,
            selection_split: None,
        }
    }
}

/// ANN → SNN conversion. Every (normalization, neuron) pair becomes one SNN artifact; the
/// factors of a normalization are computed once and shared by its neurons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConvertConfig {
    /// Calibration samples for the activation statistics; null = the authors' choice: 32
    /// random training patches (denoising), the first 64 training patches (segmentation).
    pub calibration_samples: Option<usize>,
    /// `max` or `{percentile: p}`. Default `{percentile: 99.9}` (the authors' "robust").
    pub statistic: Statistic,
    /// Any of `none`, `layer_wise`, `connection_wise`, `channel_wise`. Default `[connection_wise]`.
    pub normalizations: Vec<Normalization>,
    /// Neuron models, each `{kind: if, threshold: 1, reset: zero|subtract}`,
    /// `{kind: multi_threshold, ladder: [2, 1, 0.5, 0.25]}` (or `ladder: {base, ratio, count}`)
    /// or `{kind: burst, threshold: 1, max_spikes: 4}`. Default `[{kind: multi_threshold}]`.
    pub neurons: Vec<Neuron>,
    /// Reproduce the authors' connection-wise off-by-one (the last channel of each
    /// concatenated branch left unscaled); null = as `fidelity` says (corrected: false, the
    /// exact scheme).
    pub authors_off_by_one: Option<bool>,
    /// `configured` (connection-wise uses `statistic`) or `percentile_99.9` (always, as the
    /// authors' code); null = as `fidelity` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_wise_statistic: Option<ConnectionWiseStatistic>,
    /// Segmentation calibration samples: `random_windows` or `first_samples` (the authors'
    /// loader order: whole ISBI/CamSeq01 training images, each once); null = as `fidelity`
    /// says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

impl Default for ConvertConfig {
    fn default() -> Self {
        ConvertConfig {
            calibration_samples: None,
            statistic: Statistic::Percentile(99.9),
            normalizations: vec![Normalization::ConnectionWise],
            neurons: vec![Neuron::paper_mt()],
            authors_off_by_one: None,
            connection_wise_statistic: None,
            calibration: None,
        }
    }
}

/// Flow-based fine-tuning of converted networks (authors-code §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneConfig {
    /// Fine-tune the converted variants whose normalization is listed here. Default
    /// `[connection_wise]`; `[]` disables fine-tuning.
    pub normalizations: Vec<Normalization>,
    /// ... and whose neuron is listed here. Default `[{kind: multi_threshold}]` (the paper's).
    pub neurons: Vec<Neuron>,
    /// Time steps simulated in each training step (the T the network is tuned for). Default 8.
    pub time_steps: usize,
    /// Passes over the training patches. Default 5 (the authors: 100).
    pub epochs: usize,
    /// Constant learning rate. Default 1e-4 (the authors: 1e-6, with 100 epochs on GPUs).
    pub learning_rate: f64,
    /// `adam` (default), `sgd` or `rmsprop`.
    pub optimizer: Optimizer,
    /// Momentum for `sgd` / `rmsprop`. Default 0.
    pub momentum: f64,
    /// Samples per step. Default 8 (the authors').
    pub batch_size: usize,
    /// `validation` or `test` (the authors' test-set selection); null = as `fidelity` says.
    pub selection_split: Option<Split>,
    /// `consistent`: the head bias enters the training output once per step, as in the
    /// read-out; `authors`: once in total, as the authors' training pass does; null = as
    /// `fidelity` says.
    pub head_bias: Option<HeadBias>,
    /// `fresh` (new patches every epoch, every batch kept) or `fixed_drop_last` (one fixed
    /// patch set, last partial batch dropped, as the authors); null = as `fidelity` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches: Option<FinetuneBatches>,
    /// An IF neuron's flow: `emitted` (θ·s) or `count` (s, as the authors' train state);
    /// null = as `fidelity` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub if_flow_value: Option<IfFlowValue>,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            normalizations: vec![Normalization::ConnectionWise],
            neurons: vec![Neuron::paper_mt()],
            time_steps: 8,
            epochs: 5,
            learning_rate: 1e-4,
            optimizer: Optimizer::Adam,
            momentum: 0.0,
            batch_size: 8,
            selection_split: None,
            head_bias: None,
            batches: None,
            if_flow_value: None,
        }
    }
}

/// Evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluateConfig {
    /// Splits to evaluate. Default `[test]`.
    pub splits: Vec<Split>,
    /// Time steps at which converted networks are scored, all from one simulation run up to
    /// the largest. Default [4, 8, 16, 32, 64, 128].
    pub time_steps: Vec<usize>,
    /// Time steps each layer processes per batched call; null = as many as fit in
    /// `memory_budget_mib`, at most 8 (1 = the step-by-step reference path). Default null.
    pub time_chunk: Option<usize>,
    /// Memory for one chunk's activations, in MiB: it sets `time_chunk` when that is null, and
    /// splits an image's tiles into groups simulated one after the other when one time step of
    /// all of them would not fit (on a GPU, the device memory the simulation may take).
    /// Default 512.
    pub memory_budget_mib: u64,
    /// What runs the spiking networks (evaluation and fine-tuning's simulation) and the
    /// ANN's evaluation: `engine` (the CPU inference engine), `reference` (burn, on the
    /// config's backend) or `auto` (the engine on the CPU backends flex and ndarray, burn on
    /// GPU backends). Default `auto`.
    pub simulator: Simulator,
}

/// The simulator choice of `evaluate.simulator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Simulator {
    /// The engine on CPU backends, burn on GPU backends.
    Auto,
    /// The CPU inference engine (`spiking_unet_core::engine`), whatever the backend.
    Engine,
    /// burn's reference path on the config's backend.
    Reference,
}

impl Simulator {
    /// True when the engine runs networks of a config on `backend`.
    pub fn uses_engine(self, backend: &str) -> bool {
        match self {
            Simulator::Auto => matches!(backend, "flex" | "ndarray"),
            Simulator::Engine => true,
            Simulator::Reference => false,
        }
    }
}

impl Default for EvaluateConfig {
    fn default() -> Self {
        EvaluateConfig {
            splits: vec![Split::Test],
            time_steps: vec![4, 8, 16, 32, 64, 128],
            time_chunk: None,
            memory_budget_mib: 512,
            simulator: Simulator::Auto,
        }
    }
}

/// Where results go and what the tables show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Folder of the results store, tables and plots. Default null = `results/<name>`.
    pub dir: Option<PathBuf>,
    /// Time steps the comparison tables show. Default null = every evaluated T.
    pub time_steps: Option<Vec<usize>>,
    /// Level of the Shapiro–Wilk normality check that picks the t-test (p > alpha) or the
    /// Mann–Whitney U test. Default 0.05 (the authors').
    pub alpha: f64,
    /// A Markdown file (such as results/README.md) whose block between
    /// `<!-- report:NAME:begin -->` and `<!-- report:NAME:end -->` (NAME: the results folder's
    /// name) gets the main table and figures. Default null.
    pub summary_file: Option<PathBuf>,
    /// What the tables count spikes and energy per: `per_image` (whole images) or `per_input`
    /// (network inputs, as the authors); null = as `fidelity` says. Both are in the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_unit: Option<EnergyUnit>,
    /// How the tables count the ANN's MACs: `performed` or `thop` (the authors'); null = as
    /// `fidelity` says. Both are in the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_convention: Option<MacConvention>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            dir: None,
            time_steps: None,
            alpha: 0.05,
            summary_file: None,
            energy_unit: None,
            mac_convention: None,
        }
    }
}

impl ExperimentConfig {
    /// The T at which networks are evaluated: `evaluate.time_steps`, plus the fine-tuning T
    /// when fine-tuning is on (so converted and fine-tuned networks meet at that T).
    pub fn evaluation_steps(&self) -> Vec<usize> {
        let mut steps = self.evaluate.time_steps.clone();
        if !self.finetune.normalizations.is_empty() && !self.finetune.neurons.is_empty() {
            steps.push(self.finetune.time_steps);
        }
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// The results folder: `report.dir`, or `results/<name>`.
    pub fn results_dir(&self) -> PathBuf {
        self.report
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(&self.name))
    }
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

fn default_backend() -> String {
    spiking_unet_core::device::DEFAULT_BACKEND.to_string()
}

fn default_runs_dir() -> PathBuf {
    PathBuf::from("runs")
}

/// The largest config file read: configs are a few kilobytes, and a bound keeps a wrong path
/// (a log, a dataset, `/dev/zero`) from being read until memory runs out.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The largest T (`evaluate.time_steps`, `finetune.time_steps`) accepted without
/// `--allow-large-t`: ten times the paper's largest (1000), so that a typo such as
/// `4000000000` does not start a simulation that would never end.
pub const MAX_TIME_STEPS: usize = 10_000;

/// Read, parse and validate a config file: a regular file of at most [`MAX_CONFIG_BYTES`].
pub fn load(path: &Path) -> Result<ExperimentConfig> {
    let text = read_text(path)?;
    parse(&text, path)
}

/// The text of a config file, refusing what is not a regular file of at most
/// [`MAX_CONFIG_BYTES`].
pub fn read_text(path: &Path) -> Result<String> {
    let refuse = |message: String| Error::ConfigSyntax {
        path: path.to_path_buf(),
        message,
    };
    let metadata = std::fs::metadata(path).map_err(Error::io("reading config", path))?;
    if !metadata.is_file() {
        return Err(refuse(
            "not a regular file (a folder, device or pipe); give a YAML config file".into(),
        ));
    }
    // Read at most one byte past the bound: the size in the metadata can be stale or zero.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(Error::io("reading config", path))?,
            MAX_CONFIG_BYTES + 1,
        ),
        &mut bytes,
    )
    .map_err(Error::io("reading config", path))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(refuse(format!(
            "larger than {MAX_CONFIG_BYTES} bytes; a config is a few kilobytes of YAML: is this \
             the right file?"
        )));
    }
    String::from_utf8(bytes).map_err(|err| refuse(format!("not UTF-8 text: {err}")))
}

/// Parse and validate config text; `path` is only used in messages, which name the line of
/// the offending field.
pub fn parse(text: &str, path: &Path) -> Result<ExperimentConfig> {
    let config: ExperimentConfig =
        serde_saphyr::from_str(text).map_err(|err| Error::ConfigSyntax {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
    config.validate(path).map_err(|err| with_line(err, text))?;
    Ok(config)
}

/// `err` with the line of its field in `text` filled in, when it is a [`Error::ConfigValue`]
/// whose field the text spells out.
pub fn with_line(err: Error, text: &str) -> Error {
    match err {
        Error::ConfigValue {
            path,
            line: None,
            field,
            message,
        } => Error::ConfigValue {
            line: field_line(text, &field),
            path,
            field,
            message,
        },
        other => other,
    }
}

/// [`with_line`] for an error about the config file at `path`, reading it again (errors found
/// after parsing, such as a sweep's, carry only the field).
pub fn locate(err: Error, path: &Path) -> Error {
    match read_text(path) {
        Ok(text) => with_line(err, &text),
        Err(_) => err,
    }
}

/// The 1-based line of the dotted `field` (`train.batch_size`, `convert.neurons[1]`,
/// `sweep.grid.convert.neurons`) in YAML `text`, or of its deepest ancestor present there.
/// Keys are matched by indentation, so this reads block-style YAML as configs are written; a
/// key may itself contain dots (a sweep axis).
pub fn field_line(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let segments: Vec<&str> = field
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .collect();
    let mut found = None;
    let (mut from, mut parent_indent) = (0, -1i64);
    let mut k = 0;
    'segments: while k < segments.len() {
        // The longest run of segments that is one key here (`convert.neurons` under `grid`).
        for end in (k + 1..=segments.len()).rev() {
            let key = segments[k..end].join(".");
            for (i, line) in lines.iter().enumerate().skip(from) {
                let content = line.trim_start();
                if content.is_empty() || content.starts_with('#') {
                    continue;
                }
                let indent = (line.len() - content.len()) as i64;
                if indent <= parent_indent {
                    break;
                }
                let bare = content.trim_start_matches("- ");
                if indent > parent_indent
                    && (bare.starts_with(&format!("{key}:"))
                        || bare.starts_with(&format!("\"{key}\":")))
                {
                    found = Some(i + 1);
                    (from, parent_indent) = (i + 1, indent);
                    k = end;
                    continue 'segments;
                }
            }
        }
        break;
    }
    found
}

/// Apply `--set key.path=value` overrides (in order) to `config`, read from `path`: each
/// replaces the value at its dotted path as an edit of the file would, typed and validated like
/// the YAML (the value is read as YAML: `8`, `layer_wise`, `[4, 8]`, `{kind: if}`). A single
/// value given for a list field becomes a one-element list, as in sweeps.
pub fn apply_overrides(
    config: ExperimentConfig,
    overrides: &[(String, String)],
    path: &Path,
) -> Result<ExperimentConfig> {
    if overrides.is_empty() {
        return Ok(config);
    }
    // The JSON round trip sorts maps by key, which would reorder a sweep's axes (and so its
    // points and shards); an override that does not touch the sweep leaves it as written.
    let sweep = config.sweep.clone();
    let touches_sweep = overrides.iter().any(|(key, _)| key.starts_with("sweep"));
    let mut value = serde_json::to_value(&config).expect("a config serializes to JSON");
    for (key, text) in overrides {
        let invalid = |message: String| Error::ConfigValue {
            path: path.to_path_buf(),
            line: None,
            field: format!("--set {key}"),
            message,
        };
        let setting: serde_json::Value = serde_saphyr::from_str(text)
            .map_err(|err| invalid(format!("`{text}` is not a YAML value: {err}")))?;
        crate::sweep::set_path(&mut value, key, setting).map_err(invalid)?;
    }
    let config: ExperimentConfig = serde_json::from_value(value).map_err(|err| {
        let keys: Vec<&str> = overrides.iter().map(|(k, _)| k.as_str()).collect();
        Error::ConfigValue {
            path: path.to_path_buf(),
            line: None,
            field: format!("--set {}", keys.join(", ")),
            message: format!("the overridden values do not make a valid config: {err}"),
        }
    })?;
    let config = if touches_sweep {
        config
    } else {
        ExperimentConfig { sweep, ..config }
    };
    config.validate(path)?;
    Ok(config)
}

impl ExperimentConfig {
    /// Semantic checks that serde cannot express; each error names the field.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |field: &str, message: String| Error::ConfigValue {
            path: path.to_path_buf(),
            line: None,
            field: field.to_string(),
            message,
        };
        if self.version != SCHEMA_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "this harness reads schema version {SCHEMA_VERSION}, the file says {}",
                    self.version
                ),
            ));
        }
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(invalid(
                "name",
                format!(
                    "must be non-empty and use only letters, digits, `-`, `_`, `.`; got {:?}",
                    self.name
                ),
            ));
        }
        spiking_unet_core::device::device(&self.backend)
            .map_err(|err| invalid("backend", err.to_string()))?;
        if self.model.width == 0 {
            return Err(invalid("model.width", "must be >= 1".into()));
        }
        if !(1..=6).contains(&self.model.depth) {
            return Err(invalid(
                "model.depth",
                format!("must be in 1..=6, got {}", self.model.depth),
            ));
        }
        let train = &self.train;
        if !(train.learning_rate > 0.0 && train.learning_rate.is_finite()) {
            return Err(invalid(
                "train.learning_rate",
                format!("must be a positive number, got {}", train.learning_rate),
            ));
        }
        if !(0.0..1.0).contains(&train.momentum) {
            return Err(invalid(
                "train.momentum",
                format!("must be in [0, 1), got {}", train.momentum),
            ));
        }
        if train.batch_size == 0 {
            return Err(invalid("train.batch_size", "must be >= 1".into()));
        }
        if train.epochs == 0 {
            return Err(invalid("train.epochs", "must be >= 1".into()));
        }
        if train.selection_split == Some(Split::Train) {
            return Err(invalid(
                "train.selection_split",
                "allowed values: validation, test".into(),
            ));
        }
        if self.evaluate.splits.is_empty() {
            return Err(invalid(
                "evaluate.splits",
                "list at least one of: train, validation, test".into(),
            ));
        }
        let convert = &self.convert;
        if convert.calibration_samples == Some(0) {
            return Err(invalid(
                "convert.calibration_samples",
                "must be >= 1, or null for the authors' default".into(),
            ));
        }
        if let Statistic::Percentile(p) = convert.statistic
            && !(p > 0.0 && p <= 100.0)
        {
            return Err(invalid(
                "convert.statistic",
                format!("percentile must be in (0, 100], got {p}"),
            ));
        }
        if convert.normalizations.is_empty() {
            return Err(invalid(
                "convert.normalizations",
                "list at least one of: none, layer_wise, connection_wise, channel_wise".into(),
            ));
        }
        if convert.neurons.is_empty() {
            return Err(invalid(
                "convert.neurons",
                "list at least one neuron, e.g. {kind: multi_threshold}".into(),
            ));
        }
        for (i, neuron) in convert.neurons.iter().enumerate() {
            neuron
                .validate()
                .map_err(|err| invalid(&format!("convert.neurons[{i}]"), err.to_string()))?;
        }
        let finetune = &self.finetune;
        if !(finetune.learning_rate > 0.0 && finetune.learning_rate.is_finite()) {
            return Err(invalid(
                "finetune.learning_rate",
                format!("must be a positive number, got {}", finetune.learning_rate),
            ));
        }
        if !(0.0..1.0).contains(&finetune.momentum) {
            return Err(invalid(
                "finetune.momentum",
                format!("must be in [0, 1), got {}", finetune.momentum),
            ));
        }
        for (field, value) in [
            ("time_steps", finetune.time_steps),
            ("epochs", finetune.epochs),
            ("batch_size", finetune.batch_size),
        ] {
            if value == 0 {
                return Err(invalid(&format!("finetune.{field}"), "must be >= 1".into()));
            }
        }
        if finetune.selection_split == Some(Split::Train) {
            return Err(invalid(
                "finetune.selection_split",
                "allowed values: validation, test".into(),
            ));
        }
        let steps = &self.evaluate.time_steps;
        if steps.is_empty() || steps[0] == 0 || steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(
                "evaluate.time_steps",
                format!("must be positive and strictly increasing, got {steps:?}"),
            ));
        }
        if self.evaluate.time_chunk == Some(0) {
            return Err(invalid(
                "evaluate.time_chunk",
                "must be >= 1, or null for automatic".into(),
            ));
        }
        if !(self.report.alpha > 0.0 && self.report.alpha < 1.0) {
            return Err(invalid(
                "report.alpha",
                format!("must be in (0, 1), got {}", self.report.alpha),
            ));
        }
        let multiple = 1 << self.model.depth;
        match &self.data {
            DataConfig::Denoising(data) => data.validate(multiple),
            DataConfig::Segmentation(data) => data.validate(multiple),
            DataConfig::Benchmark(data) => {
                data.validate(multiple)
                    .map_err(|err| spiking_unet_data::Error::InvalidConfig {
                        field: "data.benchmark".into(),
                        message: err.to_string(),
                    })
            }
        }
        .map_err(|err| invalid("data", err.to_string()))?;
        Ok(())
    }

    /// The U-Net this experiment trains, with channels and head taken from the task.
    pub fn unet(&self, in_channels: usize, out_channels: usize) -> UNetConfig {
        let head = match &self.data {
            DataConfig::Denoising(_) => Head::Residual,
            DataConfig::Segmentation(_) => Head::Logits,
            DataConfig::Benchmark(data) if data.is_denoising() => Head::Residual,
            DataConfig::Benchmark(_) => Head::Logits,
        };
        UNetConfig {
            in_channels,
            out_channels,
            width: self.model.width,
            depth: self.model.depth,
            head,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: t\ndata:\n  denoising: {}\n";

    #[test]
    fn validation_errors_name_the_line_of_their_field() {
        let text =
            "name: t\n# a comment\ndata:\n  denoising: {}\ntrain:\n  epochs: 2\n  batch_size: 0\n";
        let err = parse(text, Path::new("c.yaml")).expect_err("batch size 0");
        assert!(
            err.to_string()
                .starts_with("c.yaml:7: field `train.batch_size`"),
            "{err}"
        );
        let sweep = "name: t\nsweep:\n  grid:\n    convert.neurons:\n      - {kind: if}\n";
        assert_eq!(field_line(sweep, "sweep.grid.convert.neurons"), Some(4));
        assert_eq!(
            field_line(sweep, "sweep.zip"),
            Some(2),
            "the deepest ancestor"
        );
        assert_eq!(field_line(sweep, "model.width"), None);
    }

    #[test]
    fn only_regular_files_of_reasonable_size_are_read() {
        let err = load(Path::new("/dev/zero")).expect_err("a device");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let dir = tempfile::tempdir().expect("temporary folder");
        let err = load(dir.path()).expect_err("a folder");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let big = dir.path().join("big.yaml");
        let mut text = String::from(MINIMAL);
        while text.len() as u64 <= MAX_CONFIG_BYTES {
            text.push_str("# padding padding padding padding padding padding padding\n");
        }
        std::fs::write(&big, &text).expect("writes");
        let err = load(&big).expect_err("too large");
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn set_keeps_the_order_of_sweep_axes() {
        let text =
            format!("{MINIMAL}sweep:\n  grid:\n    seed: [1, 2]\n    model.width: [8, 16]\n");
        let config = parse(&text, Path::new("t")).expect("valid");
        let before = config.sweep.clone();
        let edited = apply_overrides(
            config,
            &[("train.epochs".into(), "2".into())],
            Path::new("t"),
        )
        .expect("valid edit");
        assert_eq!(edited.sweep, before);
        let axes: Vec<&String> = edited.sweep.as_ref().expect("sweep").grid.keys().collect();
        assert_eq!(axes, ["seed", "model.width"]);
    }

    /// Every committed config parses and validates, the GPU-sized paper configs included
    /// (validation needs no data, so this runs without the datasets).
    #[test]
    fn every_committed_config_is_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut checked = Vec::new();
        for folder in [root.clone(), root.join("paper")] {
            for entry in std::fs::read_dir(&folder).expect("configs folder") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    let config = load(&path).unwrap_or_else(|err| panic!("{err}"));
                    crate::sweep::expand(&config, &path).unwrap_or_else(|err| panic!("{err}"));
                    checked.push(path);
                }
            }
        }
        let paper = checked
            .iter()
            .filter(|p| p.parent().is_some_and(|d| d.ends_with("paper")));
        assert_eq!(paper.count(), 6, "{checked:?}");
        // Each paper config runs both modes.
        let drive = root.join("paper/drive.yaml");
        let points = crate::sweep::expand(&load(&drive).expect("valid"), &drive).expect("expands");
        let modes: Vec<String> = points
            .iter()
            .map(|p| p.config.fidelity.to_string())
            .collect();
        assert_eq!(modes, ["corrected", "authors"]);
        assert_eq!(points[1].config.choices().train_selection, Split::Test);
        assert_eq!(
            points[0].config.choices().train_selection,
            Split::Validation
        );
    }

    #[test]
    fn a_benchmark_config_names_its_fields_and_datasets() {
        let text = "name: t\ndata:\n  benchmark:\n    dataset: mnist\n";
        let message = parse(text, Path::new("b.yaml")).unwrap_err().to_string();
        assert!(
            message.contains("mnist") && message.contains("isbi2012"),
            "{message}"
        );
        let text = "name: t\ndata:\n  benchmark:\n    dataset: drive\n    patch_size: 50\n";
        let message = parse(text, Path::new("b.yaml")).unwrap_err().to_string();
        assert!(
            message.contains("data.benchmark.patch_size") && message.contains("16"),
            "{message}"
        );
        let text = "name: t\ndata:\n  benchmark:\n    dataset: drive\n";
        let config = parse(text, Path::new("b.yaml")).expect("defaults are valid");
        assert_eq!(config.unet(1, 2).head, Head::Logits);
    }

    #[test]
    fn defaults_fill_a_minimal_config() {
        let config = parse(MINIMAL, Path::new("t.yaml")).expect("minimal config is valid");
        assert_eq!(config.model, ModelConfig::default());
        assert_eq!(config.train, TrainConfig::default());
        assert_eq!(config.backend, "flex");
    }

    #[test]
    fn unknown_keys_are_rejected_with_file_line_and_allowed_fields() {
        let text = "name: t\ndata:\n  denoising: {}\ntrain:\n  epochz: 3\n";
        let err = parse(text, Path::new("configs/x.yaml")).expect_err("typo must be an error");
        let message = err.to_string();
        assert!(message.starts_with("configs/x.yaml"), "{message}");
        assert!(message.contains("epochz"), "{message}");
        assert!(
            message.contains("epochs"),
            "allowed fields are listed: {message}"
        );
        assert!(message.contains('5'), "line 5 is named: {message}");
    }

    #[test]
    fn unknown_enum_values_list_the_allowed_ones() {
        let text = "name: t\ndata:\n  denoising: {}\ntrain:\n  optimizer: adadelta\n";
        let message = parse(text, Path::new("x.yaml"))
            .expect_err("unknown optimizer")
            .to_string();
        for allowed in ["adam", "sgd", "rmsprop"] {
            assert!(message.contains(allowed), "{message}");
        }
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let text = "name: t\ndata:\n  denoising: {}\ntrain:\n  batch_size: 0\n";
        let message = parse(text, Path::new("x.yaml"))
            .expect_err("batch 0")
            .to_string();
        assert!(message.contains("train.batch_size"), "{message}");
        let text = "name: t\nbackend: tpu\ndata:\n  denoising: {}\n";
        let message = parse(text, Path::new("x.yaml"))
            .expect_err("no tpu")
            .to_string();
        assert!(
            message.contains("backend") && message.contains("flex"),
            "{message}"
        );
    }

    #[test]
    fn the_shipped_configs_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        for (name, points) in [
            ("quickstart.yaml", 2),
            ("quickstart-denoise.yaml", 1),
            ("quickstart-segment.yaml", 1),
            ("sweep-ladders.yaml", 18),
            ("example-all-fields.yaml", 1),
            ("departures.yaml", 24),
        ] {
            let path = root.join(name);
            let config = load(&path).unwrap_or_else(|err| panic!("{name} should be valid: {err}"));
            let expanded = crate::sweep::expand(&config, &path)
                .unwrap_or_else(|err| panic!("{name}'s sweep should expand: {err}"));
            assert_eq!(expanded.len(), points, "{name}");
        }
    }
}
