#!/usr/bin/env bash
# Sets everything up and runs the end-to-end demo on examples/fraud with the embedded
# defaults. For now the demo checks the project and prints its resource graph; later
# components (plan/apply, training, serving, monitoring) extend it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
cargo build --release -p mlpc
MLPC="$CARGO_TARGET_DIR/release/mlpc"
echo "==> mlpc check examples/fraud"
"$MLPC" check examples/fraud
echo "==> mlpc graph examples/fraud --format mermaid"
"$MLPC" graph examples/fraud --format mermaid
