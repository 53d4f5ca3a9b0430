#!/usr/bin/env bash
# The feature store against Feast, side by side in one run on the same data: 1M entity rows
# and 10M feature rows over two views (scripts/bench_feast.py is Feast's side). Feast comes
# from PyPI (latest) into its own venv under ~/.cache/mlp/feast-venv.
# Usage: scripts/bench-features.sh [ROWS_PER_VIEW] [ENTITY_ROWS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
rows="${1:-5000000}" entities="${2:-1000000}"
cd "$MLP_ROOT"
cargo build --release --locked -q -p mlpc -p mlp-features
feast_venv="$HOME/.cache/mlp/feast-venv"
if [ ! -x "$feast_venv/bin/python" ] || ! "$feast_venv/bin/python" -c 'import feast, ibis' 2>/dev/null; then
  python3 -m venv "$feast_venv"
  "$feast_venv/bin/pip" install -q 'feast[duckdb]'
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
cat > "$work/gen.sql" <<SQL
SET threads = 2;
SELECT setseed(0.1);
COPY (SELECT CAST(floor(random()*1000000) AS BIGINT) AS user_id, random() AS f1, CAST(floor(random()*100) AS BIGINT) AS f2,
  TIMESTAMP '2026-01-01' + to_seconds(CAST(floor(random()*90*86400) AS BIGINT)) AS event_ts FROM range($rows)) TO 'data/a.parquet' (FORMAT parquet);
COPY (SELECT CAST(floor(random()*1000000) AS BIGINT) AS user_id, random() AS g1, CAST(floor(random()*100) AS BIGINT) AS g2,
  TIMESTAMP '2026-01-01' + to_seconds(CAST(floor(random()*90*86400) AS BIGINT)) AS event_ts FROM range($rows)) TO 'data/b.parquet' (FORMAT parquet);
COPY (SELECT CAST(floor(random()*1000000) AS BIGINT) AS user_id,
  TIMESTAMP '2026-01-01' + to_seconds(CAST(floor(random()*90*86400) AS BIGINT)) AS event_timestamp FROM range($entities)) TO 'data/entities.parquet' (FORMAT parquet);
SQL
"$CARGO_TARGET_DIR/release/mlp-sql" "$work/gen.sql"
cat > "$work/p.mlp" <<'MLP'
project bench {}

entity user {
  key = user_id: int
}

source a {
  path      = "data/a.parquet"
  timestamp = event_ts

  schema {
    user_id: int
    f1: float
    f2: int
    event_ts: timestamp
  }
}

source b {
  path      = "data/b.parquet"
  timestamp = event_ts

  schema {
    user_id: int
    g1: float
    g2: int
    event_ts: timestamp
  }
}

features va {
  entity = user
  source = a
  ttl    = 30d

  f1: float
  f2: int
}

features vb {
  entity = user
  source = b
  ttl    = 30d

  g1: float
  g2: int
}

pipeline refresh {
  step m {
    materialize {
      views = [va, vb]
    }
  }
}
MLP
mlpc="$CARGO_TARGET_DIR/release/mlpc"
secs() { awk "BEGIN { printf \"%.2f\", ($(date +%s%N) - $1) / 1e9 }"; }
start=$(date +%s%N)
"$mlpc" features historical "$work" --entities "$work/data/entities.parquet" --features va.f1,va.f2,vb.g1,vb.g2 --out "$work/mlp.parquet" 2>/dev/null
mlp_hist=$(secs "$start")
start=$(date +%s%N)
"$mlpc" materialize "$work" --until "2026-04-01 00:00:00" >/dev/null
mlp_mat=$(secs "$start")
# The online lookup on the same materialized data, one cached entity and the four features
# Feast looks up, at the materialization's end (2026-04-01, so inside the views' TTL).
mlp_online=$(MLP_BENCH_DIR="$work" MLP_BENCH_FEATURES=va.f1,va.f2,vb.g1,vb.g2 MLP_BENCH_ENTITY=user_id=42 \
  MLP_BENCH_NOW_US=1775001600000000 cargo bench --locked -q -p mlp-features --bench online_lookup 2>/dev/null | grep '^online_lookup')
# Feast logs to stdout too; its figures are the last line.
feast=$("$feast_venv/bin/python" scripts/bench_feast.py "$work/data" "$work" "$work/mlp.parquet" | tail -n 1)
echo "data: $rows rows in each of 2 views, $entities entity rows, $(nproc) cores"
echo "mlp:   historical ${mlp_hist} s, materialize ${mlp_mat} s"
echo "mlp:   $mlp_online"
echo "feast: $feast"
python3 - "$mlp_hist" "$mlp_mat" "$feast" "$mlp_online" <<'PY'
import json, re, sys
hist, mat, feast = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
online_p99 = float(re.search(r"p99=([0-9.]+)", sys.argv[4]).group(1))
print(f"historical vs Feast file:   {feast['historical_file_s'] / hist:.1f}x")
print(f"historical vs Feast duckdb: {feast['historical_duckdb_s'] / hist:.1f}x")
print(f"materialize vs Feast:       {feast['materialize_s'] / mat:.1f}x")
print(f"online p99 vs Feast:        {feast['online_p99_us'] / online_p99:.0f}x ({online_p99} us against {feast['online_p99_us']} us)")
print(f"rows out of the entity file: mlp {feast['mlp_rows']}, Feast file {feast['historical_file_rows']}, Feast duckdb {feast['historical_duckdb_rows']}")
print(f"non-null va.f1: mlp {feast['mlp_non_null_f1']}, Feast file {feast['historical_file_non_null_f1']}, Feast duckdb {feast['historical_duckdb_non_null_f1']}")
PY
