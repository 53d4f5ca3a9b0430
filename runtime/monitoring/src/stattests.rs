//! Two-sample hypothesis tests: Kolmogorov–Smirnov for numeric columns, the chi-square test of
//! homogeneity for categories, and the Z-test for two proportions for binary columns.

use std::collections::BTreeMap;

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::binning::clean_sorted;

/// A test's statistic and its p-value (the probability, under "same distribution", of a
/// statistic at least as extreme).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic: D for Kolmogorov–Smirnov, X² for chi-square, z for the Z-test.
    pub statistic: f64,
    /// The p-value, in `[0, 1]`, never NaN.
    pub p_value: f64,
}

/// The survival function of the Kolmogorov distribution, `Q(λ) = P(K > λ)`, the limit of
/// `sqrt(n) D_n` (Kolmogorov 1933). For `λ >= 1.18`:
/// `Q(λ) = 2 Σ_{k>=1} (-1)^(k-1) exp(-2 k² λ²)`; below, where that series converges slowly,
/// its Jacobi-theta dual `Q(λ) = 1 - sqrt(2π)/λ Σ_{k>=1} exp(-(2k-1)² π² / (8 λ²))`
/// (the split of Numerical Recipes, 3rd ed., §6.14). Each sum runs until a term is below 1e-17.
/// `Q(λ) = 1` for `λ <= 0`. This is the limiting distribution; [`ks`] uses the finite-sample
/// ones of [`crate::ksdist`], as scipy does.
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    let q = if lambda < 1.18 {
        let mut sum = 0.0;
        for k in 1..=100 {
            let odd = f64::from(2 * k - 1);
            let term =
                (-(odd * odd) * std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda)).exp();
            sum += term;
            if term < 1e-17 {
                break;
            }
        }
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum
    } else {
        let mut sum = 0.0;
        for k in 1..=100 {
            let k = f64::from(k);
            let term = (-2.0 * k * k * lambda * lambda).exp();
            sum += if k % 2.0 == 1.0 { term } else { -term };
            if term < 1e-17 {
                break;
            }
        }
        2.0 * sum
    };
    q.clamp(0.0, 1.0)
}

/// The two-sample Kolmogorov–Smirnov test, two-sided, as scipy's `ks_2samp` with its default
/// `method="auto"` (which Evidently calls). `D = sup_x |F_ref(x) - F_cur(x)|`, computed exactly
/// by walking the merged sorted samples (ties advance both sides together). The p-value is
/// exact when neither sample holds more than 10,000 values (the lattice-path count of Hodges
/// 1958), otherwise the exact one-sample distribution of `D_N` at `N = round(m n / (m + n))`
/// (scipy's `kstwo`); see [`crate::ksdist`]. NaN and infinities are dropped; `None` when either
/// side is empty.
pub fn ks(reference: &[f64], current: &[f64]) -> Option<TestResult> {
    let a = clean_sorted(reference);
    let b = clean_sorted(current);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let d = ks_statistic_sorted(&a, &b);
    Some(TestResult {
        statistic: d,
        p_value: crate::ksdist::two_sample_p_value(a.len(), b.len(), d),
    })
}

