//! Agreement with the reference vectors in `tests/vectors/*.json`, written by
//! `scripts/monitoring-vectors.py` from scipy 1.x, scikit-learn and Evidently 0.7.23 (see
//! `docs/monitoring.md`, "Verification"). Statistics and distances agree to 1e-9 relative,
//! p-values to 1e-6 absolute, methods and verdicts exactly. Where Evidently is known to be
//! defective, the test checks both mlp's documented answer and that Evidently's differs from
//! it in the stated way.

use std::path::PathBuf;

use mlp_monitoring::binning::{categorical_bins, numeric_bins, Bins};
use mlp_monitoring::{
    accuracy, auc, chi2, chi2_numeric, dataset_drift, drift_categorical, drift_numeric, f1, js,
    js_categorical, ks, mae, mean, null_share, precision, proportions_z_test, psi, psi_categorical,
    quantile, recall, rmse, wasserstein, Drift, DriftMethod, PSI_EPSILON,
};
use serde_json::Value;

/// One vectors file, parsed.
fn load(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/monitoring-vectors.py)",
            path.display()
        )
    });
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let versions = &value["versions"];
    assert_eq!(versions["evidently"], "0.7.23", "{name}: {versions}");
    let scipy = versions["scipy"].as_str().unwrap_or_default();
    assert!(scipy.starts_with("1."), "{name}: scipy {scipy}");
    value
}

/// A number of the vectors: JSON numbers, or "nan", "inf", "-inf".
fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or_else(|| panic!("not a float: {n}")),
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other}"),
        },
        other => panic!("not a number: {other}"),
    }
}

/// A number or null (a metric that is undefined).
fn opt(v: &Value) -> Option<f64> {
    (!v.is_null()).then(|| num(v))
}

fn nums(v: &Value) -> Vec<f64> {
    array(v).iter().map(num).collect()
}

fn strs(v: &Value) -> Vec<String> {
    array(v)
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect()
}

fn array(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v:.80}"))
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or("?")
}

/// Relative agreement to 1e-9 (infinities must be equal; 0 against at most 1e-15).
fn assert_rel(case: &str, what: &str, got: f64, want: f64) {
    let ok = if want.is_infinite() || got.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= 1e-9 * want.abs() + 1e-15
    };
    assert!(ok, "{case}: {what} = {got}, reference {want}");
}

/// Absolute agreement to 1e-6 for p-values.
fn assert_p(case: &str, what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-6,
        "{case}: {what} = {got}, reference {want}"
    );
}

fn assert_opt(case: &str, what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert_rel(case, what, g, w),
        (None, None) => {}
        _ => panic!("{case}: {what} = {got:?}, reference {want:?}"),
    }
}

fn some<T>(case: &str, what: &str, v: Option<T>) -> T {
    v.unwrap_or_else(|| panic!("{case}: {what} is None"))
}

#[test]
fn ks_matches_scipy_ks_2samp() {
    let vectors = load("ks.json");
    let cases = array(&vectors["cases"]);
    for method in ["exact", "asymp"] {
        assert!(
            cases.iter().any(|c| c["scipy_method"] == method),
            "no {method} case"
        );
    }
    for case in cases {
        let n = name(case);
        let r = some(
            n,
            "ks",
            ks(&nums(&case["reference"]), &nums(&case["current"])),
        );
        assert_rel(n, "D", r.statistic, num(&case["statistic"]));
        assert_p(n, "p-value", r.p_value, num(&case["p_value"]));
    }
}

/// The categories of `values` that `other` lacks.
fn new_categories(values: &[String], other: &[String]) -> usize {
    values.iter().filter(|v| !other.contains(v)).count()
}

#[test]
fn chi2_matches_chi2_contingency() {
    let vectors = load("tests.json");
    for case in array(&vectors["chi2"]) {
        let n = name(case);
        let r = if case["numeric"] == true {
            chi2_numeric(&nums(&case["reference"]), &nums(&case["current"]))
        } else {
            chi2(&strs(&case["reference"]), &strs(&case["current"]))
        };
        let r = some(n, "chi2", r);
        assert_rel(n, "X²", r.statistic, num(&case["statistic"]));
        assert_p(n, "p-value", r.p_value, num(&case["p_value"]));
    }
}

/// The chi-square cases as categories (numeric values printed).
fn chi2_categories(case: &Value) -> (Vec<String>, Vec<String>) {
    if case["numeric"] == true || case["kind"] == "numeric" {
        let cat = |v: &Value| -> Vec<String> {
            nums(v)
                .into_iter()
                .filter(|x| x.is_finite())
                .map(|x| x.to_string())
                .collect()
        };
        (cat(&case["reference"]), cat(&case["current"]))
    } else {
        (strs(&case["reference"]), strs(&case["current"]))
    }
}

