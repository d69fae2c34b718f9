//! The results store: one tidy table for everything evaluated, one row per
//! (network, split, image or `all`, T, layer, metric), saved as Parquet and CSV so that pandas,
//! polars or a spreadsheet read it without this tool.
//!
//! A run writes its rows to `store/<shard>/results.{parquet,csv}` under the results folder;
//! [`merge`] joins every shard there into `results.{parquet,csv}`, refusing two shards that
//! disagree about the same row. Whole-network rows have an empty `layer`; per-layer rows (firing
//! rate, spikes, normalization factor) name it.
//!
//! Every table is written with a `SHA256SUMS` file beside it (the format `sha256sum -c` reads),
//! and read back only if it matches; every value read must lie in its metric's domain
//! ([`crate::domain`]). A damaged table is an error naming the file, never a table in a report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::checksum::sha256_file;
use crate::{Error, Result};

/// Which network a row describes: every column that identifies it.
#[derive(Debug, Clone, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct ModelId {
    /// Config `name`.
    pub experiment: String,
    /// Sweep point label (`base` without a sweep).
    pub point: String,
    /// Dataset name, e.g. `embedded-gray`.
    pub dataset: String,
    /// `denoising` or `segmentation`.
    pub task: String,
    /// Noise level (denoising).
    pub sigma: Option<f64>,
    /// `ann`, `converted` or `finetuned`.
    pub model: String,
    /// `if`, `multi_threshold` or `burst` (spiking networks).
    pub neuron: Option<String>,
    /// `zero` or `subtract` (IF).
    pub reset: Option<String>,
    /// `layer_wise`, `connection_wise`, ... (spiking networks).
    pub normalization: Option<String>,
    /// `max` or `p99.9` (spiking networks).
    pub statistic: Option<String>,
    /// The thresholds, largest first, e.g. `2,1,0.5,0.25` (IF: its one threshold).
    pub ladder: Option<String>,
    /// T the network was fine-tuned for.
    pub finetune_time_steps: Option<u32>,
    /// Config seed.
    pub seed: u64,
}

/// One measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// The network.
    pub id: ModelId,
    /// `train`, `validation` or `test`.
    pub split: String,
    /// Image name, or `all` for the split-level value.
    pub image: String,
    /// Time steps simulated (spiking networks).
    pub time_steps: Option<u32>,
    /// Layer or site (`relu3`, `conv3`), or `None` for the whole network.
    pub layer: Option<String>,
    /// `psnr`, `f1`, `spikes_paper`, `firing_rate`, `factor`, ...
    pub metric: String,
    /// The value.
    pub value: f64,
}

/// Column names, in file order.
pub const COLUMNS: [&str; 19] = [
    "experiment",
    "point",
    "dataset",
    "task",
    "sigma",
    "model",
    "neuron",
    "reset",
    "normalization",
    "statistic",
    "ladder",
    "finetune_time_steps",
    "seed",
    "split",
    "image",
    "time_steps",
    "layer",
    "metric",
    "value",
];

