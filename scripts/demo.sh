#!/usr/bin/env bash
# Sets everything up and runs the end-to-end demo on examples/fraud with the embedded
# defaults. For now the demo checks the project, prints its resource graph, plans and
# applies it and shows a feature's lineage; later components (training, serving,
# monitoring) extend it.
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
echo "==> mlpc plan examples/fraud (state in examples/fraud/.mlp/, ignored by git)"
"$MLPC" plan examples/fraud
echo "==> mlpc apply examples/fraud --auto-approve"
"$MLPC" apply examples/fraud --auto-approve
echo "==> mlpc lineage user_stats.avg_amount_7d --downstream"
"$MLPC" lineage user_stats.avg_amount_7d --downstream --dir examples/fraud
