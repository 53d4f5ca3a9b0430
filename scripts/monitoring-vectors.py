#!/usr/bin/env python3
"""Writes the reference vectors of mlp-monitoring: runtime/monitoring/tests/vectors/*.json.

Run it with the throwaway anchors venv (scipy 1.x, scikit-learn, Evidently 0.7.23):

    "$(bash scripts/anchors-venv.sh)" scripts/monitoring-vectors.py

Seeded and deterministic: the same library versions write the same files. The tests
(runtime/monitoring/tests/reference.rs) read the committed JSON and need no Python.

Every expected value comes from an independent implementation: scipy's ks_2samp (its default
method, exact up to 10,000 per side), chi2_contingency(correction=False) for the 2xk test of
homogeneity, Evidently's own z-test functions and bins (get_binned_data) for PSI and
Jensen-Shannon, scipy's wasserstein_distance and jensenshannon, scikit-learn for the quality
metrics, numpy for quantiles and means. Where Evidently is known to be defective (chi-square
as goodness of fit, NaN p-values of constant columns, its PSI fill, its std floor in the
normalised Wasserstein), its answer is recorded next to ours under "evidently".

JSON has no NaN or infinities: they are written as the strings "nan", "inf" and "-inf".
Input data are rounded to at most 3 decimals (or integers) so that they read back exactly.
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
import scipy.stats as st
import sklearn
from scipy.spatial.distance import jensenshannon
from sklearn import metrics as skm

import evidently
from evidently import DataDefinition, Dataset, Report
from evidently.legacy.calculations.stattests import chisquare_stattest, psi as ev_psi
from evidently.legacy.calculations.stattests import z_stattest
from evidently.legacy.calculations.stattests.utils import get_binned_data
from evidently.legacy.core import ColumnType
from evidently.presets import DataDriftPreset

warnings.filterwarnings("ignore")

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "monitoring", "tests", "vectors")
SEED = 20240611
PSI_EPSILON = 1e-4


def enc(x):
    """A float for JSON: NaN and infinities as strings, None as null."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def encs(values):
    return [enc(v) for v in values]


def data(values):
    """Input data: integers stay integers (short JSON), others rounded to 3 decimals."""
    out = []
    for v in values:
        v = float(v)
        if not math.isfinite(v):
            out.append(enc(v))
        elif v == int(v) and abs(v) < 2**53:
            out.append(int(v))
        else:
            out.append(round(v, 6))
            if out[-1] != v:
                raise ValueError(f"{v} has more than 6 decimals: it would not read back exactly")
    return out


def clean(values):
    """What mlp and Evidently compute on: NaN and infinities dropped."""
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


# ---------------------------------------------------------------------------------------------
# Samples


