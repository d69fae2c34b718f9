//! The significance tests the authors ran on their results, ported from scipy so the harness's
//! p-values can be set beside the paper's.
//!
//! The authors' `statistic_denoising.py` and `statistic_segmentation.py` ask, for every other
//! neuron model, whether the multi-threshold (MT) neuron scores *greater* on the per-image metrics
//! of the test set. They check both samples with `scipy.stats.shapiro`; when neither departs from
//! normality they run `scipy.stats.ttest_ind(a, b, alternative="greater")` (pooled variance), and
//! otherwise `scipy.stats.mannwhitneyu(a, b, alternative="greater")` (method `"auto"`, continuity
//! correction on). [`compare_greater`] is that procedure; [`shapiro_wilk`], [`t_test_greater`] and
//! [`mann_whitney_greater`] are the three scipy calls, each computed the way scipy computes it
//! (Royston's AS R94 for Shapiro–Wilk, the exact null distribution or the tie-corrected normal
//! approximation for Mann–Whitney U) so that the same per-image values give the same numbers.

use std::fmt;

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::{Error, Result};

/// The result of a Shapiro–Wilk normality test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normality {
    /// The W statistic, in (0, 1]; near 1 for normal-looking data.
    pub w: f64,
    /// The p-value of the null hypothesis that the sample comes from a normal distribution.
    pub p_value: f64,
}

/// The statistic and one-sided p-value of a two-sample test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic: Student's t, or U for the first sample.
    pub statistic: f64,
    /// The p-value of the alternative "the first sample is greater".
    pub p_value: f64,
}

/// Which two-sample test [`compare_greater`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Test {
    /// Student's t-test with pooled variance: both samples looked normal.
    StudentT,
    /// The Mann–Whitney U test: normality was rejected or could not be checked.
    MannWhitneyU,
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Test::StudentT => "t-test",
            Test::MannWhitneyU => "Mann-Whitney U",
        })
    }
}

/// The outcome of [`compare_greater`]: the test chosen, its result, and why it was chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The test that produced `statistic` and `p_value`.
    pub test: Test,
    /// Student's t, or U for sample `a`.
    pub statistic: f64,
    /// One-sided p-value of "`a` is greater than `b`".
    pub p_value: f64,
    /// Shapiro–Wilk on sample `a`; `None` when it is undefined (fewer than 3 values, or constant).
    pub normality_a: Option<Normality>,
    /// Shapiro–Wilk on sample `b`; `None` when it is undefined (fewer than 3 values, or constant).
    pub normality_b: Option<Normality>,
    /// Number of values in sample `a`.
    pub n_a: usize,
    /// Number of values in sample `b`.
    pub n_b: usize,
}

/// The authors' test of "`a` is greater than `b`": Shapiro–Wilk on each sample, then a one-sided
/// Student t-test when both p-values exceed `alpha` (the authors use 0.05), else a one-sided
/// Mann–Whitney U test.
///
/// A sample too small for Shapiro–Wilk (fewer than 3 values) or constant counts as "normality not
/// shown", so it gets Mann–Whitney rather than an error: the rank test still has an answer.
///
/// # Errors
///
/// [`Error::Statistics`] when `alpha` is not in (0, 1), a sample is empty, or holds a NaN or an
/// infinity.
pub fn compare_greater(a: &[f64], b: &[f64], alpha: f64) -> Result<Comparison> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(statistics_error(
            "compare_greater",
            format!("the significance level must lie in (0, 1), got {alpha}"),
        ));
    }
    check_finite("compare_greater", "a", a)?;
    check_finite("compare_greater", "b", b)?;

    let normality_a = prepare_for_swilk(a).map(|sorted| swilk(&sorted));
    let normality_b = prepare_for_swilk(b).map(|sorted| swilk(&sorted));
    let shown_normal = |normality: Option<Normality>| normality.is_some_and(|n| n.p_value > alpha);

    let (test, result) = if shown_normal(normality_a) && shown_normal(normality_b) {
        (Test::StudentT, t_test_greater(a, b)?)
    } else {
        (Test::MannWhitneyU, mann_whitney_greater(a, b)?)
    };
    Ok(Comparison {
        test,
        statistic: result.statistic,
        p_value: result.p_value,
        normality_a,
        normality_b,
        n_a: a.len(),
        n_b: b.len(),
    })
}

/// The Shapiro–Wilk test of normality, as `scipy.stats.shapiro` computes it: Royston's algorithm
/// AS R94, with the exact p-value for 3 values and Royston's normalising transformations above.
///
/// Royston fitted the p-value approximation for 3 to 5000 values; like scipy, larger samples still
/// get an answer, less accurate the larger they are.
///
/// # Errors
///
/// [`Error::Statistics`] when the sample has fewer than 3 values, holds a NaN or an infinity, or
/// has zero range (all values equal), where W is undefined.
pub fn shapiro_wilk(sample: &[f64]) -> Result<Normality> {
    const TEST: &str = "shapiro_wilk";
    check_finite(TEST, "the sample", sample)?;
    if sample.len() < 3 {
        return Err(statistics_error(
            TEST,
            format!("needs at least 3 values, got {}", sample.len()),
        ));
    }
    let sorted = prepare_for_swilk(sample).ok_or_else(|| {
        statistics_error(
            TEST,
            "all values are equal (or the range overflows), so W is undefined".to_string(),
        )
    })?;
    Ok(swilk(&sorted))
}

