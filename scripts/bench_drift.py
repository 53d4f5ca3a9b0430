"""Evidently's side of scripts/bench-drift.sh, and the data both sides read.

  gen ROWS DIR         writes DIR/reference.parquet and DIR/current.parquet: a seeded prediction
                       log of ROWS rows split in halves (reference = first half).
  evidently REF CUR    times Evidently 0.7's DataDriftPreset on the two files (reading them
                       with pandas included) and prints its verdicts as JSON.
  compare MLP EVID     prints the columns whose verdicts differ between `mlpc drift --format
                       json` (file MLP) and the `evidently` output (file EVID).

Runs in the throwaway venv of scripts/anchors-venv.sh (numpy, pandas, pyarrow, Evidently).
"""

import json
import sys
import time

import numpy as np


def gen(rows: int, out: str) -> None:
    import pandas as pd

    rng = np.random.default_rng(20261130)
    half = rows // 2
    # 0 for the reference half, 1 for the current half: the drifting columns use it.
    cur = np.concatenate([np.zeros(half), np.ones(rows - half)])

    def mixture(weight_first):
        first = rng.random(rows) < weight_first
        return np.where(first, rng.normal(-2.0, 0.5, rows), rng.normal(3.0, 1.0, rows))

    heavy = rng.standard_t(2.0, rows)
    heavy[rng.random(rows) < 0.001] = np.inf
    heavy[rng.random(rows) < 0.001] = -np.inf
    with_nan = rng.random(rows)
    with_nan[rng.random(rows) < 0.1] = np.nan
    countries = np.array(["DE", "FR", "US", "GB", "IT", "ES", "NL", "PL", "SE", "JP"])
    devices = np.array(["ios", "android", "web"])
    plans = np.array(["free", "basic", "pro", "team", "enterprise", "edu", "trial"])
    device_p = np.where(cur[:, None] == 0, [0.5, 0.3, 0.2], [0.45, 0.33, 0.22])
    device = devices[(rng.random(rows)[:, None] > np.cumsum(device_p, axis=1)).sum(axis=1)]
    # The current half brings two plans the reference never saw ("team" and "edu" only there).
    plan = np.where(
        cur == 0,
        rng.choice(plans[[0, 1, 2, 4, 6]], rows),
        rng.choice(plans, rows, p=[0.2, 0.15, 0.15, 0.15, 0.1, 0.15, 0.1]),
    )
    x = rng.normal(0.0, 1.0, rows) + 0.25 * cur
    score = 1.0 / (1.0 + np.exp(-(x - 1.0)))
    frame = pd.DataFrame(
        {
            "normal": rng.normal(0.0, 1.0, rows),
            "normal_shift": x,
            "mixture": mixture(np.where(cur == 0, 0.7, 0.6)),
            "lognormal": rng.lognormal(0.0, 1.0, rows),
            "exponential": rng.exponential(2.0 + 0.1 * cur),
            "poisson": rng.poisson(4.0, rows),
            "heavy_tailed": heavy,
            "with_nan": with_nan,
            "small_ints": rng.integers(0, 5, rows),
            "uniform_shift": rng.random(rows) + 0.1 * cur,
            "country": rng.choice(countries, rows),
            "device": device,
            "plan": plan,
            "score": score,
            "label": (rng.random(rows) < score).astype(np.int64),
        }
    )
    frame.iloc[:half].to_parquet(f"{out}/reference.parquet", index=False)
    frame.iloc[half:].to_parquet(f"{out}/current.parquet", index=False)


def evidently(ref: str, cur: str) -> None:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    reference = pd.read_parquet(ref)
    current = pd.read_parquet(cur)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    seconds = time.perf_counter() - start
    columns = {}
    share = None
    for m in snapshot.dict()["metrics"]:
        config = m["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = m["value"]["share"]
        elif config["type"].endswith("ValueDrift"):
            method = config["method"]
            value = m["value"]
            p_value = "p_value" in method
            drifted = value < config["threshold"] if p_value else value >= config["threshold"]
            columns[config["column"]] = {"method": method, "score": value, "drifted": bool(drifted)}
    print(json.dumps({"seconds": seconds, "share": share, "columns": columns}))


def compare(mlp_file: str, evidently_file: str) -> None:
    with open(mlp_file) as f:
        mlp = json.load(f)
    with open(evidently_file) as f:
        evid = json.load(f)
    ours = {c["column"]: c for c in mlp["columns"]}
    theirs = evid["columns"]
    drifted = sorted(c for c, v in ours.items() if v["drifted"])
    print(f"mlpc drifted:      {', '.join(drifted) or '-'} (share {mlp['drift_share']:.3f})")
    drifted = sorted(c for c, v in theirs.items() if v["drifted"])
    print(f"Evidently drifted: {', '.join(drifted) or '-'} (share {evid['share']:.3f})")
    differences = 0
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a is None or b is None or a["drifted"] != b["drifted"]:
            differences += 1
            left = "absent" if a is None else f"{a['method']} {a['statistic']} drifted={a['drifted']}"
            right = "absent" if b is None else f"{b['method']} {b['score']} drifted={b['drifted']}"
            print(f"  differs: {name}: mlpc {left}; Evidently {right}")
    if differences == 0:
        print("verdicts: the same for every column")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    elif command == "evidently":
        evidently(sys.argv[2], sys.argv[3])
    elif command == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {command}")
