#!/usr/bin/env bash
# Start-up cost of the commands that run no model: wall time (median of RUNS) and peak
# resident memory of `mlpc --version`, `mlpc check` and `mlpc plan` on examples/fraud, in one
# run against the baseline of what every mlpc command paid before issue 11: libtorch with
# its CUDA backend loaded at start (`mlp-serve --version` with libtorch_cuda preloaded, as
# the old binary's `--no-as-needed` link loaded it). Also `mlp-serve --version` as it starts
# now (libtorch without CUDA until a deployment asks for it).
# Usage: scripts/bench-startup.sh [RUNS]   (release build; needs /usr/bin/time)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
runs="${1:-30}"
if ! command -v bc >/dev/null || [ ! -x /usr/bin/time ]; then
  echo "error: needs bc and /usr/bin/time (apt-get install bc time)" >&2
  exit 1
fi
cargo build --release --locked -q -p mlpc
bin="$CARGO_TARGET_DIR/release"
mkdir -p examples/fraud/data
# Median wall ms of a command over $runs runs (run directly: /usr/bin/time's own start-up
# would count), then its peak resident KB over 5 runs under /usr/bin/time.
measure() {
  local times=() peak=0
  for _ in $(seq 1 "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(((end - start) / 1000)))
  done
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f %M -o /tmp/mlp-bench-rss "$@" >/dev/null 2>&1 || true
    local kb
    kb=$(tail -n1 /tmp/mlp-bench-rss)
    [ "$kb" -gt "$peak" ] && peak=$kb
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%.1f %d' "$(echo "$median / 1000" | bc -l)" "$((peak / 1024))"
}
echo "machine: $(nproc) cores, $(uname -m); $(date -u +%Y-%m-%d); $runs runs each"
printf '| command | median ms | peak MiB |\n|---|---|---|\n'
torch_lib="$("$MLP_VENV/bin/python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
read -r ms mb <<<"$(measure env LD_PRELOAD="$torch_lib/libtorch_cuda.so" "$bin/mlp-serve" --version)"
echo "| baseline: libtorch and its CUDA backend loaded at start, as every mlpc command did | $ms | $mb |"
base_ms=$ms base_mb=$mb
read -r ms mb <<<"$(measure "$bin/mlp-serve" --version)"
echo "| \`mlp-serve --version\` (libtorch, no CUDA until a deployment asks) | $ms | $mb |"
for cmd in "--version" "check examples/fraud" "plan examples/fraud"; do
  # shellcheck disable=SC2086
  read -r ms mb <<<"$(measure "$bin/mlpc" $cmd)"
  ratio=$(echo "$base_ms / $ms" | bc -l)
  printf '| `mlpc %s` | %s | %s (%.1fx faster, %.1fx less memory than the baseline) |\n' \
    "$cmd" "$ms" "$mb" "$ratio" "$(echo "$base_mb / $mb" | bc -l)"
done