/// Student's two-sample t-test of "`a` has the greater mean", with pooled variance: what
/// `scipy.stats.ttest_ind(a, b, alternative="greater")` computes with its default
/// `equal_var=True`.
///
/// # Errors
///
/// [`Error::Statistics`] when a sample is empty, the two hold 2 values in all (no degree of
/// freedom left), a value is NaN or infinite, or both samples are constant (zero pooled variance,
/// so t is undefined).
pub fn t_test_greater(a: &[f64], b: &[f64]) -> Result<TestResult> {
    const TEST: &str = "t_test";
    check_finite(TEST, "a", a)?;
    check_finite(TEST, "b", b)?;
    check_nonempty(TEST, a, b)?;
    if a.len() + b.len() <= 2 {
        return Err(statistics_error(
            TEST,
            "needs more than 2 values in all, to leave a degree of freedom".to_string(),
        ));
    }

    let (n_a, n_b) = (a.len() as f64, b.len() as f64);
    let (mean_a, mean_b) = (mean(a), mean(b));
    let degrees_of_freedom = n_a + n_b - 2.0;
    // Summing squared deviations (rather than (n - 1) times the sample variance) keeps a sample
    // of one value usable: it adds nothing to the pooled variance, as in scipy.
    let pooled_variance =
        (sum_of_squares(a, mean_a) + sum_of_squares(b, mean_b)) / degrees_of_freedom;
    if pooled_variance <= 0.0 {
        return Err(statistics_error(
            TEST,
            "both samples are constant, so the pooled variance is zero and t is undefined"
                .to_string(),
        ));
    }
    let standard_error = (pooled_variance * (1.0 / n_a + 1.0 / n_b)).sqrt();
    let t = (mean_a - mean_b) / standard_error;

    let distribution = StudentsT::new(0.0, 1.0, degrees_of_freedom)
        .map_err(|error| statistics_error(TEST, format!("Student's t distribution: {error}")))?;
    Ok(TestResult {
        statistic: t,
        p_value: distribution.sf(t),
    })
}

/// The Mann–Whitney U test of "`a` is stochastically greater than `b`", as
/// `scipy.stats.mannwhitneyu(a, b, alternative="greater")` computes it with its defaults.
///
/// The statistic is U for `a` (its rank sum less n_a(n_a + 1)/2). As scipy's `method="auto"`
/// does, the p-value comes from the exact null distribution of U when there are no ties and at
/// least one sample has 8 values or fewer, and otherwise from the normal approximation with the
/// tie correction and the continuity correction. When every value is tied the approximation has
/// zero variance; scipy then returns p = 1 and so does this.
///
/// # Errors
///
/// [`Error::Statistics`] when a sample is empty or holds a NaN or an infinity, or (only for a
/// sample of 8 values or fewer against one of some 200 000) when the exact distribution does not
/// fit in 128-bit counts.
pub fn mann_whitney_greater(a: &[f64], b: &[f64]) -> Result<TestResult> {
    const TEST: &str = "mann_whitney_u";
    check_finite(TEST, "a", a)?;
    check_finite(TEST, "b", b)?;
    check_nonempty(TEST, a, b)?;

    let combined: Vec<f64> = a.iter().chain(b).copied().collect();
    let (ranks, tie_sizes) = average_ranks(&combined);
    let (n_a, n_b) = (a.len(), b.len());
    let rank_sum_a: f64 = ranks[..n_a].iter().sum();
    let u_a = rank_sum_a - (n_a * (n_a + 1)) as f64 / 2.0;

    let has_ties = tie_sizes.iter().any(|&size| size > 1);
    let p_value = if (n_a > 8 && n_b > 8) || has_ties {
        mann_whitney_asymptotic_sf(u_a, n_a, n_b, &tie_sizes)
    } else {
        // Without ties the ranks are integers, so U is a whole number.
        mann_whitney_exact_sf(u_a.round() as usize, n_a, n_b).ok_or_else(|| {
            statistics_error(
                TEST,
                format!(
                    "the exact distribution of U for samples of {n_a} and {n_b} values \
                     overflows 128-bit counts"
                ),
            )
        })?
    };
    Ok(TestResult {
        statistic: u_a,
        p_value,
    })
}

fn statistics_error(test: &'static str, message: String) -> Error {
    Error::Statistics { test, message }
}

fn check_finite(test: &'static str, name: &str, sample: &[f64]) -> Result<()> {
    match sample.iter().position(|value| !value.is_finite()) {
        None => Ok(()),
        Some(index) => Err(statistics_error(
            test,
            format!("{name} holds {} at index {index}", sample[index]),
        )),
    }
}

fn check_nonempty(test: &'static str, a: &[f64], b: &[f64]) -> Result<()> {
    if a.is_empty() || b.is_empty() {
        return Err(statistics_error(
            test,
            format!(
                "needs at least one value in each sample, got {} and {}",
                a.len(),
                b.len()
            ),
        ));
    }
    Ok(())
}

fn mean(sample: &[f64]) -> f64 {
    sample.iter().sum::<f64>() / sample.len() as f64
}

