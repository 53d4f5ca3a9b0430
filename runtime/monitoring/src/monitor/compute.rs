//! One metric over what was read: the bridge from the window's columns to the pure metric
//! functions of this crate, with the minimum sizes and the details kept in history.

use super::evaluate::{Seen, Stop, MIN_ROWS, V};
use super::metric::Metric;
use super::window::{Requests, Values};
use crate::DriftMethod;
use serde_json::json;

/// The name of a drift method in records and reports.
pub fn method_name(m: DriftMethod) -> &'static str {
    match m {
        DriftMethod::Ks => "ks",
        DriftMethod::ChiSquare => "chi2",
        DriftMethod::ZTest => "z",
        DriftMethod::Wasserstein => "wasserstein",
        DriftMethod::JensenShannon => "js",
    }
}

fn no_data(what: &str, n: usize) -> Stop {
    Stop::NoData(format!("{n} {what}; at least {MIN_ROWS} needed"))
}

/// A service metric over every request of the window (`window_s` seconds long).
pub(super) fn service(
    m: Metric,
    req: &Requests,
    window_s: f64,
    seen: &mut Seen,
) -> Result<V, Stop> {
    let n = req.latency_ms.len();
    seen.window_rows = Some(n as u64);
    let value = match m {
        Metric::RowCount => Some(req.rows as f64),
        Metric::Throughput => crate::throughput(n, window_s),
        Metric::Latency(q) => {
            if n < MIN_ROWS {
                return Err(no_data("requests in the window", n));
            }
            crate::quantile(&req.latency_ms, q.q())
        }
        Metric::ErrorRate => {
            if n < MIN_ROWS {
                return Err(no_data("requests in the window", n));
            }
            crate::error_rate(&req.failed)
        }
        other => {
            return Err(Stop::Error(format!(
                "`{}` is not a service metric",
                other.name()
            )))
        }
    };
    value
        .map(V::Num)
        .ok_or_else(|| Stop::NoData("no request in the window".into()))
}

/// A data-quality metric over the window's values.
pub(super) fn window(m: Metric, w: &Values, seen: &mut Seen) -> Result<V, Stop> {
    seen.window_rows = Some(w.len() as u64);
    if w.len() < MIN_ROWS {
        return Err(no_data("logged rows in the window", w.len()));
    }
    let value = match (m, w) {
        (Metric::NullShare, Values::Numeric(v)) => crate::null_share(v),
        (Metric::NullShare, Values::Categorical(v)) => {
            Some(v.iter().filter(|x| x.is_none()).count() as f64 / v.len() as f64)
        }
        (Metric::Mean, Values::Numeric(v)) => {
            let xs: Vec<f64> = v.iter().flatten().copied().collect();
            crate::mean(&xs)
        }
        (m, _) => {
            return Err(Stop::Error(format!(
                "`{}` does not apply to this column",
                m.name()
            )))
        }
    };
    value
        .map(V::Num)
        .ok_or_else(|| Stop::NoData("every value in the window is null".into()))
}

fn present_numbers(v: &[Option<f64>]) -> Vec<f64> {
    v.iter()
        .flatten()
        .copied()
        .filter(|x| !x.is_nan())
        .collect()
}

fn present_strings(v: &[Option<String>]) -> Vec<&str> {
    v.iter().flatten().map(String::as_str).collect()
}

/// A distribution metric of the window against the baseline.
pub(super) fn distribution(
    m: Metric,
    base: &Values,
    w: &Values,
    seen: &mut Seen,
) -> Result<V, Stop> {
    let (nb, nw) = (base.present(), w.present());
    seen.window_rows = Some(nw as u64);
    seen.baseline_rows = Some(nb as u64);
    if nw < MIN_ROWS {
        return Err(no_data("non-null values in the window", nw));
    }
    if nb < MIN_ROWS {
        return Err(no_data("non-null values in the baseline", nb));
    }
    match (base, w) {
        // Cleaned and sorted once here: every numeric metric cleans and sorts its inputs
        // first, which on sorted input costs one pass instead of a sort each.
        (Values::Numeric(b), Values::Numeric(c)) => numeric(
            m,
            &crate::binning::clean_sorted(&present_numbers(b)),
            &crate::binning::clean_sorted(&present_numbers(c)),
            seen,
        ),
        (Values::Categorical(b), Values::Categorical(c)) => {
            categorical(m, &present_strings(b), &present_strings(c), seen)
        }
        _ => Err(Stop::Error(
            "the baseline and the window have different column types".into(),
        )),
    }
}

fn shares(bins: Option<crate::binning::Bins>) -> serde_json::Value {
    bins.map_or(serde_json::Value::Null, |b| {
        let s = b.shares();
        json!({
            "baseline": s.iter().map(|p| p.0).collect::<Vec<_>>(),
            "window": s.iter().map(|p| p.1).collect::<Vec<_>>(),
        })
    })
}

/// The bins' shares with what labels them: `edges` (`bins + 1` numbers) for equal-width
/// bins, `values` (one a bin) for one bin per distinct value.
fn numeric_bins_detail(b: &[f64], c: &[f64]) -> serde_json::Value {
    use crate::binning::BinLabels;
    let mut bins = shares(crate::binning::numeric_bins(b, c));
    match crate::binning::numeric_bin_labels(b, c) {
        Some(BinLabels::Edges(e)) => bins["edges"] = json!(e),
        Some(BinLabels::Values(v)) => bins["values"] = json!(v),
        None => {}
    }
    bins
}

