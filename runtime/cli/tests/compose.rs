//! Composition graphs served and scored end to end on examples/fraud, with models whose
//! answers are known in closed form (linear layers, some behind a sigmoid), registered by
//! hand: `fraud_review` routes unsure scores to a `combine(mean, ...)`, `fraud_pipeline`
//! chains another deployment into a second model, and two graphs the test adds chain a model
//! that reads the first one's output (`fraud_stacked`) and weight two models
//! (`fraud_vote`). Every answer is checked against the closed form on the inputs the server
//! reports it used, for HTTP predictions and for `mlpc score`; the log records every version
//! a graph ran.

use mlp_test_support::serving::{call, example, mlpc, register_linear as register, serve, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// `fraud_scorer`: sigmoid(2 * amount_vs_avg - 2), over its four inputs.
const SCORER: ([f64; 4], f64) = ([0.0, 0.0, 2.0, 0.0], -2.0);
/// `fraud_deep` version 3: sigmoid(w . x) over its seven inputs (versions 1 and 2 have
/// other biases, so that serving the wrong version shows).
const DEEP: [f64; 7] = [0.01, 0.0, 0.0, 0.1, 0.5, 1.0, 0.2];
const DEEP_BIAS: [f64; 3] = [-1.0, -0.5, 0.0];

const EXTRA: &str = "
model fraud_stack {
  inputs = [fraud_scorer.score, checkout.amount]
  output = score: float
}

deployment fraud_stacked {
  model = chain(fraud_scorer@production, fraud_stack@1)
}

deployment fraud_vote {
  model = combine(weighted, fraud_scorer@production, fraud_deep@3, weights = [1.0, 3.0])
}

// The example's data is from early 2026 and merchant_profile's 30-day TTL has run out:
// the same column without a TTL.
features merchant_static {
  entity = merchant
  source = merchants

  risk_score: float
}

model merchant_risk {
  inputs = [merchant_static.risk_score]
  output = score: float
}

deployment merchant_lookup {
  model = merchant_risk@1
  mode  = lookup
}

deployment merchant_online {
  model = merchant_risk@1
}
";

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn dot(w: &[f64], x: &[f64]) -> f64 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// Input `name` of row `i` as the model saw it (null as 0, booleans as 1 and 0).
fn input(answer: &Value, name: &str, i: usize) -> f64 {
    match &answer["inputs"][name][i] {
        Value::Bool(b) => f64::from(u8::from(*b)),
        v => v.as_f64().unwrap_or(0.0),
    }
}

fn scorer(answer: &Value, i: usize) -> f64 {
    let x: Vec<f64> = [
        "user_stats.txn_count_7d",
        "user_stats.avg_amount_7d",
        "checkout_derived.amount_vs_avg",
        "checkout_derived.foreign",
    ]
    .iter()
    .map(|n| input(answer, n, i))
    .collect();
    sigmoid(dot(&SCORER.0, &x) + SCORER.1)
}

fn deep(answer: &Value, i: usize) -> f64 {
    let x: Vec<f64> = [
        "user_stats.txn_count_7d",
        "user_stats.avg_amount_7d",
        "user_stats.max_amount_1d",
        "user_stats.countries_30d",
        "checkout_derived.amount_vs_avg",
        "checkout_derived.big_and_foreign",
        "merchant_profile.risk_score",
    ]
    .iter()
    .map(|n| input(answer, n, i))
    .collect();
    sigmoid(dot(&DEEP, &x) + DEEP_BIAS[2])
}

fn scores(answer: &Value) -> Vec<f64> {
    answer["outputs"]["score"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        // The models compute in f32: 1e-5, relative to the value's size past 1.
        assert!(
            (g - w).abs() < 1e-5 * w.abs().max(1.0),
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn composition_graphs_answer_what_their_models_compute() {
    let dir = example();
    let p = dir.path();
    std::fs::write(p.join("extra.mlp"), EXTRA).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    register(p, "fraud_scorer", &SCORER.0, SCORER.1, true);
    mlpc(
        &["registry", "alias", ".", "fraud_scorer", "1", "production"],
        p,
    );
    for b in DEEP_BIAS {
        register(p, "fraud_deep", &DEEP, b, true);
    }
    register(p, "merchant_risk", &[0.5], 0.1, true);

    route_scores_match_the_closed_form(p);
    let mut server = serve(p);
    let url = |d: &str| format!("{}/v1/deployments/{d}/predict", server.base);
    // `fraud_stack` has no version yet: its deployment waits, and serves once one is
    // registered, without a restart.
    let (status, _) = call("POST", &url("fraud_stacked"), Some(json!({})));
    assert_eq!(status, 503);
    register(p, "fraud_stack", &[2.0, 0.001], 0.0, false);
    assert!(
        server
            .wait_for("deployment `fraud_stacked` serves", Duration::from_secs(60))
            .is_some(),
        "fraud_stacked did not come up after its model was registered"
    );
    // User 987654321 has no history: amount_vs_avg is the amount itself (1.0: unsure, so
    // routed); the others are sure one way or the other.
    let body = json!({
        "entities": {"user_id": [1, 42, 987654321, 7], "merchant_id": [1, 2, 3, 4]},
        "request": {"amount": [0.0, 1.0e6, 1.0, 0.0], "country": ["DE", "US", "FR", "NL"], "merchant_id": [1, 2, 3, 4]},
        "return_inputs": true,
    });
    graphs_answer_their_models(&url, &body);
    lookups_answer_as_online(&server, &url);
    named_routes_answer(&server.base);
    an_apply_swaps_weights_under_load(p, &server, &url, &body);

    // Readiness names every version a graph serves.
    let (_, ready) = call("GET", &format!("{}/readyz", server.base), None);
    assert_eq!(
        ready["deployments"]["fraud_vote"]["model_versions"],
        json!(["fraud_scorer@1", "fraud_deep@3"]),
        "{ready}"
    );

    // After a graceful stop the log holds the stacked prediction with both versions.
    assert_eq!(server.terminate(), Some(0));
    let glob = p.join(".mlp/predictions/*.parquet").display().to_string();
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let logged: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM read_parquet('{glob}') WHERE deployment = 'fraud_stacked' AND model_version = 'fraud_scorer@1,fraud_stack@1'"),
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(logged, 1);
}

/// Batch scoring of the route: every labelled checkout, checked in SQL against the closed
/// form on the point-in-time inputs written beside the score.
fn route_scores_match_the_closed_form(p: &Path) {
    mlpc(
        &[
            "score",
            ".",
            "fraud_review",
            "--entities",
            "data/labels.parquet",
            "--out",
            "review.parquet",
        ],
        p,
    );
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let file = p.join("review.parquet").display().to_string();
    let (rows, routed, worst): (i64, i64, f64) = conn
        .query_row(
            &format!(
                "WITH x AS (
                   SELECT score,
                     1 / (1 + exp(-(2 * coalesce(checkout_derived__amount_vs_avg, 0) - 2))) AS s,
                     1 / (1 + exp(-(0.01 * coalesce(user_stats__txn_count_7d, 0)
                                   + 0.1 * coalesce(user_stats__countries_30d, 0)
                                   + 0.5 * coalesce(checkout_derived__amount_vs_avg, 0)
                                   + CAST(coalesce(checkout_derived__big_and_foreign, false) AS DOUBLE)
                                   + 0.2 * coalesce(merchant_profile__risk_score, 0)))) AS d
                   FROM read_parquet('{file}'))
                 SELECT count(*), count(*) FILTER (WHERE s > 0.3 AND s < 0.7),
                   max(abs(score - CASE WHEN s > 0.3 AND s < 0.7 THEN (s + d) / 2 ELSE s END))
                 FROM x"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows, 10_000);
    assert!(routed > 0 && routed < rows, "{routed} of {rows} routed");
    assert!(worst < 1e-5, "largest difference {worst}");
}

/// A route, a chain through another deployment, a chain whose second model reads the
/// first's output, and a weighted combination answer what their models compute.
fn graphs_answer_their_models(url: &dyn Fn(&str) -> String, body: &Value) {
    let (status, review) = call("POST", &url("fraud_review"), Some(body.clone()));
    assert_eq!(status, 200, "{review}");
    let want: Vec<f64> = (0..4)
        .map(|i| {
            let s = scorer(&review, i);
            if s > 0.3 && s < 0.7 {
                (s + deep(&review, i)) / 2.0
            } else {
                s
            }
        })
        .collect();
    close(&scores(&review), &want, "route");
    assert!((scorer(&review, 2) - 0.5).abs() < 1e-6, "{review}");
    assert_eq!(
        review["model_versions"],
        json!(["fraud_scorer@1", "fraud_deep@3"])
    );
    // A request no row of which is unsure runs the router alone.
    let (status, sure) = call(
        "POST",
        &url("fraud_review"),
        Some(
            json!({"entities": {"user_id": 1, "merchant_id": 1}, "request": {"amount": 0.0, "country": "DE", "merchant_id": 1}}),
        ),
    );
    assert_eq!(status, 200, "{sure}");
    assert_eq!(sure["model_versions"], json!(["fraud_scorer@1"]));

    // A chain through another deployment: fraud_api's model, then fraud_deep@latest (3).
    let (status, chained) = call("POST", &url("fraud_pipeline"), Some(body.clone()));
    assert_eq!(status, 200, "{chained}");
    let want: Vec<f64> = (0..4).map(|i| deep(&chained, i)).collect();
    close(&scores(&chained), &want, "chain");
    assert_eq!(
        chained["model_versions"],
        json!(["fraud_scorer@1", "fraud_deep@3"])
    );

    // A chain whose second model reads the first one's output.
    let (status, stacked) = call("POST", &url("fraud_stacked"), Some(body.clone()));
    assert_eq!(status, 200, "{stacked}");
    let amounts = [0.0, 1.0e6, 1.0, 0.0];
    let want: Vec<f64> = (0..4)
        .map(|i| 2.0 * scorer(&stacked, i) + 0.001 * amounts[i])
        .collect();
    close(&scores(&stacked), &want, "stacked chain");
    assert_eq!(stacked["model_version"], "fraud_scorer@1,fraud_stack@1");

    // A weighted combination.
    let (status, vote) = call("POST", &url("fraud_vote"), Some(body.clone()));
    assert_eq!(status, 200, "{vote}");
    let want: Vec<f64> = (0..4)
        .map(|i| (scorer(&vote, i) + 3.0 * deep(&vote, i)) / 4.0)
        .collect();
    close(&scores(&vote), &want, "weighted combine");
}

/// A lookup deployment answers from its table what the same model answers online, known
/// merchants and an unknown one alike.
fn lookups_answer_as_online(server: &Server, url: &dyn Fn(&str) -> String) {
    assert!(
        server
            .wait_for(
                "deployment `merchant_lookup`: lookup table of",
                Duration::from_secs(60)
            )
            .is_some(),
        "no lookup table"
    );
    let merchants =
        json!({"entities": {"merchant_id": [1, 2, 3, 987654321]}, "return_inputs": true});
    let (status, table) = call("POST", &url("merchant_lookup"), Some(merchants.clone()));
    assert_eq!(status, 200, "{table}");
    let (status, online) = call("POST", &url("merchant_online"), Some(merchants));
    assert_eq!(status, 200, "{online}");
    let want: Vec<f64> = (0..4)
        .map(|i| sigmoid(0.5 * input(&online, "merchant_static.risk_score", i) + 0.1))
        .collect();
    close(&scores(&online), &want, "merchant online");
    close(&scores(&table), &want, "merchant lookup");
    assert_eq!(table["model_version"], "merchant_risk@1");
    assert!(
        input(&online, "merchant_static.risk_score", 0) != 0.0,
        "merchant 1 has no risk score: {online}"
    );
    let (_, ready) = call("GET", &format!("{}/readyz", server.base), None);
    assert!(
        ready["deployments"]["merchant_lookup"]["lookup_keys"].as_u64() > Some(0),
        "{ready}"
    );
}

/// The named routes (matched by hand, not by actix's router): OIP metadata, readiness and
/// infer on raw inputs, the registry, and a JSON 404 for anything else.
fn named_routes_answer(base: &str) {
    let (status, meta) = call("GET", &format!("{base}/v2/models/fraud_vote"), None);
    assert_eq!(
        (status, meta["name"].as_str()),
        (200, Some("fraud_vote")),
        "{meta}"
    );
    let (status, ready) = call("GET", &format!("{base}/v2/models/fraud_vote/ready"), None);
    assert_eq!(
        (status, ready["ready"].as_bool()),
        (200, Some(true)),
        "{ready}"
    );
    let raw =
        json!({"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [0.5, 0.0]}]});
    let (status, inferred) = call(
        "POST",
        &format!("{base}/v2/models/merchant_online/infer"),
        Some(raw),
    );
    assert_eq!(status, 200, "{inferred}");
    let data: Vec<f64> = inferred["outputs"][0]["data"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    close(&data, &[sigmoid(0.35), sigmoid(0.1)], "infer on raw inputs");
    let (status, models) = call("GET", &format!("{base}/v1/registry/models"), None);
    assert_eq!(status, 200, "{models}");
    assert!(models.to_string().contains("fraud_deep"), "{models}");
    for path in ["/v1/deployments/fraud_vote", "/v2/models/", "/nowhere"] {
        let (status, e) = call("GET", &format!("{base}{path}"), None);
        assert!(
            status == 404 && e["error"].is_string(),
            "{path}: {status} {e}"
        );
    }
}

/// An apply that changes the weights swaps `fraud_vote` while a client keeps calling it: no
/// request fails, and the new weights answer once the server says it reloaded.
fn an_apply_swaps_weights_under_load(
    p: &Path,
    server: &Server,
    url: &dyn Fn(&str) -> String,
    body: &Value,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let client = {
        let (stop, url, body) = (stop.clone(), url("fraud_vote"), body.clone());
        std::thread::spawn(move || {
            let mut failed = Vec::new();
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match call("POST", &url, Some(body.clone())) {
                    (200, _) => answered += 1,
                    (s, e) => failed.push(format!("{s} {e}")),
                }
            }
            (answered, failed)
        })
    };
    std::fs::write(
        p.join("extra.mlp"),
        EXTRA.replace("weights = [1.0, 3.0]", "weights = [3.0, 1.0]"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    let line = server.wait_for("deployment `fraud_vote` reloaded", Duration::from_secs(60));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (answered, failed) = client.join().unwrap_or_else(|_| panic!("client panicked"));
    assert!(line.is_some(), "the server did not reload fraud_vote");
    assert!(
        failed.is_empty() && answered > 0,
        "{answered} answered; failed: {failed:?}"
    );
    let (status, vote) = call("POST", &url("fraud_vote"), Some(body.clone()));
    assert_eq!(status, 200, "{vote}");
    let want: Vec<f64> = (0..4)
        .map(|i| (3.0 * scorer(&vote, i) + deep(&vote, i)) / 4.0)
        .collect();
    close(&scores(&vote), &want, "reweighted combine after apply");
}