/// The rows as a polars table with [`COLUMNS`].
pub fn to_frame(rows: &[ResultRow]) -> Result<DataFrame> {
    let text = |name: &str, f: &dyn Fn(&ResultRow) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let optional_text = |name: &str, f: &dyn Fn(&ResultRow) -> Option<String>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let optional_u32 = |name: &str, f: &dyn Fn(&ResultRow) -> Option<u32>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let columns = vec![
        text("experiment", &|r| r.id.experiment.clone()),
        text("point", &|r| r.id.point.clone()),
        text("dataset", &|r| r.id.dataset.clone()),
        text("task", &|r| r.id.task.clone()),
        Column::new(
            "sigma".into(),
            rows.iter().map(|r| r.id.sigma).collect::<Vec<_>>(),
        ),
        text("model", &|r| r.id.model.clone()),
        optional_text("neuron", &|r| r.id.neuron.clone()),
        optional_text("reset", &|r| r.id.reset.clone()),
        optional_text("normalization", &|r| r.id.normalization.clone()),
        optional_text("statistic", &|r| r.id.statistic.clone()),
        optional_text("ladder", &|r| r.id.ladder.clone()),
        optional_u32("finetune_time_steps", &|r| r.id.finetune_time_steps),
        Column::new(
            "seed".into(),
            rows.iter().map(|r| r.id.seed).collect::<Vec<_>>(),
        ),
        text("split", &|r| r.split.clone()),
        text("image", &|r| r.image.clone()),
        optional_u32("time_steps", &|r| r.time_steps),
        optional_text("layer", &|r| r.layer.clone()),
        text("metric", &|r| r.metric.clone()),
        Column::new(
            "value".into(),
            rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns).map_err(table("building"))
}

/// The rows of a table with [`COLUMNS`] (as [`to_frame`] writes it); `source` names it in errors.
pub fn from_frame(frame: &DataFrame, source: &Path) -> Result<Vec<ResultRow>> {
    let contents = |message: String| Error::Contents {
        path: source.to_path_buf(),
        message,
    };
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| frame.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(contents(format!(
            "missing columns {missing:?}; a results table has {COLUMNS:?}"
        )));
    }
    let context = format!("reading {}", source.display());
    let strings = |name: &str| -> Result<Vec<Option<String>>> {
        let column = frame.column(name).map_err(table(&context))?;
        let column = column.cast(&DataType::String).map_err(table(&context))?;
        Ok(column
            .str()
            .map_err(table(&context))?
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    };
    let numbers = |name: &str| -> Result<Vec<Option<f64>>> {
        let column = frame.column(name).map_err(table(&context))?;
        let column = column.cast(&DataType::Float64).map_err(table(&context))?;
        Ok(column.f64().map_err(table(&context))?.iter().collect())
    };
    let required = |name: &str, values: Vec<Option<String>>| -> Result<Vec<String>> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| contents(format!("row {i}: `{name}` is empty"))))
            .collect()
    };
    let [
        experiment,
        point,
        dataset,
        task,
        model,
        split,
        image,
        metric,
    ] = [
        "experiment",
        "point",
        "dataset",
        "task",
        "model",
        "split",
        "image",
        "metric",
    ]
    .map(|name| strings(name).and_then(|v| required(name, v)));
    let (experiment, point, dataset, task, model) = (experiment?, point?, dataset?, task?, model?);
    let (split, image, metric) = (split?, image?, metric?);
    let [neuron, reset, normalization, statistic, ladder, layer] = [
        "neuron",
        "reset",
        "normalization",
        "statistic",
        "ladder",
        "layer",
    ]
    .map(strings);
    let (neuron, reset, normalization, statistic, ladder, layer) =
        (neuron?, reset?, normalization?, statistic?, ladder?, layer?);
    let [sigma, finetune_time_steps, seed, time_steps, value] = [
        "sigma",
        "finetune_time_steps",
        "seed",
        "time_steps",
        "value",
    ]
    .map(numbers);
    let (sigma, finetune_time_steps, seed, time_steps, value) =
        (sigma?, finetune_time_steps?, seed?, time_steps?, value?);
    (0..frame.height())
        .map(|i| {
            Ok(ResultRow {
                id: ModelId {
                    experiment: experiment[i].clone(),
                    point: point[i].clone(),
                    dataset: dataset[i].clone(),
                    task: task[i].clone(),
                    sigma: sigma[i],
                    model: model[i].clone(),
                    neuron: neuron[i].clone(),
                    reset: reset[i].clone(),
                    normalization: normalization[i].clone(),
                    statistic: statistic[i].clone(),
                    ladder: ladder[i].clone(),
                    finetune_time_steps: finetune_time_steps[i].map(|t| t as u32),
                    seed: seed[i].ok_or_else(|| contents(format!("row {i}: `seed` is empty")))?
                        as u64,
                },
                split: split[i].clone(),
                image: image[i].clone(),
                time_steps: time_steps[i].map(|t| t as u32),
                layer: layer[i].clone(),
                metric: metric[i].clone(),
                value: value[i].unwrap_or(f64::NAN),
            })
        })
        .collect()
}

