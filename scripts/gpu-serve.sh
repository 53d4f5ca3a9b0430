#!/usr/bin/env bash
# Serving on a CUDA machine (issue 6, must-show 5), in two halves.
#
#   scripts/gpu-serve.sh prepare        on the 2-core build machine
#   scripts/gpu-serve.sh run [SECONDS]  on the GPU machine, from the repository root
#
# `prepare` builds the release binaries here, strips and gzips them with libduckdb into
# .gpu/ (ignored by git; about 35 MB, under the device tool's 64 MiB), and packs a trained
# copy of examples/fraud: data, state, registry with fraud_scorer@production, materialized
# online store, plus `fraud_gpu`, a deployment pinned to CUDA with dynamic batching.
#
# `run` unpacks them, points the dynamic loader at that machine's own torch 2.11 (its lib
# folder holds libtorch and libtorch_cuda; DESIGN.md, "Linking for CUDA"), starts
# `mlpc serve`, checks that the deployments loaded on CUDA, and drives them with mlp-load
# from the same machine: closed loop at several client counts, then fixed rates. It prints
# throughput and p50/p99 per point and writes them, with the GPU's name, under $OUT (or
# .gpu/out). With the device tool:
#   run(command="bash scripts/gpu-serve.sh run 10", carry=[".gpu"], timeout_s=420)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gpu="$here/.gpu"
mode="${1:-}"

prepare() {
  source "$here/scripts/env.sh"
  cd "$MLP_ROOT"
  bash scripts/bootstrap.sh >/dev/null
  cargo build --release --locked -q -p mlpc -p mlp-serving -p mlp-loadgen -p mlp-features
  local bin="$CARGO_TARGET_DIR/release"
  rm -rf "$gpu" && mkdir -p "$gpu"
  for b in mlpc mlp-serve mlp-load; do
    strip -o "$gpu/$b" "$bin/$b"
    gzip -9 "$gpu/$b"
  done
  gzip -9 -c "$DUCKDB_LIB_DIR/libduckdb.so" >"$gpu/libduckdb.so.gz"
  local work
  work="$(mktemp -d)"
  cp examples/fraud/*.mlp examples/fraud/train.py examples/fraud/generate.sql "$work/"
  cat >"$work/gpu.mlp" <<'MLP'
/// The fraud model pinned to CUDA, batching up to 512 rows or 2 ms.
deployment fraud_gpu {
  model  = fraud_scorer@production
  device = cuda

  batching {
    max_batch = 512
    max_delay = 2ms
  }
}
MLP
  mkdir -p "$work/data"
  "$bin/mlp-sql" "$work/generate.sql" --as-of 2026-04-01 2>/dev/null # the data of earlier runs
  "$bin/mlpc" apply "$work" --auto-approve >/dev/null
  "$bin/mlpc" run "$work" train_fraud --quiet >/dev/null
  "$bin/mlpc" registry alias "$work" fraud_scorer staging production >/dev/null
  tar -C "$work" -czf "$gpu/project.tar.gz" .
  rm -rf "$work"
  du -sh "$gpu"/*
  echo "prepared $gpu: carry it with the device tool (carry=[\".gpu\"])"
}

run() {
  local seconds="${1:-10}"
  # DEPLOYMENT=fraud_api runs the same script on a machine without CUDA (a dry run).
  local deployment="${DEPLOYMENT:-fraud_gpu}"
  local out="${OUT:-$gpu/out}"
  mkdir -p "$out"
  local bin
  bin="$(mktemp -d)"
  for b in mlpc mlp-serve mlp-load; do
    gunzip -c "$gpu/$b.gz" >"$bin/$b"
    chmod +x "$bin/$b"
  done
  gunzip -c "$gpu/libduckdb.so.gz" >"$bin/libduckdb.so"
  local py="${PYTHON:-python3}"
  local torchlib
  torchlib="$("$py" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
  export LD_LIBRARY_PATH="$torchlib:$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local work
  work="$(mktemp -d)"
  tar -C "$work" -xzf "$gpu/project.tar.gz"
  local report="$out/gpu-serve.txt"
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo none)"
    echo "cpu: $(nproc) cores"
    echo "torch: $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())')"
  } | tee "$report"
  local port=18191
  "$bin/mlpc" serve "$work" --bind "127.0.0.1:$port" --workers 8 --no-scheduler 2>"$out/serve.log" &
  local server=$!
  trap 'kill -TERM '"$server"' 2>/dev/null; wait 2>/dev/null' EXIT
  local ready=""
  for _ in $(seq 1 600); do
    # 503 while some deployment cannot serve (fraud_deep has no version): still an answer.
    ready="$(curl -s "http://127.0.0.1:$port/readyz" || true)"
    [ -n "$ready" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "readyz: $ready" | tee -a "$report"
  if ! printf '%s' "$ready" | grep -q "\"$deployment\":{[^}]*\"ready\":true"; then
    echo "$deployment did not load; the server said:" | tee -a "$report"
    tail -20 "$out/serve.log" | tee -a "$report"
    exit 1
  fi
  local body='{"entities": {"user_id": 42}, "request": {"amount": 250.0, "country": "DE", "merchant_id": 7}}'
  local batch='{"entities": {"user_id": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]}, "request": {"amount": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32], "country": ["DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE","DE"], "merchant_id": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}}'
  local url="http://127.0.0.1:$port/v1/deployments/$deployment/predict"
  point() {
    local label="$1"
    shift
    printf '%-44s %s\n' "$label" "$("$bin/mlp-load" "$@" --seconds "$seconds")" | tee -a "$report"
  }
  echo "--- $deployment, $seconds s per point" | tee -a "$report"
  for clients in 32 128 256; do
    point "1 row/request, closed loop, $clients clients" --url "$url" --body "$body" --clients "$clients"
  done
  for rate in 10000 20000 40000; do
    point "1 row/request, $rate/s, 128 clients" --url "$url" --body "$body" --clients 128 --rate "$rate"
  done
  point "32 rows/request, closed loop, 64 clients" --url "$url" --body "$batch" --clients 64
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^mlp_(prediction_log|requests_total)' | tee -a "$report" || true
  echo "report: $report"
}

case "$mode" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-serve.sh prepare | run [SECONDS]" >&2; exit 2 ;;
esac
