//! Entry points of the drift tests for whole columns, with exactly the results of
//! [`crate::drift_numeric`] and [`crate::drift_categorical`] but cheaper inputs.
//!
//! - Numeric columns come cleaned and sorted once: NaN and infinities dropped, `-0.0` read as
//!   `0.0` (what the tests' own cleaning does), sorted once as integers whose order is the values'
//!   ([`clean_key`], [`sort_keys`]). [`drift_numeric_clean`] then chooses the method and
//!   computes the distance on those slices without the tests' copies, concatenation and
//!   sorts; references of at most 1000 values go to [`crate::drift_numeric`] itself.
//! - Categorical columns come as counts per category ([`CategoryCounts`], a `GROUP BY` in the
//!   reader) instead of one string per row; [`drift_categorical_counts`] computes what
//!   [`crate::drift_categorical`] computes on the expanded rows.
//!
//! Property tests (`tests/fastpath.rs`) compare both with the definitions bit for bit. Both
//! also give the test's statistic (KS's D, chi-square's X², the Z-test's z), which
//! [`crate::Drift`] leaves out.

use std::collections::BTreeMap;

use crate::distance::w1_sorted;
use crate::drift::{Drift, DriftMethod};
use crate::stattests::{chi2_from_counts, chi2_numeric, ks, proportions_z_test};

/// The reference size above which distances replace tests (as in [`crate::drift`]).
const LARGE_REFERENCE: u64 = 1000;
/// The p-value at or below which a test reports drift (as in [`crate::drift`]).
const P_VALUE_THRESHOLD: f64 = 0.05;
/// The distance at or above which a distance reports drift (as in [`crate::drift`]).
const DISTANCE_THRESHOLD: f64 = 0.1;

/// The count of each category on one side of a categorical column (nulls left out).
pub type CategoryCounts = BTreeMap<String, u64>;

/// A drift verdict with the statistic behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tested {
    /// The verdict, as [`crate::drift_numeric`] or [`crate::drift_categorical`] gives it.
    pub drift: Drift,
    /// The test statistic (D, X² or z) for a test; the distance itself for a distance.
    pub statistic: f64,
}

/// The key of a value whose unsigned order is [`f64::total_cmp`]'s order: negative values
/// (and negative NaN) have all bits flipped, the others only the sign bit.
pub fn total_order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The value of a [`total_order_key`].
pub fn from_total_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// Sorts keys in ascending order: the standard library's unstable sort on the integers,
/// faster than on the floats with [`f64::total_cmp`] (and than a radix sort, measured).
pub fn sort_keys(keys: &mut [u64]) {
    keys.sort_unstable();
}

/// The key of a value as the tests clean it: `None` for NaN and infinities, `-0.0` as `0.0`.
pub fn clean_key(v: f64) -> Option<u64> {
    v.is_finite().then(|| total_order_key(v + 0.0))
}

/// The values the tests keep (finite, `-0.0` as `0.0`), sorted: the `clean_sorted` of the
/// metric functions, by [`sort_keys`].
pub fn clean_sorted_fast(values: &[f64]) -> Vec<f64> {
    let mut keys: Vec<u64> = values.iter().filter_map(|v| clean_key(*v)).collect();
    sort_keys(&mut keys);
    keys_to_values(keys)
}

/// The values of sorted keys, in place (no second allocation).
pub fn keys_to_values(keys: Vec<u64>) -> Vec<f64> {
    keys.into_iter().map(from_total_order_key).collect()
}

/// The values sorted by [`f64::total_cmp`] (NaN and infinities kept, at the ends), by
/// [`sort_keys`]; the allocation is reused.
pub fn sort_total_order(values: Vec<f64>) -> Vec<f64> {
    let mut keys: Vec<u64> = values.into_iter().map(total_order_key).collect();
    sort_keys(&mut keys);
    keys_to_values(keys)
}

