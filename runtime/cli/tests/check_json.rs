//! `mlpc check --format json` for editors: the output validates against
//! `specs/diagnostics.schema.json` and every diagnostic carries the exact line and column
//! (1-based, counted in characters) of its span.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("specs/diagnostics.schema.json"))
        .unwrap_or_else(|e| panic!("schema: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema: {e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn check_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .arg("check")
        .arg(dir)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("mlpc: {e}"));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

fn assert_valid(json: &Value) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid against the schema: {errors:#?}\n{json:#}"
    );
}

/// `(file name, line, column, end_line, end_column, code)` of each diagnostic.
fn positions(json: &Value) -> Vec<(String, u64, u64, u64, u64, String)> {
    json["diagnostics"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .map(|d| {
                    let file = d["file"].as_str().unwrap_or("");
                    let name = Path::new(file)
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let n = |k: &str| d[k].as_u64().unwrap_or(0);
                    (
                        name,
                        n("line"),
                        n("column"),
                        n("end_line"),
                        n("end_column"),
                        d["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn syntax_error_columns_count_characters() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("a.mlp"), "project p {}\n").unwrap_or_else(|e| panic!("{e}"));
    // After a complete statement the parser rejects `é`: the 15th character of line 4 (and
    // its 18th byte, after the two-byte `«`, `ü` and `»`).
    std::fs::write(
        dir.path().join("b.mlp"),
        "/// «Ünïcode» doc\nentity user {\n  key = user_id: int\n  doc = \"«ü»\" é\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, json) = check_json(dir.path(), &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_valid(&json);
    assert_eq!(
        positions(&json),
        vec![("b.mlp".to_string(), 4, 15, 4, 16, "E0001".to_string())]
    );
}

#[test]
fn semantic_errors_across_files_are_all_reported_with_positions() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("a.mlp"),
        "project p {}\n\nentity user {\n  key = user_id: int\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("b.mlp"),
        "source s {\n  path      = \"«ü»/${env.dta}.parquet\"\n  timestamp = ts\n\n  schema {\n    user_id: int\n    ts: timestamp\n    amount: float\n  }\n}\n\nfeatures v {\n  entity = usr\n  source = s\n  ttl    = 5/s\n\n  total: float = sum(amout) over 7d\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, json) = check_json(dir.path(), &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_valid(&json);
    let errors: Vec<_> = positions(&json)
        .into_iter()
        .filter(|p| !p.5.starts_with("E06"))
        .collect();
    let want = [
        // `${env.dta}` inside the string, after three two-byte characters: columns 20 to 30.
        ("b.mlp", 2, 20, 2, 30, "E0406"),
        ("b.mlp", 13, 12, 13, 15, "E0101"), // usr: did you mean user
        ("b.mlp", 15, 12, 15, 15, "E0208"), // a TTL must be a duration, not a rate
        ("b.mlp", 17, 22, 17, 27, "E0109"), // amout: did you mean amount
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(f, l, c, el, ec, code)| (f.to_string(), *l, *c, *el, *ec, code.to_string()))
        .collect();
    assert_eq!(errors, want);
    let helps: Vec<&str> = json["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["help"].as_str())
        .collect();
    assert!(helps.iter().any(|h| h.contains("`user`")), "{helps:?}");
    assert!(helps.iter().any(|h| h.contains("`amount`")), "{helps:?}");
}

#[test]
fn clean_example_validates_with_no_diagnostics() {
    let (code, json) = check_json(&root().join("examples/fraud"), &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_valid(&json);
    assert_eq!(json["errors"], 0);
    let (code, json) = check_json(&root().join("examples/fraud"), &["--env", "prod"]);
    assert_eq!(code, 0, "{json:#}");
    assert_valid(&json);
}

#[test]
fn env_yaml_errors_point_into_the_yaml_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("p.mlp"),
        "project p {\n  lineage = file(\"${env.data_dir}/o.jsonl\")\n  online  = memory(capacity = env.cap)\n}\n\nenv {\n  data_dir: string\n  cap: int = 10\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("env")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("env/prod.yaml"), "# prod\ncap: lots\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, json) = check_json(dir.path(), &["--env", "prod"]);
    assert_eq!(code, 1, "{json:#}");
    assert_valid(&json);
    let pos = positions(&json);
    // `lots` is not an int: the diagnostic points at the value in the YAML file.
    assert!(
        pos.iter()
            .any(|p| p.0 == "prod.yaml" && p.1 == 2 && p.2 == 6 && p.5.starts_with("E04")),
        "{pos:#?}"
    );
    // `data_dir` has no default and no value in prod.yaml.
    assert!(pos.iter().any(|p| p.5.starts_with("E04") && p.0 != "prod.yaml" || p.0 == "prod.yaml" && p.1 == 1), "{pos:#?}");
}
