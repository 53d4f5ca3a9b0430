"""One shape's figures for scripts/bench-features.sh, and the exactness checks behind them.

Usage: python bench_features_compare.py SHAPE_DIR ROWS_PER_KEY T_FIRST T_BUILT T_TODAY
       CSV_SAME FEAST_JSON SUMMARY_TSV

SHAPE_DIR holds data/{a,b,entities}.parquet, mlp.parquet (with the index), today.parquet
(MLP_PIT_INDEX=off) and feast_duckdb.parquet (feast_file.parquet when that store ran).
Checks, all as data read back with DuckDB:
- mlp with the index against mlp without it: row counts, EXCEPT ALL both ways, input order;
- mlp against Feast: row counts, non-null counts per feature, EXCEPT ALL both ways after
  aligning the names, then cell by cell on the entity file's row_id. Each row where they
  differ is checked against the source: its visible candidates (key, event_ts <= t,
  created_ts <= t, event_ts >= t - 30 days) are ranked by (event_ts, created_ts); the row is
  a tie when both answers are among several candidates of the top rank, and mlp's answer is
  also checked against its documented tie-break (the other columns in file order, largest
  first, nulls last).
Prints the shape's block and appends one line to SUMMARY_TSV.
"""

import json
import os
import sys

import duckdb

d, r = sys.argv[1], int(sys.argv[2])
t_first, t_built, t_today = (float(x) for x in sys.argv[3:6])
csv_same, feast, summary = sys.argv[6], json.loads(sys.argv[7]), sys.argv[8]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
p = lambda name: os.path.join(d, name).replace("'", "''")  # noqa: E731
VIEWS = {"va": ("a", "f1", "f2"), "vb": ("b", "g1", "g2")}


def one(sql: str):
    return con.execute(sql).fetchone()


con.execute(f"CREATE VIEW m AS SELECT * FROM '{p('mlp.parquet')}'")
con.execute(f"CREATE VIEW t AS SELECT * FROM '{p('today.parquet')}'")
for v, (s, _, _) in VIEWS.items():
    con.execute(f"CREATE VIEW src_{s} AS SELECT * FROM '{p('data/' + s + '.parquet')}'")

print(f"shape: {r} rows per key")
for v, (s, c1, _) in VIEWS.items():
    rows, keys, tied, full, late = one(
        f"""WITH g AS (SELECT count(*) OVER (PARTITION BY user_id, event_ts) AS n_ev,
                              count(*) OVER (PARTITION BY user_id, event_ts, created_ts) AS n_cr,
                              created_ts > event_ts + INTERVAL 1 HOUR AS late, user_id FROM src_{s})
            SELECT count(*), count(DISTINCT user_id), count(*) FILTER (n_ev > 1),
                   count(*) FILTER (n_cr > 1), count(*) FILTER (late) FROM g"""
    )
    print(
        f"  source {s}: {rows} rows, {keys} keys; {100 * tied / rows:.1f} % tied on (key, event_ts), "
        f"{100 * full / rows:.1f} % also on created_ts; {100 * late / rows:.1f} % late (> 1 h)"
    )
entity_rows = one(f"SELECT count(*) FROM '{p('data/entities.parquet')}'")[0]

# mlp with the index against the plan before it.
n_m, n_t = one("SELECT count(*) FROM m")[0], one("SELECT count(*) FROM t")[0]
m_minus_t = one("SELECT count(*) FROM (SELECT * FROM m EXCEPT ALL SELECT * FROM t)")[0]
t_minus_m = one("SELECT count(*) FROM (SELECT * FROM t EXCEPT ALL SELECT * FROM m)")[0]
out_of_order = one(
    "SELECT count(*) FROM (SELECT row_id, row_number() OVER () - 1 AS n FROM m) WHERE row_id <> n"
)[0]
index_exact = n_m == n_t == entity_rows and m_minus_t == 0 and t_minus_m == 0 and out_of_order == 0


