//! The server's monitor loop end to end: the example served with two monitors evaluated
//! every second, with traffic. `live_watch` (a psi check and the error rate) is evaluated
//! again and again, each time over a window ending on a whole second, its history grows and
//! `/metrics` shows each check's value and current state; `dead_hook` fires into a webhook
//! nothing listens on, and goes on being evaluated (every attempt recorded); the evaluator,
//! one long-lived `mlpc monitor worker`, killed, is started again; SIGTERM stops the server
//! promptly with exit code 0.

use mlp_test_support::serving::{
    call, dead_url, example, labelled_checkouts, mlpc, mlpc_bin, register_linear, send_checkouts,
    serve, Server,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `/metrics`, as text.
fn metrics(base: &str) -> String {
    match call("GET", &format!("{base}/metrics"), None) {
        (200, Value::String(text)) => text,
        (s, v) => panic!("GET /metrics: {s} {v}"),
    }
}

/// The value of the series `series` (name and labels, exactly) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The `mlpc monitor worker` processes under process `root` (its descendants, from
/// `/proc`).
fn workers(root: u32) -> Vec<u32> {
    let procs: Vec<(u32, u32, String)> = std::fs::read_dir("/proc")
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`: the name may hold spaces, so after the last `)`.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, ppid, String::from_utf8_lossy(&cmd).replace('\0', " ")))
        })
        .collect();
    let mut under = vec![root];
    let mut i = 0;
    while i < under.len() {
        let parent = under[i];
        under.extend(procs.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    procs
        .iter()
        .filter(|p| under[1..].contains(&p.0) && p.2.contains(" monitor worker "))
        .map(|p| p.0)
        .collect()
}

fn evaluations(text: &str, monitor: &str) -> f64 {
    sample(
        text,
        &format!("mlp_monitor_evaluations_total{{monitor=\"{monitor}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Reads `/metrics` until `done` holds, for at most `limit`; the last text. It reads again
/// each time a file of the project's `.mlp/` folder changes: every evaluation writes the
/// monitor history there (`monitors.sqlite` and its WAL) just before the server sets the
/// series, and the loop evaluates every second, so a change that is not yet on `/metrics`
/// is followed by another event.
fn wait_metrics(
    dir: &Path,
    base: &str,
    limit: Duration,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let (tx, events) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).unwrap_or_else(|e| panic!("{e}"));
    notify::Watcher::watch(
        &mut watcher,
        &dir.join(".mlp"),
        notify::RecursiveMode::NonRecursive,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + limit;
    loop {
        let text = metrics(base);
        if done(&text) {
            return text;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            events.recv_timeout(left).is_ok(),
            "{what} within {limit:?}:\n{text}"
        );
    }
}

/// The stored evaluations of `monitor`'s first check: (window end µs, alert state).
fn history(p: &Path, monitor: &str) -> Vec<(i64, String)> {
    let h = mlp_monitoring::monitor::History::open(p).unwrap_or_else(|e| panic!("{e}"));
    h.entries(Some(monitor), i64::MIN)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|e| e.result.index == 0)
        .map(|e| (e.window_end_us, e.alert_state.name().to_string()))
        .collect()
}

#[test]
fn the_server_evaluates_monitors_every_period_and_shows_them_on_metrics() {
    let dir = example();
    let p = dir.path();
    let monitors = format!(
        "monitor live_watch {{
  on       = fraud_api
  every    = 1s
  window   = 60s
  baseline = \"data/labels.parquet\"

  check psi(checkout.amount) < 0.2
  check error_rate < 1%
}}

monitor dead_hook {{
  on     = fraud_api
  every  = 1s
  window = 60s

  check error_rate > 50%

  alert = [webhook(\"{}\")]
}}
",
        dead_url()
    );
    std::fs::write(p.join("monitor.mlp"), monitors).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", "."], p);
    register_linear(p, "fraud_scorer", &[0.0, 0.0, 2.0, 0.0], -2.0, true);
    for alias in ["production", "staging"] {
        mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
    }

    let mut server = serve(p);
    let base = server.base.clone();
    let text = evaluated_with_and_without_traffic(p, &base);
    the_sla_and_the_check_values_are_on_metrics(&text);
    a_killed_worker_is_started_again(p, &base, &server, &text);

    // SIGTERM stops it promptly, with no evaluation in progress left to wait for long.
    let asked = Instant::now();
    assert_eq!(server.terminate(), Some(0));
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "stopped after {:?}",
        asked.elapsed()
    );

    the_history_has_a_whole_second_window_per_evaluation(p);
    the_dead_webhook_is_tried_and_recorded(p);
    monitor_status_reads_the_states_the_server_left(p);
}

/// Evaluated before any traffic: no data yet, on /metrics; once the log holds the traffic,
/// every check is decided; then two more evaluations, each state on `/metrics`. The last
/// text.
fn evaluated_with_and_without_traffic(p: &Path, base: &str) -> String {
    // Evaluated before any traffic: no data yet, on /metrics.
    wait_metrics(
        p,
        base,
        Duration::from_secs(20),
        "a first evaluation with no data",
        |t| {
            t.contains("mlp_monitor_state{monitor=\"live_watch\",check=\"error_rate < 1%\",state=\"no_data\"} 1")
        },
    );
    send_checkouts(
        &format!("{base}/v1/deployments/fraud_api/predict"),
        &labelled_checkouts(p, 600, 1, 1.0),
    );

    // Once the log holds the traffic, every check is decided; then two more evaluations.
    let psi_ok = "mlp_monitor_state{monitor=\"live_watch\",check=\"psi(checkout.amount) < 0.2\",state=\"ok\"} 1";
    let text = wait_metrics(
        p,
        base,
        Duration::from_secs(30),
        "live_watch evaluated with the traffic",
        |t| t.contains(psi_ok),
    );
    let (seen, dead_seen) = (
        evaluations(&text, "live_watch"),
        evaluations(&text, "dead_hook"),
    );
    let text = wait_metrics(
        p,
        base,
        Duration::from_secs(30),
        "two more evaluations of each monitor",
        |t| {
            evaluations(t, "live_watch") >= seen + 2.0
                && evaluations(t, "dead_hook") >= dead_seen + 2.0
        },
    );
    for line in [
        psi_ok,
        "mlp_monitor_state{monitor=\"live_watch\",check=\"error_rate < 1%\",state=\"ok\"} 1",
        "mlp_monitor_state{monitor=\"dead_hook\",check=\"error_rate > 50%\",state=\"firing\"} 1",
        "mlp_monitor_state{monitor=\"dead_hook\",check=\"error_rate > 50%\",state=\"ok\"} 0",
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "missing {line} in\n{text}"
        );
    }
    text
}

/// The live SLA: the example's `sla` targets beside the exact quantiles of the last
/// minute's requests (600 checkouts were just answered); each check's value, and no failed
/// evaluation.
fn the_sla_and_the_check_values_are_on_metrics(text: &str) {
    assert_eq!(
        sample(
            text,
            "mlp_sla_latency_target_seconds{deployment=\"fraud_api\",quantile=\"0.99\"}"
        ),
        Some(0.02),
        "{text}"
    );
    let window_p99 = sample(
        text,
        "mlp_request_latency_window_seconds{deployment=\"fraud_api\",quantile=\"0.99\"}",
    );
    assert!(window_p99.is_some_and(|v| v > 0.0 && v < 5.0), "{text}");
    let rate = sample(
        text,
        "mlp_monitor_value{monitor=\"live_watch\",check=\"error_rate < 1%\"}",
    );
    assert_eq!(rate, Some(0.0), "{text}");
    let psi = sample(
        text,
        "mlp_monitor_value{monitor=\"live_watch\",check=\"psi(checkout.amount) < 0.2\"}",
    );
    assert!(psi.is_some_and(|v| v.is_finite() && v >= 0.0), "{text}");
    assert_eq!(
        sample(
            text,
            "mlp_monitor_evaluation_failures_total{monitor=\"live_watch\"}"
        ),
        None,
        "{text}"
    );
}

/// The evaluator is one long-lived `mlpc monitor worker`; killed, it is started again and
/// the monitors are evaluated on (the evaluation it was in, if any, counted as failed).
fn a_killed_worker_is_started_again(p: &Path, base: &str, server: &Server, text: &str) {
    let worker = workers(server.child.id());
    assert_eq!(worker.len(), 1, "one worker: {worker:?}");
    let killed = Command::new("kill")
        .args(["-KILL", &worker[0].to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(killed, "kill -KILL {}", worker[0]);
    let seen = evaluations(text, "live_watch");
    let text = wait_metrics(
        p,
        base,
        Duration::from_secs(30),
        "evaluations after the worker was killed",
        |t| evaluations(t, "live_watch") >= seen + 3.0,
    );
    let again = workers(server.child.id());
    assert!(
        again.len() == 1 && again[0] != worker[0],
        "{worker:?} then {again:?}"
    );
    let failed = |m: &str| {
        sample(
            &text,
            &format!("mlp_monitor_evaluation_failures_total{{monitor=\"{m}\"}}"),
        )
        .unwrap_or(0.0)
    };
    assert!(failed("live_watch") + failed("dead_hook") <= 1.0, "{text}");
}

/// The history: each evaluation over a window ending on a whole second, one per second at
/// most, later ones decided.
fn the_history_has_a_whole_second_window_per_evaluation(p: &Path) {
    let live = history(p, "live_watch");
    assert!(live.len() >= 3, "{live:?}");
    assert!(live.iter().all(|(end, _)| end % 1_000_000 == 0), "{live:?}");
    assert!(live.windows(2).all(|w| w[1].0 > w[0].0), "{live:?}");
    assert_eq!(live.last().map(|l| l.1.as_str()), Some("ok"), "{live:?}");
}

/// The dead webhook: every notification tried three times and recorded, never delivered,
/// and the monitor evaluated on after each.
fn the_dead_webhook_is_tried_and_recorded(p: &Path) {
    let dead = history(p, "dead_hook");
    assert!(
        dead.iter().filter(|(_, s)| s == "firing").count() >= 2,
        "{dead:?}"
    );
    let h = mlp_monitoring::monitor::History::open(p).unwrap_or_else(|e| panic!("{e}"));
    let tries = h
        .deliveries(Some("dead_hook"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tries.len() >= 3 && tries.iter().all(|d| !d.ok),
        "{tries:#?}"
    );
}

/// `mlpc monitor status` reads the states the server left.
fn monitor_status_reads_the_states_the_server_left(p: &Path) {
    let out = Command::new(mlpc_bin())
        .args(["monitor", "status", ".", "--format", "json"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let states: Vec<(&str, &str)> = status
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| Some((x["monitor"].as_str()?, x["state"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        states,
        [
            ("dead_hook", "firing"),
            ("live_watch", "ok"),
            ("live_watch", "ok")
        ],
        "{status:#}"
    );
}
