//! Axes for line and bar charts. Ranges and ticks are chosen here rather than by plotters, so that
//! log axes get round ticks (4, 8, 16 ... for time steps; 0.01, 0.1, 1 ... otherwise) and
//! degenerate data (one value, all values equal) still gets a range; [`Axis`] implements
//! plotters' `Ranged`, so a chart maps its values through it and labels the ticks chosen here.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

/// The most ticks an axis shows.
pub(super) const MAX_TICKS: usize = 10;

/// A linear or logarithmic axis over `lo..hi` with its ticks and their labels.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) ticks: Vec<(f64, String)>,
}

/// Whether `value` has a place on a (log) axis.
pub(super) fn usable(value: f64, log: bool) -> bool {
    value.is_finite() && (!log || value > 0.0)
}

impl Axis {
    /// An axis that shows every usable value with a small margin, or `None` when there is none.
    /// With `from_zero` (bars on a linear axis) the range includes zero and has no margin there,
    /// so bars rise from the axis line.
    pub(super) fn fit(values: &[f64], log: bool, from_zero: bool) -> Option<Axis> {
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
    pub(super) fn categories(count: usize) -> Axis {
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

#[cfg(test)]
mod tests {
    use super::*;

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
