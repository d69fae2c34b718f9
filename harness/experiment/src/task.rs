//! The task of an experiment as the stages see it: batches as tensors, the loss, and how a
//! prediction is scored. It joins the data crate (images, labels) to the core (tensors, metrics)
//! so that the stage runners never look inside a task.

use burn::tensor::{Device, Tensor, TensorData};
use spiking_unet_core::metrics::{self, BinaryConfusion, ConfusionMatrix};
use spiking_unet_core::{loss, model::UNetConfig};
use spiking_unet_data::denoising::DenoisingTask;
use spiking_unet_data::image::{Image, LabelMap};
use spiking_unet_data::layout::EvalLayout;
use spiking_unet_data::segmentation::SegmentationTask;
use spiking_unet_datasets::{BenchmarkTask, DatasetInput, FetchSettings};

use crate::Result;
use crate::config::{DataConfig, ExperimentConfig, Split};

/// The task built from an experiment config.
pub enum Task {
    /// Gaussian denoising.
    Denoising(DenoisingTask),
    /// Nuclei segmentation.
    Segmentation(SegmentationTask),
}

/// One training batch on the training device.
pub struct Batch {
    /// `[batch, channels, h, w]` network input.
    pub input: Tensor<4>,
    /// `[batch, channels, h, w]` noise residual, or `[batch, classes, h, w]` one-hot labels.
    pub target: Tensor<4>,
}

/// How an epoch's training patches become batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sampling {
    /// Every epoch reshuffles one fixed patch set (the first epoch's) instead of drawing
    /// fresh patches.
    pub fixed_set: bool,
    /// The last batch is dropped when it is partial.
    pub drop_last: bool,
}

/// `patches` cut into batches of `batch_size`, the last partial one dropped when `sampling`
/// says so (the authors' loaders: `drop_last=True`).
fn batches<S>(
    patches: &[S],
    batch_size: usize,
    sampling: Sampling,
    batch: impl Fn(&[S]) -> Batch,
) -> Vec<Batch> {
    patches
        .chunks(batch_size)
        .filter(|chunk| !sampling.drop_last || chunk.len() == batch_size)
        .map(batch)
        .collect()
}

/// One held-out image, ready for a model.
pub struct EvalItem {
    /// Image name within the split.
    pub name: String,
    /// The input image (noisy image, or image to segment) at the truth's size (for
    /// segmentation, already padded to it).
    pub input: Image,
    /// What the prediction is scored against.
    pub truth: Truth,
    /// How the input is cut into tiles for the network and the outputs stitched back.
    pub layout: EvalLayout,
    /// Segmentation pixels forced to class 0 in the prediction (outside DRIVE's field of
    /// view): false = outside. None = none forced.
    pub field_of_view: Option<Vec<bool>>,
}

impl EvalItem {
    /// The tiles of the input as one `[tiles, channels, h, w]` batch.
    pub fn network_input(&self, device: &Device) -> Tensor<4> {
        images_to_tensor(self.layout.tiles_of(&self.input).iter(), device)
    }

    /// Number of tiles (the batch size of [`EvalItem::network_input`]).
    pub fn tiles(&self) -> usize {
        self.layout.tiles.len()
    }

    /// The network output of all tiles stitched into one `[channels, h, w]` output.
    pub fn recompose(&self, output: &[f32]) -> Vec<f32> {
        let (height, width) = self.layout.tile_size;
        let channels = output.len() / (self.tiles() * height * width);
        self.layout.recompose(output, channels)
    }
}

/// The reference of an evaluation image.
pub enum Truth {
    /// The clean image (the input is its noisy version).
    Clean(Image),
    /// The class map.
    Labels(LabelMap),
}

/// `(metric, value)` pairs, in a fixed order per task.
pub type Metrics = Vec<(String, f64)>;

/// The value of `name` in `metrics`, or −∞ when absent (so it never wins a selection).
pub fn metric_value(metrics: &Metrics, name: &str) -> f64 {
    metrics
        .iter()
        .find(|(n, _)| n == name)
        .map_or(f64::NEG_INFINITY, |(_, v)| *v)
}

/// Metrics of one image: `(metric, value)` pairs.
pub struct ImageScore {
    /// Image name.
    pub image: String,
    /// Metric values.
    pub values: Vec<(String, f64)>,
    /// For segmentation, the pixel counts that split-level metrics pool.
    pub confusion: Option<ConfusionMatrix>,
}

