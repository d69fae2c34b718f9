//! Figures for the paper and the README: line charts (a metric against the number of time steps,
//! with error bars over seeds), grouped bar charts (a statistic per layer) and grids of images
//! (qualitative results, one row per test image).
//!
//! Every figure is written twice, `<stem>.png` to look at and `<stem>.svg` to print. Both are
//! drawn in memory with plotters, in the DejaVu Sans font embedded in this crate, and then put in
//! place atomically, so the same inputs give byte-identical files on any machine. Values that
//! cannot be drawn (NaN, infinities, values `<= 0` on a log axis) are left out of the figure
//! rather than failing it: a line breaks at them and a bar is missing. A figure with nothing at
//! all to draw, or with inputs that contradict each other (an error list or a bar series whose
//! length does not match, an image whose pixel count is not its width times its height), is an
//! [`Error::Plot`].
//!
//! The SVG's text is laid out by the viewer and exact. The PNG's is rasterised by plotters 0.3.7,
//! which ignores each glyph's left side bearing, so a few glyphs ("1", "=") sit a pixel or two
//! left of where they belong; readable, but the SVG is the one to print.

use base64::Engine;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::atomic::write_atomic;
use crate::{Error, Result};

/// One line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The name shown in the legend.
    pub label: String,
    /// The `(x, y)` points, joined in the order given.
    pub points: Vec<(f64, f64)>,
    /// Optional ± error per point (the standard deviation over seeds), drawn as error bars; must
    /// have one entry per point. A NaN, infinite or negative entry draws no bar.
    pub errors: Option<Vec<f64>>,
}

/// A chart of lines, one per [`Series`], each with its own colour, marker and dash pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// The title above the chart.
    pub title: String,
    /// The name of the horizontal axis.
    pub x_label: String,
    /// The name of the vertical axis.
    pub y_label: String,
    /// Logarithmic horizontal axis; when every x is a power of two (time steps T = 4, 8, ...)
    /// the ticks are those powers of two.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
    /// The lines, in legend order.
    pub series: Vec<Series>,
}

/// Draw `chart` to `<stem>.png` and `<stem>.svg` and return those two paths.
///
/// Points with a coordinate that is not finite (or not positive on a log axis) are skipped and
/// break the line there; the lower end of an error bar that falls below a log axis is cut at the
/// axis. Fails when no point at all can be drawn, or when a series has a different number of
/// errors than points.
pub fn line_chart(chart: &LineChart, stem: &Path) -> Result<[PathBuf; 2]> {
    render(&LinePlot::prepare(chart, stem)?, stem)
}

/// Grouped bars: one group per category (e.g. layer names relu1..relu18, up to ~30), one bar per
/// series in each group.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// The title above the chart.
    pub title: String,
    /// The name of the horizontal (category) axis.
    pub x_label: String,
    /// The name of the vertical (value) axis.
    pub y_label: String,
    /// Logarithmic value axis; the bars then rise from the bottom of the axis instead of zero.
    pub log_y: bool,
    /// The category names, left to right.
    pub categories: Vec<String>,
    /// `(legend label, one value per category)` for each series.
    pub series: Vec<(String, Vec<f64>)>,
}

/// Draw `chart` to `<stem>.png` and `<stem>.svg` and return those two paths.
///
/// A value that is not finite (or not positive on a log axis) draws no bar. Category names are
/// written upright when they fit under their group and turned a quarter turn when they do not.
/// Fails when there is no category, no series, a series whose length differs from the number of
/// categories, or no value that can be drawn.
pub fn bar_chart(chart: &BarChart, stem: &Path) -> Result<[PathBuf; 2]> {
    render(&BarPlot::prepare(chart, stem)?, stem)
}

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

// ---------------------------------------------------------------------------------------------
// Rendering: one drawing routine per figure, run once per backend.

/// The font family every text is drawn in; the name is what the SVG asks the viewer for.
const FONT: &str = "sans-serif";
const TITLE_SIZE: f64 = 26.0;
const AXIS_NAME_SIZE: f64 = 20.0;
const TICK_SIZE: f64 = 16.0;
const LEGEND_SIZE: f64 = 16.0;
const CAPTION_SIZE: f64 = 16.0;
/// Height of the band the title sits in, at the top of every figure.
const TITLE_BAND: u32 = 46;
const CHART_SIZE: (u32, u32) = (900, 560);
/// Gap between the chart's plotting area and the figure's edges (and the legend).
const CHART_MARGIN: u32 = 14;
const GRID_COLOUR: RGBColor = RGBColor(225, 225, 225);
const FRAME_COLOUR: RGBColor = RGBColor(150, 150, 150);

