//! Paper-style tables from the results store, each written as Markdown, LaTeX and CSV.
//!
//! Rows are grouped by what the paper reports separately (experiment, sweep point, dataset,
//! noise level, split). Within a group each *method* (ANN; converted or fine-tuned × normalization
//! × neuron × ladder × statistic) is one table row; seeds are averaged (mean ± std when there are
//! several). Three tables:
//! - `quality_vs_t`: the task's main metric (PSNR, F1 or mIoU) at every evaluated T;
//! - `comparison`: every quality metric, spikes and energy at the chosen T;
//! - `significance`: per image, MT against each other neuron under the same normalization
//!   (Shapiro–Wilk, then a one-sided t-test or Mann–Whitney U), as the authors' scripts do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::Result;
use crate::atomic::write_atomic;
use crate::significance;
use crate::store::{ModelId, ResultRow};

/// What the tables show.
#[derive(Debug, Clone)]
pub struct TableSettings {
    /// T of the `comparison` and `significance` tables; empty = the largest evaluated T.
    pub time_steps: Vec<u32>,
    /// Level of the normality check that picks the t-test.
    pub alpha: f64,
    /// How each sweep point (by its `point` column) counts cost; a point not listed counts
    /// per image with MACs as performed.
    pub counting: BTreeMap<String, CostCounting>,
}

impl TableSettings {
    /// The cost counting of the points of `group`.
    pub fn counting_of(&self, group: &GroupKey) -> CostCounting {
        self.counting.get(&group.point).copied().unwrap_or_default()
    }
}

/// Which of the stored cost figures the tables show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostCounting {
    /// Per network input (a tile or patch, as the authors average) rather than per image.
    pub per_input: bool,
    /// The ANN's MACs as thop counts them (the authors') rather than as performed.
    pub thop: bool,
}

impl CostCounting {
    /// `metric`, with the per-input suffix when counting per input.
    pub fn metric(&self, metric: &str) -> String {
        if self.per_input {
            format!("{metric}{}", crate::domain::PER_INPUT)
        } else {
            metric.to_string()
        }
    }

    /// The spiking networks' spike count.
    pub fn spikes(&self) -> String {
        self.metric("spikes_paper")
    }

    /// The energy of `method`: the paper's spike-and-first-layer model for spiking networks,
    /// MACs × 4.6 pJ for the ANN.
    pub fn energy(&self, method: &Method) -> String {
        match (method.is_ann(), self.thop) {
            (false, _) => self.metric("energy_paper_pj"),
            (true, false) => self.metric("energy_pj"),
            (true, true) => self.metric("energy_thop_pj"),
        }
    }

    /// `image` or `input`.
    pub fn unit(&self) -> &'static str {
        if self.per_input { "input" } else { "image" }
    }

    /// The counting in words, for captions.
    pub fn describe(&self) -> String {
        format!(
            "spikes and energy per {}{}, 0.9 pJ per spike, 4.6 pJ per MAC, ANN MACs {}",
            self.unit(),
            if self.per_input {
                " (a tile or patch the network ran on, as the authors count)"
            } else {
                " (the tiles of an image summed)"
            },
            if self.thop {
                "counted as thop does (the authors')"
            } else {
                "as performed"
            }
        )
    }
}

/// A table in display form: strings, ready for any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// One line saying what the table shows.
    pub caption: String,
    /// Column headers.
    pub header: Vec<String>,
    /// Cells, one `Vec` per row.
    pub rows: Vec<Vec<String>>,
}

/// The columns that tell groups apart: what the paper reports in separate tables.
#[derive(Debug, Clone, PartialEq, PartialOrd, Eq, Ord)]
pub struct GroupKey {
    /// Config name.
    pub experiment: String,
    /// Sweep point label (without the axes that have columns of their own).
    pub point: String,
    /// Dataset.
    pub dataset: String,
    /// Task.
    pub task: String,
    /// Noise level as text (`25`), empty for segmentation.
    pub sigma: String,
    /// Split.
    pub split: String,
}

