//! What line and bar charts share around their data: the figure size, the legend column and
//! [`ChartLayout`], which draws the title, legend, axes and grid lines and hands back the chart to
//! draw the data on. The bands around the plot are sized here, from the texts they hold, rather
//! than left to plotters, because the bar chart must know the plot's width before drawing to
//! decide whether its category names fit upright.

use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{Axis, MAX_TICKS};
use super::draw::{
    AXIS_NAME_SIZE, FRAME_COLOUR, LEGEND_SIZE, TICK_SIZE, draw_frame, draw_marker, draw_path,
    fit_text, look, text_style, text_width,
};
use super::render::DrawResult;

pub(super) const CHART_SIZE: (u32, u32) = (900, 560);
/// Gap between the chart's plotting area and the figure's edges (and the legend).
const CHART_MARGIN: u32 = 14;
const GRID_COLOUR: RGBColor = RGBColor(225, 225, 225);

// Legend: a framed column at the right of the plot, outside it, so it never hides data.

const LEGEND_ROW: i32 = 24;
const LEGEND_PAD: i32 = 10;
const LEGEND_SAMPLE: i32 = 38;
/// Widest legend text before it is shortened; keeps the plot at least ~60 % of the figure.
const LEGEND_TEXT_MAX: u32 = 250;

#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Line,
    Bar,
}

/// The legend's texts, shortened to fit, and the width of the column that holds them.
pub(super) fn legend_layout<'a>(labels: impl Iterator<Item = &'a str>) -> (Vec<String>, u32) {
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

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// What a line or bar chart needs beyond its data: the axes and the space around the plot.
pub(super) struct ChartLayout<'a> {
    pub(super) title: &'a str,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) x: Axis,
    pub(super) y: Axis,
    /// Height of the band under the plot (tick labels and axis name).
    pub(super) x_band: u32,
    pub(super) legend: Vec<String>,
    pub(super) legend_width: u32,
    pub(super) swatch: Swatch,
}

impl ChartLayout<'_> {
    /// Draws everything but the data; returns the chart to draw the data on.
    pub(super) fn draw<'a, DB: DrawingBackend>(
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
    pub(super) fn plain_x_band() -> u32 {
        (TICK_SIZE + AXIS_NAME_SIZE) as u32 + 24
    }

    /// Width of the plotting area, before plotters lays it out; the bar chart uses it to decide
    /// whether category names fit upright.
    pub(super) fn plot_width(&self) -> u32 {
        CHART_SIZE
            .0
            .saturating_sub(self.legend_width + self.y_band() + 2 * CHART_MARGIN)
    }
}
