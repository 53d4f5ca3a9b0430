"""Feast's side of scripts/bench-features.sh: the same data, the same two feature views (with
the sources' created_ts as Feast's created_timestamp_column), historical retrieval with the
`duckdb` offline store and `filter_by_created_timestamp=True` (Feast's leak-free flag, the
rule mlp applies by default). Optionally the `file` (dask) store too, and materialization
into the `sqlite` online store with in-process online lookups. Each output is written to
WORK_DIR/feast_STORE.parquet for the comparison; prints one JSON object of figures last.

Usage: python bench_feast.py DATA_DIR WORK_DIR [--runs=N] [--file] [--online]
(--runs: retrievals per store, the fastest reported)
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64

args = [a for a in sys.argv[1:] if not a.startswith("--")]
flags = {a for a in sys.argv[1:] if a.startswith("--")}
runs = max(int(dict(a[2:].split("=", 1) for a in flags if "=" in a).get("runs", 1)), 1)
data_dir, work = args[0], args[1]
features = ["va:f1", "va:f2", "vb:g1", "vb:g2"]


def repo(offline: str) -> str:
    d = os.path.join(work, f"feast_{offline}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(
            f"project: bench\n"
            f"registry: {d}/registry.db\n"
            f"provider: local\n"
            f"offline_store:\n  type: {offline}\n"
            f"online_store:\n  type: sqlite\n  path: {d}/online.db\n"
            f"entity_key_serialization_version: 3\n"
        )
    return d


def objects():
    user = Entity(name="user", join_keys=["user_id"])
    views = []
    for name, path, cols in [("va", "a.parquet", ("f1", "f2")), ("vb", "b.parquet", ("g1", "g2"))]:
        source = FileSource(
            path=os.path.join(data_dir, path),
            timestamp_field="event_ts",
            created_timestamp_column="created_ts",
        )
        views.append(
            FeatureView(
                name=name,
                entities=[user],
                ttl=timedelta(days=30),
                schema=[Field(name=cols[0], dtype=Float64), Field(name=cols[1], dtype=Int64)],
                source=source,
                online=True,
            )
        )
    return [user, *views]


entity_df = pd.read_parquet(os.path.join(data_dir, "entities.parquet"))
out = {}
store = None
for offline in ["duckdb"] + (["file"] if "--file" in flags else []):
    store = FeatureStore(repo_path=repo(offline))
    store.apply(objects())
    best = None
    for _ in range(runs):
        df = None
        t = time.perf_counter()
        df = store.get_historical_features(
            entity_df=entity_df, features=features, filter_by_created_timestamp=True
        ).to_df()
        took = time.perf_counter() - t
        best = took if best is None else min(best, took)
    out[f"historical_{offline}_s"] = round(best, 2)
    df.to_parquet(os.path.join(work, f"feast_{offline}.parquet"))
    del df

if "--online" in flags:
    t = time.perf_counter()
    store.materialize(
        start_date=datetime(2025, 12, 1, tzinfo=timezone.utc),
        end_date=datetime(2026, 4, 1, tzinfo=timezone.utc),
    )
    out["materialize_s"] = round(time.perf_counter() - t, 2)
    latencies = []
    for i in range(2000):
        t = time.perf_counter()
        store.get_online_features(features=features, entity_rows=[{"user_id": 42}]).to_dict()
        latencies.append((time.perf_counter() - t) * 1e6)
    latencies.sort()
    out["online_p50_us"] = round(latencies[len(latencies) // 2], 1)
    out["online_p99_us"] = round(latencies[int(len(latencies) * 0.99)], 1)
print(json.dumps(out))