fn sum_of_squares(sample: &[f64], mean: f64) -> f64 {
    sample.iter().map(|value| (value - mean).powi(2)).sum()
}

// ---------------------------------------------------------------------------------------------
// Shapiro–Wilk: a line-by-line port of scipy's `swilk` (scipy/stats/_ansari_swilk_statistics.pyx,
// itself Royston's Fortran AS R94), without the censoring that scipy never uses. The
// approximations it relies on (AS 111 for normal quantiles, AS 66 for the normal tail) are ported
// too rather than replaced by exact functions: W depends on them at the 1e-7 level, and the point
// is to reproduce scipy's numbers.
// ---------------------------------------------------------------------------------------------

/// swilk's threshold below which the sample's range counts as zero.
const SWILK_SMALL: f64 = 1e-19;

/// The sample sorted, and shifted as `scipy.stats.shapiro` shifts it; `None` when W is undefined:
/// fewer than 3 values, a range below swilk's threshold, or one too large to represent.
fn prepare_for_swilk(sample: &[f64]) -> Option<Vec<f64>> {
    let n = sample.len();
    if n < 3 {
        return None;
    }
    // scipy subtracts the value at the middle index of the *unsorted* input (a value near the
    // median) to keep large offsets from eating the precision of W (scipy gh-15777). W does not
    // depend on the shift; the same shift keeps the rounding the same.
    let shift = sample[n / 2];
    let mut sorted: Vec<f64> = sample.iter().map(|value| value - shift).collect();
    sorted.sort_by(f64::total_cmp);
    let range = sorted[n - 1] - sorted[0];
    (range >= SWILK_SMALL && range.is_finite()).then_some(sorted)
}

/// W and its p-value for a sample prepared by [`prepare_for_swilk`].
fn swilk(sorted: &[f64]) -> Normality {
    let n = sorted.len();
    let half_coefficients = swilk_coefficients(n);
    let one_minus_w = swilk_one_minus_w(sorted, &half_coefficients);
    let w = 1.0 - one_minus_w;

    if n == 3 {
        // Exact: P(W < w) = (6/π)(asin √w − asin √(3/4)). W ≥ 3/4 in theory; scipy clamps the
        // rounding that can take it below (gh-18322) rather than return a negative p-value.
        if w < 0.75 {
            return Normality {
                w: 0.75,
                p_value: 0.0,
            };
        }
        return Normality {
            w,
            p_value: 1.0 - 6.0 / std::f64::consts::PI * w.sqrt().acos(),
        };
    }

    // Royston's transformation of log(1 − W) to a standard normal deviate, one fit for small
    // samples and one for the rest.
    let an = n as f64;
    let mut y = one_minus_w.ln();
    let (mean, std_dev) = if n <= 11 {
        let gamma = poly(&[-2.273, 0.459], an);
        if y >= gamma {
            // Outside the fit; AS R94 reports the smallest p it handles. W cannot get this low
            // for 4 ≤ n ≤ 11, but the guard keeps the log below defined.
            return Normality {
                w,
                p_value: SWILK_SMALL,
            };
        }
        y = -(gamma - y).ln();
        (
            poly(&[0.5440, -0.39978, 0.25054e-1, -0.6714e-3], an),
            poly(&[0.13822e1, -0.77857, 0.62767e-1, -0.20322e-2], an).exp(),
        )
    } else {
        let ln_n = an.ln();
        (
            poly(&[-0.15861e1, -0.31082, -0.83751e-1, 0.38915e-2], ln_n),
            poly(&[-0.4803, -0.82676e-1, 0.30302e-2], ln_n).exp(),
        )
    };
    Normality {
        w,
        p_value: alnorm_upper((y - mean) / std_dev),
    }
}

/// The first n/2 Shapiro–Wilk coefficients, positive, for the lowest order statistics (the
/// others mirror them with the opposite sign): Royston's approximation from normal scores.
fn swilk_coefficients(n: usize) -> Vec<f64> {
    if n == 3 {
        return vec![std::f64::consts::FRAC_1_SQRT_2];
    }
    let an = n as f64;
    let an25 = an + 0.25;
    let scores: Vec<f64> = (0..n / 2)
        .map(|i| ppnd(((i + 1) as f64 - 0.375) / an25))
        .collect();
    let mut summ2 = 0.0;
    for score in &scores {
        summ2 += score * score;
    }
    summ2 *= 2.0;
    let ssumm2 = summ2.sqrt();
    let rsn = 1.0 / an.sqrt();

    // Royston corrects the extreme one or two coefficients by polynomials in 1/√n and rescales
    // the rest so that the coefficients keep unit norm.
    let a1 = poly(
        &[
            0.0,
            0.221157,
            -0.147981,
            -0.207119e1,
            0.4434685e1,
            -0.2706056e1,
        ],
        rsn,
    ) - scores[0] / ssumm2;
    let mut coefficients = scores.clone();
    let (first_rescaled, fac) = if n > 5 {
        let a2 = -scores[1] / ssumm2
            + poly(
                &[
                    0.0,
                    0.42981e-1,
                    -0.293762,
                    -0.1752461e1,
                    0.5682633e1,
                    -0.3582633e1,
                ],
                rsn,
            );
        coefficients[1] = a2;
        let fac = ((summ2 - 2.0 * (scores[0] * scores[0]) - 2.0 * (scores[1] * scores[1]))
            / (1.0 - 2.0 * (a1 * a1) - 2.0 * (a2 * a2)))
            .sqrt();
        (2, fac)
    } else {
        let fac = ((summ2 - 2.0 * (scores[0] * scores[0])) / (1.0 - 2.0 * (a1 * a1))).sqrt();
        (1, fac)
    };
    coefficients[0] = a1;
    for coefficient in &mut coefficients[first_rescaled..] {
        *coefficient *= -1.0 / fac;
    }
    coefficients
}

