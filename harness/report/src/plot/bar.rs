//! Grouped bar charts: one group per category (a layer), one bar per series in each group, rising
//! from zero, or from the bottom of a log axis, which has no zero. Category names are written
//! upright when they fit under their group and turned a quarter turn when they do not, so that
//! eighteen or thirty layers stay legible without a wider figure.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axes::{Axis, usable};
use super::chart::{CHART_SIZE, Chart, ChartLayout, Swatch, legend_layout};
use super::draw::{AXIS_NAME_SIZE, ensure_font, fit_text, look, text_style, text_width};
use super::render::{DrawResult, Figure, bad_input, render};
use crate::Result;

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Error;
    use crate::plot::testing::check_files;

    pub(in crate::plot) fn layer_chart() -> BarChart {
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
}
