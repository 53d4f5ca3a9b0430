//! Evidently 0.7's default choice of drift test for one column, and its verdict.
//!
//! With `n` the reference's size and `u` the number of distinct values over reference and
//! current together (Evidently's `pd.concat([reference, current]).nunique()`):
//!
//! | column      | n <= 1000                                   | n > 1000                         |
//! |-------------|---------------------------------------------|----------------------------------|
//! | numeric     | KS if u > 5; chi-square if 3..=5; Z if <= 2 | Wasserstein if u > 5; else JS    |
//! | categorical | chi-square if u > 2; Z-test if u <= 2       | Jensen–Shannon                   |
//!
//! Drift, as Evidently 0.7.23 decides it: KS at `p <= 0.05`, chi-square and the Z-test at
//! `p < 0.05` (strictly), distances at `score >= 0.1`. A dataset drifts when the share of
//! drifted columns is at least 0.5 ([`dataset_drift`]).

use std::collections::BTreeSet;

use crate::binning::{clean_sorted, distinct_sorted};
use crate::distance::{js, js_categorical, wasserstein};
use crate::stattests::{chi2, chi2_numeric, ks, proportions_z_test};

/// The reference size above which distances replace hypothesis tests.
const LARGE_REFERENCE: usize = 1000;
/// The p-value at or below which a test reports drift.
const P_VALUE_THRESHOLD: f64 = 0.05;
/// The distance at or above which Wasserstein and Jensen–Shannon report drift.
const DISTANCE_THRESHOLD: f64 = 0.1;

/// The test or distance a drift verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMethod {
    /// Two-sample Kolmogorov–Smirnov ([`crate::ks`]); the score is its p-value.
    Ks,
    /// Chi-square test of homogeneity ([`crate::chi2`]); the score is its p-value.
    ChiSquare,
    /// Z-test for two proportions ([`crate::proportions_z_test`]); the score is its p-value.
    ZTest,
    /// Normalised Wasserstein distance ([`crate::wasserstein`]); the score is the distance.
    Wasserstein,
    /// Jensen–Shannon distance ([`crate::js`]); the score is the distance.
    JensenShannon,
}

impl DriftMethod {
    /// Whether the score is a p-value (drift when at or below the threshold) rather than a
    /// distance (drift when at or above it).
    pub fn is_p_value(self) -> bool {
        matches!(self, Self::Ks | Self::ChiSquare | Self::ZTest)
    }
}

/// One column's drift verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// The method chosen.
    pub method: DriftMethod,
    /// The p-value or the distance, never NaN (a distance may be infinite).
    pub score: f64,
    /// The threshold the score was compared with.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
}

impl Drift {
    /// The verdict of a score under a method's default threshold.
    fn new(method: DriftMethod, score: f64) -> Self {
        let (threshold, drifted) = if method == DriftMethod::Ks {
            (P_VALUE_THRESHOLD, score <= P_VALUE_THRESHOLD)
        } else if method.is_p_value() {
            (P_VALUE_THRESHOLD, score < P_VALUE_THRESHOLD)
        } else {
            (DISTANCE_THRESHOLD, score >= DISTANCE_THRESHOLD)
        };
        Self {
            method,
            score,
            threshold,
            drifted,
        }
    }
}

/// The share of drifted columns at or above which a dataset drifts (Evidently's `drift_share`).
const DATASET_DRIFT_SHARE: f64 = 0.5;

/// The dataset-level verdict over its columns' verdicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetDrift {
    /// The number of drifted columns.
    pub drifted_columns: usize,
    /// `drifted_columns` over the number of columns.
    pub share: f64,
    /// Whether the dataset drifted: `share >= 0.5`.
    pub drifted: bool,
}

/// The dataset-level drift over the columns' verdicts (Evidently's `DriftedColumnsCount` and
/// `DataDriftPreset(drift_share=0.5)`): drifted when at least half of the columns drifted.
/// `None` for no columns.
pub fn dataset_drift(columns: &[Drift]) -> Option<DatasetDrift> {
    if columns.is_empty() {
        return None;
    }
    let drifted_columns = columns.iter().filter(|d| d.drifted).count();
    let share = drifted_columns as f64 / columns.len() as f64;
    Some(DatasetDrift {
        drifted_columns,
        share,
        drifted: share >= DATASET_DRIFT_SHARE,
    })
}

