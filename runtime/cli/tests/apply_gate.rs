//! Apply is the gate: `mlpc serve` runs the plan the last `mlpc apply` stored, never the
//! source. With nothing applied it exits 1 and says to apply. A deployment added to the
//! source without an apply is not served (404), also after the server reloads the state,
//! and the server warns once, naming it; `mlpc apply` then makes it answer.

use mlp_test_support::serving::{call, example, mlpc, register_linear, serve};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, SystemTime};

const NEW: &str = "
deployment fraud_new {
  model = fraud_scorer@production
}
";

#[test]
fn serve_runs_the_applied_plan_and_an_unapplied_deployment_is_not_served() {
    let dir = example();
    let p = dir.path();

    // Nothing applied: serve refuses, and says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run `mlpc apply"), "{stderr}");

    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    register_linear(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true);
    for alias in ["production", "staging"] {
        mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
    }

    // A new deployment in the source, not applied.
    std::fs::write(p.join("new.mlp"), NEW).unwrap_or_else(|e| panic!("{e}"));
    let mut server = serve(p);
    let warning = server
        .wait_for("differs from the applied plan", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no warning that the source differs"));
    assert!(warning.contains("+ deployment.fraud_new"), "{warning}");
    let url = |d: &str| format!("{}/v1/deployments/{d}/predict", server.base);
    let body = json!({
        "entities": {"user_id": 42},
        "request": {"amount": 80.0, "country": "DE", "merchant_id": 7},
    });
    let (status, answer) = call("POST", &url("fraud_api"), Some(body.clone()));
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = call("POST", &url("fraud_new"), Some(body.clone()));
    assert_eq!(status, 404, "{answer}");

    // The state file changes (as an apply would make it): the server reads the applied plan
    // again, which still has no `fraud_new`.
    let state = p.join(".mlp/state.duckdb");
    std::fs::File::options()
        .append(true)
        .open(&state)
        .and_then(|f| f.set_modified(SystemTime::now() + Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        server
            .wait_for(
                "the applied plan is the one served",
                Duration::from_secs(30)
            )
            .is_some(),
        "the server did not reload the state"
    );
    let (status, answer) = call("POST", &url("fraud_new"), Some(body.clone()));
    assert_eq!(status, 404, "after a reload: {answer}");

    // Applied, it serves without a restart.
    mlpc(&["apply", ".", "--auto-approve"], p);
    assert!(
        server
            .wait_for("deployment `fraud_new` serves", Duration::from_secs(60))
            .is_some(),
        "fraud_new did not come up after the apply"
    );
    let (status, answer) = call("POST", &url("fraud_new"), Some(body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_version"], "fraud_scorer@1");
    assert_eq!(server.terminate(), Some(0));
}
