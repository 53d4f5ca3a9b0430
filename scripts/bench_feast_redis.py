"""Feast's side of scripts/bench-redis.sh: the same transactions file, one feature view of the
same two features (`f1` float, `f2` int, TTL 30 days, `created_ts` as the created column),
the `duckdb` offline store and the `redis` online store on the same redis-server (its own
database number). Materializes everything up to END, then reads one entity's two features
in-process N times. Prints one JSON object of figures last.

Usage: python bench_feast_redis.py DATA_FILE WORK_DIR REDIS_PORT REDIS_DB END
"""

import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from feast import Entity, FeatureStore, FeatureView, Field, FileSource
from feast.types import Float64, Int64

data, work, port, db, end = sys.argv[1:6]
d = os.path.join(work, "feast_redis")
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "feature_store.yaml"), "w") as f:
    f.write(
        f"project: benchredis\n"
        f"registry: {d}/registry.db\n"
        f"provider: local\n"
        f"offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: redis\n  connection_string: \"127.0.0.1:{port},db={db}\"\n"
        f"entity_key_serialization_version: 3\n"
    )
user = Entity(name="user", join_keys=["user_id"])
view = FeatureView(
    name="va",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[Field(name="f1", dtype=Float64), Field(name="f2", dtype=Int64)],
    source=FileSource(path=data, timestamp_field="event_ts", created_timestamp_column="created_ts"),
    online=True,
)
store = FeatureStore(repo_path=d)
store.apply([user, view])
end_at = datetime.fromisoformat(end).replace(tzinfo=timezone.utc)
t = time.perf_counter()
store.materialize(start_date=end_at - timedelta(days=400), end_date=end_at)
out = {"materialize_s": round(time.perf_counter() - t, 2)}

keys = int(os.environ.get("BENCH_KEYS", "1000"))
rng = random.Random(7)
lat = []
for _ in range(2000):
    uid = rng.randrange(keys)
    t = time.perf_counter()
    store.get_online_features(features=["va:f1", "va:f2"], entity_rows=[{"user_id": uid}]).to_dict()
    lat.append((time.perf_counter() - t) * 1e6)
lat.sort()
out["online_p50_us"] = round(lat[len(lat) // 2], 1)
out["online_p99_us"] = round(lat[int(len(lat) * 0.99)], 1)
print(json.dumps(out))
