//! Point-in-time retrieval on Spark against the DuckDB path, cell by cell: one spec, with
//! `offline = duckdb()` and with `offline = spark(master = "local[2]")`, over the same seeded
//! files. The data has what breaks a retrieval: event times on 10-minute marks (ties), rows
//! created days late (visible only from then), full ties broken by the other columns, exact
//! duplicate rows, null values and null keys, keys with 1 to 30 rows, a two-column key, a
//! Parquet source with `created` and a CSV source without, and entity rows exactly at the
//! TTL's and the windows' edges and a second either side. Every feature kind is asked for:
//! columns, expressions (an overflowing product included), every aggregation over windows
//! and over all history (on DuckDB, through the window merge and through the join plan), and
//! on-demand features over features and a request column. Materialization through Spark
//! fills the online store with the values DuckDB's fills it with.
//!
//! Without pyspark or Java the test fails, unless `MLP_SKIP_SPARK=1` says to skip.

use mlp_features::online::OnlineStore;
use mlp_features::{historical, materialize, HistoricalRequest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SPEC: &str = "project p {
  offline = OFFLINE
}

entity account {
  key = [user_id: int, region: string]
}

entity user {
  key = user_id: int
}

source tx {
  path      = \"tx.parquet\"
  timestamp = event_ts
  created   = created_ts

  schema {
    user_id: int
    region: string
    amount: float
    qty: int
    merchant: string
    event_ts: timestamp
    created_ts: timestamp
  }
}

source profile {
  path      = \"profile.csv\"
  format    = csv
  timestamp = updated

  schema {
    user_id: int
    tier: string
    score: float
    updated: timestamp
  }
}

features acct {
  entity = account
  source = tx
  ttl    = 2h
  online = true

  amount: float
  qty: int
  merchant: string
  big: int = qty * 288230376151711744
  half: float = round(amount / 3.0)
  n_1h: int = count(*) over 1h
  nq_1d: int = count(qty) over 1d
  nm_1d: int = count_distinct(merchant) over 1d
  sq_2h: int = sum(qty) over 2h
  sa: float = sum(amount)
  av_1d: float = avg(amount) over 1d
  mi_2h: float = min(amount) over 2h
  ma: string = max(merchant)
  fi_1d: float = first(amount) over 1d
  la: string = last(merchant)
}

features spread {
  entity = account
  source = tx
  online = true

  sd_1d: float = stddev(amount) over 1d
  va: float = variance(amount)
  me_2h: float = median(amount) over 2h
  fi: int = first(qty)
  la_1h: float = last(amount) over 1h
  lm: string = last(merchant)
}

features prof {
  entity = user
  source = profile
  ttl    = 3d
  online = true

  tier: string
  score: float
  tier_len: int = length(upper(tier))
  n_2d: int = count(*) over 2d
  last_tier: string = last(tier)
}

request checkout {
  amount: float
}

features derived {
  ratio: float = checkout.amount / coalesce(prof.score, 1.0)
  busy: bool = acct.n_1h > 2 or is_null(spread.sd_1d)
}
";

