//! Line charts: a metric against the number of time steps, one line per method, with error bars
//! over seeds. A point that cannot be drawn breaks its line there instead of failing the chart, so
//! one diverged run does not hide the others.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{Axis, usable};
use super::chart::{CHART_SIZE, Chart, ChartLayout, Swatch, legend_layout};
use super::draw::{Look, draw_marker, draw_path, ensure_font, look};
use super::render::{DrawResult, Figure, bad_input, render};
use crate::Result;

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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::Error;
    use crate::plot::render::with_extension;
    use crate::plot::testing::check_files;

    fn series(label: &str, points: &[(f64, f64)], errors: Option<Vec<f64>>) -> Series {
        Series {
            label: label.into(),
            points: points.to_vec(),
            errors,
        }
    }

    pub(in crate::plot) fn time_step_chart() -> LineChart {
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
}