/// 1 − W, as swilk computes it: one minus the squared correlation between the sorted sample and
/// the coefficients, taken as a product of a difference and a sum so that W near 1 keeps its
/// precision in the log of the p-value transformation.
fn swilk_one_minus_w(sorted: &[f64], half_coefficients: &[f64]) -> f64 {
    let n = sorted.len();
    let range = sorted[n - 1] - sorted[0];
    let coefficient = |i: usize| {
        let mirror = n - 1 - i;
        match i.cmp(&mirror) {
            std::cmp::Ordering::Less => -half_coefficients[i],
            std::cmp::Ordering::Greater => half_coefficients[mirror],
            std::cmp::Ordering::Equal => 0.0,
        }
    };

    let (mut sum_a, mut sum_x) = (0.0, 0.0);
    for (i, &x) in sorted.iter().enumerate() {
        sum_a += coefficient(i);
        sum_x += x / range;
    }
    let mean_a = sum_a / n as f64;
    let mean_x = sum_x / n as f64;

    let (mut ssa, mut ssx, mut sax) = (0.0, 0.0, 0.0);
    for (i, &x) in sorted.iter().enumerate() {
        let da = coefficient(i) - mean_a;
        let dx = x / range - mean_x;
        ssa += da * da;
        ssx += dx * dx;
        sax += da * dx;
    }
    let root = (ssa * ssx).sqrt();
    (root - sax) * (root + sax) / (ssa * ssx)
}

/// c[0] + c[1]·x + c[2]·x² + …, evaluated in swilk's order so the rounding matches.
fn poly(coefficients: &[f64], x: f64) -> f64 {
    let (constant, rest) = coefficients
        .split_first()
        .expect("swilk's polynomials are nonempty");
    let Some((&last, middle)) = rest.split_last() else {
        return *constant;
    };
    let mut p = x * last;
    for &coefficient in middle.iter().rev() {
        p = (p + coefficient) * x;
    }
    constant + p
}

/// Upper tail of the standard normal, Hill's AS 66 (`alnorm` in swilk) with its 2001 extension
/// of the upper cut-off from 18.66 to 38.
fn alnorm_upper(x: f64) -> f64 {
    const LOWER_TAIL_CUTOFF: f64 = 7.0;
    const UPPER_TAIL_CUTOFF: f64 = 38.0;
    const SPLIT: f64 = 1.28;

    let (z, upper) = if x > 0.0 { (x, true) } else { (-x, false) };
    if !(z <= LOWER_TAIL_CUTOFF || (upper && z <= UPPER_TAIL_CUTOFF)) {
        return if upper { 0.0 } else { 1.0 };
    }
    let y = 0.5 * z * z;
    let tail = if z <= SPLIT {
        0.5 - z
            * (0.398942280444
                - 0.399903438504 * y
                    / (y + 5.75885480458
                        - 29.8213557808
                            / (y + 2.62433121679 + 48.6959930692 / (y + 5.92885724438))))
    } else {
        0.398942280385 * (-y).exp()
            / (z - 3.8052e-8
                + 1.00000615302
                    / (z + 3.98064794e-4
                        + 1.98615381364
                            / (z - 0.151679116635
                                + 5.29330324926
                                    / (z + 4.8385912808
                                        - 15.1508972451
                                            / (z + 0.742380924027
                                                + 30.789933034 / (z + 3.99019417011))))))
    };
    if upper { tail } else { 1.0 - tail }
}

/// Normal quantile, Beasley and Springer's AS 111 (`ppnd` in swilk), accurate to about 1e-7.
fn ppnd(p: f64) -> f64 {
    const SPLIT: f64 = 0.42;
    let q = p - 0.5;
    if q.abs() <= SPLIT {
        let r = q * q;
        return q
            * (((-25.44106049637 * r + 41.39119773534) * r - 18.61500062529) * r + 2.50662823884)
            / ((((3.13082909833 * r - 21.06224101826) * r + 23.08336743743) * r - 8.47351093090)
                * r
                + 1.0);
    }
    let tail_probability = if q > 0.0 { 1.0 - p } else { p };
    if tail_probability <= 0.0 {
        return 0.0;
    }
    let r = (-tail_probability.ln()).sqrt();
    let magnitude = (((2.32121276858 * r + 4.85014127135) * r - 2.29796479134) * r - 2.78718931138)
        / ((1.63706781897 * r + 3.54388924762) * r + 1.0);
    if q < 0.0 { -magnitude } else { magnitude }
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U
// ---------------------------------------------------------------------------------------------

/// Average ranks (1-based, ties sharing the mean of their positions) and the size of every group
/// of equal values, as scipy's `_rankdata(..., "average", return_ties=True)`.
fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_sizes = Vec::new();
    let mut start = 0;
    while start < order.len() {
        // `==` rather than total_cmp: −0.0 and 0.0 are one value, and they sort next to each
        // other.
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == values[order[start]])
                .count();
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        tie_sizes.push(end - start);
        start = end;
    }
    (ranks, tie_sizes)
}