type DrawResult<DB, T = ()> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure ready to draw: its inputs checked and its layout decided, so that drawing it on
/// either backend gives the same picture.
trait Figure {
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
fn render(figure: &impl Figure, stem: &Path) -> Result<[PathBuf; 2]> {
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
fn with_extension(stem: &Path, ext: &str) -> PathBuf {
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
fn bad_input(stem: &Path, message: String) -> Error {
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

/// plotters' ab_glyph text needs its fonts registered by name; registering the embedded font
/// (once, for the whole process) keeps the figures independent of the fonts installed.
fn ensure_font(stem: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(bad_input(
            stem,
            "the embedded font assets/DejaVuSans.ttf does not parse".into(),
        ))
    }
}

fn text_style(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

/// Width in pixels of `text` drawn at `size`, as the backends will lay it out. Only called after
/// [`ensure_font`]; the rough estimate covers a font that cannot lay the text out.
fn text_width(text: &str, size: f64) -> u32 {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

/// `text`, cut short with an ellipsis if it is wider than `max_width` at `size`, so one long
/// label cannot push the rest of a figure out of view.
fn fit_text(text: &str, size: f64, max_width: u32) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().chain(['…'].iter()).collect();
        if text_width(&candidate, size) <= max_width {
            return candidate;
        }
    }
    "…".to_string()
}

/// White background and the title centred in the top band; returns the area below it.
fn draw_frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> DrawResult<DB, DrawingArea<DB, Shift>> {
    root.fill(&WHITE)?;
    let (width, _) = root.dim_in_pixel();
    root.draw_text(
        &fit_text(title, TITLE_SIZE, width.saturating_sub(20)),
        &text_style(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Center)),
        (width as i32 / 2, TITLE_BAND as i32 / 2),
    )?;
    Ok(root.split_vertically(TITLE_BAND).1)
}

// ---------------------------------------------------------------------------------------------
// How a series looks: colour, marker and dash, so lines stay apart in grey print too.

/// Okabe & Ito's colour-blind-safe palette, without its yellow, which is too faint on white.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Plus,
}

const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Plus,
];

/// `(dash length, gap)` in pixels; `None` is a solid line.
const DASHES: [Option<(i32, i32)>; 3] = [None, Some((10, 6)), Some((3, 4))];

const LINE_WIDTH: u32 = 2;

#[derive(Clone, Copy)]
struct Look {
    colour: RGBColor,
    marker: Marker,
    dash: Option<(i32, i32)>,
}

/// The look of series `index`. The cycle lengths 7, 6 and 3 make the first 42 combinations
/// distinct, and any two neighbours differ in all three.
fn look(index: usize) -> Look {
    Look {
        colour: COLOURS[index % COLOURS.len()],
        marker: MARKERS[index % MARKERS.len()],
        dash: DASHES[index % DASHES.len()],
    }
}

/// The marker's outline in pixels around its centre. Polygons (a circle too) keep every marker
/// the same element type, and fill the same way on both backends.
fn marker_outline(marker: Marker) -> Vec<(i32, i32)> {
    match marker {
        Marker::Circle => (0..16)
            .map(|k| {
                let angle = k as f64 * std::f64::consts::TAU / 16.0;
                (
                    (5.0 * angle.cos()).round() as i32,
                    (5.0 * angle.sin()).round() as i32,
                )
            })
            .collect(),
        Marker::Square => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        Marker::TriangleUp => vec![(0, -6), (5, 4), (-5, 4)],
        Marker::Diamond => vec![(0, -6), (5, 0), (0, 6), (-5, 0)],
        Marker::TriangleDown => vec![(0, 6), (5, -4), (-5, -4)],
        Marker::Plus => vec![
            (-2, -6),
            (2, -6),
            (2, -2),
            (6, -2),
            (6, 2),
            (2, 2),
            (2, 6),
            (-2, 6),
            (-2, 2),
            (-6, 2),
            (-6, -2),
            (-2, -2),
        ],
    }
}

fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    look: Look,
) -> DrawResult<DB> {
    area.draw(
        &(EmptyElement::at(at) + Polygon::new(marker_outline(look.marker), look.colour.filled())),
    )
}

/// A polyline in the series' colour and dash pattern.
fn draw_path<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    points: Vec<CT::From>,
    look: Look,
) -> DrawResult<DB>
where
    CT::From: Clone,
{
    let style = look.colour.stroke_width(LINE_WIDTH);
    match look.dash {
        None => area.draw(&PathElement::new(points, style)),
        Some((dash, gap)) => area.draw(&DashedPathElement::new(points, dash, gap, style)),
    }
}

// ---------------------------------------------------------------------------------------------
// Legend: a framed column at the right of the plot, outside it, so it never hides data.

const LEGEND_ROW: i32 = 24;
const LEGEND_PAD: i32 = 10;
const LEGEND_SAMPLE: i32 = 38;
/// Widest legend text before it is shortened; keeps the plot at least ~60 % of the figure.
const LEGEND_TEXT_MAX: u32 = 250;

#[derive(Clone, Copy)]
enum Swatch {
    Line,
    Bar,
}

