//! One evaluation of a monitor from the applied plan: read, evaluate every check, store the
//! results and alert states in history, and notify the monitor's sinks.

use super::alert::{self, Notify};
use super::evaluate::{CheckResult, Inputs, Outcome};
use super::history::{AlertState, Entry, History};
use super::metric::Sink;
use super::reader::Reader;
use super::window::Span;
use mlp_ir::{Plan, Spec};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One monitor's evaluation, as `mlpc monitor run --format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MonitorRun {
    /// Monitor.
    pub monitor: String,
    /// Deployment watched.
    pub deployment: String,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window end (the evaluation time), RFC 3339.
    pub window_end: String,
    /// Requests in the window.
    pub requests: Option<u64>,
    /// The baseline's identity.
    pub baseline: String,
    /// The model version that served most of the window.
    pub model_version: Option<String>,
    /// Each check with its alert state.
    pub checks: Vec<CheckRun>,
    /// Notifications sent: `firing` or `resolved` per sink, and whether delivered.
    pub notifications: Vec<Notification>,
}

/// One check of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckRun {
    /// The result.
    #[serde(flatten)]
    pub result: CheckResult,
    /// The alert state after it.
    pub alert: AlertState,
}

/// One notification of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Notification {
    /// The sink.
    pub sink: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Whether a try got through.
    pub delivered: bool,
}

impl MonitorRun {
    /// The worst outcome: error, then fail, then no data, then pass.
    pub fn worst(&self) -> Outcome {
        let has = |o: Outcome| self.checks.iter().any(|c| c.result.outcome == o);
        if has(Outcome::Error) {
            Outcome::Error
        } else if has(Outcome::Fail) {
            Outcome::Fail
        } else if has(Outcome::NoData) {
            Outcome::NoData
        } else {
            Outcome::Pass
        }
    }
}

/// Why a monitor could not be evaluated at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No such monitor in the applied plan.
    #[error("no monitor `{0}` in the applied plan (monitors: {1})")]
    Unknown(String, String),
    /// The history could not be opened or written.
    #[error("monitor history (.mlp/monitors.sqlite): {0}")]
    History(#[from] rusqlite::Error),
    /// DuckDB could not start.
    #[error("{0}")]
    Read(#[from] super::window::ReadError),
}

/// The names of the plan's monitors, sorted.
pub fn monitors(plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .resources()
        .filter(|r| matches!(r.spec, Spec::Monitor { .. }))
        .map(|r| r.name.clone())
        .collect();
    v.sort();
    v
}

/// The current time, µs since the epoch.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Evaluates monitor `name` of the applied `plan` for the window ending at `at_us`, stores it
/// and notifies. `reader` reads the window and baseline, and keeps what it read for the
/// next evaluation.
pub fn run_monitor(
    reader: &mut Reader,
    plan: &Plan,
    project_dir: &Path,
    name: &str,
    at_us: i64,
) -> Result<MonitorRun, RunError> {
    let Some(Spec::Monitor {
        on,
        window_ms,
        baseline,
        labels,
        checks,
        alerts,
        for_evaluations,
        ..
    }) = plan
        .resources()
        .find(|r| r.name == name && matches!(r.spec, Spec::Monitor { .. }))
        .map(|r| &r.spec)
    else {
        return Err(RunError::Unknown(
            name.to_string(),
            monitors(plan).join(", "),
        ));
    };
    let len_us = i64::try_from(*window_ms)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000);
    let span = Span {
        start_us: at_us.saturating_sub(len_us),
        end_us: at_us,
    };
    let mut inputs = Inputs::load(
        reader,
        plan,
        project_dir,
        on,
        span,
        baseline,
        labels.as_deref(),
        checks,
    );
    let results: Vec<CheckResult> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| inputs.evaluate(i, c))
        .collect();
    let history = History::open(project_dir)?;
    let evaluated_at = now_us();
    let baseline_id = inputs.baseline_id();
    let model_version = inputs.model_version();
    let mut stepped = Vec::new();
    let mut runs = Vec::new();
    for r in results {
        let prev = history.alert(name, r.index)?;
        let for_n = u32::try_from(*for_evaluations).unwrap_or(u32::MAX);
        let (a, n) = alert::step(prev.as_ref(), name, &r, at_us, for_n);
        history.record(&Entry {
            monitor: name.to_string(),
            deployment: on.clone(),
            window_start_us: span.start_us,
            window_end_us: span.end_us,
            evaluated_at_us: evaluated_at,
            baseline: baseline_id.clone(),
            model_version: model_version.clone(),
            alert_state: a.state,
            result: r.clone(),
        })?;
        runs.push(CheckRun {
            result: r,
            alert: a.state,
        });
        stepped.push((a, n));
    }
    let notifications = notify(&history, name, on, alerts, &mut stepped, at_us)?;
    for (a, _) in &stepped {
        history.save_alert(a)?;
    }
    Ok(MonitorRun {
        monitor: name.to_string(),
        deployment: on.clone(),
        window_start: alert::rfc3339(span.start_us),
        window_end: alert::rfc3339(span.end_us),
        requests: inputs
            .requests
            .as_ref()
            .ok()
            .map(|r| r.latency_ms.len() as u64),
        baseline: baseline_id,
        model_version,
        checks: runs,
        notifications,
    })
}

/// Sends the group's notification when an alert needs one; marks firing alerts notified
/// when a sink got it.
fn notify(
    history: &History,
    name: &str,
    on: &str,
    sinks: &[mlp_ir::Backend],
    stepped: &mut [(super::history::Alert, Notify)],
    at_us: i64,
) -> Result<Vec<Notification>, RunError> {
    if stepped.iter().all(|(_, n)| *n == Notify::No) {
        return Ok(Vec::new());
    }
    let body = alert::payload(name, on, stepped, at_us);
    let status = body["status"].as_str().unwrap_or("firing").to_string();
    let mut out = Vec::new();
    let mut any = false;
    for s in sinks {
        let Some(sink) = Sink::from_backend(s) else {
            continue;
        };
        let ok = alert::deliver(history, name, &sink, &body, now_us);
        any |= ok;
        out.push(Notification {
            sink: alert::sink_name(&sink),
            status: status.clone(),
            delivered: ok,
        });
    }
    if any || sinks.is_empty() {
        for (a, _) in stepped.iter_mut() {
            if a.state == AlertState::Firing {
                a.last_notified_us = Some(at_us);
            }
        }
    }
    Ok(out)
}
