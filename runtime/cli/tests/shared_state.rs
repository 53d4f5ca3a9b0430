//! What servers that share a project need, on the example: with `MLP_STATE_DIR`, the applied
//! plan, the registry and its blobs, the online store and the prediction log all live in that
//! folder and nothing in the project's own `.mlp`, and a server started elsewhere than the
//! project's files serves from it; a server told it is one of several replicas
//! (`--replicas`, `MLP_REPLICAS`) refuses to start on the local online store, saying why,
//! and starts on Redis (connected on first use), warning when the state is not shared.

use mlp_test_support::serving::{call, example, listening, mlpc, mlpc_env, register_linear_env};
use serde_json::json;
use std::process::Command;

#[test]
fn the_state_lives_where_mlp_state_dir_says_and_replicas_need_a_shared_store() {
    let dir = example();
    let p = dir.path();
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state_dir = state.path().display().to_string();
    let env = [("MLP_STATE_DIR", state_dir.as_str())];

    mlpc_env(&["apply", ".", "--auto-approve"], p, &env);
    mlpc_env(&["materialize", "."], p, &env);
    register_linear_env(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true, &env);
    for alias in ["production", "staging"] {
        mlpc_env(
            &["registry", "alias", ".", "fraud_scorer", "1", alias],
            p,
            &env,
        );
    }
    assert!(!p.join(".mlp").exists(), "state written into the project");
    for f in [
        "state.duckdb",
        "registry.sqlite",
        "online.duckdb",
        "registry/blobs",
    ] {
        assert!(state.path().join(f).exists(), "{f} is not in MLP_STATE_DIR");
    }
    // Without the variable, the project's own (empty) state: nothing applied.
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"])
        .current_dir(p)
        .env_remove("MLP_STATE_DIR")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));

    // One of three replicas on the local store: refused, with the reason, by flag or env.
    for (args, extra) in [
        (vec!["--replicas", "3"], vec![]),
        (vec![], vec![("MLP_REPLICAS", "2")]),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"])
            .args(&args)
            .envs(env.iter().copied().chain(extra))
            .current_dir(p)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(
            said.contains("online store is `memory(...)`") && said.contains("online = redis("),
            "{said}"
        );
    }

    // One server, from the shared state: it answers, and logs into MLP_STATE_DIR.
    let mut server = listening(
        p,
        &["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"],
        &env,
    );
    let body = json!({
        "entities": {"user_id": 42},
        "request": {"amount": 80.0, "country": "DE", "merchant_id": 7},
    });
    let url = format!("{}/v1/deployments/fraud_api/predict", server.base);
    let (status, answer) = call("POST", &url, Some(body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(server.terminate(), Some(0));
    let logged = std::fs::read_dir(state.path().join("predictions"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    assert!(logged > 0, "no prediction log in MLP_STATE_DIR");
    assert!(!p.join(".mlp").exists());

    // On Redis (nothing listens: it is reached on first use), three replicas start, and say
    // that the state should be shared when it is not.
    let project = std::fs::read_to_string(p.join("project.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let project = project.replace(
        "online  = memory(capacity = env.online_capacity)",
        "online  = redis(\"redis://127.0.0.1:1/0\")",
    );
    std::fs::write(p.join("project.mlp"), project).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    let server = listening(
        p,
        &["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"],
        &[("MLP_REPLICAS", "3")],
    );
    assert!(
        server
            .wait_for("set MLP_STATE_DIR", std::time::Duration::from_secs(5))
            .is_some(),
        "no warning that the state is not shared"
    );
    let url = format!("{}/v1/features/online", server.base);
    let (status, answer) = call(
        "POST",
        &url,
        Some(json!({"features": ["user_stats.txn_count_7d"], "entities": {"user_id": [42]}})),
    );
    assert_eq!(status, 503, "{answer}");
}