/// The legend's texts, shortened to fit, and the width of the column that holds them.
fn legend_layout<'a>(labels: impl Iterator<Item = &'a str>) -> (Vec<String>, u32) {
    let texts: Vec<String> = labels
        .map(|label| fit_text(label, LEGEND_SIZE, LEGEND_TEXT_MAX))
        .collect();
    let widest = texts
        .iter()
        .map(|text| text_width(text, LEGEND_SIZE))
        .max()
        .unwrap_or(0);
    let width = widest + (LEGEND_SAMPLE + 3 * LEGEND_PAD) as u32 + CHART_MARGIN;
    (texts, width)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    texts: &[String],
    swatch: Swatch,
) -> DrawResult<DB> {
    let (width, height) = area.dim_in_pixel();
    let (x0, x1) = (0, width as i32 - CHART_MARGIN as i32);
    let y0 = CHART_MARGIN as i32;
    // Many series squeeze the rows rather than run off the figure, down to touching texts.
    let room = height as i32 - 2 * y0 - 2 * LEGEND_PAD;
    let row = (room / texts.len().max(1) as i32).clamp(LEGEND_SIZE as i32, LEGEND_ROW);
    let y1 = y0 + 2 * LEGEND_PAD + row * texts.len() as i32;
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.filled()))?;
    area.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        FRAME_COLOUR.stroke_width(1),
    ))?;
    let label_style = text_style(LEGEND_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
    for (index, text) in texts.iter().enumerate() {
        let look = look(index);
        let y = y0 + LEGEND_PAD + row * index as i32 + row / 2;
        let (s0, s1) = (x0 + LEGEND_PAD, x0 + LEGEND_PAD + LEGEND_SAMPLE);
        match swatch {
            Swatch::Line => {
                draw_path(area, vec![(s0, y), (s1, y)], look)?;
                draw_marker(area, ((s0 + s1) / 2, y), look)?;
            }
            Swatch::Bar => area.draw(&Rectangle::new(
                [(s0 + 8, y - row / 3), (s1 - 8, y + row / 3)],
                look.colour.filled(),
            ))?,
        }
        area.draw_text(text, &label_style, (s1 + LEGEND_PAD, y))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Axes: ranges and ticks chosen here rather than by plotters, so that log axes get round ticks
// (4, 8, 16 ... for time steps; 0.01, 0.1, 1 ... otherwise) and degenerate data gets a range.

/// The most ticks an axis shows.
const MAX_TICKS: usize = 10;

/// A linear or logarithmic axis over `lo..hi` with its ticks and their labels.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<(f64, String)>,
}

/// Whether `value` has a place on a (log) axis.
fn usable(value: f64, log: bool) -> bool {
    value.is_finite() && (!log || value > 0.0)
}

impl Axis {
    /// An axis that shows every usable value with a small margin, or `None` when there is none.
    /// With `from_zero` (bars on a linear axis) the range includes zero and has no margin there,
    /// so bars rise from the axis line.
    fn fit(values: &[f64], log: bool, from_zero: bool) -> Option<Axis> {
        let values: Vec<f64> = values.iter().copied().filter(|&v| usable(v, log)).collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if values.is_empty() {
            return None;
        }
        // Work in the axis' own scale, where margins are equal on screen.
        let to = |v: f64| if log { v.log10() } else { v };
        let from = |t: f64| if log { 10f64.powf(t) } else { t };
        let from_zero = from_zero && !log;
        let (mut a, mut b) = (to(lo), to(hi));
        if from_zero {
            (a, b) = (a.min(0.0), b.max(0.0));
        }
        if b - a <= 1e-9 * a.abs().max(b.abs()) {
            // A single value, or all equal: centre it in a range of its own size.
            let pad = if log {
                2f64.log10()
            } else if a == 0.0 {
                1.0
            } else {
                0.1 * a.abs()
            };
            if from_zero {
                b = a + pad;
            } else {
                (a, b) = (a - pad, b + pad);
            }
        }
        let margin = 0.05 * (b - a);
        if !(from_zero && a == 0.0) {
            a -= margin;
        }
        if !(from_zero && b == 0.0) {
            b += margin;
        }
        let (lo, hi) = (from(a), from(b));
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return None;
        }
        let ticks = if log {
            let powers_of_two = values.iter().all(|&v| is_power_of_two(v));
            log_ticks(lo, hi, powers_of_two)
        } else {
            linear_ticks(lo, hi)
        };
        Some(Axis { lo, hi, log, ticks })
    }

    /// A category axis: category `i` spans `i..i + 1`. Its labels are drawn by the bar chart.
    fn categories(count: usize) -> Axis {
        Axis {
            lo: 0.0,
            hi: count as f64,
            log: false,
            ticks: Vec::new(),
        }
    }

    /// Where `value` lies along the axis, 0 at `lo` and 1 at `hi`. Clamped so that a value off
    /// the axis cannot overflow pixel coordinates.
    fn fraction(&self, value: f64) -> f64 {
        let f = if self.log {
            (value.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (value - self.lo) / (self.hi - self.lo)
        };
        if f.is_nan() { 0.0 } else { f.clamp(-1.0, 2.0) }
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = f64::from(limit.1 - limit.0);
        limit.0 + (self.fraction(*value) * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let wanted = hint.max_num_points();
        if wanted == 0 {
            return Vec::new();
        }
        let stride = self.ticks.len().div_ceil(wanted).max(1);
        self.ticks.iter().step_by(stride).map(|t| t.0).collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .find(|t| t.0 == *value)
            .map(|t| t.1.clone())
            .unwrap_or_else(|| format!("{value}"))
    }
}

fn is_power_of_two(value: f64) -> bool {
    let k = value.log2().round();
    (value - k.exp2()).abs() <= 1e-9 * value
}

/// Ticks at 1, 2 or 5 times a power of ten, four to nine of them, all with the same decimals.
fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let raw = (hi - lo) / 8.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = magnitude
        * match raw / magnitude {
            m if m <= 1.0 => 1.0,
            m if m <= 2.0 => 2.0,
            m if m <= 5.0 => 5.0,
            _ => 10.0,
        };
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !(step > 0.0 && first.is_finite() && last.is_finite()) || last - first > 50.0 {
        return Vec::new();
    }
    let step_exp = step.log10().floor() as i32;
    let big_exp = lo.abs().max(hi.abs()).log10().floor() as i32;
    // Very large or small values share one exponent, so the mantissas line up ("1.5e7").
    let exp = if (-4..6).contains(&big_exp) {
        0
    } else {
        big_exp
    };
    let decimals = (exp - step_exp).max(0) as usize;
    (first as i64..=last as i64)
        .map(|k| {
            // -0.0 would print as "-0".
            let value = k as f64 * step + 0.0;
            let label = match (exp, k) {
                (0, _) => format!("{value:.decimals$}"),
                (_, 0) => "0".to_string(),
                _ => format!("{:.decimals$}e{exp}", value / 10f64.powi(exp)),
            };
            (value, label)
        })
        .collect()
}

/// Ticks for a log axis: powers of two when the data are powers of two (time steps), else 1-2-5
/// steps when they are few enough, else powers of ten, else (a range narrower than from 1 to 2)
/// linear ticks.
fn log_ticks(lo: f64, hi: f64, powers_of_two: bool) -> Vec<(f64, String)> {
    let mut candidates = Vec::new();
    if powers_of_two {
        candidates.push(power_of_two_ticks(lo, hi));
    }
    candidates.push(decimal_ticks(
        exponents(lo, hi, 1)
            .flat_map(|k| [1.0, 2.0, 5.0].map(|m| (m, k)))
            .filter(|&(m, k)| (lo..=hi).contains(&(m * 10f64.powi(k)))),
    ));
    let decades = exponents(lo, hi, 1)
        .filter(|&k| (lo..=hi).contains(&10f64.powi(k)))
        .count();
    let stride = decades.div_ceil(MAX_TICKS).max(1);
    candidates.push(decimal_ticks(
        exponents(lo, hi, stride)
            .filter(|&k| (lo..=hi).contains(&10f64.powi(k)))
            .map(|k| (1.0, k)),
    ));
    candidates
        .into_iter()
        .find(|ticks| (2..=MAX_TICKS).contains(&ticks.len()))
        .unwrap_or_else(|| linear_ticks(lo, hi))
}

/// The decimal exponents `k` with `10^k` from below `lo` to `hi`, every `stride`-th one.
fn exponents(lo: f64, hi: f64, stride: usize) -> impl Iterator<Item = i32> {
    let first = lo.log10().floor() as i32;
    let last = hi.log10().floor() as i32;
    (first..=last).step_by(stride)
}

/// Ticks `m × 10^k`, labelled in plain decimals when all of them are short that way, else all in
/// e-notation, so that one axis never mixes the two.
fn decimal_ticks(ticks: impl Iterator<Item = (f64, i32)>) -> Vec<(f64, String)> {
    let ticks: Vec<(f64, i32)> = ticks.collect();
    let plain = ticks.iter().all(|&(_, k)| (-4..=6).contains(&k));
    ticks
        .into_iter()
        .map(|(m, k)| {
            let value = m * 10f64.powi(k);
            let label = if plain {
                format!("{value:.*}", (-k).max(0) as usize)
            } else {
                format!("{m}e{k}")
            };
            (value, label)
        })
        .collect()
}

/// Powers of two within `lo..=hi`, every k-th one if there are more than [`MAX_TICKS`].
fn power_of_two_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let first = (lo.log2() - 1e-9).ceil() as i32;
    let last = (hi.log2() + 1e-9).floor() as i32;
    if last < first {
        return Vec::new();
    }
    let stride = ((last - first) as usize + 1).div_ceil(MAX_TICKS);
    (first..=last)
        .step_by(stride)
        .map(|k| {
            let value = 2f64.powi(k);
            let label = match k {
                0..=20 => format!("{value:.0}"),
                // 2^-k has exactly k decimals.
                -4..0 => format!("{value:.*}", (-k) as usize),
                _ => format!("2^{k}"),
            };
            (value, label)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Chart scaffolding shared by line and bar charts: title, legend column, axes and grid.

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// What a line or bar chart needs beyond its data: the axes and the space around the plot.
struct ChartLayout<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x: Axis,
    y: Axis,
    /// Height of the band under the plot (tick labels and axis name).
    x_band: u32,
    legend: Vec<String>,
    legend_width: u32,
    swatch: Swatch,
}

impl ChartLayout<'_> {
    /// Draws everything but the data; returns the chart to draw the data on.
    fn draw<'a, DB: DrawingBackend>(
        &self,
        root: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<DB, Chart<'a, DB>> {
        let body = draw_frame(root, self.title)?;
        let (width, _) = body.dim_in_pixel();
        let (plot_area, legend_area) =
            body.split_horizontally(width.saturating_sub(self.legend_width));
        draw_legend(&legend_area, &self.legend, self.swatch)?;

        let y_band = self.y_band();
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(CHART_MARGIN)
            .margin_bottom(4)
            .x_label_area_size(self.x_band)
            .y_label_area_size(y_band)
            .build_cartesian_2d(self.x.clone(), self.y.clone())?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style(text_style(TICK_SIZE))
            .axis_desc_style(text_style(AXIS_NAME_SIZE))
            .bold_line_style(GRID_COLOUR)
            .axis_style(BLACK.stroke_width(1))
            .max_light_lines(0)
            .x_labels(MAX_TICKS)
            .y_labels(MAX_TICKS);
        if self.x.ticks.is_empty() {
            // Categories have no grid lines; their names are drawn by the bar chart.
            mesh.disable_x_mesh();
        }
        mesh.draw()?;
        Ok(chart)
    }

    /// Width of the band left of the plot: the widest tick label and the rotated axis name.
    fn y_band(&self) -> u32 {
        let widest = self
            .y
            .ticks
            .iter()
            .map(|t| text_width(&t.1, TICK_SIZE))
            .max()
            .unwrap_or(0);
        widest + AXIS_NAME_SIZE as u32 + 24
    }

    /// Band under a plot with upright tick labels.
    fn plain_x_band() -> u32 {
        (TICK_SIZE + AXIS_NAME_SIZE) as u32 + 24
    }

    /// Width of the plotting area, before plotters lays it out; the bar chart uses it to decide
    /// whether category names fit upright.
    fn plot_width(&self) -> u32 {
        CHART_SIZE
            .0
            .saturating_sub(self.legend_width + self.y_band() + 2 * CHART_MARGIN)
    }
}

