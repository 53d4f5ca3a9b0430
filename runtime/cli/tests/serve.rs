//! examples/fraud served end to end: the example applies, trains and registers (mlpc run),
//! the version is promoted to production, the pipeline has materialized the online store, and `mlpc serve`
//! answers predictions whose values equal what PyTorch computes on the same inputs (within
//! 1e-5). The prediction log is read with DuckDB while the server runs; bad requests get 4xx
//! JSON errors naming the field; production moves to a new version under load without a
//! failed request; SIGTERM stops the server and flushes the log, losing no record; a caller
//! the specs do not declare shows in `mlpc plan` and `mlpc lineage`.

use mlp_test_support::serving::{call, example, mlpc, serve, venv, Server};

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What PyTorch itself answers for `rows` with `fraud_scorer@production`'s artifact.
fn pytorch(p: &Path, rows: &[Vec<f64>]) -> Vec<f64> {
    let artifact = mlp_registry::Registry::open(p)
        .and_then(|r| {
            r.resolve("fraud_scorer", "production")
                .map(|v| r.artifact_path(&v))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let code = format!(
        "import torch, json\nm = torch.jit.load({:?})\nx = torch.tensor({}, dtype=torch.float32)\nprint(json.dumps(m(x).reshape(-1).tolist()))",
        artifact.display().to_string(),
        serde_json::to_string(rows).unwrap_or_default()
    );
    let out = Command::new(venv().join("bin/python"))
        .args(["-c", &code])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_fraud_example_serves_predictions_that_equal_pytorch_and_logs_them() {
    let dir = example();
    let p = dir.path();
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["run", ".", "train_fraud", "--quiet"], p);
    mlpc(
        &[
            "registry",
            "alias",
            ".",
            "fraud_scorer",
            "staging",
            "production",
        ],
        p,
    );
    // The pipeline's refresh step has materialized the online views.

    batch_scores_equal_pytorch(p);
    let mut server = serve(p);
    let predict = format!("{}/v1/deployments/fraud_api/predict", server.base);

    let (status, ready) = call("GET", &format!("{}/readyz", server.base), None);
    assert_eq!(
        ready["deployments"]["fraud_api"]["ready"], true,
        "{status} {ready}"
    );
    assert_eq!(
        ready["deployments"]["fraud_api"]["model_version"],
        "fraud_scorer@1"
    );

    predictions_equal_pytorch(p, &predict);
    bad_requests_name_the_field(&server.base, &predict);
    // A caller the specs do not declare.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .post(&predict)
        .header("X-MLP-Consumer", "mobile_app")
        .send_json(json!({"entities": {"user_id": 3}, "request": {"amount": 5.0, "country": "DE", "merchant_id": 1}}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 200);

    let log = the_log_is_readable_while_serving(p);
    // A materialization while the server runs: it waits for the server to release the
    // online table between reads, and succeeds.
    let m = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["materialize", "."])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let (status, _) = call(
        "POST",
        &predict,
        Some(
            json!({"entities": {"user_id": 42}, "request": {"amount": 480.0, "country": "US", "merchant_id": 2}}),
        ),
    );
    assert_eq!(status, 200);

    let seen = an_alias_moves_under_load(p, &mut server, &predict);
    // SIGTERM: a graceful stop with the log flushed.
    assert_eq!(server.terminate(), Some(0));
    the_undeclared_caller_is_reported(p);
    every_answer_of_the_move_is_logged(&log, &seen);
}

/// Batch scoring: every labelled checkout, point-in-time features, the same model.
fn batch_scores_equal_pytorch(p: &Path) {
    mlpc(
        &[
            "score",
            ".",
            "fraud_api",
            "--entities",
            "data/labels.parquet",
            "--out",
            "scores.parquet",
        ],
        p,
    );
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let scores = p.join("scores.parquet").display().to_string();
    let (rows, in_range): (i64, i64) = conn
        .query_row(
            &format!("SELECT count(*), count(*) FILTER (WHERE score BETWEEN 0 AND 1) FROM read_parquet('{scores}')"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rows, in_range), (10_000, 10_000));
    let first: Vec<f64> = conn
        .prepare(&format!("SELECT coalesce(user_stats__txn_count_7d, 0), coalesce(user_stats__avg_amount_7d, 0), coalesce(checkout_derived__amount_vs_avg, 0), CAST(coalesce(checkout_derived__foreign, false) AS DOUBLE), score FROM read_parquet('{scores}') LIMIT 1"))
        .and_then(|mut s| s.query_row([], |r| Ok((0..5).map(|i| r.get::<_, f64>(i).unwrap_or(f64::NAN)).collect())))
        .unwrap_or_else(|e| panic!("{e}"));
    let want = pytorch(p, &[first[..4].to_vec()])[0];
    assert!(
        (first[4] - want).abs() < 1e-5,
        "scored {}, PyTorch {want}",
        first[4]
    );
}

/// A batch of checkouts answers, with the inputs the model saw, what PyTorch computes on
/// them; one checkout as scalars answers scalars.
fn predictions_equal_pytorch(p: &Path, predict: &str) {
    let body = json!({
        "entities": {"user_id": [1, 42, 7, 999]},
        "request": {"amount": [12.5, 480.0, 75.0, 3.0], "country": ["DE", "US", "FR", "NL"], "merchant_id": [1, 2, 3, 4]},
        "return_inputs": true,
    });
    let (status, answer) = call("POST", predict, Some(body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["model_version"], "fraud_scorer@1");
    let scores: Vec<f64> = answer["outputs"]["score"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    assert_eq!(scores.len(), 4, "{answer}");
    // PyTorch itself on the same inputs, in the model block's order.
    let names = [
        "user_stats.txn_count_7d",
        "user_stats.avg_amount_7d",
        "checkout_derived.amount_vs_avg",
        "checkout_derived.foreign",
    ];
    let rows: Vec<Vec<f64>> = (0..4)
        .map(|i| {
            names
                .iter()
                .map(|n| match &answer["inputs"][n][i] {
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    v => v.as_f64().unwrap_or(0.0),
                })
                .collect()
        })
        .collect();
    let expected = pytorch(p, &rows);
    for (got, want) in scores.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-5, "served {got}, PyTorch {want}");
    }

    // One checkout as scalars answers scalars.
    let (status, one) = call(
        "POST",
        predict,
        Some(
            json!({"entities": {"user_id": 42}, "request": {"amount": 480.0, "country": "US", "merchant_id": 2}}),
        ),
    );
    assert_eq!(status, 200, "{one}");
    assert!((one["outputs"]["score"].as_f64().unwrap_or(-1.0) - scores[1]).abs() < 1e-6);
}

/// Bad requests: 4xx JSON errors that name the field.
fn bad_requests_name_the_field(base: &str, predict: &str) {
    let cases = [
        (
            json!({"entities": {"user_id": "x"}, "request": {"amount": 1.0, "country": "DE"}}),
            400,
            "`entities.user_id` at row 0 must be an integer",
        ),
        (
            json!({"entities": {}, "request": {"amount": 1.0, "country": "DE"}}),
            400,
            "missing entity key `entities.user_id`",
        ),
        (
            json!({"entities": {"user_id": [1, 2]}, "request": {"amount": [1.0], "country": ["DE"]}}),
            400,
            "same number of rows",
        ),
        (
            json!({"entities": {"user_id": 1}, "oops": 1}),
            400,
            "unknown field `oops`",
        ),
    ];
    for (body, want, text) in cases {
        let (status, e) = call("POST", predict, Some(body.clone()));
        assert_eq!(status, want, "{body}: {e}");
        assert!(
            e["error"].as_str().unwrap_or_default().contains(text),
            "{body}: {e}"
        );
    }
    let (status, e) = call("POST", predict, None);
    assert!(
        status == 400
            && e["error"]
                .as_str()
                .unwrap_or_default()
                .contains("invalid JSON"),
        "{e}"
    );
    let (status, _) = call(
        "POST",
        &format!("{}/v1/deployments/nope/predict", base),
        Some(json!({})),
    );
    assert_eq!(status, 404);
    let (status, e) = call(
        "POST",
        &format!("{}/v1/deployments/fraud_review/predict", base),
        Some(json!({})),
    );
    assert!(
        status == 503
            && e["error"]
                .as_str()
                .unwrap_or_default()
                .contains("not serving"),
        "{e}"
    );
}

/// The log is readable with DuckDB while the server runs (it flushes within a second): each
/// time a file appears in the log's folder, query it, until the two predictions are there.
/// Returns the log's folder.
fn the_log_is_readable_while_serving(p: &Path) -> PathBuf {
    let log = p.join(".mlp/predictions");
    std::fs::create_dir_all(&log).unwrap_or_else(|e| panic!("{e}"));
    let (tx, files) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).unwrap_or_else(|e| panic!("{e}"));
    notify::Watcher::watch(&mut watcher, &log, notify::RecursiveMode::NonRecursive)
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows_logged = loop {
        let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let glob = format!("{}/*.parquet", log.display());
        let rows = conn
            .query_row(&format!("SELECT count(*) FROM read_parquet('{glob}') WHERE consumer = 'checkout_service' AND model_version = 'fraud_scorer@1' AND status = 200 AND sampled"), [], |r| r.get::<_, i64>(0))
            .unwrap_or(0);
        let left = deadline.saturating_duration_since(Instant::now());
        if rows >= 2 || files.recv_timeout(left).is_err() {
            break rows;
        }
    };
    assert_eq!(
        rows_logged, 2,
        "the two answered predictions are in the log"
    );
    log
}

/// An alias move under load: clients keep predicting while production moves to a newly
/// trained version; no request fails, and the new version shows in answers. Returns what
/// the clients saw (status, version).
fn an_alias_moves_under_load(p: &Path, server: &mut Server, predict: &str) -> Vec<(u16, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(["run", ".", "train_fraud", "--quiet", "--param", "epochs=3"])
        .current_dir(p)
        .env("MLP_VENV", venv())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    // Version 2 is registered whether or not it passes the gate.
    let v2 = mlp_registry::Registry::open(p)
        .and_then(|r| r.resolve("fraud_scorer", "latest"))
        .map(|v| v.version)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v2, 2);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let url = predict.to_string();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, a) = call(
                        "POST",
                        &url,
                        Some(json!({"entities": {"user_id": 7}, "request": {"amount": 20.0, "country": "FR", "merchant_id": 1}})),
                    );
                    seen.push((status, a["model_version"].as_str().unwrap_or_default().to_string()));
                }
                seen
            })
        })
        .collect();
    mlpc(
        &["registry", "alias", ".", "fraud_scorer", "2", "production"],
        p,
    );
    // The server says when it has swapped the new version in (within a second); from then
    // on version 2 answers.
    assert!(
        server
            .wait_for(
                "fraud_api: fraud_scorer@production -> fraud_scorer@2",
                Duration::from_secs(20)
            )
            .is_some(),
        "the server never swapped version 2 in"
    );
    let (_, a) = call(
        "POST",
        predict,
        Some(
            json!({"entities": {"user_id": 7}, "request": {"amount": 20.0, "country": "FR", "merchant_id": 1}}),
        ),
    );
    assert_eq!(a["model_version"], "fraud_scorer@2", "{a}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<(u16, String)> = clients
        .into_iter()
        .flat_map(|c| {
            c.join()
                .unwrap_or_else(|_| panic!("a client failed (its call panicked) during the move"))
        })
        .collect();
    assert!(
        seen.iter().all(|(s, _)| *s == 200),
        "failed requests during the move: {:?}",
        seen.iter()
            .filter(|(s, _)| *s != 200)
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(
        seen.iter().any(|(_, v)| v == "fraud_scorer@1"),
        "no answer before the move"
    );
    assert!(
        seen.iter().any(|(_, v)| v == "fraud_scorer@2"),
        "no answer after the move"
    );

    seen
}

/// The undeclared caller shows in plan and lineage; the declared one does not.
fn the_undeclared_caller_is_reported(p: &Path) {
    let text = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
            .args(args)
            .current_dir(p)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let plan = text(&["plan", "."]);
    assert!(
        plan.contains("Undeclared consumers seen by `mlpc serve`"),
        "{plan}"
    );
    assert!(
        plan.contains("  mobile_app -> fraud_api: 1 request(s)"),
        "{plan}"
    );
    assert!(!plan.contains("checkout_service ->"), "{plan}");
    let lineage = text(&["lineage", "fraud_api", "--downstream", "--dir", "."]);
    assert!(
        lineage.contains("consumer.mobile_app (undeclared consumer)"),
        "{lineage}"
    );
    let plan_json: Value =
        serde_json::from_str(&text(&["plan", ".", "--format", "json"])).unwrap_or_default();
    assert_eq!(
        plan_json["undeclared_consumers"][0]["consumer"],
        "mobile_app"
    );
}

/// After the stop, every answered request of the move is in the log, by version.
fn every_answer_of_the_move_is_logged(log: &Path, seen: &[(u16, String)]) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let glob = format!("{}/*.parquet", log.display());
    let by_version = |v: &str| {
        conn.query_row(
            &format!("SELECT count(*) FROM read_parquet('{glob}') WHERE model_version = '{v}'"),
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
    };
    let answered_v2 = seen.iter().filter(|(_, v)| v == "fraud_scorer@2").count() as i64;
    assert!(by_version("fraud_scorer@2") >= answered_v2 && answered_v2 > 0);
    let total: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM read_parquet('{glob}')"),
            [],
            |r| r.get(0),
        )
        .unwrap_or(0);
    // Two batch/scalar predictions before, the clients' answers, the probes: none lost.
    assert!(
        total >= 2 + seen.len() as i64,
        "{total} logged, {} answered by the clients",
        seen.len()
    );
}