/// `sup |F_a - F_b|` of two sorted, non-empty samples.
fn ks_statistic_sorted(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut d: f64 = 0.0;
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while a.get(i) == Some(&x) {
            i += 1;
        }
        while b.get(j) == Some(&x) {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// The chi-square test of homogeneity on a 2×k table of counts (reference row, current row),
/// over the categories with a non-zero total: `X² = Σ (O - E)² / E` with
/// `E = row total * column total / N`, p-value `P(χ²_{k-1} > X²)` from statrs. One category (or
/// none) is no evidence of a difference: `X² = 0`, `p = 1`.
pub(crate) fn chi2_from_counts(counts: &[(f64, f64)]) -> Option<TestResult> {
    let cells: Vec<(f64, f64)> = counts
        .iter()
        .copied()
        .filter(|(r, c)| r + c > 0.0)
        .collect();
    let total_r: f64 = cells.iter().map(|(r, _)| r).sum();
    let total_c: f64 = cells.iter().map(|(_, c)| c).sum();
    if total_r == 0.0 || total_c == 0.0 {
        return None;
    }
    if cells.len() < 2 {
        return Some(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let total = total_r + total_c;
    let statistic: f64 = cells
        .iter()
        .map(|(r, c)| {
            let column = r + c;
            let (er, ec) = (total_r * column / total, total_c * column / total);
            (r - er).powi(2) / er + (c - ec).powi(2) / ec
        })
        .sum();
    let dof = (cells.len() - 1) as f64;
    let p_value = ChiSquared::new(dof).ok()?.sf(statistic).clamp(0.0, 1.0);
    Some(TestResult { statistic, p_value })
}

/// The chi-square test of homogeneity (not goodness of fit) between the categories of a
/// reference and of a current window: the 2×k table of counts over the union of categories.
/// A category on one side only has a non-zero expected count on both, so it weighs by its
/// size and cannot force p = 0. `None` when either side is empty.
pub fn chi2<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<TestResult> {
    let mut counts: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for v in reference {
        counts.entry(v.as_ref()).or_default().0 += 1.0;
    }
    for v in current {
        counts.entry(v.as_ref()).or_default().1 += 1.0;
    }
    chi2_from_counts(&counts.into_values().collect::<Vec<_>>())
}

/// [`chi2`] for a numeric column with few distinct values, each value a category (NaN
/// dropped).
pub fn chi2_numeric(reference: &[f64], current: &[f64]) -> Option<TestResult> {
    crate::binning::numeric_values_bins(reference, current)
        .and_then(|b| chi2_from_counts(&b.reference.into_iter().zip(b.current).collect::<Vec<_>>()))
}

/// The two-sided Z-test for two proportions with the pooled estimate:
/// `p1 = x1/n1`, `p2 = x2/n2`, `P = (x1 + x2)/(n1 + n2)`,
/// `z = (p1 - p2) / sqrt(P (1 - P) (1/n1 + 1/n2))`, p-value `2 (1 - Φ(|z|))` from statrs'
/// normal distribution. `P` of 0 or 1 (both sides constant and equal) is no difference: `z = 0`,
/// `p = 1`. `None` when a side is empty or a count exceeds its total.
pub fn proportions_z_test(
    reference_hits: usize,
    reference_n: usize,
    current_hits: usize,
    current_n: usize,
) -> Option<TestResult> {
    if reference_n == 0
        || current_n == 0
        || reference_hits > reference_n
        || current_hits > current_n
    {
        return None;
    }
    let (n1, n2) = (reference_n as f64, current_n as f64);
    let (p1, p2) = (reference_hits as f64 / n1, current_hits as f64 / n2);
    let pooled = (reference_hits + current_hits) as f64 / (n1 + n2);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if variance <= 0.0 {
        return Some(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let z = (p1 - p2) / variance.sqrt();
    let normal = Normal::new(0.0, 1.0).ok()?;
    Some(TestResult {
        statistic: z,
        p_value: (2.0 * normal.sf(z.abs())).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} != {b}");
    }

    fn result<T>(r: Option<T>) -> T {
        r.unwrap_or_else(|| panic!("expected a result"))
    }

    #[test]
    fn kolmogorov_critical_values() {
        // The classic asymptotic critical values (Smirnov 1948 tables): 1.2238 at 10 %, 1.3581
        // at 5 %, 1.6276 at 1 %.
        close(kolmogorov_sf(1.2238), 0.10, 1e-4);
        close(kolmogorov_sf(1.3581), 0.05, 1e-4);
        close(kolmogorov_sf(1.6276), 0.01, 1e-4);
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert_eq!(kolmogorov_sf(0.01), 1.0);
        assert!(kolmogorov_sf(10.0) < 1e-80);
    }

    #[test]
    fn kolmogorov_series_agree_at_the_split() {
        // Both series at λ = 1.18 and around it: the dual form evaluated by hand.
        for lambda in [0.9, 1.0, 1.18, 1.3] {
            let dual: f64 = (1..=20)
                .map(|k| {
                    let odd = f64::from(2 * k - 1);
                    (-(odd * odd) * std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda)).exp()
                })
                .sum();
            let dual = 1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * dual;
            let alternating: f64 = (1..=50)
                .map(|k| {
                    let k = f64::from(k);
                    let sign = if k % 2.0 == 1.0 { 2.0 } else { -2.0 };
                    sign * (-2.0 * k * k * lambda * lambda).exp()
                })
                .sum();
            close(dual, alternating, 1e-12);
            close(kolmogorov_sf(lambda), alternating, 1e-12);
        }
    }

    #[test]
    fn ks_by_hand() {
        // {1, 2, 3} vs {4, 5, 6}: D = 1, reached by 2 of the C(6, 3) = 20 orderings.
        let r = result(ks(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]));
        assert_eq!(r.statistic, 1.0);
        close(r.p_value, 0.1, 1e-15);
        // Ties across the samples: {1, 2, 2} vs {2, 3}: after 1: 1/3 - 0; after 2: 1 - 1/2.
        assert_eq!(result(ks(&[1.0, 2.0, 2.0], &[2.0, 3.0])).statistic, 0.5);
        let same = result(ks(&[1.0, 2.0, f64::NAN], &[2.0, 1.0]));
        assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
        assert_eq!(ks(&[], &[1.0]), None);
    }

    #[test]
    fn chi2_pinned_against_an_independent_gamma() {
        // p-values computed with torch.special.gammaincc (regularised upper incomplete gamma,
        // P(χ²_k > x) = Q(k/2, x/2)), independent of statrs; scipy is not installed.
        let mut reference = vec!["a"; 30];
        reference.extend(["b"; 20]);
        reference.extend(["c"; 10]);
        let mut current = vec!["a"; 10];
        current.extend(["b"; 20]);
        current.extend(["c"; 30]);
        let r = result(chi2(&reference, &current));
        close(r.statistic, 20.0, 1e-12);
        close(r.p_value, 4.539992976248486e-05, 1e-15);
        let r = result(chi2_from_counts(&[(50.0, 60.0), (50.0, 40.0)]));
        close(r.statistic, 2.0202020202020203, 1e-12);
        close(r.p_value, 0.15521848968468407, 1e-12);
    }

    #[test]
    fn chi2_category_missing_from_the_window_is_not_p_zero() {
        // Reference 1000 each of a, b, c and one z; window 100 each of a, b, c, no z.
        let mut reference: Vec<String> = Vec::new();
        let mut current: Vec<String> = Vec::new();
        for c in ["a", "b", "c"] {
            reference.extend(std::iter::repeat_n(c.to_string(), 1000));
            current.extend(std::iter::repeat_n(c.to_string(), 100));
        }
        reference.push("z".to_string());
        let r = result(chi2(&reference, &current));
        close(r.statistic, 0.09999697070673412, 1e-12);
        close(r.p_value, 0.9918377872563893, 1e-12);
    }

    #[test]
    fn chi2_constant_columns_are_no_drift() {
        let r = result(chi2(&["x"; 5], &["x"; 7]));
        assert_eq!((r.statistic, r.p_value), (0.0, 1.0));
        assert_eq!(chi2::<&str>(&["x"], &[]), None);
        let r = result(chi2_numeric(&[1.0, 1.0], &[1.0, f64::NAN]));
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn z_test_matches_chi2_on_two_categories() {
        // 50/100 vs 60/100: z² equals the 2×2 chi-square statistic, the p-values agree.
        let z = result(proportions_z_test(50, 100, 60, 100));
        let c = result(chi2_from_counts(&[(50.0, 60.0), (50.0, 40.0)]));
        close(z.statistic * z.statistic, c.statistic, 1e-12);
        close(z.p_value, c.p_value, 1e-10);
        // |z| = 1.959963984540054 is the two-sided 5 % point.
        let normal = Normal::new(0.0, 1.0).unwrap_or_else(|e| panic!("{e}"));
        close(2.0 * normal.sf(1.959963984540054), 0.05, 1e-11);
    }

    #[test]
    fn z_test_edges() {
        assert_eq!(
            proportions_z_test(10, 10, 5, 5),
            Some(TestResult {
                statistic: 0.0,
                p_value: 1.0
            })
        );
        assert_eq!(proportions_z_test(0, 0, 1, 1), None);
        assert_eq!(proportions_z_test(3, 2, 1, 1), None);
    }
}