// ---------------------------------------------------------------------------------------------
// Line chart.

const ERROR_CAP: i32 = 5;

struct LinePlot<'a> {
    chart: &'a LineChart,
    layout: ChartLayout<'a>,
}

impl<'a> LinePlot<'a> {
    fn prepare(chart: &'a LineChart, stem: &Path) -> Result<Self> {
        ensure_font(stem)?;
        for series in &chart.series {
            if let Some(errors) = &series.errors
                && errors.len() != series.points.len()
            {
                return Err(bad_input(
                    stem,
                    format!(
                        "series {:?} has {} errors for {} points",
                        series.label,
                        errors.len(),
                        series.points.len()
                    ),
                ));
            }
        }
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for series in &chart.series {
            for (index, &(x, y)) in series.points.iter().enumerate() {
                if !(usable(x, chart.log_x) && usable(y, chart.log_y)) {
                    continue;
                }
                xs.push(x);
                ys.push(y);
                if let Some(e) = error_at(series, index) {
                    ys.extend([y - e, y + e]);
                }
            }
        }
        let nothing = || {
            bad_input(
                stem,
                format!(
                    "line chart {:?} has no point to draw (every coordinate is missing, not \
                     finite, or not positive on a log axis)",
                    chart.title
                ),
            )
        };
        let x = Axis::fit(&xs, chart.log_x, false).ok_or_else(nothing)?;
        let y = Axis::fit(&ys, chart.log_y, false).ok_or_else(nothing)?;
        let (legend, legend_width) = legend_layout(chart.series.iter().map(|s| s.label.as_str()));
        Ok(LinePlot {
            chart,
            layout: ChartLayout {
                title: &chart.title,
                x_label: &chart.x_label,
                y_label: &chart.y_label,
                x,
                y,
                x_band: ChartLayout::plain_x_band(),
                legend,
                legend_width,
                swatch: Swatch::Line,
            },
        })
    }

