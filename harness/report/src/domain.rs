//! The values a metric can take. A results table holding a value outside its metric's domain
//! (an F1 of 31.9, a negative spike count, a non-finite number) was damaged or computed wrongly,
//! and a report built from it would publish a wrong number; reading one is an error instead.

/// The suffix of a cost counted per network input (one tile, the authors' unit) instead of per
/// image (all of its tiles).
pub const PER_INPUT: &str = "_per_input";

/// Why `value` cannot be a value of `metric`, or `None` when it can.
pub fn violation(metric: &str, value: f64) -> Option<String> {
    if !value.is_finite() {
        return Some(format!("{metric} = {value} is not a finite number"));
    }
    let (low, high) = domain(metric);
    (value < low || value > high).then(|| {
        let high = if high.is_infinite() {
            "∞)".to_string()
        } else {
            format!("{high}]")
        };
        format!("{metric} = {value} is outside its domain [{low}, {high}")
    })
}

/// The closed interval `metric` lives in. Unknown metrics may take any finite value.
pub fn domain(metric: &str) -> (f64, f64) {
    // A figure per network input lives where its per-image counterpart does.
    match metric.strip_suffix(PER_INPUT).unwrap_or(metric) {
        // Fractions of pixels or of overlaps.
        "accuracy" | "jaccard" | "f1" | "dice" | "miou" | "precision" | "recall" => (0.0, 1.0),
        // SSIM is a correlation-like index: negative for anti-correlated structure.
        "ssim" | "ssim_noisy" => (-1.0, 1.0),
        // Counts, rates (a multi-threshold neuron may fire more than once per step), energies
        // and normalization factors.
        "spikes"
        | "spikes_paper"
        | "synaptic_operations"
        | "firing_rate"
        | "macs"
        | "macs_thop"
        | "energy_thop_pj"
        | "energy_pj"
        | "energy_paper_pj"
        | "energy_synops_pj"
        | "factor" => (0.0, f64::INFINITY),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_a_domain_are_named() {
        assert_eq!(violation("f1", 0.93), None);
        assert_eq!(violation("psnr", 26.3), None);
        assert_eq!(violation("ssim", -0.1), None);
        assert_eq!(
            violation("f1", 31.9).as_deref(),
            Some("f1 = 31.9 is outside its domain [0, 1]")
        );
        assert_eq!(
            violation("spikes", -2.0).as_deref(),
            Some("spikes = -2 is outside its domain [0, ∞)")
        );
        assert!(violation("psnr", f64::NAN).is_some());
        assert!(violation("psnr", f64::INFINITY).is_some());
        assert!(violation("miou", 1.0000001).is_some());
    }
}