/// The finite values of a slice sorted by [`f64::total_cmp`]: NaN and infinities sit at its
/// ends.
pub fn finite_part(sorted: &[f64]) -> &[f64] {
    let start = sorted
        .iter()
        .position(|v| v.is_finite())
        .unwrap_or(sorted.len());
    let end = sorted
        .iter()
        .rposition(|v| v.is_finite())
        .map_or(start, |i| i + 1);
    &sorted[start..end]
}

/// [`crate::drift_numeric`] of two samples sorted by [`f64::total_cmp`] (as
/// [`sort_total_order`] leaves them), with the statistic; `None` when either side has no
/// finite value.
pub fn drift_numeric_sorted(reference: &[f64], current: &[f64]) -> Option<Tested> {
    let drift = crate::drift_numeric(reference, current)?;
    let statistic = match drift.method {
        DriftMethod::Ks => ks(reference, current)?.statistic,
        DriftMethod::ChiSquare => chi2_numeric(reference, current)?.statistic,
        DriftMethod::ZTest => {
            let (r, c) = (finite_part(reference), finite_part(current));
            let first = r.first()?.min(*c.first()?);
            let hits = |s: &[f64]| s.iter().filter(|v| **v == first).count();
            proportions_z_test(hits(r), r.len(), hits(c), c.len())?.statistic
        }
        DriftMethod::Wasserstein | DriftMethod::JensenShannon => drift.score,
    };
    Some(Tested { drift, statistic })
}

