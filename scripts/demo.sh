#!/usr/bin/env bash
# Sets everything up and runs the end-to-end demo on examples/fraud with the embedded
# defaults: generates the seeded data, checks the project, prints its resource graph, plans
# and applies it, shows a feature's lineage, materializes the online store, builds a
# point-in-time training set, looks features up online, checks for skew, runs the training
# pipeline (PyTorch from the venv, registration, gate) and shows the registered model. Later
# components (serving, monitoring) extend it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
cargo build --release -p mlpc -p mlp-features
MLPC="$CARGO_TARGET_DIR/release/mlpc"
echo "==> mlp-sql examples/fraud/generate.sql (seeded demo data)"
"$CARGO_TARGET_DIR/release/mlp-sql" examples/fraud/generate.sql
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
echo "==> mlpc materialize examples/fraud --until '2026-03-31 00:00:00'"
rm -f examples/fraud/.mlp/online.duckdb # the demo starts from scratch each time
"$MLPC" materialize examples/fraud --until "2026-03-31 00:00:00"
echo "==> mlpc features historical (a point-in-time training set)"
"$MLPC" features historical examples/fraud --entities examples/fraud/data/labels.parquet \
  --features user_stats.txn_count_7d,user_stats.avg_amount_7d,merchant_profile.risk_score,checkout_derived.amount_vs_avg,checkout_derived.foreign \
  --out examples/fraud/data/training_set.parquet
echo "==> mlpc features online --entity user_id=42,merchant_id=7"
"$MLPC" features online examples/fraud --entity user_id=42,merchant_id=7 --features user_stats.avg_amount_7d,user_stats.txn_count_7d
echo "==> mlpc features verify examples/fraud user_stats"
"$MLPC" features verify examples/fraud user_stats
echo "==> mlpc run examples/fraud train_fraud (training sets, PyTorch training, registration, gate, refresh)"
"$MLPC" run examples/fraud train_fraud
echo "==> mlpc run examples/fraud train_fraud (again: everything comes from the cache)"
"$MLPC" run examples/fraud train_fraud --quiet
echo "==> mlpc registry show examples/fraud fraud_scorer@staging"
"$MLPC" registry show examples/fraud fraud_scorer@staging
echo "==> mlpc runs examples/fraud"
"$MLPC" runs examples/fraud --limit 5
