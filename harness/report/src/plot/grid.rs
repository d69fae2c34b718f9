//! Image grids for qualitative results: rows of captioned grayscale panels (input, target, ANN,
//! spiking outputs at several T) with row labels at left. Every image is enlarged by the same
//! whole factor, pixel for pixel, so panels compare at equal scale. The PNG pass paints each
//! picture as rectangles of equal pixels; the SVG embeds each as a small PNG instead, because
//! plotters' SVG backend cannot embed bitmaps and a rectangle per pixel run would be far larger.

use base64::Engine;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{
    CAPTION_SIZE, FRAME_COLOUR, TITLE_BAND, TITLE_SIZE, draw_frame, ensure_font, fit_text,
    text_style, text_width,
};
use super::render::{DrawResult, Figure, bad_input, render};
use crate::Result;

/// A grayscale picture, row-major, values 0..=255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` values, row after row, 0 black and 255 white.
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// An 8-bit gray PNG of the image.
    pub fn to_png(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .expect("writing a PNG header to memory cannot fail");
        writer
            .write_image_data(&self.pixels)
            .expect("`pixels` holds width * height values");
        drop(writer);
        bytes
    }
}

/// Qualitative grid: rows of captioned panels (e.g. a row per test image: input, target, ANN,
/// SNN T=4, SNN T=16, SNN T=64), row labels at left.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    /// The title above the grid.
    pub title: String,
    /// `(row label, panels)`; each panel is `(caption, image)`. Rows may have different numbers
    /// of panels.
    pub rows: Vec<(String, Vec<(String, GrayImage)>)>,
}

/// Draw `grid` to `<stem>.png` and `<stem>.svg` and return those two paths.
///
/// Every image is enlarged by the same whole factor, pixel for pixel, so that the smallest panel
/// is at least 160 pixels across; the figure's size follows from the images. Fails when the grid
/// has no panel, an image is empty or its pixel count is not `width * height`, or the figure
/// would be unreasonably large.
pub fn image_grid(grid: &ImageGrid, stem: &Path) -> Result<[PathBuf; 2]> {
    render(&GridPlot::prepare(grid, stem)?, stem)
}

/// Smallest size, in pixels, of a panel's longer side after enlarging.
const MIN_PANEL: usize = 160;
const GRID_MARGIN: u32 = 16;
const GRID_GAP: u32 = 14;
/// Height of the caption strip above each panel.
const CAPTION_BAND: u32 = 26;
const ROW_LABEL_MAX: u32 = 220;
/// Largest figure side accepted; beyond it the figure is not meant to be looked at whole.
const GRID_MAX_SIDE: u64 = 16_384;

struct GridPlot<'a> {
    grid: &'a ImageGrid,
    /// Each image pixel becomes a `scale` × `scale` square.
    scale: usize,
    cell: (u32, u32),
    row_labels: Vec<String>,
    label_width: u32,
    size: (u32, u32),
}