def numeric_samples(rng):
    """(name, reference, current) of numeric columns: sizes from 5 to 100,000, ties, NaN,
    infinities, constant columns, unequal sizes."""
    r3 = lambda a: np.round(a, 3)
    n = rng.normal
    cases = [
        ("n5_vs_5_normal", r3(n(size=5)), r3(n(size=5))),
        ("n5_vs_7_shift", r3(n(size=5)), r3(n(2.0, size=7))),
        ("n8_vs_8_ties", rng.integers(0, 8, 8), rng.integers(0, 8, 8)),
        ("n20_vs_30", r3(n(size=20)), r3(n(0.3, size=30))),
        ("n50_vs_50_shift", r3(n(size=50)), r3(n(0.8, size=50))),
        ("n100_vs_37", r3(n(size=100)), r3(n(0.2, 1.5, size=37))),
        ("n200_vs_1000_ties", rng.integers(0, 30, 200), rng.integers(0, 31, 1000)),
        ("n1000_vs_1000_same", r3(n(size=1000)), r3(n(size=1000))),
        ("n1000_vs_999_small_shift", r3(n(size=1000)), r3(n(0.1, size=999))),
        ("n3000_vs_10000_exact_edge", rng.integers(0, 500, 3000), rng.integers(0, 500, 10000)),
        ("n10001_vs_50_asymptotic", rng.integers(0, 1000, 10001), rng.integers(0, 1000, 50)),
        ("n10001_vs_60_asymptotic_shift", rng.integers(0, 1000, 10001), rng.integers(150, 1150, 60)),
        ("n12000_vs_500_asymptotic", rng.integers(0, 1000, 12000), rng.integers(0, 1000, 500)),
        ("n20000_vs_20000_same", rng.integers(0, 10000, 20000), rng.integers(0, 10000, 20000)),
        ("n100000_vs_30000_shift", np.round(n(0, 100, 100000)), np.round(n(2, 100, 30000))),
        ("identical", r3(np.linspace(0, 1, 40)), r3(np.linspace(0, 1, 40))),
        ("disjoint", np.arange(0, 60), np.arange(100, 130)),
        ("constant_identical", np.full(30, 7.0), np.full(12, 7.0)),
        ("constant_different", np.full(30, 7.0), np.full(12, 8.0)),
        ("constant_reference_large", np.full(2000, 3.0), np.full(500, 3.0)),
    ]
    with_gaps = r3(n(size=60))
    with_gaps[[3, 17, 40]] = [np.nan, np.inf, -np.inf]
    cur = r3(n(0.5, size=45))
    cur[[0, 9]] = [np.nan, np.inf]
    cases.append(("nan_and_inf", with_gaps, cur))
    cases.append(("two_values", rng.integers(0, 2, 300), rng.integers(0, 2, 200)))
    cases.append(("four_values", rng.integers(0, 4, 400), rng.integers(1, 5, 250)))
    cases.append(("large_three_values", rng.integers(0, 3, 5000), rng.integers(0, 3, 4000)))
    cases.append(("large_tiny_std", r3(rng.integers(0, 2, 3000) * 0.001), r3(rng.integers(0, 2, 2000) * 0.001 + 0.001)))
    cases.append(("n2000_vs_1500_wasserstein", r3(n(size=2000)), r3(n(0.15, size=1500))))
    cases.append(("n2000_tiny_std_wasserstein", np.round(rng.integers(0, 8, 2000) * 0.0001, 4),
                  np.round(rng.integers(1, 9, 1500) * 0.0001, 4)))
    cases.append(("n15000_vs_15000_near", np.arange(15000), np.arange(40, 15040)))
    return cases


def categorical_samples(rng):
    """(name, reference, current) of categorical columns."""
    pick = lambda cats, size, p=None: list(rng.choice(cats, size=size, p=p))
    missing_ref = ["a"] * 1000 + ["b"] * 1000 + ["c"] * 1000 + ["z"]
    return [
        ("three_categories", pick(list("abc"), 200), pick(list("abc"), 150)),
        ("shifted_shares", pick(list("abcd"), 300, [0.4, 0.3, 0.2, 0.1]), pick(list("abcd"), 300, [0.1, 0.2, 0.3, 0.4])),
        ("new_category_in_current", pick(list("abc"), 500), pick(list("abcd"), 400, [0.3, 0.3, 0.3, 0.1])),
        ("category_missing_from_current", pick(list("abcz"), 600, [0.33, 0.33, 0.33, 0.01]), pick(list("abc"), 300)),
        ("constant_identical", ["k"] * 40, ["k"] * 25),
        ("constant_different", ["k"] * 40, ["m"] * 25),
        ("two_categories", pick(["yes", "no"], 150, [0.6, 0.4]), pick(["yes", "no"], 120, [0.45, 0.55])),
        ("n5_vs_9", pick(list("abc"), 5), pick(list("abc"), 9)),
        ("ten_categories_unequal", pick(list("abcdefghij"), 1000), pick(list("abcdefghij"), 77)),
        ("large_reference", pick(list("abcde"), 5000), pick(list("abcde"), 2000, [0.3, 0.3, 0.2, 0.1, 0.1])),
        ("large_constant_identical", ["k"] * 3000, ["k"] * 100),
        ("large_reference_missing_category", missing_ref, ["a"] * 100 + ["b"] * 100 + ["c"] * 100),
    ]


