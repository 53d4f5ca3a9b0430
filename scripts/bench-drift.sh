#!/usr/bin/env bash
# `mlpc drift` against Evidently 0.7.23's DataDriftPreset in one run on the same files: a
# seeded prediction log (10 numeric columns of varied shapes with NaN and ±inf, 3
# categorical, a score and a label; scripts/bench_drift.py gen) split in halves, reference =
# first half. Both timings include reading the Parquet files (mlpc: process start to exit;
# Evidently: pandas.read_parquet of both files and Report.run). Then mlpc alone on a larger
# log, with its peak RSS. Evidently comes from the throwaway venv of scripts/anchors-venv.sh.
# Usage: scripts/bench-drift.sh [ROWS_COMPARED] [ROWS_LARGE]   (default 1000000 10000000;
#        ROWS_LARGE 0 skips the large run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
rows="${1:-1000000}" large="${2:-10000000}"
cd "$MLP_ROOT"
cargo build --release --locked -q -p mlpc --bin mlpc
mlpc="$CARGO_TARGET_DIR/release/mlpc"
py="$(bash scripts/anchors-venv.sh)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# run_mlpc DIR: one `mlpc drift` on DIR's halves, JSON to DIR/mlpc.json; sets $seconds and
# $rss_mb (peak resident set, from /usr/bin/time when present, else from getrusage of the
# children in Python). Exit 0 and 3 (dataset drift) are both results.
run_mlpc() {
  local dir="$1" code=0
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$mlpc" drift --reference "$dir/reference.parquet" \
      --current "$dir/current.parquet" --format json > "$dir/mlpc.json" || code=$?
    read -r seconds rss_kb < "$dir/time.txt"
  else
    read -r seconds rss_kb code < <("$py" -c '
import resource, subprocess, sys, time
t = time.perf_counter()
with open(sys.argv[2] + "/mlpc.json", "w") as out:
    code = subprocess.run([sys.argv[1], "drift", "--reference", sys.argv[2] + "/reference.parquet",
                           "--current", sys.argv[2] + "/current.parquet", "--format", "json"], stdout=out).returncode
print(f"{time.perf_counter() - t:.2f}", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)' "$mlpc" "$dir")
  fi
  if [ "$code" != 0 ] && [ "$code" != 3 ]; then
    echo "mlpc drift failed (exit $code)" >&2
    exit 1
  fi
  rss_mb=$((rss_kb / 1024))
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
mkdir -p "$work/compared"
"$py" scripts/bench_drift.py gen "$rows" "$work/compared"
echo "data: $rows rows, reference $((rows / 2)) and current $((rows - rows / 2)), 15 columns"
run_mlpc "$work/compared" # warm-up: the page cache, as Evidently's read finds it
times=()
for _ in 1 2 3; do
  run_mlpc "$work/compared"
  times+=("$seconds")
done
mlp_s="$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)"
echo "mlpc drift: runs=3 median=${mlp_s} s (${times[*]}), peak RSS ${rss_mb} MB"
"$py" scripts/bench_drift.py evidently "$work/compared/reference.parquet" \
  "$work/compared/current.parquet" > "$work/evidently.json" 2> "$work/evidently.log" || {
  cat "$work/evidently.log" >&2
  exit 1
}
evid_s="$("$py" -c 'import json, sys; print("%.2f" % json.load(open(sys.argv[1]))["seconds"])' "$work/evidently.json")"
echo "Evidently DataDriftPreset: ${evid_s} s"
echo "mlpc vs Evidently: $(awk "BEGIN { printf \"%.1f\", $evid_s / $mlp_s }")x"
"$py" scripts/bench_drift.py compare "$work/compared/mlpc.json" "$work/evidently.json"

if [ "$large" != 0 ]; then
  rm -rf "$work/compared"
  mkdir -p "$work/large"
  "$py" scripts/bench_drift.py gen "$large" "$work/large"
  run_mlpc "$work/large" # warm-up
  run_mlpc "$work/large"
  echo "mlpc drift at $large rows: ${seconds} s, peak RSS ${rss_mb} MB"
fi
