#!/usr/bin/env bash
# Benchmark of `mlpc check` end to end (process start to exit) on a generated project of
# FILES files and FEATURES features (default 500 and 20,000), RUNS times; prints the figures.
# Usage: scripts/bench-check.sh [FILES] [FEATURES] [RUNS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
files="${1:-500}" features="${2:-20000}" runs="${3:-10}"
cd "$MLP_ROOT"
cargo build --release --locked -q --bin mlpc -p mlpc
cargo build --release --locked -q --bin mlp-gen -p mlp-tests
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$CARGO_TARGET_DIR/release/mlp-gen" "$dir/project" "$files" "$features" >/dev/null
mlpc="$CARGO_TARGET_DIR/release/mlpc"
# Warm the page cache; stop if the generated project does not check clean.
"$mlpc" check "$dir/project" 2>/dev/null || { echo "the generated project has errors" >&2; exit 1; }

# measure THREADS: runs mlpc check $runs times with RAYON_NUM_THREADS=THREADS (0 = all
# cores), prints min/median/max in ms and sets $median.
measure() {
  local times=() start end sorted
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    RAYON_NUM_THREADS="$1" "$mlpc" check "$dir/project" 2>/dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  median=${sorted[$((runs / 2))]}
  echo "mlpc check: $files files, $features features, threads=${1/#0/all ($(nproc) cores)}, runs=$runs" \
    "min=${sorted[0]} ms median=$median ms max=${sorted[$((runs - 1))]} ms"
}
measure 1
one=$median
measure 0
echo "speed-up of parallel parsing and hashing: $(awk "BEGIN { printf \"%.2f\", $one / $median }")x"
