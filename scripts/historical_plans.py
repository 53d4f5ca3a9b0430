"""Times candidate DuckDB plans for point-in-time retrieval on the data of
scripts/bench-features.sh, operator by operator (docs/benchmarks.md, "What bounds the
historical figure"). Needs the DuckDB Python package of the version mlp links (1.5.6):

    python3 -m venv /tmp/ddb && /tmp/ddb/bin/pip install duckdb==1.5.6
    /tmp/ddb/bin/python scripts/historical_plans.py DATA_DIR

DATA_DIR holds a.parquet, b.parquet and entities.parquet as the benchmark writes them.
"""

import sys
import time

import duckdb

D = sys.argv[1].rstrip("/") + "/"
con = duckdb.connect()
con.execute("SET threads = 2; SET TimeZone = 'UTC'")
TTL = "INTERVAL 30 DAY"


def timed(label, sql, runs=1):
    best = min(_once(sql) for _ in range(runs))
    print(f"{label:<60} {best:.3f} s", flush=True)


def _once(sql):
    start = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - start


timed("entity file to a row-numbered table", f"CREATE OR REPLACE TEMP TABLE __e AS SELECT *, CAST(event_timestamp AS TIMESTAMP) AS __mlp_at, (row_number() OVER ()) - 1 AS __mlp_row FROM read_parquet('{D}entities.parquet')")
con.execute("SET preserve_insertion_order = false")
JOIN = f"__e e JOIN read_parquet('{D}a.parquet') s ON s.user_id = e.user_id"
VISIBLE = f"s.event_ts <= e.__mlp_at AND s.event_ts >= e.__mlp_at - {TTL}"
timed("scan one source", f"SELECT count(*), sum(f1), max(event_ts), sum(f2), sum(user_id) FROM read_parquet('{D}a.parquet')")
timed("equality join (count)", f"SELECT count(*) FROM {JOIN}")
timed("join with the TTL conditions", f"SELECT count(*), sum(f1), sum(f2), max(__mlp_row) FROM {JOIN} AND {VISIBLE}")
timed("latest row: row_number() window", f"SELECT count(*) FROM (SELECT e.__mlp_row, s.f1, s.f2, row_number() OVER (PARTITION BY e.__mlp_row ORDER BY s.event_ts DESC, s.f1 DESC NULLS LAST, s.f2 DESC NULLS LAST) AS rn FROM {JOIN} WHERE {VISIBLE}) WHERE rn = 1")
timed("latest row: arg_max per column", f"SELECT count(f1) FROM (SELECT e.__mlp_row, arg_max(s.f1, s.event_ts) AS f1, arg_max(s.f2, s.event_ts) AS f2 FROM {JOIN} AND {VISIBLE} GROUP BY e.__mlp_row)")
timed("latest row: max(struct)", f"SELECT count(v) FROM (SELECT e.__mlp_row, max(struct_pack(t := s.event_ts, f1 := s.f1, f2 := s.f2)) AS v FROM {JOIN} AND {VISIBLE} GROUP BY e.__mlp_row)")
timed("latest row: ASOF join (no tie rule)", f"SELECT count(s.f1) FROM __e e ASOF LEFT JOIN read_parquet('{D}a.parquet') s ON e.user_id = s.user_id AND e.__mlp_at >= s.event_ts")
timed("latest row: union + last_value IGNORE NULLS", f"""SELECT count(v) FROM (SELECT __mlp_row, last_value(v IGNORE NULLS) OVER (PARTITION BY user_id ORDER BY ts, k ROWS UNBOUNDED PRECEDING) AS v, k FROM (
  SELECT user_id, __mlp_at AS ts, 1 AS k, __mlp_row, NULL::STRUCT(ts TIMESTAMP, f1 DOUBLE, f2 BIGINT) AS v FROM __e
  UNION ALL SELECT user_id, event_ts, 0, NULL, struct_pack(ts := event_ts, f1 := f1, f2 := f2) FROM read_parquet('{D}a.parquet'))) WHERE k = 1""")
