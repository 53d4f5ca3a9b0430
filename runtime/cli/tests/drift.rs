//! `mlpc drift` end to end on small Parquet and CSV files written with DuckDB: the exit codes
//! (0 no dataset drift, 3 dataset drift, 1 errors), the verdicts and scores against the
//! library's `drift_numeric` / `drift_categorical`, the report's JSON against
//! `specs/drift.schema.json`, and clear errors for bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The output of one run: exit code, stdout, stderr.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mlpc(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// `mlpc drift --reference R --current C [extra] --format json`: exit code and report.
fn report(r: &Path, c: &Path, extra: &[&str]) -> (i32, Value) {
    let (r, c) = (r.to_string_lossy(), c.to_string_lossy());
    let mut args = vec![
        "drift",
        "--reference",
        &r,
        "--current",
        &c,
        "--format",
        "json",
    ];
    args.extend(extra);
    let out = mlpc(&args);
    assert!(
        out.code == 0 || out.code == 3,
        "exit {}: {}",
        out.code,
        out.stderr
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_valid(&doc);
    (out.code, doc)
}

/// Runs `mlpc drift` expecting exit 1; its stderr.
fn error(args: &[&str]) -> String {
    let mut all = vec!["drift"];
    all.extend(args);
    let out = mlpc(&all);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.stderr
}

fn assert_valid(doc: &Value) {
    mlp_test_support::schema::assert_valid(
        &mlp_test_support::schema::committed_schema("drift.schema.json"),
        doc,
    );
}

/// Writes `SELECT ...` to `dir/name` (Parquet or CSV by the extension) with DuckDB.
fn write(dir: &Path, name: &str, select: &str) -> PathBuf {
    let path = dir.join(name);
    let format = if name.ends_with(".csv") {
        "csv, header true"
    } else {
        "parquet"
    };
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch(&format!(
        "COPY ({select}) TO '{}' (FORMAT {format})",
        path.display()
    ))
    .unwrap_or_else(|e| panic!("{e}: {select}"));
    path
}

/// A table of `n` rows: a uniform `u` (in [0, 1) plus `shift`), integers with ties `k`, a
/// constant `one`, a column `gaps` with nulls, NaN and infinities, text `cat` with three
/// categories, a boolean `flag` and a timestamp `ts`. `seed` changes the values, not their
/// distribution.
fn table(n: u64, seed: u64, shift: f64) -> String {
    format!(
        "SELECT (hash(i + {seed}) % 1000003) / 1000003.0 + {shift} AS u,
                CAST(hash(i * 7 + {seed}) % 9 AS INTEGER) AS k,
                1.5 AS one,
                CASE WHEN i % 10 = 0 THEN NULL WHEN i % 31 = 0 THEN 'nan'::DOUBLE
                     WHEN i % 37 = 0 THEN 'inf'::DOUBLE WHEN i % 41 = 0 THEN '-inf'::DOUBLE
                     ELSE (hash(i + 3 * {seed}) % 101) / 10.0 END AS gaps,
                ['red', 'green', 'blue'][CAST(hash(i + 5 * {seed}) % 3 AS INTEGER) + 1] AS cat,
                hash(i + 11 * {seed}) % 4 = 0 AS flag,
                TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE AS ts
         FROM range({n}) t(i)"
    )
}

fn column<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["columns"]
        .as_array()
        .and_then(|cols| cols.iter().find(|c| c["column"] == name))
        .unwrap_or_else(|| panic!("no column {name} in {doc}"))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn committed_schema_is_the_generated_one() {
    let out = mlpc(&["drift", "--schema"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let generated: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        generated,
        mlp_test_support::schema::committed_schema("drift.schema.json"),
        "specs/drift.schema.json is stale: run `mlpc drift --schema > specs/drift.schema.json`"
    );
}

#[test]
fn the_same_distribution_does_not_drift() {
    let dir = tempdir();
    for n in [300, 5000] {
        let r = write(dir.path(), &format!("r{n}.parquet"), &table(n, 1, 0.0));
        let c = write(dir.path(), &format!("c{n}.parquet"), &table(n, 2, 0.0));
        let (code, doc) = report(&r, &c, &[]);
        assert_eq!(code, 0, "{doc:#}");
        assert_eq!(doc["dataset_drift"], false);
        assert_eq!(doc["reference"]["rows"], n);
        for name in ["u", "k", "one", "gaps", "cat", "flag"] {
            assert_eq!(column(&doc, name)["verdict"], "not_drifted", "{n} {name}");
        }
        // Timestamps are not tested, as Evidently's DataDriftPreset leaves them out.
        assert_eq!(doc["skipped"][0]["column"], "ts");
        assert_eq!(doc["tested_columns"], 6);
        // Nulls, NaN and infinities are not values.
        let gaps = column(&doc, "gaps")["reference_values"]
            .as_u64()
            .unwrap_or(0);
        assert!(gaps < n * 9 / 10 && gaps > n * 8 / 10, "{gaps}");
        // Small references are tested, large ones measured.
        let (u, cat) = (column(&doc, "u"), column(&doc, "cat"));
        if n <= 1000 {
            assert_eq!(u["method"], "ks");
            assert_eq!(cat["method"], "chi_square");
            assert_eq!(column(&doc, "flag")["method"], "z_test");
            assert!(u["p_value"].as_f64().unwrap_or(0.0) > 0.05);
        } else {
            assert_eq!(u["method"], "wasserstein");
            assert_eq!(cat["method"], "jensen_shannon");
            assert_eq!(column(&doc, "one")["distance"], 0.0);
        }
    }
}

#[test]
fn a_shifted_column_drifts_and_a_majority_drifts_the_dataset() {
    let dir = tempdir();
    let r = write(dir.path(), "r.parquet", &table(4000, 1, 0.0));
    let c = write(dir.path(), "c.parquet", &table(4000, 2, 0.5));
    // One drifted column of six: the dataset does not drift.
    let (code, doc) = report(&r, &c, &[]);
    assert_eq!(code, 0);
    assert_eq!(column(&doc, "u")["verdict"], "drifted");
    assert_eq!(column(&doc, "u")["drifted"], true);
    assert_eq!(doc["drifted_columns"], 1);
    // One of two: a share of 0.5 is dataset drift, exit 3.
    let (code, doc) = report(&r, &c, &["--columns", "u,cat"]);
    assert_eq!(code, 3);
    assert_eq!(doc["drift_share"], 0.5);
    assert_eq!(doc["dataset_drift"], true);
    // The human table says so too, with the same exit code.
    let (rs, cs) = (r.to_string_lossy(), c.to_string_lossy());
    let out = mlpc(&[
        "drift",
        "--reference",
        &rs,
        "--current",
        &cs,
        "--columns",
        "u,cat",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stdout.contains("DATASET DRIFT: 1 of 2"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("DRIFT"), "{}", out.stdout);
}

#[test]
fn scores_are_the_library_functions() {
    let dir = tempdir();
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    for (n, shift) in [(200, 0.1), (3000, 0.05)] {
        let r = write(dir.path(), &format!("r{n}.csv"), &table(n, 1, 0.0));
        let c = write(dir.path(), &format!("c{n}.parquet"), &table(n, 2, shift));
        let (_, doc) = report(&r, &c, &[]);
        let values = |path: &Path, col: &str| -> Vec<f64> {
            let sql = format!(
                "SELECT CAST({col} AS DOUBLE) FROM '{}' WHERE {col} IS NOT NULL",
                path.display()
            );
            let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}"));
            stmt.query_map([], |row| row.get::<_, f64>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        for col in ["u", "k", "gaps", "flag"] {
            let expected = mlp_monitoring::drift_numeric(&values(&r, col), &values(&c, col))
                .unwrap_or_else(|| panic!("{col}"));
            let got = column(&doc, col);
            let score = if expected.method.is_p_value() {
                &got["p_value"]
            } else {
                &got["distance"]
            };
            assert_eq!(score.as_f64(), Some(expected.score), "{n} {col}: {got}");
            assert_eq!(got["drifted"], expected.drifted);
        }
        let strings = |path: &Path| -> Vec<String> {
            let sql = format!("SELECT cat FROM '{}'", path.display());
            let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}"));
            stmt.query_map([], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let expected = mlp_monitoring::drift_categorical(&strings(&r), &strings(&c))
            .unwrap_or_else(|| panic!("cat"));
        let got = column(&doc, "cat");
        let score = got["p_value"].as_f64().or(got["distance"].as_f64());
        assert_eq!(score, Some(expected.score), "{got}");
    }
}

#[test]
fn csv_and_parquet_give_the_same_report() {
    let dir = tempdir();
    let select = table(1500, 1, 0.0);
    let shifted = table(1500, 2, 0.2);
    let (_, a) = report(
        &write(dir.path(), "r.parquet", &select),
        &write(dir.path(), "c.parquet", &shifted),
        &["--columns", "u,k,cat,flag"],
    );
    let (_, b) = report(
        &write(dir.path(), "r.csv", &select),
        &write(dir.path(), "c.csv", &shifted),
        &["--columns", "u,k,cat,flag"],
    );
    let strip = |mut v: Value| {
        for c in v["columns"].as_array_mut().into_iter().flatten() {
            c["source_type"] = Value::Null;
        }
        v["reference"]["path"] = Value::Null;
        v["current"]["path"] = Value::Null;
        v
    };
    assert_eq!(strip(a), strip(b));
}

#[test]
fn all_null_columns_have_no_data_and_do_not_count() {
    let dir = tempdir();
    let r = write(
        dir.path(),
        "r.parquet",
        "SELECT i / 100.0 AS x, CAST(NULL AS VARCHAR) AS s, 'nan'::DOUBLE AS nans FROM range(50) t(i)",
    );
    let c = write(
        dir.path(),
        "c.parquet",
        "SELECT i / 100.0 + 5 AS x, 'a' AS s, 1.0 AS nans FROM range(50) t(i)",
    );
    let (code, doc) = report(&r, &c, &[]);
    for name in ["s", "nans"] {
        let col = column(&doc, name);
        assert_eq!(col["verdict"], "no_data", "{col}");
        assert_eq!(col["drifted"], false);
        assert_eq!(col["method"], Value::Null);
        assert_eq!(col["reference_values"], 0);
    }
    assert_eq!(doc["tested_columns"], 1);
    assert_eq!(doc["drift_share"], 1.0);
    assert_eq!(code, 3);
    let out = mlpc(&[
        "drift",
        "--reference",
        &r.to_string_lossy(),
        "--current",
        &c.to_string_lossy(),
    ]);
    assert!(out.stdout.contains("no data"), "{}", out.stdout);
}

#[test]
fn a_constant_reference_against_another_value_is_infinite_wasserstein() {
    let dir = tempdir();
    let r = write(dir.path(), "r.parquet", "SELECT 1.0 AS x FROM range(2000)");
    let c = write(
        dir.path(),
        "c.parquet",
        "SELECT CAST(i % 7 AS DOUBLE) AS x FROM range(2000) t(i)",
    );
    let (code, doc) = report(&r, &c, &[]);
    assert_eq!(code, 3);
    assert_eq!(column(&doc, "x")["distance"], "inf");
}

#[test]
fn columns_subset_in_the_order_given() {
    let dir = tempdir();
    let r = write(dir.path(), "r.parquet", &table(100, 1, 0.0));
    let c = write(dir.path(), "c.parquet", &table(100, 2, 0.0));
    let (_, doc) = report(&r, &c, &["--columns", "cat,u"]);
    let names: Vec<&str> = doc["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["column"].as_str())
        .collect();
    assert_eq!(names, ["cat", "u"]);
    assert_eq!(doc["skipped"], Value::Array(vec![]));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempdir();
    let d = dir.path();
    let r = write(d, "r.parquet", &table(100, 1, 0.0));
    let rs = r.to_string_lossy().to_string();
    let path = |name: &str| d.join(name).to_string_lossy().to_string();
    // A missing file.
    let e = error(&["--reference", &rs, "--current", &path("nope.parquet")]);
    assert!(
        e.contains("nope.parquet") && e.contains("No such file"),
        "{e}"
    );
    // Not Parquet inside.
    std::fs::write(d.join("bad.parquet"), "not parquet").unwrap_or_else(|e| panic!("{e}"));
    let e = error(&["--reference", &rs, "--current", &path("bad.parquet")]);
    assert!(e.contains("bad.parquet") && e.contains("Parquet"), "{e}");
    // An unknown extension.
    let e = error(&["--reference", &rs, "--current", &path("x.json")]);
    assert!(e.contains("No such file"), "{e}");
    std::fs::write(d.join("x.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
    let e = error(&["--reference", &rs, "--current", &path("x.json")]);
    assert!(e.contains("unknown file type"), "{e}");
    // A column that is not there.
    let c = write(d, "c.parquet", &table(100, 2, 0.0));
    let cs = c.to_string_lossy().to_string();
    let e = error(&["--reference", &rs, "--current", &cs, "--columns", "u,zz"]);
    assert!(e.contains("column `zz` is not in"), "{e}");
    // Different columns on the two sides.
    let fewer = write(d, "fewer.parquet", "SELECT 1.0 AS u, 'a' AS cat");
    let e = error(&["--reference", &rs, "--current", &path("fewer.parquet")]);
    assert!(
        e.contains("different columns") && e.contains("only in the reference: "),
        "{e}"
    );
    assert!(e.contains("flag") && e.contains("--columns"), "{e}");
    let e = error(&[
        "--reference",
        &rs,
        "--current",
        &fewer.to_string_lossy(),
        "--columns",
        "k",
    ]);
    assert!(
        e.contains("column `k` is not in") && e.contains("fewer.parquet"),
        "{e}"
    );
    // A column numeric on one side and text on the other.
    let text = write(d, "text.parquet", "SELECT 'x' AS u FROM range(3)");
    let e = error(&[
        "--reference",
        &rs,
        "--current",
        &text.to_string_lossy(),
        "--columns",
        "u",
    ]);
    assert!(
        e.contains("column `u` is DOUBLE in the reference but VARCHAR"),
        "{e}"
    );
    // A timestamp named explicitly.
    let e = error(&["--reference", &rs, "--current", &cs, "--columns", "ts"]);
    assert!(e.contains("column `ts` is TIMESTAMP"), "{e}");
    // Named twice, or empty.
    let e = error(&["--reference", &rs, "--current", &cs, "--columns", "u,u"]);
    assert!(e.contains("named twice"), "{e}");
    let e = error(&["--reference", &rs, "--current", &cs, "--columns", "u,"]);
    assert!(e.contains("empty column name"), "{e}");
    // Files without rows: Parquet, CSV with a header only, and an empty CSV file.
    let none = write(d, "none.parquet", "SELECT 1.0 AS u WHERE false");
    let e = error(&["--reference", &rs, "--current", &none.to_string_lossy()]);
    assert!(e.contains("has no rows"), "{e}");
    std::fs::write(d.join("header.csv"), "u,k\n").unwrap_or_else(|e| panic!("{e}"));
    let e = error(&["--reference", &path("header.csv"), "--current", &rs]);
    assert!(e.contains("header.csv") && e.contains("has no rows"), "{e}");
    std::fs::write(d.join("empty.csv"), "").unwrap_or_else(|e| panic!("{e}"));
    let e = error(&["--reference", &path("empty.csv"), "--current", &rs]);
    assert!(e.contains("empty.csv"), "{e}");
    // A folder.
    let e = error(&["--reference", &d.to_string_lossy(), "--current", &rs]);
    assert!(e.contains("folder"), "{e}");
    // Arguments.
    let e = error(&["--reference", &rs]);
    assert!(e.contains("--current"), "{e}");
}
