#!/usr/bin/env bash
# Serving over HTTP on this machine: examples/fraud trained and served by `mlpc serve`
# (release build, 2 HTTP workers), driven by mlp-load from the same machine with a bounded
# load: 32 keep-alive clients for a fixed time, closed loop (as fast as answers come) and
# open loop at fixed rates. Two paths: online features (POST /v1/features/online, one
# cached entity, two features) and predictions (POST /v1/deployments/fraud_api/predict).
# Usage: scripts/bench-serve.sh [SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
seconds="${1:-10}"
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
"$bin/mlpc" materialize "$work" --until '2026-03-31 00:00:00' >/dev/null
"$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
"$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
port=18181
"$bin/mlpc" serve "$work" --bind "127.0.0.1:$port" --workers 2 --no-scheduler 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
features='{"features": ["user_stats.txn_count_7d", "user_stats.avg_amount_7d"], "entities": {"user_id": [42]}}'
predict='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
echo "machine: $(nproc) cores; $seconds s per point after a 2 s warm-up; server: mlpc serve, 2 workers"
run() { printf '%-34s ' "$1"; shift; "$bin/mlp-load" "$@" --seconds "$seconds"; }
run "features, closed loop, 32 clients" --url "http://127.0.0.1:$port/v1/features/online" --body "$features" --clients 32
for rate in 2000 5000 10000; do
  run "features, $rate/s, 32 clients" --url "http://127.0.0.1:$port/v1/features/online" --body "$features" --clients 32 --rate "$rate"
done
run "predict, closed loop, 32 clients" --url "http://127.0.0.1:$port/v1/deployments/fraud_api/predict" --body "$predict" --clients 32
for rate in 1000 2000 4000; do
  run "predict, $rate/s, 32 clients" --url "http://127.0.0.1:$port/v1/deployments/fraud_api/predict" --body "$predict" --clients 32 --rate "$rate"
done
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^mlp_(prediction_log|feature_cache)' || true
