//! The DRIVE retinal-vessel preprocessing of the retina-unet code, re-implemented bit for bit.
//!
//! The Spiking-UNet paper trains and evaluates on DRIVE fundus images after `my_PreProc` of the
//! retina-unet repository (`lib/pre_processing.py`, numpy + OpenCV): grey conversion, dataset
//! standardisation, CLAHE, a gamma lookup table and a division by 255. To reproduce the paper's
//! inputs without Python or OpenCV, this module redoes each step with the same arithmetic:
//!
//! 1. [`gray`]: `0.299 R + 0.587 G + 0.114 B` in f64, evaluated left to right as numpy does.
//! 2. [`standardize_and_rescale`]: `(x - mean) / std` with the mean and the population standard
//!    deviation of the whole set (numpy's pairwise summation, see [`pairwise_sum`]), then each
//!    image stretched to `[0, 255]` by its own minimum and maximum.
//! 3. [`truncate_to_u8`] + [`Clahe::apply`]: `np.array(x, dtype=np.uint8)` (which truncates) and
//!    `cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(...)`.
//! 4. [`gamma_lut`] + [`apply_lut`]: retina-unet's gamma 1.2 table (floored to u8) via `cv2.LUT`.
//! 5. `x / 255.0`.
//!
//! [`drive_preprocess`] chains them for one set (the training set or the test set: the
//! standardisation statistics are per set, exactly as the authors call `my_PreProc` per set).
//!
//! Why the CLAHE matches OpenCV exactly: [`Clahe`] follows the CPU 8-bit path of OpenCV 4.x
//! `modules/imgproc/src/clahe.cpp` operation by operation: the same reflect-101 padding when the
//! image does not split evenly into tiles, the same integer histogram clipping and redistribution,
//! the same `f32` lookup-table scale rounded half to even (`cvRound`), and the same `f32` bilinear
//! blend between tile tables with the same order of operations. Integer-to-float conversions
//! and single-precision products round identically in Rust and C++ (no fused multiply-add on
//! either side), so the outputs agree bit for bit; the tests check that against vectors written
//! by the real OpenCV (`scripts/reference/drive_preprocessing_reference.py`).

/// One 8-bit RGB image: `height * width * 3` bytes, row-major, channels interleaved `R, G, B`.
#[derive(Clone, Copy, Debug)]
pub struct RgbImage<'a> {
    /// The interleaved `R, G, B` bytes, row after row.
    pub pixels: &'a [u8],
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
}

impl<'a> RgbImage<'a> {
    /// Wraps interleaved RGB bytes.
    ///
    /// # Panics
    /// If `pixels.len() != height * width * 3`.
    pub fn new(pixels: &'a [u8], height: usize, width: usize) -> Self {
        assert_eq!(
            pixels.len(),
            height * width * 3,
            "an RGB image of {height}x{width} needs {} bytes",
            height * width * 3
        );
        Self {
            pixels,
            height,
            width,
        }
    }
}

/// The CLAHE of the retina-unet preprocessing: `clipLimit=2.0, tileGridSize=(8, 8)`.
pub const DRIVE_CLAHE: Clahe = Clahe {
    clip_limit: 2.0,
    tiles_x: 8,
    tiles_y: 8,
};

/// The gamma of the retina-unet preprocessing (`adjust_gamma(imgs, 1.2)`).
pub const DRIVE_GAMMA: f64 = 1.2;

