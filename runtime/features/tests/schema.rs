//! Source files checked against the declared schema: a Parquet column of the wrong type is
//! named with the declared type and the type found; matching files pass.

use mlp_features::historical::SourceInfo;
use mlp_features::schema::check_source;
use mlp_ir::{Column, SourceFormat, Type};

fn source(path: &str) -> SourceInfo {
    SourceInfo {
        path: path.into(),
        format: SourceFormat::Parquet,
        timestamp: "ts".into(),
        created: None,
        schema: vec![
            Column::scalar("user_id", Type::Int),
            Column::scalar("amount", Type::Float),
            Column::scalar("ts", Type::Timestamp),
        ],
    }
}

#[test]
fn parquet_types_are_checked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let good = p.join("good.parquet");
    let bad = p.join("bad.parquet");
    conn.execute_batch(&format!(
        "COPY (SELECT 1::BIGINT AS user_id, 2.5::DOUBLE AS amount, TIMESTAMP '2026-01-01' AS ts) TO '{}' (FORMAT parquet);
         COPY (SELECT 1::BIGINT AS user_id, 'x' AS amount, TIMESTAMP '2026-01-01' AS ts) TO '{}' (FORMAT parquet);",
        good.display(),
        bad.display()
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    check_source(p, "tx", &source("good.parquet")).unwrap_or_else(|e| panic!("{e}"));
    let err = check_source(p, "tx", &source("bad.parquet"))
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("bad.parquet")
            && err.contains("`amount` is declared float but the file holds VARCHAR"),
        "{err}"
    );
    let err = check_source(p, "tx", &source("missing.parquet"))
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("missing.parquet"), "{err}");
}
