//! Drawing primitives every figure shares: the embedded font and its text sizes, measuring and
//! shortening text, the title band, and the look of a series (colour, marker, dash pattern) with
//! the routines that draw it. The SVG's text is laid out by the viewer and exact; the PNG's is
//! rasterised by plotters 0.3.7, which ignores each glyph's left side bearing, so a few glyphs
//! ("1", "=") sit a pixel or two left of where they belong: readable, but the SVG is the one to
//! print.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{DrawResult, bad_input};
use crate::Result;

/// The font family every text is drawn in; the name is what the SVG asks the viewer for.
const FONT: &str = "sans-serif";
pub(super) const TITLE_SIZE: f64 = 26.0;
pub(super) const AXIS_NAME_SIZE: f64 = 20.0;
pub(super) const TICK_SIZE: f64 = 16.0;
pub(super) const LEGEND_SIZE: f64 = 16.0;
pub(super) const CAPTION_SIZE: f64 = 16.0;
/// Height of the band the title sits in, at the top of every figure.
pub(super) const TITLE_BAND: u32 = 46;
pub(super) const FRAME_COLOUR: RGBColor = RGBColor(150, 150, 150);

/// plotters' ab_glyph text needs its fonts registered by name; registering the embedded font
/// (once, for the whole process) keeps the figures independent of the fonts installed.
pub(super) fn ensure_font(stem: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
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

pub(super) fn text_style(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

/// Width in pixels of `text` drawn at `size`, as the backends will lay it out. Only called after
/// [`ensure_font`]; the rough estimate covers a font that cannot lay the text out.
pub(super) fn text_width(text: &str, size: f64) -> u32 {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

/// `text`, cut short with an ellipsis if it is wider than `max_width` at `size`, so one long
/// label cannot push the rest of a figure out of view.
pub(super) fn fit_text(text: &str, size: f64, max_width: u32) -> String {
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
pub(super) fn draw_frame<DB: DrawingBackend>(
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
pub(super) struct Look {
    pub(super) colour: RGBColor,
    marker: Marker,
    dash: Option<(i32, i32)>,
}

/// The look of series `index`. The cycle lengths 7, 6 and 3 make the first 42 combinations
/// distinct, and any two neighbours differ in all three.
pub(super) fn look(index: usize) -> Look {
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

pub(super) fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    look: Look,
) -> DrawResult<DB> {
    area.draw(
        &(EmptyElement::at(at) + Polygon::new(marker_outline(look.marker), look.colour.filled())),
    )
}

/// A polyline in the series' colour and dash pattern.
pub(super) fn draw_path<DB: DrawingBackend, CT: CoordTranslate>(
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
