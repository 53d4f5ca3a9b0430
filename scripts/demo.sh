#!/usr/bin/env bash
# Sets everything up and runs the end-to-end demo on examples/fraud with the embedded
# defaults: generates the seeded data, checks the project, prints its resource graph, plans
# and applies it, shows a feature's lineage, materializes the online store, builds a
# point-in-time training set, looks features up online, checks for skew, runs the training
# pipeline (PyTorch from the venv, registration, gate), shows the registered model, promotes
# it to production, serves it and prints a prediction, sends some traffic with labels arriving
# later, and evaluates the example's monitor (drift against the training set, AUC, latency,
# errors) with its status, and sizes the served deployment to its SLA (`mlpc suggest`: a
# short search, confirmed, with the Kubernetes YAML it would deploy).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$MLP_ROOT"
bash scripts/bootstrap.sh
cargo build --release -p mlpc -p mlp-features
MLPC="$CARGO_TARGET_DIR/release/mlpc"
echo "==> mlp-sql examples/fraud/generate.sql (seeded demo data up to now into examples/fraud/data/)"
mkdir -p examples/fraud/data # git-ignored: a fresh clone has no data folder
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
echo "==> mlpc materialize examples/fraud (up to now)"
rm -f examples/fraud/.mlp/online.duckdb # the demo starts from scratch each time
"$MLPC" materialize examples/fraud
echo "==> mlpc features historical (a point-in-time training set)"
"$MLPC" features historical examples/fraud --entities examples/fraud/data/labels.parquet \
  --features user_stats.txn_count_7d,user_stats.avg_amount_7d,merchant_profile.risk_score,checkout_derived.amount_vs_avg,checkout_derived.foreign \
  --out examples/fraud/data/training_set.parquet
echo "==> mlpc features online --entity user_id=42,merchant_id=7 (every online feature)"
online="$("$MLPC" features online examples/fraud --entity user_id=42,merchant_id=7 \
  --features user_stats.txn_count_7d,user_stats.avg_amount_7d,user_stats.max_amount_1d,user_stats.countries_30d,user_stats.last_country,merchant_profile.risk_score,merchant_profile.category)"
echo "$online"
if grep -q null <<<"$online"; then
  echo "error: an online feature is null right after materializing fresh data" >&2
  exit 1
fi
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
echo "==> mlpc registry alias examples/fraud fraud_scorer staging production"
"$MLPC" registry alias examples/fraud fraud_scorer staging production

echo "==> mlpc serve examples/fraud (the applied plan, on a free loopback port)"
serve_log="$(mktemp)"
"$MLPC" serve examples/fraud --bind 127.0.0.1:0 --no-scheduler 2>"$serve_log" &
server=$!
stop_server() { kill -TERM "$server" 2>/dev/null && wait "$server"; rm -f "$serve_log"; }
trap stop_server EXIT
base=""
for _ in $(seq 1 600); do # it says where it listens once its models are warm (at most 60 s)
  base="$(grep -o 'on http://[0-9.:]*' "$serve_log" | head -n1 | cut -c4-)" || true
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$serve_log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "error: mlpc serve did not start" >&2; cat "$serve_log" >&2; exit 1; }
# Readiness of each deployment: fraud_api serves; fraud_review and fraud_pipeline wait for a
# fraud_deep version, which this demo does not train (so /readyz as a whole answers 503).
echo "==> GET $base/readyz"
curl -sS "$base/readyz"
echo
body='{"entities": {"user_id": 42}, "request": {"amount": 480.0, "country": "US", "merchant_id": 7}}'
echo "==> POST $base/v1/deployments/fraud_api/predict"
echo "    $body"
answer="$(curl -sS -H 'content-type: application/json' -d "$body" -w '\n%{http_code}' "$base/v1/deployments/fraud_api/predict")"
code="${answer##*$'\n'}"
echo "<== HTTP $code ${answer%$'\n'*}"
[ "$code" = 200 ] || { echo "error: the prediction failed" >&2; cat "$serve_log" >&2; exit 1; }
# The same server shows the web UI (README, "The web UI"): the project, lineage, models,
# runs, this deployment's live traffic and the monitor.
ui_code="$(curl -sS -o /dev/null -w '%{http_code}' "$base/ui")"
[ "$ui_code" = 200 ] || { echo "error: the web UI answered $ui_code" >&2; cat "$serve_log" >&2; exit 1; }
echo "==> the web UI answers at $base/ui (while mlpc serve runs; mlpc ui examples/fraud shows it alone)"