impl GroupKey {
    /// The group of a row.
    pub fn of_row(row: &ResultRow) -> GroupKey {
        GroupKey {
            experiment: row.id.experiment.clone(),
            point: row.id.point.clone(),
            dataset: row.id.dataset.clone(),
            task: row.id.task.clone(),
            sigma: row.id.sigma.map(|s| s.to_string()).unwrap_or_default(),
            split: row.split.clone(),
        }
    }

    /// `quickstart / denoise / embedded-gray sigma 25 / test`.
    pub fn title(&self) -> String {
        let mut parts = vec![self.experiment.clone()];
        if self.point != "base" {
            parts.push(self.point.clone());
        }
        let mut data = self.dataset.clone();
        if !self.sigma.is_empty() {
            data.push_str(&format!(" sigma {}", self.sigma));
        }
        parts.push(data);
        parts.push(self.split.clone());
        parts.join(" / ")
    }

    /// A file-name-safe version of the title.
    pub fn slug(&self) -> String {
        slug(&self.title())
    }
}

/// A method: one table row. Ordered as the paper lists them (ANN, converted, fine-tuned).
#[derive(Debug, Clone, PartialEq, PartialOrd, Eq, Ord)]
pub struct Method {
    kind: u8,
    /// Paper order first (layer-wise before connection-wise), then the name.
    normalization: (u8, String),
    neuron: String,
    /// Reset to zero before reset by subtraction.
    reset: (u8, String),
    ladder: String,
    statistic: String,
    finetune_time_steps: Option<u32>,
}

impl Method {
    /// The method of a network.
    pub fn of_id(id: &ModelId) -> Method {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Method {
            kind: match id.model.as_str() {
                "ann" => 0,
                "converted" => 1,
                _ => 2,
            },
            normalization: {
                let name = text(&id.normalization);
                let rank = ["none", "layer_wise", "connection_wise", "channel_wise"]
                    .iter()
                    .position(|n| *n == name)
                    .unwrap_or(4) as u8;
                (rank, name)
            },
            // MT last within a normalization, as the paper's tables end on their method.
            neuron: match id.neuron.as_deref() {
                Some("multi_threshold") => "~mt".into(),
                other => other.unwrap_or_default().to_string(),
            },
            reset: {
                let name = text(&id.reset);
                (u8::from(name != "zero"), name)
            },
            ladder: text(&id.ladder),
            statistic: text(&id.statistic),
            finetune_time_steps: id.finetune_time_steps,
        }
    }

    /// True for the ANN row.
    pub fn is_ann(&self) -> bool {
        self.kind == 0
    }

    /// True for multi-threshold neurons.
    pub fn is_mt(&self) -> bool {
        self.neuron == "~mt"
    }

    /// `converted connection-wise MT [2,1,0.5,0.25]`; the ladder and statistic only when
    /// `detail` says they vary within the group.
    pub fn label(&self, detail: &Detail) -> String {
        if self.is_ann() {
            return "ANN".into();
        }
        let mut parts = vec![match self.finetune_time_steps {
            Some(t) => format!("fine-tuned (T={t})"),
            None => "converted".into(),
        }];
        parts.push(self.normalization.1.replace('_', "-"));
        parts.push(self.neuron_label());
        if detail.ladders && !self.ladder.is_empty() {
            parts.push(format!("[{}]", self.ladder));
        }
        if detail.statistics && !self.statistic.is_empty() {
            parts.push(self.statistic.clone());
        }
        parts.join(" ")
    }

    /// `MT`, `IF (zero)`, `burst`.
    fn neuron_label(&self) -> String {
        match self.neuron.as_str() {
            "~mt" => "MT".into(),
            "if" => format!("IF ({})", self.reset.1),
            other => other.to_string(),
        }
    }

