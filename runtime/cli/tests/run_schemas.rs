//! `specs/run.schema.json` and `specs/model-version.schema.json` are what `mlpc runs --schema`
//! and `mlpc registry list --schema` generate from the types (so they cannot drift), and what
//! `mlpc run`, `mlpc runs` and `mlpc registry show` print validates against them.

use mlp_test_support::schema::{assert_valid, committed_schema};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// mlpc without a Python venv (the stand-in model below is TorchScript in layout only).
fn mlpc(args: &[&str], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .current_dir(dir)
        .env("MLP_VENV", dir.join("no-venv"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    let here = mlp_test_support::root();
    assert_eq!(
        json(&mlpc(&["runs", "--schema"], &here)),
        committed_schema("run.schema.json"),
        "specs/run.schema.json is stale: run `mlpc runs --schema > specs/run.schema.json`"
    );
    assert_eq!(
        json(&mlpc(&["registry", "list", "--schema"], &here)),
        committed_schema("model-version.schema.json"),
        "specs/model-version.schema.json is stale: run `mlpc registry list --schema > specs/model-version.schema.json`"
    );
}

#[test]
fn run_records_and_versions_validate() {
    let src = format!(
        "{}\npipeline p {{\n  step a {{\n    run = \"echo x > ${{out}}/x\"\n  }}\n\n  step b {{\n    after = [a]\n    run   = \"exit 3\"\n  }}\n}}\n",
        mlp_test_support::SHOP
    );
    let dir = mlp_test_support::project(&src);
    let p = dir.path().join("proj");
    let run_schema = committed_schema("run.schema.json");
    assert_valid(
        &run_schema,
        &json(&mlpc(&["run", "p", "--format", "json"], &p)),
    );
    let runs = json(&mlpc(&["runs", "--format", "json"], &p));
    for r in runs.as_array().into_iter().flatten() {
        assert_valid(&run_schema, r);
    }
    let mut pt = b"PK\x03\x04".to_vec();
    pt.extend_from_slice(b"archive/data.pkl archive/code/x.py");
    std::fs::write(p.join("m.pt"), pt).unwrap_or_else(|e| panic!("{e}"));
    mlpc(
        &["registry", "register", "scorer", "--artifact", "m.pt"],
        &p,
    );
    assert_valid(
        &committed_schema("model-version.schema.json"),
        &json(&mlpc(
            &["registry", "show", "scorer", "--format", "json"],
            &p,
        )),
    );
}
