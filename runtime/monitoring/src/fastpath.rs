//! Entry points of the drift tests for whole columns, with exactly the results of
//! [`crate::drift_numeric`] and [`crate::drift_categorical`] but cheaper inputs.
//!
//! - Numeric columns are sorted once, by a radix sort on the bits of the values in
//!   [`f64::total_cmp`] order, and then given to [`crate::drift_numeric`] itself: the tests sort
//!   their inputs again, and on sorted input that sort is a linear pass. The verdict is the
//!   verdict of the unsorted column by construction (the metrics depend on the values, not on
//!   their order).
//! - Categorical columns come as counts per category ([`CategoryCounts`], a `GROUP BY` in the
//!   reader) instead of one string per row; [`drift_categorical_counts`] computes what
//!   [`crate::drift_categorical`] computes on the expanded rows (a property test compares
//!   them bit for bit).
//!
//! Both also give the test's statistic (KS's D, chi-square's X², the Z-test's z), which
//! [`crate::Drift`] leaves out.

use std::collections::BTreeMap;

use crate::drift::{Drift, DriftMethod};
use crate::stattests::{chi2_from_counts, chi2_numeric, ks, proportions_z_test};

/// The reference size above which distances replace tests (as in [`crate::drift`]).
const LARGE_REFERENCE: u64 = 1000;
/// The p-value at or below which a test reports drift (as in [`crate::drift`]).
const P_VALUE_THRESHOLD: f64 = 0.05;
/// The distance at or above which a distance reports drift (as in [`crate::drift`]).
const DISTANCE_THRESHOLD: f64 = 0.1;
/// Below this many values the standard library's sort is faster than the radix sort.
const RADIX_MIN: usize = 1 << 12;
/// Bits per radix digit: 2048 buckets, six passes over 64 bits.
const DIGIT_BITS: u32 = 11;
/// The number of radix passes.
const PASSES: usize = 64_usize.div_ceil(DIGIT_BITS as usize);

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

/// Sorts keys in ascending order: a least-significant-digit radix sort with 11-bit digits
/// that skips the digits all keys share (the exponent's high bits, mostly), so a few passes
/// over the data; the standard sort for small inputs.
pub fn sort_keys(keys: &mut Vec<u64>) {
    let n = keys.len();
    if n < RADIX_MIN {
        keys.sort_unstable();
        return;
    }
    let mask = (1u64 << DIGIT_BITS) - 1;
    let digit = |k: u64, pass: usize| ((k >> (pass as u32 * DIGIT_BITS)) & mask) as usize;
    let mut counts = vec![[0usize; 1 << DIGIT_BITS]; PASSES];
    for &k in keys.iter() {
        for (pass, c) in counts.iter_mut().enumerate() {
            c[digit(k, pass)] += 1;
        }
    }
    let mut scratch = vec![0u64; n];
    for (pass, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut next = [0usize; 1 << DIGIT_BITS];
        let mut sum = 0;
        for (slot, count) in next.iter_mut().zip(c) {
            *slot = sum;
            sum += count;
        }
        for &k in keys.iter() {
            let d = digit(k, pass);
            scratch[next[d]] = k;
            next[d] += 1;
        }
        std::mem::swap(keys, &mut scratch);
    }
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
