//! Service metrics of a window: exact latency quantiles, the error rate, the throughput.

/// The `q`-quantile of the non-NaN values with linear interpolation between order statistics
/// (DuckDB's `quantile_cont`): with the values sorted `x_0 <= .. <= x_{n-1}` and `h = (n - 1) q`,
/// `x_⌊h⌋ + (h - ⌊h⌋) (x_⌈h⌉ - x_⌊h⌋)`. Exact, never a bucket bound: the p99 of values all at
/// 19 ms is 19 ms. `None` for no value or `q` outside `[0, 1]`. An interpolation towards `+inf`
/// is `+inf` (numpy's `quantile` gives NaN there, from `inf - inf`).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    // The order statistics x_lo and x_(lo+1) by selection, without sorting: x_lo in place,
    // and x_(lo+1) the least of what follows it.
    let (_, a, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let a = *a;
    let b = if h.ceil() as usize > lo {
        above.iter().copied().min_by(f64::total_cmp).unwrap_or(a)
    } else {
        a
    };
    Some(if a == b {
        a
    } else {
        a + (h - lo as f64) * (b - a)
    })
}

/// The share of requests that failed (`true` is an error); `None` for no request.
pub fn error_rate(is_error: &[bool]) -> Option<f64> {
    if is_error.is_empty() {
        return None;
    }
    Some(is_error.iter().filter(|e| **e).count() as f64 / is_error.len() as f64)
}

/// Requests per second: `count / window_seconds`; `None` for a window that is not a positive,
/// finite number of seconds.
pub fn throughput(count: usize, window_seconds: f64) -> Option<f64> {
    (window_seconds.is_finite() && window_seconds > 0.0).then(|| count as f64 / window_seconds)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn quantile_by_hand() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        // h = 3 * 0.9 = 2.7: 3 + 0.7 * (4 - 3).
        assert!((quantile(&v, 0.9).unwrap_or(f64::NAN) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn constant_latencies_read_exactly() {
        assert_eq!(quantile(&[19.0; 1000], 0.99), Some(19.0));
        assert_eq!(quantile(&[0.1, 0.1, 0.1], 0.37), Some(0.1));
    }

    #[test]
    fn quantile_edges() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
        assert_eq!(quantile(&[1.0], 1.5), None);
        assert_eq!(quantile(&[1.0], f64::NAN), None);
        assert_eq!(quantile(&[7.0, f64::NAN], 0.99), Some(7.0));
    }

    #[test]
    fn rates() {
        assert_eq!(error_rate(&[true, false, false, false]), Some(0.25));
        assert_eq!(error_rate(&[]), None);
        assert_eq!(throughput(120, 60.0), Some(2.0));
        assert_eq!(throughput(1, 0.0), None);
        assert_eq!(throughput(1, f64::INFINITY), None);
    }
}