# Some traffic for the monitor: 120 checkouts (seeded), and the feedback that arrives later:
# a label per answered request id (here: fraud when the amount is large).
echo "==> 120 more predictions, and their labels in examples/fraud/data/feedback.csv"
RANDOM=7
feedback=examples/fraud/data/feedback.csv
echo "request_id,is_fraud" > "$feedback"
countries=(DE FR NL US GB)
for i in $(seq 1 120); do
  user=$((RANDOM % 500 + 1)); amount=$((RANDOM % 300 + 5)).$((RANDOM % 100))
  country=${countries[$((RANDOM % 5))]}; merchant=$((RANDOM % 200 + 1))
  body="{\"entities\": {\"user_id\": $user}, \"request\": {\"amount\": $amount, \"country\": \"$country\", \"merchant_id\": $merchant}}"
  id="$(curl -sS -H 'content-type: application/json' -d "$body" "$base/v1/deployments/fraud_api/predict" | grep -o '"request_id":"[^"]*"' | cut -d'"' -f4)"
  [ -n "$id" ] || { echo "error: prediction $i failed" >&2; cat "$serve_log" >&2; exit 1; }
  if [ "${amount%.*}" -gt 250 ]; then echo "$id,true"; else echo "$id,false"; fi >> "$feedback"
done
echo "==> stopping the server (SIGTERM: requests in flight finish, the prediction log flushes)"
trap - EXIT
stop_server

# The monitor of examples/fraud/serving.mlp, once (mlpc serve runs it every hour). Exit 3
# means a check failed (the demo's random amounts are not the training set's), 4 no data;
# both are answers, only 1 (an error) stops the demo.
echo "==> mlpc monitor run examples/fraud"
set +e
"$MLPC" monitor run examples/fraud
monitor_code=$?
set -e
echo "    (exit $monitor_code: 0 all checks pass, 3 a check fails, 4 no data, 1 error)"
[ "$monitor_code" != 1 ] || { echo "error: the monitor could not be evaluated" >&2; exit 1; }
echo "==> mlpc monitor status examples/fraud"
"$MLPC" monitor status examples/fraud
echo "==> mlpc monitor report examples/fraud fraud_health --out examples/fraud/.mlp/fraud_health.html"
"$MLPC" monitor report examples/fraud fraud_health --out examples/fraud/.mlp/fraud_health.html
echo "    report: $MLP_ROOT/examples/fraud/.mlp/fraud_health.html (one self-contained file; open it in a browser)"

# The deployment sized to its SLA (latency_p99 = 20ms, throughput = 2000/s): a short search
# here (the default budget is 120 s), the winner confirmed, nothing written into the spec.
echo "==> mlpc suggest examples/fraud fraud_api --budget 30s --confirm 5s --k8s examples/fraud/.mlp/fraud_api.yaml"
set +e
"$MLPC" suggest examples/fraud fraud_api --budget 30s --confirm 5s --k8s examples/fraud/.mlp/fraud_api.yaml
suggest_code=$?
set -e
echo "    (exit $suggest_code: 0 a confirmed suggestion, 3 the SLA cannot be met, 5 not confirmed, 1 error)"
[ "$suggest_code" != 1 ] || { echo "error: no suggestion could be made" >&2; exit 1; }

cat <<NEXT

The demo is done. What to try next ($MLPC is mlpc):
  mlpc serve examples/fraud                        then POST to /v1/deployments/fraud_api/predict
  mlpc ui examples/fraud                           the web UI on http://127.0.0.1:8081/ui
  mlpc lineage checkout_derived.amount_vs_avg --dir examples/fraud
  mlpc plan examples/fraud                         after editing examples/fraud/*.mlp
  mlpc explain E0101                               what a diagnostic code means
  mlpc monitor history examples/fraud fraud_health past evaluations of the monitor
  mlpc drift --reference A.parquet --current B.parquet   drift between two files
  mlpc suggest examples/fraud fraud_api --write    size the deployment and write it into the spec
  mlpc suggest --show examples/fraud               the suggestions kept
  docs/serving.md and specs/language.md            the HTTP API and the language
NEXT
