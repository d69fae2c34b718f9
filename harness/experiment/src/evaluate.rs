//! The `evaluate` stage for ANN artifacts: run the trained U-Net on held-out images and write
//! per-image and split-level metrics as one tidy CSV (`split,image,metric,value`; the split-level
//! rows have image `all`).

use std::path::Path;

use burn::tensor::Device;
use spiking_unet_core::model::UNet;

use crate::artifacts::{self, Manifest, files};
use crate::config::Split;
use crate::task::{ImageScore, Task, images_to_tensor};
use crate::{Error, Result};

/// One line of an evaluation table.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Split evaluated.
    pub split: Split,
    /// Image name, or `all` for the split-level value.
    pub image: String,
    /// Metric name (`psnr`, `ssim`, `f1`, ...).
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// Run `model` on every image of `split` and score it.
///
/// Returns the per-image scores and the split-level metrics.
pub fn score_split(
    model: &UNet,
    task: &Task,
    split: Split,
    device: &Device,
) -> Result<(Vec<ImageScore>, Vec<(String, f64)>)> {
    let mut scores = Vec::new();
    for item in task.eval_items(split) {
        let input = images_to_tensor(std::iter::once(&item.input), device);
        model.check_input(input.dims())?;
        let output = model
            .forward(input)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|err| Error::Artifact {
                path: Default::default(),
                message: format!("reading the network output: {err:?}"),
            })?;
        scores.push(task.score(&item, &output)?);
    }
    let aggregate = task.aggregate(&scores)?;
    Ok((scores, aggregate))
}

/// Evaluate the ANN in artifact folder `dir` on `splits`, write `evaluation.csv` there, and
/// return its rows.
pub fn evaluate_ann(dir: &Path, splits: &[Split]) -> Result<Vec<MetricRow>> {
    let manifest = Manifest::read(dir)?;
    if manifest.training.is_none() {
        return Err(Error::Artifact {
            path: dir.to_path_buf(),
            message: "training has not finished; rerun `train` with the same config to resume it"
                .into(),
        });
    }
    let device = spiking_unet_core::device::device(&manifest.config.backend)?;
    let task = Task::build(&manifest.config)?;
    let model = artifacts::load_module(manifest.unet.init(&device)?, &dir.join(files::MODEL))?;
    let mut rows = Vec::new();
    for &split in splits {
        let (scores, aggregate) = score_split(&model, &task, split, &device)?;
        for score in &scores {
            for (metric, value) in &score.values {
                rows.push(MetricRow {
                    split,
                    image: score.image.clone(),
                    metric: metric.clone(),
                    value: *value,
                });
            }
        }
        for (metric, value) in aggregate {
            rows.push(MetricRow {
                split,
                image: "all".into(),
                metric,
                value,
            });
        }
    }
    artifacts::write_atomic(&dir.join(files::EVALUATION), to_csv(&rows).as_bytes())?;
    Ok(rows)
}

/// The rows as CSV text with a header.
pub fn to_csv(rows: &[MetricRow]) -> String {
    let mut text = String::from("split,image,metric,value\n");
    for row in rows {
        text.push_str(&format!(
            "{},{},{},{}\n",
            row.split, row.image, row.metric, row.value
        ));
    }
    text
}
