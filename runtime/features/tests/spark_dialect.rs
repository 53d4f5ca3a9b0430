//! The expression compiler's Spark dialect against its DuckDB dialect, on a real Spark
//! (`pyspark` from the venv, `local[2]`, OpenJDK 17; `scripts/test.sh` installs them): every
//! scalar function, operator and aggregation of a feature view, compiled from one plan into
//! both dialects, evaluated over the same Parquet rows (integer extremes and overflow, halves
//! to round, zero divisors, nulls, text with quotes and backslashes, timestamps as text with
//! and without offsets, groups with ties in time), gives the same value in every cell. One
//! Spark job runs every expression (a Spark session takes seconds to start).
//!
//! Without pyspark or Java the test fails, unless `MLP_SKIP_SPARK=1` says to skip.

use mlp_features::ondemand::Kind;
use mlp_features::sql::{aggregate_to_sql_in, expr_to_sql_in, Dialect};
use mlp_ir::{FeatureDef, IrExpr, Spec};
use mlp_test_support::fixtures::root;
use mlp_test_support::serving::venv;
use serde_json::Value;
use std::process::Command;

const SPEC: &str = "project p {}

entity g {
  key = g: int
}

source rows {
  path      = \"rows.parquet\"
  timestamp = ts
  created   = cr

  schema {
    g: int
    i: int
    j: int
    f: float
    s: string
    t: timestamp
    b: bool
    ts: timestamp
    cr: timestamp
  }
}

features row {
  entity = g
  source = rows

  plus: int = i + j
  minus: int = i - j
  times: int = i * j
  neg: int = -i
  div: float = f / j
  idiv: float = i / j
  fplus: float = f + 0.25
  cmp: bool = i < j and not b or f >= 2.5
  ne: bool = s != \"a'b\"
  co: float = coalesce(f, 1.5)
  ab: int = abs(i)
  fab: float = abs(f)
  ro: float = round(f)
  fl: float = floor(f)
  ce: float = ceil(f)
  l: float = ln(f)
  sq: float = sqrt(f)
  le: float = least(f, 1.0)
  gr: float = greatest(i, f)
  lo: string = lower(s)
  up: string = upper(s)
  len: int = length(s)
  nul: bool = is_null(f)
  ie: string = if_else(b, s, \"none\")
  h: int = hour(t)
  dw: int = day_of_week(t)
  hts: int = hour(ts)
  tf: float = to_float(i)
}

features agg {
  entity = g
  source = rows

  n: int = count(*)
  nf: int = count(f)
  nd: int = count_distinct(s)
  su: int = sum(j)
  sf: float = sum(f)
  av: float = avg(f)
  mi: float = min(f)
  ma: string = max(s)
  fi: float = first(f)
  la: string = last(s)
  sd: float = stddev(f)
  va: float = variance(f)
  me: float = median(f)
}
";

/// Rows with the edges: integer extremes (overflowing sums and products), halves, zero and
/// null divisors, quotes and backslashes, timestamps as text with offsets and none and
/// nonsense, groups whose rows tie in event time (broken by created time).
const DATA: &str = "COPY (SELECT * FROM (VALUES
  (1, 9223372036854775807, 1, 2.5, 'a''b', '2026-01-05T10:00:00+02:00', TRUE, TIMESTAMP '2026-01-01 10:00:00', TIMESTAMP '2026-01-01 10:00:00'),
  (1, -9223372036854775808, -1, -2.5, 'A\\b', '2026-01-04 23:30:00', FALSE, TIMESTAMP '2026-01-01 10:00:00', TIMESTAMP '2026-01-01 11:00:00'),
  (1, 3, 0, 0.0, NULL, 'nonsense', NULL, TIMESTAMP '2026-01-02 00:00:00', TIMESTAMP '2026-01-02 00:00:00'),
  (2, NULL, 2, NULL, 'a''b', NULL, TRUE, TIMESTAMP '2026-01-03 00:00:00', TIMESTAMP '2026-01-03 00:00:00'),
  (2, 4611686018427387904, 2, 0.5, 'é', '2026-03-01T23:59:59Z', TRUE, TIMESTAMP '2026-01-03 00:00:00', TIMESTAMP '2026-01-03 00:00:01'),
  (2, -7, 3, -0.5, '', '2026-03-01T00:00:00-05:00', FALSE, TIMESTAMP '2026-01-04 00:00:00', TIMESTAMP '2026-01-04 00:00:00'),
  (3, 10, NULL, 123456789.125, 'x', '2026-12-31 12:00:00', TRUE, TIMESTAMP '2026-02-01 00:00:00', TIMESTAMP '2026-02-01 00:00:00'),
  (3, 11, 5, 3.5, 'x', '2026-06-15T08:00:00+05:30', FALSE, TIMESTAMP '2026-02-02 00:00:00', TIMESTAMP '2026-02-02 00:00:00')
) v(g, i, j, f, s, t, b, ts, cr)) TO 'DIR/rows.parquet' (FORMAT parquet);";

fn kinds(e: &IrExpr) -> Kind {
    match e {
        IrExpr::Column { name } => match name.as_str() {
            "g" | "i" | "j" => Kind::Int,
            "f" => Kind::Float,
            "b" => Kind::Bool,
            _ => Kind::Str,
        },
        _ => Kind::Null,
    }
}