/// Steps 1-5 for a whole set: the network inputs, `height * width` values in `[0, 1]` per image.
///
/// Every value is a multiple of `1/255`; [`drive_preprocess_u8`] returns the exact integers.
pub fn drive_preprocess(images: &[RgbImage<'_>]) -> Vec<Vec<f64>> {
    drive_preprocess_u8(images)
        .into_iter()
        .map(|image| image.into_iter().map(|v| f64::from(v) / 255.0).collect())
        .collect()
}

/// Steps 1-4 for a whole set: the gamma-corrected bytes that step 5 divides by 255.
///
/// All images of a set share the standardisation statistics, so the result depends on the
/// whole slice, not on each image alone. (numpy needs equally sized images; here sizes may
/// differ, and the statistics are those of all pixels of all images.)
pub fn drive_preprocess_u8(images: &[RgbImage<'_>]) -> Vec<Vec<u8>> {
    let grays: Vec<Vec<f64>> = images.iter().map(|&image| gray(image)).collect();
    let rescaled = standardize_and_rescale(&grays);
    let lut = gamma_lut(DRIVE_GAMMA);
    rescaled
        .iter()
        .zip(images)
        .map(|(values, image)| {
            let equalized = DRIVE_CLAHE.apply(&truncate_to_u8(values), image.height, image.width);
            apply_lut(&equalized, &lut)
        })
        .collect()
}

/// Step 1: the luma of each pixel, `0.299 R + 0.587 G + 0.114 B`, unrounded.
///
/// The sum is evaluated left to right like numpy's `r*0.299 + g*0.587 + b*0.114`, so the f64
/// results are identical, not merely close.
///
/// # Panics
/// If the image's byte count does not match its size.
pub fn gray(image: RgbImage<'_>) -> Vec<f64> {
    assert_eq!(image.pixels.len(), image.height * image.width * 3);
    image
        .pixels
        .chunks_exact(3)
        .map(|p| f64::from(p[0]) * 0.299 + f64::from(p[1]) * 0.587 + f64::from(p[2]) * 0.114)
        .collect()
}

/// The mean and population standard deviation (`np.mean`, `np.std` with `ddof=0`) of all values
/// of all images, taken as one array with the images back to back.
///
/// numpy sums a contiguous array with pairwise summation, and so does this function; the
/// standard deviation is `sqrt(sum((x - mean)^2) / n)` as in numpy's `_var`.
pub fn dataset_mean_std(grays: &[Vec<f64>]) -> (f64, f64) {
    let all = grays.concat();
    let count = all.len() as f64;
    let mean = pairwise_sum(&all) / count;
    let squared_deviations: Vec<f64> = all
        .iter()
        .map(|&x| {
            let d = x - mean;
            d * d
        })
        .collect();
    let std = (pairwise_sum(&squared_deviations) / count).sqrt();
    (mean, std)
}

/// Step 2: standardise with the statistics of the whole set ([`dataset_mean_std`]), then stretch
/// each image to `[0, 255]` with its own minimum and maximum (retina-unet's `dataset_normalized`).
///
/// An image whose standardised values are all equal divides 0 by 0 and yields NaN, as numpy does.
pub fn standardize_and_rescale(grays: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let (mean, std) = dataset_mean_std(grays);
    grays
        .iter()
        .map(|image| {
            let standardized: Vec<f64> = image.iter().map(|&x| (x - mean) / std).collect();
            let min = standardized.iter().copied().fold(f64::INFINITY, f64::min);
            let max = standardized
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            // Same operation order as `((x - min) / (max - min)) * 255`: the maximum maps to
            // exactly 255.0 and nothing exceeds it.
            standardized
                .iter()
                .map(|&x| ((x - min) / (max - min)) * 255.0)
                .collect()
        })
        .collect()
}

/// `np.array(values, dtype=np.uint8)`: the fractional part is dropped, not rounded.
///
/// The authors cast the `[0, 255]` floats straight to `uint8` before CLAHE, and numpy's cast
/// truncates toward zero, so 254.9 becomes 254. Rounding here instead would change about half
/// of all pixels by one grey level. Out-of-range values (never produced by step 2) saturate and
/// NaN becomes 0.
pub fn truncate_to_u8(values: &[f64]) -> Vec<u8> {
    values.iter().map(|&v| v as u8).collect()
}

/// numpy's pairwise summation of a contiguous float64 array (`pairwise_sum_DOUBLE` in
/// `loops_utils.h.src`), starting from the additive identity 0.
///
/// Below 8 values a plain loop; up to 128 values eight interleaved partial sums; above that the
/// array is halved (at a multiple of 8) and both halves are summed recursively. Reproducing the
/// exact order makes `np.mean`/`np.std` agree to the last bit, which matters because step 2
/// ends in a truncation to integers.
pub fn pairwise_sum(values: &[f64]) -> f64 {
    0.0 + pairwise_block(values)
}

fn pairwise_block(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |sum, &v| sum + v)
    } else if n <= BLOCK {
        let mut partial = [0.0; 8];
        partial.copy_from_slice(&values[..8]);
        let unrolled_end = n - n % 8;
        for chunk in values[8..unrolled_end].chunks_exact(8) {
            for (p, &v) in partial.iter_mut().zip(chunk) {
                *p += v;
            }
        }
        let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
            + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for &v in &values[unrolled_end..] {
            sum += v;
        }
        sum
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_block(&values[..half]) + pairwise_block(&values[half..])
    }
}

/// Contrast Limited Adaptive Histogram Equalization of 8-bit grey images, bit-exact with
/// OpenCV 4.x `cv2.createCLAHE(clipLimit, tileGridSize=(tiles_x, tiles_y)).apply(image)`.
///
/// The image is cut into `tiles_x` by `tiles_y` tiles; each tile gets an equalising lookup table
/// from its clipped histogram, and every pixel blends the tables of the (up to) four nearest tile
/// centres bilinearly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clahe {
    /// OpenCV's `clipLimit`: a histogram bin may hold at most `clip_limit` times the mean bin
    /// count of a tile (at least 1 pixel). Zero or negative disables clipping.
    pub clip_limit: f64,
    /// Number of tile columns (OpenCV's `tileGridSize.width`).
    pub tiles_x: usize,
    /// Number of tile rows (OpenCV's `tileGridSize.height`).
    pub tiles_y: usize,
}

/// Number of histogram bins for 8-bit images.
const HIST_SIZE: usize = 256;

