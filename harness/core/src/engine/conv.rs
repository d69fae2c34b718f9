//! Convolutions as GEMM on the padded NHWC layout, with weights packed once per network.
//!
//! A 3x3 convolution with padding 1 is three GEMMs, one per kernel row `dy`: for output pixels
//! taken along padded rows, the inputs of kernel row `dy` are the `3 · C_in` values starting
//! at the pixel `dy` rows down, one after another in memory, so the left matrix is the
//! activation buffer itself (row stride `C_in`) and no im2col copy is made. Outputs in the two
//! border columns of each padded row are computed and thrown away (2 of `w + 2` columns).
//!
//! A transposed convolution (kernel 3, stride 2, padding 1, output padding 1) is one GEMM of
//! the input pixels against all 9 taps (`C_in x 9 · C_out`); each output pixel then gathers
//! the 1, 2 or 4 tap products that land on it. That is exactly the multiply-adds the
//! operation needs, with no zero-stuffing.
//!
//! Both compute one [`Tile`] (a sample, a band of rows, a block of output channels) into a
//! scratch buffer that stays in cache, where the caller's fused epilogue (bias, neuron, spike
//! counting, writing into a channel slice of the next buffer) reads it.

use super::buffer::Padded;
use super::events::{Events, OUTPUTS, RowProducts, accumulate_row};
use crate::{Error, Result};

/// Output pixels a tile aims for: its conv output (`pixels · channels` floats) then stays
/// within the 512 KiB L2 cache of a core while the epilogue reads it.
const TILE_PIXELS: usize = 512;

/// Tiles a layer is split into at least, where its size allows.
const TILES_PER_LAYER: usize = 8;

/// A part of one layer's output that one thread computes and finishes on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Sample (image of the batch); a tile covers all time steps of its chunk.
    pub sample: usize,
    /// First output row (of the layer's input resolution for a transposed conv).
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First output channel.
    pub n0: usize,
    /// One past the last output channel.
    pub n1: usize,
}

/// Where a tile's results lie in the scratch buffer.
#[derive(Debug, Clone, Copy)]
pub struct TileLayout {
    /// Rows between consecutive time steps.
    pub t_stride: usize,
    /// Values per pixel (channels of the tile, times 9 taps for a transposed conv).
    pub pixel: usize,
    /// Pixels per row (`width + 2`).
    pub row: usize,
}

impl TileLayout {
    /// Index of pixel `x` of row `r` (counted from the tile's first row) of time step `t`.
    #[inline(always)]
    pub fn at(&self, t: usize, r: usize, x: usize) -> usize {
        ((t * self.t_stride + r) * self.row + x) * self.pixel
    }
}