impl<'a> GridPlot<'a> {
    fn prepare(grid: &'a ImageGrid, stem: &Path) -> Result<Self> {
        ensure_font(stem)?;
        let panels = || grid.rows.iter().flat_map(|row| row.1.iter());
        if panels().next().is_none() {
            return Err(bad_input(
                stem,
                format!("image grid {:?} has no panel to draw", grid.title),
            ));
        }
        for (row, (label, row_panels)) in grid.rows.iter().enumerate() {
            for (caption, image) in row_panels {
                if image.width == 0
                    || image.height == 0
                    || image.width.checked_mul(image.height) != Some(image.pixels.len())
                {
                    return Err(bad_input(
                        stem,
                        format!(
                            "image {caption:?} in row {row} ({label:?}) is {}x{} but has {} \
                             pixels",
                            image.width,
                            image.height,
                            image.pixels.len()
                        ),
                    ));
                }
            }
        }

        // One factor for the whole grid keeps pixels the same size in every panel.
        let smallest = panels()
            .map(|(_, image)| image.width.max(image.height))
            .min()
            .unwrap_or(1);
        let scale = MIN_PANEL.div_ceil(smallest).max(1);
        let caption_width = panels()
            .map(|(caption, _)| text_width(caption, CAPTION_SIZE) + 8)
            .max()
            .unwrap_or(0);
        let widest = panels().map(|(_, image)| image.width).max().unwrap_or(0) as u64;
        let tallest = panels().map(|(_, image)| image.height).max().unwrap_or(0) as u64;
        let cell_w = (widest * scale as u64).max(u64::from(caption_width));
        let cell_h = tallest * scale as u64;

        let row_labels: Vec<String> = grid
            .rows
            .iter()
            .map(|row| fit_text(&row.0, CAPTION_SIZE, ROW_LABEL_MAX))
            .collect();
        let label_width = row_labels
            .iter()
            .map(|label| text_width(label, CAPTION_SIZE))
            .max()
            .filter(|&w| w > 0)
            .map_or(0, |w| w + GRID_GAP);
        let columns = grid.rows.iter().map(|row| row.1.len()).max().unwrap_or(0);
        let rows = grid.rows.len() as u64;
        let (margin, gap) = (u64::from(GRID_MARGIN), u64::from(GRID_GAP));
        let width = 2 * margin + u64::from(label_width) + columns as u64 * (cell_w + gap) - gap;
        let width = width.max(u64::from(text_width(&grid.title, TITLE_SIZE)) + 2 * margin);
        let height =
            u64::from(TITLE_BAND) + rows * (u64::from(CAPTION_BAND) + cell_h + gap) - gap + margin;
        if width > GRID_MAX_SIDE || height > GRID_MAX_SIDE {
            return Err(bad_input(
                stem,
                format!(
                    "image grid {:?} would be {width}x{height} pixels, more than \
                     {GRID_MAX_SIDE} on a side; use fewer or smaller images",
                    grid.title
                ),
            ));
        }
        Ok(GridPlot {
            grid,
            scale,
            cell: (cell_w as u32, cell_h as u32),
            row_labels,
            label_width,
            size: (width as u32, height as u32),
        })
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        caption: &str,
        image: &GrayImage,
        raster: bool,
    ) -> DrawResult<DB> {
        let cell_w = self.cell.0 as i32;
        root.draw_text(
            &fit_text(caption, CAPTION_SIZE, self.cell.0),
            &text_style(CAPTION_SIZE).pos(Pos::new(HPos::Center, VPos::Bottom)),
            (x + cell_w / 2, y + CAPTION_BAND as i32 - 6),
        )?;
        let (w, h) = (
            (image.width * self.scale) as i32,
            (image.height * self.scale) as i32,
        );
        let (x0, y0) = self.picture_origin((x, y), image);
        if raster {
            draw_gray(root, image, (x0, y0), self.scale as i32)?;
        }
        // A frame, so that white images still show where they end.
        root.draw(&Rectangle::new(
            [(x0 - 1, y0 - 1), (x0 + w, y0 + h)],
            FRAME_COLOUR.stroke_width(1),
        ))
    }
}

/// `image` enlarged `scale` times with its top-left corner at `origin`, one rectangle per
/// [`gray_blocks`] block (the PNG pass; the SVG gets the pictures embedded as PNG).
fn draw_gray<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    image: &GrayImage,
    origin: (i32, i32),
    scale: i32,
) -> DrawResult<DB> {
    let at = |x: usize, y: usize| (origin.0 + x as i32 * scale, origin.1 + y as i32 * scale);
    for block in gray_blocks(image) {
        area.draw(&Rectangle::new(
            [
                at(block.x.start, block.y.start),
                at(block.x.end, block.y.end),
            ],
            RGBColor(block.value, block.value, block.value).filled(),
        ))?;
    }
    Ok(())
}

/// A rectangle of equal pixels, in image pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    x: Range<usize>,
    y: Range<usize>,
    value: u8,
}

