# shellcheck shell=bash
# Sourced by the other scripts: the paths every build and run of mlp agrees on.
# The cargo target directory lives outside the clone so that a fresh clone (CI) reuses
# the Rust build; libtorch comes from the project-local venv; libduckdb from .deps/.
MLP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MLP_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mlp/target}"
export MLP_VENV="${MLP_VENV:-$MLP_ROOT/.venv}"
export LIBTORCH_USE_PYTORCH=1
export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$MLP_ROOT/.deps/duckdb}"
export DUCKDB_INCLUDE_DIR="${DUCKDB_INCLUDE_DIR:-$DUCKDB_LIB_DIR}"
export PATH="$MLP_VENV/bin:$PATH"
