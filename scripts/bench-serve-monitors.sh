#!/usr/bin/env bash
# Does the server's monitor loop hurt serving? examples/fraud trained and served as in
# scripts/bench-serve.sh (release build, 2 HTTP workers, mlp-load on the same machine), with
# one monitor applied that evaluates every second: a psi and a drift check on
# `checkout.amount` against a baseline file, latency_p99 and error_rate, over a window of
# the prediction log (1 min unless WINDOW says otherwise). The same plan is served in alternating phases, with the loop off
# (`--no-monitors`) and on, each phase a fresh server and two points: predict at a fixed
# rate and predict in closed loop. Prints each point, the evaluations the loop made, how
# long evaluations took, and the ratio of the p99s (loop on / loop off; the median and the
# mean over the phases).
# Usage: scripts/bench-serve-monitors.sh [SECONDS] [ROUNDS] [RATE] [WINDOW]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
seconds="${1:-10}"
rounds="${2:-2}"
rate="${3:-2000}"
window="${4:-1m}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$work/"
cat >"$work/monitor.mlp" <<EOF
monitor bench_watch {
  on       = fraud_api
  every    = 1s
  window   = $window
  baseline = "data/labels.parquet"

  check psi(checkout.amount) < 0.2
  check drift(checkout.amount)
  check latency_p99 < 20ms
  check error_rate < 1%
}
EOF
mkdir -p "$work/data"
"$bin/mlp-sql" "$work/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
"$bin/mlpc" apply "$work" --auto-approve >/dev/null
"$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
"$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
port=18182
base="http://127.0.0.1:$port"
predict='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
results="$work/results.tsv"
echo "machine: $(nproc) cores (load average $(cut -d' ' -f1-3 /proc/loadavg)); $seconds s per point after a 2 s warm-up; server: mlpc serve, 2 workers; monitor window $window; $rounds rounds of (loop off, loop on)"

# phase LABEL [SERVE FLAGS...]: a fresh server, the two points, its monitor evaluations.
phase() {
  local label="$1"
  shift
  "$bin/mlpc" serve "$work" --bind "127.0.0.1:$port" --workers 2 --no-scheduler "$@" 2>>"$work/serve.log" &
  server=$!
  for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
  local before after line
  before="$(curl -s "$base/metrics" | awk '/^mlp_monitor_evaluations_total/ {print $2}')"
  for point in "$rate" closed; do
    if [ "$point" = closed ]; then
      line="$("$bin/mlp-load" --url "$base/v1/deployments/fraud_api/predict" --body "$predict" --clients 32 --seconds "$seconds")"
    else
      line="$("$bin/mlp-load" --url "$base/v1/deployments/fraud_api/predict" --body "$predict" --clients 32 --rate "$point" --seconds "$seconds")"
    fi
    printf '%-9s predict, %-6s %s\n' "$label" "$point" "$line"
    printf '%s\t%s\t%s\t%s\n' "$label" "$point" "$(jq -r .p99_ms <<<"$line")" "$(jq -r .throughput_per_s <<<"$line")" >>"$results"
  done
  after="$(curl -s "$base/metrics" | awk '/^mlp_monitor_evaluations_total/ {print $2}')"
  if [ -n "$after" ]; then
    echo "          monitor evaluations during the phase: $(( ${after%.*} - ${before:-0} ))"
  fi
  kill -TERM "$server"
  wait "$server" || true
  server=""
}

for _ in $(seq 1 "$rounds"); do
  phase "loop off" --no-monitors
  phase "loop on"
done
# How long after its window's end an evaluation was computed (1.5 s of it the wait for the log).
"$bin/mlpc" monitor history "$work" bench_watch --format json |
  jq -r '[.[] | select(.index == 0) | (.evaluated_at_us - .window_end_us) / 1000] | sort |
    "evaluations stored: \(length); window end to computed, ms: median \(.[length / 2 | floor] | floor), max \(max | floor)"'
# Per point: the median and the mean over the phases of each kind, and their ratios (a
# shared machine's stray p99 moves the mean more than the median).
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for point in dict.fromkeys(r[1] for r in rows):
    p99 = {k: [float(r[2]) for r in rows if r[0] == k and r[1] == point] for k in ("loop off", "loop on")}
    tput = {k: statistics.mean(float(r[3]) for r in rows if r[0] == k and r[1] == point) for k in p99}
    med = {k: statistics.median(v) for k, v in p99.items()}
    mean = {k: statistics.mean(v) for k, v in p99.items()}
    print(f"predict {point:<6} p99 ms, loop off {p99['loop off']}, loop on {p99['loop on']}")
    print(f"  median: off {med['loop off']:.3f}, on {med['loop on']:.3f}, ratio {med['loop on'] / med['loop off']:.3f}; "
          f"mean: off {mean['loop off']:.3f}, on {mean['loop on']:.3f}, ratio {mean['loop on'] / mean['loop off']:.3f}; "
          f"throughput off {tput['loop off']:.0f}/s, on {tput['loop on']:.0f}/s")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
