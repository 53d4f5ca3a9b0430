//! Strict requests: the served example gets one request per wrong-typed value and per
//! extreme (text for a float, a float for an integer, past the 64-bit range, the non-finite
//! numbers JSON cannot carry, bad timestamps, ragged batches, empty, oversized and deeply
//! nested bodies, unknown fields). Each answers its status and a message naming the field
//! and the row; the server answers normally afterwards. A null request field is a missing
//! value: accepted, and the model sees 0 for the input computed from it.

use mlp_test_support::serving::{call, example, mlpc, register_linear, serve};
use serde_json::{json, Value};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// POSTs a raw body; the status and the answer (JSON, or the text when it is none).
fn post_raw(url: &str, body: Vec<u8>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(url)
        .header("content-type", "application/json")
        .send(&body[..])
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("POST {url}: the body: {e}"));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn wrong_values_get_a_400_naming_the_field_and_row_and_nulls_are_missing_values() {
    let dir = example();
    let p = dir.path();
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    // score = sigmoid(2 * amount_vs_avg - 2)
    register_linear(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true);
    for alias in ["production", "staging"] {
        mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
    }
    let mut server = serve(p);
    let url = format!("{}/v1/deployments/fraud_api/predict", server.base);
    let good = json!({
        "entities": {"user_id": [42, 7]},
        "request": {"amount": [80.0, 12.5], "country": ["DE", "FR"], "merchant_id": [7, 8]},
    });
    let (status, first) = call("POST", &url, Some(good.clone()));
    assert_eq!(status, 200, "{first}");

    let mut cases = wrong_values(&good);
    cases.extend(wrong_bodies(&good));
    each_answers_its_status_and_message_and_the_server_goes_on(&url, cases, &good, &first);
    nulls_are_missing_values(&url);
    assert_eq!(server.terminate(), Some(0));
}

/// One case: what it is, the body, the status it answers and what its message says.
type Case = (&'static str, Vec<u8>, u16, &'static str);

/// `good` with the value at `path` replaced by `v`, as bytes.
fn good_with(good: &Value, path: &[&str], v: Value) -> Vec<u8> {
    let mut b = good.clone();
    let mut at = &mut b;
    for k in path {
        at = &mut at[*k];
    }
    *at = v;
    b.to_string().into_bytes()
}

/// The wrong-typed values and extremes: text for a float, a float for an integer, past the
/// 64-bit range, the non-finite numbers JSON cannot carry, ragged batches.
fn wrong_values(good: &Value) -> Vec<Case> {
    let with = |path: &[&str], v: Value| good_with(good, path, v);
    vec![
        (
            "text for a float",
            with(&["request", "amount"], json!([80.0, "x"])),
            400,
            "`request.amount` at row 1 must be a number, got \"x\"",
        ),
        (
            "a float for an int",
            with(&["request", "merchant_id"], json!([7, 8.5])),
            400,
            "`request.merchant_id` at row 1 must be an integer, got 8.5 (not a whole number)",
        ),
        (
            "1.0 for an int",
            with(&["request", "merchant_id"], json!([1.0, 8])),
            400,
            "`request.merchant_id` at row 0 must be an integer, got 1.0",
        ),
        (
            "an entity key past i64",
            b"{\"entities\": {\"user_id\": [42, 9223372036854775808]}, \"request\": {\"amount\": [1.0, 2.0], \"country\": [\"DE\", \"FR\"], \"merchant_id\": [7, 8]}}".to_vec(),
            400,
            "`entities.user_id` at row 1 must be an integer, got 9223372036854775808 (past the 64-bit integer range)",
        ),
        (
            "a request int past i64",
            b"{\"entities\": {\"user_id\": 42}, \"request\": {\"amount\": 1.0, \"country\": \"DE\", \"merchant_id\": 18446744073709551615}}".to_vec(),
            400,
            "`request.merchant_id` at row 0 must be an integer, got 18446744073709551615 (past the 64-bit integer range)",
        ),
        (
            "a null entity key",
            with(&["entities", "user_id"], json!([42, null])),
            400,
            "`entities.user_id` at row 1 is null; it must be an integer",
        ),
        (
            "a bool for a string",
            with(&["request", "country"], json!(["DE", true])),
            400,
            "`request.country` at row 1 must be a string, got true",
        ),
        (
            "a list inside a value",
            with(&["request", "amount"], json!([[1.0], 2.0])),
            400,
            "`request.amount` at row 0 must be a number, got [1.0]",
        ),
        (
            "an object for a value",
            with(&["entities", "user_id"], json!([{"id": 1}, 2])),
            400,
            "`entities.user_id` at row 0 must be an integer, got {\"id\":1}",
        ),
        (
            "NaN (not JSON)",
            b"{\"entities\": {\"user_id\": 42}, \"request\": {\"amount\": NaN, \"country\": \"DE\", \"merchant_id\": 7}}".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "Infinity (not JSON)",
            b"{\"entities\": {\"user_id\": 42}, \"request\": {\"amount\": -Infinity, \"country\": \"DE\", \"merchant_id\": 7}}".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "a number past f64",
            b"{\"entities\": {\"user_id\": 42}, \"request\": {\"amount\": 1e400, \"country\": \"DE\", \"merchant_id\": 7}}".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "a ragged batch",
            with(&["request", "country"], json!(["DE"])),
            400,
            "`request.country` has 1 value(s) where the other fields have 2",
        ),
        (
            "a list beside a scalar",
            with(&["request", "country"], json!("DE")),
            400,
            "give every field as a list, or none",
        ),
        (
            "entities and request of different lengths",
            with(&["entities", "user_id"], json!([1, 2, 3])),
            400,
            "`entities` and `request` must have the same number of rows",
        ),
    ]
}

