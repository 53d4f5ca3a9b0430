//! Data-quality metrics of one column of a window: the share of nulls, the mean, the row count.

/// The share of nulls (`None` or NaN) among the values; `None` for no values.
pub fn null_share(values: &[Option<f64>]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let nulls = values
        .iter()
        .filter(|v| v.is_none_or(|x| x.is_nan()))
        .count();
    Some(nulls as f64 / values.len() as f64)
}

/// The arithmetic mean of the non-NaN values; `None` when there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    let (sum, count) = values
        .iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

/// The number of rows, nulls included.
pub fn row_count<T>(values: &[T]) -> usize {
    values.len()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn null_share_counts_none_and_nan() {
        assert_eq!(
            null_share(&[Some(1.0), None, Some(f64::NAN), Some(2.0)]),
            Some(0.5)
        );
        assert_eq!(null_share(&[]), None);
        assert_eq!(null_share(&[None]), Some(1.0));
    }

    #[test]
    fn mean_drops_nan() {
        assert_eq!(mean(&[1.0, f64::NAN, 3.0]), Some(2.0));
        assert_eq!(mean(&[f64::NAN]), None);
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn row_count_counts_everything() {
        assert_eq!(row_count(&[None, Some(1.0)]), 2);
        assert_eq!(row_count::<f64>(&[]), 0);
    }
}
