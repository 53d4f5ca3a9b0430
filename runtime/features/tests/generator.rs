//! The example's seeded generator (`examples/fraud/generate.sql`, run by `mlp-sql`): its
//! timeline ends at `--as-of` (or now), and the same seed gives the same rows relative to it,
//! whatever the date. A value that is not a date is refused.

use std::path::Path;
use std::process::Command;

/// Runs the generator in a fresh copy at `as_of`; the folder.
fn generate(as_of: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = mlp_test_support::fixtures::root().join("examples/fraud/generate.sql");
    std::fs::copy(&src, dir.path().join("generate.sql")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_mlp-sql"))
        .arg(dir.path().join("generate.sql"))
        .args(["--as-of", as_of])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Every table's rows with their times as seconds before `as_of`, in a canonical order.
fn relative_rows(dir: &Path, as_of: &str) -> Vec<String> {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.join("data").display().to_string();
    let at = format!("TIMESTAMP '{as_of}'");
    let sql = format!(
        "SELECT 't' || user_id || ',' || merchant_id || ',' || amount || ',' || country || ',' || \
           epoch(({at}) - event_ts) || ',' || epoch(({at}) - created_ts) \
         FROM '{d}/transactions.parquet' \
         UNION ALL SELECT 'm' || merchant_id || ',' || risk_score || ',' || category || ',' || \
           epoch(({at}) - updated_at) FROM read_csv('{d}/merchants.csv') \
         UNION ALL SELECT 'l' || user_id || ',' || merchant_id || ',' || amount || ',' || is_fraud || ',' || \
           epoch(({at}) - event_timestamp) FROM '{d}/labels.parquet' \
         ORDER BY 1"
    );
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| r.get::<_, String>(0))
        .and_then(|r| r.collect())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_same_seed_gives_the_same_rows_relative_to_as_of() {
    let a = generate("2026-04-01");
    let b = generate("2027-02-15 06:30:00");
    let ra = relative_rows(a.path(), "2026-04-01 00:00:00");
    let rb = relative_rows(b.path(), "2027-02-15 06:30:00");
    assert_eq!(ra.len(), 100_000 + 400 + 10_000);
    assert!(ra == rb, "the rows differ relative to as_of");
    // Nothing happens after as_of, and the latest payment is in its last hour.
    let latest: f64 = ra
        .iter()
        .filter(|r| r.starts_with('t'))
        .filter_map(|r| r.split(',').nth(4)?.parse().ok())
        .fold(f64::INFINITY, f64::min);
    assert!((0.0..3600.0).contains(&latest), "{latest}");
}

#[test]
fn a_bad_as_of_is_refused_with_the_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("g.sql"), "SELECT 1;").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_mlp-sql"))
        .arg(dir.path().join("g.sql"))
        .args(["--as-of", "last tuesday"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`--as-of last tuesday` is not a date or a timestamp"),
        "{err}"
    );
}