impl Task {
    /// Build the task of `config` (deterministic from its seed), with where each benchmark
    /// dataset came from and how far it was verified (none for the embedded images).
    pub fn build(config: &ExperimentConfig) -> Result<(Task, Vec<DatasetInput>)> {
        let multiple = 1 << config.model.depth;
        Ok(match &config.data {
            DataConfig::Denoising(data) => (
                Task::Denoising(DenoisingTask::new(data, config.seed, multiple)?),
                Vec::new(),
            ),
            DataConfig::Segmentation(data) => (
                Task::Segmentation(SegmentationTask::new(data, config.seed, multiple)?),
                Vec::new(),
            ),
            DataConfig::Benchmark(data) => {
                let loaded =
                    data.load_with_inputs(config.seed, multiple, &FetchSettings::from_env())?;
                let task = match loaded.task {
                    BenchmarkTask::Denoising(task) => Task::Denoising(task),
                    BenchmarkTask::Segmentation(task) => Task::Segmentation(task),
                };
                (task, loaded.inputs)
            }
        })
    }

    /// The U-Net for this task under `config`'s model size.
    pub fn unet(&self, config: &ExperimentConfig) -> UNetConfig {
        match self {
            Task::Denoising(task) => config.unet(task.channels(), task.channels()),
            Task::Segmentation(task) => config.unet(task.channels(), task.num_classes()),
        }
    }

    /// `(file, sha256)` of every dataset file the task read.
    pub fn sources(&self) -> Vec<(String, String)> {
        match self {
            Task::Denoising(task) => task.sources(),
            Task::Segmentation(task) => task.sources(),
        }
    }

    /// The metric that model selection maximises.
    pub fn selection_metric(&self) -> &'static str {
        match self {
            Task::Denoising(_) => "psnr",
            Task::Segmentation(task) if task.num_classes() == 2 => "f1",
            Task::Segmentation(_) => "miou",
        }
    }

    /// The training batches of one epoch, in a deterministic order.
    pub fn training_batches(
        &self,
        epoch: usize,
        batch_size: usize,
        sampling: Sampling,
        device: &Device,
    ) -> Vec<Batch> {
        match self {
            Task::Denoising(task) => {
                let patches = task.training_patches_with(epoch, sampling.fixed_set);
                batches(&patches, batch_size, sampling, |chunk| Batch {
                    input: images_to_tensor(chunk.iter().map(|s| &s.noisy), device),
                    target: images_to_tensor(chunk.iter().map(|s| &s.residual), device),
                })
            }
            Task::Segmentation(task) => {
                let patches = task.training_patches_with(epoch, sampling.fixed_set);
                batches(&patches, batch_size, sampling, |chunk| Batch {
                    input: images_to_tensor(chunk.iter().map(|s| &s.image), device),
                    target: one_hot(chunk.iter().map(|s| &s.labels), task.num_classes(), device),
                })
            }
        }
    }

    /// The training loss of a network output on a batch.
    pub fn loss(&self, output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
        match self {
            Task::Denoising(_) => loss::l1(output, target),
            Task::Segmentation(_) => loss::cross_entropy(output, target),
        }
    }

    /// The held-out images of a split (none for `train`: training patches are not scored).
    pub fn eval_items(&self, split: Split) -> Vec<EvalItem> {
        match self {
            Task::Denoising(task) => pick(split, task.validation(), task.test())
                .iter()
                .map(|image| EvalItem {
                    name: image.name.clone(),
                    input: image.noisy.clone(),
                    truth: Truth::Clean(image.clean.clone()),
                    layout: image.layout.clone(),
                    field_of_view: None,
                })
                .collect(),
            Task::Segmentation(task) => pick(split, task.validation(), task.test())
                .iter()
                .map(|image| EvalItem {
                    name: image.name.clone(),
                    input: image.image.clone(),
                    truth: Truth::Labels(image.labels.clone()),
                    layout: image.layout.clone(),
                    field_of_view: image.field_of_view.clone(),
                })
                .collect(),
        }
    }

    /// Score one network output (`[1, c, h, w]` values, row-major) against its item.
    ///
    /// Denoising: PSNR and SSIM of clip(noisy − output) against the clean image, and of the
    /// noisy input itself (`psnr_noisy`, `ssim_noisy`) as the floor to beat. Segmentation: the
    /// argmax class map's accuracy, Jaccard and F1 (class 1 positive) and mIoU.
    pub fn score(&self, item: &EvalItem, output: &[f32]) -> Result<ImageScore> {
        let values;
        let mut confusion = None;
        match &item.truth {
            Truth::Clean(clean) => {
                let noisy = &item.input;
                let estimate = metrics::denoised_estimate(&noisy.data, output)?;
                let noisy_clipped: Vec<f32> =
                    noisy.data.iter().map(|v| v.clamp(0.0, 1.0)).collect();
                let (c, h, w) = (clean.channels, clean.height, clean.width);
                values = vec![
                    ("psnr".to_string(), metrics::psnr(&estimate, &clean.data)?),
                    (
                        "ssim".to_string(),
                        metrics::ssim(&estimate, &clean.data, c, h, w)?,
                    ),
                    (
                        "psnr_noisy".to_string(),
                        metrics::psnr(&noisy_clipped, &clean.data)?,
                    ),
                    (
                        "ssim_noisy".to_string(),
                        metrics::ssim(&noisy_clipped, &clean.data, c, h, w)?,
                    ),
                ];
            }
            Truth::Labels(labels) => {
                let classes = output.len() / labels.labels.len();
                let mut predicted = argmax_classes(output, classes, labels.labels.len());
                if let Some(inside) = &item.field_of_view {
                    // The authors' kill_border: outside the field of view the prediction is
                    // background, like the truth there.
                    for (class, &keep) in predicted.iter_mut().zip(inside) {
                        if !keep {
                            *class = 0;
                        }
                    }
                }
                let mut matrix = ConfusionMatrix::new(classes)?;
                matrix.add_labels(&predicted, &labels.labels)?;
                values = segmentation_values(&matrix)?;
                confusion = Some(matrix);
            }
        }
        Ok(ImageScore {
            image: item.name.clone(),
            values,
            confusion,
        })
    }

    /// Split-level metrics from per-image scores, as the authors aggregate them: the mean of
    /// per-image PSNR/SSIM for denoising; metrics of all pixels pooled for segmentation.
    pub fn aggregate(&self, scores: &[ImageScore]) -> Result<Metrics> {
        match self {
            Task::Denoising(_) => {
                let Some(first) = scores.first() else {
                    return Ok(Vec::new());
                };
                first
                    .values
                    .iter()
                    .map(|(name, _)| {
                        let per_image: Vec<f64> = scores
                            .iter()
                            .filter_map(|s| {
                                s.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
                            })
                            .collect();
                        Ok((name.clone(), metrics::mean(&per_image)?))
                    })
                    .collect()
            }
            Task::Segmentation(_) => {
                let mut pooled: Option<ConfusionMatrix> = None;
                for matrix in scores.iter().filter_map(|s| s.confusion.as_ref()) {
                    match &mut pooled {
                        Some(total) => total.merge(matrix)?,
                        None => pooled = Some(matrix.clone()),
                    }
                }
                pooled.map_or(Ok(Vec::new()), |m| segmentation_values(&m))
            }
        }
    }
}

