#!/usr/bin/env bash
# Prepares everything a build of mlp needs, idempotently: the project-local Python venv with
# torch==2.11.0 and pyarrow (libtorch for `tch`, and the Python that training steps run) and the official
# prebuilt libduckdb 1.5.6 (from the npm package that ships it), so that nothing is compiled
# from source that need not be. Safe to run again: it only does what is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"

TORCH_VERSION=2.11.0
# What the venv holds (torch==$TORCH_VERSION, numpy, pyarrow): also the requirements of the
# projects `mlpc init` makes.
REQUIREMENTS="$MLP_ROOT/examples/fraud/requirements.txt"
DUCKDB_NPM="@duckdb/node-bindings-linux-x64@1.5.6-r.1"

quiet() { if [ -n "${CI:-}" ]; then "$@" >/dev/null; else "$@"; fi; }

if ! "$MLP_VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "==> creating $MLP_VENV with torch==$TORCH_VERSION (one time, a few minutes)"
  python3 -m venv "$MLP_VENV"
  # torch's Linux wheels pull in the CUDA libraries (about 5 GB installed): check the disk
  # first so that a full one says so plainly, and keep no second copy in pip's cache.
  need_kb=$((6 * 1024 * 1024))
  free_kb="$(df -Pk "$(dirname "$MLP_VENV")" | awk 'NR==2 {print $4}')"
  if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
    echo "error: $((free_kb / 1024)) MiB free next to $MLP_VENV; torch==$TORCH_VERSION needs about 6 GiB" >&2
    exit 1
  fi
  quiet "$MLP_VENV/bin/pip" install --disable-pip-version-check --no-cache-dir -q -r "$REQUIREMENTS"
fi
# The example's training step reads its Parquet training set with pyarrow.
if ! "$MLP_VENV/bin/python" -c "import pyarrow, numpy" 2>/dev/null; then
  echo "==> adding pyarrow and numpy to $MLP_VENV (training steps read Parquet)"
  quiet "$MLP_VENV/bin/pip" install --disable-pip-version-check --no-cache-dir -q -r "$REQUIREMENTS"
fi
# The venv holds what $REQUIREMENTS lists, so it is the venv mlp would build for a step with
# `python = requirements(...)` of that file (projects made by `mlpc init`): register it in
# mlp's venv cache under that file's key (sha256 of the file, a newline and `python3
# --version`, as runtime/pipelines/src/pyenv.rs computes it), with the marker of a complete
# venv, instead of a second 5 GB copy of torch.
venv_cache="${MLP_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlp/venvs}"
venv_key="$({ cat "$REQUIREMENTS"; printf '\n%s' "$("${MLP_PYTHON:-python3}" --version 2>&1)"; } | sha256sum | cut -c1-16)"
mkdir -p "$venv_cache"
if [ -L "$venv_cache/$venv_key" ] || [ ! -e "$venv_cache/$venv_key/.mlp-ready" ]; then
  rm -rf "$venv_cache/$venv_key" # a link (not what it points at), or an unfinished build
  ln -s "$(cd "$MLP_VENV" && pwd -P)" "$venv_cache/$venv_key"
fi
echo "requirements.txt" > "$MLP_VENV/.mlp-ready"

if [ ! -f "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "==> fetching prebuilt libduckdb ($DUCKDB_NPM)"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$DUCKDB_NPM" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$DUCKDB_LIB_DIR"
    find "$tmp/package" -name 'libduckdb.so' -exec cp {} "$DUCKDB_LIB_DIR/" \;
    find "$tmp/package" -name 'duckdb*.h' -exec cp {} "$DUCKDB_LIB_DIR/" \; || true
    rm -rf "$tmp"
  else
    echo "==> npm not found: DuckDB will be compiled from source (cargo feature 'bundled')" >&2
  fi
fi