def against_feast(store: str):
    """mlp against one Feast store's output: lines to print and the unexplained count."""
    con.execute(
        f"""CREATE OR REPLACE VIEW f AS SELECT row_id, user_id,
              CAST(event_timestamp AS TIMESTAMP) AS event_timestamp,
              f1 AS va__f1, f2 AS va__f2, g1 AS vb__g1, g2 AS vb__g2
            FROM '{p('feast_' + store + '.parquet')}'"""
    )
    cols = "row_id, user_id, event_timestamp, va__f1, va__f2, vb__g1, vb__g2"
    n_f = one("SELECT count(*) FROM f")[0]
    m_f = one(f"SELECT count(*) FROM (SELECT {cols} FROM m EXCEPT ALL SELECT {cols} FROM f)")[0]
    f_m = one(f"SELECT count(*) FROM (SELECT {cols} FROM f EXCEPT ALL SELECT {cols} FROM m)")[0]
    nn = lambda tab: one(  # noqa: E731
        f"SELECT {', '.join(f'count({c})' for c in ['va__f1', 'va__f2', 'vb__g1', 'vb__g2'])} FROM {tab}"
    )
    nn_m, nn_f = nn("m"), nn("f")
    missing = one("SELECT count(*) FROM m ANTI JOIN f USING (row_id)")[0]
    extra = one("SELECT count(*) FROM f ANTI JOIN m USING (row_id)")[0]
    lines = [
        f"  mlp vs Feast {store}: rows {n_m} / {n_f} (missing in Feast {missing}, extra {extra}); "
        f"EXCEPT ALL {m_f} / {f_m} rows",
        "    non-null va.f1 va.f2 vb.g1 vb.g2: mlp " + " ".join(map(str, nn_m))
        + ", Feast " + " ".join(map(str, nn_f)),
    ]
    unexplained = missing + extra
    for v, (s, c1, c2) in VIEWS.items():
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE mm AS
                SELECT m.row_id, m.user_id, m.event_timestamp AS t, m.{v}__{c1} AS m1, m.{v}__{c2} AS m2,
                       f.{v}__{c1} AS x1, f.{v}__{c2} AS x2
                FROM m JOIN f USING (row_id)
                WHERE (m.{v}__{c1}, m.{v}__{c2}) IS DISTINCT FROM (f.{v}__{c1}, f.{v}__{c2})"""
        )
        diff = one("SELECT count(*) FROM mm")[0]
        tie, rule = one(
            f"""WITH c AS (
                  SELECT mm.*, s.{c1} AS c1, s.{c2} AS c2,
                         rank() OVER (PARTITION BY mm.row_id ORDER BY s.event_ts DESC, s.created_ts DESC) AS rk
                  FROM mm JOIN src_{s} s ON s.user_id = mm.user_id AND s.event_ts <= mm.t
                    AND s.created_ts <= mm.t AND s.event_ts >= mm.t - INTERVAL 30 DAY),
                top AS (SELECT * FROM c WHERE rk = 1),
                per AS (
                  SELECT row_id, count(*) AS n,
                         bool_or(c1 IS NOT DISTINCT FROM m1 AND c2 IS NOT DISTINCT FROM m2) AS has_m,
                         bool_or(c1 IS NOT DISTINCT FROM x1 AND c2 IS NOT DISTINCT FROM x2) AS has_x,
                         arg_max((c1, c2), (c1 IS NOT NULL, coalesce(c1, 0), c2 IS NOT NULL, coalesce(c2, 0))) AS best,
                         any_value((m1, m2)) AS mine
                  FROM top GROUP BY row_id)
                SELECT count(*) FILTER (n > 1 AND has_m AND has_x),
                       count(*) FILTER (n > 1 AND has_m AND has_x AND best IS NOT DISTINCT FROM mine)
                FROM per"""
        )
        unexplained += diff - tie
        lines.append(
            f"    {v}: {diff} rows differ; {tie} of them are ties on (event_ts, created_ts) where both "
            f"answers are top candidates (mlp follows its tie-break on {rule}); {diff - tie} unexplained"
        )
    return lines, unexplained


feast_lines, unexplained = against_feast("duckdb")
file_lines = []
if "historical_file_s" in feast:
    file_lines, _ = against_feast("file")

t_feast = feast["historical_duckdb_s"]
build = max(t_first - t_built, 0.0)
print(f"  mlp, index: first run (builds it) {t_first:.2f} s, second run (built) {t_built:.2f} s, build ~ {build:.2f} s")
print(f"  mlp, MLP_PIT_INDEX=off (today):   {t_today:.2f} s")
print(f"  Feast duckdb, filter_by_created_timestamp=True: {t_feast:.2f} s")
if "historical_file_s" in feast:
    print(f"  Feast file (dask), same flag: {feast['historical_file_s']:.2f} s")
print(
    f"  ratios: Feast / mlp(built) {t_feast / t_built:.1f}x, Feast / mlp(first) {t_feast / t_first:.1f}x, "
    f"today / mlp(built) {t_today / t_built:.1f}x, today / mlp(first) {t_today / t_first:.1f}x"
)
print(
    f"  index vs today: rows {n_m} / {n_t} of {entity_rows}, EXCEPT ALL {m_minus_t} / {t_minus_m}, "
    f"out of input order {out_of_order}, CSV bytes {csv_same} -> {'EXACT' if index_exact else 'MISMATCH'}"
)
for line in feast_lines + file_lines:
    print(line)

new = not os.path.exists(summary)
with open(summary, "a") as out:
    if new:
        out.write(
            "rows/key\tmlp first\tmlp built\tbuild~\ttoday\tFeast duckdb\tFeast/built\tFeast/first"
            "\ttoday/built\tindex=today\tFeast unexplained\n"
        )
    out.write(
        f"{r}\t{t_first:.2f}\t{t_built:.2f}\t{build:.2f}\t{t_today:.2f}\t{t_feast:.2f}"
        f"\t{t_feast / t_built:.1f}x\t{t_feast / t_first:.1f}x\t{t_today / t_built:.1f}x"
        f"\t{'yes' if index_exact and csv_same != 'DIFFERENT' else 'NO'}\t{unexplained}\n"
    )
