#!/usr/bin/env bash
# Runs every test of the workspace on a fresh or warm machine: prepares the venv and
# libduckdb when missing (scripts/bootstrap.sh), builds, and runs `cargo test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
PYSPARK_VERSION=4.3.0
# Real programs that tests drive, installed when missing (as root, or through sudo):
# runtime/cli/tests/neovim.rs runs Debian's Neovim against `mlpc lsp` (MLP_SKIP_NEOVIM=1
# skips it); runtime/cli/tests/ui_browser.rs drives Debian's Chromium through chromedriver
# (MLP_SKIP_BROWSER=1 skips it); the Redis tests start Debian's redis-server on a loopback
# port (MLP_SKIP_REDIS=1 skips them); runtime/features/tests/spark_*.rs and
# runtime/cli/tests/spark_offline.rs run `pyspark` from
# PyPI in the venv on Debian's OpenJDK 17 (MLP_SKIP_SPARK=1 skips them).
missing=()
if [ "${MLP_SKIP_REDIS:-}" != 1 ] && ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
if [ "${MLP_SKIP_NEOVIM:-}" != 1 ] && ! command -v nvim >/dev/null; then missing+=(neovim); fi
if [ "${MLP_SKIP_BROWSER:-}" != 1 ] && ! command -v chromedriver >/dev/null; then
  missing+=(chromium chromium-driver)
fi
if [ "${MLP_SKIP_SPARK:-}" != 1 ] && ! command -v java >/dev/null; then
  missing+=(openjdk-17-jre-headless)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  as_root() { if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
  echo "==> installing Debian's ${missing[*]} (for the tests that drive them)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ "${MLP_SKIP_SPARK:-}" != 1 ] && ! "$MLP_VENV/bin/python" -c "import pyspark" 2>/dev/null; then
  echo "==> installing pyspark==$PYSPARK_VERSION into $MLP_VENV (for the Spark tests)"
  "$MLP_VENV/bin/pip" install --disable-pip-version-check -q "pyspark==$PYSPARK_VERSION"
fi
# No incremental caches for a whole-workspace run: they are for edit-compile loops, and over
# many runs they grew the shared target directory by gigabytes.
export CARGO_INCREMENTAL=0
cargo test --workspace --locked "$@"
