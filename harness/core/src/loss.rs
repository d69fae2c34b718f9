//! Training losses of the paper: L1 on the noise residual (denoising) and pixel-wise
//! cross-entropy on class logits (segmentation), both averaged as PyTorch's `mean` reduction.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

/// Mean absolute error, PyTorch's `L1Loss()`.
///
/// # Shapes
/// - `prediction`, `target`: the same shape, e.g. `[batch, channels, height, width]`
pub fn l1(prediction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (prediction - target).abs().mean()
}

/// Pixel-wise cross-entropy averaged over all pixels, PyTorch's `CrossEntropyLoss()` on
/// `[batch, classes, h, w]` logits.
///
/// The target comes one-hot encoded: that keeps the loss a plain product and sum that every
/// backend differentiates, with no integer gather.
///
/// # Shapes
/// - `logits`: `[batch, classes, height, width]`
/// - `one_hot`: `[batch, classes, height, width]`, 1 at the true class, 0 elsewhere
pub fn cross_entropy(logits: Tensor<4>, one_hot: Tensor<4>) -> Tensor<1> {
    let [batch, _, height, width] = logits.dims();
    let pixels = (batch * height * width) as f64;
    let log_probabilities = log_softmax(logits, 1);
    (log_probabilities * one_hot).sum().neg().div_scalar(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn cross_entropy_matches_a_hand_computed_value() {
        let device = Device::flex();
        // One pixel, two classes, logits (0, ln 3): p = (1/4, 3/4); true class 1 → −ln(3/4).
        let logits = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 3f32.ln()], [1, 2, 1, 1]),
            &device,
        );
        let one_hot =
            Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 1.0], [1, 2, 1, 1]), &device);
        let loss = cross_entropy(logits, one_hot).into_scalar::<f32>();
        assert!((loss - (-(0.75f32).ln())).abs() < 1e-6, "{loss}");
    }

    #[test]
    fn l1_is_the_mean_absolute_difference() {
        let device = Device::flex();
        let a = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, -1.0, 0.5, 2.0], [1, 1, 2, 2]),
            &device,
        );
        let b = Tensor::<4>::zeros([1, 1, 2, 2], &device);
        assert!((l1(a, b).into_scalar::<f32>() - 1.125).abs() < 1e-7);
    }
}
