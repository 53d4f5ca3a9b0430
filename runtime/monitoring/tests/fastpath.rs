//! The fast entry points of whole-column drift (`fastpath`) against the definitions they
//! stand for: `drift_numeric` on the unsorted values and `drift_categorical` on the expanded
//! rows, bit for bit, on random data with ties, NaN, infinities, signed zeros, and sizes on
//! both sides of the 1000-row switch from tests to distances.

use mlp_monitoring::fastpath::{
    clean_sorted_fast, drift_categorical_counts, drift_numeric_clean, drift_numeric_sorted,
    sort_total_order, CategoryCounts,
};
use mlp_monitoring::{drift_categorical, drift_numeric, Drift};
use proptest::prelude::*;

/// A value: mostly small integers (ties) or spread reals, sometimes NaN, ±inf or -0.0.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (0i32..8).prop_map(f64::from),
        6 => -1e3f64..1e3,
        1 => Just(f64::NAN),
        1 => Just(-f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
    ]
}

/// A numeric column from 0 to 3000 values: often fewer than 6 distinct values, sometimes
/// more than 1000 rows.
fn column() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(value(), 0..40),
        prop::collection::vec((0i32..3).prop_map(f64::from), 1..40),
        prop::collection::vec(value(), 900..3000),
        prop::collection::vec((0i32..4).prop_map(f64::from), 1001..2500),
        prop::collection::vec(-5.0f64..5.0, 5000..9000),
    ]
}

/// Categories with counts, sizes on both sides of 1000.
fn counts() -> impl Strategy<Value = CategoryCounts> {
    let alphabet = prop::sample::select(vec!["a", "b", "c", "B", "ä", "", "a b", "zz"]);
    prop_oneof![
        prop::collection::btree_map(alphabet.clone(), 0u64..6, 0..4),
        prop::collection::btree_map(alphabet.clone(), 0u64..400, 0..8),
        prop::collection::btree_map(alphabet, 100u64..2000, 1..8),
    ]
    .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The rows counts stand for, in a scrambled order.
fn expand(counts: &CategoryCounts) -> Vec<&str> {
    let mut rows: Vec<&str> = counts
        .iter()
        .flat_map(|(k, v)| std::iter::repeat_n(k.as_str(), *v as usize))
        .collect();
    rows.reverse();
    let half = rows.len() / 2;
    rows.rotate_left(half);
    rows
}

/// Bit-for-bit equality of two verdicts.
fn same(a: Option<Drift>, b: Option<Drift>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.method == b.method
                && a.score.to_bits() == b.score.to_bits()
                && a.threshold.to_bits() == b.threshold.to_bits()
                && a.drifted == b.drifted
        }
        (None, None) => true,
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn sorting_is_total_cmp(values in column()) {
        let sorted = sort_total_order(values.clone());
        let mut expected = values;
        expected.sort_by(f64::total_cmp);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&sorted), bits(&expected));
    }

    #[test]
    fn numeric_fast_path_is_drift_numeric(r in column(), c in column()) {
        let expected = drift_numeric(&r, &c);
        let sorted = drift_numeric_sorted(&sort_total_order(r.clone()), &sort_total_order(c.clone()));
        prop_assert!(same(sorted.map(|t| t.drift), expected), "{sorted:?} != {expected:?}");
        let fast = drift_numeric_clean(&clean_sorted_fast(&r), &clean_sorted_fast(&c));
        prop_assert!(same(fast.map(|t| t.drift), expected), "{fast:?} != {expected:?}");
        if let (Some(a), Some(b)) = (fast, sorted) {
            prop_assert_eq!(a.statistic.to_bits(), b.statistic.to_bits());
        }
    }

    #[test]
    fn categorical_fast_path_is_drift_categorical(r in counts(), c in counts()) {
        let expected = drift_categorical(&expand(&r), &expand(&c));
        let fast = drift_categorical_counts(&r, &c);
        prop_assert!(same(fast.map(|t| t.drift), expected), "{fast:?} != {expected:?}");
        if let Some(t) = fast {
            if !t.drift.method.is_p_value() {
                prop_assert_eq!(t.statistic.to_bits(), t.drift.score.to_bits());
            }
        }
    }
}

#[test]
fn large_columns_agree() {
    // 200k values per side with NaN and infinities sprinkled in: the radix path.
    let make = |seed: u64, shift: f64| -> Vec<f64> {
        let mut x = seed;
        (0..200_000)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match i % 997 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    _ => (x >> 11) as f64 / (1u64 << 53) as f64 * 10.0 + shift,
                }
            })
            .collect()
    };
    for shift in [0.0, 0.05, 3.0] {
        let (r, c) = (make(1, 0.0), make(2, shift));
        let expected = drift_numeric(&r, &c);
        let fast = drift_numeric_sorted(&sort_total_order(r), &sort_total_order(c));
        assert!(
            same(fast.map(|t| t.drift), expected),
            "{fast:?} {expected:?}"
        );
    }
}
