//! The bins that PSI and Jensen–Shannon compare, built the way Evidently builds them.
//!
//! A numeric column whose reference has more than 20 distinct values is cut into equal-width
//! bins over the combined range of reference and current, their number given by Sturges' rule
//! on the combined size `n` (`ceil(log2 n) + 1`, numpy's `histogram_bin_edges(.., "sturges")`
//! on the concatenation, as Evidently calls it). Every other column, categorical ones included,
//! gets one bin per distinct value seen on either side.

use std::collections::BTreeMap;

/// The share that replaces an empty bin's share in PSI (not in Jensen–Shannon, which is
/// defined with empty bins). A fixed 1e-4, not renormalised: a bin holding a share `s` on one
/// side and nothing on the other adds `(s - 1e-4) * ln(s / 1e-4)` to PSI, about `9.2 * s` for
/// a small `s` (0.69 for `s = 0.1`), instead of an infinity.
pub const PSI_EPSILON: f64 = 1e-4;

/// Counts of the reference and of the current sample in the same bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    /// The reference's count in each bin.
    pub reference: Vec<f64>,
    /// The current window's count in each bin, bin for bin.
    pub current: Vec<f64>,
}

impl Bins {
    /// The pairs (reference share, current share), bin for bin.
    pub fn shares(&self) -> Vec<(f64, f64)> {
        let total_r: f64 = self.reference.iter().sum();
        let total_c: f64 = self.current.iter().sum();
        self.reference
            .iter()
            .zip(&self.current)
            .map(|(r, c)| (r / total_r, c / total_c))
            .collect()
    }
}

/// The values without NaN (and without infinities, which have no bin), `-0.0` read as `0.0`,
/// sorted.
pub(crate) fn clean_sorted(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v + 0.0)
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

/// The number of distinct values in a sorted slice.
pub(crate) fn distinct_sorted(sorted: &[f64]) -> usize {
    let mut count = 0;
    let mut last = None;
    for v in sorted {
        if last != Some(*v) {
            count += 1;
            last = Some(*v);
        }
    }
    count
}

/// The bins of a numeric column: `None` when either side has no finite value.
pub fn numeric_bins(reference: &[f64], current: &[f64]) -> Option<Bins> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    if distinct_sorted(&r) > 20 {
        Some(equal_width_bins(&r, &c))
    } else {
        Some(value_bins(&r, &c))
    }
}

/// What labels the bins of [`numeric_bins`], bin for bin, for reports.
#[derive(Debug, Clone, PartialEq)]
pub enum BinLabels {
    /// Equal-width bins: their `bins + 1` edges, from the combined minimum to the maximum.
    Edges(Vec<f64>),
    /// One bin per distinct value: the values, ascending.
    Values(Vec<f64>),
}

/// The labels of the bins [`numeric_bins`] builds from the same samples, by the same rule:
/// `None` when either side has no finite value.
pub fn numeric_bin_labels(reference: &[f64], current: &[f64]) -> Option<BinLabels> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    if distinct_sorted(&r) > 20 {
        let (lo, hi, bins) = equal_width_range(&r, &c);
        Some(BinLabels::Edges(
            (0..=bins)
                .map(|i| equal_width_edge(lo, hi, bins, i))
                .collect(),
        ))
    } else {
        let mut keys: Vec<f64> = r.iter().chain(&c).copied().collect();
        keys.sort_by(f64::total_cmp);
        keys.dedup();
        Some(BinLabels::Values(keys))
    }
}

/// The combined range and Sturges' bin count of two cleaned, sorted, non-empty samples.
fn equal_width_range(r: &[f64], c: &[f64]) -> (f64, f64, usize) {
    let lo = r[0].min(c[0]);
    let hi = r[r.len() - 1].max(c[c.len() - 1]);
    let n = (r.len() + c.len()) as f64;
    (lo, hi, (n.log2().ceil() as usize + 1).max(1))
}

/// Edge `i` of `bins` equal-width bins over `[lo, hi]`; the last is `hi` exactly.
fn equal_width_edge(lo: f64, hi: f64, bins: usize, i: usize) -> f64 {
    if i == bins {
        hi
    } else {
        lo + (hi - lo) * (i as f64 / bins as f64)
    }
}

/// One bin per distinct value seen on either side of a numeric column (NaN dropped): `None`
/// when either side has no finite value.
pub fn numeric_values_bins(reference: &[f64], current: &[f64]) -> Option<Bins> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    Some(value_bins(&r, &c))
}