/// `image` cut into rectangles of equal pixels: each run of equal pixels in a row, stretched
/// down over the rows below that have the very same run. Masks and flat backgrounds become a
/// handful of blocks; busy images cost one block per run. Blocks come in a fixed order.
fn gray_blocks(image: &GrayImage) -> Vec<Block> {
    let mut done = Vec::new();
    // Blocks that reach the row above, left to right; they partition that row.
    let mut open: Vec<Block> = Vec::new();
    for (y, pixels) in image.pixels.chunks(image.width).enumerate() {
        let mut above = std::mem::take(&mut open).into_iter().peekable();
        let mut start = 0;
        while start < pixels.len() {
            let value = pixels[start];
            let end = pixels[start..]
                .iter()
                .position(|&p| p != value)
                .map_or(pixels.len(), |len| start + len);
            while let Some(block) = above.next_if(|block| block.x.start < start) {
                done.push(block);
            }
            let block = match above.next_if(|b| b.x == (start..end) && b.value == value) {
                Some(block) => Block {
                    y: block.y.start..y + 1,
                    ..block
                },
                None => Block {
                    x: start..end,
                    y: y..y + 1,
                    value,
                },
            };
            open.push(block);
            start = end;
        }
        done.extend(above);
    }
    done.extend(open);
    done
}

impl Figure for GridPlot<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> DrawResult<DB> {
        draw_frame(root, &self.grid.title)?;
        for (r, ((_, panels), label)) in self.grid.rows.iter().zip(&self.row_labels).enumerate() {
            let top = self.cell_origin(r, 0).1;
            root.draw_text(
                label,
                &text_style(CAPTION_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                (
                    GRID_MARGIN as i32,
                    top + (CAPTION_BAND + self.cell.1 / 2) as i32,
                ),
            )?;
            for (c, (caption, image)) in panels.iter().enumerate() {
                self.draw_panel(root, self.cell_origin(r, c), caption, image, raster)?;
            }
        }
        Ok(())
    }

    fn svg_pictures(&self) -> String {
        let mut elements = String::new();
        for (r, (_, panels)) in self.grid.rows.iter().enumerate() {
            for (c, (_, image)) in panels.iter().enumerate() {
                let (x0, y0) = self.picture_origin(self.cell_origin(r, c), image);
                let png = image.to_png();
                elements.push_str(&format!(
                    "<image x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
                    image.width * self.scale,
                    image.height * self.scale,
                    base64::engine::general_purpose::STANDARD.encode(png)
                ));
            }
        }
        elements
    }
}