# ---------------------------------------------------------------------------------------------
# Tests and distances


def ks_case(name, ref, cur):
    r, c = clean(ref), clean(cur)
    res = st.ks_2samp(r, c)  # method='auto', as Evidently calls it
    method = "exact" if max(len(r), len(c)) <= 10000 else "asymp"
    return {"name": name, "reference": data(ref), "current": data(cur), "scipy_method": method,
            "statistic": enc(res.statistic), "p_value": enc(res.pvalue)}


def table(ref, cur):
    keys = sorted(set(ref) | set(cur), key=str)
    rc = pd.Series(ref).value_counts()
    cc = pd.Series(cur).value_counts()
    return keys, np.array([[rc.get(k, 0) for k in keys], [cc.get(k, 0) for k in keys]], dtype=float)


def chi2_case(name, ref, cur, numeric=False):
    if numeric:
        r, c = list(clean(ref)), list(clean(cur))
    else:
        r, c = ref, cur
    keys, t = table(r, c)
    if len(keys) < 2:
        stat, p = 0.0, 1.0  # chi2_contingency has no answer for one category: the documented one
        anchor = "documented (one category)"
    else:
        res = st.chi2_contingency(t, correction=False)
        stat, p = res.statistic, res.pvalue
        anchor = "scipy.stats.chi2_contingency(correction=False)"
    ev_p, _ = chisquare_stattest._chi_stat_test(pd.Series(r), pd.Series(c), ColumnType.Categorical, 0.05)
    return {"name": name, "numeric": numeric, "reference": data(ref) if numeric else list(ref),
            "current": data(cur) if numeric else list(cur), "anchor": anchor,
            "statistic": enc(stat), "p_value": enc(p), "evidently_gof_p_value": enc(ev_p)}


def z_case(name, x1, n1, x2, n2):
    ref = pd.Series([1] * x1 + [0] * (n1 - x1))
    cur = pd.Series([1] * x2 + [0] * (n2 - x2))
    with np.errstate(all="ignore"):
        z = z_stattest.proportions_diff_z_stat_ind(ref, cur)
        p = z_stattest.proportions_diff_z_test(z)
    return {"name": name, "reference_hits": x1, "reference_n": n1, "current_hits": x2, "current_n": n2,
            "evidently_statistic": enc(z), "evidently_p_value": enc(p)}


def bins_of(r, c, kind):
    ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    return get_binned_data(pd.Series(r), pd.Series(c), ctype, 30, feel_zeroes=False)


def psi_reference(rp, cp):
    """mlp's PSI: empty shares replaced by a fixed 1e-4."""
    rp = np.where(rp == 0, PSI_EPSILON, rp)
    cp = np.where(cp == 0, PSI_EPSILON, cp)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


def distance_case(name, kind, ref, cur):
    if kind == "numeric":
        r, c = clean(ref), clean(cur)
    else:
        r, c = ref, cur
    rp, cp = bins_of(r, c, kind)
    ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    ev = float(ev_psi._psi(pd.Series(r), pd.Series(c), ctype, 0.1)[0])
    case = {"name": name, "kind": kind, "reference": data(ref) if kind == "numeric" else list(ref),
            "current": data(cur) if kind == "numeric" else list(cur), "bins": len(rp),
            "empty_bins": int(np.sum(rp == 0) + np.sum(cp == 0)),
            "psi": enc(psi_reference(rp, cp)), "evidently_psi": enc(ev),
            "js": enc(jensenshannon(rp, cp))}
    if kind == "numeric":
        w = st.wasserstein_distance(r, c)
        sd = float(np.std(r))
        ours = w / sd if sd > 0 else (0.0 if w == 0 else math.inf)
        case["wasserstein"] = enc(ours)
        case["evidently_wasserstein"] = enc(w / max(sd, 0.001))
    return case


# ---------------------------------------------------------------------------------------------
# Evidently's drift verdicts

EV_METHOD = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
             "Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon"}