/// P(U ≥ u) under the normal approximation, with scipy's tie correction of the variance and
/// continuity correction.
fn mann_whitney_asymptotic_sf(u: f64, n_a: usize, n_b: usize, tie_sizes: &[usize]) -> f64 {
    let (n1, n2) = (n_a as f64, n_b as f64);
    let n = n1 + n2;
    let tie_term: f64 = tie_sizes
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let std_dev = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if std_dev == 0.0 {
        // Every value tied: U sits at its mean, the continuity correction makes z = −∞ in scipy,
        // and p = 1: no evidence that `a` is greater.
        return 1.0;
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / std_dev;
    Normal::standard().sf(z)
}

/// P(U ≥ u) under the exact null distribution of U for samples of `n_a` and `n_b` values without
/// ties; `None` if the counts overflow.
fn mann_whitney_exact_sf(u: usize, n_a: usize, n_b: usize) -> Option<f64> {
    let counts = u_statistic_counts(n_a.min(n_b), n_a.max(n_b))?;
    let total = counts
        .iter()
        .try_fold(0i128, |sum, &c| sum.checked_add(c))?;
    let at_least_u = counts
        .iter()
        .skip(u)
        .try_fold(0i128, |sum, &c| sum.checked_add(c))?;
    Some(at_least_u as f64 / total as f64)
}

/// How many of the C(m + n, m) equally likely arrangements give U = 0, 1, …, m·n: the
/// coefficients of the Gaussian binomial [m + n choose m]_q = ∏ᵢ₌₁..ₘ (1 − q^(n+i)) / (1 − q^i).
///
/// Each factor is applied exactly in integers, so the tail counts keep full precision however
/// small the p-value; the loop costs O(m²·n), and the exact path only runs with m ≤ 8.
fn u_statistic_counts(m: usize, n: usize) -> Option<Vec<i128>> {
    // Room for the last multiplication's degree m·n + m before its division brings it back.
    let mut counts = vec![0i128; m * n + m + 1];
    counts[0] = 1;
    for i in 1..=m {
        for u in (n + i..counts.len()).rev() {
            counts[u] = counts[u].checked_sub(counts[u - n - i])?;
        }
        for u in i..counts.len() {
            counts[u] = counts[u].checked_add(counts[u - i])?;
        }
    }
    counts.truncate(m * n + 1);
    Some(counts)
}

#[cfg(test)]
mod tests {
    //! Reference values come from scipy 1.17.1 (`scipy.stats.shapiro`, `ttest_ind` and
    //! `mannwhitneyu` with `alternative="greater"`), printed with `repr` and pasted here with
    //! their inputs.

    use super::*;

    /// Relative agreement required with scipy. Shapiro–Wilk and the rank tests are ports of the
    /// same arithmetic; the t-test differs from scipy only in summation order and in statrs'
    /// incomplete beta function.
    const REL: f64 = 1e-9;

    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        let tolerance = REL * expected.abs();
        assert!(
            (actual - expected).abs() <= tolerance,
            "got {actual:e}, scipy gives {expected:e} (off by {:e} relative)",
            (actual - expected).abs() / expected.abs()
        );
    }

    #[track_caller]
    fn assert_shapiro(sample: &[f64], w: f64, p_value: f64) {
        let result = shapiro_wilk(sample).unwrap();
        assert_close(result.w, w);
        assert_close(result.p_value, p_value);
    }

    #[track_caller]
    fn assert_statistics_error(result: Result<impl fmt::Debug>, expected_test: &str) {
        match result {
            Err(Error::Statistics { test, .. }) => assert_eq!(test, expected_test),
            other => panic!("expected a {expected_test} error, got {other:?}"),
        }
    }

    // Samples shared by several tests.
    const PSNR_10: [f64; 10] = [28.1, 27.5, 29.3, 30.2, 26.8, 28.8, 27.9, 29.9, 31.5, 28.4];
    const PSNR_8: [f64; 8] = [27.2, 26.9, 28.0, 28.8, 26.1, 27.7, 27.0, 28.3];
    const OUTLIER_10: [f64; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 50.0];
    const NORMAL_20: [f64; 20] = [
        0.857, 0.805, 0.863, 0.892, 0.722, 0.814, 0.823, 0.912, 0.823, 0.864, 0.743, 0.814, 0.812,
        0.832, 0.749, 0.764, 0.77, 0.764, 0.814, 0.804,
    ];
    const EXPONENTIAL_20: [f64; 20] = [
        1.97, 0.233, 1.577, 1.18, 0.1, 1.574, 0.779, 0.133, 1.909, 2.031, 0.839, 0.136, 0.092,
        1.714, 0.469, 0.653, 0.051, 0.96, 1.097, 0.71,
    ];
    const NORMAL_30_A: [f64; 30] = [
        24.39, 25.74, 24.4, 25.71, 22.67, 25.13, 26.12, 24.97, 24.28, 25.13, 25.97, 25.43, 23.69,
        22.81, 24.63, 22.96, 24.8, 27.65, 24.24, 25.09, 24.84, 24.6, 23.86, 29.13, 24.63, 25.95,
        23.21, 26.2, 25.62, 23.88,
    ];
    const NORMAL_30_B: [f64; 30] = [
        21.63, 21.2, 24.17, 23.91, 24.63, 24.54, 23.8, 24.77, 21.19, 23.38, 21.93, 27.11, 24.92,
        23.56, 23.11, 25.4, 22.46, 23.99, 25.57, 24.49, 22.66, 24.26, 24.19, 21.65, 26.49, 21.28,
        22.92, 24.23, 22.82, 23.91,
    ];

    // --- Shapiro–Wilk: every branch of swilk -------------------------------------------------

    #[test]
    fn shapiro_n3_uses_the_exact_p_value() {
        assert_shapiro(&[1.0, 2.0, 4.0], 0.9642857142857142, 0.6368868450289689);
        // Equal gaps: W is 1 and so is p (acos 1 = 0).
        assert_shapiro(&[5.0, 6.0, 7.0], 1.0, 1.0);
    }

    #[test]
    fn shapiro_n4_and_n5_correct_one_coefficient() {
        assert_shapiro(&[2.1, 3.4, 1.9, 5.6], 0.8760318341481133, 0.321964802033592);
        assert_shapiro(
            &[0.31, 0.28, 0.35, 0.42, 0.29],
            0.8894566776034419,
            0.35437851887890914,
        );
    }

    #[test]
    fn shapiro_n6_to_n11_correct_two_coefficients_and_use_the_small_sample_fit() {
        assert_shapiro(
            &[0.71, 0.74, 0.69, 0.80, 0.77, 0.73],
            0.9779719505604971,
            0.9410440568524395,
        );
        assert_shapiro(&PSNR_10, 0.9776579477098056, 0.9514123970321747);
        assert_shapiro(
            &[
                1.881, 4.529, 5.449, 2.796, 2.705, 0.768, 1.411, 1.58, 1.461, 1.95, 2.125,
            ],
            0.862861031293154,
            0.06271180817963246,
        );
        assert_shapiro(&OUTLIER_10, 0.5403942025459609, 1.0859994841044622e-05);
    }

    #[test]
    fn shapiro_n12_and_up_use_the_large_sample_fit() {
        assert_shapiro(
            &[
                0.386, 0.527, 0.541, 0.493, 0.479, 0.418, 0.571, 0.587, 0.336, 0.423, 0.543, 0.408,
            ],
            0.9472860021638196,
            0.5977082743440885,
        );
        assert_shapiro(&NORMAL_20, 0.9705787664968575, 0.7670508109662499);
        assert_shapiro(&EXPONENTIAL_20, 0.9088041424157782, 0.06048022317276084);
        let mut outlier_25: Vec<f64> = (1..25).map(f64::from).collect();
        outlier_25.push(100.0);
        assert_shapiro(&outlier_25, 0.5509924213476948, 1.2390114766011376e-07);
    }

    #[test]
    fn shapiro_n50() {
        let sample = [
            29.829, 29.142, 24.253, 36.49, 30.293, 32.623, 30.702, 28.559, 31.633, 25.765, 30.588,
            31.128, 28.042, 27.997, 31.143, 31.185, 27.716, 27.117, 34.187, 31.026, 30.059, 27.664,
            28.223, 28.883, 28.883, 28.853, 34.116, 31.156, 27.165, 30.933, 26.096, 28.279, 29.234,
            31.769, 27.502, 29.81, 30.179, 26.994, 29.119, 31.763, 29.981, 28.481, 29.47, 30.556,
            28.367, 26.436, 32.001, 29.821, 29.226, 29.29,
        ];
        assert_shapiro(&sample, 0.9795760536507535, 0.5342234877020131);
    }

    #[test]
    fn shapiro_keeps_its_precision_under_a_large_offset() {
        let sample = [0.31, 0.28, 0.35, 0.42, 0.29, 0.33].map(|v| 1e6 + v);
        assert_shapiro(&sample, 0.9076248885172157, 0.4209561678677221);
    }

    #[test]
    fn swilk_normal_approximations_stay_close_to_the_exact_functions() {
        // AS 66 and AS 111 are kept for bit-compatibility with scipy; this pins the ports to
        // what they approximate, to their published accuracy.
        let normal = Normal::standard();
        for i in -1200..=1200 {
            let x = f64::from(i) / 100.0;
            let exact = normal.sf(x);
            assert!(
                (alnorm_upper(x) - exact).abs() <= 1e-9 * exact,
                "alnorm_upper({x}) = {:e}, exact {exact:e}",
                alnorm_upper(x)
            );
        }
        for i in 1..2000 {
            let p = f64::from(i) / 2000.0;
            let exact = normal.inverse_cdf(p);
            assert!(
                (ppnd(p) - exact).abs() <= 1e-7,
                "ppnd({p}) = {}, exact {exact}",
                ppnd(p)
            );
        }
    }

    #[test]
    fn shapiro_rejects_what_it_cannot_test() {
        assert_statistics_error(shapiro_wilk(&[]), "shapiro_wilk");
        assert_statistics_error(shapiro_wilk(&[1.0, 2.0]), "shapiro_wilk");
        assert_statistics_error(shapiro_wilk(&[0.7; 5]), "shapiro_wilk");
        assert_statistics_error(shapiro_wilk(&[1.0, f64::NAN, 3.0]), "shapiro_wilk");
        assert_statistics_error(shapiro_wilk(&[1.0, 2.0, f64::INFINITY]), "shapiro_wilk");
        assert_statistics_error(shapiro_wilk(&[-f64::MAX, 0.0, f64::MAX]), "shapiro_wilk");
    }

    // --- Student's t ---------------------------------------------------------------------------

    #[test]
    fn t_test_matches_scipy() {
        let cases: [(&[f64], &[f64], f64, f64); 4] = [
            (&PSNR_10, &PSNR_8, 2.349860333558182, 0.01597228057438695),
            (
                &[0.31, 0.28, 0.35, 0.42, 0.29],
                &[0.71, 0.74, 0.69, 0.80, 0.77, 0.73],
                -14.017150904535459,
                0.9999998985376036,
            ),
            (
                &NORMAL_30_A,
                &NORMAL_30_B,
                3.3621833944190618,
                0.0006870019270265146,
            ),
            // A single value adds nothing to the pooled variance but still counts in the mean.
            (
                &[3.0],
                &[1.0, 2.0, 2.5],
                1.3228756555322956,
                0.15843497446801336,
            ),
        ];
        for (a, b, t, p_value) in cases {
            let result = t_test_greater(a, b).unwrap();
            assert_close(result.statistic, t);
            assert_close(result.p_value, p_value);
        }
    }

    #[test]
    fn t_test_rejects_what_it_cannot_test() {
        assert_statistics_error(t_test_greater(&[], &[1.0, 2.0, 3.0]), "t_test");
        assert_statistics_error(t_test_greater(&[1.0], &[2.0]), "t_test");
        assert_statistics_error(t_test_greater(&[1.0, 1.0], &[2.0, 2.0, 2.0]), "t_test");
        assert_statistics_error(t_test_greater(&[1.0, 2.0], &[2.0, f64::NAN]), "t_test");
    }

    // --- Mann–Whitney U ------------------------------------------------------------------------

    /// Where scipy's exact and asymptotic p-values differ, so the assertion shows which ran.
    #[track_caller]
    fn assert_mann_whitney(a: &[f64], b: &[f64], u: f64, p_value: f64) {
        let result = mann_whitney_greater(a, b).unwrap();
        assert_close(result.statistic, u);
        assert_close(result.p_value, p_value);
    }

    #[test]
    fn mann_whitney_small_samples_without_ties_are_exact() {
        // scipy's asymptotic p-values for these: 0.03309628986109672, 0.9740850363910452.
        assert_mann_whitney(
            &[3.1, 4.5, 5.2, 6.0],
            &[1.2, 2.3, 3.5, 2.9, 4.0],
            18.0,
            0.031746031746031744,
        );
        assert_mann_whitney(
            &[1.0, 2.0, 3.5],
            &[2.5, 4.0, 5.0, 6.0],
            1.0,
            0.9714285714285714,
        );
        assert_mann_whitney(&[2.0], &[1.0], 1.0, 0.5);
    }

    #[test]
    fn mann_whitney_is_exact_when_only_one_sample_is_small() {
        // scipy's "auto" goes exact when either sample has 8 values or fewer (asymptotic p would
        // be 0.049187844316041396).
        let a = [0.81, 0.93, 0.775, 0.88, 0.95, 0.79, 0.91, 0.86];
        let b = [
            0.857, 0.805, 0.863, 0.892, 0.722, 0.8141, 0.8231, 0.912, 0.8232, 0.864, 0.743, 0.8142,
            0.812, 0.832, 0.749, 0.7641, 0.77, 0.7642, 0.8143, 0.804,
        ];
        assert_mann_whitney(&a, &b, 113.0, 0.049531145183319095);
    }

    #[test]
    fn mann_whitney_with_ties_is_asymptotic_and_tie_corrected() {
        // Exact would give 0.05555555555555555.
        assert_mann_whitney(
            &[3.0, 4.0, 4.0, 5.0, 7.0],
            &[1.0, 3.0, 4.0, 2.0],
            17.5,
            0.03992809688675822,
        );
        // Everything tied: zero variance, and scipy's p is 1.
        assert_mann_whitney(&[1.0, 1.0, 1.0], &[1.0, 1.0], 3.0, 1.0);
    }

    #[test]
    fn mann_whitney_with_both_samples_over_8_is_asymptotic() {
        // No ties; exact would give 0.032626815908549656.
        assert_mann_whitney(
            &[28.1, 27.5, 29.3, 30.2, 26.8, 28.85, 27.9, 29.9, 31.5],
            &[27.2, 26.9, 28.0, 28.8, 26.1, 27.7, 27.0, 28.3, 29.6, 26.5],
            68.0,
            0.03309628986109672,
        );
        assert_mann_whitney(&NORMAL_30_A, &NORMAL_30_B, 668.0, 0.0006502246204708642);
    }

    #[test]
    fn u_counts_are_the_gaussian_binomial_coefficients() {
        // [5 choose 2]_q = 1 + q + 2q² + 2q³ + 2q⁴ + q⁵ + q⁶.
        assert_eq!(u_statistic_counts(2, 3).unwrap(), [1, 1, 2, 2, 2, 1, 1]);
        // The counts add up to C(m + n, m) = C(28, 8) = 3108105.
        let counts = u_statistic_counts(8, 20).unwrap();
        assert_eq!(counts.len(), 161);
        assert_eq!(counts.iter().sum::<i128>(), 3_108_105);
    }

    #[test]
    fn mann_whitney_rejects_what_it_cannot_test() {
        assert_statistics_error(mann_whitney_greater(&[1.0], &[]), "mann_whitney_u");
        assert_statistics_error(
            mann_whitney_greater(&[f64::NEG_INFINITY], &[1.0]),
            "mann_whitney_u",
        );
    }

    // --- The authors' procedure ------------------------------------------------------------------

    #[track_caller]
    fn assert_normality(actual: Option<Normality>, expected: Option<(f64, f64)>) {
        match (actual, expected) {
            (Some(actual), Some((w, p_value))) => {
                assert_close(actual.w, w);
                assert_close(actual.p_value, p_value);
            }
            (None, None) => {}
            (actual, expected) => panic!("normality {actual:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn compare_runs_the_t_test_when_both_samples_look_normal() {
        let comparison = compare_greater(&PSNR_10, &PSNR_8, 0.05).unwrap();
        assert_eq!(comparison.test, Test::StudentT);
        assert_close(comparison.statistic, 2.349860333558182);
        assert_close(comparison.p_value, 0.01597228057438695);
        assert_normality(
            comparison.normality_a,
            Some((0.9776579477098056, 0.9514123970321747)),
        );
        assert_normality(
            comparison.normality_b,
            Some((0.9844074207242116, 0.9813545667643566)),
        );
        assert_eq!((comparison.n_a, comparison.n_b), (10, 8));
    }

    #[test]
    fn compare_runs_mann_whitney_when_a_sample_is_not_normal() {
        let comparison =
            compare_greater(&OUTLIER_10, &[0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5], 0.05).unwrap();
        assert_eq!(comparison.test, Test::MannWhitneyU);
        assert_close(comparison.statistic, 49.0);
        assert_close(comparison.p_value, 0.09661661867544222);
        assert_normality(
            comparison.normality_a,
            Some((0.5403942025459609, 1.0859994841044622e-05)),
        );
        assert_normality(
            comparison.normality_b,
            Some((0.9780016294384769, 0.9492885624975852)),
        );
    }

    #[test]
    fn compare_uses_alpha_as_the_normality_threshold() {
        // Shapiro p of the exponential sample is 0.0605: normal enough at 0.05, not at 0.10.
        let at_5 = compare_greater(&EXPONENTIAL_20, &NORMAL_20, 0.05).unwrap();
        assert_eq!(at_5.test, Test::StudentT);
        assert_close(at_5.statistic, 0.6346810868754285);
        assert_close(at_5.p_value, 0.2647197075911784);

        let at_10 = compare_greater(&EXPONENTIAL_20, &NORMAL_20, 0.10).unwrap();
        assert_eq!(at_10.test, Test::MannWhitneyU);
        assert_close(at_10.statistic, 201.0);
        assert_close(at_10.p_value, 0.49460293340013484);
        assert_normality(
            at_10.normality_a,
            Some((0.9088041424157782, 0.06048022317276084)),
        );
        assert_normality(
            at_10.normality_b,
            Some((0.9705787664968575, 0.7670508109662499)),
        );
    }

    #[test]
    fn compare_treats_untestable_normality_as_not_shown() {
        let too_few = compare_greater(&[5.0, 6.0], &[1.0, 2.0, 3.0, 4.0], 0.05).unwrap();
        assert_eq!(too_few.test, Test::MannWhitneyU);
        assert_close(too_few.statistic, 8.0);
        assert_close(too_few.p_value, 0.06666666666666667);
        assert_normality(too_few.normality_a, None);
        assert_normality(
            too_few.normality_b,
            Some((0.9929120069984326, 0.9718770585603881)),
        );

        let constant = compare_greater(&[3.0; 4], &[1.0, 2.0, 3.0, 2.5], 0.05).unwrap();
        assert_eq!(constant.test, Test::MannWhitneyU);
        assert_close(constant.statistic, 14.0);
        assert_close(constant.p_value, 0.034459222144751014);
        assert_normality(constant.normality_a, None);
        assert_normality(
            constant.normality_b,
            Some((0.9713736654999263, 0.8499708189581867)),
        );
    }

    #[test]
    fn compare_rejects_bad_input() {
        for alpha in [0.0, 1.0, -0.05, f64::NAN] {
            assert_statistics_error(compare_greater(&PSNR_10, &PSNR_8, alpha), "compare_greater");
        }
        assert_statistics_error(
            compare_greater(&[1.0, f64::NAN, 2.0], &PSNR_8, 0.05),
            "compare_greater",
        );
        assert_statistics_error(compare_greater(&[], &PSNR_8, 0.05), "mann_whitney_u");
    }

    #[test]
    fn test_names_read_as_in_the_paper() {
        assert_eq!(Test::StudentT.to_string(), "t-test");
        assert_eq!(Test::MannWhitneyU.to_string(), "Mann-Whitney U");
    }
}
