//! Evaluation metrics of the Spiking-UNet reproduction: PSNR and SSIM for
//! denoising (BSD68, CBSD68, Set12), pixel accuracy, Jaccard index and F1 for
//! binary segmentation (DRIVE, ISBI 2012), and confusion-matrix metrics with
//! mean IoU for multi-class segmentation (CamSeq01, 3-class nuclei).
//!
//! Everything follows the authors' evaluation code (SNNresearch/Spiking-UNet,
//! `snn/tools/denoising.py`, `ann_tools/utils.py`,
//! `snn/tools/segmentation/__init__.py`, `snn/simulation/__init__.py`):
//!
//! * **Denoising.** The network predicts the noise residual; the estimate is
//!   `clip(noisy - residual, 0, 1)` and is multiplied by 255 *without* uint8
//!   rounding. PSNR is `20 log10(255 / sqrt(MSE))` in float64 over all pixels
//!   and channels, `+inf` when the MSE is 0 ([`psnr`]). SSIM is the
//!   MATLAB-compatible one (Wang et al. 2004 as in the authors' `ssim`): an
//!   11x11 Gaussian window with sigma 1.5 from `cv2.getGaussianKernel`,
//!   `C1 = (0.01*255)^2`, `C2 = (0.03*255)^2`, statistics only where the
//!   window fits ("valid"; the authors run `cv2.filter2D` and crop 5 pixels on
//!   each side), and the mean of the SSIM map ([`ssim`]). The dataset score is
//!   the arithmetic mean of the per-image values ([`mean`]).
//! * **Binary segmentation.** The authors stack every test image and call
//!   scikit-learn once (`segmentation_index`), so the counts are pooled over
//!   all test pixels, not averaged per image ([`BinaryConfusion`], pooled with
//!   [`BinaryConfusion::add`]). Class 1 is the positive class.
//! * **Multi-class segmentation.** The authors' `IOUMetric` accumulates one
//!   confusion matrix over the test set (rows = truth, columns = prediction),
//!   ignores ground-truth labels outside `[0, classes)`, and reports the
//!   `nanmean` of the per-class IoU, so classes absent from both truth and
//!   prediction are skipped ([`ConfusionMatrix`]).
//!
//! Where this module differs, and why:
//!
//! * Images are channel-major `(C, H, W)` slices in `[0, 1]` units; the ×255
//!   scaling happens here in float64. The authors scale the CBSD/BSD ground
//!   truth and the Set12 estimate by 255 in float32 before the float64
//!   conversion; that changes pixels by at most one float32 ulp (about 1.5e-5
//!   at 255), far below the reported two decimals.
//! * The PSNR squared errors and the SSIM map are summed pairwise (tree) in
//!   float64. numpy also sums pairwise, but over an `(H, W, C)` array, so the
//!   grouping (and the last bits) differ. OpenCV may evaluate a 121-tap float64 `filter2D` through its DFT
//!   path, whose round-off we do not reproduce; we compute the exact valid
//!   correlation with the separable kernel. Both effects are around 1e-12.
//! * The authors' `calculate_ssim` only handles 1 or 3 channels (and, through
//!   a loop that never indexes the channel, averages the whole 3-channel map
//!   three times, which equals the mean of the per-channel SSIMs because every
//!   channel map has the same size). We take the mean of the per-channel SSIMs
//!   for any channel count.
//! * The Python code raises or yields NaN on malformed input (different
//!   shapes, empty images, images smaller than the window, labels that do not
//!   fit). Nothing here panics: every such case is a [`MetricError`].
//! * For binary metrics a zero denominator gives 0.0, which is what
//!   scikit-learn returns with its default `zero_division="warn"` (plus a
//!   warning), and what the authors' accuracy code returns for an empty
//!   confusion matrix. The authors' accuracy indexes `confusion[1, 1]` and
//!   would crash when only one class occurs; we return the plain accuracy.
//! * DRIVE: the authors zero both prediction and label outside the field of
//!   view (`kill_border`) and then count *all* pixels, so out-of-view pixels
//!   are true negatives. That masking is the caller's job; this module counts
//!   exactly the pixels it is given.

use std::fmt;

/// Side of the square Gaussian window used by SSIM (`cv2.getGaussianKernel(11, 1.5)`).
pub const SSIM_WINDOW: usize = 11;

/// Standard deviation of the SSIM Gaussian window.
pub const SSIM_SIGMA: f64 = 1.5;

/// Peak signal value: images are compared on the 0..=255 scale.
pub const PEAK: f64 = 255.0;

/// Largest number of classes a [`ConfusionMatrix`] accepts: labels are `u8`,
/// so a class index above 255 could never be observed.
pub const MAX_CLASSES: usize = 256;