impl GridPlot<'_> {
    /// Top-left corner of the panel (caption band included) in row `r`, column `c`.
    fn cell_origin(&self, r: usize, c: usize) -> (i32, i32) {
        let row_step = (CAPTION_BAND + self.cell.1 + GRID_GAP) as i32;
        let column_step = (self.cell.0 + GRID_GAP) as i32;
        let left = (GRID_MARGIN + self.label_width) as i32;
        (
            left + c as i32 * column_step,
            TITLE_BAND as i32 + r as i32 * row_step,
        )
    }

    /// Top-left corner of `image`, centred in the cell at `cell` below its caption.
    fn picture_origin(&self, (x, y): (i32, i32), image: &GrayImage) -> (i32, i32) {
        let (w, h) = (
            (image.width * self.scale) as i32,
            (image.height * self.scale) as i32,
        );
        (
            x + (self.cell.0 as i32 - w) / 2,
            y + CAPTION_BAND as i32 + (self.cell.1 as i32 - h) / 2,
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Error;
    use crate::plot::testing::{check_files, decode_png};

    /// Vertical bands 4 pixels wide, 16 grey levels apart, starting at `shift`.
    fn gradient(width: usize, height: usize, shift: usize) -> GrayImage {
        GrayImage {
            width,
            height,
            pixels: (0..width * height)
                .map(|i| ((i % width / 4 * 16 + shift) % 256) as u8)
                .collect(),
        }
    }

    pub(in crate::plot) fn qualitative_grid() -> ImageGrid {
        let panels = |shift: usize| {
            ["input", "target", "ANN", "SNN T=4", "SNN T=16", "SNN T=64"]
                .iter()
                .enumerate()
                .map(|(k, caption)| (caption.to_string(), gradient(64, 64, shift + 10 * k)))
                .collect::<Vec<_>>()
        };
        ImageGrid {
            title: "Qualitative results".into(),
            rows: vec![("image 0".into(), panels(0)), ("image 1".into(), panels(3))],
        }
    }

    #[test]
    fn image_grid_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("qualitative");
        let grid = qualitative_grid();
        let paths = image_grid(&grid, &stem).unwrap();
        let svg = check_files(&paths, &stem, None);
        for text in [
            "Qualitative results",
            "image 0",
            "image 1",
            "input",
            "SNN T=64",
        ] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        // 64-pixel images are enlarged three times: six 192-pixel panels per row, two rows.
        let (width, height, pixels) = decode_png(&paths[0]);
        assert!(width >= 6 * 192 && height >= 2 * 192, "{width}x{height}");
        // Equal pixels are merged: each 4-pixel band of a gradient is one rectangle.
        let rects = svg.matches("<rect").count();
        assert!(rects < 12 * 16 + 100, "{rects} rectangles");
        // The first panel's first band (grey 0 for 4 image pixels) is 12 pixels wide, then the
        // next band (grey 16) starts: enlarged pixel for pixel, not blended.
        let plot = GridPlot::prepare(&grid, &stem).unwrap();
        let x0 = (GRID_MARGIN + plot.label_width + (plot.cell.0 - 192) / 2) as usize;
        let y0 = (TITLE_BAND + CAPTION_BAND + (plot.cell.1 - 192) / 2) as usize;
        let grey = |x: usize, y: usize| {
            let i = (y * width as usize + x) * 3;
            <[u8; 3]>::try_from(&pixels[i..i + 3]).unwrap()
        };
        for (x, y) in [(0, 0), (11, 0), (0, 2), (11, 191)] {
            assert_eq!(grey(x0 + x, y0 + y), [0; 3], "at {x},{y}");
        }
        assert_eq!(grey(x0 + 12, y0), [16; 3]);
        assert_eq!(grey(x0 + 191, y0 + 191), [240; 3]);
    }

    #[test]
    fn image_grid_rejects_bad_images_and_empty_grids() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("bad");
        let empty = ImageGrid {
            title: "empty".into(),
            rows: vec![("row".into(), Vec::new())],
        };
        assert!(matches!(image_grid(&empty, &stem), Err(Error::Plot { .. })));
        let mut grid = qualitative_grid();
        grid.rows[1].1[2].1.pixels.pop();
        let err = image_grid(&grid, &stem).unwrap_err();
        assert!(
            err.to_string().contains("is 64x64 but has 4095 pixels"),
            "{err}"
        );
        let mut grid = qualitative_grid();
        grid.rows[0].1[0].1 = GrayImage {
            width: 0,
            height: 5,
            pixels: Vec::new(),
        };
        assert!(matches!(image_grid(&grid, &stem), Err(Error::Plot { .. })));
    }

    #[test]
    fn image_grid_takes_rows_of_different_lengths_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("mixed");
        let grid = ImageGrid {
            title: String::new(),
            rows: vec![
                (String::new(), vec![("wide".into(), gradient(40, 10, 0))]),
                (
                    "second".into(),
                    vec![
                        ("a".into(), gradient(8, 8, 100)),
                        ("b".into(), gradient(4, 4, 200)),
                    ],
                ),
            ],
        };
        let paths = image_grid(&grid, &stem).unwrap();
        check_files(&paths, &stem, None);
    }

    #[test]
    fn gray_blocks_cover_each_pixel_once_with_its_value() {
        let disc = GrayImage {
            width: 9,
            height: 7,
            pixels: (0..63)
                .map(|i: usize| {
                    let (x, y) = ((i % 9) as i32 - 4, (i / 9) as i32 - 3);
                    if x * x + y * y <= 6 {
                        255
                    } else {
                        (i % 3) as u8
                    }
                })
                .collect(),
        };
        let flat = GrayImage {
            width: 5,
            height: 4,
            pixels: vec![7; 20],
        };
        for image in [disc, flat.clone(), gradient(16, 3, 0)] {
            let mut covered = vec![None; image.pixels.len()];
            for block in gray_blocks(&image) {
                for y in block.y.clone() {
                    for x in block.x.clone() {
                        let pixel = &mut covered[y * image.width + x];
                        assert_eq!(*pixel, None, "pixel {x},{y} covered twice");
                        *pixel = Some(block.value);
                    }
                }
            }
            let expected: Vec<_> = image.pixels.iter().copied().map(Some).collect();
            assert_eq!(covered, expected);
        }
        assert_eq!(
            gray_blocks(&flat),
            [Block {
                x: 0..5,
                y: 0..4,
                value: 7
            }]
        );
        assert_eq!(gray_blocks(&gradient(16, 3, 0)).len(), 4);
    }
}