/// Seeded rows: `users` users, each with one or two regions and 1 to 30 rows per key.
fn data_sql(dir: &Path, users: i64) -> String {
    let d = dir.display().to_string().replace('\'', "''");
    format!(
        "SET TimeZone = 'UTC';
CREATE TABLE tx AS
  SELECT CASE WHEN (u * 13 + k) % 97 = 0 THEN NULL ELSE u END AS user_id,
    ['eu', 'us'][1 + ((u + k // 5) % (1 + u % 2))] AS region,
    CASE WHEN (u + k) % 14 = 0 THEN NULL ELSE ((u * 37 + k * 11) % 500) / 4.0 END AS amount,
    CASE WHEN (u + k) % 9 = 0 THEN NULL ELSE (u * 7 + k * 3) % 50 END AS qty,
    CASE WHEN (u + k) % 11 = 0 THEN NULL ELSE 'm' || ((u * 5 + k) % 4) END AS merchant,
    TIMESTAMP '2026-01-01' + to_minutes(((u * 131 + k * 47) % (6 * 24 * 3)) * 10) AS event_ts,
    event_ts + to_hours(CASE WHEN k % 7 = 3 THEN 30 WHEN k % 7 = 5 THEN 1 ELSE 0 END) AS created_ts
  FROM (SELECT u, unnest(range(CASE WHEN u % 10 = 0 THEN 30 ELSE 1 + u % 6 END)) AS k
        FROM range({users}) t(u));
-- Exact duplicates, and full ties on (event, created) time that differ elsewhere.
INSERT INTO tx SELECT * FROM tx WHERE user_id % 17 = 1;
INSERT INTO tx SELECT user_id, region, amount + 1, qty, 'z' || merchant, event_ts, created_ts
  FROM tx WHERE user_id % 19 = 2;
COPY (SELECT * FROM tx ORDER BY hash(user_id, event_ts, amount, merchant)) TO '{d}/tx.parquet' (FORMAT parquet);
COPY (
  SELECT u AS user_id,
    CASE WHEN (u + k) % 8 = 0 THEN NULL ELSE ['gold', 'silver', 'Bronze'][1 + (u + k) % 3] END AS tier,
    CASE WHEN (u + k) % 6 = 0 THEN NULL ELSE ((u * 3 + k) % 40) / 8.0 END AS score,
    strftime(TIMESTAMP '2026-01-01' + to_hours(((u * 17 + k * 29) % (24 * 3)) * 1), '%Y-%m-%d %H:%M:%S') AS updated
  FROM (SELECT u, unnest(range(1 + u % 4)) AS k FROM range(0, {users}, 2) t(u))
) TO '{d}/profile.csv' (FORMAT csv, HEADER true);
-- Entity rows: at each sampled row's event time, at its TTL's edge (2h) and a second either
-- side, at the 1h window's edge, a second before a late row is created, and at random times;
-- unknown keys and null keys.
CREATE TABLE ents AS
  SELECT user_id, region, t AS asked_at FROM (
    SELECT user_id, region, unnest([event_ts, event_ts + INTERVAL 2 HOUR,
      event_ts + INTERVAL 2 HOUR + INTERVAL 1 SECOND, event_ts + INTERVAL 2 HOUR - INTERVAL 1 SECOND,
      event_ts + INTERVAL 1 HOUR, created_ts - INTERVAL 1 SECOND, event_ts + INTERVAL 1 DAY]) AS t
    FROM tx WHERE hash(user_id, event_ts, qty) % 3 = 0)
  UNION ALL
  SELECT u % ({users} + 5), ['eu', 'us', 'apac'][1 + u % 3],
    TIMESTAMP '2025-12-31' + to_minutes((u * 7919) % (60 * 24 * 8))
  FROM range(2000) t(u)
  UNION ALL SELECT NULL, 'eu', TIMESTAMP '2026-01-02';
COPY (SELECT user_id, region, asked_at, ((row_number() OVER ()) % 50) / 2.0 AS amount, 'r' || (row_number() OVER ()) AS label
  FROM ents) TO '{d}/entities.parquet' (FORMAT parquet);"
    )
}

fn project(dir: &Path, offline: &str, users: i64) {
    std::fs::write(dir.join("p.mlp"), SPEC.replace("OFFLINE", offline))
        .unwrap_or_else(|e| panic!("{e}"));
    duckdb::Connection::open_in_memory()
        .and_then(|c| c.execute_batch(&data_sql(dir, users)))
        .unwrap_or_else(|e| panic!("data: {e}"));
}

fn plan(dir: &Path) -> mlp_ir::Plan {
    let c = mlp_driver::check_dir(dir, None);
    c.plan.unwrap_or_else(|| panic!("{:?}", c.diagnostics))
}

/// Every feature of the spec.
fn features() -> Vec<String> {
    let p = {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("p.mlp"),
            SPEC.replace("OFFLINE", "duckdb()"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        plan(dir.path())
    };
    p.resources()
        .filter(|r| r.kind() == "feature")
        .map(|r| r.id.trim_start_matches("feature.").to_string())
        .collect()
}

/// The rows of a Parquet or CSV file, as JSON values, in file order.
fn rows(path: &Path) -> (Vec<String>, Vec<Vec<Value>>) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM '{}'", path.display()))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut q = stmt.query([]).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = q.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut out = Vec::new();
    while let Some(r) = q.next().unwrap_or_else(|e| panic!("{e}")) {
        out.push(
            (0..names.len())
                .map(|i| mlp_features::online::to_json(r.get(i).unwrap_or_else(|e| panic!("{e}"))))
                .collect(),
        );
    }
    (names, out)
}

/// Equal, or floats within a relative 1e-12 (sums of doubles in another order).
fn agree(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_f64() || b.is_f64() => {
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

fn skip() -> bool {
    let skip = std::env::var("MLP_SKIP_SPARK").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("skipped: MLP_SKIP_SPARK=1");
    }
    skip
}

fn retrieve(dir: &Path, out: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let req = HistoricalRequest {
        project_dir: dir.to_path_buf(),
        entities: dir.join("entities.parquet"),
        features: features(),
        at: "asked_at".into(),
        out: dir.join(out),
    };
    historical(&plan(dir), &req).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    rows(&dir.join(out))
}

#[test]
fn spark_retrieves_exactly_the_duckdb_paths_rows_and_values() {
    if skip() {
        return;
    }
    let (duck, spark) = (
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
    );
    project(duck.path(), "duckdb()", 400);
    project(spark.path(), "spark(master = \"local[2]\")", 400);
    let (names, want) = retrieve(duck.path(), "out.parquet");
    let (spark_names, got) = retrieve(spark.path(), "out.parquet");
    assert_eq!(names, spark_names);
    assert_eq!(want.len(), got.len());
    assert!(want.len() > 3000, "{}", want.len());
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        for (c, name) in names.iter().enumerate() {
            assert!(
                agree(&w[c], &g[c]),
                "row {i} ({}), `{name}`: DuckDB {}, Spark {}",
                w[names.iter().position(|n| n == "label").unwrap_or(0)],
                w[c],
                g[c]
            );
        }
    }
    // Not a comparison of nulls: every feature has values and nulls, or zeros for counts.
    for (c, name) in names.iter().enumerate().skip(5) {
        let valued = want.iter().filter(|r| !r[c].is_null()).count();
        assert!(valued > want.len() / 20, "`{name}`: {valued} values");
    }
    // The overflowing product is null on both, and not everywhere.
    let big = names.iter().position(|n| n == "acct__big").unwrap_or(0);
    assert!(want
        .iter()
        .any(|r| r[big].is_null() && !r[big - 3].is_null()));

    // CSV output, and an entity file with no rows: the same columns from both.
    let (_, csv) = retrieve(spark.path(), "out.csv");
    assert_eq!(csv.len(), want.len());
    for d in [duck.path(), spark.path()] {
        duckdb::Connection::open_in_memory()
            .and_then(|c| {
                c.execute_batch(&format!(
                    "COPY (SELECT * FROM '{0}/entities.parquet' LIMIT 0) TO '{0}/none.parquet' (FORMAT parquet)",
                    d.display()
                ))
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let none = |d: &Path| {
        let req = HistoricalRequest {
            project_dir: d.to_path_buf(),
            entities: d.join("none.parquet"),
            features: features(),
            at: "asked_at".into(),
            out: d.join("none_out.parquet"),
        };
        historical(&plan(d), &req).unwrap_or_else(|e| panic!("{e}"));
        rows(&d.join("none_out.parquet"))
    };
    let (a, b) = (none(duck.path()), none(spark.path()));
    assert_eq!(a, b);
    assert!(a.1.is_empty());
}

#[test]
fn materializing_through_spark_fills_the_online_store_as_duckdb_does() {
    if skip() {
        return;
    }
    let (duck, spark) = (
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
    );
    project(duck.path(), "duckdb()", 150);
    project(spark.path(), "spark(master = \"local[2]\")", 150);
    let until = "2026-01-03 12:00:00";
    for d in [duck.path(), spark.path()] {
        let done = materialize(&plan(d), d, &[], Some(until)).unwrap_or_else(|e| panic!("{e}"));
        assert!(done.iter().map(|m| m.keys).sum::<u64>() > 100);
    }
    let users: Vec<Value> = (0..160).map(Value::from).collect();
    let regions: Vec<Value> = (0..160).map(|i| Value::from(["eu", "us"][i % 2])).collect();
    let amounts: Vec<Value> = (0..160).map(|i| Value::from(i as f64 / 3.0)).collect();
    let keys: BTreeMap<String, Vec<Value>> = [
        ("user_id".to_string(), users),
        ("region".to_string(), regions),
        ("amount".to_string(), amounts),
    ]
    .into();
    let wanted: Vec<String> = features();
    // 2026-01-03 13:00 UTC: within the TTL of some keys' latest rows and past others'.
    let now_us = 1_767_445_200_000_000;
    let look = |d: &Path| {
        OnlineStore::open(d, &plan(d))
            .and_then(|s| s.lookup(&wanted, &keys, now_us))
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
    };
    let (want, got) = (look(duck.path()), look(spark.path()));
    assert_eq!(want.len(), got.len());
    let mut valued = 0;
    for (col, w) in &want {
        for (i, (a, b)) in w.iter().zip(&got[col]).enumerate() {
            assert!(agree(a, b), "{col}, key {i}: DuckDB {a}, Spark {b}");
            valued += usize::from(!a.is_null());
        }
    }
    assert!(valued > 500, "{valued}");
}
