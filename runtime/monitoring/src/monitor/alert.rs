//! Alerts with Alertmanager's semantics: each check is an alert instance whose state moves
//! with each evaluation (ok, pending, firing, resolved, no data, error); a monitor's alerts
//! are one group, notified when one starts firing, again after the repeat interval while
//! firing, and once when one resolves; sinks get Alertmanager's webhook payload (version 4)
//! or a log line, with a timeout, retries with backoff, and every attempt recorded.

use super::evaluate::{CheckResult, Outcome};
use super::history::{Alert, AlertState, Delivery, History};
use super::metric::Sink;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a firing group waits before it is notified again (Alertmanager's default
/// `repeat_interval`).
pub const REPEAT_US: i64 = 4 * 3600 * 1_000_000;
/// Per-attempt timeout of a webhook.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per sink and notification.
pub const ATTEMPTS: u32 = 3;
/// Backoff before the second attempt; doubled before each further one.
pub const BACKOFF: Duration = Duration::from_millis(500);

/// What one evaluation does to an alert: its new state, and whether the group must notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// Nothing to send for this alert.
    No,
    /// It started firing, or repeats.
    Firing,
    /// It resolved.
    Resolved,
}

/// Moves `prev` (the stored alert, if any) by one evaluation `r` at `now_us`; `for_n`
/// failing evaluations in a row make it fire.
pub fn step(
    prev: Option<&Alert>,
    monitor: &str,
    r: &CheckResult,
    now_us: i64,
    for_n: u32,
) -> (Alert, Notify) {
    let mut a = prev.cloned().unwrap_or(Alert {
        monitor: monitor.to_string(),
        index: r.index,
        check: r.check.clone(),
        state: AlertState::Ok,
        since_us: now_us,
        failing: 0,
        fired_at_us: None,
        last_notified_us: None,
        value: None,
        threshold: None,
        message: None,
        evaluated_at_us: now_us,
    });
    a.check.clone_from(&r.check);
    a.value = r.value;
    a.threshold = r.threshold;
    a.message.clone_from(&r.message);
    a.evaluated_at_us = now_us;
    let before = a.state;
    let mut notify = Notify::No;
    let state = match r.outcome {
        Outcome::Pass => {
            a.failing = 0;
            if a.fired_at_us.take().is_some() {
                notify = Notify::Resolved;
                AlertState::Resolved
            } else {
                AlertState::Ok
            }
        }
        Outcome::Fail => {
            a.failing = a.failing.saturating_add(1);
            if a.failing >= for_n.max(1) {
                let due = match (a.fired_at_us, a.last_notified_us) {
                    (None, _) => {
                        a.fired_at_us = Some(now_us);
                        true
                    }
                    // A firing notification that was never delivered is tried again.
                    (Some(_), None) => true,
                    (Some(_), Some(last)) => now_us - last >= REPEAT_US,
                };
                if due {
                    notify = Notify::Firing;
                }
                AlertState::Firing
            } else {
                AlertState::Pending
            }
        }
        // Too little data neither fires nor resolves: an open incident stays open.
        Outcome::NoData => {
            a.failing = 0;
            AlertState::NoData
        }
        Outcome::Error => {
            a.failing = 0;
            AlertState::Error
        }
    };
    if state != before {
        a.since_us = now_us;
    }
    a.state = state;
    (a, notify)
}

/// RFC 3339 time of `us` microseconds since the epoch.
pub fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || "0001-01-01T00:00:00Z".into(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

fn fingerprint(labels: &Value) -> String {
    let h = Sha256::digest(labels.to_string().as_bytes());
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Alertmanager's webhook payload (version 4) for a monitor's group: the alerts firing now
/// and those resolved by this evaluation.
pub fn payload(monitor: &str, deployment: &str, alerts: &[(Alert, Notify)], now_us: i64) -> Value {
    let members: Vec<&(Alert, Notify)> = alerts
        .iter()
        .filter(|(a, n)| a.state == AlertState::Firing || *n == Notify::Resolved)
        .collect();
    let firing = members.iter().any(|(a, _)| a.state == AlertState::Firing);
    let items: Vec<Value> = members
        .iter()
        .map(|(a, _)| {
            let labels = json!({
                "alertname": monitor,
                "monitor": monitor,
                "deployment": deployment,
                "check": a.check,
            });
            let resolved = a.state != AlertState::Firing;
            json!({
                "status": if resolved { "resolved" } else { "firing" },
                "labels": labels,
                "annotations": {
                    "summary": format!("{}: {}", monitor, a.check),
                    "value": a.value.map(|v| v.to_string()).unwrap_or_default(),
                    "threshold": a.threshold.map(|v| v.to_string()).unwrap_or_default(),
                },
                "startsAt": rfc3339(a.fired_at_us.unwrap_or(a.since_us)),
                "endsAt": if resolved { rfc3339(now_us) } else { "0001-01-01T00:00:00Z".into() },
                "generatorURL": "",
                "fingerprint": fingerprint(&labels),
            })
        })
        .collect();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{monitor=\"{monitor}\"}}"),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "mlp",
        "groupLabels": { "monitor": monitor },
        "commonLabels": { "alertname": monitor, "monitor": monitor, "deployment": deployment },
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": items,
    })
}