    /// A label short enough for a legend: `layer MT`, `conn. IF (zero)`, `tuned T=3 conn. MT`.
    pub fn short_label(&self, detail: &Detail) -> String {
        if self.is_ann() {
            return "ANN".into();
        }
        let normalization = match self.normalization.1.as_str() {
            "layer_wise" => "layer".to_string(),
            "connection_wise" => "conn.".to_string(),
            "channel_wise" => "chan.".to_string(),
            other => other.to_string(),
        };
        let mut parts = Vec::new();
        if let Some(t) = self.finetune_time_steps {
            parts.push(format!("tuned T={t}"));
        }
        parts.extend([normalization, self.neuron_label()]);
        if detail.ladders && !self.ladder.is_empty() {
            parts.push(format!("[{}]", self.ladder));
        }
        if detail.statistics && !self.statistic.is_empty() {
            parts.push(self.statistic.clone());
        }
        parts.join(" ")
    }

    /// The method with its statistic blanked: the same network under a fidelity whose
    /// connection-wise statistic differs.
    pub fn without_statistic(&self) -> Method {
        Method {
            statistic: String::new(),
            ..self.clone()
        }
    }

    /// True for a converted (not fine-tuned) connection-wise MT network.
    pub fn is_converted_connection_wise_mt(&self) -> bool {
        self.kind == 1 && self.normalization.1 == "connection_wise" && self.is_mt()
    }

    /// The label with everything but the neuron: MT and IF rows that share it are compared.
    fn without_neuron(&self) -> Method {
        Method {
            neuron: String::new(),
            reset: (0, String::new()),
            ladder: String::new(),
            ..self.clone()
        }
    }
}

/// Which method attributes vary within a group and so belong in labels.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// More than one MT ladder.
    pub ladders: bool,
    /// More than one activation statistic.
    pub statistics: bool,
}

impl Detail {
    /// Look at the methods of one group.
    pub fn of<'a>(methods: impl Iterator<Item = &'a Method>) -> Detail {
        let (mut ladders, mut statistics) = (BTreeSet::new(), BTreeSet::new());
        for m in methods.filter(|m| !m.is_ann()) {
            if m.is_mt() {
                ladders.insert(m.ladder.clone());
            }
            statistics.insert(m.statistic.clone());
        }
        Detail {
            ladders: ladders.len() > 1,
            statistics: statistics.len() > 1,
        }
    }
}

/// Seed-averaged values: `(group, method, T, metric) -> values over seeds` for split-level
/// rows, and the per-image values (seeds pooled) for the significance tests.
#[derive(Debug, Default)]
pub struct Summary {
    /// Split-level values over seeds.
    pub split_level: BTreeMap<(GroupKey, Method, Option<u32>, String), Vec<f64>>,
    /// Per-image values, seeds pooled.
    pub per_image: BTreeMap<(GroupKey, Method, Option<u32>, String), Vec<f64>>,
    /// Quality metrics per group, in the order the task reports them.
    pub quality_metrics: BTreeMap<GroupKey, Vec<String>>,
}

/// Metrics that describe cost, not quality.
const COST_METRICS: [&str; 9] = [
    "spikes",
    "spikes_paper",
    "synaptic_operations",
    "energy_paper_pj",
    "energy_synops_pj",
    "energy_pj",
    "macs",
    "energy_thop_pj",
    "macs_thop",
];

/// A cost metric, counted per image or (suffix `_per_input`) per network input.
fn is_cost_metric(metric: &str) -> bool {
    COST_METRICS.contains(
        &metric
            .strip_suffix(crate::domain::PER_INPUT)
            .unwrap_or(metric),
    )
}

impl Summary {
    /// Sort whole-network rows into groups and methods.
    pub fn of(rows: &[ResultRow]) -> Summary {
        let mut summary = Summary::default();
        for row in rows.iter().filter(|r| r.layer.is_none()) {
            let group = GroupKey::of_row(row);
            let key = (
                group.clone(),
                Method::of_id(&row.id),
                row.time_steps,
                row.metric.clone(),
            );
            if row.image == "all" {
                summary.split_level.entry(key).or_default().push(row.value);
                if !is_cost_metric(&row.metric) {
                    let metrics = summary.quality_metrics.entry(group).or_default();
                    if !metrics.contains(&row.metric) {
                        metrics.push(row.metric.clone());
                    }
                }
            } else {
                summary.per_image.entry(key).or_default().push(row.value);
            }
        }
        summary
    }