impl Clahe {
    /// Equalises a `height x width` row-major 8-bit image; returns a new image of the same size.
    ///
    /// Any size works, including sizes not divisible by the grid and images smaller than it.
    ///
    /// # Panics
    /// If `tiles_x` or `tiles_y` is 0, or if `pixels.len() != height * width`.
    pub fn apply(&self, pixels: &[u8], height: usize, width: usize) -> Vec<u8> {
        assert!(
            self.tiles_x > 0 && self.tiles_y > 0,
            "the CLAHE tile grid must be at least 1x1"
        );
        assert_eq!(
            pixels.len(),
            height * width,
            "a grey image of {height}x{width} needs {} bytes",
            height * width
        );
        if pixels.is_empty() {
            return Vec::new();
        }
        let grid = TileGrid::new(height, width, self.tiles_x, self.tiles_y);
        let luts = self.tile_luts(pixels, &grid);
        interpolate(pixels, &grid, &luts)
    }

    /// OpenCV's integer clip limit for tiles of `tile_area` pixels, or 0 for "no clipping".
    fn clip_count(&self, tile_area: usize) -> i64 {
        if self.clip_limit > 0.0 {
            // `static_cast<int>(clipLimit * tileArea / histSize)`: truncation, at least 1.
            ((self.clip_limit * tile_area as f64 / HIST_SIZE as f64) as i64).max(1)
        } else {
            0
        }
    }

    /// One lookup table per tile, row-major over the grid (OpenCV's `CLAHE_CalcLut_Body`).
    fn tile_luts(&self, pixels: &[u8], grid: &TileGrid) -> Vec<[u8; HIST_SIZE]> {
        let tile_area = grid.tile_width * grid.tile_height;
        let clip = self.clip_count(tile_area);
        // `static_cast<float>(histSize - 1) / tileSizeTotal`: a single-precision scale.
        let lut_scale = (HIST_SIZE - 1) as f32 / tile_area as f32;

        let mut luts = Vec::with_capacity(grid.tiles_x * grid.tiles_y);
        for tile_y in 0..grid.tiles_y {
            for tile_x in 0..grid.tiles_x {
                let mut hist = [0i64; HIST_SIZE];
                let rows = tile_y * grid.tile_height..(tile_y + 1) * grid.tile_height;
                let cols = tile_x * grid.tile_width..(tile_x + 1) * grid.tile_width;
                for &src_row in &grid.padded_rows[rows] {
                    let row = &pixels[src_row * grid.width..(src_row + 1) * grid.width];
                    for &src_col in &grid.padded_cols[cols.clone()] {
                        hist[usize::from(row[src_col])] += 1;
                    }
                }
                if clip > 0 {
                    clip_and_redistribute(&mut hist, clip);
                }
                let mut lut = [0u8; HIST_SIZE];
                let mut cumulative = 0i64;
                for (entry, &count) in lut.iter_mut().zip(&hist) {
                    cumulative += count;
                    *entry = saturate_round(cumulative as f32 * lut_scale);
                }
                luts.push(lut);
            }
        }
        luts
    }
}

/// Caps every bin at `clip` and hands the excess back out, the way OpenCV does it: an equal
/// share to every bin, then one extra pixel to every `residual_step`-th bin from bin 0 until the
/// remainder is used up. (Redistributed bins may exceed `clip` again; OpenCV does not iterate.)
fn clip_and_redistribute(hist: &mut [i64; HIST_SIZE], clip: i64) {
    let mut clipped = 0;
    for count in hist.iter_mut() {
        if *count > clip {
            clipped += *count - clip;
            *count = clip;
        }
    }
    let bins = HIST_SIZE as i64;
    let batch = clipped / bins;
    let mut residual = clipped - batch * bins;
    for count in hist.iter_mut() {
        *count += batch;
    }
    if residual != 0 {
        let residual_step = (HIST_SIZE / residual as usize).max(1);
        let mut bin = 0;
        while bin < HIST_SIZE && residual > 0 {
            hist[bin] += 1;
            bin += residual_step;
            residual -= 1;
        }
    }
}

/// `cv::saturate_cast<uchar>(float)`: `cvRound` (round half to even, the SSE conversion on
/// x86-64) then clamping to `0..=255`.
fn saturate_round(value: f32) -> u8 {
    (value.round_ties_even() as i32).clamp(0, 255) as u8
}

/// How the image is cut into tiles, and which source pixel each padded position reads.
struct TileGrid {
    width: usize,
    tiles_x: usize,
    tiles_y: usize,
    tile_width: usize,
    tile_height: usize,
    /// Source row of each row of the padded image (`tiles_y * tile_height` entries).
    padded_rows: Vec<usize>,
    /// Source column of each column of the padded image (`tiles_x * tile_width` entries).
    padded_cols: Vec<usize>,
}

