//! `mlpc features historical`: a retrieval from the command line, and bad input (missing
//! files, a missing timestamp or key column, an unknown feature, an unknown output format)
//! answered with a clear error that names the file and the column, exit 1 and no panic.

use std::path::Path;
use std::process::Command;

const SPEC: &str = "project shop {}

entity user {
  key = user_id: int
}

source tx {
  path      = \"tx.csv\"
  timestamp = ts

  schema {
    user_id: int
    amount: float
    ts: timestamp
  }
}

features stats {
  entity = user
  source = tx

  amount: float
  n_1d: int = count(*) over 1d
}

pipeline refresh {
  step m {
    materialize {
      views = [stats]
    }
  }
}
";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        p.join("tx.csv"),
        "user_id,amount,ts\n1,10.0,2026-01-01 10:00:00\n1,20.0,2026-01-01 12:00:00\n2,5.0,2026-01-01 09:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        p.join("entities.csv"),
        "user_id,event_timestamp\n1,2026-01-01 11:00:00\n1,2026-01-01 13:00:00\n3,2026-01-01 13:00:00\n2,2026-01-01 08:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.join("no_ts.csv"), "user_id,when\n1,2026-01-01 11:00:00\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        p.join("no_key.csv"),
        "customer,event_timestamp\n1,2026-01-01 11:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn historical(dir: &Path, entities: &str, features: &str, out: &str) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["features", "historical", "."])
        .args(["--entities", entities, "--features", features, "--out", out])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn retrieves_point_in_time_values_in_input_order() {
    let dir = setup();
    let (code, err) = historical(
        dir.path(),
        "entities.csv",
        "stats.amount,stats.n_1d",
        "out.csv",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote 4 rows with 2 feature columns"), "{err}");
    let out = std::fs::read_to_string(dir.path().join("out.csv")).unwrap_or_default();
    assert_eq!(
        out,
        "user_id,event_timestamp,stats__amount,stats__n_1d\n\
         1,2026-01-01 11:00:00,10.0,1\n\
         1,2026-01-01 13:00:00,20.0,2\n\
         3,2026-01-01 13:00:00,,0\n\
         2,2026-01-01 08:00:00,,0\n"
    );
}

#[test]
fn bad_input_names_the_file_and_the_column() {
    let dir = setup();
    let cases = [
        ("missing.csv", "stats.amount", "out.csv", "missing.csv"),
        (
            "no_ts.csv",
            "stats.amount",
            "out.csv",
            "no column `event_timestamp`",
        ),
        (
            "no_key.csv",
            "stats.amount",
            "out.csv",
            "no column `user_id`",
        ),
        (
            "entities.csv",
            "stats.amout",
            "out.csv",
            "unknown feature `stats.amout`",
        ),
        (
            "entities.csv",
            "stats.amount",
            "out.xlsx",
            "must end in .parquet or .csv",
        ),
        (
            "entities.txt",
            "stats.amount",
            "out.csv",
            "expected a .parquet or .csv file",
        ),
    ];
    for (entities, features, out, expect) in cases {
        let (code, err) = historical(dir.path(), entities, features, out);
        assert_eq!(code, 1, "{entities} {features} {out}: {err}");
        assert!(
            err.contains(expect),
            "{entities} {features} {out}: expected `{expect}` in: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // A value of the wrong type in the source: the file, the line and the column.
    std::fs::write(
        dir.path().join("tx.csv"),
        "user_id,amount,ts\n1,abc,2026-01-01 10:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, err) = historical(dir.path(), "entities.csv", "stats.amount", "out.csv");
    assert_eq!(code, 1);
    for part in ["converting column \"amount\"", "tx.csv", "1,abc"] {
        assert!(err.contains(part), "expected `{part}` in: {err}");
    }
}

fn mlpc(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn materialize_then_read_online_and_verify() {
    let dir = setup();
    let p = dir.path();
    // Nothing materialized yet: a clear error.
    let (code, _, err) = mlpc(
        p,
        &[
            "features",
            "online",
            ".",
            "--entity",
            "user_id=1",
            "--features",
            "stats.amount",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("mlpc materialize"), "{err}");
    let (code, out, err) = mlpc(p, &["materialize", ".", "--until", "2026-01-01 13:00:00"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "stats: 2 keys updated, from the beginning to 2026-01-01 13:00:00"
    );
    // Once is enough: the same watermark again is refused.
    assert_eq!(
        mlpc(p, &["materialize", ".", "--until", "2026-01-01 13:00:00"]).0,
        1
    );
    let (code, out, err) = mlpc(
        p,
        &[
            "features",
            "online",
            ".",
            "--entity",
            "user_id=1",
            "--entity",
            "user_id=3",
            "--features",
            "stats.n_1d",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["columns"]["user_id"], serde_json::json!([1, 3]));
    assert_eq!(v["columns"]["stats__n_1d"], serde_json::json!([2, 0]));
    let (code, out, err) = mlpc(p, &["features", "verify", ".", "stats"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no skew"), "{out}");
    let (code, _, err) = mlpc(
        p,
        &[
            "features",
            "online",
            ".",
            "--entity",
            "customer=1",
            "--features",
            "stats.amount",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("lack `user_id`"), "{err}");
}
