//! Bad inputs to a monitor give a clear message, never a panic, and are recorded in the
//! history as "no data" or "error": a log that does not exist yet, an empty window, an
//! all-null column, a column the spec names that the log lacks, a labels file without its
//! key column, a baseline file with another schema. The prediction log here is written
//! directly (the shape `mlp-serve` writes), so no model is needed. The monitors' JSON
//! validates against the schemas in `specs/`, which are what `--schema` prints.

use mlp_test_support::serving::{mlpc, mlpc_bin};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const SPEC: &str = r#"project p {}
request r {
  x: float
  y: float
  c: string
}
features f {
  has_c: bool = not is_null(r.c)
}
model m {
  inputs = [r.x, r.y, f.has_c]
  output = score: float
}
deployment d {
  model = m@1
  log   = all
}
monitor inputs {
  on       = d
  window   = 1h
  baseline = "base.parquet"
  labels   = "labels.parquet"

  check psi(r.x) < 0.2
  check mean(r.y) < 10
  check null_share(r.c) < 50%
  check auc(score, labels.y) > 0.5
  check error_rate < 1%
}
"#;

/// 2026-11-30T12:00:00Z in µs.
const NOON: i64 = 1_796_040_000_000_000;

fn sql(conn: &duckdb::Connection, s: &str) {
    conn.execute_batch(s).unwrap_or_else(|e| panic!("{e}: {s}"));
}

/// 200 requests in the hour before noon: `x` logged, `y` never (not a key of the JSON), `c`
/// always null.
fn write_log(p: &Path) {
    let dir = p.join(".mlp/predictions");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    // Named after its first record, as the server names its files.
    let first = NOON - 3_600_000_000;
    let file = dir
        .join(format!("part-{first}-1-000001.parquet"))
        .display()
        .to_string();
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    sql(&conn, &format!(
        "COPY (SELECT 'id' || i AS request_id, make_timestamp({NOON} - 3600000000 + i * 1000000) AS time,
                'd' AS deployment, 'm@1' AS model_version, NULL::VARCHAR AS shadow_version, NULL::VARCHAR AS consumer,
                200::USMALLINT AS status, NULL::VARCHAR AS error, 1::UINTEGER AS rows, true AS sampled,
                '{{}}'::JSON AS entities,
                json_object('x', [i % 17 * 1.0], 'c', [NULL]) AS request,
                json_object('r.x', [i % 17 * 1.0]) AS features,
                json_object('score', [(i % 10) / 10.0]) AS outputs,
                NULL::JSON AS shadow_outputs, 3.0 AS latency_ms
         FROM range(200) t(i)) TO '{file}' (FORMAT parquet)"
    ));
}

fn run(p: &Path, at: &str) -> (i32, Value) {
    let out = Command::new(mlpc_bin())
        .args(["monitor", "run", ".", "--format", "json", "--at", at])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

/// Each check's (outcome, message).
fn checks(run: &Value) -> Vec<(String, String)> {
    run[0]["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        c["outcome"].as_str().unwrap_or("").to_string(),
                        c["message"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn schema(name: &str) -> jsonschema::Validator {
    let root = mlp_test_support::fixtures::root();
    let text = std::fs::read_to_string(root.join(format!("specs/{name}.schema.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    let committed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(mlpc_bin())
        .args(["monitor", name.trim_start_matches("monitor-"), "--schema"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        committed, printed,
        "specs/{name}.schema.json is stale: run `mlpc monitor {} --schema > specs/{name}.schema.json`",
        name.trim_start_matches("monitor-")
    );
    jsonschema::validator_for(&committed).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn bad_inputs_are_no_data_or_errors_with_their_reason_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let base = p.join("base.parquet").display().to_string();
    let labels = p.join("labels.parquet").display().to_string();
    // The baseline has `x` as text: another schema than the spec's float.
    sql(&conn, &format!("COPY (SELECT CAST(i AS VARCHAR) AS x FROM range(100) t(i)) TO '{base}' (FORMAT parquet)"));
    // Labels without `request_id`.
    sql(&conn, &format!("COPY (SELECT i AS id, i % 2 = 0 AS y FROM range(100) t(i)) TO '{labels}' (FORMAT parquet)"));
    let run_schema = schema("monitor-run");

    // No log yet: no data everywhere, saying so.
    let (code, first) = run(p, "2026-11-30T12:00:00Z");
    assert_eq!(code, 4, "{first}");
    assert!(run_schema.is_valid(&first), "{first}");
    for (outcome, message) in checks(&first) {
        assert_eq!(outcome, "no_data");
        assert!(message.contains("no prediction log yet"), "{message}");
    }

    write_log(p);
    // An empty window (the day before): no data.
    let (code, empty) = run(p, "2026-11-29T12:00:00Z");
    assert_eq!(code, 4, "{empty}");
    let got = checks(&empty);
    assert!(
        got[..4]
            .iter()
            .all(|(o, m)| o == "no_data" && m.contains("no logged row")),
        "{got:?}"
    );
    assert!(got[4].1.contains("0 requests"), "{got:?}");

    // The hour before noon: each bad input named.
    let (code, bad) = run(p, "2026-11-30T12:00:00Z");
    assert_eq!(code, 1, "{bad}");
    assert!(run_schema.is_valid(&bad), "{bad}");
    let got = checks(&bad);
    let expect = [
        ("error", "column `x` is VARCHAR, the spec says float"),
        ("error", "has no column r.y"),
        ("fail", ""),
        ("error", "`request_id`"),
        ("pass", ""),
    ];
    for (i, ((outcome, message), (want, says))) in got.iter().zip(expect).enumerate() {
        assert_eq!(outcome, want, "check {i}: {message}");
        assert!(message.contains(says), "check {i}: {message}");
    }
    // An all-null column is a share of 1 for null_share, and no data for a distribution.
    assert_eq!(bad[0]["checks"][2]["value"], 1.0, "{bad}");

    // Everything is in the history, with the same states.
    let out = Command::new(mlpc_bin())
        .args(["monitor", "history", ".", "inputs", "--format", "json"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(schema("monitor-history").is_valid(&history), "{history}");
    let outcomes: Vec<&str> = history
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["outcome"].as_str()).collect())
        .unwrap_or_default();
    // Two windows of five checks: the noon window evaluated twice keeps its last rows only.
    assert_eq!(outcomes.len(), 10, "{history}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == "error").count(),
        3,
        "{outcomes:?}"
    );
    let out = Command::new(mlpc_bin())
        .args(["monitor", "status", ".", "--format", "json"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(schema("monitor-status").is_valid(&status), "{status}");
    assert_eq!(status.as_array().map(Vec::len), Some(5), "{status}");
}
