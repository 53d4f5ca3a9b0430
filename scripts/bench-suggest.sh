#!/usr/bin/env bash
# `mlpc suggest` on examples/fraud (release build): RUNS runs with the same inputs (the
# chosen configuration must be the same each time), each writing its suggestion into the
# spec (--write) and exporting Kubernetes YAML; then the written spec is applied and served
# by `mlpc serve`, and a bench-serve.sh-style sweep of open-loop rates (mlp-load, 32
# clients, the suggestion's own traffic) finds the highest rate at which the SLA holds, to
# compare with the capacity the last run reported.
# Usage: scripts/bench-suggest.sh [RUNS] [BUDGET] [SECONDS]   (defaults 3, 120s, 5)
# With MLP_BENCH_OUT=DIR, the runs' JSON reports and the YAML are copied there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
runs="${1:-3}"
budget="${2:-120s}"
seconds="${3:-5}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$work/"
mkdir -p "$work/data"
"$bin/mlp-sql" "$work/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
"$bin/mlpc" apply "$work" --auto-approve >/dev/null
"$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
"$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
chosen=()
for i in $(seq 1 "$runs"); do
  rc=0
  "$bin/mlpc" suggest "$work" fraud_api --budget "$budget" --format json --write \
    --k8s "$work/fraud_api.yaml" >"$work/report-$i.json" 2>"$work/suggest-$i.log" || rc=$?
  line="$(python3 - "$work/report-$i.json" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("suggestion") or {}
k = s.get("knobs", {})
c = (r.get("confirmation") or {}).get("probe", {})
print(json.dumps({
  "exit": int(sys.argv[2]), "outcome": r["outcome"], "points": len(r["points"]),
  "search_s": r["search_s"],
  "chosen": f'workers {k.get("workers")} threads {k.get("threads")} intra-op {k.get("intra_op_threads")} batch {k.get("max_batch")}/{k.get("max_delay_ms")}ms {k.get("device")}',
  "capacity_per_s": s.get("capacity_per_s"), "replicas": s.get("sizing", {}).get("replicas"),
  "cpu_m": s.get("sizing", {}).get("cpu_millicores"), "memory_mib": s.get("sizing", {}).get("memory_mib"),
  "confirmation_p99_ms": c.get("latency_ms", {}).get("p99"),
  "confirmed": (r.get("confirmation") or {}).get("holds"),
}))
PY
)"
  echo "run $i: $line"
  chosen+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["chosen"])' "$line")")
done
if [ -n "${MLP_BENCH_OUT:-}" ]; then
  mkdir -p "$MLP_BENCH_OUT"
  cp "$work"/report-*.json "$work/fraud_api.yaml" "$MLP_BENCH_OUT/"
fi
same="yes"
for c in "${chosen[@]}"; do [ "$c" = "${chosen[0]}" ] || same="no"; done
echo "same configuration in all $runs runs: $same (${chosen[0]})"
capacity="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["suggestion"]["capacity_per_s"])' "$work/report-$runs.json")"
# The written spec, applied and served as a user would.
"$bin/mlpc" check "$work" >/dev/null 2>&1 && echo "mlpc check after --write: clean"
"$bin/mlpc" fmt --check "$work" >/dev/null && echo "mlpc fmt --check after --write: clean"
"$bin/mlpc" apply "$work" --auto-approve >/dev/null
port=18191
"$bin/mlpc" serve "$work" --bind "127.0.0.1:$port" --no-scheduler 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
bodies="$work/.mlp/suggestions/fraud_api/traffic.jsonl"
url="http://127.0.0.1:$port/v1/deployments/fraud_api/predict"
# Warm-up (not counted): the online store's cache and the model, as suggest's closed-loop
# run does before its probes.
"$bin/mlp-load" --url "$url" --bodies "$bodies" --clients 32 --rate "$(python3 -c "print(round($capacity / 2))")" --seconds "$seconds" >/dev/null
best=0
first_fail=""
for f in 60 70 80 90 100 110 120 130 140; do
  rate="$(python3 -c "print(round($capacity * $f / 100))")"
  out="$("$bin/mlp-load" --url "$url" --bodies "$bodies" --clients 32 --rate "$rate" --seconds "$seconds")"
  ok="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("yes" if r["p99_ms"] <= 20 and r["errors"] <= 0.001*r["requests"] and r["throughput_per_s"] >= 0.9*r["rate"] else "no")' "$out")"
  echo "served, $rate/s: $out holds=$ok"
  if [ "$ok" = yes ]; then
    [ -n "$first_fail" ] || best="$rate"
  else
    [ -n "$first_fail" ] || first_fail="$rate"
  fi
done
# As a bisection sees it: the highest rate below the first that failed.
python3 -c "import sys; b,c=float(sys.argv[1]),float(sys.argv[2]); print(f'capacity against mlpc serve (the highest rate before the first failing one): {b:.0f}/s; reported capacity {c:.0f}/s; ratio {b/c:.2f}')" "$best" "$capacity"