#[test]
fn evidently_defect_chi2_goodness_of_fit_is_p_zero_on_a_new_category() {
    // Evidently tests the window's counts against the reference's shares: a category the
    // reference lacks has expected count 0 and p = 0 whatever the counts. The homogeneity
    // test gives it a weight; in at least one case that flips the verdict.
    let vectors = load("tests.json");
    let (mut seen, mut flipped) = (0, 0);
    for case in array(&vectors["chi2"]) {
        let n = name(case);
        let (r, c) = chi2_categories(case);
        if new_categories(&c, &r) == 0 {
            continue;
        }
        seen += 1;
        assert_eq!(num(&case["evidently_gof_p_value"]), 0.0, "{n}");
        // mlp's statistic is finite (its p-value may still underflow to 0 for a large one).
        let (statistic, ours) = (num(&case["statistic"]), num(&case["p_value"]));
        assert!(statistic.is_finite(), "{n}: X² = {statistic}");
        flipped += usize::from(ours >= 0.05);
    }
    assert!(seen >= 3 && flipped >= 1, "{seen} cases, {flipped} flipped");
}

#[test]
fn evidently_defect_constant_column_nan_p_value() {
    // One category on both sides: Evidently's chi-square has 0 degrees of freedom and a NaN
    // p-value; mlp's is X² = 0, p = 1 ("no drift").
    let vectors = load("tests.json");
    let mut seen = 0;
    for case in array(&vectors["chi2"]) {
        let n = name(case);
        let (r, c) = chi2_categories(case);
        let mut all = r.clone();
        all.extend(c);
        all.sort();
        all.dedup();
        if all.len() != 1 {
            continue;
        }
        seen += 1;
        assert!(num(&case["evidently_gof_p_value"]).is_nan(), "{n}");
        assert_eq!((num(&case["statistic"]), num(&case["p_value"])), (0.0, 1.0));
    }
    assert!(seen >= 2, "{seen} constant cases");
}

#[test]
fn z_test_matches_evidently() {
    let vectors = load("tests.json");
    let usize_of = |v: &Value| v.as_u64().unwrap_or_else(|| panic!("{v}")) as usize;
    for case in array(&vectors["z"]) {
        let n = name(case);
        let r = some(
            n,
            "z",
            proportions_z_test(
                usize_of(&case["reference_hits"]),
                usize_of(&case["reference_n"]),
                usize_of(&case["current_hits"]),
                usize_of(&case["current_n"]),
            ),
        );
        assert_rel(n, "z", r.statistic, num(&case["evidently_statistic"]));
        assert_p(n, "p-value", r.p_value, num(&case["evidently_p_value"]));
    }
}

/// A case's bins, as mlp builds them.
fn bins(case: &Value) -> Bins {
    let b = if case["kind"] == "numeric" {
        numeric_bins(&nums(&case["reference"]), &nums(&case["current"]))
    } else {
        categorical_bins(&strs(&case["reference"]), &strs(&case["current"]))
    };
    some(name(case), "bins", b)
}

