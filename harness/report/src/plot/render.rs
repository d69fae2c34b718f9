//! From a checked figure to its two files. A [`Figure`] is drawn twice in memory, on plotters'
//! bitmap backend into an RGB buffer that the png crate encodes, and on the SVG backend into a
//! string; only then are `<stem>.png` and `<stem>.svg` put in place, atomically, so a reader never
//! sees a half-written figure. Nothing in either pass depends on the machine (the font is embedded,
//! the PNG carries no timestamp), which is what makes the files byte-identical everywhere.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::atomic::write_atomic;
use crate::{Error, Result};

pub(super) type DrawResult<DB, T = ()> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure ready to draw: its inputs checked and its layout decided, so that drawing it on
/// either backend gives the same picture.
pub(super) trait Figure {
    fn size(&self) -> (u32, u32);
    /// Draw everything; pictures only when `raster` (the SVG gets them from [`Figure::svg_pictures`]).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        raster: bool,
    ) -> DrawResult<DB>;
    /// SVG elements added after drawing: pictures embedded as PNG, far smaller than one
    /// rectangle per pixel run (the SVG backend cannot embed bitmaps itself).
    fn svg_pictures(&self) -> String {
        String::new()
    }
}

/// Draw `figure` as PNG and SVG in memory, then write `<stem>.png` and `<stem>.svg`.
pub(super) fn render(figure: &impl Figure, stem: &Path) -> Result<[PathBuf; 2]> {
    let png_path = with_extension(stem, "png");
    let svg_path = with_extension(stem, "svg");
    let (width, height) = figure.size();

    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        figure.draw(&root, true).map_err(plot_error(&png_path))?;
        root.present().map_err(plot_error(&png_path))?;
    }
    let png = encode_png(&rgb, width, height).map_err(plot_error(&png_path))?;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        figure.draw(&root, false).map_err(plot_error(&svg_path))?;
        root.present().map_err(plot_error(&svg_path))?;
    }
    let pictures = figure.svg_pictures();
    if let Some(end) = svg.rfind("</svg>") {
        svg.insert_str(end, &pictures);
    }

    write_atomic(&png_path, &png)?;
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok([png_path, svg_path])
}

/// `stem` plus `.ext`; unlike `Path::with_extension` it keeps a dot already in the stem
/// (`fig.v2` becomes `fig.v2.png`, not `fig.png`).
pub(super) fn with_extension(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn plot_error<E: std::fmt::Display>(path: &Path) -> impl FnOnce(E) -> Error {
    let path = path.to_path_buf();
    move |err| Error::Plot {
        path,
        message: err.to_string(),
    }
}

/// An [`Error::Plot`] about the inputs; it names the stem because both files are affected.
pub(super) fn bad_input(stem: &Path, message: String) -> Error {
    Error::Plot {
        path: stem.to_path_buf(),
        message,
    }
}

/// PNG bytes of an RGB buffer. The png crate writes no timestamp, so the bytes depend on the
/// pixels only.
fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::bar::{bar_chart, tests::layer_chart};
    use crate::plot::grid::{image_grid, tests::qualitative_grid};
    use crate::plot::line::{line_chart, tests::time_step_chart};

    #[test]
    fn same_input_gives_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let draw_all = |name: &str| -> Vec<PathBuf> {
            let stem = |kind: &str| dir.path().join(format!("{name}-{kind}"));
            [
                line_chart(&time_step_chart(), &stem("line")).unwrap(),
                bar_chart(&layer_chart(), &stem("bar")).unwrap(),
                image_grid(&qualitative_grid(), &stem("grid")).unwrap(),
            ]
            .concat()
        };
        for (first, second) in draw_all("first").iter().zip(draw_all("second")) {
            assert_eq!(
                std::fs::read(first).unwrap(),
                std::fs::read(&second).unwrap(),
                "{} differs from {}",
                first.display(),
                second.display()
            );
        }
    }

    #[test]
    fn stems_keep_their_dots() {
        assert_eq!(
            with_extension(Path::new("out/fig.v2"), "png"),
            PathBuf::from("out/fig.v2.png")
        );
    }
}