impl TileGrid {
    fn new(height: usize, width: usize, tiles_x: usize, tiles_y: usize) -> Self {
        // OpenCV only builds tile histograms over whole tiles. When the image does not divide
        // evenly it pads the bottom and right with `copyMakeBorder(..., BORDER_REFLECT_101)`.
        // The padding amount is `tiles - size % tiles` in BOTH directions as soon as EITHER
        // one is uneven, so an evenly divisible side still grows by a whole tile; reproducing
        // that quirk is what keeps the tile sizes, and hence the output, identical.
        let (padded_height, padded_width) =
            if height.is_multiple_of(tiles_y) && width.is_multiple_of(tiles_x) {
                (height, width)
            } else {
                (
                    height + tiles_y - height % tiles_y,
                    width + tiles_x - width % tiles_x,
                )
            };
        Self {
            width,
            tiles_x,
            tiles_y,
            tile_width: padded_width / tiles_x,
            tile_height: padded_height / tiles_y,
            padded_rows: (0..padded_height).map(|y| reflect_101(y, height)).collect(),
            padded_cols: (0..padded_width).map(|x| reflect_101(x, width)).collect(),
        }
    }
}

/// OpenCV's `borderInterpolate(p, len, BORDER_REFLECT_101)` for `p >= 0`: mirror about the last
/// pixel without repeating it (`abcd|cba`), bouncing back and forth when the padding is longer
/// than the image (images smaller than the tile grid).
fn reflect_101(position: usize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let len = len as isize;
    let mut p = position as isize;
    while p < 0 || p >= len {
        p = if p < 0 { -p } else { 2 * len - 2 - p };
    }
    p as usize
}

/// The two tiles whose tables blend along one axis, and the weights of the first and second.
#[derive(Clone, Copy)]
struct Blend {
    first: usize,
    second: usize,
    first_weight: f32,
    second_weight: f32,
}

impl Blend {
    /// OpenCV's `txf = x * inv_tw - 0.5f; tx1 = cvFloor(txf); xa = txf - tx1` in `f32`, with the
    /// tile indices clamped to the grid (pixels outside the outer tile centres use one tile).
    fn new(position: usize, inv_tile_size: f32, tiles: usize) -> Self {
        let t = position as f32 * inv_tile_size - 0.5;
        let first = t.floor();
        let second_weight = t - first;
        let first = first as isize;
        Self {
            first: first.max(0) as usize,
            second: (first + 1).min(tiles as isize - 1) as usize,
            first_weight: 1.0 - second_weight,
            second_weight,
        }
    }
}

/// Maps every pixel through the bilinear blend of the four nearest tile tables
/// (OpenCV's `CLAHE_Interpolation_Body`). Only the original image is mapped, not the padding.
fn interpolate(pixels: &[u8], grid: &TileGrid, luts: &[[u8; HIST_SIZE]]) -> Vec<u8> {
    let inv_tile_width = 1.0 / grid.tile_width as f32;
    let inv_tile_height = 1.0 / grid.tile_height as f32;
    let columns: Vec<Blend> = (0..grid.width)
        .map(|x| Blend::new(x, inv_tile_width, grid.tiles_x))
        .collect();

    let mut out = Vec::with_capacity(pixels.len());
    for (y, row) in pixels.chunks_exact(grid.width).enumerate() {
        let vertical = Blend::new(y, inv_tile_height, grid.tiles_y);
        let upper = &luts[vertical.first * grid.tiles_x..][..grid.tiles_x];
        let lower = &luts[vertical.second * grid.tiles_x..][..grid.tiles_x];
        for (&value, horizontal) in row.iter().zip(&columns) {
            let v = usize::from(value);
            let (xa1, xa) = (horizontal.first_weight, horizontal.second_weight);
            let (l, r) = (horizontal.first, horizontal.second);
            // The exact expression and evaluation order of OpenCV, all in f32.
            let blended = (f32::from(upper[l][v]) * xa1 + f32::from(upper[r][v]) * xa)
                * vertical.first_weight
                + (f32::from(lower[l][v]) * xa1 + f32::from(lower[r][v]) * xa)
                    * vertical.second_weight;
            out.push(saturate_round(blended));
        }
    }
    out
}

/// Step 4's table: `((i / 255.0) ** (1.0 / gamma)) * 255` cast to `uint8`, as in retina-unet's
/// `adjust_gamma`.
///
/// numpy's `astype("uint8")` truncates, so the table floors (`lut[1] = 2` for gamma 1.2, not the
/// rounded 3). `powf` is the C library `pow` that numpy calls too.
pub fn gamma_lut(gamma: f64) -> [u8; 256] {
    let inv_gamma = 1.0 / gamma;
    let mut lut = [0u8; 256];
    for (i, entry) in lut.iter_mut().enumerate() {
        *entry = ((i as f64 / 255.0).powf(inv_gamma) * 255.0) as u8;
    }
    lut
}

/// `cv2.LUT` for 8-bit images: every pixel replaced by its table entry.
pub fn apply_lut(pixels: &[u8], lut: &[u8; 256]) -> Vec<u8> {
    pixels.iter().map(|&v| lut[usize::from(v)]).collect()
}