/// `(name, DuckDB SQL, Spark SQL)` of each feature of `view`, row-level or aggregated.
fn compiled(plan: &mlp_ir::Plan, view: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in plan.resources() {
        let Spec::Feature {
            view: v, def, ty, ..
        } = &r.spec
        else {
            continue;
        };
        if v != view {
            continue;
        }
        let both = |d: Dialect| {
            let col = |n: &str| d.ident(n);
            let order = d.time_order(&d.ident("ts"), Some(&d.ident("cr")));
            let sql = match def {
                FeatureDef::Expr { expr } => expr_to_sql_in(d, expr, &col, &kinds),
                FeatureDef::Aggregate { expr, .. } => {
                    aggregate_to_sql_in(d, expr, &col, &kinds, &order)
                }
                other => panic!("{other:?}"),
            }
            .unwrap_or_else(|e| panic!("{}: {e}", r.name));
            d.cast(&format!("({sql})"), d.type_name(*ty))
        };
        out.push((r.name.clone(), both(Dialect::DuckDb), both(Dialect::Spark)));
    }
    assert!(out.len() > 10, "{view}");
    out
}

fn query(d: Dialect, table: &str, cols: &[(String, String, String)], grouped: bool) -> String {
    let list: Vec<String> = cols
        .iter()
        .map(|(n, duck, spark)| {
            let sql = if d == Dialect::DuckDb { duck } else { spark };
            format!("{sql} AS {}", d.ident(n))
        })
        .collect();
    if grouped {
        format!(
            "SELECT g, {} FROM {table} GROUP BY g ORDER BY g",
            list.join(", ")
        )
    } else {
        format!(
            "SELECT g, ts, cr, {} FROM {table} ORDER BY g, ts, cr",
            list.join(", ")
        )
    }
}

/// Rows of a Parquet file or folder, as JSON objects (DuckDB reads both outputs the same
/// way, so types compare as values).
fn rows(conn: &duckdb::Connection, glob: &str) -> Vec<serde_json::Map<String, Value>> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM read_parquet('{glob}')"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let mut q = stmt.query([]).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = q.as_ref().map(|s| s.column_names()).unwrap_or_default();
    while let Some(r) = q.next().unwrap_or_else(|e| panic!("{e}")) {
        let mut m = serde_json::Map::new();
        for (i, n) in names.iter().enumerate() {
            let v: duckdb::types::Value = r.get(i).unwrap_or_else(|e| panic!("{e}"));
            m.insert(n.clone(), mlp_features::online::to_json(v));
        }
        out.push(m);
    }
    out
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        // Sums of doubles in another order, stddev and friends: the last bits may differ.
        (Some(x), Some(y)) if a.is_f64() || b.is_f64() => {
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

#[test]
fn every_function_means_the_same_in_spark_sql_as_in_duckdb() {
    if std::env::var("MLP_SKIP_SPARK").is_ok_and(|v| v == "1") {
        eprintln!("skipped: MLP_SKIP_SPARK=1");
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("SET TimeZone = 'UTC';")
        .and_then(|()| conn.execute_batch(&DATA.replace("DIR", &d.display().to_string())))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = mlp_driver::check_dir(d, None);
    let plan = c.plan.unwrap_or_else(|| panic!("{:?}", c.diagnostics));
    let (row, agg) = (compiled(&plan, "row"), compiled(&plan, "agg"));
    let file = d.join("rows.parquet").display().to_string();
    let src = format!("read_parquet('{file}')");

    // DuckDB, here; Spark, in one job with both queries as one union-free pair of outputs.
    let mut want = Vec::new();
    for (cols, grouped, name) in [(&row, false, "row"), (&agg, true, "agg")] {
        let out = d.join(format!("duck_{name}.parquet")).display().to_string();
        conn.execute_batch(&format!(
            "COPY ({}) TO '{out}' (FORMAT parquet);",
            query(Dialect::DuckDb, &src, cols, grouped)
        ))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        want.push(rows(&conn, &out));
    }
    let job = root().join("runtime/features/src/spark/job.py");
    let mut got = Vec::new();
    for (cols, grouped, name) in [(&row, false, "row"), (&agg, true, "agg")] {
        let out = d.join(format!("spark_{name}"));
        let spec = serde_json::json!({
            "master": "local[2]",
            "tables": {"rows": {"path": file, "format": "parquet"}},
            "sql": query(Dialect::Spark, "rows", cols, grouped),
            "out": out,
        });
        let job_file = d.join(format!("{name}.json"));
        std::fs::write(&job_file, spec.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let run = Command::new(venv().join("bin/python"))
            .arg(&job)
            .arg(&job_file)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            run.status.success(),
            "the Spark job ({name}) failed (scripts/test.sh installs pyspark and Java): {}",
            String::from_utf8_lossy(&run.stderr)
        );
        got.push(rows(&conn, &format!("{}/*.parquet", out.display())));
    }
    for ((w, g), cols) in want.iter().zip(&got).zip([&row, &agg]) {
        assert_eq!(w.len(), g.len());
        for (i, (a, b)) in w.iter().zip(g).enumerate() {
            for (name, duck, spark) in cols.iter() {
                assert!(
                    same(&a[name], &b[name]),
                    "row {i}, `{name}`: DuckDB {} ({duck}), Spark {} ({spark})",
                    a[name],
                    b[name]
                );
            }
        }
    }
    // Not a comparison of nulls.
    let valued = want[0].iter().filter(|r| !r["plus"].is_null()).count();
    assert!(valued >= 4, "{valued}");
}
