//! Event-driven convolutions: sum only the weight rows of the inputs that carry a value.
//!
//! A spiking layer's input is mostly zeros: in the width-64 U-Net at 256x256, an IF layer's
//! input is 5–16 % nonzero per step (an MT layer's 26–44 %; BENCHMARKS.md has the per-layer
//! figures). A dense GEMM multiplies every zero. Here each pixel's nonzero channels are listed
//! once per layer and step ([`Events::gather`]); an output pixel is then the sum, over its
//! kernel taps and over the listed channels of each tap's input pixel, of `value · weight row`
//! (a row of contiguous output-channel weights of the packed matrices in [`super::conv`]). The
//! work is proportional to the events, not to the inputs.
//!
//! The loops run tap by tap and [`BLOCK`] input channels at a time, each over every pixel of
//! the tile, so that one tap's and block's weight rows (16 KiB for 64 outputs) stay in L1
//! while the pixels pass; a pixel-by-pixel order would stream the whole weight matrix (38 MiB
//! for the deepest layer of the width-64 U-Net) once per pixel. A dense GEMM still runs
//! closer to the CPU's peak per multiply-add, so the engine takes this path only below a
//! measured density ([`super::EVENT_DRIVEN_BELOW`]).
//!
//! Each output's sum is taken in a fixed order (tap, then block, then channels ascending), so
//! results are deterministic; they differ from the GEMM's only in the rounding of the sums
//! (skipping a zero product changes nothing). With AVX2 and FMA each product is fused into its
//! sum (one rounding); the portable loop rounds twice. Tests compare both paths with burn.

use rayon::prelude::*;

use super::buffer::Padded;

/// Input channels per block (see the module comment).
pub const BLOCK: usize = 64;

/// Outputs per pixel one pass of [`accumulate_row`] covers at most: 8 AVX registers of 8 lanes
/// stay in registers while the events stream past, leaving the other 8 for the weights.
pub const OUTPUTS: usize = 64;

/// The nonzero values of one padded row: block `b` of pixel `x` lists its channels in
/// `channel[start[x · blocks + b]..start[x · blocks + b + 1]]`, with the values beside them.
#[derive(Debug, Clone, Default)]
struct RowEvents {
    start: Vec<u32>,
    channel: Vec<u16>,
    value: Vec<f32>,
}

/// The nonzero values of every pixel of a [`Padded`] buffer, by padded row.
#[derive(Debug)]
pub struct Events {
    /// `images · (height + 2)` rows; the border rows are empty.
    rows: Vec<RowEvents>,
    padded_rows: usize,
    width: usize,
    channels: usize,
    blocks: usize,
}

impl Events {
    /// List the nonzero values of every pixel of the images `only` of `src` (all when
    /// `None`), rows in parallel.
    pub fn gather(src: &Padded, only: Option<&[bool]>) -> Events {
        assert!(
            src.channels <= u16::MAX as usize + 1,
            "channel indices are stored as u16"
        );
        let (h, row_pixels, c) = (src.height, src.width + 2, src.channels);
        let blocks = c.div_ceil(BLOCK);
        let rows = (0..src.images * (h + 2))
            .into_par_iter()
            .map(|r| {
                let padded_row = r % (h + 2);
                let skipped = only.is_some_and(|only| !only[r / (h + 2)]);
                if skipped || padded_row == 0 || padded_row == h + 1 {
                    return RowEvents::default();
                }
                let values = &src.data[r * row_pixels * c..(r + 1) * row_pixels * c];
                let mut row = RowEvents {
                    start: Vec::with_capacity(row_pixels * blocks + 1),
                    ..RowEvents::default()
                };
                for pixel in values.chunks_exact(c) {
                    for (b, block) in pixel.chunks(BLOCK).enumerate() {
                        row.start.push(row.channel.len() as u32);
                        for (k, &v) in block.iter().enumerate() {
                            if v != 0.0 {
                                row.channel.push((b * BLOCK + k) as u16);
                                row.value.push(v);
                            }
                        }
                    }
                }
                row.start.push(row.channel.len() as u32);
                row
            })
            .collect();
        Events {
            rows,
            padded_rows: h + 2,
            width: src.width,
            channels: c,
            blocks,
        }
    }

