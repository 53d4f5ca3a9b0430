#!/usr/bin/env bash
# Runs every test of the workspace on a fresh or warm machine: prepares the venv and
# libduckdb when missing (scripts/bootstrap.sh), builds, and runs `cargo test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
cargo test --workspace --locked "$@"
