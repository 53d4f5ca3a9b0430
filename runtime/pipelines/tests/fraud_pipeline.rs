//! examples/fraud's pipeline end to end: two point-in-time training sets, a real PyTorch
//! training step from the project's venv that exports TorchScript, registration of version 1
//! of `fraud_scorer` with its lineage, the `require` gate promoting it to `staging`, and the
//! online store refreshed. A second run re-runs nothing; a run whose model fails the gate
//! registers a version that the alias does not move to.

use mlp_pipelines::{run_pipeline, RunOptions, RunReport};
use mlp_registry::Registry;
use mlp_test_support::serving::{example, venv};
use std::path::Path;

fn run(dir: &Path, params: &[(&str, &str)]) -> RunReport {
    let checked = mlp_driver::check_dir(dir, None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let opts = RunOptions {
        pipeline: "train_fraud".into(),
        from: None,
        force: false,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        concurrency: 4,
        echo: false,
        trigger: "manual".into(),
        venv: Some(venv()),
        scheduled_at: None,
    };
    run_pipeline(&plan, dir, &opts).unwrap_or_else(|e| panic!("{e}"))
}

fn status<'a>(r: &'a RunReport, step: &str) -> &'a mlp_pipelines::StepRecord {
    r.steps
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("no step {step}"))
}

#[test]
fn the_fraud_pipeline_trains_registers_gates_and_promotes_a_torchscript_model() {
    let dir = example();
    let p = dir.path();
    let first = run(p, &[]);
    let errors: Vec<_> = first
        .steps
        .iter()
        .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.step)))
        .collect();
    assert_eq!(first.status, "succeeded", "{errors:?}");
    for s in &first.steps {
        assert_eq!(s.status, "succeeded", "{}", s.step);
    }

    // Version 1 knows where it came from.
    let reg = Registry::open(p).unwrap_or_else(|e| panic!("{e}"));
    let v = reg
        .resolve("fraud_scorer", "staging")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.version, 1);
    let train_out = p
        .join(".mlp/store")
        .join(status(&first, "train").output.clone().unwrap_or_default());
    assert_eq!(
        v.artifact_sha256,
        mlp_registry::sha256_file(&train_out.join("model.pt")).unwrap_or_default()
    );
    assert_eq!(
        std::fs::read(reg.artifact_path(&v)).unwrap_or_default(),
        std::fs::read(train_out.join("model.pt")).unwrap_or_default()
    );
    assert_eq!(v.origin.run_id.as_deref(), Some(first.run_id.as_str()));
    assert_eq!(v.origin.step.as_deref(), Some("train"));
    let ts = v.training_set.clone().unwrap_or_default();
    assert_eq!(Some(ts.sha256), status(&first, "dataset").output.clone());
    assert_eq!(
        ts.features,
        [
            "user_stats.txn_count_7d",
            "user_stats.avg_amount_7d",
            "checkout_derived.amount_vs_avg",
            "checkout_derived.foreign"
        ]
    );
    let auc = v.metrics.get("auc").copied().unwrap_or_default();
    assert!(auc >= 0.8, "auc {auc}");
    assert_eq!(v.params.get("epochs"), Some(&serde_json::json!(20)));
    let sig = v.signature.clone().unwrap_or_default();
    assert_eq!(sig.inputs.len(), 4);
    assert_eq!(sig.outputs, [("score".to_string(), "float".to_string())]);
    assert_eq!(
        reg.alias_history("fraud_scorer").unwrap_or_default().len(),
        1
    );

    // Nothing changed: nothing is trained again, and no version is added.
    let second = run(p, &[]);
    assert_eq!(second.status, "succeeded");
    for s in ["dataset", "history", "train"] {
        assert_eq!(status(&second, s).status, "cached", "{s}");
    }
    assert_eq!(
        reg.list(Some("fraud_scorer")).map(|l| l.len()).unwrap_or(0),
        1
    );

    // An untrained model is registered but fails the gate: staging stays on version 1 and
    // the online store is not refreshed.
    let bad = run(p, &[("epochs", "0")]);
    assert_eq!(bad.status, "failed");
    assert_eq!(status(&bad, "train").status, "succeeded");
    assert_eq!(status(&bad, "gate").status, "failed");
    let why = status(&bad, "gate").error.clone().unwrap_or_default();
    assert!(
        why.contains("gate `train.metrics.auc >= 0.80` failed"),
        "{why}"
    );
    assert!(why.contains("`staging` stays where it was"), "{why}");
    assert_eq!(status(&bad, "refresh").status, "skipped");
    let versions = reg.list(Some("fraud_scorer")).unwrap_or_default();
    assert_eq!(versions.len(), 2);
    assert!(versions[1].metrics.get("auc").copied().unwrap_or(1.0) < 0.8);
    assert_eq!(
        reg.resolve("fraud_scorer", "staging")
            .map(|v| v.version)
            .ok(),
        Some(1)
    );
    assert_eq!(
        reg.resolve("fraud_scorer", "latest")
            .map(|v| v.version)
            .ok(),
        Some(2)
    );
}
