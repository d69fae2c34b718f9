//! Activation buffers in the engine's one layout: padded NHWC.
//!
//! Every activation that a convolution reads is stored as images of `(h + 2) x (w + 2)` pixels
//! with the channels of a pixel contiguous and a one-pixel zero border. The border is what a
//! 3x3 convolution with padding 1 reads outside the image, so no convolution ever pads, copies
//! or converts its input: the rows of one kernel row `dy` for consecutive output pixels are
//! consecutive `3 · channels` runs of the buffer, which is a plain strided matrix for GEMM.
//! Images are stacked sample-major, time-minor (`b · steps + t`), so the time steps of one
//! sample are adjacent and small layers can convolve all of them in one GEMM.

/// A stack of zero-bordered NHWC images.
#[derive(Debug, Clone)]
pub struct Padded {
    /// Number of images (samples · time steps of a chunk).
    pub images: usize,
    /// Interior height.
    pub height: usize,
    /// Interior width.
    pub width: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// `images · (height + 2) · (width + 2) · channels` values; the border stays zero.
    pub data: Vec<f32>,
}

impl Padded {
    /// A zero buffer.
    pub fn zeros(images: usize, height: usize, width: usize, channels: usize) -> Padded {
        Padded {
            images,
            height,
            width,
            channels,
            data: vec![0.0; images * (height + 2) * (width + 2) * channels],
        }
    }

    /// Padded pixels per image.
    pub fn image_pixels(&self) -> usize {
        (self.height + 2) * (self.width + 2)
    }

    /// Interior values (images · height · width · channels): what a density is a share of.
    pub fn values(&self) -> usize {
        self.images * self.height * self.width * self.channels
    }

    /// Index of channel 0 of interior pixel `(y, x)` of `image`.
    pub fn offset(&self, image: usize, y: usize, x: usize) -> usize {
        ((image * (self.height + 2) + y + 1) * (self.width + 2) + x + 1) * self.channels
    }

    /// Fill the interior from an NCHW array of `images` images (`[images, channels, h, w]`).
    pub fn from_nchw(values: &[f32], [n, c, h, w]: [usize; 4]) -> Padded {
        let mut padded = Padded::zeros(n, h, w, c);
        for i in 0..n {
            for ch in 0..c {
                let plane = &values[(i * c + ch) * h * w..][..h * w];
                for y in 0..h {
                    let base = padded.offset(i, y, 0) + ch;
                    for x in 0..w {
                        padded.data[base + x * c] = plane[y * w + x];
                    }
                }
            }
        }
        padded
    }

    /// The interior as NCHW (`[images, channels, h, w]`).
    pub fn to_nchw(&self) -> Vec<f32> {
        let (c, h, w) = (self.channels, self.height, self.width);
        let mut out = vec![0.0; self.images * c * h * w];
        for i in 0..self.images {
            for y in 0..h {
                let base = self.offset(i, y, 0);
                for x in 0..w {
                    for ch in 0..c {
                        out[((i * c + ch) * h + y) * w + x] = self.data[base + x * c + ch];
                    }
                }
            }
        }
        out
    }
}

/// Unpadded NHWC values (`[images, h, w, c]`) as NCHW.
pub fn nhwc_to_nchw(values: &[f32], [n, c, h, w]: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for i in 0..n {
        for p in 0..h * w {
            for ch in 0..c {
                out[(i * c + ch) * h * w + p] = values[(i * h * w + p) * c + ch];
            }
        }
    }
    out
}

/// A raw pointer that parallel tiles share to write disjoint parts of one buffer.
///
/// The engine splits every layer into tiles that own disjoint output pixels and channels;
/// each tile writes only its own elements of the membrane, the accumulators and the
/// destination buffer. That disjointness is the safety argument for every use.
#[derive(Clone, Copy)]
pub struct SharedMut(*mut f32);

// SAFETY: see the type's documentation: tiles write disjoint elements.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// Share `values` with the tiles of one parallel phase.
    pub fn new(values: &mut [f32]) -> SharedMut {
        SharedMut(values.as_mut_ptr())
    }

    /// The element at `index`.
    ///
    /// # Safety
    /// `index` is in bounds of the shared slice, and no other tile touches that element in
    /// the same phase.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn at(&self, index: usize) -> &mut f32 {
        unsafe { &mut *self.0.add(index) }
    }

    /// The raw pointer at `index` (a GEMM destination).
    ///
    /// # Safety
    /// As for [`SharedMut::at`], for the whole range the caller writes through it.
    #[inline(always)]
    pub unsafe fn ptr(&self, index: usize) -> *mut f32 {
        unsafe { self.0.add(index) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_round_trips_through_the_padded_layout_and_the_border_stays_zero() {
        let shape = [2, 3, 4, 5];
        let values: Vec<f32> = (0..2 * 3 * 4 * 5).map(|v| v as f32 + 1.0).collect();
        let padded = Padded::from_nchw(&values, shape);
        assert_eq!(padded.to_nchw(), values);
        let nonzero = padded.data.iter().filter(|v| **v != 0.0).count();
        assert_eq!(nonzero, values.len(), "only the interior holds values");
        let nhwc: Vec<f32> = (0..2)
            .flat_map(|i| {
                let padded = &padded;
                (0..4).flat_map(move |y| {
                    (0..5).flat_map(move |x| {
                        let o = padded.offset(i, y, x);
                        padded.data[o..o + 3].to_vec()
                    })
                })
            })
            .collect();
        assert_eq!(nhwc_to_nchw(&nhwc, shape), values);
    }
}
