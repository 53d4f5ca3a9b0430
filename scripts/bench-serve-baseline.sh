#!/usr/bin/env bash
# `mlpc serve` against a Python baseline (FastAPI + uvicorn, 2 workers, torch.jit.load of
# the same model; uvloop and httptools, its fastest setup; scripts/serve_baseline.py) on this machine, side by side in one run:
# open-loop rate sweeps with 32 clients (mlp-load), and the highest rate each holds with a
# p99 <= 20 ms and no errors. mlp is measured twice: the full predict path (features
# fetched, shadow, log) and the Open Inference Protocol path (raw inputs, like the baseline).
# Usage: scripts/bench-serve-baseline.sh [SECONDS_PER_POINT]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
seconds="${1:-5}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
"$MLP_VENV/bin/python" -c "import fastapi, uvicorn, uvloop, httptools" 2>/dev/null || "$MLP_VENV/bin/pip" install -q fastapi "uvicorn[standard]"
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$work/"
mkdir -p "$work/data"
"$bin/mlp-sql" "$work/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
"$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
"$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
model="$("$bin/mlpc" registry show "$work" fraud_scorer@production --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["artifact"])')"
"$bin/mlpc" serve "$work" --bind 127.0.0.1:18181 --workers 2 --no-scheduler 2>/dev/null &
pids+=($!)
(cd scripts && MODEL="$work/$model" OMP_NUM_THREADS=1 exec "$MLP_VENV/bin/uvicorn" serve_baseline:app --workers 2 --port 18282 --log-level warning) &
pids+=($!)
for url in http://127.0.0.1:18181/healthz http://127.0.0.1:18282/docs; do
  for _ in $(seq 1 200); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done
predict='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
infer='{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [3, 52.5, 4.76, 1]}]}'
baseline='{"inputs": [3, 52.5, 4.76, 1]}'
echo "machine: $(nproc) cores; open loop, 32 clients, $seconds s per point after a 2 s warm-up"
sweep() {
  local name="$1" url="$2" body="$3" best=0
  for rate in 250 500 1000 2000 3000 4000 6000 8000 12000 16000; do
    out="$("$bin/mlp-load" --url "$url" --body "$body" --clients 32 --rate "$rate" --seconds "$seconds")"
    echo "$name $rate/s: $out"
    p99="$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["p99_ms"] if d["errors"] == 0 and d["throughput_per_s"] >= 0.97 * d["rate"] else 1e9)')"
    if python3 -c "import sys; sys.exit(0 if float('$p99') <= 20 else 1)"; then best=$rate; else break; fi
  done
  echo "$name: highest rate with p99 <= 20 ms: $best/s"
  echo "$best" > "$work/best.$name"
}
sweep baseline http://127.0.0.1:18282/predict "$baseline"
sweep mlp-infer http://127.0.0.1:18181/v2/models/fraud_api/infer "$infer"
sweep mlp-predict http://127.0.0.1:18181/v1/deployments/fraud_api/predict "$predict"
# The same three with wrk, a cheaper load generator, in closed loop: the most throughput at
# p99 <= 20 ms over connection counts.
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || true
if command -v wrk >/dev/null; then
  wsweep() {
    local name="$1" url="$2" body="$3" best=0
    for conns in 8 16 32 64 128 256; do
      out="$(bash scripts/wrk-point.sh "$url" "$body" "$conns" "$seconds")"
      echo "$name wrk $conns connections: $out"
      best="$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); b=int(sys.argv[1]); ok=d["non_2xx"]==0 and d["socket_errors"]=="" and d["p99_ms"]<=20; print(max(b, int(d["throughput_per_s"])) if ok else b)' "$best")"
    done
    echo "$name wrk: most throughput with p99 <= 20 ms: $best/s"
    echo "$best" > "$work/wbest.$name"
  }
  wsweep baseline http://127.0.0.1:18282/predict "$baseline"
  wsweep mlp-infer http://127.0.0.1:18181/v2/models/fraud_api/infer "$infer"
  wsweep mlp-predict http://127.0.0.1:18181/v1/deployments/fraud_api/predict "$predict"
  python3 -c "b,i,p=$(cat "$work/wbest.baseline"),$(cat "$work/wbest.mlp-infer"),$(cat "$work/wbest.mlp-predict"); b=max(b,1); print(f'wrk ratio at p99 <= 20 ms: mlp infer {i/b:.1f}x, mlp predict (with features) {p/b:.1f}x the baseline ({b}/s)')"
fi
b=$(cat "$work/best.baseline"); i=$(cat "$work/best.mlp-infer"); p=$(cat "$work/best.mlp-predict")
python3 -c "b,i,p=$b,$i,$p; b=max(b,1); print(f'ratio at p99 <= 20 ms: mlp infer {i/b:.1f}x, mlp predict (with features) {p/b:.1f}x the baseline ({b}/s)')"
