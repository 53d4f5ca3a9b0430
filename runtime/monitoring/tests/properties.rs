//! Properties of the metrics against independent, naive references: AUC against pair
//! counting, the KS statistic against every threshold, quantiles against the formula on a
//! sorted copy, and the ranges and symmetries of PSI, Jensen–Shannon and chi-square.

use mlp_monitoring::{
    auc, chi2, js, js_categorical, ks, psi, psi_categorical, quantile, wasserstein,
};
use proptest::prelude::*;

/// Small integers as floats, so that ties are frequent.
fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((0i32..30).prop_map(f64::from), 1..60)
}

/// At most 20 distinct values: one bin per value whichever side is the reference.
fn few_values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((0i32..20).prop_map(f64::from), 1..60)
}

/// Categories from a small alphabet.
fn categories() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..60)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

/// The empirical distribution function of `sample` at `x`.
fn ecdf(sample: &[f64], x: f64) -> f64 {
    sample.iter().filter(|v| **v <= x).count() as f64 / sample.len() as f64
}

proptest! {
    #[test]
    fn auc_equals_pair_counting(
        pairs in prop::collection::vec(((0i32..10).prop_map(f64::from), any::<bool>()), 0..60)
    ) {
        let (scores, labels): (Vec<f64>, Vec<bool>) = pairs.into_iter().unzip();
        let mut wins = 0.0;
        let mut total = 0.0;
        for (sp, lp) in scores.iter().zip(&labels) {
            for (sn, ln) in scores.iter().zip(&labels) {
                if *lp && !*ln {
                    total += 1.0;
                    wins += if sp > sn { 1.0 } else if sp == sn { 0.5 } else { 0.0 };
                }
            }
        }
        match auc(&scores, &labels) {
            None => prop_assert_eq!(total, 0.0),
            Some(a) => prop_assert!((a - wins / total).abs() < 1e-12),
        }
    }

    #[test]
    fn ks_statistic_equals_brute_force(a in sample(), b in sample()) {
        let brute = a
            .iter()
            .chain(&b)
            .map(|x| (ecdf(&a, *x) - ecdf(&b, *x)).abs())
            .fold(0.0, f64::max);
        let r = ks(&a, &b).unwrap_or_else(|| panic!("non-empty samples"));
        prop_assert!((r.statistic - brute).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&r.p_value));
    }

    #[test]
    fn quantile_follows_the_formula(values in sample(), q in 0.0f64..=1.0) {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let h = (sorted.len() - 1) as f64 * q;
        let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
        let expected = sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]);
        let got = quantile(&values, q).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!((got - expected).abs() < 1e-9);
        prop_assert!(sorted[lo] <= got && got <= sorted[hi]);
    }

    #[test]
    fn js_is_bounded(a in sample(), b in sample()) {
        // The bins depend on which side is the reference (Sturges bins past 20 distinct
        // reference values), so only the range holds in general.
        let ab = js(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!((0.0..=std::f64::consts::LN_2.sqrt()).contains(&ab));
    }

    #[test]
    fn js_is_symmetric_on_value_bins(a in few_values(), b in few_values()) {
        let ab = js(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        let ba = js(&b, &a).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!((ab - ba).abs() < 1e-12);
        prop_assert!((0.0..=std::f64::consts::LN_2.sqrt()).contains(&ab));
    }

    #[test]
    fn categorical_js_and_psi(a in categories(), b in categories()) {
        let ab = js_categorical(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        let ba = js_categorical(&b, &a).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!((ab - ba).abs() < 1e-12);
        prop_assert!((0.0..=std::f64::consts::LN_2.sqrt()).contains(&ab));
        // One bin per category on both sides: PSI is symmetric too.
        let pab = psi_categorical(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        let pba = psi_categorical(&b, &a).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!(pab >= 0.0 && (pab - pba).abs() < 1e-9);
        prop_assert!(psi_categorical(&a, &a).unwrap_or(f64::NAN).abs() < 1e-12);
    }

    #[test]
    fn psi_is_non_negative(a in prop::collection::vec(-1e3f64..1e3, 1..80), b in sample()) {
        let p = psi(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!(p >= 0.0 && p.is_finite());
    }

    #[test]
    fn chi2_p_value_is_a_probability(a in categories(), b in categories()) {
        let r = chi2(&a, &b).unwrap_or_else(|| panic!("non-empty"));
        prop_assert!((0.0..=1.0).contains(&r.p_value));
        prop_assert!(r.statistic >= 0.0);
    }

    #[test]
    fn wasserstein_is_symmetric_up_to_the_scale(a in sample(), b in sample()) {
        // W(a, b) std(a) = W(b, a) std(b): the unnormalised distance is symmetric.
        let std = |s: &[f64]| {
            let m = s.iter().sum::<f64>() / s.len() as f64;
            (s.iter().map(|v| (v - m).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        let (sa, sb) = (std(&a), std(&b));
        prop_assume!(sa > 1e-9 && sb > 1e-9);
        let ab = wasserstein(&a, &b).unwrap_or_else(|| panic!("non-empty")) * sa;
        let ba = wasserstein(&b, &a).unwrap_or_else(|| panic!("non-empty")) * sb;
        prop_assert!((ab - ba).abs() < 1e-6 * (1.0 + ab));
        // Against the quantile-function form on equal sizes: mean |a_(i) - b_(i)|.
        if a.len() == b.len() {
            let (mut x, mut y) = (a.clone(), b.clone());
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            let direct = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).sum::<f64>() / x.len() as f64;
            prop_assert!((ab - direct).abs() < 1e-6 * (1.0 + direct));
        }
    }
}