/// Why a metric could not be computed from the given inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricError {
    /// Two inputs that must have one element per pixel have different lengths.
    LengthMismatch {
        /// Which pair of inputs disagreed.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A slice length does not equal `channels * height * width`.
    ShapeMismatch {
        /// Declared number of channels.
        channels: usize,
        /// Declared image height.
        height: usize,
        /// Declared image width.
        width: usize,
        /// Actual slice length.
        len: usize,
    },
    /// `channels * height * width` does not fit in `usize`.
    ShapeOverflow {
        /// Declared number of channels.
        channels: usize,
        /// Declared image height.
        height: usize,
        /// Declared image width.
        width: usize,
    },
    /// The input holds no pixels (or no values), so the mean is undefined.
    EmptyInput {
        /// Which input was empty.
        what: &'static str,
    },
    /// The image is smaller than the SSIM window in some dimension.
    ImageTooSmall {
        /// Image height.
        height: usize,
        /// Image width.
        width: usize,
        /// Minimum height and width ([`SSIM_WINDOW`]).
        min: usize,
    },
    /// A label is outside the allowed range `0..limit`.
    InvalidLabel {
        /// Which input held the label ("prediction" or "ground truth").
        what: &'static str,
        /// Position of the offending pixel in the flat slice.
        index: usize,
        /// The offending value.
        value: u8,
        /// Allowed values are `0..limit`.
        limit: usize,
    },
    /// A confusion matrix needs between 1 and [`MAX_CLASSES`] classes.
    InvalidClassCount {
        /// The requested number of classes.
        classes: usize,
    },
    /// Two confusion matrices with different class counts cannot be merged.
    ClassCountMismatch {
        /// Classes of the receiving matrix.
        left: usize,
        /// Classes of the other matrix.
        right: usize,
    },
    /// The class chosen as positive does not exist.
    ClassOutOfRange {
        /// The requested class.
        class: usize,
        /// Number of classes of the matrix.
        classes: usize,
    },
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LengthMismatch { what, left, right } => {
                write!(f, "{what}: lengths differ ({left} vs {right})")
            }
            Self::ShapeMismatch {
                channels,
                height,
                width,
                len,
            } => write!(
                f,
                "image of shape ({channels}, {height}, {width}) needs {} values, got {len}",
                channels.saturating_mul(*height).saturating_mul(*width)
            ),
            Self::ShapeOverflow {
                channels,
                height,
                width,
            } => write!(
                f,
                "image shape ({channels}, {height}, {width}) overflows usize"
            ),
            Self::EmptyInput { what } => write!(f, "{what}: input is empty"),
            Self::ImageTooSmall { height, width, min } => write!(
                f,
                "image of {height}x{width} is smaller than the {min}x{min} SSIM window"
            ),
            Self::InvalidLabel {
                what,
                index,
                value,
                limit,
            } => write!(
                f,
                "{what} label {value} at pixel {index} is outside the allowed values 0..={}",
                limit.saturating_sub(1)
            ),
            Self::InvalidClassCount { classes } => write!(
                f,
                "a confusion matrix needs 1..={MAX_CLASSES} classes, got {classes}"
            ),
            Self::ClassCountMismatch { left, right } => write!(
                f,
                "cannot merge confusion matrices with {left} and {right} classes"
            ),
            Self::ClassOutOfRange { class, classes } => {
                write!(f, "class {class} does not exist among {classes} classes")
            }
        }
    }
}

impl std::error::Error for MetricError {}

fn check_same_len(what: &'static str, left: usize, right: usize) -> Result<(), MetricError> {
    if left == right {
        Ok(())
    } else {
        Err(MetricError::LengthMismatch { what, left, right })
    }
}

/// Pairwise float64 sum: error grows with log(n) instead of n, which keeps
/// the MSE of a 480x320x3 image accurate to the last bits or so.
fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    if values.len() <= BLOCK {
        return values.iter().sum();
    }
    let (left, right) = values.split_at(values.len() / 2);
    pairwise_sum(left) + pairwise_sum(right)
}

// ---------------------------------------------------------------------------
// Denoising
// ---------------------------------------------------------------------------

/// Denoised image from the network output: `clip(noisy - residual, 0, 1)`.
///
/// The denoising U-Net predicts the noise residual, so the clean-image
/// estimate is the noisy input minus the prediction, clipped to the valid
/// range exactly as the authors do before multiplying by 255 (no rounding to
/// uint8). Layout is irrelevant as long as both slices share it. NaN stays
/// NaN, as with `numpy.clip`.
///
/// # Errors
/// [`MetricError::LengthMismatch`] when the slices differ in length.
pub fn denoised_estimate(noisy: &[f32], residual: &[f32]) -> Result<Vec<f32>, MetricError> {
    check_same_len("noisy vs residual", noisy.len(), residual.len())?;
    // The subtraction is done in f32 like the authors' float32 tensors; the
    // bounds 0 and 1 are exact in f32, so clipping here or in f64 is the same.
    Ok(noisy
        .iter()
        .zip(residual)
        .map(|(&x, &r)| (x - r).clamp(0.0, 1.0))
        .collect())
}

/// Peak signal-to-noise ratio in dB between an estimate and the clean image,
/// both in `[0, 1]` units and of the same layout.
///
/// Values are converted to float64 and multiplied by 255; the MSE runs over
/// all pixels and channels, and PSNR = `20 log10(255 / sqrt(MSE))`. Returns
/// `f64::INFINITY` when the images are identical. Neither input is clipped
/// (the caller clips the estimate with [`denoised_estimate`]).
///
/// # Errors
/// [`MetricError::LengthMismatch`] for different lengths,
/// [`MetricError::EmptyInput`] for empty images (numpy would give NaN).
pub fn psnr(estimate: &[f32], clean: &[f32]) -> Result<f64, MetricError> {
    check_same_len("estimate vs clean", estimate.len(), clean.len())?;
    if estimate.is_empty() {
        return Err(MetricError::EmptyInput { what: "psnr" });
    }
    let squared: Vec<f64> = estimate
        .iter()
        .zip(clean)
        .map(|(&e, &c)| {
            let d = f64::from(e) * PEAK - f64::from(c) * PEAK;
            d * d
        })
        .collect();
    let mse = pairwise_sum(&squared) / squared.len() as f64;
    if mse == 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(20.0 * (PEAK / mse.sqrt()).log10())
}