    /// The groups, in order.
    pub fn groups(&self) -> Vec<GroupKey> {
        self.quality_metrics.keys().cloned().collect()
    }

    /// The methods of `group`, in paper order.
    pub fn methods(&self, group: &GroupKey) -> Vec<Method> {
        let set: BTreeSet<Method> = self
            .split_level
            .keys()
            .filter(|(g, ..)| g == group)
            .map(|(_, m, ..)| m.clone())
            .collect();
        set.into_iter().collect()
    }

    /// The T evaluated in `group`.
    pub fn time_steps(&self, group: &GroupKey) -> Vec<u32> {
        let set: BTreeSet<u32> = self
            .split_level
            .keys()
            .filter(|(g, ..)| g == group)
            .filter_map(|(_, _, t, _)| *t)
            .collect();
        set.into_iter().collect()
    }

    /// The values of `metric` for `method` at `t` (the ANN's at any `t`), over seeds.
    pub fn values(
        &self,
        group: &GroupKey,
        method: &Method,
        t: u32,
        metric: &str,
    ) -> Option<&[f64]> {
        let t = if method.is_ann() { None } else { Some(t) };
        self.split_level
            .get(&(group.clone(), method.clone(), t, metric.to_string()))
            .map(Vec::as_slice)
    }

    /// The main metric of `group`: PSNR for denoising, else F1 if reported, else mIoU.
    pub fn main_metric(&self, group: &GroupKey) -> String {
        let metrics = &self.quality_metrics[group];
        ["psnr", "f1", "miou"]
            .into_iter()
            .find(|m| metrics.iter().any(|x| x == m))
            .map_or_else(|| metrics[0].clone(), str::to_string)
    }
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// A metric's value as the tables print it: dB with 2 decimals, ratios with 4, counts with 4
/// significant digits; `± std` when there are several seeds.
pub fn format_cell(metric: &str, values: Option<&[f64]>) -> String {
    let Some(values) = values.filter(|v| !v.is_empty()) else {
        return "–".into();
    };
    let (mean, std) = mean_std(values);
    let one = |v: f64| match metric {
        "psnr" => format!("{v:.2}"),
        m if is_cost_metric(m) => format!("{v:.4e}"),
        _ => format!("{v:.4}"),
    };
    if values.len() > 1 {
        format!("{} ± {}", one(mean), one(std))
    } else {
        one(mean)
    }
}

/// The main metric of every method at every T, one table per group.
pub fn quality_vs_t(summary: &Summary) -> Vec<Table> {
    summary
        .groups()
        .into_iter()
        .map(|group| {
            let metric = summary.main_metric(&group);
            let steps = summary.time_steps(&group);
            let methods = summary.methods(&group);
            let detail = Detail::of(methods.iter());
            let mut header = vec!["method".to_string()];
            header.extend(steps.iter().map(|t| format!("T={t}")));
            let rows = methods
                .iter()
                .map(|m| {
                    let mut row = vec![m.label(&detail)];
                    row.extend(
                        steps
                            .iter()
                            .map(|&t| format_cell(&metric, summary.values(&group, m, t, &metric))),
                    );
                    row
                })
                .collect();
            Table {
                caption: format!(
                    "{}: {metric} vs time steps (the ANN has no time steps; its value repeats)",
                    group.title()
                ),
                header,
                rows,
            }
        })
        .collect()
}

/// Every quality metric, spikes and energy of every method at each chosen T.
pub fn comparison(summary: &Summary, settings: &TableSettings) -> Vec<Table> {
    let mut tables = Vec::new();
    for group in summary.groups() {
        let methods = summary.methods(&group);
        let detail = Detail::of(methods.iter());
        let quality = &summary.quality_metrics[&group];
        let counting = settings.counting_of(&group);
        let unit = counting.unit();
        for t in chosen_steps(summary, &group, settings) {
            let mut header = vec!["method".to_string()];
            header.extend(quality.iter().cloned());
            header.extend([format!("spikes / {unit}"), format!("energy / {unit} (µJ)")]);
            let rows = methods
                .iter()
                .map(|m| {
                    let mut row = vec![m.label(&detail)];
                    row.extend(
                        quality
                            .iter()
                            .map(|q| format_cell(q, summary.values(&group, m, t, q))),
                    );
                    let spikes = if m.is_ann() {
                        "–".to_string()
                    } else {
                        let metric = counting.spikes();
                        format_cell(&metric, summary.values(&group, m, t, &metric))
                    };
                    let micro_joules = summary
                        .values(&group, m, t, &counting.energy(m))
                        .map(|v| v.iter().map(|e| e * 1e-6).collect::<Vec<_>>());
                    row.push(spikes);
                    row.push(format_cell("energy_pj", micro_joules.as_deref()));
                    row
                })
                .collect();
            tables.push(Table {
                caption: format!(
                    "{}: ANN vs spiking networks at T={t} ({})",
                    group.title(),
                    counting.describe()
                ),
                header,
                rows,
            });
        }
    }
    tables
}

/// Per-image tests of MT against every other neuron with the same model kind, normalization and
/// statistic, at each chosen T, for every quality metric.
pub fn significance(summary: &Summary, settings: &TableSettings) -> Vec<Table> {
    let mut tables = Vec::new();
    for group in summary.groups() {
        let methods = summary.methods(&group);
        let detail = Detail::of(methods.iter());
        let mut rows = Vec::new();
        for t in chosen_steps(summary, &group, settings) {
            for mt in methods.iter().filter(|m| m.is_mt()) {
                let rivals = methods.iter().filter(|m| {
                    !m.is_mt() && !m.is_ann() && m.without_neuron() == mt.without_neuron()
                });
                for rival in rivals {
                    // `psnr_noisy` and the like score the input, the same for every network.
                    let metrics = summary.quality_metrics[&group]
                        .iter()
                        .filter(|m| !m.ends_with("_noisy"));
                    for metric in metrics {
                        let sample = |m: &Method| {
                            summary
                                .per_image
                                .get(&(group.clone(), m.clone(), Some(t), metric.clone()))
                                .cloned()
                                .unwrap_or_default()
                        };
                        let (a, b) = (sample(mt), sample(rival));
                        let mut row = vec![
                            format!("T={t}"),
                            mt.label(&detail),
                            rival.label(&detail),
                            metric.clone(),
                            format!("{}/{}", a.len(), b.len()),
                        ];
                        match significance::compare_greater(&a, &b, settings.alpha) {
                            Ok(c) => row.extend([
                                c.test.to_string(),
                                format!("{:.4}", c.statistic),
                                format!("{:.4}", c.p_value),
                            ]),
                            Err(err) => row.extend(["not run".into(), "–".into(), err.to_string()]),
                        }
                        rows.push(row);
                    }
                }
            }
        }
        if rows.is_empty() {
            continue;
        }
        tables.push(Table {
            caption: format!(
                "{}: is MT better per image? One-sided tests (MT greater), t-test when both samples pass Shapiro–Wilk at alpha {}, else Mann–Whitney U",
                group.title(),
                settings.alpha
            ),
            header: ["T", "MT", "other", "metric", "n (MT/other)", "test", "statistic", "p-value"]
                .map(String::from)
                .to_vec(),
            rows,
        });
    }
    tables
}

/// The T a group's comparison shows: the chosen ones it evaluated, else its largest.
fn chosen_steps(summary: &Summary, group: &GroupKey, settings: &TableSettings) -> Vec<u32> {
    let evaluated = summary.time_steps(group);
    let chosen: Vec<u32> = settings
        .time_steps
        .iter()
        .copied()
        .filter(|t| evaluated.contains(t))
        .collect();
    if chosen.is_empty() {
        evaluated.last().copied().into_iter().collect()
    } else {
        chosen
    }
}

/// Write `tables` as `<stem>.md`, `<stem>.tex` and `<stem>.csv`.
pub fn write_tables(tables: &[Table], stem: &Path) -> Result<Vec<PathBuf>> {
    let files = [
        (stem.with_extension("md"), markdown(tables)),
        (stem.with_extension("tex"), latex(tables)),
        (stem.with_extension("csv"), csv(tables)),
    ];
    for (path, text) in &files {
        write_atomic(path, text.as_bytes())?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// GitHub-flavoured Markdown, one captioned table after another.
pub fn markdown(tables: &[Table]) -> String {
    let mut text = String::new();
    for table in tables {
        text.push_str(&format!("**{}**\n\n", table.caption));
        let line = |cells: &[String]| {
            format!(
                "| {} |\n",
                cells
                    .iter()
                    .map(|c| c.replace('|', "\\|"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )
        };
        text.push_str(&line(&table.header));
        let mut rule = vec!["---".to_string()];
        rule.extend((1..table.header.len()).map(|_| "---:".to_string()));
        text.push_str(&line(&rule));
        for row in &table.rows {
            text.push_str(&line(row));
        }
        text.push('\n');
    }
    text
}

/// LaTeX `table` environments with booktabs rules. Every text from the tables (caption, headers,
/// cells) is escaped; only the markup written here is left as it is.
pub fn latex(tables: &[Table]) -> String {
    let mut text = String::from("% Generated by `report`; needs \\usepackage{booktabs}.\n");
    for table in tables {
        let columns = format!("l{}", "r".repeat(table.header.len().saturating_sub(1)));
        text.push_str(&format!("\\begin{{table}}[t]\n\\centering\n\\caption{{{}}}\n\\begin{{tabular}}{{{columns}}}\n\\toprule\n", latex_escape(&table.caption)));
        let line = |cells: &[String]| {
            format!(
                "{} \\\\\n",
                cells
                    .iter()
                    .map(|c| latex_escape(c))
                    .collect::<Vec<_>>()
                    .join(" & ")
            )
        };
        text.push_str(&line(&table.header));
        text.push_str("\\midrule\n");
        for row in &table.rows {
            text.push_str(&line(row));
        }
        text.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
    }
    text
}

/// `text` as LaTeX prints it literally: its special characters escaped, and the few non-ASCII
/// symbols the cells use (±, µ, –) written as markup that works without `inputenc` or a Unicode
/// engine. One pass over the characters, so the braces of `\textbackslash{}` are not escaped in
/// turn.
fn latex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                escaped.push('\\');
                escaped.push(c);
            }
            // `\~` and `\^` are accents, not the characters themselves.
            '~' => escaped.push_str("\\textasciitilde{}"),
            '^' => escaped.push_str("\\textasciicircum{}"),
            '±' => escaped.push_str("$\\pm$"),
            'µ' => escaped.push_str("$\\mu$"),
            '–' => escaped.push_str("--"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// One CSV with a `table` column holding the caption, so several tables share one file; fields
/// are quoted only when they hold a comma, quote or line break, and lines end in `\n`.
pub fn csv(tables: &[Table]) -> String {
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        // Tables of different widths share the file.
        .flexible(true)
        .from_writer(Vec::new());
    let written = "writing CSV to memory cannot fail";
    for table in tables {
        let header = std::iter::once("table").chain(table.header.iter().map(String::as_str));
        writer.write_record(header).expect(written);
        for row in &table.rows {
            let record =
                std::iter::once(table.caption.as_str()).chain(row.iter().map(String::as_str));
            writer.write_record(record).expect(written);
        }
    }
    let bytes = writer.into_inner().expect(written);
    String::from_utf8(bytes).expect("the CSV writer copies UTF-8 fields unchanged")
}

/// Lower-case letters, digits and dashes.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample_rows;

    fn rows_with_seeds() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for (seed, shift) in [(0u64, 0.0), (1, 1.0)] {
            for mut row in sample_rows() {
                row.id.seed = seed;
                row.image = "all".into();
                row.value += shift;
                rows.push(row);
            }
        }
        rows
    }

    #[test]
    fn seeds_become_mean_and_std_and_the_ann_repeats_across_t() {
        let summary = Summary::of(&rows_with_seeds());
        let tables = quality_vs_t(&summary);
        assert_eq!(tables.len(), 1);
        let table = &tables[0];
        assert_eq!(table.header, ["method", "T=8"]);
        // ANN: 27.125 and 28.125 -> mean 27.625, sample std 0.7071.
        assert_eq!(table.rows[0], ["ANN", "27.62 ± 0.71"]);
        assert_eq!(
            table.rows[1],
            ["converted layer-wise IF (zero)", "23.00 ± 0.71"]
        );
    }

    #[test]
    fn the_comparison_shows_the_points_unit_and_mac_convention() {
        let mut rows = sample_rows();
        for row in rows.iter_mut() {
            row.image = "all".into();
        }
        let mut cost = |model: usize, metric: &str, value: f64| {
            let mut row = rows[model].clone();
            row.metric = metric.into();
            row.value = value;
            rows.push(row);
        };
        cost(0, "energy_pj", 4.0e6);
        cost(0, "energy_pj_per_input", 1.0e6);
        cost(0, "energy_thop_pj_per_input", 1.5e6);
        cost(1, "spikes_paper", 400.0);
        cost(1, "spikes_paper_per_input", 100.0);
        cost(1, "energy_paper_pj", 8.0e6);
        cost(1, "energy_paper_pj_per_input", 2.0e6);
        let summary = Summary::of(&rows);
        let mut settings = TableSettings {
            time_steps: vec![8],
            alpha: 0.05,
            counting: BTreeMap::new(),
        };
        let per_image = &comparison(&summary, &settings)[0];
        assert_eq!(
            per_image.header[2..],
            ["spikes / image", "energy / image (µJ)"]
        );
        assert_eq!(per_image.rows[0][3], "4.0000e0");
        assert_eq!(per_image.rows[1][2..], ["4.0000e2", "8.0000e0"]);
        assert!(
            per_image.caption.contains("per image"),
            "{}",
            per_image.caption
        );
        settings.counting.insert(
            "denoise".into(),
            CostCounting {
                per_input: true,
                thop: true,
            },
        );
        let authors = &comparison(&summary, &settings)[0];
        assert_eq!(
            authors.header[2..],
            ["spikes / input", "energy / input (µJ)"]
        );
        assert_eq!(authors.rows[0][3], "1.5000e0", "thop MACs per input");
        assert_eq!(authors.rows[1][2..], ["1.0000e2", "2.0000e0"]);
        assert!(authors.caption.contains("thop"), "{}", authors.caption);
    }

    #[test]
    fn the_three_formats_carry_the_same_cells() {
        let summary = Summary::of(&rows_with_seeds());
        let tables = quality_vs_t(&summary);
        let md = markdown(&tables);
        assert!(md.contains("| ANN | 27.62 ± 0.71 |"), "{md}");
        let tex = latex(&tables);
        assert!(tex.contains("ANN & 27.62 $\\pm$ 0.71 \\\\"), "{tex}");
        let csv = csv(&tables);
        assert!(
            csv.lines()
                .nth(1)
                .expect("a row")
                .ends_with(",ANN,27.62 ± 0.71"),
            "{csv}"
        );
    }

    /// Committed tables are compared with regenerated ones text for text (`compare`), so text
    /// with nothing to quote or escape must keep coming out exactly as it always has.
    #[test]
    fn plain_tables_are_written_as_before() {
        let tables = quality_vs_t(&Summary::of(&rows_with_seeds()));
        let caption = "quick / denoise / embedded-gray sigma 25 / test: psnr vs time steps (the \
                       ANN has no time steps; its value repeats)";
        assert_eq!(
            csv(&tables),
            format!(
                "table,method,T=8\n{caption},ANN,27.62 ± 0.71\n{caption},converted layer-wise IF \
                 (zero),23.00 ± 0.71\n"
            )
        );
        assert_eq!(
            latex(&tables),
            format!(
                "% Generated by `report`; needs \\usepackage{{booktabs}}.\n\\begin{{table}}[t]\n\
                 \\centering\n\\caption{{{caption}}}\n\\begin{{tabular}}{{lr}}\n\\toprule\n\
                 method & T=8 \\\\\n\\midrule\nANN & 27.62 $\\pm$ 0.71 \\\\\nconverted \
                 layer-wise IF (zero) & 23.00 $\\pm$ 0.71 \\\\\n\\bottomrule\n\\end{{tabular}}\n\
                 \\end{{table}}\n\n"
            )
        );
    }

    #[test]
    fn latex_escapes_every_text_from_the_data_but_not_its_own_markup() {
        let tables = [Table {
            caption: "50%_T&N".into(),
            header: vec!["method".into(), "T^2 ~ {x}".into()],
            rows: vec![vec!["a$b#c\\d".into(), "1.00 ± 0.50".into()]],
        }];
        assert_eq!(
            latex(&tables),
            "% Generated by `report`; needs \\usepackage{booktabs}.\n\\begin{table}[t]\n\
             \\centering\n\\caption{50\\%\\_T\\&N}\n\\begin{tabular}{lr}\n\\toprule\n\
             method & T\\textasciicircum{}2 \\textasciitilde{} \\{x\\} \\\\\n\\midrule\n\
             a\\$b\\#c\\textbackslash{}d & 1.00 $\\pm$ 0.50 \\\\\n\\bottomrule\n\
             \\end{tabular}\n\\end{table}\n\n"
        );
    }

    #[test]
    fn csv_quotes_only_fields_that_need_it() {
        let tables = [
            Table {
                caption: "plain".into(),
                header: vec!["method".into(), "a,\"b\"".into()],
                rows: vec![
                    vec!["ANN".into(), "line\nbreak".into()],
                    vec!["x".into(), "carriage\rreturn".into()],
                ],
            },
            Table {
                caption: "second, wider".into(),
                header: vec!["method".into(), "T=4".into(), "T=8".into()],
                rows: vec![vec!["ANN".into(), "1".into(), "2".into()]],
            },
        ];
        let text = csv(&tables);
        assert_eq!(
            text,
            "table,method,\"a,\"\"b\"\"\"\nplain,ANN,\"line\nbreak\"\n\
             plain,x,\"carriage\rreturn\"\ntable,method,T=4,T=8\n\"second, wider\",ANN,1,2\n"
        );
        let read: Vec<Vec<String>> = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
            .collect();
        assert_eq!(read[0], ["table", "method", "a,\"b\""]);
        assert_eq!(read[2], ["plain", "x", "carriage\rreturn"]);
        assert_eq!(read[4], ["second, wider", "ANN", "1", "2"]);
    }

    #[test]
    fn mt_is_tested_against_if_under_the_same_normalization() {
        // Four images; MT clearly above IF.
        let mut rows = Vec::new();
        for (neuron, base) in [("if", 20.0), ("multi_threshold", 26.0)] {
            for (i, delta) in [0.1, -0.2, 0.3, 0.0, 0.15].iter().enumerate() {
                let mut row = sample_rows()[1].clone();
                row.id.neuron = Some(neuron.into());
                row.image = format!("img{i}");
                row.value = base + delta + i as f64 * 0.01;
                rows.push(row.clone());
                row.image = "all".into();
                rows.push(row);
            }
        }
        let summary = Summary::of(&rows);
        let settings = TableSettings {
            time_steps: vec![8],
            alpha: 0.05,
            counting: BTreeMap::new(),
        };
        let tables = significance(&summary, &settings);
        assert_eq!(tables.len(), 1);
        let row = &tables[0].rows[0];
        assert_eq!(
            &row[..5],
            [
                "T=8",
                "converted layer-wise MT",
                "converted layer-wise IF (zero)",
                "psnr",
                "5/5"
            ]
        );
        let p: f64 = row[7].parse().expect("a p-value");
        assert!(p < 0.01, "{row:?}");
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("quick / denoise / embedded-gray sigma 25 / test"),
            "quick-denoise-embedded-gray-sigma-25-test"
        );
    }
}