/// One bin per distinct value of two cleaned samples.
fn value_bins(r: &[f64], c: &[f64]) -> Bins {
    let mut keys: Vec<f64> = r.iter().chain(c).copied().collect();
    keys.sort_by(f64::total_cmp);
    keys.dedup();
    let count = |sample: &[f64]| -> Vec<f64> {
        let mut counts = vec![0.0; keys.len()];
        for v in sample {
            if let Ok(i) = keys.binary_search_by(|k| k.total_cmp(v)) {
                counts[i] += 1.0;
            }
        }
        counts
    };
    Bins {
        reference: count(r),
        current: count(c),
    }
}

/// Equal-width bins over the combined range; the last bin is closed on the right, and a value
/// on an inner edge goes to the bin it opens (numpy's `histogram`).
fn equal_width_bins(r: &[f64], c: &[f64]) -> Bins {
    let (lo, hi, bins) = equal_width_range(r, c);
    let edge = |i: usize| equal_width_edge(lo, hi, bins, i);
    let index = |v: f64| -> usize {
        let mut i = (((v - lo) / (hi - lo)) * bins as f64).floor().max(0.0) as usize;
        i = i.min(bins - 1);
        if i > 0 && v < edge(i) {
            i -= 1;
        }
        if i + 1 < bins && v >= edge(i + 1) {
            i += 1;
        }
        i
    };
    let count = |sample: &[f64]| -> Vec<f64> {
        let mut counts = vec![0.0; bins];
        for v in sample {
            counts[index(*v)] += 1.0;
        }
        counts
    };
    Bins {
        reference: count(r),
        current: count(c),
    }
}

/// The bins of a categorical column, one per category seen on either side, in the categories'
/// byte order: `None` when either side is empty.
pub fn categorical_bins<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<Bins> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    let mut counts: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for v in reference {
        counts.entry(v.as_ref()).or_default().0 += 1.0;
    }
    for v in current {
        counts.entry(v.as_ref()).or_default().1 += 1.0;
    }
    Some(Bins {
        reference: counts.values().map(|(r, _)| *r).collect(),
        current: counts.values().map(|(_, c)| *c).collect(),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let bins = numeric_bins(&[1.0, 1.0, 2.0, f64::NAN], &[2.0, 3.0]);
        assert_eq!(
            bins,
            Some(Bins {
                reference: vec![2.0, 1.0, 0.0],
                current: vec![0.0, 1.0, 1.0],
            })
        );
    }

    #[test]
    fn many_distinct_values_get_sturges_equal_width_bins() {
        // 21 distinct reference values 0..=20, current 0 and 20: n = 23, ceil(log2 23) + 1 = 6
        // bins of width 20/6 over [0, 20].
        let reference: Vec<f64> = (0..=20).map(f64::from).collect();
        let bins = numeric_bins(&reference, &[0.0, 20.0]).unwrap_or_else(|| panic!("bins"));
        assert_eq!(bins.reference.len(), 6);
        // [0, 3.33) holds 0..=3, [3.33, 6.67) 4..=6, [6.67, 10) 7..=9, [10, 13.3) 10..=13,
        // [13.3, 16.7) 14..=16, [16.7, 20] 17..=20.
        assert_eq!(bins.reference, vec![4.0, 3.0, 3.0, 4.0, 3.0, 4.0]);
        assert_eq!(bins.current, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn labels_match_the_bins() {
        let reference: Vec<f64> = (0..=20).map(f64::from).collect();
        let Some(BinLabels::Edges(edges)) = numeric_bin_labels(&reference, &[0.0, 20.0]) else {
            panic!("edges")
        };
        assert_eq!(edges.len(), 7);
        assert_eq!((edges[0], edges[6]), (0.0, 20.0));
        assert!((edges[1] - 20.0 / 6.0).abs() < 1e-12, "{edges:?}");
        assert_eq!(
            numeric_bin_labels(&[1.0, 1.0, 2.0, f64::NAN], &[2.0, 3.0]),
            Some(BinLabels::Values(vec![1.0, 2.0, 3.0]))
        );
        assert_eq!(numeric_bin_labels(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn categories_are_the_union() {
        let bins = categorical_bins(&["a", "b", "b"], &["c"]);
        assert_eq!(
            bins,
            Some(Bins {
                reference: vec![1.0, 2.0, 0.0],
                current: vec![0.0, 0.0, 1.0],
            })
        );
        assert_eq!(categorical_bins::<&str>(&[], &["a"]), None);
    }
}