def evidently_report(columns_ref, columns_cur, numeric, categorical):
    """Evidently 0.7.23's DataDriftPreset on frames; per column (method, score) and the
    drifted-columns count and share, from the snapshot's JSON."""
    dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref = Dataset.from_pandas(pd.DataFrame(columns_ref), data_definition=dd)
    cur = Dataset.from_pandas(pd.DataFrame(columns_cur), data_definition=dd)
    snap = Report([DataDriftPreset()]).run(cur, ref).dict()
    out, count = {}, None
    for m in snap["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            out[cfg["column"]] = {"method": EV_METHOD[cfg["method"]], "score": enc(m["value"]),
                                  "threshold": cfg["threshold"]}
        elif cfg["type"].endswith("DriftedColumnsCount"):
            count = m["value"]
    return out, count


def padded(values, n):
    """A column padded with NaN to n rows (Evidently drops them again)."""
    values = list(values)
    return values + [np.nan] * (n - len(values))


def expected_drift(kind, ref, cur):
    """The method by Evidently's rule and the score by the independent references."""
    if kind == "numeric":
        r, c = clean(ref), clean(cur)
    else:
        r, c = list(ref), list(cur)
    u = pd.concat([pd.Series(r), pd.Series(c)]).nunique()
    if len(r) <= 1000:
        if kind == "numeric" and u > 5:
            method, score = "ks", st.ks_2samp(r, c).pvalue
        elif u > 2:
            method, score = "chisquare", chi2_case("", ref, cur, kind == "numeric")["p_value"]
        else:
            method = "z"
            keys = sorted(set(r) | set(c))
            if len(keys) == 1:
                score = 1.0
            else:
                z = z_case("", sum(1 for v in r if v == keys[0]), len(r), sum(1 for v in c if v == keys[0]), len(c))
                score = z["evidently_p_value"]
    elif kind == "numeric" and u > 5:
        method, score = "wasserstein", distance_case("", "numeric", ref, cur)["wasserstein"]
    else:
        method, score = "jensenshannon", distance_case("", kind, ref, cur)["js"]
    score = float(score)
    drifted = {"ks": score <= 0.05, "chisquare": score < 0.05, "z": score < 0.05}.get(method, score >= 0.1)
    return {"method": method, "score": enc(score), "drifted": bool(drifted)}


def drift_case(name, kind, ref, cur):
    n = max(len(ref), len(cur))
    col = "x"
    numeric, categorical = ([col], []) if kind == "numeric" else ([], [col])
    pad = (lambda v: padded(v, n)) if kind == "numeric" else (lambda v: list(v) + [None] * (n - len(v)))
    ev, count = evidently_report({col: pad(ref)}, {col: pad(cur)}, numeric, categorical)
    ev = dict(ev[col], drifted=bool(count["count"] == 1))
    return {"name": name, "kind": kind, "reference": data(ref) if kind == "numeric" else list(ref),
            "current": data(cur) if kind == "numeric" else list(cur),
            "expected": expected_drift(kind, ref, cur), "evidently": ev}


def dataset_case(name, columns):
    """Several columns of the same length in one report: the drifted share and verdict."""
    ref = {k: v[1] for k, v in columns.items()}
    cur = {k: v[2] for k, v in columns.items()}
    numeric = [k for k, v in columns.items() if v[0] == "numeric"]
    categorical = [k for k, v in columns.items() if v[0] == "categorical"]
    ev, count = evidently_report(ref, cur, numeric, categorical)
    cols = []
    for k, (kind, r, c) in columns.items():
        cols.append({"column": k, "kind": kind, "reference": data(r) if kind == "numeric" else list(r),
                     "current": data(c) if kind == "numeric" else list(c), "evidently": ev[k]})
    return {"name": name, "columns": cols, "evidently_count": count["count"], "evidently_share": count["share"],
            "evidently_dataset_drift": bool(count["share"] >= 0.5)}


# ---------------------------------------------------------------------------------------------
# Quality, data quality, service


