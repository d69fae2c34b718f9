//! Shared decoding for the dataset pipelines: 8-bit images from PNG, JPEG, GIF and TIFF bytes,
//! multi-page TIFF stacks, the image columns of Hugging Face parquet tables, the gray
//! conversions the authors' libraries use, and the bookkeeping of which files were read (with
//! their SHA-256) and where a dataset's files sit inside a downloaded folder.
//!
//! Every error names the file it concerns, so a user with a damaged or foreign copy of a
//! dataset learns which file to look at.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::DynamicImage;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// An 8-bit raster with interleaved channels (H, W, C), as image files store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster8 {
    /// Number of rows.
    pub height: usize,
    /// Number of columns.
    pub width: usize,
    /// Samples per pixel: 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// `height * width * channels` samples, row-major, channels interleaved.
    pub samples: Vec<u8>,
}

impl Raster8 {
    /// The samples divided by `divisor` (255 for [0, 1]; a division, not a multiplication by
    /// 1/255, so values equal the data crate's PNG decoding bit for bit), reordered to the
    /// (C, H, W) planes of the data crate's [`Image`](spiking_unet_data::Image).
    pub fn to_planes(&self, divisor: f32) -> Vec<f32> {
        let plane = self.height * self.width;
        let mut planes = vec![0.0; self.channels * plane];
        for (pixel, values) in self.samples.chunks_exact(self.channels).enumerate() {
            for (channel, &value) in values.iter().enumerate() {
                planes[channel * plane + pixel] = f32::from(value) / divisor;
            }
        }
        planes
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The files a pipeline read, as (path relative to the dataset root with `/` separators,
/// SHA-256 hex), so that results can name their exact inputs.
#[derive(Debug, Clone)]
pub struct SourceLog {
    root: PathBuf,
    files: BTreeMap<String, String>,
}

impl SourceLog {
    /// An empty log for the dataset rooted at `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    /// Reads `path` (under the root) and records its hash.
    pub fn read(&mut self, path: &Path) -> Result<Vec<u8>> {
        let bytes = fs::read(path).map_err(Error::io(path))?;
        self.record(path, &bytes);
        Ok(bytes)
    }

    /// Records the hash of `bytes`, the content of `path`, read by other means (a parquet
    /// reader opens its file itself).
    pub fn record(&mut self, path: &Path, bytes: &[u8]) {
        self.files
            .insert(relative_name(&self.root, path), sha256_hex(bytes));
    }

    /// The recorded (file, sha256) pairs, sorted by file.
    pub fn into_sorted(self) -> Vec<(String, String)> {
        self.files.into_iter().collect()
    }
}

/// `path` relative to `root`, with `/` separators whatever the platform (the form the sources
/// lists and the manifests use); `path` itself, displayed, if it is not under `root`.
pub fn relative_name(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(relative) => relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

/// How deep [`find_path`] and [`files_under`] descend: archives unpack into a folder or two
/// (`BSDS500-master/BSDS500/data/images/...`), and a bound keeps a symlink loop from hanging.
const MAX_SEARCH_DEPTH: usize = 8;

/// The first existing `folder.join(relative)`, trying `root` itself first and then its
/// subfolders breadth first in name order: unpacked archives put their content one or more
/// folders down (`DRIVE/training/...`, `unet-master/data/membrane/...`).
pub fn find_path(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut level = vec![root.to_path_buf()];
    for _ in 0..=MAX_SEARCH_DEPTH {
        let mut next = Vec::new();
        for folder in &level {
            let candidate = folder.join(relative);
            if candidate.exists() {
                return Some(candidate);
            }
            next.extend(subfolders(folder));
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    None
}

/// Every file under `root` (recursively, following symbolic links as the Hugging Face cache
/// uses them) whose name satisfies `keep`, sorted by path.
pub fn files_under(root: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![root.to_path_buf()];
    for _ in 0..=MAX_SEARCH_DEPTH {
        let mut next = Vec::new();
        for folder in &level {
            let Ok(entries) = fs::read_dir(folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    next.push(path);
                } else if path.is_file()
                    && path
                        .file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(&keep)
                {
                    found.push(path);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    found.sort();
    found
}

fn subfolders(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut folders: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    folders
}

/// Decodes PNG, JPEG, GIF or TIFF bytes (format guessed from the content; the first page or
/// frame of multi-image files) with the `image` crate.
pub fn decode_image(bytes: &[u8], file: &Path) -> Result<DynamicImage> {
    image::load_from_memory(bytes).map_err(|error| Error::Decode {
        file: file.to_path_buf(),
        detail: error.to_string(),
    })
}

/// Decodes an image file to 8-bit gray.
///
/// Gray files keep their samples (alpha dropped; 16-bit scaled to 8 by the `image` crate).
/// Colour files are converted with the ITU-R BT.601 luma in OpenCV's fixed-point form
/// ([`rgb_to_gray_u8`]), as `cv2.cvtColor(..., COLOR_RGB2GRAY)` in the authors' code does; the
/// `image` crate's own conversion would use the BT.709 weights instead.
pub fn decode_gray8(bytes: &[u8], file: &Path) -> Result<Raster8> {
    let decoded = decode_image(bytes, file)?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let samples = match decoded {
        DynamicImage::ImageLuma8(buffer) => buffer.into_raw(),
        DynamicImage::ImageLumaA8(buffer) => {
            buffer.into_raw().chunks_exact(2).map(|p| p[0]).collect()
        }
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_) => {
            decoded.to_luma8().into_raw()
        }
        other => rgb_to_gray_u8(&other.to_rgb8().into_raw()),
    };
    Ok(Raster8 {
        height,
        width,
        channels: 1,
        samples,
    })
}

/// Decodes an image file to 8-bit RGB (gray files replicated to three channels, alpha and
/// palettes resolved by the `image` crate).
pub fn decode_rgb8(bytes: &[u8], file: &Path) -> Result<Raster8> {
    let decoded = decode_image(bytes, file)?;
    let rgb = decoded.to_rgb8();
    Ok(Raster8 {
        height: rgb.height() as usize,
        width: rgb.width() as usize,
        channels: 3,
        samples: rgb.into_raw(),
    })
}

/// The luma `0.299 R + 0.587 G + 0.114 B` of interleaved RGB bytes, unrounded (the first step
/// of the DRIVE preprocessing, numpy's arithmetic).
pub fn rgb_to_gray_f64(rgb: &[u8]) -> Vec<f64> {
    rgb.chunks_exact(3)
        .map(|p| f64::from(p[0]) * 0.299 + f64::from(p[1]) * 0.587 + f64::from(p[2]) * 0.114)
        .collect()
}

/// The BT.601 luma of interleaved RGB bytes as OpenCV's `cvtColor` computes it for 8-bit
/// images: `(4899 R + 9617 G + 1868 B + 8192) >> 14` (the weights 0.299, 0.587, 0.114 in
/// 14-bit fixed point, rounded half up). Equal channels give the channel value back.
pub fn rgb_to_gray_u8(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            let weighted = 4899 * u32::from(p[0]) + 9617 * u32::from(p[1]) + 1868 * u32::from(p[2]);
            // At most 255 * 16384 + 8192 before the shift, so the result fits a u8.
            ((weighted + 8192) >> 14) as u8
        })
        .collect()
}

/// Binary class ids from a gray label image: the authors divide by 255 when the maximum
/// exceeds 1; here samples ≥ 128 become 1 and the rest 0 (identical for the 0/255 masks of
/// DRIVE and ISBI, and robust to stray intermediate values), and images whose values are
/// already 0/1 are kept.
pub fn binary_labels(gray: &[u8]) -> Vec<u8> {
    if gray.iter().all(|&value| value <= 1) {
        gray.to_vec()
    } else {
        gray.iter().map(|&value| u8::from(value >= 128)).collect()
    }
}

/// Every page of a multi-page 8-bit gray TIFF (the ISBI 2012 volumes), in file order.
///
/// `WhiteIsZero` pages are inverted so that 255 is always white.
pub fn tiff_stack(bytes: &[u8], file: &Path) -> Result<Vec<Raster8>> {
    use tiff::decoder::{Decoder, DecodingResult};
    use tiff::tags::Tag;

    let fail = |detail: String| Error::Decode {
        file: file.to_path_buf(),
        detail,
    };
    let mut decoder = Decoder::new(Cursor::new(bytes)).map_err(|e| fail(e.to_string()))?;
    let mut pages = Vec::new();
    loop {
        let page = pages.len();
        let (width, height) = decoder.dimensions().map_err(|e| fail(e.to_string()))?;
        let color = decoder.colortype().map_err(|e| fail(e.to_string()))?;
        if color != tiff::ColorType::Gray(8) {
            return Err(fail(format!(
                "page {page} is {color:?}; expected 8-bit gray"
            )));
        }
        let white_is_zero = decoder
            .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
            .map_err(|e| fail(e.to_string()))?
            == Some(0);
        let samples = match decoder
            .read_image()
            .map_err(|e| fail(format!("page {page}: {e}")))?
        {
            DecodingResult::U8(samples) if white_is_zero => {
                samples.into_iter().map(|v| 255 - v).collect()
            }
            DecodingResult::U8(samples) => samples,
            _ => return Err(fail(format!("page {page} does not hold 8-bit samples"))),
        };
        pages.push(Raster8 {
            height: height as usize,
            width: width as usize,
            channels: 1,
            samples,
        });
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|e| fail(e.to_string()))?;
    }
    Ok(pages)
}

/// One cell of a Hugging Face `Image` column: the encoded file and, when the table has it,
/// the original file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetImage {
    /// The encoded image file (PNG, TIFF, ...).
    pub bytes: Vec<u8>,
    /// The `path` field (usually the original file name), if present and not null.
    pub path: Option<String>,
}

/// The images of `column` of the parquet file at `path`, in row order.
///
/// The `datasets` library stores an `Image` feature as a struct `{bytes: binary, path:
/// string}`; a plain binary column is accepted too. A null cell is an error: every row of the
/// benchmark tables has an image.
pub fn parquet_image_column(path: &Path, column: &str) -> Result<Vec<ParquetImage>> {
    use polars::prelude::*;

    let fail = |detail: String| Error::Decode {
        file: path.to_path_buf(),
        detail,
    };
    let file = fs::File::open(path).map_err(Error::io(path))?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(|e| fail(e.to_string()))?;
    let Ok(cells) = frame.column(column) else {
        let names: Vec<String> = frame
            .get_column_names()
            .iter()
            .map(|name| name.to_string())
            .collect();
        return Err(fail(format!(
            "no column `{column}` (columns: {})",
            names.join(", ")
        )));
    };
    let cells = cells.as_materialized_series();
    let (bytes, names) = match cells.dtype() {
        DataType::Struct(_) => {
            let fields = cells.struct_().map_err(|e| fail(e.to_string()))?;
            let bytes = fields
                .field_by_name("bytes")
                .map_err(|_| fail(format!("column `{column}` has no `bytes` field")))?;
            let names = fields.field_by_name("path").ok();
            (bytes, names)
        }
        _ => (cells.clone(), None),
    };
    let bytes = bytes.binary().map_err(|_| {
        fail(format!(
            "column `{column}` holds {}, not image bytes",
            cells.dtype()
        ))
    })?;
    let names: Vec<Option<String>> = match names.as_ref().and_then(|n| n.str().ok()) {
        Some(strings) => strings.iter().map(|s| s.map(str::to_owned)).collect(),
        None => vec![None; bytes.len()],
    };
    bytes
        .iter()
        .zip(names)
        .enumerate()
        .map(|(row, (cell, name))| match cell {
            Some(cell) => Ok(ParquetImage {
                bytes: cell.to_vec(),
                path: name,
            }),
            None => Err(fail(format!("row {row} of column `{column}` is null"))),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Writers of small image files in the formats the benchmark copies use, for the pipeline
    //! tests.

    use std::io::Cursor;
    use std::path::Path;

    use image::{ImageFormat, RgbImage};

    /// `samples` (interleaved, `channels` 1 or 3) encoded as `format`.
    pub fn encode(
        samples: &[u8],
        height: usize,
        width: usize,
        channels: usize,
        format: ImageFormat,
    ) -> Vec<u8> {
        let image = match channels {
            1 => image::DynamicImage::ImageLuma8(
                image::GrayImage::from_raw(width as u32, height as u32, samples.to_vec()).unwrap(),
            ),
            3 => image::DynamicImage::ImageRgb8(
                RgbImage::from_raw(width as u32, height as u32, samples.to_vec()).unwrap(),
            ),
            _ => panic!("1 or 3 channels"),
        };
        // GIF and JPEG encoders want RGB(A); gray content stays gray through them.
        let image = match format {
            ImageFormat::Gif => image::DynamicImage::ImageRgba8(image.to_rgba8()),
            ImageFormat::Jpeg => image::DynamicImage::ImageRgb8(image.to_rgb8()),
            _ => image,
        };
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// Writes `bytes` to `root/relative`, creating folders.
    pub fn write(root: &Path, relative: &str, bytes: &[u8]) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A multi-page 8-bit gray TIFF of `pages`, each `height` x `width`.
    pub fn tiff_pages(pages: &[Vec<u8>], height: usize, width: usize) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut encoder = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
            for page in pages {
                encoder
                    .write_image::<tiff::encoder::colortype::Gray8>(
                        width as u32,
                        height as u32,
                        page,
                    )
                    .unwrap();
            }
        }
        out.into_inner()
    }

    /// (encoded image, file name) of one parquet cell.
    pub type ImageCell = (Vec<u8>, String);

    /// A parquet file at `path` whose columns are Hugging Face `Image` structs
    /// `{bytes, path}`, one per (column name, cells).
    pub fn image_parquet(path: &Path, columns: &[(&str, Vec<ImageCell>)]) {
        use polars::prelude::*;

        let columns: Vec<Column> = columns
            .iter()
            .map(|(name, cells)| {
                let bytes: Vec<&[u8]> = cells.iter().map(|(b, _)| b.as_slice()).collect();
                let names: Vec<&str> = cells.iter().map(|(_, n)| n.as_str()).collect();
                let fields = [
                    Series::new("bytes".into(), bytes),
                    Series::new("path".into(), names),
                ];
                StructChunked::from_series((*name).into(), cells.len(), fields.iter())
                    .unwrap()
                    .into_series()
                    .into()
            })
            .collect();
        let mut frame = DataFrame::new_infer_height(columns).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        ParquetWriter::new(file).finish(&mut frame).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use image::ImageFormat;

    use super::fixtures::*;
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn gray_conversion_matches_opencv_rounding() {
        // cv2.cvtColor(np.uint8([[[255,0,0],[0,255,0],[0,0,255],[10,200,30]]]), COLOR_RGB2GRAY)
        // gives [76, 150, 29, 124].
        assert_eq!(
            rgb_to_gray_u8(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30]),
            vec![76, 150, 29, 124]
        );
        for v in 0..=255u8 {
            assert_eq!(rgb_to_gray_u8(&[v, v, v]), vec![v]);
        }
        let exact = rgb_to_gray_f64(&[10, 200, 30]);
        assert!((exact[0] - 123.81).abs() < 1e-9, "{exact:?}");
    }

    #[test]
    fn decodes_every_format_to_gray_and_rgb() {
        let (height, width) = (4, 6);
        let gray: Vec<u8> = (0..24).map(|i| (i * 10) as u8).collect();
        for format in [ImageFormat::Png, ImageFormat::Gif, ImageFormat::Tiff] {
            let bytes = encode(&gray, height, width, 1, format);
            let decoded = decode_gray8(&bytes, Path::new("x")).unwrap();
            assert_eq!(
                (decoded.height, decoded.width),
                (height, width),
                "{format:?}"
            );
            assert_eq!(decoded.samples, gray, "{format:?}");
            let rgb = decode_rgb8(&bytes, Path::new("x")).unwrap();
            assert_eq!(rgb.samples[3..6], [10, 10, 10]);
        }
        let rgb: Vec<u8> = (0..72).map(|i| (i * 3) as u8).collect();
        let png = encode(&rgb, height, width, 3, ImageFormat::Png);
        assert_eq!(decode_rgb8(&png, Path::new("x")).unwrap().samples, rgb);
        assert_eq!(
            decode_gray8(&png, Path::new("x")).unwrap().samples,
            rgb_to_gray_u8(&rgb)
        );
        // JPEG is lossy: a flat image survives closely.
        let flat = vec![120u8; 16 * 16 * 3];
        let jpeg = encode(&flat, 16, 16, 3, ImageFormat::Jpeg);
        let decoded = decode_rgb8(&jpeg, Path::new("x")).unwrap();
        assert!(decoded.samples.iter().all(|&v| v.abs_diff(120) <= 2));
    }

    #[test]
    fn corrupt_bytes_name_the_file() {
        let err = decode_gray8(b"not an image", Path::new("dir/broken.png")).unwrap_err();
        assert!(err.to_string().contains("dir/broken.png"), "{err}");
        let err = tiff_stack(b"nope", Path::new("stack.tif")).unwrap_err();
        assert!(err.to_string().contains("stack.tif"), "{err}");
    }

    #[test]
    fn tiff_stack_reads_all_pages() {
        let pages: Vec<Vec<u8>> = (0..3).map(|p| vec![p * 50 + 1; 12]).collect();
        let bytes = tiff_pages(&pages, 3, 4);
        let decoded = tiff_stack(&bytes, Path::new("v.tif")).unwrap();
        assert_eq!(decoded.len(), 3);
        for (page, raster) in pages.iter().zip(&decoded) {
            assert_eq!((raster.height, raster.width), (3, 4));
            assert_eq!(&raster.samples, page);
        }
    }

    #[test]
    fn parquet_image_struct_column_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let cells = vec![
            (vec![1u8, 2, 3], "a.png".to_owned()),
            (vec![9u8; 100], "b.png".to_owned()),
        ];
        image_parquet(&path, &[("image", cells.clone())]);
        let read = parquet_image_column(&path, "image").unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].bytes, cells[1].0);
        assert_eq!(read[0].path.as_deref(), Some("a.png"));
        let err = parquet_image_column(&path, "label").unwrap_err();
        assert!(err.to_string().contains("no column `label`"), "{err}");
        assert!(err.to_string().contains("t.parquet"), "{err}");
    }

    #[test]
    fn finds_nested_paths_and_logs_relative_sources() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "outer/inner/data/x.txt", b"x");
        write(dir.path(), "b/y.png", b"y");
        write(dir.path(), "a/z.png", b"z");
        let found = find_path(dir.path(), "data/x.txt").unwrap();
        assert!(found.ends_with("outer/inner/data/x.txt"));
        assert!(find_path(dir.path(), "data/missing.txt").is_none());
        let pngs = files_under(dir.path(), |name| name.ends_with(".png"));
        assert_eq!(pngs.len(), 2);
        assert!(pngs[0].ends_with("a/z.png"));

        let mut log = SourceLog::new(dir.path());
        log.read(&pngs[1]).unwrap();
        log.read(&pngs[0]).unwrap();
        let sources = log.into_sorted();
        assert_eq!(sources[0], ("a/z.png".to_owned(), sha256_hex(b"z")));
        assert_eq!(sources[1].0, "b/y.png");
    }

    #[test]
    fn binary_labels_threshold_and_keep_01() {
        assert_eq!(binary_labels(&[0, 255, 200, 3]), vec![0, 1, 1, 0]);
        assert_eq!(binary_labels(&[0, 1, 1]), vec![0, 1, 1]);
    }
}
