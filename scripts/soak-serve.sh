#!/usr/bin/env bash
# Soak test of `mlpc serve`, run by hand: examples/fraud served for SECONDS at RATE
# predictions/s (open loop, 32 clients; default 600 s at 6,000/s, about 70 % of the
# closed-loop capacity that scripts/bench-serve.sh measures here). It samples the server's
# resident memory every 30 s, then stops it with SIGTERM and checks that every answered
# request is in the prediction log (none lost) and that no request failed.
# Usage: scripts/soak-serve.sh [SECONDS] [RATE]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
seconds="${1:-600}" rate="${2:-6000}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$work/"
mkdir -p "$work/data"
"$bin/mlp-sql" "$work/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
"$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
"$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
port=18484
"$bin/mlpc" serve "$work" --bind "127.0.0.1:$port" --workers 2 --no-scheduler 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
echo "machine: $(nproc) cores; $seconds s at $rate/s, 32 clients; RSS of mlpc serve in KiB every 30 s:"
( for _ in $(seq 1 $(( (seconds + 2) / 30 + 1 ))); do printf '%s ' "$(rss)"; sleep 30; done; echo ) &
sampler=$!
# One row per request, as scripts/bench-serve.sh measures capacity.
body='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
"$bin/mlp-load" --url "http://127.0.0.1:$port/v1/deployments/fraud_api/predict" --body "$body" --clients 32 --rate "$rate" --seconds "$seconds"
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
echo
answered=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^mlp_requests_total\{deployment="fraud_api".*code="200"\}/ {s += $2} END {print s + 0}')
failed=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^mlp_requests_total\{deployment="fraud_api"/ && !/code="200"/ {s += $2} END {print s + 0}')
dropped=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^mlp_prediction_log_dropped_total/ {print $2}')
kill -TERM "$server"; wait "$server" || true; server=""
cat > "$work/count.sql" <<SQL
COPY (SELECT count(*) AS n FROM read_parquet('$work/.mlp/predictions/*.parquet')) TO '$work/count.csv' (HEADER false);
SQL
"$bin/mlp-sql" "$work/count.sql" 2>/dev/null
logged=$(cat "$work/count.csv")
echo "answered 200: $answered, other statuses: $failed, logged: $logged, dropped from the log queue: $dropped"
[ "$failed" = "0" ] && [ "$logged" = "$answered" ] && [ "$dropped" = "0" ] && echo "soak: no errors, no lost log record" || { echo "soak: FAILED"; exit 1; }