/// `cv2.getGaussianKernel(11, 1.5)` as float64, reproducing OpenCV's
/// `getGaussianKernelBitExact` order of operations: the tail values are
/// summed outside-in, doubled, plus the centre 1, and every value is scaled
/// by the reciprocal of that sum (OpenCV multiplies, it does not divide).
fn gaussian_kernel() -> [f64; SSIM_WINDOW] {
    const HALF: usize = SSIM_WINDOW / 2;
    let scale = -0.5 / (SSIM_SIGMA * SSIM_SIGMA);
    let mut tail = [0.0_f64; HALF];
    let mut sum = 0.0;
    for (i, t) in tail.iter_mut().enumerate() {
        let d = (HALF - i) as f64;
        *t = (d * d * scale).exp();
        sum += *t;
    }
    let sum = sum * 2.0 + 1.0;
    let inv = 1.0 / sum;
    let mut kernel = [0.0_f64; SSIM_WINDOW];
    for (i, &t) in tail.iter().enumerate() {
        kernel[i] = t * inv;
        kernel[SSIM_WINDOW - 1 - i] = t * inv;
    }
    kernel[HALF] = inv;
    kernel
}

/// Mean SSIM of one channel (row-major `height * width`, values on the 0..255
/// scale) over the valid region.
fn ssim_channel(a: &[f64], b: &[f64], height: usize, width: usize) -> f64 {
    let g = gaussian_kernel();
    let c1 = (0.01 * PEAK) * (0.01 * PEAK);
    let c2 = (0.03 * PEAK) * (0.03 * PEAK);
    let out_w = width - (SSIM_WINDOW - 1);
    let out_h = height - (SSIM_WINDOW - 1);

    // Horizontal pass of the separable window over the five images the
    // authors filter: img1, img2, img1², img2², img1·img2. Squares are formed
    // before weighting, as in `filter2D(img1**2)`.
    let mut rows = vec![[0.0_f64; 5]; height * out_w];
    for y in 0..height {
        let ra = &a[y * width..(y + 1) * width];
        let rb = &b[y * width..(y + 1) * width];
        for x in 0..out_w {
            let mut s = [0.0_f64; 5];
            for (k, &w) in g.iter().enumerate() {
                let p = ra[x + k];
                let q = rb[x + k];
                s[0] += w * p;
                s[1] += w * q;
                s[2] += w * (p * p);
                s[3] += w * (q * q);
                s[4] += w * (p * q);
            }
            rows[y * out_w + x] = s;
        }
    }

    // Vertical pass, then the SSIM formula per output pixel.
    let mut map = Vec::with_capacity(out_h * out_w);
    for y in 0..out_h {
        for x in 0..out_w {
            let mut s = [0.0_f64; 5];
            for (k, &w) in g.iter().enumerate() {
                let r = &rows[(y + k) * out_w + x];
                for (acc, &v) in s.iter_mut().zip(r) {
                    *acc += w * v;
                }
            }
            let [mu1, mu2, e11, e22, e12] = s;
            let mu1_sq = mu1 * mu1;
            let mu2_sq = mu2 * mu2;
            let mu1_mu2 = mu1 * mu2;
            let sigma1_sq = e11 - mu1_sq;
            let sigma2_sq = e22 - mu2_sq;
            let sigma12 = e12 - mu1_mu2;
            map.push(
                ((2.0 * mu1_mu2 + c1) * (2.0 * sigma12 + c2))
                    / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2)),
            );
        }
    }
    pairwise_sum(&map) / map.len() as f64
}

/// Structural similarity (MATLAB/OpenCV-style, as the authors' `ssim`)
/// between an estimate and the clean image, both `(C, H, W)` channel-major in
/// `[0, 1]` units.
///
/// Per channel, on float64 values ×255: Gaussian window 11x11 with sigma 1.5,
/// `C1 = (0.01*255)^2`, `C2 = (0.03*255)^2`, local statistics only where the
/// window fits (output `(H-10) x (W-10)`), and the mean of the SSIM map. For
/// several channels the result is the mean of the per-channel values.
///
/// # Errors
/// [`MetricError::ShapeOverflow`] or [`MetricError::ShapeMismatch`] when the
/// slices do not hold `channels * height * width` values,
/// [`MetricError::EmptyInput`] for zero channels, and
/// [`MetricError::ImageTooSmall`] when height or width is below 11.
pub fn ssim(
    estimate: &[f32],
    clean: &[f32],
    channels: usize,
    height: usize,
    width: usize,
) -> Result<f64, MetricError> {
    let plane = height
        .checked_mul(width)
        .ok_or(MetricError::ShapeOverflow {
            channels,
            height,
            width,
        })?;
    let total = plane
        .checked_mul(channels)
        .ok_or(MetricError::ShapeOverflow {
            channels,
            height,
            width,
        })?;
    for len in [estimate.len(), clean.len()] {
        if len != total {
            return Err(MetricError::ShapeMismatch {
                channels,
                height,
                width,
                len,
            });
        }
    }
    if channels == 0 {
        return Err(MetricError::EmptyInput { what: "ssim" });
    }
    if height < SSIM_WINDOW || width < SSIM_WINDOW {
        return Err(MetricError::ImageTooSmall {
            height,
            width,
            min: SSIM_WINDOW,
        });
    }
    let mut sum = 0.0;
    for (e, c) in estimate.chunks_exact(plane).zip(clean.chunks_exact(plane)) {
        let a: Vec<f64> = e.iter().map(|&v| f64::from(v) * PEAK).collect();
        let b: Vec<f64> = c.iter().map(|&v| f64::from(v) * PEAK).collect();
        sum += ssim_channel(&a, &b, height, width);
    }
    Ok(sum / channels as f64)
}

// ---------------------------------------------------------------------------
// Binary segmentation
// ---------------------------------------------------------------------------

/// `num / den`, or 0.0 when `den` is 0 (scikit-learn's `zero_division="warn"`
/// result, minus the warning).
fn ratio_or_zero(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Pixel counts of a binary segmentation with class 1 as positive, pooled
/// over however many images were added.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BinaryConfusion {
    /// Pixels predicted 1 whose truth is 1.
    pub tp: u64,
    /// Pixels predicted 1 whose truth is 0.
    pub fp: u64,
    /// Pixels predicted 0 whose truth is 1.
    pub fn_: u64,
    /// Pixels predicted 0 whose truth is 0.
    pub tn: u64,
}

