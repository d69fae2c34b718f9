//! Figures for the paper and the README: line charts of a metric against the number of time steps
//! (with error bars over seeds), grouped bar charts of a statistic per layer, and grids of images
//! (qualitative results, one row per test image). Each of [`line_chart`], [`bar_chart`] and
//! [`image_grid`], re-exported here with their inputs ([`LineChart`] and [`Series`],
//! [`BarChart`], [`ImageGrid`] and [`GrayImage`]), writes `<stem>.png` to look at and
//! `<stem>.svg` to print, byte-identical for the same inputs on any machine. Values that cannot be
//! drawn (NaN, infinities, values `<= 0` on a log axis) are left out rather than failing the
//! figure; a figure with nothing at all to draw, or with inputs that contradict each other, is an
//! [`Error::Plot`](crate::Error::Plot).

mod axes;
mod bar;
mod chart;
mod draw;
mod grid;
mod line;
mod render;
#[cfg(test)]
mod testing;

pub use bar::{BarChart, bar_chart};
pub use grid::{GrayImage, ImageGrid, image_grid};
pub use line::{LineChart, Series, line_chart};
