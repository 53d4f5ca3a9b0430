#!/usr/bin/env bash
# Runs every test of the workspace on a fresh or warm machine: prepares the venv and
# libduckdb when missing (scripts/bootstrap.sh), builds, and runs `cargo test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
# No incremental caches for a whole-workspace run: they are for edit-compile loops, and over
# many runs they grew the shared target directory by gigabytes.
export CARGO_INCREMENTAL=0
cargo test --workspace --locked "$@"