/// The checksum file beside every table [`write`] writes.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// Write `rows` as `<stem>.parquet` and `<stem>.csv`, atomically, then their hashes into
/// `SHA256SUMS` beside them.
pub fn write(rows: &[ResultRow], stem: &Path) -> Result<[PathBuf; 2]> {
    let mut frame = to_frame(rows)?;
    let parquet = stem.with_extension("parquet");
    let csv = stem.with_extension("csv");
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(&mut frame)
        .map_err(table(&format!("writing {}", parquet.display())))?;
    write_atomic(&parquet, &bytes)?;
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .include_header(true)
        .finish(&mut frame)
        .map_err(table(&format!("writing {}", csv.display())))?;
    write_atomic(&csv, &bytes)?;
    let mut sums = String::new();
    for path in [&parquet, &csv] {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        sums.push_str(&format!("{}  {name}\n", sha256_file(path)?));
    }
    let folder = stem.parent().unwrap_or(Path::new("."));
    write_atomic(&folder.join(CHECKSUMS), sums.as_bytes())?;
    Ok([parquet, csv])
}

/// Read a Parquet results table after checking it (and the CSV written with it) against the
/// `SHA256SUMS` beside it; every value must lie in its metric's domain.
pub fn read(path: &Path) -> Result<Vec<ResultRow>> {
    verify_checksums(path)?;
    let file = std::fs::File::open(path).map_err(Error::io("opening", path))?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(table(&format!("reading {}", path.display())))?;
    let rows = from_frame(&frame, path)?;
    for (i, row) in rows.iter().enumerate() {
        if let Some(violation) = crate::domain::violation(&row.metric, row.value) {
            return Err(Error::Contents {
                path: path.to_path_buf(),
                message: format!(
                    "row {} ({} {}, image {}, split {}{}): {violation}",
                    i + 1,
                    row.id.model,
                    row.id.point,
                    row.image,
                    row.split,
                    row.time_steps
                        .map(|t| format!(", T={t}"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    Ok(rows)
}

/// Check the tables named in the `SHA256SUMS` beside `table` (which must be among them).
fn verify_checksums(table: &Path) -> Result<()> {
    let folder = table.parent().unwrap_or(Path::new("."));
    let sums_path = folder.join(CHECKSUMS);
    let damaged = |path: &Path, reason: String| Error::Damaged {
        path: path.to_path_buf(),
        reason: format!(
            "{reason}; rerun `reproduce` with this config (for a shard, with its --shard): it \
             writes the table again from the cached evaluations"
        ),
    };
    let sums = std::fs::read_to_string(&sums_path).map_err(|_| {
        damaged(
            table,
            format!(
                "{} is missing, so the table cannot be verified",
                sums_path.display()
            ),
        )
    })?;
    let mut listed = false;
    for line in sums.lines() {
        let Some((expected, name)) = line.split_once("  ") else {
            return Err(damaged(&sums_path, format!("malformed line `{line}`")));
        };
        let path = folder.join(name);
        listed |= path == table;
        let actual = sha256_file(&path).map_err(|_| damaged(&path, "missing".into()))?;
        if actual != expected {
            return Err(damaged(
                &path,
                format!("sha256 is {actual}, but {expected} was recorded when it was written"),
            ));
        }
    }
    if !listed {
        return Err(damaged(
            table,
            format!("not listed in {}", sums_path.display()),
        ));
    }
    Ok(())
}

/// The folder a run writes its shard table to: `<dir>/store/<shard>/`.
pub fn shard_dir(results_dir: &Path, shard: &str) -> PathBuf {
    results_dir.join("store").join(shard)
}

/// Every shard table under `<results_dir>/store/*/results.parquet`, joined, in a stable order.
///
/// Rows that two shards both hold must agree (a point run twice gives the same numbers on the
/// same backend); a disagreement is an error naming both shards.
pub fn merge(results_dir: &Path) -> Result<Vec<ResultRow>> {
    let store = results_dir.join("store");
    if !store.is_dir() {
        return Err(Error::Contents {
            path: results_dir.to_path_buf(),
            message: "no results yet; run `reproduce` with this config first".into(),
        });
    }
    let entries =
        std::fs::read_dir(&store).map_err(Error::io("listing shard tables in", &store))?;
    let mut shards: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path().join("results.parquet")))
        .filter(|p| p.exists())
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(Error::Contents {
            path: store,
            message: "no shard tables (store/*/results.parquet); run `reproduce` first".into(),
        });
    }
    // Keyed by everything but the value, in the shards' order of appearance.
    let mut merged: BTreeMap<String, (usize, ResultRow, PathBuf)> = BTreeMap::new();
    let mut order = 0;
    for shard in &shards {
        for row in read(shard)? {
            let mut key_row = row.clone();
            key_row.value = 0.0;
            let key = serde_json::to_string(&key_row).expect("rows serialize");
            match merged.get(&key) {
                Some((_, existing, other)) if !same_value(existing.value, row.value) => {
                    return Err(Error::Contents {
                        path: shard.clone(),
                        message: format!(
                            "{} = {} here but {} in {}: the shards were run with different code or settings; rerun one of them",
                            row.metric,
                            row.value,
                            existing.value,
                            other.display()
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    merged.insert(key, (order, row, shard.clone()));
                    order += 1;
                }
            }
        }
    }
    let mut rows: Vec<(usize, ResultRow)> = merged.into_values().map(|(i, r, _)| (i, r)).collect();
    rows.sort_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A `map_err` closure wrapping a polars error with what was being done.
pub(crate) fn table(context: &str) -> impl FnOnce(PolarsError) -> Error + '_ {
    move |source| Error::Table {
        context: context.to_string(),
        source,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A few rows covering every optional column empty and filled.
    pub(crate) fn sample_rows() -> Vec<ResultRow> {
        let ann = ModelId {
            experiment: "quick".into(),
            point: "denoise".into(),
            dataset: "embedded-gray".into(),
            task: "denoising".into(),
            sigma: Some(25.0),
            model: "ann".into(),
            neuron: None,
            reset: None,
            normalization: None,
            statistic: None,
            ladder: None,
            finetune_time_steps: None,
            seed: 0,
        };
        let snn = ModelId {
            model: "converted".into(),
            neuron: Some("if".into()),
            reset: Some("zero".into()),
            normalization: Some("layer_wise".into()),
            statistic: Some("p99.9".into()),
            ladder: Some("1".into()),
            ..ann.clone()
        };
        let row = |id: &ModelId, t: Option<u32>, layer: Option<&str>, metric: &str, value: f64| {
            ResultRow {
                id: id.clone(),
                split: "test".into(),
                image: "camera".into(),
                time_steps: t,
                layer: layer.map(str::to_string),
                metric: metric.into(),
                value,
            }
        };
        vec![
            row(&ann, None, None, "psnr", 27.125),
            row(&snn, Some(8), None, "psnr", 22.5),
            row(&snn, Some(8), Some("relu1"), "firing_rate", 0.0625),
        ]
    }

    #[test]
    fn rows_survive_parquet_and_the_frame_has_the_documented_columns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rows = sample_rows();
        let [parquet, csv] = write(&rows, &dir.path().join("results")).expect("write");
        assert_eq!(read(&parquet).expect("read"), rows);
        let header = std::fs::read_to_string(csv).expect("csv");
        assert_eq!(header.lines().next(), Some(COLUMNS.join(",").as_str()));
        assert_eq!(header.lines().count(), rows.len() + 1);
    }

    #[test]
    fn merge_joins_shards_and_refuses_disagreeing_ones() {
        let dir = tempfile::tempdir().expect("temp dir");
        let rows = sample_rows();
        write(
            &rows[..2],
            &shard_dir(dir.path(), "shard-1-of-2").join("results"),
        )
        .expect("write");
        // The second shard repeats one row (shared upstream work) and adds one.
        write(
            &rows[1..],
            &shard_dir(dir.path(), "shard-2-of-2").join("results"),
        )
        .expect("write");
        assert_eq!(merge(dir.path()).expect("merge"), rows);
        let mut changed = rows[1..].to_vec();
        changed[0].value += 0.5;
        write(
            &changed,
            &shard_dir(dir.path(), "shard-2-of-2").join("results"),
        )
        .expect("write");
        let message = merge(dir.path()).expect_err("disagreement").to_string();
        assert!(
            message.contains("shard-1-of-2") && message.contains("22.5"),
            "{message}"
        );
    }

    #[test]
    fn an_empty_store_says_how_to_fill_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("store")).expect("mkdir");
        let message = merge(dir.path()).expect_err("empty").to_string();
        assert!(message.contains("reproduce"), "{message}");
    }
}