    fn usable_point(&self, (x, y): (f64, f64)) -> bool {
        usable(x, self.chart.log_x) && usable(y, self.chart.log_y)
    }

    fn draw_series<DB: DrawingBackend>(
        &self,
        chart: &Chart<'_, DB>,
        series: &Series,
        look: Look,
    ) -> DrawResult<DB> {
        let area = chart.plotting_area();
        // Error bars first, so the line and markers stay on top.
        for (index, &(x, y)) in series.points.iter().enumerate() {
            if let Some(e) = error_at(series, index)
                && self.usable_point((x, y))
            {
                self.draw_error_bar(chart, (x, y), e, look)?;
            }
        }
        for run in series
            .points
            .split(|&p| !self.usable_point(p))
            .filter(|run| run.len() >= 2)
        {
            draw_path(area, run.to_vec(), look)?;
        }
        for &point in series.points.iter().filter(|&&p| self.usable_point(p)) {
            draw_marker(area, point, look)?;
        }
        Ok(())
    }

    /// A vertical bar from `y - error` to `y + error`, with caps; on a log axis a lower end at
    /// or below zero is cut at the bottom of the axis and gets no cap, to show it goes on.
    fn draw_error_bar<DB: DrawingBackend>(
        &self,
        chart: &Chart<'_, DB>,
        (x, y): (f64, f64),
        error: f64,
        look: Look,
    ) -> DrawResult<DB> {
        let area = chart.plotting_area();
        let low = y - error;
        let low_visible = usable(low, self.chart.log_y);
        let low = if low_visible { low } else { self.layout.y.lo };
        let high = y + error;
        let style = look.colour.stroke_width(1);
        area.draw(&PathElement::new(vec![(x, low), (x, high)], style))?;
        let cap = vec![(-ERROR_CAP, 0), (ERROR_CAP, 0)];
        area.draw(&(EmptyElement::at((x, high)) + PathElement::new(cap.clone(), style)))?;
        if low_visible {
            area.draw(&(EmptyElement::at((x, low)) + PathElement::new(cap, style)))?;
        }
        Ok(())
    }
}

/// The error of point `index`, when there is one worth drawing.
fn error_at(series: &Series, index: usize) -> Option<f64> {
    let error = *series.errors.as_ref()?.get(index)?;
    (error.is_finite() && error > 0.0).then_some(error)
}

