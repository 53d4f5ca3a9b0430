//! `specs/plan.schema.json` is the schema `mlpc ir --schema` generates from the IR types
//! (so it cannot drift from the code), and `mlpc ir` output on the examples validates
//! against it and reads back into the same plan.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mlpc(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("mlpc: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn committed_schema() -> Value {
    let text = std::fs::read_to_string(root().join("specs/plan.schema.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn committed_schema_is_the_generated_one() {
    let (code, out) = mlpc(&["ir", "--schema"]);
    assert_eq!(code, 0);
    let generated: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        generated,
        committed_schema(),
        "specs/plan.schema.json is stale: run `mlpc ir --schema > specs/plan.schema.json`"
    );
}

#[test]
fn example_plans_validate_and_round_trip() {
    let validator =
        jsonschema::validator_for(&committed_schema()).unwrap_or_else(|e| panic!("{e}"));
    for env in [None, Some("prod")] {
        let dir = root().join("examples/fraud");
        let dir = dir.to_string_lossy();
        let mut args = vec!["ir", dir.as_ref()];
        if let Some(e) = env {
            args.extend(["--env", e]);
        }
        let (code, out) = mlpc(&args);
        assert_eq!(code, 0, "{out}");
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(doc["format_version"], mlp_ir::FORMAT_VERSION);
        assert_eq!(doc["env"], env.map_or(Value::Null, Value::from));
        let plan = mlp_ir::Plan::from_json(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.to_json().trim(), out.trim());
    }
    // A document that breaks the schema is rejected: the schema is not vacuous.
    let bad = serde_json::json!({"format_version": "1.0", "project": "p", "env": null,
        "resources": [{"id": "x", "name": "x", "hash": "h", "origin": {}, "spec": {"kind": "nope"}}],
        "edges": []});
    assert!(!validator.is_valid(&bad));
}
