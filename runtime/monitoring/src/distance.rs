//! Distances between a reference sample and a current window: the population stability index,
//! the Jensen–Shannon distance (both over [`crate::binning`]'s bins) and the normalised first
//! Wasserstein distance.

use crate::binning::{categorical_bins, clean_sorted, numeric_bins, Bins, PSI_EPSILON};

/// PSI over bins: `sum (r - c) * ln(r / c)` over the bins' shares, an empty share replaced by
/// [`PSI_EPSILON`]. Every term is >= 0, so PSI is.
fn psi_of(bins: &Bins) -> f64 {
    bins.shares()
        .into_iter()
        .map(|(r, c)| {
            let r = if r == 0.0 { PSI_EPSILON } else { r };
            let c = if c == 0.0 { PSI_EPSILON } else { c };
            (r - c) * (r / c).ln()
        })
        .sum()
}

/// The Jensen–Shannon distance over bins: the square root of
/// `JSD = 1/2 sum r ln(r/m) + 1/2 sum c ln(c/m)` with `m = (r + c) / 2` and `0 ln 0 = 0` (no
/// epsilon), natural logarithm, so it lies in `[0, sqrt(ln 2)]`.
fn js_of(bins: &Bins) -> f64 {
    let term = |p: f64, m: f64| if p > 0.0 { p * (p / m).ln() } else { 0.0 };
    let divergence: f64 = bins
        .shares()
        .into_iter()
        .map(|(r, c)| {
            let m = (r + c) / 2.0;
            0.5 * term(r, m) + 0.5 * term(c, m)
        })
        .sum();
    divergence.clamp(0.0, std::f64::consts::LN_2).sqrt()
}

/// The population stability index of a numeric column (NaN dropped), over
/// [`crate::binning::numeric_bins`]; `None` when either side has no value.
pub fn psi(reference: &[f64], current: &[f64]) -> Option<f64> {
    numeric_bins(reference, current).map(|b| psi_of(&b))
}

/// The population stability index of a categorical column, one bin per category; `None` when
/// either side is empty.
pub fn psi_categorical<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<f64> {
    categorical_bins(reference, current).map(|b| psi_of(&b))
}

/// The Jensen–Shannon distance (natural log, square root of the divergence) of a numeric
/// column over [`crate::binning::numeric_bins`]; `None` when either side has no value.
pub fn js(reference: &[f64], current: &[f64]) -> Option<f64> {
    numeric_bins(reference, current).map(|b| js_of(&b))
}

/// The Jensen–Shannon distance of a categorical column, one bin per category; `None` when
/// either side is empty.
pub fn js_categorical<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<f64> {
    categorical_bins(reference, current).map(|b| js_of(&b))
}

/// The first Wasserstein distance between the two empirical distributions,
/// `integral |F_ref(x) - F_cur(x)| dx`, divided by the reference's population standard
/// deviation (divisor n, numpy's `np.std`). NaN and infinities are dropped; `None` when either
/// side is empty. A constant reference has no scale: the result is 0 when the current window
/// holds only that same value and infinity otherwise.
pub fn wasserstein(reference: &[f64], current: &[f64]) -> Option<f64> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    let distance = w1_sorted(&r, &c);
    if r[0] == r[r.len() - 1] {
        return Some(if distance == 0.0 { 0.0 } else { f64::INFINITY });
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    Some(distance / std)
}

/// The first Wasserstein distance of two sorted, non-empty samples: the area between their
/// empirical distribution functions, walked over the merged values.
pub(crate) fn w1_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut previous: Option<f64> = None;
    let mut area = 0.0;
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) | (None, Some(x)) => *x,
            (None, None) => break,
        };
        if let Some(p) = previous {
            area += (i as f64 / na - j as f64 / nb).abs() * (x - p);
        }
        while a.get(i) == Some(&x) {
            i += 1;
        }
        while b.get(j) == Some(&x) {
            j += 1;
        }
        previous = Some(x);
    }
    area
}

#[cfg(test)]
mod unit {
    use super::*;

    fn close(a: Option<f64>, b: f64) {
        match a {
            Some(a) => assert!((a - b).abs() < 1e-12, "{a} != {b}"),
            None => panic!("None, expected {b}"),
        }
    }

    #[test]
    fn psi_by_hand() {
        // Shares a: 0.5 / 0.25, b: 0.5 / 0.75.
        let expected = (0.5 - 0.25) * (0.5f64 / 0.25).ln() + (0.5 - 0.75) * (0.5f64 / 0.75).ln();
        close(
            psi_categorical(&["a", "b"], &["a", "b", "b", "b"]),
            expected,
        );
        close(psi(&[1.0, 2.0], &[1.0, 2.0, 2.0, 2.0]), expected);
    }

    #[test]
    fn psi_empty_bin_uses_the_epsilon() {
        // a: 1 / 0 -> (1 - 1e-4) ln(1 / 1e-4); b: 0 / 1 the same.
        let expected = 2.0 * (1.0 - 1e-4) * (1.0f64 / 1e-4).ln();
        close(psi_categorical(&["a"], &["b"]), expected);
    }

    #[test]
    fn identical_samples_have_no_distance() {
        close(psi(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), 0.0);
        close(js(&[5.0; 10], &[5.0; 3]), 0.0);
        close(wasserstein(&[5.0; 10], &[5.0; 3]), 0.0);
        assert_eq!(psi(&[], &[1.0]), None);
        assert_eq!(js(&[f64::NAN], &[1.0]), None);
        assert_eq!(wasserstein(&[1.0], &[]), None);
    }

    #[test]
    fn js_by_hand() {
        // Disjoint supports: JSD = ln 2.
        close(
            js_categorical(&["a"], &["b"]),
            std::f64::consts::LN_2.sqrt(),
        );
        // r = (1/2, 1/2), c = (1, 0): m = (3/4, 1/4).
        let jsd = 0.5 * (0.5 * (0.5f64 / 0.75).ln() + 0.5 * (0.5f64 / 0.25).ln())
            + 0.5 * (1.0f64 / 0.75).ln();
        close(js_categorical(&["a", "b"], &["a"]), jsd.sqrt());
    }

    #[test]
    fn wasserstein_by_hand() {
        // Reference {0, 2}: std 1. Current {1, 3}: |F_r - F_c| = 1/2 on [0, 1) and [2, 3).
        close(wasserstein(&[0.0, 2.0], &[1.0, 3.0]), 1.0);
        // Shift by 10 of a reference with std 1: 10.
        close(wasserstein(&[0.0, 2.0], &[10.0, 12.0]), 10.0);
        // Constant reference, different current: infinity.
        assert_eq!(wasserstein(&[1.0, 1.0], &[1.0, 2.0]), Some(f64::INFINITY));
    }
}