impl Figure for LinePlot<'_> {
    fn size(&self) -> (u32, u32) {
        CHART_SIZE
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _raster: bool,
    ) -> DrawResult<DB> {
        let chart = self.layout.draw(root)?;
        for (index, series) in self.chart.series.iter().enumerate() {
            self.draw_series(&chart, series, look(index))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Bar chart.

const CATEGORY_SIZE_LARGE: f64 = 15.0;
const CATEGORY_SIZE_SMALL: f64 = 13.0;
/// Part of a category's width its bars fill; the rest separates the groups.
const GROUP_FILL: f64 = 0.8;
/// Longest category name drawn, turned, under the axis.
const CATEGORY_TEXT_MAX: u32 = 140;

struct BarPlot<'a> {
    chart: &'a BarChart,
    layout: ChartLayout<'a>,
    /// The category names as drawn (shortened when very long).
    names: Vec<String>,
    name_size: f64,
    turned: bool,
}

impl<'a> BarPlot<'a> {
    fn prepare(chart: &'a BarChart, stem: &Path) -> Result<Self> {
        ensure_font(stem)?;
        if chart.categories.is_empty() || chart.series.is_empty() {
            return Err(bad_input(
                stem,
                format!(
                    "bar chart {:?} needs at least one category and one series (has {} and {})",
                    chart.title,
                    chart.categories.len(),
                    chart.series.len()
                ),
            ));
        }
        for (label, values) in &chart.series {
            if values.len() != chart.categories.len() {
                return Err(bad_input(
                    stem,
                    format!(
                        "bar series {label:?} has {} values for {} categories",
                        values.len(),
                        chart.categories.len()
                    ),
                ));
            }
        }
        let values: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .collect();
        let y = Axis::fit(&values, chart.log_y, true).ok_or_else(|| {
            bad_input(
                stem,
                format!(
                    "bar chart {:?} has no value to draw (every value is not finite, or not \
                     positive on a log axis)",
                    chart.title
                ),
            )
        })?;
        let (legend, legend_width) = legend_layout(chart.series.iter().map(|s| s.0.as_str()));
        let mut layout = ChartLayout {
            title: &chart.title,
            x_label: &chart.x_label,
            y_label: &chart.y_label,
            x: Axis::categories(chart.categories.len()),
            y,
            x_band: ChartLayout::plain_x_band(),
            legend,
            legend_width,
            swatch: Swatch::Bar,
        };

        let slot = layout.plot_width() / chart.categories.len() as u32;
        let name_size = if slot >= 40 {
            CATEGORY_SIZE_LARGE
        } else {
            CATEGORY_SIZE_SMALL
        };
        let names: Vec<String> = chart
            .categories
            .iter()
            .map(|name| fit_text(name, name_size, CATEGORY_TEXT_MAX))
            .collect();
        let longest = names
            .iter()
            .map(|name| text_width(name, name_size))
            .max()
            .unwrap_or(0);
        let turned = longest + 6 > slot;
        if turned {
            layout.x_band = longest + AXIS_NAME_SIZE as u32 + 24;
        }
        Ok(BarPlot {
            chart,
            layout,
            names,
            name_size,
            turned,
        })
    }

    /// Category names under the axis: upright and centred, or turned to read upwards and ending
    /// just under the axis.
    fn draw_names<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &Chart<'_, DB>,
    ) -> DrawResult<DB> {
        let style = if self.turned {
            text_style(self.name_size)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            text_style(self.name_size).pos(Pos::new(HPos::Center, VPos::Top))
        };
        let (_, rows) = chart.plotting_area().get_pixel_range();
        for (index, name) in self.names.iter().enumerate() {
            let (x, _) = chart.backend_coord(&(index as f64 + 0.5, self.layout.y.lo));
            root.draw_text(name, &style, (x, rows.end + 6))?;
        }
        Ok(())
    }
}

impl Figure for BarPlot<'_> {
    fn size(&self) -> (u32, u32) {
        CHART_SIZE
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        _raster: bool,
    ) -> DrawResult<DB> {
        let chart = self.layout.draw(root)?;
        let area = chart.plotting_area();
        let y = &self.layout.y;
        // Bars rise from zero, or from the bottom of a log axis, which has no zero.
        let base = if y.log { y.lo } else { 0.0 };
        let width = GROUP_FILL / self.chart.series.len() as f64;
        for (s, (_, values)) in self.chart.series.iter().enumerate() {
            let colour = look(s).colour;
            for (c, &value) in values.iter().enumerate() {
                if !usable(value, y.log) {
                    continue;
                }
                let left = c as f64 + (1.0 - GROUP_FILL) / 2.0 + s as f64 * width;
                // Upper-left, then lower-right corner: the SVG backend does not reorder them.
                let corners = [(left, value.max(base)), (left + width, value.min(base))];
                area.draw(&Rectangle::new(corners, colour.filled()))?;
            }
        }
        self.draw_names(root, &chart)
    }
}

// ---------------------------------------------------------------------------------------------
// Image grid.

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
mod tests {
    use super::*;

    /// Width, height and RGB pixels of a PNG file.
    fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
        let bytes = std::fs::read(path).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    /// Checks both files of a figure and returns the SVG text.
    fn check_files(paths: &[PathBuf; 2], stem: &Path, size: Option<(u32, u32)>) -> String {
        assert_eq!(paths[0], with_extension(stem, "png"));
        assert_eq!(paths[1], with_extension(stem, "svg"));
        let (width, height, pixels) = decode_png(&paths[0]);
        if let Some(size) = size {
            assert_eq!((width, height), size);
        }
        assert!(
            pixels.chunks(3).any(|p| p != &pixels[..3]),
            "{} is one colour",
            paths[0].display()
        );
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        svg
    }