/// Split a layer of `samples` images of `height` rows and `channels` outputs into tiles:
/// bands of rows of about [`TILE_PIXELS`] pixels, and, where that leaves fewer than
/// [`TILES_PER_LAYER`] tiles (the small deep layers), blocks of output channels too.
pub fn tiles(samples: usize, height: usize, row_pixels: usize, channels: usize) -> Vec<Tile> {
    let rows = TILE_PIXELS.div_ceil(row_pixels).clamp(1, height);
    let bands = height.div_ceil(rows);
    // A fixed target (four tiles per core of the 2-core project machine) rather than one read
    // from the thread count: the channel blocks change how the GEMM sums, so the tiling, and
    // with it every number, must not depend on the machine's core count.
    let wanted = TILES_PER_LAYER;
    let mut blocks = 1;
    // Channel blocks of at least 32 keep the GEMM's right matrix wide enough to be efficient.
    while samples * bands * blocks < wanted && channels / (blocks * 2) >= 32 {
        blocks *= 2;
    }
    let block = channels.div_ceil(blocks);
    let mut tiles = Vec::with_capacity(samples * bands * blocks);
    for sample in 0..samples {
        for band in 0..bands {
            for b in 0..blocks {
                tiles.push(Tile {
                    sample,
                    y0: band * rows,
                    y1: ((band + 1) * rows).min(height),
                    n0: b * block,
                    n1: ((b + 1) * block).min(channels),
                });
            }
        }
    }
    tiles
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` with row-major strides, on the calling thread.
///
/// # Safety
/// The pointers cover the ranges the strides and sizes imply.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_rs: usize,
    rhs: *const f32,
    rhs_rs: usize,
) {
    // gemm's convention: dst = alpha · dst + beta · lhs · rhs (alpha read only if accumulate).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            1,
            lhs_rs as isize,
            rhs,
            1,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Whether step `t` of a chunk is among `only` (all steps when `None`).
fn chosen(only: Option<&[bool]>, t: usize) -> bool {
    only.is_none_or(|only| only[t])
}

/// Where a tile's GEMMs read and write: its [`TileLayout`] and, per GEMM call, the first
/// padded row it reads (counted over the whole buffer), the number of output rows, and the
/// scratch offset. `rows` output rows start at padded row `y0 + skip` of each step's image.
/// When the tile spans all rows of a chunk of several steps, all of which are computed, one
/// call covers every step: the border rows between consecutive images are computed and
/// skipped. Otherwise there is one call per step in `only`, and step `t` lies at
/// `t · rows` rows, as the event-driven path lays it out.
#[allow(clippy::too_many_arguments)]
fn gemm_calls(
    tile: &Tile,
    steps: usize,
    only: Option<&[bool]>,
    height: usize,
    row: usize,
    rows: usize,
    skip: usize,
    pixel: usize,
) -> (TileLayout, Vec<(usize, usize, usize)>) {
    let together = tile.y0 == 0 && tile.y1 == height && steps > 1 && only.is_none();
    let layout = TileLayout {
        t_stride: if together { height + 2 } else { rows },
        pixel,
        row,
    };
    let calls = if together {
        let first = tile.sample * steps * (height + 2) + skip;
        vec![(first, (steps - 1) * (height + 2) + rows, 0)]
    } else {
        (0..steps)
            .filter(|&t| chosen(only, t))
            .map(|t| {
                let first = (tile.sample * steps + t) * (height + 2) + tile.y0 + skip;
                (first, rows, layout.at(t, 0, 0))
            })
            .collect()
    };
    (layout, calls)
}

/// The layout of an event-driven tile (`rows` rows of `pixel` values per step, one step after
/// the other, as [`gemm_calls`] lays out steps computed one by one), with the scratch sized and
/// the chosen steps zeroed for the sums; returns the chosen steps too.
fn event_layout(
    events: &Events,
    steps: usize,
    only: Option<&[bool]>,
    rows: usize,
    pixel: usize,
    scratch: &mut Vec<f32>,
) -> (TileLayout, Vec<usize>) {
    let layout = TileLayout {
        t_stride: rows,
        pixel,
        row: events.width() + 2,
    };
    reserve(scratch, steps * rows * layout.row * pixel);
    let steps_chosen: Vec<usize> = (0..steps).filter(|&t| chosen(only, t)).collect();
    for &t in &steps_chosen {
        scratch[layout.at(t, 0, 0)..layout.at(t + 1, 0, 0)].fill(0.0);
    }
    (layout, steps_chosen)
}

/// Make sure `scratch` holds at least `len` values (contents are overwritten by the GEMM).
fn reserve(scratch: &mut Vec<f32>, len: usize) {
    if scratch.len() < len {
        scratch.resize(len, 0.0);
    }
}

/// The engine's two kinds of convolution: a tile's products, dense or event-driven.
pub trait Convolution {
    /// The products (no bias) of `tile` for the time steps `only` (all when `None`) of a
    /// chunk of `steps` in `src`, into `scratch`; returns where each value lies.
    fn compute(
        &self,
        src: &Padded,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout;

    /// [`Convolution::compute`] from the events of `src` (see [`super::events`]): the same
    /// values, up to the rounding of the sums, with work proportional to the events. Steps
    /// lie as in `compute` with `only` given.
    fn compute_events(
        &self,
        events: &Events,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout;
}

/// A 3x3 (padding 1) or 1x1 (padding 0) convolution, packed for [`PackedConv::compute`].
#[derive(Debug, Clone)]
pub struct PackedConv {
    kernel: usize,
    in_channels: usize,
    out_channels: usize,
    /// Per kernel row `dy`: a row-major `[kernel · C_in, C_out]` matrix whose row
    /// `dx · C_in + ci` holds `W[·, ci, dy, dx]`.
    rows: Vec<Vec<f32>>,
    /// One bias per output channel (zeros when the layer has none).
    pub bias: Vec<f32>,
}

impl PackedConv {
    /// Pack a PyTorch-layout weight `[C_out, C_in, k, k]` (k = 1 or 3) and its bias.
    pub fn pack(weight: &[f32], shape: [usize; 4], bias: Option<Vec<f32>>) -> Result<PackedConv> {
        let [cout, cin, kh, kw] = shape;
        if kh != kw || !(kh == 1 || kh == 3) || weight.len() != cout * cin * kh * kw {
            return Err(Error::InvalidModel(format!(
                "the engine runs 1x1 and 3x3 convolutions, got a weight of shape {shape:?}"
            )));
        }
        let rows = (0..kh)
            .map(|dy| {
                let mut matrix = vec![0.0; kw * cin * cout];
                for dx in 0..kw {
                    for ci in 0..cin {
                        for co in 0..cout {
                            matrix[(dx * cin + ci) * cout + co] =
                                weight[((co * cin + ci) * kh + dy) * kw + dx];
                        }
                    }
                }
                matrix
            })
            .collect();
        Ok(PackedConv {
            kernel: kh,
            in_channels: cin,
            out_channels: cout,
            rows,
            bias: bias.unwrap_or_else(|| vec![0.0; cout]),
        })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
}

impl Convolution for PackedConv {
    /// The pre-activations: the three kernel-row GEMMs (see the module comment).
    fn compute(
        &self,
        src: &Padded,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout {
        debug_assert_eq!(src.channels, self.in_channels);
        let (h, row) = (src.height, src.width + 2);
        let cin = self.in_channels;
        let nb = tile.n1 - tile.n0;
        let (layout, calls) = gemm_calls(tile, steps, only, h, row, tile.y1 - tile.y0, 0, nb);
        reserve(scratch, steps * layout.t_stride * row * nb);
        // A 1x1 conv has no padding: it reads pixel (y + 1, x + 1) of the padded buffer.
        let shift = if self.kernel == 1 { row + 1 } else { 0 };
        for (first_row, out_rows, offset) in calls {
            // The last two columns of the last row are border outputs; leaving them out keeps
            // every read inside this image.
            let m = out_rows * row - 2;
            for (dy, matrix) in self.rows.iter().enumerate() {
                let lhs = (first_row * row + dy * row + shift) * cin;
                // SAFETY: rows first_row + dy .. first_row + dy + out_rows (+ kernel - 1
                // pixels) are inside `src` (checked in debug builds below), the scratch holds
                // `m` rows of `nb`, and `matrix` is `[kernel · cin, cout]`.
                debug_assert!(lhs + (m - 1) * cin + self.kernel * cin <= src.data.len());
                unsafe {
                    gemm_rows(
                        m,
                        nb,
                        self.kernel * cin,
                        scratch.as_mut_ptr().add(offset),
                        nb,
                        dy > 0,
                        src.data.as_ptr().add(lhs),
                        cin,
                        matrix.as_ptr().add(tile.n0),
                        self.out_channels,
                    );
                }
            }
        }
        layout
    }

    fn compute_events(
        &self,
        events: &Events,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout {
        assert_eq!(events.channels(), self.in_channels);
        let nb = tile.n1 - tile.n0;
        let rows = tile.y1 - tile.y0;
        let (layout, steps_chosen) = event_layout(events, steps, only, rows, nb, scratch);
        // A 1x1 conv has no padding: it reads pixel (y + 1, x + 1) of the padded buffer.
        let shift = if self.kernel == 1 { 1 } else { 0 };
        let (cin, cout) = (self.in_channels, self.out_channels);
        // Tap by tap and block by block: the weight rows of one tap and block (64 x 64, 16 KiB)
        // stay in L1 while the tile's pixels pass.
        for j in (0..nb).step_by(OUTPUTS) {
            let width = OUTPUTS.min(nb - j);
            for (dy, matrix) in self.rows.iter().enumerate() {
                for dx in 0..self.kernel {
                    let weights = &matrix[dx * cin * cout + tile.n0 + j..];
                    for block in 0..events.blocks() {
                        for &t in &steps_chosen {
                            let image = tile.sample * steps + t;
                            for r in 0..rows {
                                let Some(row) = events.row(image, tile.y0 + r + dy + shift) else {
                                    continue;
                                };
                                let products = RowProducts {
                                    out: &mut scratch[layout.at(t, r, 0) + j..],
                                    pixel_stride: nb,
                                    width,
                                    weights,
                                    stride: cout,
                                };
                                accumulate_row(products, &row, dx + shift, events.width(), block);
                            }
                        }
                    }
                }
            }
        }
        layout
    }
}

/// A transposed convolution with kernel 3, stride 2, padding 1 and output padding 1 (the
/// U-Net's up-sampling), packed for [`PackedUpConv::compute`].
#[derive(Debug, Clone)]
pub struct PackedUpConv {
    in_channels: usize,
    out_channels: usize,
    /// Row-major `[C_in, 9 · C_out]`, tap-major: column `(ky · 3 + kx) · C_out + co` holds
    /// `W[ci, co, ky, kx]`, so the products of one tap are contiguous over the channels and
    /// the gather that sums them vectorises.
    matrix: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
}

/// The tap (`ky · 3 + kx`) that carries input pixel `(i + di, j + dj)` to output pixel
/// `(2i + a, 2j + b)`, for the four phases `(a, b)`: output `o = 2·i − 1 + k`, so an even
/// output takes tap 1 of the same input, an odd one tap 2 of the same input and tap 0 of the
/// next.
pub const UP_TAPS: [&[(usize, usize, usize)]; 4] = [
    &[(0, 0, 4)],
    &[(0, 0, 5), (0, 1, 3)],
    &[(0, 0, 7), (1, 0, 1)],
    &[(0, 0, 8), (0, 1, 6), (1, 0, 2), (1, 1, 0)],
];

impl PackedUpConv {
    /// Pack a PyTorch-layout transposed-conv weight `[C_in, C_out, 3, 3]` and its bias.
    pub fn pack(weight: &[f32], shape: [usize; 4], bias: Option<Vec<f32>>) -> Result<PackedUpConv> {
        let [cin, cout, kh, kw] = shape;
        if kh != 3 || kw != 3 || weight.len() != cin * cout * 9 {
            return Err(Error::InvalidModel(format!(
                "the engine runs 3x3 stride-2 transposed convolutions, got a weight of shape {shape:?}"
            )));
        }
        let mut matrix = vec![0.0; cin * 9 * cout];
        for ci in 0..cin {
            for co in 0..cout {
                for tap in 0..9 {
                    matrix[(ci * 9 + tap) * cout + co] = weight[(ci * cout + co) * 9 + tap];
                }
            }
        }
        Ok(PackedUpConv {
            in_channels: cin,
            out_channels: cout,
            matrix,
            bias: bias.unwrap_or_else(|| vec![0.0; cout]),
        })
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
}

impl Convolution for PackedUpConv {
    /// The tap products of `tile`, for rows of the *input* plus the row below each band, which
    /// the odd output rows need. Value `tap · (n1 − n0) + co − n0` of a pixel is tap `tap` of
    /// channel `co`.
    fn compute(
        &self,
        src: &Padded,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout {
        debug_assert_eq!(src.channels, self.in_channels);
        let (h, row) = (src.height, src.width + 2);
        let cin = self.in_channels;
        let nb = tile.n1 - tile.n0;
        // The band and the row below it (maybe the border), from padded row y0 + 1.
        let rows = tile.y1 - tile.y0 + 1;
        let (layout, calls) = gemm_calls(tile, steps, only, h, row, rows, 1, 9 * nb);
        reserve(scratch, steps * layout.t_stride * row * 9 * nb);
        for (first_row, out_rows, offset) in calls {
            let m = out_rows * row;
            let lhs = first_row * row * cin;
            debug_assert!(lhs + m * cin <= src.data.len());
            // All channels: one GEMM over the 9 · C_out columns. A block of channels: one GEMM
            // per tap, each into its `nb` columns of the pixel's 9 · nb values.
            let (taps, width) = if nb == self.out_channels {
                (1, 9 * nb)
            } else {
                (9, nb)
            };
            for tap in 0..taps {
                // SAFETY: padded rows first_row .. first_row + out_rows are inside `src` (the
                // row below the last interior row is the zero border), the scratch holds m
                // rows of 9 · nb values, and the matrix is [cin, 9 · cout].
                unsafe {
                    gemm_rows(
                        m,
                        width,
                        cin,
                        scratch.as_mut_ptr().add(offset + tap * nb),
                        9 * nb,
                        false,
                        src.data.as_ptr().add(lhs),
                        cin,
                        self.matrix.as_ptr().add(tap * self.out_channels + tile.n0),
                        9 * self.out_channels,
                    );
                }
            }
        }
        layout
    }

    fn compute_events(
        &self,
        events: &Events,
        tile: &Tile,
        steps: usize,
        only: Option<&[bool]>,
        scratch: &mut Vec<f32>,
    ) -> TileLayout {
        assert_eq!(events.channels(), self.in_channels);
        let nb = tile.n1 - tile.n0;
        // The band and the row below it (maybe the border), from padded row y0 + 1.
        let rows = tile.y1 - tile.y0 + 1;
        let (layout, steps_chosen) = event_layout(events, steps, only, rows, 9 * nb, scratch);
        let stride = 9 * self.out_channels;
        // Tap by tap, the tile's `nb` columns of the tap's `C_out` in a matrix row.
        for tap in 0..9 {
            for j in (0..nb).step_by(OUTPUTS) {
                let width = OUTPUTS.min(nb - j);
                let weights = &self.matrix[tap * self.out_channels + tile.n0 + j..];
                for block in 0..events.blocks() {
                    for &t in &steps_chosen {
                        let image = tile.sample * steps + t;
                        for r in 0..rows {
                            let Some(row) = events.row(image, tile.y0 + 1 + r) else {
                                continue;
                            };
                            let products = RowProducts {
                                out: &mut scratch[layout.at(t, r, 0) + tap * nb + j..],
                                pixel_stride: 9 * nb,
                                width,
                                weights,
                                stride,
                            };
                            accumulate_row(products, &row, 0, layout.row, block);
                        }
                    }
                }
            }
        }
        layout
    }
}