/// The sink's name for records.
pub fn sink_name(s: &Sink) -> String {
    match s {
        Sink::Webhook(url) => format!("webhook({url})"),
        Sink::Slack(url) => format!("slack({url})"),
        Sink::Email(to) => format!("email({to})"),
        Sink::Log => "log".into(),
    }
}

/// Delivers `body` to `sink`, recording each attempt in `history`; whether it got through.
pub fn deliver(
    history: &History,
    monitor: &str,
    sink: &Sink,
    body: &Value,
    now_us: impl Fn() -> i64,
) -> bool {
    let status = body["status"].as_str().unwrap_or("firing").to_string();
    let alerts = body["alerts"].as_array().map_or(0, Vec::len);
    let mut wait = BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let result = match sink {
            Sink::Log => {
                log_line(monitor, body);
                Ok(())
            }
            Sink::Webhook(url) => post(url, body),
            Sink::Slack(url) => post(url, &slack_message(monitor, body)),
            Sink::Email(to) => mail(to, monitor, body),
        };
        let d = Delivery {
            monitor: monitor.to_string(),
            sink: sink_name(sink),
            status: status.clone(),
            alerts,
            attempt,
            at_us: now_us(),
            ok: result.is_ok(),
            error: result.as_ref().err().cloned(),
        };
        if let Err(e) = history.record_delivery(&d) {
            eprintln!("monitor {monitor}: cannot record a delivery: {e}");
        }
        match result {
            Ok(()) => return true,
            Err(e) if attempt == ATTEMPTS => {
                eprintln!(
                    "monitor {monitor}: {} not delivered after {ATTEMPTS} attempts: {e}",
                    sink_name(sink)
                );
            }
            Err(_) => {
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
    }
    false
}

fn post(url: &str, body: &Value) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.post(url).send_json(body) {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("HTTP {}", resp.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

/// One line per alert of a notification: `[FIRING] psi(x) < 0.2: value 0.31 (threshold 0.2)`.
fn alert_lines(body: &Value) -> Vec<String> {
    body["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "[{}] {}: value {} (threshold {})",
                a["status"].as_str().unwrap_or("").to_uppercase(),
                a["labels"]["check"].as_str().unwrap_or(""),
                a["annotations"]["value"].as_str().unwrap_or(""),
                a["annotations"]["threshold"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// Slack's incoming-webhook message for a notification: `text` (the fallback and the
/// notification's preview) and one `section` block.
pub fn slack_message(monitor: &str, body: &Value) -> Value {
    let status = body["status"].as_str().unwrap_or("firing");
    let deployment = body["commonLabels"]["deployment"].as_str().unwrap_or("");
    let title = format!("mlp monitor {monitor} on {deployment}: {status}");
    let lines = alert_lines(body).join("\n");
    json!({
        "text": format!("{title}\n{lines}"),
        "blocks": [{
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("*{title}*\n{lines}") },
        }],
    })
}

/// Mails a notification through `sendmail -t` (the recipient in the header).
fn mail(to: &str, monitor: &str, body: &Value) -> Result<(), String> {
    use std::io::Write;
    let Some(sendmail) = mlp_ir::host::sendmail() else {
        return Err("no sendmail on this machine".into());
    };
    let status = body["status"].as_str().unwrap_or("firing");
    // Header values come from the spec; line breaks would start new headers.
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    let message = format!(
        "To: {}\nSubject: [mlp] monitor {} {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
        clean(to),
        clean(monitor),
        status,
        alert_lines(body).join("\n")
    );
    let mut child = std::process::Command::new(sendmail)
        .arg("-t")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("sendmail: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("sendmail: no stdin")?
        .write_all(message.as_bytes())
        .map_err(|e| format!("sendmail: {e}"))?;
    let status = child.wait().map_err(|e| format!("sendmail: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("sendmail exited with {status}"))
    }
}

fn log_line(monitor: &str, body: &Value) {
    for a in body["alerts"].as_array().into_iter().flatten() {
        eprintln!(
            "alert {} monitor={monitor} check={:?} value={} threshold={}",
            a["status"].as_str().unwrap_or(""),
            a["labels"]["check"].as_str().unwrap_or(""),
            a["annotations"]["value"].as_str().unwrap_or(""),
            a["annotations"]["threshold"].as_str().unwrap_or(""),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: Outcome) -> CheckResult {
        CheckResult {
            index: 0,
            check: "psi(x) < 0.2".into(),
            metric: Some("psi".into()),
            column: Some("x".into()),
            method: None,
            value: Some(0.3),
            threshold: Some(0.2),
            outcome,
            message: None,
            window_rows: Some(100),
            baseline_rows: Some(100),
            labelled_rows: None,
            details: Value::Null,
        }
    }

    /// Runs outcomes through `step` one hour apart; the states and notifications.
    fn walk(outcomes: &[Outcome], for_n: u32) -> Vec<(AlertState, Notify)> {
        let mut prev: Option<Alert> = None;
        let mut out = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            let now = i as i64 * 3_600_000_000;
            let (mut a, n) = step(prev.as_ref(), "m", &result(*o), now, for_n);
            if n == Notify::Firing {
                a.last_notified_us = Some(now);
            }
            out.push((a.state, n));
            prev = Some(a);
        }
        out
    }

    #[test]
    fn fires_once_repeats_after_four_hours_and_resolves_once() {
        use AlertState as S;
        use Outcome::{Fail, Pass};
        let got = walk(&[Pass, Fail, Fail, Fail, Fail, Fail, Pass, Pass], 1);
        assert_eq!(
            got,
            [
                (S::Ok, Notify::No),
                (S::Firing, Notify::Firing),
                (S::Firing, Notify::No),
                (S::Firing, Notify::No),
                (S::Firing, Notify::No),
                (S::Firing, Notify::Firing),
                (S::Resolved, Notify::Resolved),
                (S::Ok, Notify::No),
            ]
        );
    }

    #[test]
    fn for_makes_it_pending_first_and_no_data_neither_fires_nor_resolves() {
        use AlertState as S;
        use Outcome::{Error, Fail, NoData, Pass};
        let got = walk(&[Fail, Pass, Fail, Fail, NoData, Error, Pass], 2);
        assert_eq!(
            got,
            [
                (S::Pending, Notify::No),
                (S::Ok, Notify::No),
                (S::Pending, Notify::No),
                (S::Firing, Notify::Firing),
                (S::NoData, Notify::No),
                (S::Error, Notify::No),
                (S::Resolved, Notify::Resolved),
            ]
        );
    }

    #[test]
    fn the_payload_is_alertmanagers_version_4() {
        let (a, n) = step(None, "m", &result(Outcome::Fail), 1_000_000, 1);
        let p = payload("m", "d", &[(a, n)], 2_000_000);
        assert_eq!(p["version"], "4");
        assert_eq!(p["status"], "firing");
        assert_eq!(p["alerts"][0]["startsAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(p["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        assert_eq!(p["alerts"][0]["labels"]["check"], "psi(x) < 0.2");
        assert_eq!(
            p["alerts"][0]["fingerprint"].as_str().map(str::len),
            Some(16)
        );
    }

    #[test]
    fn slack_gets_its_text_and_a_section_block() {
        let (a, n) = step(None, "m", &result(Outcome::Fail), 1_000_000, 1);
        let m = slack_message("m", &payload("m", "d", &[(a, n)], 2_000_000));
        let text = m["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("mlp monitor m on d: firing\n[FIRING] psi(x) < 0.2: value 0.3"),
            "{text}"
        );
        assert_eq!(m["blocks"][0]["type"], "section");
        assert_eq!(m["blocks"][0]["text"]["type"], "mrkdwn");
    }
}
