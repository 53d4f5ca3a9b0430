#!/usr/bin/env bash
# Serving throughput of two builds of mlp in one run: the example's MLP (examples/fraud,
# `fraud_api`) trained once, then served in turn by the release `mlpc serve` of commit BEFORE
# (built in a git worktree) and of the working tree, each driven closed loop by mlp-load
# (32 keep-alive clients) for SECONDS, ROUNDS times, alternating, so that drift of the machine
# hits both alike. Prints each point and the medians' ratio (after / before).
# Usage: scripts/bench-serve-ab.sh BEFORE [SECONDS] [ROUNDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
before="${1:?usage: scripts/bench-serve-ab.sh BEFORE [SECONDS] [ROUNDS]}"
seconds="${2:-8}"
rounds="${3:-5}"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh >/dev/null
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null
  wait 2>/dev/null
  git worktree remove --force "$work/before-src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The two builds, BEFORE's then the working tree's, in the same target folder (the venv,
# libduckdb and the target come from this checkout's env.sh), so only the workspace's own
# crates build twice; each one's binaries are copied out. Cargo names a path crate's
# artifacts by its path within the workspace, the same in both checkouts, and may take one
# checkout's for the other's: the workspace's crates are cleaned before each build.
members="$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')"
# shellcheck disable=SC2086
clean_members() { cargo clean --release -q $members; }
git worktree add -q --detach "$work/before-src" "$before"
(cd "$work/before-src" && clean_members && cargo build --release --locked -q -p mlpc -p mlp-serving)
mkdir -p "$work/before-bin" "$work/after-bin"
cp "$CARGO_TARGET_DIR/release/mlpc" "$CARGO_TARGET_DIR/release/mlp-serve" "$work/before-bin/"
git worktree remove --force "$work/before-src"
clean_members
cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
after_bin="$CARGO_TARGET_DIR/release"
cp "$after_bin/mlpc" "$after_bin/mlp-serve" "$work/after-bin/"

proj="$work/project"
mkdir -p "$proj/data"
cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$proj/"
"$after_bin/mlp-sql" "$proj/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
"$work/after-bin/mlpc" apply "$proj" --auto-approve >/dev/null
"$work/after-bin/mlpc" materialize "$proj" --until '2026-03-31 00:00:00' >/dev/null
"$work/after-bin/mlpc" run "$proj" train_fraud --quiet >/dev/null
"$work/after-bin/mlpc" registry alias "$proj" fraud_scorer staging production >/dev/null
port=18182
predict='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
point() {
  local label="$1" bin="$2"
  "$bin/mlpc" serve "$proj" --bind "127.0.0.1:$port" --workers 2 --no-scheduler --no-monitors 2>"$work/serve.log" &
  server=$!
  local ready=""
  for _ in $(seq 1 300); do
    # Ready for this benchmark: fraud_api answers (/readyz also waits for deployments whose
    # models this project never trains).
    if curl -sf -XPOST -H 'Content-Type: application/json' -d "$predict" \
      "http://127.0.0.1:$port/v1/deployments/fraud_api/predict" >/dev/null; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "error: the $label server did not get ready; its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  printf '%-8s ' "$label"
  "$after_bin/mlp-load" --url "http://127.0.0.1:$port/v1/deployments/fraud_api/predict" \
    --body "$predict" --clients 32 --seconds "$seconds" | tee -a "$work/$label.jsonl"
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  server=""
}
echo "machine: $(nproc) cores; before: $(git rev-parse --short "$before"), after: the working tree at $(git rev-parse --short HEAD)"
echo "each point: closed loop, 32 clients, $seconds s after a 2 s warm-up; $rounds rounds, alternating"
for _ in $(seq 1 "$rounds"); do
  point before "$work/before-bin"
  point after "$work/after-bin"
done
median() { python3 -c 'import json,sys,statistics; print(statistics.median(json.loads(l)["throughput_per_s"] for l in open(sys.argv[1])))' "$1"; }
b="$(median "$work/before.jsonl")"
a="$(median "$work/after.jsonl")"
python3 -c "import sys; b, a = float(sys.argv[1]), float(sys.argv[2]); print(f'median throughput: before {b:.0f}/s, after {a:.0f}/s, after/before {a / b:.3f}')" "$b" "$a"