#[cfg(test)]
mod tests {
    //! Bit-exact comparisons with vectors written by the real numpy/OpenCV pipeline
    //! (`scripts/reference/drive_preprocessing_reference.py`; the format is described there),
    //! plus properties that hold whatever OpenCV does.

    use super::*;

    const MANIFEST: &str = include_str!("../tests/data/drive_preprocessing/manifest.txt");
    const CLAHE_INPUTS: &[u8] =
        include_bytes!("../tests/data/drive_preprocessing/clahe_inputs.bin");
    const CLAHE_OUTPUTS: &[u8] =
        include_bytes!("../tests/data/drive_preprocessing/clahe_outputs.bin");
    const PIPELINE_INPUTS: &[u8] =
        include_bytes!("../tests/data/drive_preprocessing/pipeline_inputs.bin");
    const PIPELINE_OUTPUTS: &[u8] =
        include_bytes!("../tests/data/drive_preprocessing/pipeline_outputs.bin");

    /// Hands out the bytes of one `.bin` file in manifest order.
    struct Cursor {
        data: &'static [u8],
        at: usize,
    }

    impl Cursor {
        fn new(data: &'static [u8]) -> Self {
            Self { data, at: 0 }
        }

        fn take(&mut self, len: usize) -> &'static [u8] {
            let bytes = &self.data[self.at..self.at + len];
            self.at += len;
            bytes
        }