    /// Interior width of the buffer the events came from.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Channels of the buffer the events came from.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Blocks of [`BLOCK`] channels.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// The events of padded row `row` of `image`; `None` for a border row (no events) and
    /// for the images left out.
    #[inline]
    pub fn row(&self, image: usize, row: usize) -> Option<RowView<'_>> {
        let events = &self.rows[image * self.padded_rows + row];
        (!events.start.is_empty()).then_some(RowView {
            start: &events.start,
            channel: &events.channel,
            value: &events.value,
            blocks: self.blocks,
            channels: self.channels,
        })
    }
}

/// The events of one padded row (see [`Events::row`]).
#[derive(Clone, Copy)]
pub struct RowView<'a> {
    start: &'a [u32],
    channel: &'a [u16],
    value: &'a [f32],
    blocks: usize,
    channels: usize,
}

impl RowView<'_> {
    /// The listed channels (ascending) and values of block `block` of padded pixel `column`.
    pub fn pixel(&self, column: usize, block: usize) -> (&[u16], &[f32]) {
        let at = column * self.blocks + block;
        let (a, b) = (self.start[at] as usize, self.start[at + 1] as usize);
        (&self.channel[a..b], &self.value[a..b])
    }
}

/// Where one row of event-driven products goes and which weights it reads.
pub struct RowProducts<'a> {
    /// The outputs: pixel `x`'s `width` values start at `x · pixel_stride`.
    pub out: &'a mut [f32],
    /// Values between consecutive pixels of `out`.
    pub pixel_stride: usize,
    /// Outputs per pixel (at most [`OUTPUTS`]).
    pub width: usize,
    /// Channel `k`'s weight row starts at `k · stride` (from the first output column).
    pub weights: &'a [f32],
    /// Values between consecutive weight rows.
    pub stride: usize,
}

