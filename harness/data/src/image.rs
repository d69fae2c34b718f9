//! In-memory images and label maps, and PNG decoding into them.

use std::io::Cursor;

use png::{BitDepth, ColorType, Transformations};

use crate::error::{Error, Result};

/// An image in channel-major (C, H, W) order with f32 values in [0, 1] (noisy images may leave that range).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Number of channels: 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `channels * height * width` values; the value of channel `c` at row `y`, column `x` is
    /// at `(c * height + y) * width + x`.
    pub data: Vec<f32>,
}

impl Image {
    /// Wraps `data` as a (C, H, W) image, checking that its length fits the shape.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Self> {
        let expected = channels * height * width;
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                what: format!("Image {channels}x{height}x{width}"),
                expected,
                actual: data.len(),
            });
        }
        Ok(Self {
            channels,
            height,
            width,
            data,
        })
    }

    /// The `h` x `w` window whose top-left pixel is (`y`, `x`), all channels.
    ///
    /// # Panics
    /// If the window does not lie inside the image; callers validate windows against the
    /// image size first, so this is a programming error, like an out-of-range slice index.
    pub fn crop(&self, y: usize, x: usize, h: usize, w: usize) -> Image {
        assert_window_inside(y, x, h, w, self.height, self.width);
        let mut data = Vec::with_capacity(self.channels * h * w);
        for c in 0..self.channels {
            for row in y..y + h {
                let start = (c * self.height + row) * self.width + x;
                data.extend_from_slice(&self.data[start..start + w]);
            }
        }
        Image {
            channels: self.channels,
            height: h,
            width: w,
            data,
        }
    }

    /// The image mirrored left-right.
    pub fn flip_horizontal(&self) -> Image {
        let mut data = self.data.clone();
        for row in data.chunks_exact_mut(self.width) {
            row.reverse();
        }
        Image { data, ..*self }
    }

    /// The image mirrored top-bottom.
    pub fn flip_vertical(&self) -> Image {
        let mut data = Vec::with_capacity(self.data.len());
        for plane in self.data.chunks_exact(self.height * self.width) {
            for row in plane.chunks_exact(self.width).rev() {
                data.extend_from_slice(row);
            }
        }
        Image { data, ..*self }
    }

    /// Element-wise `self - other`; both images must have the same shape.
    pub(crate) fn sub(&self, other: &Image) -> Image {
        debug_assert_eq!(
            (self.channels, self.height, self.width),
            (other.channels, other.height, other.width)
        );
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| a - b)
            .collect();
        Image { data, ..*self }
    }
}

/// A per-pixel class map (H, W), class ids as u8.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `height * width` ids in row-major order.
    pub labels: Vec<u8>,
}

impl LabelMap {
    /// Wraps `labels` as an (H, W) map, checking that its length fits the shape.
    pub fn new(height: usize, width: usize, labels: Vec<u8>) -> Result<Self> {
        let expected = height * width;
        if labels.len() != expected {
            return Err(Error::ShapeMismatch {
                what: format!("LabelMap {height}x{width}"),
                expected,
                actual: labels.len(),
            });
        }
        Ok(Self {
            height,
            width,
            labels,
        })
    }

    /// The id at row `y`, column `x`.
    pub fn get(&self, y: usize, x: usize) -> u8 {
        self.labels[y * self.width + x]
    }

    /// The `h` x `w` window whose top-left pixel is (`y`, `x`).
    ///
    /// # Panics
    /// If the window does not lie inside the map (see [`Image::crop`]).
    pub fn crop(&self, y: usize, x: usize, h: usize, w: usize) -> LabelMap {
        assert_window_inside(y, x, h, w, self.height, self.width);
        let mut labels = Vec::with_capacity(h * w);
        for row in y..y + h {
            let start = row * self.width + x;
            labels.extend_from_slice(&self.labels[start..start + w]);
        }
        LabelMap {
            height: h,
            width: w,
            labels,
        }
    }

    /// The map mirrored left-right.
    pub fn flip_horizontal(&self) -> LabelMap {
        let mut labels = self.labels.clone();
        for row in labels.chunks_exact_mut(self.width) {
            row.reverse();
        }
        LabelMap { labels, ..*self }
    }

    /// The map mirrored top-bottom.
    pub fn flip_vertical(&self) -> LabelMap {
        let labels = self
            .labels
            .chunks_exact(self.width)
            .rev()
            .flatten()
            .copied()
            .collect();
        LabelMap { labels, ..*self }
    }
}

fn assert_window_inside(y: usize, x: usize, h: usize, w: usize, height: usize, width: usize) {
    assert!(
        y.checked_add(h).is_some_and(|bottom| bottom <= height)
            && x.checked_add(w).is_some_and(|right| right <= width),
        "window {h}x{w} at ({y}, {x}) does not fit in a {height}x{width} image"
    );
}