    fn series(label: &str, points: &[(f64, f64)], errors: Option<Vec<f64>>) -> Series {
        Series {
            label: label.into(),
            points: points.to_vec(),
            errors,
        }
    }

    fn time_step_chart() -> LineChart {
        let ts = [4.0, 8.0, 16.0, 32.0, 64.0, 128.0];
        let points = |f: fn(f64) -> f64| ts.iter().map(|&t| (t, f(t))).collect::<Vec<_>>();
        LineChart {
            title: "Accuracy against time steps".into(),
            x_label: "time steps T".into(),
            y_label: "mean IoU".into(),
            log_x: true,
            log_y: false,
            series: vec![
                series("ANN", &points(|_| 0.93), None),
                series(
                    "SNN threshold balancing",
                    &points(|t| 0.93 - 0.8 / t.sqrt()),
                    Some(vec![0.02; 6]),
                ),
                series(
                    "SNN weight norm",
                    &points(|t| 0.93 - 1.1 / t.sqrt()),
                    Some(vec![0.03, 0.02, f64::NAN, 0.01, -1.0, 0.0]),
                ),
            ],
        }
    }

    fn layer_chart() -> BarChart {
        BarChart {
            title: "Firing rate per layer".into(),
            x_label: "layer".into(),
            y_label: "firing rate".into(),
            log_y: false,
            categories: (1..=18).map(|i| format!("relu{i}")).collect(),
            series: vec![
                (
                    "T = 16".into(),
                    (0..18).map(|i| 0.05 + 0.01 * i as f64).collect(),
                ),
                (
                    "T = 64".into(),
                    (0..18).map(|i| 0.2 - 0.005 * i as f64).collect(),
                ),
            ],
        }
    }

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

    fn qualitative_grid() -> ImageGrid {
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
    fn line_chart_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("accuracy");
        let chart = time_step_chart();
        let paths = line_chart(&chart, &stem).unwrap();
        let svg = check_files(&paths, &stem, Some(CHART_SIZE));
        for text in [
            "Accuracy against time steps",
            "time steps T",
            "mean IoU",
            "ANN",
            "SNN threshold balancing",
            "SNN weight norm",
        ] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        // The log2 time axis is ticked at the time steps themselves.
        for tick in ["4", "8", "16", "32", "64", "128"] {
            assert!(
                svg.contains(&format!(">\n{tick}\n</text>")),
                "no tick {tick}"
            );
        }
    }