def label_case(name, scores, labels):
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    keep = ~np.isnan(s)
    s, y = s[keep], y[keep]
    pred = s >= 0.5
    auc = skm.roc_auc_score(y, s) if 0 < y.sum() < len(y) else None
    zd = {"zero_division": np.nan}
    p = skm.precision_score(y, pred, **zd) if len(y) else np.nan
    r = skm.recall_score(y, pred, **zd) if len(y) else np.nan
    f = skm.f1_score(y, pred, **zd) if len(y) else np.nan
    a = skm.accuracy_score(y, pred) if len(y) else np.nan
    none = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else enc(v)
    return {"name": name, "scores": data(scores), "labels": [bool(v) for v in labels], "threshold": 0.5,
            "auc": none(auc), "precision": none(p), "recall": none(r), "f1": none(f), "accuracy": none(a)}


def regression_case(name, pred, target):
    p, t = np.asarray(pred, dtype=float), np.asarray(target, dtype=float)
    keep = ~np.isnan(p) & ~np.isnan(t)
    p, t = p[keep], t[keep]
    rmse = skm.root_mean_squared_error(t, p) if len(p) else None
    mae = skm.mean_absolute_error(t, p) if len(p) else None
    return {"name": name, "predictions": data(pred), "targets": data(target),
            "rmse": enc(rmse), "mae": enc(mae)}


QS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]


def quantile_case(name, values):
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    qs = [enc(np.quantile(v, q, method="linear")) if len(v) else None for q in QS]
    return {"name": name, "values": data(values), "q": QS, "quantiles": qs}


def mean_case(name, values):
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return {"name": name, "values": data(values), "mean": enc(np.mean(v)) if len(v) else None}


def null_case(name, values):
    s = pd.Series(values, dtype=float)
    share = float(s.isna().mean()) if len(s) else None
    return {"name": name, "values": [None if v is None else enc(v) for v in values], "null_share": enc(share)}


# ---------------------------------------------------------------------------------------------