/// The (channels, height, width) that [`decode_png`] would return, read from the PNG header
/// only, so that configs can be checked without decoding every image.
pub fn png_shape(bytes: &[u8], file: &str) -> Result<(usize, usize, usize)> {
    let reader = open_png(bytes, file, Transformations::EXPAND)?;
    let (color, _) = reader.output_color_type();
    let channels = kept_channels(color, file)?.1;
    let (width, height) = reader.info().size();
    Ok((channels, height as usize, width as usize))
}

/// Decodes a PNG into an [`Image`] with values in [0, 1].
///
/// Gray and gray+alpha give 1 channel, RGB and RGBA give 3; alpha is dropped because none of
/// the tasks uses transparency. 8-bit samples are divided by 255 and 16-bit samples by 65535.
/// Palette and sub-byte images are expanded to 8 bits first.
pub fn decode_png(bytes: &[u8], file: &str) -> Result<Image> {
    let mut reader = open_png(bytes, file, Transformations::EXPAND)?;
    let (color, depth) = reader.output_color_type();
    let (stride, channels) = kept_channels(color, file)?;
    let samples: Vec<f32> = {
        let raw = read_frame(&mut reader, file)?;
        match depth {
            BitDepth::Eight => raw.iter().map(|&v| f32::from(v) / 255.0).collect(),
            BitDepth::Sixteen => raw
                .chunks_exact(2)
                .map(|pair| f32::from(u16::from_be_bytes([pair[0], pair[1]])) / 65535.0)
                .collect(),
            other => {
                return Err(Error::UnsupportedPng {
                    file: file.to_owned(),
                    detail: format!("bit depth {other:?} after expansion"),
                });
            }
        }
    };
    let (width, height) = reader.info().size();
    let (height, width) = (height as usize, width as usize);

    // PNG stores pixels interleaved (H, W, C); the tasks want planes (C, H, W).
    let plane = height * width;
    let mut data = vec![0.0; channels * plane];
    for (pixel, values) in samples.chunks_exact(stride).enumerate() {
        for (c, &value) in values[..channels].iter().enumerate() {
            data[c * plane + pixel] = value;
        }
    }
    Image::new(channels, height, width, data)
}

/// Decodes an 8-bit gray PNG into its raw sample values, unscaled: used for instance maps,
/// whose values are ids rather than intensities.
pub fn decode_png_gray_u8(bytes: &[u8], file: &str) -> Result<LabelMap> {
    let mut reader = open_png(bytes, file, Transformations::IDENTITY)?;
    let (color, depth) = reader.output_color_type();
    if color != ColorType::Grayscale || depth != BitDepth::Eight {
        return Err(Error::UnsupportedPng {
            file: file.to_owned(),
            detail: format!("expected 8-bit grayscale ids, found {color:?} at {depth:?}"),
        });
    }
    let labels = read_frame(&mut reader, file)?;
    let (width, height) = reader.info().size();
    LabelMap::new(height as usize, width as usize, labels)
}

fn open_png<'a>(
    bytes: &'a [u8],
    file: &str,
    transformations: Transformations,
) -> Result<png::Reader<Cursor<&'a [u8]>>> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(transformations);
    decoder.read_info().map_err(|source| Error::Png {
        file: file.to_owned(),
        source,
    })
}

fn read_frame(reader: &mut png::Reader<Cursor<&[u8]>>, file: &str) -> Result<Vec<u8>> {
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::UnsupportedPng {
            file: file.to_owned(),
            detail: "image too large for memory".to_owned(),
        })?;
    let mut buffer = vec![0; size];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|source| Error::Png {
            file: file.to_owned(),
            source,
        })?;
    buffer.truncate(frame.buffer_size());
    Ok(buffer)
}