    #[test]
    fn line_chart_on_log_log_axes_skips_what_it_cannot_draw() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("mse");
        let chart = LineChart {
            title: "MSE".into(),
            x_label: "T".into(),
            y_label: "MSE".into(),
            log_x: true,
            log_y: true,
            series: vec![
                series(
                    "with gaps",
                    &[
                        (4.0, 0.1),
                        (8.0, f64::NAN),
                        (16.0, 0.0),
                        (32.0, 0.01),
                        (0.0, 1.0),
                    ],
                    Some(vec![0.2, 0.1, 0.1, 0.001, 0.1]),
                ),
                series("empty", &[], None),
                series("single point", &[(64.0, 0.005)], Some(vec![0.001])),
            ],
        };
        let paths = line_chart(&chart, &stem).unwrap();
        let svg = check_files(&paths, &stem, Some(CHART_SIZE));
        assert!(svg.contains("empty") && svg.contains("single point"));
    }

    #[test]
    fn line_chart_of_equal_values_or_one_point_gets_a_range() {
        let dir = tempfile::tempdir().unwrap();
        for (name, points) in [
            ("flat", vec![(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)]),
            ("zeros", vec![(0.0, 0.0), (0.0, 0.0)]),
            ("one", vec![(7.0, -3.0)]),
        ] {
            let stem = dir.path().join(name);
            let chart = LineChart {
                title: name.into(),
                x_label: "x".into(),
                y_label: "y".into(),
                log_x: false,
                log_y: false,
                series: vec![series(name, &points, None)],
            };
            let paths = line_chart(&chart, &stem).unwrap();
            check_files(&paths, &stem, Some(CHART_SIZE));
        }
    }

    #[test]
    fn line_chart_with_nothing_to_draw_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("nothing");
        let mut chart = time_step_chart();
        chart.series.clear();
        assert!(matches!(line_chart(&chart, &stem), Err(Error::Plot { .. })));
        chart.series = vec![series(
            "all NaN",
            &[(f64::NAN, 1.0), (2.0, f64::INFINITY)],
            None,
        )];
        assert!(matches!(line_chart(&chart, &stem), Err(Error::Plot { .. })));
        // Nothing positive on a log axis.
        chart.series = vec![series("negative", &[(4.0, -1.0), (8.0, 0.0)], None)];
        chart.log_y = true;
        assert!(matches!(line_chart(&chart, &stem), Err(Error::Plot { .. })));
        assert!(!with_extension(&stem, "png").exists());
        assert!(!with_extension(&stem, "svg").exists());
    }

    #[test]
    fn line_chart_rejects_errors_that_do_not_match_points() {
        let dir = tempfile::tempdir().unwrap();
        let mut chart = time_step_chart();
        chart.series[1].errors = Some(vec![0.1; 2]);
        let err = line_chart(&chart, &dir.path().join("x")).unwrap_err();
        assert!(err.to_string().contains("2 errors for 6 points"), "{err}");
    }

    #[test]
    fn bar_chart_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("layers");
        let paths = bar_chart(&layer_chart(), &stem).unwrap();
        let svg = check_files(&paths, &stem, Some(CHART_SIZE));
        for text in [
            "Firing rate per layer",
            "firing rate",
            "T = 16",
            "T = 64",
            "relu1",
            "relu18",
        ] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        // Eighteen names do not fit upright under their groups; the y axis name is turned too.
        assert_eq!(svg.matches("rotate(270").count(), 18 + 1);
    }

    #[test]
    fn bar_chart_on_a_log_axis_leaves_out_values_it_cannot_draw() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("energy");
        let chart = BarChart {
            title: "Energy".into(),
            x_label: "method".into(),
            y_label: "J".into(),
            log_y: true,
            categories: vec!["ANN".into(), "SNN".into(), "SNN T=64".into()],
            series: vec![
                ("GPU".into(), vec![1e-3, 0.0, 8e-5]),
                ("Loihi".into(), vec![f64::NAN, 3e-6, -1.0]),
            ],
        };
        let paths = bar_chart(&chart, &stem).unwrap();
        let svg = check_files(&paths, &stem, Some(CHART_SIZE));
        assert!(svg.contains("Loihi") && svg.contains("SNN T=64"));
        assert_eq!(
            svg.matches("rotate(270").count(),
            1,
            "three short names fit upright"
        );
    }

    #[test]
    fn bar_chart_of_zeros_or_one_value_gets_a_range() {
        let dir = tempfile::tempdir().unwrap();
        for (name, values) in [("zeros", vec![0.0, 0.0]), ("one", vec![f64::NAN, -2.5])] {
            let stem = dir.path().join(name);
            let chart = BarChart {
                title: name.into(),
                x_label: String::new(),
                y_label: String::new(),
                log_y: false,
                categories: vec!["a".into(), "b".into()],
                series: vec![(name.into(), values)],
            };
            let paths = bar_chart(&chart, &stem).unwrap();
            check_files(&paths, &stem, Some(CHART_SIZE));
        }
    }

    #[test]
    fn bar_chart_rejects_inconsistent_or_empty_input() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("bad");
        let mut chart = layer_chart();
        chart.series[1].1.pop();
        let err = bar_chart(&chart, &stem).unwrap_err();
        assert!(
            err.to_string().contains("17 values for 18 categories"),
            "{err}"
        );
        chart.series.clear();
        assert!(matches!(bar_chart(&chart, &stem), Err(Error::Plot { .. })));
        let mut chart = layer_chart();
        chart.series[0].1.fill(f64::NAN);
        chart.series[1].1.fill(f64::NEG_INFINITY);
        assert!(matches!(bar_chart(&chart, &stem), Err(Error::Plot { .. })));
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
    fn titles_are_escaped_in_svg() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("escaped");
        let mut chart = time_step_chart();
        chart.title = "IoU < 1 & T > 4".into();
        let paths = line_chart(&chart, &stem).unwrap();
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(
            svg.contains("IoU &lt; 1 &amp; T &gt; 4"),
            "title not escaped"
        );
    }

    #[test]
    fn stems_keep_their_dots() {
        assert_eq!(
            with_extension(Path::new("out/fig.v2"), "png"),
            PathBuf::from("out/fig.v2.png")
        );
    }

    #[test]
    fn log_axes_get_round_ticks() {
        let labels = |axis: Axis| axis.ticks.into_iter().map(|t| t.1).collect::<Vec<_>>();
        let time_steps = Axis::fit(&[4.0, 8.0, 16.0, 32.0, 64.0, 128.0], true, false).unwrap();
        assert_eq!(labels(time_steps), ["4", "8", "16", "32", "64", "128"]);
        let errors = Axis::fit(&[0.004, 0.5], true, false).unwrap();
        assert_eq!(
            labels(errors),
            ["0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]
        );
        let energies = Axis::fit(&[3e-9, 1e-3], true, false).unwrap();
        assert_eq!(
            labels(energies),
            ["1e-8", "1e-7", "1e-6", "1e-5", "1e-4", "1e-3"]
        );
        // Narrower than one 1-2-5 step: plain linear ticks.
        let narrow = Axis::fit(&[3.1, 3.6], true, false).unwrap();
        assert!(narrow.ticks.len() >= 2);
    }

    #[test]
    fn linear_axes_get_round_ticks() {
        let labels = |axis: Axis| axis.ticks.into_iter().map(|t| t.1).collect::<Vec<_>>();
        let iou = Axis::fit(&[0.31, 0.95], false, false).unwrap();
        assert_eq!(
            labels(iou),
            ["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]
        );
        let rates = Axis::fit(&[0.05, 0.22], false, true).unwrap();
        assert_eq!(rates.lo, 0.0);
        assert_eq!(labels(rates), ["0.00", "0.05", "0.10", "0.15", "0.20"]);
        let around_zero = Axis::fit(&[-1.0, 1.0], false, false).unwrap();
        assert!(labels(around_zero).contains(&"0.0".to_string()));
        let huge = labels(Axis::fit(&[0.0, 3e7], false, true).unwrap());
        assert_eq!(
            huge,
            ["0", "0.5e7", "1.0e7", "1.5e7", "2.0e7", "2.5e7", "3.0e7"]
        );
    }
}