/// The number of distinct values of two clean sorted samples together, counted up to
/// `limit + 1`, and while it is at most `limit`, each value's count on both sides (one bin
/// per value, in ascending order, as `binning::value_bins`).
fn distinct_values(r: &[f64], c: &[f64], limit: usize) -> (usize, Vec<(f64, f64)>) {
    let (mut i, mut j) = (0, 0);
    let mut bins = Vec::new();
    let mut distinct = 0;
    while (i < r.len() || j < c.len()) && distinct <= limit {
        let x = match (r.get(i), c.get(j)) {
            (Some(a), Some(b)) => a.min(*b),
            (Some(a), None) | (None, Some(a)) => *a,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while r.get(i) == Some(&x) {
            i += 1;
        }
        while c.get(j) == Some(&x) {
            j += 1;
        }
        distinct += 1;
        bins.push(((i - i0) as f64, (j - j0) as f64));
    }
    (distinct, bins)
}

/// [`crate::drift_numeric`] of two samples already cleaned and sorted (finite, no `-0.0`,
/// ascending: [`clean_sorted_fast`] or [`clean_key`] and [`sort_keys`]), with the statistic;
/// `None` when either side is empty. References of more than 1000 values are computed here
/// without copies (Wasserstein over the sorted samples, or Jensen–Shannon over one bin per
/// value), smaller ones by [`crate::drift_numeric`].
pub fn drift_numeric_clean(reference: &[f64], current: &[f64]) -> Option<Tested> {
    let (r, c) = (reference, current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    if (r.len() as u64) <= LARGE_REFERENCE {
        return drift_numeric_sorted(r, c);
    }
    let (distinct, bins) = distinct_values(r, c, 5);
    let (method, score) = if distinct > 5 {
        (DriftMethod::Wasserstein, normalised_wasserstein(r, c))
    } else {
        (DriftMethod::JensenShannon, js_of_counts(&bins))
    };
    Some(Tested {
        drift: verdict(method, score),
        statistic: score,
    })
}

/// `distance::wasserstein` of clean sorted, non-empty samples.
fn normalised_wasserstein(r: &[f64], c: &[f64]) -> f64 {
    let distance = w1_sorted(r, c);
    if r[0] == r[r.len() - 1] {
        return if distance == 0.0 { 0.0 } else { f64::INFINITY };
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let std = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    distance / std
}

/// The verdict of a score under a method's default threshold (as `Drift::new`).
fn verdict(method: DriftMethod, score: f64) -> Drift {
    let (threshold, drifted) = if method.is_p_value() {
        (P_VALUE_THRESHOLD, score <= P_VALUE_THRESHOLD)
    } else {
        (DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD)
    };
    Drift {
        method,
        score,
        threshold,
        drifted,
    }
}

/// The Jensen–Shannon distance over bins of counts, as `distance::js_of`: shares over each
/// side's total, `sqrt(½ Σ r ln(r/m) + ½ Σ c ln(c/m))`, summed in the bins' order.
fn js_of_counts(bins: &[(f64, f64)]) -> f64 {
    let total_r: f64 = bins.iter().map(|(r, _)| r).sum();
    let total_c: f64 = bins.iter().map(|(_, c)| c).sum();
    let term = |p: f64, m: f64| if p > 0.0 { p * (p / m).ln() } else { 0.0 };
    let divergence: f64 = bins
        .iter()
        .map(|(r, c)| (r / total_r, c / total_c))
        .map(|(r, c)| {
            let m = (r + c) / 2.0;
            0.5 * term(r, m) + 0.5 * term(c, m)
        })
        .sum();
    divergence.clamp(0.0, std::f64::consts::LN_2).sqrt()
}

/// [`crate::drift_categorical`] of the rows these counts stand for (a category with count 0
/// is absent), with the statistic; `None` when either side has no row.
pub fn drift_categorical_counts(
    reference: &CategoryCounts,
    current: &CategoryCounts,
) -> Option<Tested> {
    let n_r: u64 = reference.values().sum();
    let n_c: u64 = current.values().sum();
    if n_r == 0 || n_c == 0 {
        return None;
    }
    // The union of categories in byte order, as `categorical_bins` and `chi2` build it.
    let mut union: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (k, v) in reference.iter().filter(|(_, v)| **v > 0) {
        union.entry(k).or_default().0 = *v as f64;
    }
    for (k, v) in current.iter().filter(|(_, v)| **v > 0) {
        union.entry(k).or_default().1 = *v as f64;
    }
    let bins: Vec<(f64, f64)> = union.values().copied().collect();
    let (method, score, statistic) = if n_r > LARGE_REFERENCE {
        let d = js_of_counts(&bins);
        (DriftMethod::JensenShannon, d, d)
    } else if union.len() > 2 {
        let t = chi2_from_counts(&bins)?;
        (DriftMethod::ChiSquare, t.p_value, t.statistic)
    } else {
        let (r_hits, c_hits) = bins.first().copied()?;
        let z = proportions_z_test(
            r_hits as usize,
            usize::try_from(n_r).ok()?,
            c_hits as usize,
            usize::try_from(n_c).ok()?,
        )?;
        (DriftMethod::ZTest, z.p_value, z.statistic)
    };
    Some(Tested {
        drift: verdict(method, score),
        statistic,
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn keys_order_as_total_cmp() {
        let values = [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1.5,
            -1.5,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
        ];
        for a in values {
            assert_eq!(
                from_total_order_key(total_order_key(a)).to_bits(),
                a.to_bits()
            );
            for b in values {
                assert_eq!(
                    total_order_key(a).cmp(&total_order_key(b)),
                    a.total_cmp(&b),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn finite_part_drops_the_ends() {
        let sorted = sort_total_order(vec![f64::NAN, 2.0, f64::NEG_INFINITY, 1.0, -f64::NAN]);
        assert_eq!(finite_part(&sorted), &[1.0, 2.0]);
        assert!(finite_part(&[f64::NAN, f64::INFINITY]).is_empty());
        assert!(finite_part(&[]).is_empty());
    }

    #[test]
    fn statistics_match_the_tests() {
        let r: Vec<f64> = (0..200).map(f64::from).collect();
        let c: Vec<f64> = (100..300).map(f64::from).collect();
        let t = drift_numeric_sorted(&r, &c).unwrap_or_else(|| panic!("tested"));
        assert_eq!(t.drift.method, DriftMethod::Ks);
        assert_eq!(t.statistic, 0.5);
        let z = drift_numeric_sorted(&[0.0, 0.0, 1.0], &[0.0, 1.0, 1.0])
            .unwrap_or_else(|| panic!("tested"));
        assert_eq!(z.drift.method, DriftMethod::ZTest);
        assert!(z.statistic > 0.0);
    }
}
