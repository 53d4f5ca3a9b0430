#!/usr/bin/env bash
# Benchmark of `mlpc plan` and `mlpc apply` on a generated project of FILES files and
# FEATURES features (default 500 and 20,000): plan against an empty state, the first apply,
# plan with no change, and plan after one feature's window changed (a breaking change that
# reaches a model, a deployment, a monitor and a consumer). Each plan is timed RUNS times.
# Usage: scripts/bench-plan.sh [FILES] [FEATURES] [RUNS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
files="${1:-500}" features="${2:-20000}" runs="${3:-5}"
cd "$MLP_ROOT"
cargo build --release --locked -q --bin mlpc -p mlpc
cargo build --release --locked -q --bin mlp-gen -p mlp-tests
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$CARGO_TARGET_DIR/release/mlp-gen" "$dir/project" "$files" "$features" >/dev/null
mlpc="$CARGO_TARGET_DIR/release/mlpc"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# time_plan LABEL: runs `mlpc plan` $runs times and prints min/median/max.
time_plan() {
  local times=() start sorted
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$mlpc" plan "$dir/project" >/dev/null
    times+=("$(ms "$start")")
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  echo "mlpc plan, $1: runs=$runs min=${sorted[0]} ms median=${sorted[$((runs / 2))]} ms max=${sorted[$((runs - 1))]} ms"
}

echo "project: $files files, $features features, $(nproc) cores"
time_plan "empty state (everything to add)"
start=$(date +%s%N)
"$mlpc" apply "$dir/project" --auto-approve >/dev/null
echo "mlpc apply, first apply: $(ms "$start") ms"
time_plan "no change"
sed -i 's/f0_2: float = avg(amount) over 1d/f0_2: float = avg(amount) over 2d/' "$dir/project/gen_0000.mlp"
"$mlpc" plan "$dir/project" | grep -E "^Plan:"
time_plan "one feature's window changed"