def write(name, payload):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(payload, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"{path}: {os.path.getsize(path)} bytes", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    versions = {"scipy": scipy.__version__, "sklearn": sklearn.__version__, "evidently": evidently.__version__,
                "numpy": np.__version__, "pandas": pd.__version__, "seed": SEED}
    rng = np.random.default_rng(SEED)
    nums = numeric_samples(rng)
    cats = categorical_samples(rng)

    # The large samples are stored once, in ks.json; the other files refer to small ones only.
    small = [(n, r, c) for n, r, c in nums if len(r) + len(c) <= 10000]
    write("ks.json", {"versions": versions, "cases": [ks_case(*c) for c in nums]})

    chi = [chi2_case(n, r, c) for n, r, c in cats if len(r) <= 1000 or n == "large_reference_missing_category"]
    chi += [chi2_case(n, r, c, numeric=True) for n, r, c in small
            if 1 <= pd.concat([pd.Series(clean(r)), pd.Series(clean(c))]).nunique() <= 5]
    zs = [z_case("half_vs_sixty", 50, 100, 60, 100), z_case("unequal", 12, 40, 90, 150),
          z_case("n5_vs_7", 2, 5, 6, 7), z_case("extreme", 1, 1000, 999, 1000), z_case("equal", 30, 60, 15, 30),
          z_case("large", 4000, 10000, 4100, 10000)]
    write("tests.json", {"versions": versions, "chi2": chi, "z": zs})

    dist = [distance_case(n, "numeric", r, c) for n, r, c in small]
    dist += [distance_case(n, "categorical", r, c) for n, r, c in cats]
    ref = np.concatenate([rng.integers(0, 500, 20000), [999]])
    dist.append(distance_case("sparse_reference_psi_fill", "numeric", ref, rng.integers(0, 1000, 300)))
    dist.append(distance_case("one_rare_category", "categorical", ["a"] * 20000 + ["b"], ["a"] * 50 + ["c"]))
    write("distances.json", {"versions": versions, "psi_epsilon": PSI_EPSILON, "cases": dist})

    drift = [drift_case(n, "numeric", r, c) for n, r, c in small]
    drift += [drift_case(n, "categorical", r, c) for n, r, c in cats]
    m = 400
    datasets = [
        dataset_case("half_drifted", {
            "a": ("numeric", np.round(rng.normal(size=m), 3), np.round(rng.normal(1.0, size=m), 3)),
            "b": ("numeric", np.round(rng.normal(size=m), 3), np.round(rng.normal(size=m), 3)),
            "c": ("categorical", list(rng.choice(list("xyz"), m)), list(rng.choice(list("xyz"), m, p=[0.6, 0.2, 0.2]))),
            "d": ("categorical", list(rng.choice(list("xyz"), m)), list(rng.choice(list("xyz"), m))),
        }),
        dataset_case("one_of_four_drifted_with_constant", {
            "a": ("numeric", np.round(rng.normal(size=m), 3), np.round(rng.normal(1.0, size=m), 3)),
            "b": ("numeric", np.round(rng.normal(size=m), 3), np.round(rng.normal(size=m), 3)),
            "k": ("categorical", ["k"] * m, ["k"] * m),
            "d": ("categorical", list(rng.choice(list("xyz"), m)), list(rng.choice(list("xyz"), m))),
        }),
    ]
    write("drift.json", {"versions": versions, "columns": drift, "datasets": datasets})

    lab = []
    s = np.round(rng.random(200), 3)
    y = rng.random(200) < s
    lab.append(label_case("calibrated_200", s, y))
    s = np.round(rng.random(50) * 4) / 4  # heavy ties
    lab.append(label_case("tied_scores", s, rng.random(50) < 0.5))
    s = np.round(rng.random(30), 2)
    s[[2, 11]] = np.nan
    lab.append(label_case("with_nan", s, rng.random(30) < 0.4))
    lab.append(label_case("single_class", [0.1, 0.7, 0.9, 0.3], [True] * 4))
    lab.append(label_case("nothing_predicted_positive", [0.1, 0.2, 0.3, 0.4, 0.45], [True, False, True, False, False]))
    lab.append(label_case("no_positive", [0.1, 0.6, 0.3], [False, False, False]))
    s = np.round(rng.random(20000), 3)
    lab.append(label_case("n20000", s, rng.random(20000) < s))
    reg = [regression_case("n5", [1.0, 2.5, 3.0, 4.0, 10.0], [1.5, 2.0, 3.0, 5.0, 7.5])]
    p = np.round(rng.normal(size=1000), 3)
    t = np.round(p + rng.normal(0, 0.3, 1000), 3)
    p[[4, 99]] = np.nan
    reg.append(regression_case("n1000_with_nan", p, t))
    write("labels.json", {"versions": versions, "classification": lab, "regression": reg})

    lat = np.round(rng.lognormal(8, 0.5, 100000))  # latencies in whole microseconds
    quant = [quantile_case("n5", [4.0, 1.0, 3.0, 2.0, 10.0]), quantile_case("constant_19ms", [19.0] * 1000),
             quantile_case("ties", list(rng.integers(0, 5, 37))),
             quantile_case("with_nan", [3.0, np.nan, 1.0, 2.0, np.nan, 8.0]),
             quantile_case("with_inf_top", [1.0, 2.0, 3.0, np.inf]),
             quantile_case("n100000_lognormal", lat), quantile_case("single", [42.5])]
    means = [mean_case("n5", [1.0, 2.0, 3.5, 4.0, 10.25]), mean_case("with_nan", [1.0, np.nan, 3.0]),
             mean_case("all_nan", [np.nan, np.nan]), mean_case("with_inf", [1.0, np.inf, 2.0]),
             mean_case("n20000", np.round(rng.normal(5, 2, 20000), 3))]
    nulls = [null_case("mixed", [1.0, None, float("nan"), 2.0, 3.0]), null_case("no_null", [1.0, 2.0]),
             null_case("all_null", [None, None, None]), null_case("inf_is_not_null", [float("inf"), None])]
    write("service.json", {"versions": versions, "quantile": quant, "mean": means, "null_share": nulls})


if __name__ == "__main__":
    # Evidently orders categories through Python sets: a fixed hash seed fixes the order of
    # the bins, and so the last bits of the sums.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))
    main()
