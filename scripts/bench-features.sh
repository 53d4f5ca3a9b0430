#!/usr/bin/env bash
# The feature store against Feast, side by side in one run on the same data, at several
# shapes (rows per key). scripts/bench_feast.py is Feast's side, scripts/bench_features_compare.py
# checks the outputs against each other and prints each shape's figures. Feast comes from
# PyPI (latest) into its own venv under ~/.cache/mlp/feast-venv.
#
# Usage: scripts/bench-features.sh [ENTITY_ROWS] [SHAPES]
#   ENTITY_ROWS  entity rows to retrieve for (default 1000000)
#   SHAPES       rows per key, space separated (default "5 20 200")
# Environment:
#   BENCH_A_ROWS=8500000   rows of view a's source, the same at every shape
#   BENCH_B_ROWS=1000000   rows of view b's source, the same at every shape
#   BENCH_CSV=1            also write mlp's output as CSV with and without the index and
#                          compare the files byte for byte (0 to skip: one more run of each)
#   BENCH_FEAST_FILE=0     1 adds Feast's `file` (dask) offline store, same flag
#   BENCH_ONLINE=0         1 adds materialization and online lookups (mlp and Feast), at the
#                          first shape only
#   BENCH_WINDOWS=1        also retrieve view a's windowed count(*), avg and max over 7 days
#                          (the window index's merge against the join plan; 0 to skip)
#   BENCH_RUNS=1           runs of each timed retrieval (the index removed before each first
#                          run); the fastest is reported. On a small shared machine single
#                          runs vary by a factor up to 2: the header and the summary print the
#                          load average, to tell a quiet run from a busy one.
#
# The data, per shape with R rows per key: view a's source has BENCH_A_ROWS rows over
# BENCH_A_ROWS / R keys (exactly R rows each), view b's BENCH_B_ROWS rows over
# BENCH_B_ROWS / R keys, so the totals stay the same and only the shape changes (at 20 rows
# per key: 425,000 and 50,000 keys). Entity rows draw their key uniformly from a's keys (b's
# keys are a's first ones, so about BENCH_B_ROWS / BENCH_A_ROWS of them find b rows) and
# their time uniformly over the same 90 days as the sources. Every source has a `created`
# column: about 5 % of rows share (key, event_ts) with another row of their key, half of
# those pairs share created_ts too (with different feature values, so the tie-break
# decides); about 3 % of rows are late (created 1 h to 5 days after event_ts), the rest are
# created 0 to 10 minutes after. Values come from hashes, so the data is the same every run.
#
# Per shape: mlp with the point-in-time index (first run, which builds it, and second run,
# which reads it), mlp with MLP_PIT_INDEX=off (the plan before the index), Feast's DuckDB
# offline store with filter_by_created_timestamp=True (its leak-free flag; without it Feast
# would see late rows early). Then the outputs are compared: mlp with and without the index
# as data (and CSV bytes), mlp against Feast cell by cell, on the entity file's row_id.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
entities="${1:-1000000}" shapes="${2:-5 20 200}"
a_rows="${BENCH_A_ROWS:-8500000}" b_rows="${BENCH_B_ROWS:-1000000}"
csv="${BENCH_CSV:-1}" feast_file="${BENCH_FEAST_FILE:-0}" online="${BENCH_ONLINE:-0}" runs="${BENCH_RUNS:-1}"
windows="${BENCH_WINDOWS:-1}"
cd "$MLP_ROOT"
cargo build --release --locked -q -p mlpc -p mlp-features
feast_venv="$HOME/.cache/mlp/feast-venv"
if [ ! -x "$feast_venv/bin/python" ] || ! "$feast_venv/bin/python" -c 'import feast, ibis, duckdb' 2>/dev/null; then
  python3 -m venv "$feast_venv"
  "$feast_venv/bin/pip" install -q 'feast[duckdb]'
