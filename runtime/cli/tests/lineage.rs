//! `mlpc lineage` on the fraud example: a single feature's lineage reaches the models,
//! deployments and consumers that read it; upstream walks back to its source;
//! references resolve from full ids, VIEW.FEATURE and unique names; unknown ones fail with a
//! suggestion.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lineage(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .arg("lineage")
        .args(args)
        .args(["--dir", "examples/fraud"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_feature_reaches_models_deployments_and_consumers() {
    let (code, out, err) = lineage(&[
        "user_stats.avg_amount_7d",
        "--downstream",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    for id in [
        "feature.checkout_derived.amount_vs_avg",
        "model.fraud_scorer",
        "deployment.fraud_api",
        "consumer.checkout_service",
        "consumer.review_queue",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|n| n["direction"] == "downstream"));
    insta::assert_snapshot!(
        "lineage_feature_text",
        lineage(&["user_stats.avg_amount_7d"]).1
    );
    insta::assert_snapshot!(
        "lineage_deployment_upstream_dot",
        lineage(&["fraud_api", "--upstream", "--format", "dot"]).1
    );
}

#[test]
fn references_resolve_or_fail_with_a_suggestion() {
    assert_eq!(lineage(&["feature.user_stats.avg_amount_7d"]).0, 0);
    assert_eq!(lineage(&["model.fraud_scorer"]).0, 0);
    assert_eq!(lineage(&["fraud_scorer"]).0, 0);
    let (code, _, err) = lineage(&["user_stat.avg_amount_7d"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("did you mean `user_stats.avg_amount_7d`"),
        "{err}"
    );
    let (code, _, _) = lineage(&["fraud_api", "--upstream", "--downstream"]);
    assert_eq!(code, 1, "conflicting flags are an argument error");
}