/// A picture for qualitative figures: gray levels 0..=255, row-major.
pub type Picture = spiking_unet_report::plot::GrayImage;

/// The mean over channels of an image in [0, 1] (clipped), as gray levels.
fn picture_of_image(image: &Image) -> Picture {
    let plane = image.height * image.width;
    let pixels = (0..plane)
        .map(|p| {
            let sum: f32 = (0..image.channels).map(|c| image.data[c * plane + p]).sum();
            ((sum / image.channels as f32).clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect();
    Picture {
        width: image.width,
        height: image.height,
        pixels,
    }
}

/// A class map with classes spread over the gray range.
fn picture_of_classes(labels: &[u8], height: usize, width: usize, classes: usize) -> Picture {
    let step = 255 / classes.saturating_sub(1).max(1);
    Picture {
        width,
        height,
        pixels: labels.iter().map(|&k| (k as usize * step) as u8).collect(),
    }
}

impl Task {
    /// The input and target of an item as pictures (noisy and clean images; image and classes).
    pub fn item_pictures(&self, item: &EvalItem) -> (Picture, Picture) {
        let target = match &item.truth {
            Truth::Clean(clean) => picture_of_image(clean),
            Truth::Labels(map) => {
                picture_of_classes(&map.labels, map.height, map.width, self.classes())
            }
        };
        (picture_of_image(&item.input), target)
    }

    /// What a network output shows: the denoised image, or the predicted classes.
    pub fn output_picture(&self, item: &EvalItem, output: &[f32]) -> Result<Picture> {
        let input = &item.input;
        Ok(match &item.truth {
            Truth::Clean(_) => {
                let estimate = metrics::denoised_estimate(&input.data, output)?;
                picture_of_image(&Image::new(
                    input.channels,
                    input.height,
                    input.width,
                    estimate,
                )?)
            }
            Truth::Labels(map) => {
                let classes = output.len() / map.labels.len();
                let predicted = argmax_classes(output, classes, map.labels.len());
                picture_of_classes(&predicted, map.height, map.width, classes)
            }
        })
    }

    fn classes(&self) -> usize {
        match self {
            Task::Denoising(task) => task.channels(),
            Task::Segmentation(task) => task.num_classes(),
        }
    }
}

/// The images of `split` among a task's validation and test images.
fn pick<'a, T>(split: Split, validation: &'a [T], test: &'a [T]) -> &'a [T] {
    match split {
        Split::Validation => validation,
        Split::Test => test,
        Split::Train => &[],
    }
}

/// Binary metrics (class 1 positive; for three classes, class 1 = interior) and mIoU.
fn segmentation_values(matrix: &ConfusionMatrix) -> Result<Metrics> {
    let binary: BinaryConfusion = matrix.binary(1)?;
    Ok(vec![
        ("accuracy".to_string(), matrix.pixel_accuracy()),
        ("jaccard".to_string(), binary.jaccard()),
        ("f1".to_string(), binary.f1()),
        ("miou".to_string(), matrix.mean_iou()),
    ])
}

/// Per-pixel argmax over `classes` channel planes of `pixels` pixels each.
fn argmax_classes(output: &[f32], classes: usize, pixels: usize) -> Vec<u8> {
    (0..pixels)
        .map(|p| {
            let mut best = 0;
            for k in 1..classes {
                // Ties go to the lower class, as numpy's argmax does.
                if output[k * pixels + p] > output[best * pixels + p] {
                    best = k;
                }
            }
            best as u8
        })
        .collect()
}

/// The values of a network output, row-major.
pub fn tensor_values(tensor: Tensor<4>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|err| crate::Error::Artifact {
            path: Default::default(),
            message: format!("reading a network output as f32: {err:?}"),
        })
}

/// Stack same-sized images into a `[n, c, h, w]` tensor.
pub fn images_to_tensor<'a>(images: impl Iterator<Item = &'a Image>, device: &Device) -> Tensor<4> {
    let mut data = Vec::new();
    let mut shape = [0, 0, 0, 0];
    for image in images {
        shape = [shape[0] + 1, image.channels, image.height, image.width];
        data.extend_from_slice(&image.data);
    }
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// One-hot `[n, classes, h, w]` encoding of class maps.
fn one_hot<'a>(
    maps: impl Iterator<Item = &'a LabelMap>,
    classes: usize,
    device: &Device,
) -> Tensor<4> {
    let mut data = Vec::new();
    let mut shape = [0, classes, 0, 0];
    for map in maps {
        shape = [shape[0] + 1, classes, map.height, map.width];
        for k in 0..classes {
            data.extend(
                map.labels
                    .iter()
                    .map(|&label| if label as usize == k { 1.0f32 } else { 0.0 }),
            );
        }
    }
    Tensor::from_data(TensorData::new(data, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_picks_the_largest_logit_and_the_lower_class_on_ties() {
        // Two classes over three pixels: planes [a0 a1 a2] then [b0 b1 b2].
        let output = [0.0, 2.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(argmax_classes(&output, 2, 3), vec![1, 0, 0]);
    }

    #[test]
    fn the_authors_batches_drop_the_partial_one_and_reuse_one_patch_set() {
        let config = crate::config::parse(
            "name: t\ndata:\n  segmentation:\n    patches_per_epoch: 10\n",
            std::path::Path::new("t.yaml"),
        )
        .expect("valid");
        let (task, _) = Task::build(&config).expect("embedded data");
        let device = Device::flex();
        let sizes = |sampling| -> Vec<usize> {
            task.training_batches(1, 4, sampling, &device)
                .iter()
                .map(|b| b.input.dims()[0])
                .collect()
        };
        assert_eq!(sizes(Sampling::default()), [4, 4, 2]);
        let authors = Sampling {
            fixed_set: true,
            drop_last: true,
        };
        assert_eq!(sizes(authors), [4, 4]);
        // The fixed set: epoch 2 sees the same patches as epoch 1 (summed, order aside).
        let total = |epoch, sampling| -> f32 {
            task.training_batches(epoch, 10, sampling, &device)[0]
                .input
                .clone()
                .sum()
                .into_scalar::<f32>()
        };
        let fixed = Sampling {
            fixed_set: true,
            drop_last: false,
        };
        let (one, two) = (total(1, fixed), total(2, fixed));
        assert!((one - two).abs() <= 1e-3 * one.abs(), "{one} vs {two}");
        assert_ne!(total(1, Sampling::default()), total(2, Sampling::default()));
    }

    #[test]
    fn one_hot_puts_each_label_in_its_plane() {
        let device = Device::flex();
        let map = LabelMap {
            height: 1,
            width: 3,
            labels: vec![0, 2, 1],
        };
        let t = one_hot([&map].into_iter(), 3, &device);
        assert_eq!(t.dims(), [1, 3, 1, 3]);
        let v = t.into_data().try_to_vec::<f32>().expect("f32 tensor");
        assert_eq!(v, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    }
}