/// The wrong bodies: empty, not an object, unknown or missing fields, deeply nested,
/// oversized, too many rows.
fn wrong_bodies(good: &Value) -> Vec<Case> {
    let with = |path: &[&str], v: Value| good_with(good, path, v);
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        ("an empty body", Vec::new(), 400, "invalid JSON"),
        ("a JSON array", b"[1, 2]".to_vec(), 400, "the body must be an object"),
        (
            "an unknown top-level field",
            with(&["requests"], json!({})),
            400,
            "unknown field `requests`",
        ),
        (
            "an unknown request field",
            with(&["request", "amout"], json!([1.0, 2.0])),
            400,
            "unknown request field `request.amout`",
        ),
        (
            "a missing request field",
            b"{\"entities\": {\"user_id\": 42}, \"request\": {\"country\": \"DE\", \"merchant_id\": 7}}".to_vec(),
            400,
            "lacks `amount`",
        ),
        ("deep nesting", deep.into_bytes(), 400, "invalid JSON"),
        (
            "an oversized body (over 4 MiB)",
            format!("{{\"pad\": \"{}\"}}", "x".repeat(5 * 1024 * 1024)).into_bytes(),
            413,
            "",
        ),
        (
            "11,000 rows (over the 10,000 limit)",
            json!({
                "entities": {"user_id": vec![1; 11_000]},
                "request": {"amount": vec![1.0; 11_000], "country": vec!["DE"; 11_000], "merchant_id": vec![7; 11_000]},
            })
            .to_string()
            .into_bytes(),
            400,
            "11000 rows in one request; at most 10000",
        ),
    ]
}

/// Each wrong request answers its status and a message naming the field and the row; the
/// server answers normally after each.
fn each_answers_its_status_and_message_and_the_server_goes_on(
    url: &str,
    cases: Vec<Case>,
    good: &Value,
    first: &Value,
) {
    for (what, body, status, message) in cases {
        let (got, answer) = post_raw(url, body);
        assert_eq!(got, status, "{what}: {answer}");
        if status == 400 {
            let e = answer["error"].as_str().unwrap_or_default();
            assert!(e.contains(message), "{what}: {e:?} lacks {message:?}");
        }
        // The server answers normally after each.
        let (ok, again) = call("POST", url, Some(good.clone()));
        assert_eq!(ok, 200, "after {what}: {again}");
        assert_eq!(again["outputs"], first["outputs"], "after {what}");
    }
}

/// A null request field is a missing value: on-demand features computed from it are
/// null, and the model sees 0 for that input.
fn nulls_are_missing_values(url: &str) {
    let body = json!({
        "entities": {"user_id": [42, 42]},
        "request": {"amount": [null, 80.0], "country": ["DE", null], "merchant_id": [7, null]},
        "return_inputs": true,
    });
    let (status, answer) = call("POST", url, Some(body));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["inputs"]["checkout_derived.amount_vs_avg"][0],
        Value::Null
    );
    let score0 = answer["outputs"]["score"][0].as_f64().unwrap_or(f64::NAN);
    assert!((score0 - sigmoid(-2.0)).abs() < 1e-6, "{answer}");
}