/// For each of `count` pixels `x`: add to its outputs `Σ v · weight row k` over the events
/// `(k, v)` of block `block` of padded pixel `column + x` of `row`, in the listed order.
pub fn accumulate_row(
    products: RowProducts,
    row: &RowView,
    column: usize,
    count: usize,
    block: usize,
) {
    let RowProducts {
        out,
        pixel_stride,
        width,
        weights,
        stride,
    } = products;
    // Every read and write of the loops below is inside these bounds.
    assert!(width <= OUTPUTS && block < row.blocks);
    assert!(count == 0 || (count - 1) * pixel_stride + width <= out.len());
    assert!((row.channels - 1) * stride + width <= weights.len());
    assert!((column + count) * row.blocks < row.start.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, and the bounds are checked above (the channels of
        // a row are below `row.channels` by construction).
        let kernel = match width {
            64 => Some(avx2::accumulate_row::<8> as avx2::RowKernel),
            32 => Some(avx2::accumulate_row::<4> as avx2::RowKernel),
            16 => Some(avx2::accumulate_row::<2> as avx2::RowKernel),
            8 => Some(avx2::accumulate_row::<1> as avx2::RowKernel),
            _ => None,
        };
        if let Some(kernel) = kernel {
            unsafe {
                kernel(
                    out,
                    pixel_stride,
                    weights,
                    stride,
                    row,
                    column,
                    count,
                    block,
                )
            };
            return;
        }
    }
    for x in 0..count {
        let (channels, values) = row.pixel(column + x, block);
        let out = &mut out[x * pixel_stride..][..width];
        for (&k, &v) in channels.iter().zip(values) {
            let weights = &weights[k as usize * stride..][..width];
            for (o, w) in out.iter_mut().zip(weights) {
                *o += v * w;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::RowView;

    /// The signature of [`accumulate_row`] for every register count.
    pub type RowKernel = unsafe fn(&mut [f32], usize, &[f32], usize, &RowView, usize, usize, usize);

    /// [`super::accumulate_row`] for `8 · R` outputs per pixel, held in `R` registers.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA, and the bounds asserted by the caller hold.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn accumulate_row<const R: usize>(
        out: &mut [f32],
        pixel_stride: usize,
        weights: &[f32],
        stride: usize,
        row: &RowView,
        column: usize,
        count: usize,
        block: usize,
    ) {
        let (out, weights) = (out.as_mut_ptr(), weights.as_ptr());
        for x in 0..count {
            let at = (column + x) * row.blocks + block;
            unsafe {
                let (a, b) = (
                    *row.start.get_unchecked(at) as usize,
                    *row.start.get_unchecked(at + 1) as usize,
                );
                if a == b {
                    continue;
                }
                let out = out.add(x * pixel_stride);
                let mut sum = [_mm256_setzero_ps(); R];
                for (r, s) in sum.iter_mut().enumerate() {
                    *s = _mm256_loadu_ps(out.add(8 * r));
                }
                for i in a..b {
                    let k = *row.channel.get_unchecked(i) as usize;
                    let value = _mm256_set1_ps(*row.value.get_unchecked(i));
                    let weights = weights.add(k * stride);
                    for (r, s) in sum.iter_mut().enumerate() {
                        *s = _mm256_fmadd_ps(value, _mm256_loadu_ps(weights.add(8 * r)), *s);
                    }
                }
                for (r, s) in sum.iter().enumerate() {
                    _mm256_storeu_ps(out.add(8 * r), *s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_lists_exactly_the_nonzero_values() {
        // 70 channels: two blocks, the second partial.
        let mut src = Padded::zeros(2, 3, 4, 70);
        let marks = [
            (0, 0, 0, 2, 1.5),
            (0, 0, 0, 66, 3.0),
            (0, 2, 3, 4, -2.0),
            (1, 1, 1, 0, 0.25),
            (1, 1, 1, 69, 0.5),
            (1, 2, 0, 64, -1.0),
        ];
        for &(image, y, x, c, v) in &marks {
            let at = src.offset(image, y, x) + c;
            src.data[at] = v;
        }
        let events = Events::gather(&src, None);
        let mut listed = Vec::new();
        for image in 0..2 {
            assert!(events.row(image, 0).is_none() && events.row(image, 4).is_none());
            for y in 1..4 {
                let row = events.row(image, y).expect("an interior row");
                for column in 0..6 {
                    for block in 0..events.blocks() {
                        let (channels, values) = row.pixel(column, block);
                        for (&c, &v) in channels.iter().zip(values) {
                            assert_eq!(c as usize / BLOCK, block, "channel {c} in block {block}");
                            listed.push((image, y - 1, column - 1, c as usize, v));
                        }
                    }
                }
            }
        }
        assert_eq!(listed, marks.to_vec());
    }

    /// Products of a random sparse row, in f64, and by `accumulate_row` for `width` outputs.
    fn products(width: usize) -> (Vec<f64>, Vec<f32>) {
        let (channels, stride, pixels, pixel_stride) = (70, 80, 5, 90);
        let mut src = Padded::zeros(1, 1, pixels, channels);
        for (i, v) in src.data.iter_mut().enumerate() {
            if i % 7 == 3 || i % 11 == 0 {
                *v = ((i * 13 % 17) as f32 - 8.0) / 4.0;
            }
        }
        src.data[..channels].fill(0.0);
        let events = Events::gather(&src, None);
        let row = events.row(0, 1).expect("interior");
        let weights: Vec<f32> = (0..stride * channels)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let mut out = vec![0.25f32; pixels * pixel_stride];
        let mut expected: Vec<f64> = out.iter().map(|&v| v as f64).collect();
        for block in 0..events.blocks() {
            let products = RowProducts {
                out: &mut out,
                pixel_stride,
                width,
                weights: &weights,
                stride,
            };
            accumulate_row(products, &row, 1, pixels, block);
        }
        for x in 0..pixels {
            let pixel = &src.data[src.offset(0, 0, x)..][..channels];
            for (k, &v) in pixel.iter().enumerate() {
                for o in 0..width {
                    expected[x * pixel_stride + o] += v as f64 * weights[k * stride + o] as f64;
                }
            }
        }
        (expected, out)
    }

    #[test]
    fn row_products_are_the_sums_they_claim_for_every_kernel() {
        // Multiples of 8: the AVX2 kernels where the CPU has them; 12 wide: the portable loop.
        for width in [OUTPUTS, 32, 16, 8, 12] {
            let (expected, out) = products(width);
            let mut nonzero = 0;
            for (i, (e, o)) in expected.iter().zip(&out).enumerate() {
                // Sums of about 20 products of size 10: f32 rounding stays below 1e-4.
                assert!(
                    (e - *o as f64).abs() < 1e-4,
                    "width {width}, output {i}: {o} vs {e}"
                );
                nonzero += usize::from(*o != 0.25);
            }
            assert!(nonzero > 0, "the test row has events");
        }
    }
}