/// The drift of a numeric column (NaN dropped) by Evidently's default test; `None` when either
/// side has no value.
pub fn drift_numeric(reference: &[f64], current: &[f64]) -> Option<Drift> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    let mut both: Vec<f64> = r.iter().chain(&c).copied().collect();
    both.sort_by(f64::total_cmp);
    let distinct = distinct_sorted(&both);
    let (method, score) = match (r.len() <= LARGE_REFERENCE, distinct) {
        (true, u) if u > 5 => (DriftMethod::Ks, ks(&r, &c)?.p_value),
        (true, u) if u > 2 => (DriftMethod::ChiSquare, chi2_numeric(&r, &c)?.p_value),
        (true, _) => {
            let first = both[0];
            let hits = |s: &[f64]| s.iter().filter(|v| **v == first).count();
            let z = proportions_z_test(hits(&r), r.len(), hits(&c), c.len())?;
            (DriftMethod::ZTest, z.p_value)
        }
        (false, u) if u > 5 => (DriftMethod::Wasserstein, wasserstein(&r, &c)?),
        (false, _) => (DriftMethod::JensenShannon, js(&r, &c)?),
    };
    Some(Drift::new(method, score))
}

/// The drift of a categorical column by Evidently's default test; `None` when either side is
/// empty.
pub fn drift_categorical<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<Drift> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    let categories: BTreeSet<&str> = reference.iter().chain(current).map(AsRef::as_ref).collect();
    let (method, score) = if reference.len() > LARGE_REFERENCE {
        (
            DriftMethod::JensenShannon,
            js_categorical(reference, current)?,
        )
    } else if categories.len() > 2 {
        (DriftMethod::ChiSquare, chi2(reference, current)?.p_value)
    } else {
        let first = categories.first().copied().unwrap_or_default();
        let hits = |s: &[S]| s.iter().filter(|v| v.as_ref() == first).count();
        let z = proportions_z_test(
            hits(reference),
            reference.len(),
            hits(current),
            current.len(),
        )?;
        (DriftMethod::ZTest, z.p_value)
    };
    Some(Drift::new(method, score))
}

#[cfg(test)]
mod unit {
    use super::*;

    fn verdict(d: Option<Drift>) -> Drift {
        d.unwrap_or_else(|| panic!("expected a verdict"))
    }

    #[test]
    fn small_numeric_columns_choose_by_distinct_values() {
        let many: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(verdict(drift_numeric(&many, &many)).method, DriftMethod::Ks);
        let three = [1.0, 2.0, 3.0, 1.0];
        assert_eq!(
            verdict(drift_numeric(&three, &three)).method,
            DriftMethod::ChiSquare
        );
        let two = [0.0, 1.0, 1.0];
        assert_eq!(
            verdict(drift_numeric(&two, &two)).method,
            DriftMethod::ZTest
        );
    }

    #[test]
    fn large_numeric_columns_use_distances() {
        let many: Vec<f64> = (0..2000).map(|i| f64::from(i % 100)).collect();
        let shifted: Vec<f64> = many.iter().map(|v| v + 50.0).collect();
        let d = verdict(drift_numeric(&many, &shifted));
        assert_eq!(d.method, DriftMethod::Wasserstein);
        assert!(d.drifted);
        assert_eq!(d.threshold, 0.1);
        let few: Vec<f64> = (0..2000).map(|i| f64::from(i % 3)).collect();
        let d = verdict(drift_numeric(&few, &few));
        assert_eq!(
            (d.method, d.score, d.drifted),
            (DriftMethod::JensenShannon, 0.0, false)
        );
    }

    #[test]
    fn categorical_columns() {
        let d = verdict(drift_categorical(&["a", "b", "c"], &["a", "b", "c"]));
        assert_eq!((d.method, d.drifted), (DriftMethod::ChiSquare, false));
        let d = verdict(drift_categorical(&["a", "b"], &["a", "a"]));
        assert_eq!(d.method, DriftMethod::ZTest);
        let big = vec!["a"; 1001];
        let d = verdict(drift_categorical(&big, &["b"]));
        assert_eq!((d.method, d.drifted), (DriftMethod::JensenShannon, true));
        assert_eq!(drift_categorical::<&str>(&[], &["a"]), None);
    }

    #[test]
    fn constant_identical_columns_do_not_drift() {
        for n in [10, 5000] {
            let column = vec![3.0; n];
            let d = verdict(drift_numeric(&column, &[3.0, 3.0]));
            assert!(!d.drifted && !d.score.is_nan(), "{d:?}");
            let column = vec!["k"; n];
            let d = verdict(drift_categorical(&column, &["k"]));
            assert!(!d.drifted && !d.score.is_nan(), "{d:?}");
        }
    }

    #[test]
    fn a_clear_shift_drifts_under_ks() {
        let r: Vec<f64> = (0..200).map(f64::from).collect();
        let c: Vec<f64> = (100..300).map(f64::from).collect();
        let d = verdict(drift_numeric(&r, &c));
        assert_eq!(d.method, DriftMethod::Ks);
        assert!(d.drifted && d.score < 1e-6);
    }
}
