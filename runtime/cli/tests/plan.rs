//! `mlpc plan` and `mlpc apply` on a real project folder: snapshots (insta) of the human and
//! JSON plan for every kind of change, the JSON validated against
//! `specs/changes.schema.json`, the exit codes of `--detailed-exitcode` and `--fail-on`,
//! and saved plans.

use mlp_test_support::{project, root, write, SHOP as BASE};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn mlpc(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("mlpc: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn apply(dir: &Path) {
    let (code, out, err) = mlpc(dir, &["apply", "proj", "--auto-approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Apply complete!"), "{out}");
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("specs/changes.schema.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"))
}

/// The JSON plan, validated, with content hashes masked (they change with any IR change).
fn json_plan(dir: &Path) -> Value {
    let (code, out, err) = mlpc(dir, &["plan", "proj", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let mut v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let errors: Vec<String> = validator()
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for c in v["changes"].as_array_mut().into_iter().flatten() {
        for k in ["before_hash", "after_hash"] {
            if c[k].is_string() {
                c[k] = Value::from("[hash]");
            }
        }
    }
    v
}

/// Applies BASE, writes `edited`, and snapshots the human and JSON plans as `name`.
fn scenario(name: &str, edited: &str) -> Value {
    let dir = project(BASE);
    apply(dir.path());
    write(dir.path(), edited);
    let (code, human, err) = mlpc(dir.path(), &["plan", "proj"]);
    assert_eq!(code, 0, "{err}");
    let json = json_plan(dir.path());
    insta::assert_snapshot!(format!("{name}_human"), human);
    insta::assert_json_snapshot!(format!("{name}_json"), json);
    json
}

fn change<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["changes"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no change to {id} in {json:#}"))
}

#[test]
fn schema_is_fresh() {
    let (code, out, _) = mlpc(&root(), &["plan", "--schema"]);
    assert_eq!(code, 0);
    let generated: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("specs/changes.schema.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(
        generated, committed,
        "run `mlpc plan --schema > specs/changes.schema.json`"
    );
}

#[test]
fn first_apply_then_no_change() {
    let dir = project(BASE);
    let (code, human, _) = mlpc(dir.path(), &["plan", "proj"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("first_apply_human", human);
    let json = json_plan(dir.path());
    assert_eq!(
        json["summary"]["add"],
        json["changes"].as_array().map_or(0, Vec::len)
    );
    insta::assert_json_snapshot!("first_apply_json", json);
    apply(dir.path());
    let (code, human, _) = mlpc(dir.path(), &["plan", "proj"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("no_change_human", human);
    insta::assert_json_snapshot!("no_change_json", json_plan(dir.path()));
}

#[test]
fn added_feature() {
    let json = scenario(
        "added_feature",
        &BASE.replace(
            "  count_7d: int",
            "  min_7d: float = min(amount) over 7d\n  count_7d: int",
        ),
    );
    assert_eq!(
        change(&json, "feature.stats.min_7d")["actions"],
        serde_json::json!(["create"])
    );
    assert_eq!(json["summary"]["breaking"], 0);
}

#[test]
fn changed_feature_read_by_a_deployed_model_is_breaking() {
    let json = scenario(
        "changed_feature",
        &BASE.replace(
            "avg_7d: float = avg(amount) over 7d",
            "avg_7d: float = avg(amount * 2) over 7d",
        ),
    );
    let c = change(&json, "feature.stats.avg_7d");
    assert_eq!(c["actions"], serde_json::json!(["update"]));
    assert_eq!(c["severity"], "breaking");
    for id in [
        "model.scorer",
        "deployment.api",
        "deployment.batch",
        "consumer.checkout",
    ] {
        assert!(
            c["reaches"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == id)),
            "{id} not reached: {c:#}"
        );
    }
}

#[test]
fn removed_feature_nothing_reads_is_compatible() {
    let json = scenario(
        "removed_feature",
        &BASE.replace("  max_7d: float = max(amount) over 7d\n", ""),
    );
    let c = change(&json, "feature.stats.max_7d");
    assert_eq!(c["actions"], serde_json::json!(["delete"]));
    assert_eq!(c["severity"], "compatible");
}

#[test]
fn type_change_is_a_breaking_replace() {
    let json = scenario(
        "type_change",
        &BASE.replace(
            "count_7d: int = count(*) over 7d",
            "count_7d: float = sum(amount) over 7d",
        ),
    );
    let c = change(&json, "feature.stats.count_7d");
    assert_eq!(c["actions"], serde_json::json!(["delete", "create"]));
    assert_eq!(c["severity"], "breaking");
}

#[test]
fn changed_ttl_needs_a_rematerialization() {
    let json = scenario("changed_ttl", &BASE.replace("ttl    = 2d", "ttl    = 7d"));
    let c = change(&json, "features.stats");
    assert_eq!(c["severity"], "breaking");
    assert!(
        c["reasons"][0].as_str().is_some_and(|r| r.contains("TTL")),
        "{c:#}"
    );
}

#[test]
fn renamed_model_input_is_breaking_for_the_deployments() {
    let edited = BASE.replace("avg_7d", "mean_7d");
    let json = scenario("renamed_model_input", &edited);
    assert_eq!(
        change(&json, "feature.stats.avg_7d")["severity"],
        "breaking"
    );
    assert_eq!(
        change(&json, "feature.stats.mean_7d")["actions"],
        serde_json::json!(["create"])
    );
    let m = change(&json, "model.scorer");
    assert_eq!(m["severity"], "breaking");
    assert!(
        m["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("inputs changed")),
        "{m:#}"
    );
}

#[test]
fn removed_consumer_target() {
    let json = scenario(
        "removed_consumer_target",
        &BASE.replace("uses = [api.score, batch.score]", "uses = api.score"),
    );
    let c = change(&json, "consumer.checkout");
    assert_eq!(c["actions"], serde_json::json!(["update"]));
}

#[test]
fn detailed_exitcode_and_fail_on_breaking() {
    let dir = project(BASE);
    // Changes present: 2; no changes: 0; errors: 1; a bad argument: 1.
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        2
    );
    apply(dir.path());
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        0
    );
    write(dir.path(), &BASE.replace("entity = user", "entity = usr"));
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        1
    );
    assert_eq!(
        mlpc(
            dir.path(),
            &["plan", "proj", "--detailed-exitcode", "--bogus"]
        )
        .0,
        1
    );
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--fail-on", "everything"]).0,
        1
    );
    // A breaking change fails CI with --fail-on breaking, and passes without it.
    write(
        dir.path(),
        &BASE.replace("avg(amount) over 7d", "avg(amount) over 14d"),
    );
    assert_eq!(mlpc(dir.path(), &["plan", "proj"]).0, 0);
    let (code, _, err) = mlpc(dir.path(), &["plan", "proj", "--fail-on", "breaking"]);
    assert_eq!(code, 1);
    assert!(err.contains("breaking"), "{err}");
    // A compatible change passes --fail-on breaking.
    write(
        dir.path(),
        &BASE.replace(
            "  count_7d: int",
            "  min_7d: float = min(amount) over 7d\n  count_7d: int",
        ),
    );
    assert_eq!(
        mlpc(
            dir.path(),
            &[
                "plan",
                "proj",
                "--fail-on",
                "breaking",
                "--detailed-exitcode"
            ]
        )
        .0,
        2
    );
}

#[test]
fn a_saved_plan_applies_exactly_once() {
    let dir = project(BASE);
    let (code, _, err) = mlpc(dir.path(), &["plan", "proj", "--out", "plan.json"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = mlpc(dir.path(), &["apply", "plan.json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Apply complete!"));
    // The state moved: the same saved plan is refused, and changes nothing.
    let (code, _, err) = mlpc(dir.path(), &["apply", "plan.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("stale"), "{err}");
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        0
    );
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let dir = project(BASE);
    let (code, _, err) = mlpc(dir.path(), &["apply", "proj"]);
    assert_eq!(code, 1);
    assert!(err.contains("--auto-approve"), "{err}");
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        2,
        "nothing was applied"
    );
}

#[test]
fn a_change_under_a_deployed_model_shows_everything_it_reaches_and_fails_ci() {
    let dir = project(BASE);
    apply(dir.path());
    write(
        dir.path(),
        &BASE.replace(
            "avg_7d: float = avg(amount) over 7d",
            "avg_7d: float = avg(amount) over 30d",
        ),
    );
    let (code, human, _) = mlpc(dir.path(), &["plan", "proj"]);
    assert_eq!(code, 0);
    // The human plan names the breaking change and everything downstream of it.
    assert!(
        human.contains("# breaking: window changed from 7d to 30d"),
        "{human}"
    );
    for id in [
        "model.scorer",
        "deployment.api",
        "deployment.batch",
        "consumer.checkout",
    ] {
        assert!(human.contains(id), "{id} not shown:\n{human}");
    }
    assert!(human.contains("1 breaking change."), "{human}");
    let (code, _, err) = mlpc(dir.path(), &["plan", "proj", "--fail-on", "breaking"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn apply_checks_source_files_against_the_declared_schema() {
    let dir = project(BASE);
    // A value that is not a float in the `amount` column: apply fails, names the file, the
    // line and the column, and records nothing.
    std::fs::write(
        dir.path().join("proj/t.csv"),
        "user_id,amount,ts\n1,lots,2026-01-01 10:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = mlpc(dir.path(), &["apply", "proj", "--auto-approve"]);
    assert_eq!(code, 1);
    for part in [
        "the feature store failed on `source.tx`",
        "t.csv",
        "\"amount\"",
        "1,lots",
    ] {
        assert!(err.contains(part), "expected `{part}` in: {err}");
    }
    assert_eq!(
        mlpc(dir.path(), &["plan", "proj", "--detailed-exitcode"]).0,
        2,
        "nothing applied"
    );
    // A missing column.
    std::fs::write(
        dir.path().join("proj/t.csv"),
        "user_id,ts\n1,2026-01-01 10:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = mlpc(dir.path(), &["apply", "proj", "--auto-approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no column `amount`"), "{err}");
    // A missing file.
    std::fs::remove_file(dir.path().join("proj/t.csv")).unwrap_or_else(|e| panic!("{e}"));
    let (code, _, err) = mlpc(dir.path(), &["apply", "proj", "--auto-approve"]);
    assert_eq!(code, 1);
    assert!(err.contains("t.csv"), "{err}");
}