impl BinaryConfusion {
    /// Counts one image (or any set of pixels) from flat label slices of the
    /// same layout. Labels must be 0 or 1: a mask stored as 0/255 must be
    /// mapped to 0/1 first, as the authors do (`label[label == 255] = 1`).
    ///
    /// # Errors
    /// [`MetricError::LengthMismatch`] for different lengths,
    /// [`MetricError::InvalidLabel`] for any value other than 0 or 1 (a
    /// silently miscounted pixel would bias every reported score).
    pub fn from_labels(pred: &[u8], truth: &[u8]) -> Result<Self, MetricError> {
        check_same_len("prediction vs ground truth", pred.len(), truth.len())?;
        let mut c = Self::default();
        for (index, (&p, &t)) in pred.iter().zip(truth).enumerate() {
            let invalid = |what, value| MetricError::InvalidLabel {
                what,
                index,
                value,
                limit: 2,
            };
            match (p, t) {
                (1, 1) => c.tp += 1,
                (1, 0) => c.fp += 1,
                (0, 1) => c.fn_ += 1,
                (0, 0) => c.tn += 1,
                (0 | 1, _) => return Err(invalid("ground truth", t)),
                _ => return Err(invalid("prediction", p)),
            }
        }
        Ok(c)
    }

    /// Adds another set of counts, pooling pixels across images the way the
    /// authors concatenate all test images before scoring.
    pub fn add(&mut self, other: &Self) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.tn += other.tn;
    }

    /// Number of counted pixels.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.fn_ + self.tn
    }

    /// Pixel accuracy `(TP + TN) / total`; 0.0 when nothing was counted.
    pub fn accuracy(&self) -> f64 {
        ratio_or_zero(self.tp + self.tn, self.total())
    }

    /// Jaccard index (IoU of class 1) `TP / (TP + FP + FN)`; 0.0 when the
    /// denominator is 0, like `sklearn.metrics.jaccard_score`.
    pub fn jaccard(&self) -> f64 {
        ratio_or_zero(self.tp, self.tp + self.fp + self.fn_)
    }

    /// F1 score (Dice) `2 TP / (2 TP + FP + FN)`; 0.0 when the denominator is
    /// 0, like `sklearn.metrics.f1_score`.
    pub fn f1(&self) -> f64 {
        ratio_or_zero(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Precision `TP / (TP + FP)`; 0.0 when nothing was predicted positive.
    pub fn precision(&self) -> f64 {
        ratio_or_zero(self.tp, self.tp + self.fp)
    }

    /// Recall (sensitivity) `TP / (TP + FN)`; 0.0 when no truth pixel is
    /// positive.
    pub fn recall(&self) -> f64 {
        ratio_or_zero(self.tp, self.tp + self.fn_)
    }
}

// ---------------------------------------------------------------------------
// Multi-class segmentation
// ---------------------------------------------------------------------------

/// NaN-skipping mean (`numpy.nanmean`): NaN when every value is NaN.
fn nanmean(values: &[f64]) -> f64 {
    let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if kept.is_empty() {
        f64::NAN
    } else {
        kept.iter().sum::<f64>() / kept.len() as f64
    }
}

/// Confusion matrix of a multi-class segmentation, accumulated over a test
/// set like the authors' `IOUMetric` (rows = ground truth, columns =
/// prediction). Ratios follow numpy: 0/0 gives NaN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `classes x classes`; `counts[truth * classes + pred]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    ///
    /// # Errors
    /// [`MetricError::InvalidClassCount`] unless `1 <= classes <= 256`
    /// (labels are `u8`).
    pub fn new(classes: usize) -> Result<Self, MetricError> {
        if classes == 0 || classes > MAX_CLASSES {
            return Err(MetricError::InvalidClassCount { classes });
        }
        Ok(Self {
            classes,
            counts: vec![0; classes * classes],
        })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Number of pixels with ground truth `truth` predicted as `pred` (0 for
    /// indices out of range).
    pub fn count(&self, truth: usize, pred: usize) -> u64 {
        if truth < self.classes && pred < self.classes {
            self.counts[truth * self.classes + pred]
        } else {
            0
        }
    }

    /// Number of counted pixels.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn row_sum(&self, class: usize) -> u64 {
        self.counts[class * self.classes..(class + 1) * self.classes]
            .iter()
            .sum()
    }

    fn col_sum(&self, class: usize) -> u64 {
        (0..self.classes)
            .map(|t| self.counts[t * self.classes + class])
            .sum()
    }

    fn diag(&self, class: usize) -> u64 {
        self.counts[class * self.classes + class]
    }

    /// Adds the pixels of one image (flat label slices of the same layout).
    /// Pixels whose ground truth is `>= classes` (for example 255 as "void")
    /// are skipped, as `IOUMetric` masks them. The slices are validated
    /// before anything is counted, so on error the matrix is unchanged.
    ///
    /// # Errors
    /// [`MetricError::LengthMismatch`] for different lengths,
    /// [`MetricError::InvalidLabel`] for any prediction `>= classes`, even on
    /// an ignored pixel: a network's argmax can never produce one, so it
    /// signals a bug upstream (numpy would silently count it in another cell).
    pub fn add_labels(&mut self, pred: &[u8], truth: &[u8]) -> Result<(), MetricError> {
        check_same_len("prediction vs ground truth", pred.len(), truth.len())?;
        if let Some((index, &value)) = pred
            .iter()
            .enumerate()
            .find(|&(_, &p)| usize::from(p) >= self.classes)
        {
            return Err(MetricError::InvalidLabel {
                what: "prediction",
                index,
                value,
                limit: self.classes,
            });
        }
        for (&p, &t) in pred.iter().zip(truth) {
            let t = usize::from(t);
            if t < self.classes {
                self.counts[t * self.classes + usize::from(p)] += 1;
            }
        }
        Ok(())
    }

    /// Adds another matrix's counts (e.g. from another worker or image).
    ///
    /// # Errors
    /// [`MetricError::ClassCountMismatch`] when the class counts differ.
    pub fn merge(&mut self, other: &Self) -> Result<(), MetricError> {
        if self.classes != other.classes {
            return Err(MetricError::ClassCountMismatch {
                left: self.classes,
                right: other.classes,
            });
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    /// Pixel accuracy `trace / total` (`acc` of `IOUMetric.evaluate`); NaN
    /// when nothing was counted.
    pub fn pixel_accuracy(&self) -> f64 {
        let diag: u64 = (0..self.classes).map(|c| self.diag(c)).sum();
        diag as f64 / self.total() as f64
    }

    /// Per-class IoU `diag / (row + col - diag)`; NaN for a class absent from
    /// both ground truth and prediction, 0.0 for a class only predicted.
    pub fn per_class_iou(&self) -> Vec<f64> {
        (0..self.classes)
            .map(|c| {
                let d = self.diag(c);
                let union = self.row_sum(c) + self.col_sum(c) - d;
                d as f64 / union as f64
            })
            .collect()
    }

    /// Mean IoU: `nanmean` of [`Self::per_class_iou`], so absent classes are
    /// skipped (the paper's CamSeq01 mIoU). NaN if no class occurs.
    pub fn mean_iou(&self) -> f64 {
        nanmean(&self.per_class_iou())
    }

    /// Per-class accuracy (recall) `diag / row`; NaN for a class absent from
    /// the ground truth.
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        (0..self.classes)
            .map(|c| self.diag(c) as f64 / self.row_sum(c) as f64)
            .collect()
    }

    /// Mean class accuracy: `nanmean` of [`Self::per_class_accuracy`]
    /// (`acc_cls` of `IOUMetric.evaluate`).
    pub fn mean_class_accuracy(&self) -> f64 {
        nanmean(&self.per_class_accuracy())
    }

    /// Frequency-weighted IoU: sum over classes present in the ground truth
    /// of `(row / total) * IoU` (`fwavacc` of `IOUMetric.evaluate`). 0.0 for
    /// an empty matrix, as numpy's empty masked sum gives.
    pub fn frequency_weighted_iou(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let iou = self.per_class_iou();
        (0..self.classes)
            .filter_map(|c| {
                let row = self.row_sum(c);
                // Classes absent from the truth are excluded (`freq > 0`);
                // their IoU may be NaN and must not poison the sum.
                (row > 0).then(|| row as f64 / total as f64 * iou[c])
            })
            .sum()
    }

    /// One-vs-rest binary counts with `positive` as class 1 and every other
    /// class as class 0.
    ///
    /// # Errors
    /// [`MetricError::ClassOutOfRange`] when `positive >= classes`.
    pub fn binary(&self, positive: usize) -> Result<BinaryConfusion, MetricError> {
        if positive >= self.classes {
            return Err(MetricError::ClassOutOfRange {
                class: positive,
                classes: self.classes,
            });
        }
        let tp = self.diag(positive);
        let fp = self.col_sum(positive) - tp;
        let fn_ = self.row_sum(positive) - tp;
        let tn = self.total() - tp - fp - fn_;
        Ok(BinaryConfusion { tp, fp, fn_, tn })
    }
}

// ---------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------

/// Arithmetic mean of per-image scores, the dataset score for PSNR and SSIM
/// (the authors' `sum(list) / len(list)`, summed left to right the same way).
/// A `+inf` PSNR makes the mean `+inf`, as in Python.
///
/// # Errors
/// [`MetricError::EmptyInput`] for an empty slice (Python would raise
/// `ZeroDivisionError`).
pub fn mean(values: &[f64]) -> Result<f64, MetricError> {
    if values.is_empty() {
        return Err(MetricError::EmptyInput { what: "mean" });
    }
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// Population standard deviation (`numpy.std` with `ddof = 0`) of per-image
/// scores, for reporting the spread next to [`mean`].
///
/// # Errors
/// [`MetricError::EmptyInput`] for an empty slice.
pub fn std_dev(values: &[f64]) -> Result<f64, MetricError> {
    let m = mean(values)?;
    let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64;
    Ok(var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Deterministic pseudo-random values in [0, 1) (64-bit LCG, top bits).
    fn lcg_image(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32) / ((1u64 << 24) as f32)
            })
            .collect()
    }

    // ---- denoised_estimate ----

    #[test]
    fn denoised_estimate_subtracts_and_clips() {
        let noisy = [0.5, 0.1, 0.9, 0.25];
        let residual = [0.25, 0.3, -0.4, 0.0];
        let out = denoised_estimate(&noisy, &residual).unwrap();
        assert_eq!(out, vec![0.25, 0.0, 1.0, 0.25]);
    }

    #[test]
    fn denoised_estimate_rejects_length_mismatch() {
        let err = denoised_estimate(&[0.0, 1.0], &[0.0]).unwrap_err();
        assert_eq!(
            err,
            MetricError::LengthMismatch {
                what: "noisy vs residual",
                left: 2,
                right: 1
            }
        );
    }

    // ---- psnr ----

    #[test]
    fn psnr_uniform_offset_of_ten_levels() {
        let clean = vec![0.5_f32; 3 * 8 * 8];
        // Shift by exactly 10 grey levels; the f32 rounding of 10/255 moves
        // the MSE by ~1e-5, hence the tolerance.
        let est: Vec<f32> = clean.iter().map(|&c| c + 10.0 / 255.0).collect();
        let p = psnr(&est, &clean).unwrap();
        let expected = 20.0 * (255.0_f64 / 10.0).log10();
        assert!(close(expected, 28.130_803_608_679_1, 1e-12));
        assert!(close(p, expected, 1e-5), "{p} vs {expected}");
    }

    #[test]
    fn psnr_identical_is_infinite() {
        let img = lcg_image(7, 50);
        assert_eq!(psnr(&img, &img).unwrap(), f64::INFINITY);
    }

    #[test]
    fn psnr_two_pixel_hand_example() {
        // ×255: estimate (0, 255), clean (0, 0) → squared errors 0 and 65025,
        // MSE = 32512.5, PSNR = 20 log10(255 / sqrt(32512.5)) = 10 log10(2).
        let p = psnr(&[0.0, 1.0], &[0.0, 0.0]).unwrap();
        assert!(close(p, 10.0 * 2.0_f64.log10(), 1e-12), "{p}");
        // Sign does not matter and the clean image is not clipped: clean 1.5
        // vs estimate 1.0 is an error of 127.5 on one of two pixels.
        let p = psnr(&[1.0, 0.0], &[1.5, 0.0]).unwrap();
        let mse = 127.5_f64 * 127.5 / 2.0;
        assert!(close(p, 20.0 * (255.0 / mse.sqrt()).log10(), 1e-12), "{p}");
    }

    #[test]
    fn psnr_rejects_bad_input() {
        assert!(matches!(
            psnr(&[0.0], &[0.0, 0.0]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(
            psnr(&[], &[]),
            Err(MetricError::EmptyInput { what: "psnr" })
        );
    }

    // ---- ssim ----

    #[test]
    fn gaussian_kernel_matches_opencv_definition() {
        let g = gaussian_kernel();
        let sum: f64 = g.iter().sum();
        assert!(close(sum, 1.0, 1e-15), "{sum}");
        let norm: f64 = (-5..=5)
            .map(|d: i32| (-f64::from(d * d) / (2.0 * 1.5 * 1.5)).exp())
            .sum();
        assert!(close(g[5], 1.0 / norm, 1e-15));
        // exp(0) / sum_d exp(-d^2 / 4.5), evaluated separately in Python.
        assert!(close(g[5], 0.266_011_724_861_794_36, 1e-15), "{}", g[5]);
        for d in 0..5 {
            assert_eq!(g[d], g[10 - d]);
            assert!(g[d] < g[d + 1]);
        }
    }

    #[test]
    fn ssim_identical_is_one() {
        let img = lcg_image(1, 3 * 20 * 17);
        let s = ssim(&img, &img, 3, 20, 17).unwrap();
        assert!(close(s, 1.0, 1e-12), "{s}");
    }

    #[test]
    fn ssim_constant_images_closed_form() {
        let (h, w) = (13, 15);
        let (a, b) = (0.2_f32, 0.7_f32);
        let s = ssim(&vec![a; h * w], &vec![b; h * w], 1, h, w).unwrap();
        let (a, b) = (f64::from(a) * 255.0, f64::from(b) * 255.0);
        let c1 = (0.01_f64 * 255.0).powi(2);
        let expected = (2.0 * a * b + c1) / (a * a + b * b + c1);
        assert!(close(s, expected, 1e-12), "{s} vs {expected}");
        assert!(s < 0.9);
    }

    /// Independent reference: direct 2-D window sums with the kernel
    /// normalised by division, straight from the formula.
    fn slow_ssim(a: &[f32], b: &[f32], h: usize, w: usize) -> f64 {
        let g: Vec<f64> = (0..11)
            .map(|i| {
                let d = i as f64 - 5.0;
                (-d * d / 4.5).exp()
            })
            .collect();
        let gs: f64 = g.iter().sum();
        let g: Vec<f64> = g.iter().map(|v| v / gs).collect();
        let px = |img: &[f32], y: usize, x: usize| f64::from(img[y * w + x]) * 255.0;
        let (c1, c2) = ((0.01_f64 * 255.0).powi(2), (0.03_f64 * 255.0).powi(2));
        let mut total = 0.0;
        let mut n = 0;
        for y in 0..=h - 11 {
            for x in 0..=w - 11 {
                let (mut m1, mut m2, mut s11, mut s22, mut s12) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for i in 0..11 {
                    for j in 0..11 {
                        let wt = g[i] * g[j];
                        let p = px(a, y + i, x + j);
                        let q = px(b, y + i, x + j);
                        m1 += wt * p;
                        m2 += wt * q;
                        s11 += wt * p * p;
                        s22 += wt * q * q;
                        s12 += wt * p * q;
                    }
                }
                let (v1, v2, cov) = (s11 - m1 * m1, s22 - m2 * m2, s12 - m1 * m2);
                total += ((2.0 * m1 * m2 + c1) * (2.0 * cov + c2))
                    / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
                n += 1;
            }
        }
        total / f64::from(n)
    }

    #[test]
    fn ssim_matches_slow_reference() {
        let (h, w) = (16, 16);
        let clean = lcg_image(42, h * w);
        // Noisy, structured estimate so the SSIM is far from 0 and 1.
        let noise = lcg_image(99, h * w);
        let est: Vec<f32> = clean
            .iter()
            .zip(&noise)
            .enumerate()
            .map(|(i, (&c, &n))| {
                (0.6 * c + 0.3 * n + 0.1 * ((i % w) as f32 / w as f32)).clamp(0.0, 1.0)
            })
            .collect();
        let fast = ssim(&est, &clean, 1, h, w).unwrap();
        let slow = slow_ssim(&est, &clean, h, w);
        assert!(close(fast, slow, 1e-10), "{fast} vs {slow}");
        assert!(fast > 0.05 && fast < 0.95, "{fast}");

        // Non-square, window-sized edge case: exactly one output pixel.
        let (h, w) = (11, 23);
        let a = lcg_image(3, h * w);
        let b = lcg_image(4, h * w);
        let fast = ssim(&a, &b, 1, h, w).unwrap();
        let slow = slow_ssim(&a, &b, h, w);
        assert!(close(fast, slow, 1e-10), "{fast} vs {slow}");
    }

    #[test]
    fn ssim_multichannel_is_mean_of_channels() {
        let (h, w) = (12, 14);
        let a = lcg_image(10, 2 * h * w);
        let b = lcg_image(11, 2 * h * w);
        let s0 = ssim(&a[..h * w], &b[..h * w], 1, h, w).unwrap();
        let s1 = ssim(&a[h * w..], &b[h * w..], 1, h, w).unwrap();
        assert!((s0 - s1).abs() > 1e-6, "channels should differ");
        let s = ssim(&a, &b, 2, h, w).unwrap();
        assert!(close(s, (s0 + s1) / 2.0, 1e-15), "{s}");
    }

    #[test]
    fn ssim_rejects_bad_shapes() {
        let img = vec![0.5_f32; 100];
        assert_eq!(
            ssim(&img, &img, 1, 10, 10),
            Err(MetricError::ImageTooSmall {
                height: 10,
                width: 10,
                min: 11
            })
        );
        let img = vec![0.5_f32; 11 * 11];
        assert!(matches!(
            ssim(&img, &img[1..], 1, 11, 11),
            Err(MetricError::ShapeMismatch { len: 120, .. })
        ));
        assert!(matches!(
            ssim(&img, &img, 2, 11, 11),
            Err(MetricError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            ssim(&img, &img, 1, usize::MAX, 2),
            Err(MetricError::ShapeOverflow { .. })
        ));
        assert_eq!(
            ssim(&[], &[], 0, 11, 11),
            Err(MetricError::EmptyInput { what: "ssim" })
        );
    }

    // ---- binary ----

    #[test]
    fn binary_hand_example() {
        // 2x3 image, row-major.
        let pred = [1, 0, 1, 1, 1, 0];
        let truth = [1, 1, 0, 1, 0, 0];
        let c = BinaryConfusion::from_labels(&pred, &truth).unwrap();
        assert_eq!(
            c,
            BinaryConfusion {
                tp: 2,
                fp: 2,
                fn_: 1,
                tn: 1
            }
        );
        assert_eq!(c.total(), 6);
        assert_eq!(c.accuracy(), 3.0 / 6.0);
        assert_eq!(c.jaccard(), 2.0 / 5.0);
        assert_eq!(c.f1(), 4.0 / 7.0);
        assert_eq!(c.precision(), 2.0 / 4.0);
        assert_eq!(c.recall(), 2.0 / 3.0);
    }

    #[test]
    fn binary_pooling_equals_concatenation() {
        let (p1, t1) = ([1u8, 0, 1, 1, 1, 0], [1u8, 1, 0, 1, 0, 0]);
        let (p2, t2) = ([0u8, 0, 1, 1], [0u8, 1, 1, 1]);
        let mut pooled = BinaryConfusion::from_labels(&p1, &t1).unwrap();
        pooled.add(&BinaryConfusion::from_labels(&p2, &t2).unwrap());
        let cat = BinaryConfusion::from_labels(
            &[p1.as_slice(), &p2].concat(),
            &[t1.as_slice(), &t2].concat(),
        )
        .unwrap();
        assert_eq!(pooled, cat);
        assert_eq!(
            pooled,
            BinaryConfusion {
                tp: 4,
                fp: 2,
                fn_: 2,
                tn: 2
            }
        );
        // Pooled F1 = 8/12, not the mean of the per-image F1s (4/7 and 4/5).
        assert_eq!(pooled.f1(), 8.0 / 12.0);
    }

    #[test]
    fn binary_zero_denominators_give_zero() {
        let empty = BinaryConfusion::default();
        assert_eq!(empty.accuracy(), 0.0);
        assert_eq!(empty.jaccard(), 0.0);
        assert_eq!(empty.f1(), 0.0);
        // All-negative image: perfect accuracy, but sklearn reports 0 for
        // jaccard/F1/precision/recall.
        let c = BinaryConfusion::from_labels(&[0, 0, 0], &[0, 0, 0]).unwrap();
        assert_eq!(c.accuracy(), 1.0);
        assert_eq!(c.jaccard(), 0.0);
        assert_eq!(c.f1(), 0.0);
        assert_eq!(c.precision(), 0.0);
        assert_eq!(c.recall(), 0.0);
    }

    #[test]
    fn binary_rejects_bad_labels() {
        assert_eq!(
            BinaryConfusion::from_labels(&[0, 255], &[0, 1]),
            Err(MetricError::InvalidLabel {
                what: "prediction",
                index: 1,
                value: 255,
                limit: 2
            })
        );
        assert_eq!(
            BinaryConfusion::from_labels(&[0, 1], &[2, 1]),
            Err(MetricError::InvalidLabel {
                what: "ground truth",
                index: 0,
                value: 2,
                limit: 2
            })
        );
        assert!(matches!(
            BinaryConfusion::from_labels(&[0], &[0, 1]),
            Err(MetricError::LengthMismatch { .. })
        ));
    }

    // ---- multi-class ----

    /// 4 classes, class 3 absent from both truth and prediction, one pixel
    /// with truth 255 (ignored). Counts (rows truth, cols pred):
    /// [[2,1,0,0],[0,2,0,0],[1,0,1,0],[0,0,0,0]].
    fn hand_matrix() -> ConfusionMatrix {
        let truth = [0, 0, 0, 1, 1, 2, 255, 2];
        let pred = [0, 0, 1, 1, 1, 2, 2, 0];
        let mut m = ConfusionMatrix::new(4).unwrap();
        m.add_labels(&pred, &truth).unwrap();
        m
    }

    #[test]
    fn confusion_counts_and_ignored_truth() {
        let m = hand_matrix();
        assert_eq!(m.classes(), 4);
        assert_eq!(m.total(), 7);
        let expected = [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]];
        for (t, row) in expected.iter().enumerate() {
            for (p, &v) in row.iter().enumerate() {
                assert_eq!(m.count(t, p), v, "cell ({t}, {p})");
            }
        }
    }

    #[test]
    fn confusion_hand_metrics() {
        let m = hand_matrix();
        let iou = m.per_class_iou();
        assert_eq!(iou[0], 2.0 / 4.0);
        assert_eq!(iou[1], 2.0 / 3.0);
        assert_eq!(iou[2], 1.0 / 2.0);
        assert!(iou[3].is_nan());
        assert!(close(m.mean_iou(), 5.0 / 9.0, 1e-15));
        assert!(close(m.pixel_accuracy(), 5.0 / 7.0, 1e-15));
        let acc = m.per_class_accuracy();
        assert!(acc[3].is_nan());
        assert!(close(m.mean_class_accuracy(), 13.0 / 18.0, 1e-15));
        assert!(close(m.frequency_weighted_iou(), 23.0 / 42.0, 1e-15));
    }

    #[test]
    fn confusion_only_predicted_class_scores_zero() {
        let mut m = ConfusionMatrix::new(2).unwrap();
        m.add_labels(&[1, 1], &[0, 0]).unwrap();
        assert_eq!(m.per_class_iou(), vec![0.0, 0.0]);
        assert_eq!(m.mean_iou(), 0.0);
    }

    #[test]
    fn confusion_empty_is_nan() {
        let m = ConfusionMatrix::new(3).unwrap();
        assert!(m.mean_iou().is_nan());
        assert!(m.pixel_accuracy().is_nan());
        assert!(m.mean_class_accuracy().is_nan());
        assert_eq!(m.frequency_weighted_iou(), 0.0);
    }

    #[test]
    fn confusion_merge_and_errors() {
        let mut a = hand_matrix();
        a.merge(&hand_matrix()).unwrap();
        assert_eq!(a.total(), 14);
        assert_eq!(a.count(0, 0), 4);
        // Doubling every count leaves the ratios unchanged.
        assert!(close(a.mean_iou(), 5.0 / 9.0, 1e-15));
        assert_eq!(
            a.merge(&ConfusionMatrix::new(3).unwrap()),
            Err(MetricError::ClassCountMismatch { left: 4, right: 3 })
        );

        let before = a.clone();
        assert_eq!(
            a.add_labels(&[0, 4], &[0, 255]),
            Err(MetricError::InvalidLabel {
                what: "prediction",
                index: 1,
                value: 4,
                limit: 4
            })
        );
        assert_eq!(a, before, "a failed add must not count anything");
        assert!(matches!(
            a.add_labels(&[0], &[]),
            Err(MetricError::LengthMismatch { .. })
        ));
        assert_eq!(
            ConfusionMatrix::new(0),
            Err(MetricError::InvalidClassCount { classes: 0 })
        );
        assert!(ConfusionMatrix::new(257).is_err());
        assert!(ConfusionMatrix::new(256).is_ok());
    }

    #[test]
    fn confusion_binary_one_vs_rest() {
        let m = hand_matrix();
        // Class 0: TP 2, predicted 0 elsewhere once (truth 2), truth 0
        // predicted 1 once, remaining 3 pixels.
        assert_eq!(
            m.binary(0).unwrap(),
            BinaryConfusion {
                tp: 2,
                fp: 1,
                fn_: 1,
                tn: 3
            }
        );
        assert_eq!(m.binary(0).unwrap().jaccard(), m.per_class_iou()[0]);
        assert_eq!(
            m.binary(4),
            Err(MetricError::ClassOutOfRange {
                class: 4,
                classes: 4
            })
        );

        // A 2-class matrix agrees with BinaryConfusion on the same labels.
        let (p, t) = ([1u8, 0, 1, 1, 1, 0], [1u8, 1, 0, 1, 0, 0]);
        let mut m2 = ConfusionMatrix::new(2).unwrap();
        m2.add_labels(&p, &t).unwrap();
        assert_eq!(
            m2.binary(1).unwrap(),
            BinaryConfusion::from_labels(&p, &t).unwrap()
        );
    }

    // ---- aggregation ----

    #[test]
    fn mean_and_std() {
        assert_eq!(mean(&[28.0, 30.0, 32.5]).unwrap(), 90.5 / 3.0);
        assert_eq!(mean(&[]), Err(MetricError::EmptyInput { what: "mean" }));
        assert_eq!(mean(&[1.0, f64::INFINITY]).unwrap(), f64::INFINITY);
        assert_eq!(
            std_dev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap(),
            2.0
        );
        assert!(std_dev(&[]).is_err());
    }

    #[test]
    fn pairwise_sum_matches_exact_sum() {
        // Integers below 2^53 sum exactly in any order.
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&v), 500_500.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn errors_display() {
        let e = MetricError::InvalidLabel {
            what: "prediction",
            index: 3,
            value: 7,
            limit: 2,
        };
        assert_eq!(
            e.to_string(),
            "prediction label 7 at pixel 3 is outside the allowed values 0..=1"
        );
        let e: Box<dyn std::error::Error> = Box::new(MetricError::ImageTooSmall {
            height: 10,
            width: 10,
            min: 11,
        });
        assert!(e.to_string().contains("10x10"));
    }
}
