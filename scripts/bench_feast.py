"""Feast's side of scripts/bench-features.sh: the same data, the same two feature views,
historical retrieval with the `file` and `duckdb` offline stores, materialization into the
`sqlite` online store, and in-process online lookups. Prints one JSON object of figures.

Usage: python bench_feast.py DATA_DIR WORK_DIR [MLP_OUTPUT]
(with MLP_OUTPUT, mlp's historical output is read back to compare row and value counts)
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64

data_dir, work = sys.argv[1], sys.argv[2]
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
        source = FileSource(path=os.path.join(data_dir, path), timestamp_field="event_ts")
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
for offline in ["file", "duckdb"]:
    store = FeatureStore(repo_path=repo(offline))
    store.apply(objects())
    t = time.perf_counter()
    df = store.get_historical_features(entity_df=entity_df, features=features).to_df()
    out[f"historical_{offline}_s"] = round(time.perf_counter() - t, 2)
    out[f"historical_{offline}_rows"] = len(df)
    out[f"historical_{offline}_non_null_f1"] = int(df["f1"].notna().sum())

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
if len(sys.argv) > 3:
    mine = pd.read_parquet(sys.argv[3])
    out["mlp_rows"] = len(mine)
    out["mlp_non_null_f1"] = int(mine["va__f1"].notna().sum())
print(json.dumps(out))
