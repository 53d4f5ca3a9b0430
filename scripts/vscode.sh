#!/usr/bin/env bash
# Builds and tests the VS Code extension (editors/vscode): installs its npm dependencies
# exactly as package-lock.json pins them (`npm ci`), runs its tests (type check of the
# JavaScript, the grammar's scope assertions and snapshots, the sanity and vocabulary checks
# against the examples and the compiler's sources, the unit tests, and the smoke test against
# a real `mlpc lsp` when one is built), and packages the extension with vsce.
#
#   scripts/vscode.sh [OUT.vsix]
#
# The .vsix goes to OUT.vsix, by default editors/vscode/mlp-VERSION.vsix (ignored by git),
# and its path and size are printed last. Needs Node 20 or later and npm; no Rust build:
# the smoke test uses $MLPC, or else the mlpc of $CARGO_TARGET_DIR (release, then debug) when
# there is one, and is skipped when there is none. Exits non-zero when any step fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
caller="$PWD"
EXT="$MLP_ROOT/editors/vscode"
cd "$EXT"

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if ((node_major < 20)); then
  echo "error: the extension needs Node 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

version="$(node -p 'require("./package.json").version')"
out="${1:-$EXT/mlp-$version.vsix}"
case "$out" in /*) ;; *) out="$caller/$out" ;; esac
mkdir -p "$(dirname "$out")"

echo "==> npm ci (editors/vscode)"
npm ci --no-audit --no-fund --loglevel=error

# The smoke test's server: $MLPC if set, else the workspace's own build if there is one.
if [[ -z "${MLPC:-}" ]]; then
  for candidate in "$CARGO_TARGET_DIR/release/mlpc" "$CARGO_TARGET_DIR/debug/mlpc"; do
    if [[ -x "$candidate" ]]; then
      export MLPC="$candidate"
      break
    fi
  done
fi
if [[ -n "${MLPC:-}" && -z "${MLPC_LIBRARY_PATH:-}" && -d "$DUCKDB_LIB_DIR" ]]; then
  export MLPC_LIBRARY_PATH="$DUCKDB_LIB_DIR" # mlpc links libduckdb.so from .deps/
fi
echo "==> npm test (language server smoke test: ${MLPC:-skipped, no mlpc built})"
npm test --silent

echo "==> vsce package"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! npx --no-install vsce package --out "$out" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
grep -E '^ *(WARNING|ERROR)' "$log" | grep -v 'you should bundle your extension' || true
echo "$out ($(du -k "$out" | cut -f1) KiB, $(wc -c <"$out") bytes)"