        fn assert_consumed(&self, name: &str) {
            assert_eq!(
                self.at,
                self.data.len(),
                "{name} not fully used by the manifest"
            );
        }
    }

    /// What the reference stored for one output: all of it, some rows and a hash, or a hash.
    enum Expected {
        Full(&'static [u8]),
        Rows {
            step: usize,
            rows: &'static [u8],
            fnv: u64,
        },
        Hash(u64),
    }

    impl Expected {
        /// Parses `full`, `rows:STEP:FNV` or `hash:FNV` for an output of `rows` rows of `width`.
        fn parse(spec: &str, rows: usize, width: usize, cursor: &mut Cursor) -> Self {
            let parts: Vec<&str> = spec.split(':').collect();
            match parts[..] {
                ["full"] => Expected::Full(cursor.take(rows * width)),
                ["rows", step, fnv] => {
                    let step: usize = step.parse().unwrap();
                    Expected::Rows {
                        step,
                        rows: cursor.take(rows.div_ceil(step) * width),
                        fnv: u64::from_str_radix(fnv, 16).unwrap(),
                    }
                }
                ["hash", fnv] => Expected::Hash(u64::from_str_radix(fnv, 16).unwrap()),
                _ => panic!("unknown output spec {spec}"),
            }
        }

        /// `None` when `actual` matches; otherwise how it differs.
        fn mismatch(&self, actual: &[u8], width: usize) -> Option<String> {
            let differing = |expected: &[u8], actual: &[u8]| {
                assert_eq!(expected.len(), actual.len());
                expected.iter().zip(actual).filter(|(e, a)| e != a).count()
            };
            match self {
                Expected::Full(expected) => {
                    let n = differing(expected, actual);
                    (n > 0).then(|| format!("{n} of {} pixels differ", actual.len()))
                }
                Expected::Rows { step, rows, fnv } => {
                    let sampled: Vec<u8> = actual
                        .chunks_exact(width)
                        .step_by(*step)
                        .flatten()
                        .copied()
                        .collect();
                    let n = differing(rows, &sampled);
                    let hash_ok = fnv1a64(actual) == *fnv;
                    (n > 0 || !hash_ok).then(|| {
                        format!(
                            "{n} of {} sampled pixels differ, whole-image hash {}",
                            sampled.len(),
                            if hash_ok { "matches" } else { "differs" }
                        )
                    })
                }
                Expected::Hash(fnv) => {
                    (fnv1a64(actual) != *fnv).then(|| "whole-output hash differs".to_string())
                }
            }
        }
    }

    fn fnv1a64(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    // The integer image formulas of the reference script (`hash32`, `retina_base`,
    // `retina_gray`, `retina_rgb`), so that DRIVE-sized inputs need no stored bytes.

    fn hash32(x: u32, y: u32, seed: u32) -> u32 {
        let mut v = x
            .wrapping_mul(0x9E37_79B1)
            .wrapping_add(y.wrapping_mul(0x85EB_CA77))
            .wrapping_add(seed.wrapping_mul(0xC2B2_AE3D));
        v ^= v >> 15;
        v = v.wrapping_mul(0x2C1B_3C6D);
        v ^= v >> 12;
        v = v.wrapping_mul(0x297A_2D39);
        v ^ (v >> 15)
    }

    fn retina_base(height: usize, width: usize, x: i64, y: i64) -> i64 {
        let (cy, cx) = ((height / 2) as i64, (width / 2) as i64);
        let r = (height.min(width) * 9 / 20) as i64;
        let r2 = (y - cy).pow(2) + (x - cx).pow(2);
        let inside = r2 < r * r;
        let base = if inside {
            190 - (r2 * 110) / (r * r)
        } else {
            8
        };
        let vessel = inside && (3 * x + 5 * y + (x * y) / 97) % 53 < 3;
        if vessel { base - 45 } else { base }
    }

    fn noise(x: i64, y: i64, seed: u32, modulus: u32) -> i64 {
        i64::from(hash32(x as u32, y as u32, seed) % modulus) - i64::from(modulus / 2)
    }

    fn retina_gray(height: usize, width: usize, seed: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(height * width);
        for y in 0..height as i64 {
            for x in 0..width as i64 {
                let base = retina_base(height, width, x, y);
                out.push((base + noise(x, y, seed, 17)).clamp(0, 255) as u8);
            }
        }
        out
    }

    fn retina_rgb(height: usize, width: usize, seed: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(height * width * 3);
        for y in 0..height as i64 {
            for x in 0..width as i64 {
                let base = retina_base(height, width, x, y);
                let r = base + 50 + noise(x, y, 3 * seed, 21);
                let g = base * 3 / 5 + noise(x, y, 3 * seed + 1, 13);
                let b = base / 4 + noise(x, y, 3 * seed + 2, 9);
                out.extend([r, g, b].map(|c| c.clamp(0, 255) as u8));
            }
        }
        out
    }

    /// A grey input of the manifest.
    struct GrayInput {
        name: String,
        height: usize,
        width: usize,
        pixels: Vec<u8>,
    }

    struct ClaheCase {
        input: usize,
        clahe: Clahe,
        expected: Expected,
    }

    struct PipelineCase {
        name: String,
        height: usize,
        width: usize,
        /// One interleaved RGB buffer per image.
        images: Vec<Vec<u8>>,
        mean_bits: u64,
        std_bits: u64,
        /// `(stage, expected)` for `standardized_u8`, `clahe` and `gamma`.
        stages: Vec<(String, Expected)>,
    }

    struct Reference {
        opencv: String,
        inputs: Vec<GrayInput>,
        clahe: Vec<ClaheCase>,
        gamma: Vec<(f64, Vec<u8>)>,
        pipelines: Vec<PipelineCase>,
    }

    fn reference() -> Reference {
        let mut clahe_in = Cursor::new(CLAHE_INPUTS);
        let mut clahe_out = Cursor::new(CLAHE_OUTPUTS);
        let mut pipe_in = Cursor::new(PIPELINE_INPUTS);
        let mut pipe_out = Cursor::new(PIPELINE_OUTPUTS);
        let mut reference = Reference {
            opencv: String::new(),
            inputs: Vec::new(),
            clahe: Vec::new(),
            gamma: Vec::new(),
            pipelines: Vec::new(),
        };
        for line in MANIFEST.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let num = |i: usize| -> usize { fields[i].parse().unwrap() };
            match fields.first().copied() {
                None | Some("numpy") => {}
                Some(comment) if comment.starts_with('#') => {}
                Some("opencv") => reference.opencv = fields[1].to_string(),
                Some("input") => {
                    let (height, width) = (num(2), num(3));
                    let pixels = match fields[4].split_once(':') {
                        None => clahe_in.take(height * width).to_vec(),
                        Some(("retina", seed)) => retina_gray(height, width, seed.parse().unwrap()),
                        Some(_) => panic!("unknown input source in {line}"),
                    };
                    reference.inputs.push(GrayInput {
                        name: fields[1].to_string(),
                        height,
                        width,
                        pixels,
                    });
                }
                Some("clahe") => {
                    let input = reference
                        .inputs
                        .iter()
                        .position(|i| i.name == fields[1])
                        .unwrap();
                    let (height, width) = (
                        reference.inputs[input].height,
                        reference.inputs[input].width,
                    );
                    reference.clahe.push(ClaheCase {
                        input,
                        clahe: Clahe {
                            clip_limit: fields[2].parse().unwrap(),
                            tiles_x: num(3),
                            tiles_y: num(4),
                        },
                        expected: Expected::parse(fields[5], height, width, &mut clahe_out),
                    });
                }
                Some("gamma_lut") => reference.gamma.push((
                    fields[1].parse().unwrap(),
                    fields[2..].iter().map(|v| v.parse().unwrap()).collect(),
                )),
                Some("pipeline") => {
                    let (count, height, width) = (num(2), num(3), num(4));
                    let images = match fields[5].split_once(':') {
                        None => (0..count)
                            .map(|_| pipe_in.take(height * width * 3).to_vec())
                            .collect(),
                        Some(("retina_rgb", seed)) => {
                            let seed: u32 = seed.parse().unwrap();
                            (0..count as u32)
                                .map(|i| retina_rgb(height, width, seed + i))
                                .collect()
                        }
                        Some(_) => panic!("unknown pipeline source in {line}"),
                    };
                    reference.pipelines.push(PipelineCase {
                        name: fields[1].to_string(),
                        height,
                        width,
                        images,
                        mean_bits: 0,
                        std_bits: 0,
                        stages: Vec::new(),
                    });
                }
                Some("pipeline_stats") => {
                    let case = reference.pipelines.last_mut().unwrap();
                    assert_eq!(case.name, fields[1]);
                    case.mean_bits = u64::from_str_radix(fields[2], 16).unwrap();
                    case.std_bits = u64::from_str_radix(fields[3], 16).unwrap();
                }
                Some("pipeline_stage") => {
                    let case = reference.pipelines.last_mut().unwrap();
                    assert_eq!(case.name, fields[1]);
                    let rows = case.images.len() * case.height;
                    let expected = Expected::parse(fields[3], rows, case.width, &mut pipe_out);
                    case.stages.push((fields[2].to_string(), expected));
                }
                Some(other) => panic!("unknown manifest record {other}"),
            }
        }
        clahe_in.assert_consumed("clahe_inputs.bin");
        clahe_out.assert_consumed("clahe_outputs.bin");
        pipe_in.assert_consumed("pipeline_inputs.bin");
        pipe_out.assert_consumed("pipeline_outputs.bin");
        reference
    }

    #[test]
    fn reference_data_is_complete() {
        let reference = reference();
        assert!(
            !reference.opencv.is_empty(),
            "the OpenCV version is not recorded"
        );
        assert!(reference.clahe.len() >= 40);
        assert_eq!(reference.gamma.len(), 1);
        assert_eq!(reference.pipelines.len(), 2);
        assert!(reference.pipelines.iter().all(|p| p.stages.len() == 3));
    }

    #[test]
    fn clahe_matches_opencv_bit_for_bit() {
        let reference = reference();
        let mut failures = Vec::new();
        for case in &reference.clahe {
            let input = &reference.inputs[case.input];
            let actual = case.clahe.apply(&input.pixels, input.height, input.width);
            if let Some(why) = case.expected.mismatch(&actual, input.width) {
                failures.push(format!(
                    "{} ({}x{}) clip {} grid {}x{}: {why}",
                    input.name,
                    input.height,
                    input.width,
                    case.clahe.clip_limit,
                    case.clahe.tiles_x,
                    case.clahe.tiles_y
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "CLAHE differs from OpenCV {} in {} of {} cases:\n{}",
            reference.opencv,
            failures.len(),
            reference.clahe.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn gamma_lut_matches_numpy() {
        for (gamma, expected) in reference().gamma {
            assert_eq!(gamma_lut(gamma).to_vec(), expected, "gamma {gamma}");
        }
    }

    #[test]
    fn pipeline_matches_numpy_and_opencv() {
        let mut failures = Vec::new();
        for case in reference().pipelines {
            let images: Vec<RgbImage<'_>> = case
                .images
                .iter()
                .map(|pixels| RgbImage::new(pixels, case.height, case.width))
                .collect();
            let grays: Vec<Vec<f64>> = images.iter().map(|&image| gray(image)).collect();

            let (mean, std) = dataset_mean_std(&grays);
            for (what, actual, expected) in
                [("mean", mean, case.mean_bits), ("std", std, case.std_bits)]
            {
                if actual.to_bits() != expected {
                    failures.push(format!(
                        "{}: {what} {actual:e} differs from numpy's {:e} by {} ulp",
                        case.name,
                        f64::from_bits(expected),
                        actual.to_bits().abs_diff(expected)
                    ));
                }
            }

            // Each stage is checked on its own input from the previous Rust stage, and the
            // public one-call entry point must give the same final bytes.
            let standardized: Vec<u8> = standardize_and_rescale(&grays)
                .iter()
                .flat_map(|image| truncate_to_u8(image))
                .collect();
            let equalized: Vec<u8> = standardized
                .chunks_exact(case.height * case.width)
                .flat_map(|image| DRIVE_CLAHE.apply(image, case.height, case.width))
                .collect();
            let gamma = apply_lut(&equalized, &gamma_lut(DRIVE_GAMMA));
            assert_eq!(drive_preprocess_u8(&images).concat(), gamma);
            let as_f64 = drive_preprocess(&images).concat();
            assert!(
                as_f64
                    .iter()
                    .zip(&gamma)
                    .all(|(&f, &u)| f == f64::from(u) / 255.0)
            );

            for (stage, expected) in &case.stages {
                let actual = match stage.as_str() {
                    "standardized_u8" => &standardized,
                    "clahe" => &equalized,
                    "gamma" => &gamma,
                    other => panic!("unknown stage {other}"),
                };
                if let Some(why) = expected.mismatch(actual, case.width) {
                    failures.push(format!("{} stage {stage}: {why}", case.name));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn clahe_of_a_constant_image_is_constant() {
        for (height, width) in [(64, 64), (45, 37), (3, 5), (1, 1), (100, 7)] {
            for value in [0u8, 1, 117, 254, 255] {
                for clahe in [
                    DRIVE_CLAHE,
                    Clahe {
                        clip_limit: 40.0,
                        tiles_x: 3,
                        tiles_y: 5,
                    },
                    Clahe {
                        clip_limit: 0.0,
                        tiles_x: 1,
                        tiles_y: 1,
                    },
                ] {
                    let out = clahe.apply(&vec![value; height * width], height, width);
                    assert!(
                        out.iter().all(|&v| v == out[0]),
                        "{height}x{width} of {value} with {clahe:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn one_unclipped_tile_is_global_histogram_equalization() {
        // With one tile and no clipping every pixel uses the same table,
        // round(cdf(v) * 255 / N). With N = 256 the scale 255/256 is exact in f32 and f64, so
        // this can be computed independently, ties rounded half to even included.
        let pixels: Vec<u8> = (0..256u32)
            .map(|i| (hash32(i, 0, 5) % 40 + (i % 7) * 30) as u8)
            .collect();
        let mut cdf = [0u32; 256];
        for &v in &pixels {
            cdf[usize::from(v)] += 1;
        }
        for i in 1..256 {
            cdf[i] += cdf[i - 1];
        }
        let expected: Vec<u8> = pixels
            .iter()
            .map(|&v| (f64::from(cdf[usize::from(v)]) * 255.0 / 256.0).round_ties_even() as u8)
            .collect();
        let clahe = Clahe {
            clip_limit: 0.0,
            tiles_x: 1,
            tiles_y: 1,
        };
        assert_eq!(clahe.apply(&pixels, 16, 16), expected);
    }

    #[test]
    fn clipping_redistributes_every_clipped_pixel() {
        let mut hist = [0i64; HIST_SIZE];
        hist[3] = 1000;
        hist[200] = 74;
        hist[201] = 5;
        let total: i64 = hist.iter().sum();
        clip_and_redistribute(&mut hist, 10);
        assert_eq!(hist.iter().sum::<i64>(), total);
        // 990 + 64 = 1054 clipped: 4 to every bin, the remaining 30 to every 256/30 = 8th bin.
        assert_eq!(hist[0], 5);
        assert_eq!(hist[1], 4);
        assert_eq!(hist[3], 14);
        assert_eq!(hist[200], 15);
        assert_eq!(hist[201], 9);
        assert_eq!(hist[232], 5);
        assert_eq!(hist[240], 4);
    }

    #[test]
    fn reflect_101_mirrors_without_repeating_the_edge() {
        let mirrored: Vec<usize> = (0..12).map(|p| reflect_101(p, 4)).collect();
        assert_eq!(mirrored, [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]);
        assert!((0..10).all(|p| reflect_101(p, 1) == 0));
    }

    #[test]
    fn gamma_lut_is_monotone_and_keeps_the_ends() {
        for gamma in [0.5, 1.0, DRIVE_GAMMA, 2.2] {
            let lut = gamma_lut(gamma);
            assert_eq!((lut[0], lut[255]), (0, 255), "gamma {gamma}");
            assert!(lut.windows(2).all(|w| w[0] <= w[1]), "gamma {gamma}");
        }
        // Gamma above 1 brightens the dark end, and flooring (not rounding) is what numpy does.
        let lut = gamma_lut(DRIVE_GAMMA);
        assert!((1..255).all(|i| lut[i] >= i as u8));
        assert_eq!(lut[1], 2);
    }

    #[test]
    fn rescaled_images_span_0_to_255_and_truncate() {
        let a: Vec<u8> = (0..60u8).flat_map(|i| [i, 2 * i, 3 * i]).collect();
        let b: Vec<u8> = (0..60u8).flat_map(|i| [200 - i, 10, i]).collect();
        let grays = [
            gray(RgbImage::new(&a, 6, 10)),
            gray(RgbImage::new(&b, 6, 10)),
        ];
        for image in standardize_and_rescale(&grays) {
            let min = image.iter().copied().fold(f64::INFINITY, f64::min);
            let max = image.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!((min, max), (0.0, 255.0));
        }
        assert_eq!(
            truncate_to_u8(&[0.0, 0.999, 1.0, 254.9, 255.0]),
            [0, 0, 1, 254, 255]
        );
    }

    #[test]
    fn pairwise_sum_is_exact_on_integers_and_matches_small_sums() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&values), 499_500.0);
        assert_eq!(pairwise_sum(&[0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn drive_preprocess_outputs_lie_in_the_unit_interval() {
        let pixels: Vec<u8> = (0..48 * 40 * 3)
            .map(|i| (hash32(i, 1, 2) % 256) as u8)
            .collect();
        let outputs = drive_preprocess(&[RgbImage::new(&pixels, 48, 40)]);
        assert_eq!(outputs[0].len(), 48 * 40);
        assert!(outputs[0].iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