fi
py="$feast_venv/bin/python"
mlpc="$CARGO_TARGET_DIR/release/mlpc"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
secs() { awk "BEGIN { printf \"%.2f\", ($(date +%s%N) - $1) / 1e9 }"; }
fastest() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The SQL that writes one source: $1 file, $2 rows, $3 keys, $4 rows per key, $5 feature
# column prefix, $6 hash salt. Rows of a key are j = 0..R-1 (row i is key i % keys, j = i / keys,
# so a key's rows are spread over the file); pairs (2m, 2m+1) are tied with a probability set
# so that ~5 % of rows are tied whatever R's parity.
source_sql() {
  local file=$1 n=$2 k=$3 r=$4 p=$5 s=$6
  local pairs=$((r / 2 * 2))
  local thr=$(( (50 * r + pairs / 2) / (pairs > 0 ? pairs : 1) ))
  cat <<SQL
COPY (
  WITH t AS (SELECT i, i % $k AS user_id, i // $k AS j FROM range($n) t(i)),
  s AS (SELECT *, hash(user_id, j // 2, $s + 1) % 1000 < $thr AS tied,
               hash(user_id, j // 2, $s + 2) % 2 = 0 AS same_cr FROM t),
  u AS (SELECT *, CASE WHEN tied THEN j // 2 * 2 ELSE j END AS ev_slot,
               CASE WHEN tied AND same_cr THEN j // 2 * 2 ELSE j END AS cr_slot FROM s),
  v AS (SELECT user_id,
          CAST(hash(i, $s + 3) % 1000000 AS DOUBLE) / 1e6 AS ${p}1,
          CAST(hash(i, $s + 4) % 100 AS BIGINT) AS ${p}2,
          TIMESTAMP '2026-01-01' + to_seconds(CAST(hash(user_id, ev_slot, $s + 5) % 7776000 AS BIGINT)) AS event_ts,
          CASE WHEN hash(user_id, cr_slot, $s + 6) % 1000 < 30
            THEN to_seconds(CAST(3600 + hash(user_id, cr_slot, $s + 7) % 428400 AS BIGINT))
            ELSE to_seconds(CAST(hash(user_id, cr_slot, $s + 7) % 600 AS BIGINT)) END AS delay
        FROM u)
  SELECT user_id, ${p}1, ${p}2, event_ts, event_ts + delay AS created_ts FROM v
) TO '$file' (FORMAT parquet);
SQL
}

project_mlp() {
  cat <<'MLP'
project bench {}

entity user {
  key = user_id: int
}

source a {
  path      = "data/a.parquet"
  timestamp = event_ts
  created   = created_ts

  schema {
    user_id: int
    f1: float
    f2: int
    event_ts: timestamp
    created_ts: timestamp
  }
}

source b {
  path      = "data/b.parquet"
  timestamp = event_ts
  created   = created_ts

  schema {
    user_id: int
    g1: float
    g2: int
    event_ts: timestamp
    created_ts: timestamp
  }
}

features va {
  entity = user
  source = a
  ttl    = 30d

  f1: float
  f2: int
}

features vb {
  entity = user
  source = b
  ttl    = 30d

  g1: float
  g2: int
}

features wa {
  entity = user
  source = a

  n_7d: int = count(*) over 7d
  avg_7d: float = avg(f1) over 7d
  max_7d: int = max(f2) over 7d
}

pipeline refresh {
  step m {
    materialize {
      views = [va, vb]
    }
  }
}
MLP
}

features=va.f1,va.f2,vb.g1,vb.g2
summary="$work/summary.tsv"
wsummary="$work/windows.tsv"
printf 'rows/key\tmlp first\tmlp built\tbuild~\ttoday\ttoday/built\tequal\n' > "$wsummary"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ { print $2 }') GiB memory, load $(load); Feast $("$py" -c 'import feast; print(feast.__version__)'), mlp at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime || echo ' + local changes')"
echo "data: $entities entity rows; view a $a_rows rows, view b $b_rows rows at every shape; ttl 30d; created on both; fastest of $runs run(s)"
first=1
for r in $shapes; do
  d="$work/r$r"
  mkdir -p "$d/data"
  ka=$((a_rows / r)) kb=$((b_rows / r))
  {
    echo "SET threads = $(nproc);"
    source_sql a.parquet $((ka * r)) "$ka" "$r" f 0
    source_sql b.parquet $((kb * r)) "$kb" "$r" g 100
    echo "COPY (SELECT CAST(hash(i, 200) % $ka AS BIGINT) AS user_id,
      TIMESTAMP '2026-01-01' + to_seconds(CAST(hash(i, 201) % 7776000 AS BIGINT)) AS event_timestamp,
      i AS row_id FROM range($entities) t(i)) TO 'entities.parquet' (FORMAT parquet);"
  } > "$d/data/gen.sql"
  "$CARGO_TARGET_DIR/release/mlp-sql" "$d/data/gen.sql" 2>"$d/err" || { cat "$d/err" >&2; exit 1; }
  project_mlp > "$d/p.mlp"
  # mlpc says what it wrote on stderr: kept out of the figures, shown when it fails.
  hist() {
    "$mlpc" features historical "$d" --entities "$d/data/entities.parquet" --features "$features" \
      --out "$1" >/dev/null 2>"$d/err" || { cat "$d/err" >&2; return 1; }
  }
  t_first="" t_built="" t_today=""
  for ((k = 0; k < runs; k++)); do
    rm -rf "$d/.mlp/pit"
    start=$(date +%s%N); hist "$d/mlp.parquet"; t_first=$(fastest "$t_first" "$(secs "$start")")
    ls "$d/.mlp/pit/"*.parquet >/dev/null  # the index was built
    start=$(date +%s%N); hist "$d/mlp.parquet"; t_built=$(fastest "$t_built" "$(secs "$start")")
    start=$(date +%s%N); MLP_PIT_INDEX=off hist "$d/today.parquet"; t_today=$(fastest "$t_today" "$(secs "$start")")
  done
  csv_same=skipped
  if [ "$csv" = 1 ]; then
    hist "$d/mlp.csv"
    MLP_PIT_INDEX=off hist "$d/today.csv"
    if cmp -s "$d/mlp.csv" "$d/today.csv"; then csv_same=identical; else csv_same=DIFFERENT; fi
    rm -f "$d/mlp.csv" "$d/today.csv"
  fi
  feast_args=("$d/data" "$d" "--runs=$runs")
  [ "$feast_file" = 1 ] && feast_args+=(--file)
  mlp_mat="" mlp_online=""
  if [ "$online" = 1 ] && [ "$first" = 1 ]; then
    feast_args+=(--online)
    start=$(date +%s%N)
    "$mlpc" materialize "$d" --until "2026-04-01 00:00:00" >/dev/null
    mlp_mat=$(secs "$start")
    # One cached entity and the four features Feast looks up, at the materialization's end.
    mlp_online=$(MLP_BENCH_DIR="$d" MLP_BENCH_FEATURES=$features MLP_BENCH_ENTITY=user_id=42 \
      MLP_BENCH_NOW_US=1775001600000000 cargo bench --locked -q -p mlp-features --bench online_lookup 2>/dev/null | grep '^online_lookup')
  fi
  # Feast logs to stdout too, and warns on stderr; its figures are the last line.
  feast=$("$py" scripts/bench_feast.py "${feast_args[@]}" 2>"$d/feast.err" | tail -n 1) || { cat "$d/feast.err" >&2; exit 1; }
  echo
  "$py" scripts/bench_features_compare.py "$d" "$r" "$t_first" "$t_built" "$t_today" "$csv_same" "$feast" "$summary"
  if [ -n "$mlp_mat" ]; then
    "$py" - "$mlp_mat" "$feast" "$mlp_online" <<'PY'
import json, re, sys
mat, feast = float(sys.argv[1]), json.loads(sys.argv[2])
p99 = float(re.search(r"p99=([0-9.]+)", sys.argv[3]).group(1))
print(f"  materialize: mlp {mat:.2f} s, Feast {feast['materialize_s']:.2f} s ({feast['materialize_s'] / mat:.1f}x)")
print(f"  online p99:  mlp {p99} us, Feast {feast['online_p99_us']} us ({feast['online_p99_us'] / p99:.0f}x)")
PY
  fi
  if [ "$windows" = 1 ]; then
    # The window index's merge (first run builds the index, second reads it) against the
    # join plan (MLP_PIT_INDEX=off), on the same entity rows.
    win() {
      "$mlpc" features historical "$d" --entities "$d/data/entities.parquet" --features wa.n_7d,wa.avg_7d,wa.max_7d \
        --out "$1" >/dev/null 2>"$d/err" || { cat "$d/err" >&2; return 1; }
    }
    w_first="" w_built="" w_today=""
    for ((k = 0; k < runs; k++)); do
      rm -f "$d/.mlp/pit/"*.arrow
      start=$(date +%s%N); win "$d/win.parquet"; w_first=$(fastest "$w_first" "$(secs "$start")")
      start=$(date +%s%N); win "$d/win.parquet"; w_built=$(fastest "$w_built" "$(secs "$start")")
      start=$(date +%s%N); MLP_PIT_INDEX=off win "$d/win_today.parquet"; w_today=$(fastest "$w_today" "$(secs "$start")")
    done
    "$py" - "$d" "$r" "$w_first" "$w_built" "$w_today" "$wsummary" <<'PY'
import duckdb, sys
d, r, first, built, today, out = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6]), sys.argv[6]
con = duckdb.connect()
# Counts and maxima exactly; averages to 1e-12 relative (the join plan adds in no set order).
diff = con.execute(f"""
  SELECT count(*) FROM '{d}/win.parquet' m JOIN '{d}/win_today.parquet' t USING (row_id)
  WHERE m.wa__n_7d IS DISTINCT FROM t.wa__n_7d OR m.wa__max_7d IS DISTINCT FROM t.wa__max_7d
     OR (m.wa__avg_7d IS NULL) <> (t.wa__avg_7d IS NULL)
     OR abs(m.wa__avg_7d - t.wa__avg_7d) > 1e-12 * greatest(abs(t.wa__avg_7d), 1)""").fetchone()[0]
rows = [con.execute(f"SELECT count(*) FROM '{d}/{f}'").fetchone()[0] for f in ("win.parquet", "win_today.parquet")]
order = con.execute(f"SELECT count(*) FROM (SELECT row_id, row_number() OVER () - 1 AS i FROM '{d}/win.parquet') WHERE row_id <> i").fetchone()[0]
equal = "yes" if diff == 0 and rows[0] == rows[1] and order == 0 else f"NO ({diff} rows differ, {order} out of order)"
with open(out, "a") as f:
    f.write(f"{r}\t{first:.2f}\t{built:.2f}\t{first - built:.2f}\t{today:.2f}\t{today / built:.1f}x\t{equal}\n")
print(f"  windows (count, avg, max over 7d): mlp {built:.2f} s with the index built ({first:.2f} s building it), join plan {today:.2f} s: {today / built:.1f}x; equal: {equal}")
PY
  fi
  rm -rf "$d"
  first=0
done
echo
echo "summary (seconds; x = ratio; load now $(load)):"
column -t -s $'\t' "$summary"
if [ "$windows" = 1 ]; then
  echo
  echo "windows, view a's count(*), avg(f1), max(f2) over 7 days (seconds):"
  column -t -s $'\t' "$wsummary"
fi
