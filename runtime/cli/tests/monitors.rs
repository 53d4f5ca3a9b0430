//! Monitors end to end: the example served, undrifted traffic, then traffic with `amount`
//! shifted, then undrifted again; `mlpc monitor run` at the end of each phase passes, fails
//! the psi and drift checks, and passes again. A real local HTTP receiver gets exactly one
//! firing notification (Alertmanager's payload, version 4) and one resolved notification;
//! an unreachable webhook is tried three times, each attempt recorded, and stops nothing;
//! the history holds the three evaluations.

use mlp_test_support::serving::{
    call, dead_url, example, labelled_checkouts, mlpc, mlpc_bin, register_linear, send_checkouts,
    serve_with,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// The window of the test's monitor: each phase of traffic fits in it, and the next phase
/// starts a full window after the last one ended, so that each window holds one phase.
const WINDOW: Duration = Duration::from_secs(6);

/// A webhook receiver on a free loopback port: every POST body arrives on the channel.
fn receiver() -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/hook",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let mut stream = reader.into_inner();
            let answered = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .is_ok();
            let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if !answered || tx.send(parsed).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn rfc3339(t: SystemTime) -> String {
    let us = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    chrono::DateTime::from_timestamp_micros(i64::try_from(us).unwrap_or(i64::MAX))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

/// Waits for the clock (not for another process) to pass `t`.
fn until(t: SystemTime) {
    while let Ok(left) = t.duration_since(now()) {
        std::thread::sleep(left);
    }
}

fn monitor_run(p: &Path, at: SystemTime) -> (i32, Value) {
    let out = Command::new(mlpc_bin())
        .args([
            "monitor",
            "run",
            ".",
            "amount_watch",
            "--format",
            "json",
            "--at",
            &rfc3339(at),
        ])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

fn outcomes(run: &Value) -> Vec<String> {
    run[0]["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["outcome"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn drifted_traffic_fails_the_checks_fires_once_and_resolves_once() {
    let dir = example();
    let p = dir.path();
    let (hook, received) = receiver();
    let monitor = format!(
        "monitor amount_watch {{
  on       = fraud_api
  window   = {}s
  baseline = \"data/labels.parquet\"

  check psi(checkout.amount) < 0.2
  check drift(checkout.amount)
  check error_rate < 1%

  alert = [webhook(\"{hook}\"), webhook(\"{}\"), log]
}}
",
        WINDOW.as_secs(),
        dead_url()
    );
    std::fs::write(p.join("monitor.mlp"), monitor).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    register_linear(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true);
    for alias in ["production", "staging"] {
        mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
    }

    nothing_logged_is_no_data(p);

    // The test evaluates with `mlpc monitor run` at times it picks: the server's own loop
    // (hourly here) is off, so that an hour passing during the test adds nothing.
    let mut server = serve_with(p, &["--no-monitors"]);
    let url = format!("{}/v1/deployments/fraud_api/predict", server.base);
    let ends = three_phases_of_traffic(p, &url);
    // A graceful stop flushes the log.
    assert_eq!(server.terminate(), Some(0));

    the_checks_pass_fail_and_pass_again(p, &ends);
    one_firing_then_one_resolved_notification(&received);
    the_dead_sink_was_tried_three_times_per_notification(p, &hook);
    the_history_holds_the_evaluations(p);
}

/// Nothing logged yet: no data, exit 4, and no notification.
fn nothing_logged_is_no_data(p: &Path) {
    let (code, run) = monitor_run(p, now());
    assert_eq!(code, 4, "{run}");
    assert!(outcomes(&run).iter().all(|o| o == "no_data"), "{run}");
}

/// Undrifted traffic, then traffic with `amount` shifted, then undrifted again, each phase
/// within the window and a full window after the last: when each phase ended.
fn three_phases_of_traffic(p: &Path, url: &str) -> Vec<SystemTime> {
    let mut ends = Vec::new();
    for (i, (seed, scale)) in [(1, 1.0), (2, 4.0), (3, 1.0)].into_iter().enumerate() {
        if let Some(last) = ends.last() {
            until(*last + WINDOW + Duration::from_millis(50));
        }
        let start = now();
        send_checkouts(url, &labelled_checkouts(p, 600, seed, scale));
        let end = now();
        assert!(
            end.duration_since(start).unwrap_or_default() < WINDOW,
            "phase {i} took longer than the window"
        );
        ends.push(end + Duration::from_millis(1));
    }
    ends
}

/// `mlpc monitor run` at the end of each phase passes, fails the psi and drift checks, and
/// passes again.
fn the_checks_pass_fail_and_pass_again(p: &Path, ends: &[SystemTime]) {
    let (code, first) = monitor_run(p, ends[0]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(outcomes(&first), ["pass", "pass", "pass"], "{first}");
    assert_eq!(first[0]["requests"], 40 + 7, "{first}");
    let (code, second) = monitor_run(p, ends[1]);
    assert_eq!(code, 3, "{second}");
    assert_eq!(outcomes(&second), ["fail", "fail", "pass"], "{second}");
    assert!(
        second[0]["checks"][0]["value"].as_f64().unwrap_or(0.0) >= 0.2,
        "{second}"
    );
    assert_eq!(second[0]["checks"][1]["method"], "wasserstein", "{second}");
    let (code, third) = monitor_run(p, ends[2]);
    assert_eq!(code, 0, "{third}");
}

/// Exactly one firing notification, then exactly one resolved one, from the live sink.
fn one_firing_then_one_resolved_notification(received: &mpsc::Receiver<Value>) {
    let got: Vec<Value> = received.try_iter().collect();
    assert_eq!(got.len(), 2, "{got:#?}");
    let (firing, resolved) = (&got[0], &got[1]);
    for (n, status) in [(firing, "firing"), (resolved, "resolved")] {
        assert_eq!(n["version"], "4", "{n}");
        assert_eq!(n["status"], status, "{n}");
        assert_eq!(n["groupLabels"]["monitor"], "amount_watch", "{n}");
        for k in [
            "groupKey",
            "truncatedAlerts",
            "receiver",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
        ] {
            assert!(n.get(k).is_some(), "{k} missing: {n}");
        }
        let alerts = n["alerts"].as_array().cloned().unwrap_or_default();
        assert_eq!(alerts.len(), 2, "the psi and the drift checks: {n}");
        for a in &alerts {
            assert_eq!(a["status"], status, "{a}");
            for k in [
                "labels",
                "annotations",
                "startsAt",
                "endsAt",
                "generatorURL",
                "fingerprint",
            ] {
                assert!(a.get(k).is_some(), "{k} missing: {a}");
            }
        }
    }
    assert_eq!(
        resolved["alerts"][0]["endsAt"]
            .as_str()
            .map(|s| s.starts_with("0001")),
        Some(false)
    );
}

/// The dead sink was tried three times per notification, each attempt recorded.
fn the_dead_sink_was_tried_three_times_per_notification(p: &Path, hook: &str) {
    let db = deliveries(p);
    assert_eq!(db.len(), 2 * (3 + 1 + 1), "{db:#?}");
    let dead: Vec<&(String, bool)> = db
        .iter()
        .filter(|(s, _)| s.contains("hook") && !s.contains(hook))
        .collect();
    assert_eq!(dead.len(), 6, "{db:#?}");
    assert!(dead.iter().all(|(_, ok)| !ok), "{db:#?}");
}

/// History: three evaluations of each check; status: all ok again.
fn the_history_holds_the_evaluations(p: &Path) {
    let out = Command::new(mlpc_bin())
        .args([
            "monitor",
            "history",
            ".",
            "amount_watch",
            "--format",
            "json",
        ])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let states: Vec<&str> = history
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| e["index"] == 0)
                .filter_map(|e| e["alert_state"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        states,
        ["no_data", "ok", "firing", "resolved"],
        "{history:#}"
    );
}

/// The delivery attempts recorded in the history, as (sink, delivered).
fn deliveries(p: &Path) -> Vec<(String, bool)> {
    let h = mlp_monitoring::monitor::History::open(p).unwrap_or_else(|e| panic!("{e}"));
    h.deliveries(Some("amount_watch"))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|d| (d.sink, d.ok))
        .collect()
}

/// ROC AUC by counting pairs (a tie counts one half): independent of the crate's rank sums.
fn auc_by_pairs(pairs: &[(f64, bool)]) -> f64 {
    let (mut wins, mut total) = (0.0, 0.0);
    for (p, _) in pairs.iter().filter(|(_, y)| *y) {
        for (n, _) in pairs.iter().filter(|(_, y)| !*y) {
            total += 1.0;
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / total
}

fn write_labels(p: &Path, labels: &[(String, bool)]) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("CREATE TABLE l (request_id VARCHAR, is_fraud BOOLEAN)")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut app = conn.appender("l").unwrap_or_else(|e| panic!("{e}"));
    for (id, y) in labels {
        app.append_row(duckdb::params![id, y])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    drop(app);
    let file = p.join("data/feedback.parquet").display().to_string();
    conn.execute_batch(&format!("COPY l TO '{file}' (FORMAT parquet)"))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn quality_checks_use_the_labelled_rows_and_too_few_labels_is_no_data() {
    let dir = example();
    let p = dir.path();
    std::fs::write(
        p.join("monitor.mlp"),
        "monitor quality {
  on     = fraud_api
  window = 1h
  labels = \"data/feedback.parquet\"

  check auc(score, labels.is_fraud) >= 0.5
  check precision(score, labels.is_fraud, 0.6) > 0
  check recall(score, labels.is_fraud) > 0
}
",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    register_linear(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true);
    for alias in ["production", "staging"] {
        mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
    }
    // The test evaluates with `mlpc monitor run` at times it picks: the server's own loop
    // (hourly here) is off, so that an hour passing during the test adds nothing.
    let mut server = serve_with(p, &["--no-monitors"]);
    let url = format!("{}/v1/deployments/fraud_api/predict", server.base);
    let answered = scores_with_ties_and_partly_predicted_labels(p, &url);
    the_callers_request_id_is_kept(&url);
    // A refused request is recorded too (status, error, latency; no payload).
    let (s, v) = call(
        "POST",
        &url,
        Some(json!({"entities": {"user_id": 3}, "oops": 1})),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(server.terminate(), Some(0));

    let labels: Vec<(String, bool)> = answered.iter().map(|(id, _, y)| (id.clone(), *y)).collect();
    too_few_labels_is_no_data(p, &labels);
    the_metrics_are_over_the_joined_rows(p, &answered, &labels);
    a_labels_file_without_its_key_column_is_named(p);
}

/// `mlpc monitor run . quality`: (exit code, the JSON report).
fn quality_run(p: &Path) -> (i32, Value) {
    let out = Command::new(mlpc_bin())
        .args(["monitor", "run", ".", "quality", "--format", "json"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

/// Scores with ties (the same rows twice) and a label that the score only partly predicts:
/// (request id, score, label) of each answered checkout.
fn scores_with_ties_and_partly_predicted_labels(p: &Path, url: &str) -> Vec<(String, f64, bool)> {
    let mut answered: Vec<(String, f64, bool)> = Vec::new();
    for (i, (u, a, c, m)) in labelled_checkouts(p, 600, 7, 1.0)
        .into_iter()
        .take(120)
        .enumerate()
    {
        let body = json!({"entities": {"user_id": u}, "request": {"amount": a, "country": c, "merchant_id": m}});
        let (s, v) = call("POST", url, Some(body));
        assert_eq!(s, 200, "{v}");
        let score = v["outputs"]["score"].as_f64().unwrap_or(f64::NAN);
        let id = v["request_id"].as_str().unwrap_or_default().to_string();
        answered.push((id, score, (a > 150.0) != (i % 7 == 0)));
    }
    answered
}

/// The caller's own request id is kept; one with a space is refused.
fn the_callers_request_id_is_kept(url: &str) {
    let agent = ureq::Agent::new_with_defaults();
    let mine = agent
        .post(url)
        .header("X-Request-Id", "order-42")
        .send_json(json!({"entities": {"user_id": 3}, "request": {"amount": 5.0, "country": "DE", "merchant_id": 1}}))
        .and_then(|mut r| r.body_mut().read_json::<Value>())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mine["request_id"], "order-42", "{mine}");
    let bad = agent
        .post(url)
        .header("X-Request-Id", "has space")
        .config()
        .http_status_as_error(false)
        .build()
        .send_json(json!({"entities": {"user_id": 3}, "request": {"amount": 5.0, "country": "DE", "merchant_id": 1}}))
        .map(|r| r.status().as_u16());
    assert_eq!(bad.ok(), Some(400));
}

/// Labels arrive late: 20 so far, too few (30 needed): no data, and how many there are.
fn too_few_labels_is_no_data(p: &Path, labels: &[(String, bool)]) {
    write_labels(p, &labels[..20]);
    let (code, early) = quality_run(p);
    assert_eq!(code, 4, "{early}");
    assert_eq!(
        outcomes(&early),
        ["no_data", "no_data", "no_data"],
        "{early}"
    );
    assert_eq!(early[0]["checks"][0]["labelled_rows"], 20, "{early}");
    assert_eq!(early[0]["requests"], 120 + 2, "{early}");
}

/// 90 of the 120 labelled: the metrics over exactly those joined rows.
fn the_metrics_are_over_the_joined_rows(
    p: &Path,
    answered: &[(String, f64, bool)],
    labels: &[(String, bool)],
) {
    write_labels(p, &labels[..90]);
    let (code, later) = quality_run(p);
    assert!(code == 0 || code == 3, "{later}");
    let joined: Vec<(f64, bool)> = answered[..90].iter().map(|(_, s, y)| (*s, *y)).collect();
    let check = |i: usize| later[0]["checks"][i].clone();
    assert_eq!(check(0)["labelled_rows"], 90, "{later}");
    let auc = check(0)["value"].as_f64().unwrap_or(f64::NAN);
    assert!((auc - auc_by_pairs(&joined)).abs() < 1e-12, "{auc} {later}");
    let tp = |t: f64| joined.iter().filter(|(s, y)| *s >= t && *y).count() as f64;
    let predicted = joined.iter().filter(|(s, _)| *s >= 0.6).count() as f64;
    let positives = joined.iter().filter(|(_, y)| *y).count() as f64;
    let precision = check(1)["value"].as_f64().unwrap_or(f64::NAN);
    assert!((precision - tp(0.6) / predicted).abs() < 1e-12, "{later}");
    let recall = check(2)["value"].as_f64().unwrap_or(f64::NAN);
    assert!((recall - tp(0.5) / positives).abs() < 1e-12, "{later}");
}

/// A labels file without its key column is an error, named.
fn a_labels_file_without_its_key_column_is_named(p: &Path) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let file = p.join("data/feedback.parquet").display().to_string();
    conn.execute_batch(&format!(
        "COPY (SELECT true AS is_fraud) TO '{file}' (FORMAT parquet)"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, broken) = quality_run(p);
    assert_eq!(code, 1, "{broken}");
    let message = check_message(&broken, 0);
    assert!(message.contains("request_id"), "{broken}");
}

fn check_message(run: &Value, i: usize) -> String {
    run[0]["checks"][i]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
