#!/usr/bin/env bash
# Runs every test of the workspace on a fresh or warm machine: prepares the venv and
# libduckdb when missing (scripts/bootstrap.sh), builds, and runs `cargo test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
# runtime/cli/tests/neovim.rs drives Debian's Neovim against `mlpc lsp`: install it when
# missing (as root, or through sudo). MLP_SKIP_NEOVIM=1 skips that test instead.
if [ "${MLP_SKIP_NEOVIM:-}" != 1 ] && ! command -v nvim >/dev/null; then
  as_root() { if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
  echo "==> installing Debian's neovim (for runtime/cli/tests/neovim.rs)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
fi
# No incremental caches for a whole-workspace run: they are for edit-compile loops, and over
# many runs they grew the shared target directory by gigabytes.
export CARGO_INCREMENTAL=0
cargo test --workspace --locked "$@"
