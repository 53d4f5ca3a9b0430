#!/usr/bin/env bash
# The Redis online store against Feast's, in one run on this machine, on a redis-server
# started here (loopback, no persistence):
# - materialization: mlp (`mlpc materialize`, release build) against Feast (the PyPI release,
#   `store.materialize` with the duckdb offline store and its redis online store) writing the
#   same transactions file's latest values into Redis, each into its own database;
# - online lookups over HTTP: `mlpc serve` (2 workers) answering POST /v1/features/online for
#   one random user's two features, driven by mlp-load at a fixed rate, with the near cache
#   (every user read once before) and without it (`near_cache = 0`: every lookup goes to
#   Redis). Feast's in-process `get_online_features` on its Redis is printed beside it.
# Usage: scripts/bench-redis.sh [ROWS] [ROWS_PER_KEY...]   (default 1000000, shapes 1 and 4)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
rows="${1:-1000000}"
shift || true
shapes=("${@:-1 4}")
# shellcheck disable=SC2206
shapes=(${shapes[*]})
rate="${BENCH_RATE:-1000}" seconds="${BENCH_SECONDS:-10}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
bin="$CARGO_TARGET_DIR/release"
command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
feast_venv="$HOME/.cache/mlp/feast-venv"
if [ ! -x "$feast_venv/bin/python" ] || ! "$feast_venv/bin/python" -c 'import feast, redis, duckdb' 2>/dev/null; then
  python3 -m venv "$feast_venv"
  "$feast_venv/bin/pip" install -q 'feast[duckdb,redis]'
fi
py="$feast_venv/bin/python"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done
end="2026-03-02 00:00:00"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB; redis-server $(redis-server --version | awk '{ print $3 }' | cut -d= -f2); Feast $("$py" -c 'import feast; print(feast.__version__)'); mlp at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime || echo ' + local changes'); $(date -u +%F)"

spec() { # DIR NEAR_CACHE DB
  cat >"$1/p.mlp" <<MLP
project bench {
  online = redis("redis://127.0.0.1:$rport/$3", near_cache = $2, prefix = "mlp:bench")
}

entity user {
  key = user_id: int
}

source tx {
  path      = "$work/tx.parquet"
  timestamp = event_ts
  created   = created_ts

  schema {
    user_id: int
    f1: float
    f2: int
    event_ts: timestamp
    created_ts: timestamp
  }
}

features va {
  entity = user
  source = tx
  ttl    = 30d

  f1: float
  f2: int
}
MLP
}

serve_p99() { # DIR LABEL
  local port; port=$(free_port)
  "$bin/mlpc" apply "$1" --auto-approve >/dev/null
  "$bin/mlpc" serve "$1" --bind "127.0.0.1:$port" --workers 2 --no-scheduler --no-ui 2>"$1/serve.log" &
  local pid=$!
  pids+=($pid)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
  # Every user of the bodies once (fills the near cache when there is one), then the load.
  "$bin/mlp-load" --url "http://127.0.0.1:$port/v1/features/online" --bodies "$work/bodies.jsonl" \
    --clients 4 --seconds 5 --warmup 0 >/dev/null
  local r
  r=$("$bin/mlp-load" --url "http://127.0.0.1:$port/v1/features/online" --bodies "$work/bodies.jsonl" \
    --clients 8 --rate "$rate" --seconds "$seconds" --warmup 2)
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  printf '  %-32s %s\n' "$2" "$r"
}

for rpk in "${shapes[@]}"; do
  keys=$((rows / rpk))
  redis-cli -p "$rport" flushall >/dev/null
  cat >"$work/gen.sql" <<SQL
COPY (
  SELECT u AS user_id,
    CASE WHEN u % 50 = 0 THEN NULL ELSE round((u * 37 % 1000) / 10.0 + k, 1) END AS f1,
    (u * 7 + k) % 100 AS f2,
    TIMESTAMP '2026-01-01' + to_seconds((u * 131 + k * 977) % (60 * 86400)) AS event_ts,
    event_ts + to_seconds(CASE WHEN k % 9 = 8 THEN 3600 ELSE 0 END) AS created_ts
  FROM (SELECT u, unnest(range($rpk)) AS k FROM range($keys) t(u))
) TO '$work/tx.parquet' (FORMAT parquet);
SQL
  "$bin/mlp-sql" "$work/gen.sql" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  python3 - "$keys" >"$work/bodies.jsonl" <<'PY'
import json, random, sys
rng = random.Random(11)
keys = int(sys.argv[1])
for _ in range(20000):
    print(json.dumps({"features": ["va.f1", "va.f2"], "entities": {"user_id": [rng.randrange(keys)]}}))
PY
  echo "$rows rows, $rpk per key: $keys users"
  near="$work/near-$rpk" cold="$work/cold-$rpk"
  mkdir -p "$near" "$cold"
  spec "$near" 100000 0
  spec "$cold" 0 0
  "$bin/mlpc" apply "$near" --auto-approve >/dev/null
  t0=$(date +%s.%N)
  "$bin/mlpc" materialize "$near" --until "$end" >/dev/null
  t1=$(date +%s.%N)
  mlp_s=$(python3 -c "print(round($t1 - $t0, 2))")
  feast=$(BENCH_KEYS="$keys" "$py" scripts/bench_feast_redis.py "$work/tx.parquet" "$work" "$rport" 1 "${end/ /T}" 2>"$work/feast.err" | tail -n 1) \
    || { tail -20 "$work/feast.err" >&2; exit 1; }
  feast_s=$(python3 -c "import json, sys; print(json.loads(sys.argv[1])['materialize_s'])" "$feast")
  echo "  materialize into Redis: mlp $mlp_s s, Feast $feast_s s ($(python3 -c "print(round($feast_s / $mlp_s, 1))")x); keys: mlp db0 $(redis-cli -p "$rport" -n 0 dbsize), Feast db1 $(redis-cli -p "$rport" -n 1 dbsize)"
  serve_p99 "$near" "HTTP lookups, near cache:"
  serve_p99 "$cold" "HTTP lookups, no near cache:"
  echo "  Feast get_online_features in-process (Redis): $feast"
done