/// PSI with Evidently's fill: an empty share becomes `min(non-zero shares) / 1e6` when that
/// minimum is at most 1e-4, else 1e-4 (its `get_binned_data(feel_zeroes=True)`).
fn evidently_fill_psi(b: &Bins) -> f64 {
    let fill = |shares: Vec<f64>| -> Vec<f64> {
        let min = shares
            .iter()
            .copied()
            .filter(|s| *s > 0.0)
            .fold(f64::INFINITY, f64::min);
        let eps = if min <= 1e-4 { min / 1e6 } else { 1e-4 };
        shares
            .into_iter()
            .map(|s| if s == 0.0 { eps } else { s })
            .collect()
    };
    let shares = b.shares();
    let r = fill(shares.iter().map(|s| s.0).collect());
    let c = fill(shares.iter().map(|s| s.1).collect());
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

/// Whether Evidently's data-dependent fill differs from the fixed epsilon on these bins.
fn fill_differs(b: &Bins) -> bool {
    let side = |v: Vec<f64>| {
        let min = v.iter().copied().filter(|s| *s > 0.0).fold(1.0, f64::min);
        v.contains(&0.0) && min <= 1e-4
    };
    let shares = b.shares();
    side(shares.iter().map(|s| s.0).collect()) || side(shares.iter().map(|s| s.1).collect())
}

#[test]
fn psi_and_js_match_the_references_on_evidentlys_bins() {
    let vectors = load("distances.json");
    assert_eq!(num(&vectors["psi_epsilon"]), PSI_EPSILON);
    for case in array(&vectors["cases"]) {
        let n = name(case);
        let b = bins(case);
        assert_eq!(
            b.reference.len() as u64,
            case["bins"].as_u64().unwrap_or(0),
            "{n}"
        );
        let (ours_psi, ours_js) = if case["kind"] == "numeric" {
            let (r, c) = (nums(&case["reference"]), nums(&case["current"]));
            (psi(&r, &c), js(&r, &c))
        } else {
            let (r, c) = (strs(&case["reference"]), strs(&case["current"]));
            (psi_categorical(&r, &c), js_categorical(&r, &c))
        };
        assert_rel(n, "PSI", some(n, "psi", ours_psi), num(&case["psi"]));
        assert_rel(n, "JS", some(n, "js", ours_js), num(&case["js"]));
        if !fill_differs(&b) {
            assert_rel(
                n,
                "PSI vs Evidently",
                num(&case["psi"]),
                num(&case["evidently_psi"]),
            );
        }
    }
}

#[test]
fn evidently_defect_psi_fill_depends_on_the_data() {
    // Evidently replaces an empty share by min(non-zero share) / 1e6 when that minimum is at
    // most 1e-4: its PSI is that formula's, mlp's the fixed-epsilon one, and they differ.
    let vectors = load("distances.json");
    let mut seen = 0;
    for case in array(&vectors["cases"]) {
        let n = name(case);
        let b = bins(case);
        if !fill_differs(&b) {
            continue;
        }
        seen += 1;
        let (ours, evidently) = (num(&case["psi"]), num(&case["evidently_psi"]));
        assert_rel(n, "Evidently's PSI", evidently_fill_psi(&b), evidently);
        assert!(
            (ours - evidently).abs() > 1e-6 * evidently.abs(),
            "{n}: {ours} = {evidently}"
        );
    }
    assert!(seen >= 2, "{seen} cases where the fills differ");
}

/// The reference's population standard deviation (finite values).
fn std_of(values: &[f64]) -> f64 {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

#[test]
fn wasserstein_matches_scipy_over_the_reference_std() {
    // Evidently divides by max(std, 0.001): equal for std >= 0.001; below, both are W over
    // their divisor (mlp: +inf for a constant reference and a different window).
    let vectors = load("distances.json");
    let mut floored = 0;
    for case in array(&vectors["cases"]) {
        if case["kind"] != "numeric" {
            continue;
        }
        let n = name(case);
        let (r, c) = (nums(&case["reference"]), nums(&case["current"]));
        let ours = some(n, "wasserstein", wasserstein(&r, &c));
        assert_rel(n, "W/σ", ours, num(&case["wasserstein"]));
        let (sd, evidently) = (std_of(&r), num(&case["evidently_wasserstein"]));
        if sd >= 1e-3 {
            assert_rel(n, "W/σ vs Evidently", ours, evidently);
        } else if ours.is_finite() && sd > 0.0 {
            floored += 1;
            assert_rel(n, "W vs Evidently's W", ours * sd, evidently * 1e-3);
        } else if ours.is_infinite() {
            floored += 1;
            assert!(evidently.is_finite() && evidently > 0.0, "{n}: {evidently}");
        }
    }
    assert!(floored >= 2, "{floored} cases below Evidently's std floor");
}

/// Evidently's name of a method.
fn method_name(m: DriftMethod) -> &'static str {
    match m {
        DriftMethod::Ks => "ks",
        DriftMethod::ChiSquare => "chisquare",
        DriftMethod::ZTest => "z",
        DriftMethod::Wasserstein => "wasserstein",
        DriftMethod::JensenShannon => "jensenshannon",
    }
}

/// mlp's verdict on a column of the vectors.
fn drift_of(case: &Value) -> Drift {
    let d = if case["kind"] == "numeric" {
        drift_numeric(&nums(&case["reference"]), &nums(&case["current"]))
    } else {
        drift_categorical(&strs(&case["reference"]), &strs(&case["current"]))
    };
    some(name(case), "drift", d)
}

/// A score against a reference score: p-values absolutely, distances relatively.
fn assert_score(n: &str, what: &str, d: &Drift, want: f64) {
    if d.method.is_p_value() {
        assert_p(n, what, d.score, want);
    } else {
        assert_rel(n, what, d.score, want);
    }
}

#[test]
fn drift_matches_the_references_and_evidentlys_choice() {
    let vectors = load("drift.json");
    for case in array(&vectors["columns"]) {
        let n = name(case);
        let d = drift_of(case);
        let (expected, evidently) = (&case["expected"], &case["evidently"]);
        assert_eq!(method_name(d.method), expected["method"], "{n}: method");
        assert_eq!(
            method_name(d.method),
            evidently["method"],
            "{n}: Evidently's method"
        );
        assert_score(n, "score", &d, num(&expected["score"]));
        assert_eq!(
            Some(d.drifted),
            expected["drifted"].as_bool(),
            "{n}: verdict"
        );
        assert_eq!(d.threshold, num(&evidently["threshold"]), "{n}: threshold");
        let new_category = {
            let (r, c) = chi2_categories(case);
            new_categories(&c, &r) > 0
        };
        let floored =
            d.method == DriftMethod::Wasserstein && std_of(&nums(&case["reference"])) < 1e-3;
        if d.method == DriftMethod::ChiSquare && new_category {
            // Evidently's goodness-of-fit defect: p = 0, whatever mlp's verdict.
            assert_eq!(num(&evidently["score"]), 0.0, "{n}");
            assert_eq!(evidently["drifted"], true, "{n}");
        } else if d.method == DriftMethod::ChiSquare {
            // Another test (goodness of fit) that agrees without a new category: same verdict.
            assert_eq!(
                Some(d.drifted),
                evidently["drifted"].as_bool(),
                "{n}: verdict"
            );
        } else if floored {
            // Evidently's divisor max(σ, 0.001): the same distance W, another scale.
            let sd = std_of(&nums(&case["reference"]));
            assert_rel(
                n,
                "W vs Evidently's W",
                d.score * sd,
                num(&evidently["score"]) * 1e-3,
            );
        } else {
            assert_score(n, "score vs Evidently", &d, num(&evidently["score"]));
            assert_eq!(
                Some(d.drifted),
                evidently["drifted"].as_bool(),
                "{n}: verdict"
            );
        }
    }
}

#[test]
fn dataset_drift_matches_evidentlys_drifted_share() {
    let vectors = load("drift.json");
    for case in array(&vectors["datasets"]) {
        let n = name(case);
        let mut verdicts = Vec::new();
        for column in array(&case["columns"]) {
            let d = drift_of(column);
            assert_eq!(method_name(d.method), column["evidently"]["method"], "{n}");
            verdicts.push(d);
        }
        let ds = some(n, "dataset drift", dataset_drift(&verdicts));
        assert_eq!(
            ds.drifted_columns as f64,
            num(&case["evidently_count"]),
            "{n}"
        );
        assert_rel(n, "share", ds.share, num(&case["evidently_share"]));
        assert_eq!(
            Some(ds.drifted),
            case["evidently_dataset_drift"].as_bool(),
            "{n}"
        );
    }
    assert_eq!(dataset_drift(&[]), None);
}

fn bools(v: &Value) -> Vec<bool> {
    array(v)
        .iter()
        .map(|b| b.as_bool().unwrap_or_else(|| panic!("not a bool: {b}")))
        .collect()
}

#[test]
fn quality_matches_scikit_learn() {
    let vectors = load("labels.json");
    for case in array(&vectors["classification"]) {
        let n = name(case);
        let (s, l, t) = (
            nums(&case["scores"]),
            bools(&case["labels"]),
            num(&case["threshold"]),
        );
        assert_opt(n, "auc", auc(&s, &l), opt(&case["auc"]));
        assert_opt(
            n,
            "precision",
            precision(&s, &l, t),
            opt(&case["precision"]),
        );
        assert_opt(n, "recall", recall(&s, &l, t), opt(&case["recall"]));
        assert_opt(n, "f1", f1(&s, &l, t), opt(&case["f1"]));
        assert_opt(n, "accuracy", accuracy(&s, &l, t), opt(&case["accuracy"]));
    }
    for case in array(&vectors["regression"]) {
        let n = name(case);
        let (p, t) = (nums(&case["predictions"]), nums(&case["targets"]));
        assert_opt(n, "rmse", rmse(&p, &t), opt(&case["rmse"]));
        assert_opt(n, "mae", mae(&p, &t), opt(&case["mae"]));
    }
}

#[test]
fn service_and_data_quality_match_numpy_and_pandas() {
    let vectors = load("service.json");
    for case in array(&vectors["quantile"]) {
        let n = name(case);
        let values = nums(&case["values"]);
        for (q, want) in array(&case["q"]).iter().zip(array(&case["quantiles"])) {
            let (q, want) = (num(q), opt(want));
            let got = quantile(&values, q);
            match want {
                // numpy interpolates next to an infinity as inf - inf = NaN; mlp's quantile is
                // never NaN: the interpolation towards +inf is +inf.
                Some(w) if w.is_nan() => assert_eq!(got, Some(f64::INFINITY), "{n}: q = {q}"),
                _ => assert_opt(n, &format!("quantile {q}"), got, want),
            }
        }
    }
    for case in array(&vectors["mean"]) {
        let n = name(case);
        assert_opt(n, "mean", mean(&nums(&case["values"])), opt(&case["mean"]));
    }
    for case in array(&vectors["null_share"]) {
        let n = name(case);
        let values: Vec<Option<f64>> = array(&case["values"]).iter().map(opt).collect();
        assert_opt(
            n,
            "null share",
            null_share(&values),
            opt(&case["null_share"]),
        );
    }
}