fn numeric(m: Metric, b: &[f64], c: &[f64], seen: &mut Seen) -> Result<V, Stop> {
    seen.details = json!({ "bins": numeric_bins_detail(b, c) });
    let none = || Stop::NoData("no finite value on one side".into());
    let v = match m {
        Metric::Psi => V::Num(crate::psi(b, c).ok_or_else(none)?),
        Metric::Js => V::Num(crate::js(b, c).ok_or_else(none)?),
        Metric::Wasserstein => V::Num(crate::wasserstein(b, c).ok_or_else(none)?),
        Metric::Ks => {
            let t = crate::ks(b, c).ok_or_else(none)?;
            seen.details["statistic"] = json!(t.statistic);
            V::Num(t.p_value)
        }
        Metric::Chi2 => {
            let t = crate::chi2_numeric(b, c).ok_or_else(none)?;
            seen.details["statistic"] = json!(t.statistic);
            V::Num(t.p_value)
        }
        Metric::Drift => drift(crate::drift_numeric(b, c).ok_or_else(none)?, seen),
        other => {
            return Err(Stop::Error(format!(
                "`{}` is not a distribution metric",
                other.name()
            )))
        }
    };
    Ok(v)
}

fn categorical(m: Metric, b: &[&str], c: &[&str], seen: &mut Seen) -> Result<V, Stop> {
    let bins = crate::binning::categorical_bins(b, c);
    let labels = categories(b, c);
    seen.details = json!({ "bins": shares(bins), "categories": labels });
    let none = || Stop::NoData("no value on one side".into());
    let v = match m {
        Metric::Psi => V::Num(crate::psi_categorical(b, c).ok_or_else(none)?),
        Metric::Js => V::Num(crate::js_categorical(b, c).ok_or_else(none)?),
        Metric::Chi2 => {
            let t = crate::chi2(b, c).ok_or_else(none)?;
            seen.details["statistic"] = json!(t.statistic);
            V::Num(t.p_value)
        }
        Metric::Drift => drift(crate::drift_categorical(b, c).ok_or_else(none)?, seen),
        Metric::Ks | Metric::Wasserstein => {
            return Err(Stop::Error(format!(
                "`{}` needs a numeric column",
                m.name()
            )))
        }
        other => {
            return Err(Stop::Error(format!(
                "`{}` is not a distribution metric",
                other.name()
            )))
        }
    };
    Ok(v)
}

/// The categories in bin order (sorted, as `categorical_bins` orders them).
fn categories(b: &[&str], c: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = b.iter().chain(c).map(|s| s.to_string()).collect();
    all.sort();
    all.dedup();
    all
}

fn drift(d: crate::Drift, seen: &mut Seen) -> V {
    seen.method = Some(method_name(d.method).to_string());
    seen.details["score"] = json!(d.score);
    seen.details["threshold"] = json!(d.threshold);
    seen.details["drifted"] = json!(d.drifted);
    seen.details["test"] = json!(method_name(d.method));
    V::Bool(d.drifted)
}

/// A quality metric over the window's labelled rows.
pub(super) fn quality(
    m: Metric,
    scores: &[Option<f64>],
    labels: &[Option<f64>],
    threshold: f64,
    seen: &mut Seen,
) -> Result<V, Stop> {
    let pairs: Vec<(f64, f64)> = scores
        .iter()
        .zip(labels)
        .filter_map(|(s, l)| Some(((*s)?, (*l)?)))
        .filter(|(s, l)| !s.is_nan() && !l.is_nan())
        .collect();
    let n = pairs.len();
    seen.window_rows = Some(scores.len() as u64);
    seen.labelled_rows = Some(n as u64);
    if n < MIN_ROWS {
        return Err(no_data("labelled rows in the window", n));
    }
    let s: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let t: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let positive: Vec<bool> = t.iter().map(|l| *l >= 0.5).collect();
    let value = match m {
        Metric::Auc => crate::auc(&s, &positive),
        Metric::Precision => crate::precision(&s, &positive, threshold),
        Metric::Recall => crate::recall(&s, &positive, threshold),
        Metric::F1 => crate::f1(&s, &positive, threshold),
        Metric::Accuracy => crate::accuracy(&s, &positive, threshold),
        Metric::Rmse => crate::rmse(&s, &t),
        Metric::Mae => crate::mae(&s, &t),
        other => {
            return Err(Stop::Error(format!(
                "`{}` is not a quality metric",
                other.name()
            )))
        }
    };
    value.map(V::Num).ok_or_else(|| {
        Stop::NoData(format!(
            "`{}` is undefined on these {n} labelled rows (e.g. only one class)",
            m.name()
        ))
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn numeric_details_label_their_bins() {
        // Few distinct values: one bin per value, labelled by the values.
        let d = numeric_bins_detail(&[1.0, 2.0, 2.0], &[2.0, 3.0]);
        assert_eq!(d["values"], json!([1.0, 2.0, 3.0]));
        assert_eq!(d["baseline"].as_array().map(Vec::len), Some(3));
        assert!(d.get("edges").is_none(), "{d}");
        // More than 20 distinct reference values: equal-width edges, one more than the bins.
        let r: Vec<f64> = (0..=20).map(f64::from).collect();
        let d = numeric_bins_detail(&r, &[0.0, 20.0]);
        let edges = d["edges"].as_array().map_or(0, Vec::len);
        assert_eq!(edges, d["window"].as_array().map_or(0, Vec::len) + 1, "{d}");
        assert_eq!(d["edges"][0], json!(0.0));
        // Nothing finite on one side: no bins at all.
        assert_eq!(numeric_bins_detail(&[], &[1.0]), serde_json::Value::Null);
    }
}
