#!/usr/bin/env bash
# Benchmark of the web UI's server-side render time on a generated project of FILES files and
# FEATURES features (default 500 and 20,000: 500 views, 50 models, deployments and
# consumers), applied, served by `mlpc ui`. Each page is requested RUNS times after 5 warm-up
# requests; the render time is the server's own (`Server-Timing: render;dur=MS`, from the
# request reaching the UI to the page rendered). Prints p50, p99 and max per page.
# Usage: scripts/bench-ui.sh [FILES] [FEATURES] [RUNS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
files="${1:-500}" features="${2:-20000}" runs="${3:-200}"
cd "$MLP_ROOT"
cargo build --release --locked -q --bin mlpc -p mlpc
cargo build --release --locked -q --bin mlp-gen -p mlp-tests
cargo build --release --locked -q --bin mlp-sql -p mlp-features
dir="$(mktemp -d)"
ui_pid=""
trap '[ -n "$ui_pid" ] && kill "$ui_pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$CARGO_TARGET_DIR/release/mlp-gen" "$dir/project" "$files" "$features" >/dev/null
# Apply reads each source's schema: a small Parquet file per generated source.
mkdir -p "$dir/project/data"
for k in $(seq 0 $((files - 1))); do
  echo "COPY (SELECT i::BIGINT AS user_id, i * 1.5 AS amount, 'DE' AS country, TIMESTAMP '2026-01-01' + to_hours(i) AS event_ts FROM range(10) t(i)) TO '$dir/project/data/src_$k.parquet' (FORMAT parquet);"
done >"$dir/data.sql"
LD_LIBRARY_PATH="$DUCKDB_LIB_DIR" "$CARGO_TARGET_DIR/release/mlp-sql" "$dir/data.sql"
mlpc="$CARGO_TARGET_DIR/release/mlpc"
"$mlpc" apply "$dir/project" --auto-approve >/dev/null
"$mlpc" ui "$dir/project" --bind 127.0.0.1:0 2>"$dir/ui.log" &
ui_pid=$!
base=""
for _ in $(seq 200); do
  base="$(grep -o 'http://[0-9.:]*' "$dir/ui.log" | head -1 || true)"
  [ -n "$base" ] && break
  sleep 0.05 # waiting for the server to say where it listens
done
[ -n "$base" ] || { echo "mlpc ui did not start" >&2; cat "$dir/ui.log" >&2; exit 1; }

last=$((files - 1))
pages=(
  "/ui"
  "/ui/r/features.view_0"
  "/ui/r/features.view_${last}"
  "/ui/r/feature.view_0.f0_2"
  "/ui/lineage/feature.view_0.f0_2"
  "/ui/lineage/features.view_0"
  "/ui/r/model.model_0"
  "/ui/r/deployment.serve_0"
  "/ui/r/source.src_0"
  "/ui/models"
  "/ui/runs"
  "/ui/search?q=view_1"
  "/ui/r/nope"
)
echo "mlpc ui: $files files, $features features, $(nproc) cores, $runs requests per page"
printf '%-36s %9s %9s %9s\n' page p50_ms p99_ms max_ms
worst=0
for page in "${pages[@]}"; do
  for _ in 1 2 3 4 5; do curl -s -o /dev/null "$base$page"; done
  durs=()
  for _ in $(seq "$runs"); do
    durs+=("$(curl -s -o /dev/null -D - "$base$page" | tr -d '\r' | sed -n 's/^[Ss]erver-[Tt]iming: render;dur=//p')")
  done
  read -r p50 p99 max < <(printf '%s\n' "${durs[@]}" | sort -g | awk '{v[NR]=$1} END {i50=int(NR*0.5+0.5); i99=int(NR*0.99+0.5); if (i50<1) i50=1; if (i99<1) i99=1; print v[i50], v[i99], v[NR]}')
  printf '%-36s %9s %9s %9s\n' "$page" "$p50" "$p99" "$max"
  worst=$(awk -v a="$worst" -v b="$p99" 'BEGIN {print (b > a) ? b : a}')
done
echo "worst p99: $worst ms (target: under 50 ms)"