/// (samples per pixel in the decoded stream, channels kept in the [`Image`]).
fn kept_channels(color: ColorType, file: &str) -> Result<(usize, usize)> {
    match color {
        ColorType::Grayscale => Ok((1, 1)),
        ColorType::GrayscaleAlpha => Ok((2, 1)),
        ColorType::Rgb => Ok((3, 3)),
        ColorType::Rgba => Ok((4, 3)),
        ColorType::Indexed => Err(Error::UnsupportedPng {
            file: file.to_owned(),
            detail: "palette image was not expanded".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes `data` (interleaved samples, big-endian for 16 bit) as a `width` x `height` PNG.
    fn encode(width: u32, height: u32, color: ColorType, depth: BitDepth, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, width, height);
            encoder.set_color(color);
            encoder.set_depth(depth);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(data).unwrap();
        }
        out
    }

    fn ramp(channels: usize, height: usize, width: usize) -> Image {
        let data = (0..channels * height * width).map(|i| i as f32).collect();
        Image::new(channels, height, width, data).unwrap()
    }

    #[test]
    fn new_rejects_wrong_length() {
        let err = Image::new(3, 2, 2, vec![0.0; 11]).unwrap_err();
        assert!(err.to_string().contains("expected 12"), "{err}");
        assert!(LabelMap::new(2, 3, vec![0; 5]).is_err());
    }

    #[test]
    fn crop_takes_the_window_of_every_channel() {
        let image = ramp(2, 3, 4);
        let crop = image.crop(1, 2, 2, 2);
        // channel 0 rows 1..3 cols 2..4, then channel 1 (offset 12)
        assert_eq!(crop.data, vec![6., 7., 10., 11., 18., 19., 22., 23.]);
        assert_eq!((crop.channels, crop.height, crop.width), (2, 2, 2));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn crop_outside_panics() {
        ramp(1, 3, 4).crop(2, 0, 2, 4);
    }

    #[test]
    fn flips_mirror_each_plane() {
        let image = ramp(2, 2, 3);
        assert_eq!(
            image.flip_horizontal().data,
            vec![2., 1., 0., 5., 4., 3., 8., 7., 6., 11., 10., 9.]
        );
        assert_eq!(
            image.flip_vertical().data,
            vec![3., 4., 5., 0., 1., 2., 9., 10., 11., 6., 7., 8.]
        );
        assert_eq!(image.flip_vertical().flip_vertical(), image);
    }

    #[test]
    fn label_map_crop_and_flips() {
        let map = LabelMap::new(3, 3, (0..9).collect()).unwrap();
        assert_eq!(map.crop(1, 1, 2, 2).labels, vec![4, 5, 7, 8]);
        assert_eq!(
            map.flip_horizontal().labels,
            vec![2, 1, 0, 5, 4, 3, 8, 7, 6]
        );
        assert_eq!(map.flip_vertical().labels, vec![6, 7, 8, 3, 4, 5, 0, 1, 2]);
        assert_eq!(map.get(2, 1), 7);
    }

    #[test]
    fn decodes_gray_and_rgb_8bit() {
        let gray = encode(2, 1, ColorType::Grayscale, BitDepth::Eight, &[0, 255]);
        let image = decode_png(&gray, "gray.png").unwrap();
        assert_eq!((image.channels, image.height, image.width), (1, 1, 2));
        assert_eq!(image.data, vec![0.0, 1.0]);

        let rgb = encode(
            2,
            1,
            ColorType::Rgb,
            BitDepth::Eight,
            &[255, 0, 51, 0, 255, 102],
        );
        let image = decode_png(&rgb, "rgb.png").unwrap();
        assert_eq!((image.channels, image.height, image.width), (3, 1, 2));
        assert_eq!(image.data, vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.4]);
        assert_eq!(png_shape(&rgb, "rgb.png").unwrap(), (3, 1, 2));
    }

    #[test]
    fn drops_alpha() {
        let gray_alpha = encode(
            2,
            1,
            ColorType::GrayscaleAlpha,
            BitDepth::Eight,
            &[51, 0, 102, 255],
        );
        let image = decode_png(&gray_alpha, "ga.png").unwrap();
        assert_eq!((image.channels, image.data.clone()), (1, vec![0.2, 0.4]));

        let rgba = encode(1, 1, ColorType::Rgba, BitDepth::Eight, &[255, 51, 0, 7]);
        let image = decode_png(&rgba, "rgba.png").unwrap();
        assert_eq!(
            (image.channels, image.data.clone()),
            (3, vec![1.0, 0.2, 0.0])
        );
        assert_eq!(png_shape(&rgba, "rgba.png").unwrap(), (3, 1, 1));
    }

    #[test]
    fn scales_16bit_by_65535() {
        let gray16 = encode(
            2,
            1,
            ColorType::Grayscale,
            BitDepth::Sixteen,
            &[0xFF, 0xFF, 0x80, 0x00],
        );
        let image = decode_png(&gray16, "g16.png").unwrap();
        assert_eq!(image.data, vec![1.0, 32768.0 / 65535.0]);
    }

    #[test]
    fn raw_u8_keeps_ids_and_rejects_other_layouts() {
        let ids = encode(3, 1, ColorType::Grayscale, BitDepth::Eight, &[0, 7, 183]);
        assert_eq!(
            decode_png_gray_u8(&ids, "ids.png").unwrap().labels,
            vec![0, 7, 183]
        );

        let rgb = encode(1, 1, ColorType::Rgb, BitDepth::Eight, &[1, 2, 3]);
        let err = decode_png_gray_u8(&rgb, "rgb_ids.png").unwrap_err();
        assert!(matches!(err, Error::UnsupportedPng { ref file, .. } if file == "rgb_ids.png"));
    }

    #[test]
    fn corrupt_png_names_the_file() {
        let err = decode_png(b"not a png", "broken.png").unwrap_err();
        assert!(
            matches!(err, Error::Png { ref file, .. } if file == "broken.png"),
            "{err}"
        );
    }
}
