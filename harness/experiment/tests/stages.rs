//! The stages on tiny networks trained for real (seconds each), through the public API a binary
//! uses: plan a config, then train → convert → finetune. Conversion invariants (a converted
//! network approaches its ANN as T grows), reuse, refusal of stale artifacts, and fine-tuning
//! that lowers its loss.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use burn::tensor::Device;
use spiking_unet_core::convert::{Normalization, ScaleFactors};
use spiking_unet_core::neuron::{Neuron, Reset};
use spiking_unet_core::simulate::simulate;
use spiking_unet_experiment::Error;
use spiking_unet_experiment::config::{Split, parse};
use spiking_unet_experiment::manifest::{AnnManifest, Manifest, load_ann, load_snn};
use spiking_unet_experiment::plan::{Plan, PointPlan};
use spiking_unet_experiment::sweep::Shard;
use spiking_unet_experiment::task::images_to_tensor;
use spiking_unet_experiment::{artifacts, convert, finetune, train};

/// burn seeds its random stream per backend, not per thread: tests that initialise networks in
/// parallel would draw from each other's stream. They take this lock.
static SEEDED_STREAM: Mutex<()> = Mutex::new(());

fn seeded_stream() -> MutexGuard<'static, ()> {
    SEEDED_STREAM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one point of a config without a sweep.
fn point(text: &str) -> PointPlan {
    let path = Path::new("tiny.yaml");
    let config = parse(text, path).expect("valid tiny config");
    let mut plan = Plan::new(config, path, Shard::ALL).expect("plans");
    plan.points.remove(0)
}

/// A tiny network trained for real (a few seconds), in a temporary runs folder.
fn trained_tiny(runs: &Path, data: &str, extra: &str) -> PointPlan {
    let point = point(&format!(
        "name: tiny\nseed: 5\nruns_dir: {}\ndata:\n{data}\
         model:\n  width: 8\n  depth: 2\ntrain:\n  epochs: 2\n{extra}",
        runs.display()
    ));
    train::train(&point).expect("tiny training runs");
    point
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

/// Relative L2 error between the SNN read-out and the ANN output on the first test image, at
/// each T, for a tiny trained network converted with max / IF-subtract / connection-wise.
fn conversion_errors(data: &str, steps: &[usize]) -> Vec<f64> {
    let _stream = seeded_stream();
    let runs = tempfile::tempdir().expect("temporary folder");
    let neuron = "convert:\n  statistic: max\n  normalizations: [connection_wise]\n  neurons: [{kind: if, reset: subtract}]\n";
    let point = trained_tiny(runs.path(), data, neuron);
    let outcomes = convert::convert(&point).expect("conversion runs");
    assert_eq!(outcomes.len(), 1);
    let device = Device::flex();
    let (manifest, snn) = load_snn(&outcomes[0].dir, &device).expect("SNN loads");
    assert_eq!(manifest.spec.normalization, Normalization::ConnectionWise);
    assert_eq!(
        manifest.neuron,
        Neuron::If {
            threshold: 1.0,
            reset: Reset::Subtract
        }
    );

    let (_, ann) = load_ann(&point.ann().dir, &device).expect("ANN loads");
    let item = &point.task().expect("task").eval_items(Split::Test)[0];
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
    // The denoiser's read-out is a small residual, so the rate-coding error (one spike in T per
    // neuron and layer) is large relative to it; it still has to fall as 1/T.
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
    let _stream = seeded_stream();
    let runs = tempfile::tempdir().expect("temporary folder");
    let point = trained_tiny(
        runs.path(),
        DENOISING,
        "convert:\n  normalizations: [layer_wise, connection_wise]\n",
    );
    let outcomes = convert::convert(&point).expect("conversion runs");
    assert_eq!(outcomes.len(), 2);
    let factors: ScaleFactors =
        artifacts::read_sealed(&outcomes[1].dir.scale_factors()).expect("readable factors");
    assert_eq!(
        factors.layers.len(),
        4 * 2 + 3 + 2,
        "11 convs and 2 transposed convs at depth 2"
    );
    // Converting again reuses; damaged ANN weights refuse to load, and so does an SNN whose
    // ANN now holds other weights.
    assert!(
        convert::convert(&point)
            .expect("rerun")
            .iter()
            .all(|o| o.reused)
    );
    let ann_model = point.ann().dir.model();
    let mut bytes = std::fs::read(&ann_model).expect("ANN weights");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ann_model, bytes).expect("writable");
    let err = load_ann(&point.ann().dir, &Device::flex()).expect_err("damaged weights");
    assert!(
        matches!(&err, Error::Damaged { path, reason } if *path == ann_model && reason.contains("was recorded")),
        "{err}"
    );
    let ann_manifest = point.ann().dir.manifest();
    let mut manifest = AnnManifest::read(&point.ann().dir).expect("readable");
    manifest.contents.as_mut().expect("finished").weights_sha256 = "1".repeat(64);
    artifacts::write_sealed(&ann_manifest, &Manifest::Ann(manifest)).expect("writes");
    let err = load_snn(&outcomes[0].dir, &Device::flex()).expect_err("stale conversion");
    assert!(err.to_string().contains("it was retrained"), "{err}");
}

#[test]
fn one_epoch_of_fine_tuning_runs_in_seconds_and_lowers_the_training_loss() {
    let _stream = seeded_stream();
    let runs = tempfile::tempdir().expect("temporary folder");
    let point = point(&format!(
        "name: tiny\nseed: 4\nruns_dir: {}\ndata:\n  denoising:\n    patch_size: 32\n    patches_per_epoch: 32\n    eval_crop: 32\n\
         model:\n  width: 8\n  depth: 2\ntrain:\n  epochs: 3\n  batch_size: 4\n\
         finetune:\n  time_steps: 4\n  epochs: 2\n  learning_rate: 0.001\n  batch_size: 4\n",
        runs.path().display()
    ));
    train::train(&point).expect("training runs");
    convert::convert(&point).expect("conversion runs");
    let outcomes = finetune::finetune(&point).expect("fine-tuning runs");
    assert_eq!(outcomes.len(), 1);
    let curve = std::fs::read_to_string(outcomes[0].dir.training_curve()).expect("curve");
    let losses: Vec<f64> = curve
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(1)
                .expect("loss column")
                .parse()
                .expect("number")
        })
        .collect();
    assert_eq!(losses.len(), 2);
    assert!(losses[1] < losses[0], "the training loss falls: {losses:?}");
    // The result is an SNN artifact like any other.
    let (manifest, _) = load_snn(&outcomes[0].dir, &Device::flex()).expect("loads");
    assert!(manifest.finetune.and_then(|f| f.summary).is_some());
    assert!(
        finetune::finetune(&point)
            .expect("rerun")
            .iter()
            .all(|o| o.reused)
    );
}
