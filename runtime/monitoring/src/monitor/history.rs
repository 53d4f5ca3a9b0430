//! The monitors' history and alert states, in `.mlp/monitors.sqlite`: the same engine and
//! mode (SQLite in WAL mode) as the run history beside it, because the same writers meet
//! there: `mlpc monitor run` from cron or CI, the server's monitor loop, and readers
//! (`status`, `history`, `report`) at any time. One row per check and window; evaluating a
//! window again replaces its rows. Commits do not wait for the disk (`synchronous = NORMAL`,
//! safe in WAL mode: a power cut may lose the last evaluations, never corrupt the file), as
//! the server's loop writes one every second.

use super::evaluate::{CheckResult, Outcome};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS evaluations (
  monitor TEXT NOT NULL, check_index INTEGER NOT NULL, window_end INTEGER NOT NULL,
  window_start INTEGER NOT NULL, evaluated_at INTEGER NOT NULL, deployment TEXT NOT NULL,
  check_text TEXT NOT NULL, metric TEXT, column_name TEXT, method TEXT,
  value REAL, threshold REAL, outcome TEXT NOT NULL, alert_state TEXT NOT NULL, message TEXT,
  window_rows INTEGER, baseline_rows INTEGER, labelled_rows INTEGER,
  baseline TEXT NOT NULL, model_version TEXT, details TEXT NOT NULL,
  PRIMARY KEY (monitor, check_index, window_end));
CREATE TABLE IF NOT EXISTS alerts (
  monitor TEXT NOT NULL, check_index INTEGER NOT NULL, check_text TEXT NOT NULL,
  state TEXT NOT NULL, since INTEGER NOT NULL, failing INTEGER NOT NULL,
  fired_at INTEGER, last_notified INTEGER, value REAL, threshold REAL, message TEXT,
  evaluated_at INTEGER NOT NULL,
  PRIMARY KEY (monitor, check_index));
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, monitor TEXT NOT NULL, sink TEXT NOT NULL,
  status TEXT NOT NULL, alerts INTEGER NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL,
  ok INTEGER NOT NULL, error TEXT);
";

/// An alert's state (Alertmanager's firing and resolved, Prometheus' pending, Grafana's no
/// data and error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The check passes.
    Ok,
    /// Failing, fewer times in a row than the monitor's `for`.
    Pending,
    /// Failing: notified.
    Firing,
    /// Passed again after firing: notified once, then `ok`.
    Resolved,
    /// Too little data to decide; an open incident stays open.
    NoData,
    /// The check could not be evaluated.
    Error,
}

impl AlertState {
    /// Its name in the database and in output.
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Ok => "ok",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
            AlertState::NoData => "no_data",
            AlertState::Error => "error",
        }
    }

    fn parse(s: &str) -> AlertState {
        match s {
            "pending" => AlertState::Pending,
            "firing" => AlertState::Firing,
            "resolved" => AlertState::Resolved,
            "no_data" => AlertState::NoData,
            "error" => AlertState::Error,
            _ => AlertState::Ok,
        }
    }
}

/// The stored state of one check's alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alert {
    /// Monitor.
    pub monitor: String,
    /// Check index.
    pub index: usize,
    /// The check as written.
    pub check: String,
    /// State.
    pub state: AlertState,
    /// Since when (µs since the epoch) it has been in this state.
    pub since_us: i64,
    /// Failing evaluations in a row.
    pub failing: u32,
    /// When the open incident started firing, if one is open.
    pub fired_at_us: Option<i64>,
    /// When a firing notification was last delivered.
    pub last_notified_us: Option<i64>,
    /// The last value.
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: Option<f64>,
    /// Why, for no data and errors.
    pub message: Option<String>,
    /// When it was last evaluated.
    pub evaluated_at_us: i64,
}

/// One stored evaluation of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    /// Monitor.
    pub monitor: String,
    /// Deployment watched.
    pub deployment: String,
    /// Window start, µs since the epoch.
    pub window_start_us: i64,
    /// Window end (the evaluation time), µs since the epoch.
    pub window_end_us: i64,
    /// When it was computed.
    pub evaluated_at_us: i64,
    /// The baseline's identity (`training:<sha256>`, `previous:…`, `file:…`).
    pub baseline: String,
    /// The model version that served most of the window.
    pub model_version: Option<String>,
    /// The alert state after it.
    pub alert_state: AlertState,
    /// The check's result.
    #[serde(flatten)]
    pub result: CheckResult,
}

/// One delivery attempt of a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delivery {
    /// Monitor.
    pub monitor: String,
    /// Sink (`webhook(URL)`, `log`).
    pub sink: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// Alerts in the notification.
    pub alerts: usize,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// When, µs since the epoch.
    pub at_us: i64,
    /// Whether it was delivered.
    pub ok: bool,
    /// The error, when not.
    pub error: Option<String>,
}

/// The history database of a project.
pub struct History {
    conn: rusqlite::Connection,
}

/// Where a project's monitor history lives.
pub fn path(project_dir: &Path) -> PathBuf {
    mlp_ir::host::state_dir(project_dir).join("monitors.sqlite")
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::NoData => "no_data",
        Outcome::Error => "error",
    }
}

fn parse_outcome(s: &str) -> Outcome {
    match s {
        "pass" => Outcome::Pass,
        "fail" => Outcome::Fail,
        "no_data" => Outcome::NoData,
        _ => Outcome::Error,
    }
}

impl History {
    /// Opens (creating) the history of the project at `project_dir`.
    pub fn open(project_dir: &Path) -> rusqlite::Result<History> {
        let p = path(project_dir);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        }
        let conn = mlp_util::open_sqlite(&p, Duration::from_secs(10), SCHEMA)?;
        Ok(History { conn })
    }

    /// Stores an evaluation, replacing one of the same window.
    pub fn record(&self, e: &Entry) -> rusqlite::Result<()> {
        let r = &e.result;
        self.conn.execute(
            "INSERT OR REPLACE INTO evaluations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            rusqlite::params![
                e.monitor,
                r.index as i64,
                e.window_end_us,
                e.window_start_us,
                e.evaluated_at_us,
                e.deployment,
                r.check,
                r.metric,
                r.column,
                r.method,
                r.value.filter(|v| v.is_finite()),
                r.threshold,
                outcome_name(r.outcome),
                e.alert_state.name(),
                r.message,
                r.window_rows.map(|x| x as i64),
                r.baseline_rows.map(|x| x as i64),
                r.labelled_rows.map(|x| x as i64),
                e.baseline,
                e.model_version,
                r.details.to_string(),
            ],
        )?;
        Ok(())
    }

    /// Past evaluations of `monitor` (every monitor when `None`) since `since_us`, oldest
    /// first.
    pub fn entries(&self, monitor: Option<&str>, since_us: i64) -> rusqlite::Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare(
            "SELECT monitor, deployment, window_start, window_end, evaluated_at, baseline, model_version, alert_state,
                    check_index, check_text, metric, column_name, method, value, threshold, outcome, message,
                    window_rows, baseline_rows, labelled_rows, details
             FROM evaluations WHERE (?1 IS NULL OR monitor = ?1) AND window_end >= ?2
             ORDER BY window_end, monitor, check_index",
        )?;
        let rows = stmt.query_map(rusqlite::params![monitor, since_us], |r| {
            let details: String = r.get(20)?;
            Ok(Entry {
                monitor: r.get(0)?,
                deployment: r.get(1)?,
                window_start_us: r.get(2)?,
                window_end_us: r.get(3)?,
                evaluated_at_us: r.get(4)?,
                baseline: r.get(5)?,
                model_version: r.get(6)?,
                alert_state: AlertState::parse(&r.get::<_, String>(7)?),
                result: CheckResult {
                    index: r.get::<_, i64>(8)? as usize,
                    check: r.get(9)?,
                    metric: r.get(10)?,
                    column: r.get(11)?,
                    method: r.get(12)?,
                    value: r.get(13)?,
                    threshold: r.get(14)?,
                    outcome: parse_outcome(&r.get::<_, String>(15)?),
                    message: r.get(16)?,
                    window_rows: r.get::<_, Option<i64>>(17)?.map(|x| x as u64),
                    baseline_rows: r.get::<_, Option<i64>>(18)?.map(|x| x as u64),
                    labelled_rows: r.get::<_, Option<i64>>(19)?.map(|x| x as u64),
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                },
            })
        })?;
        rows.collect()
    }

    /// The alert of check `index` of `monitor`, if it was ever evaluated.
    pub fn alert(&self, monitor: &str, index: usize) -> rusqlite::Result<Option<Alert>> {
        Ok(self
            .alerts(Some(monitor))?
            .into_iter()
            .find(|a| a.index == index))
    }

    /// Every alert of `monitor` (or of every monitor).
    pub fn alerts(&self, monitor: Option<&str>) -> rusqlite::Result<Vec<Alert>> {
        let mut stmt = self.conn.prepare(
            "SELECT monitor, check_index, check_text, state, since, failing, fired_at, last_notified, value, threshold, message, evaluated_at
             FROM alerts WHERE (?1 IS NULL OR monitor = ?1) ORDER BY monitor, check_index",
        )?;
        let rows = stmt.query_map(rusqlite::params![monitor], |r| {
            Ok(Alert {
                monitor: r.get(0)?,
                index: r.get::<_, i64>(1)? as usize,
                check: r.get(2)?,
                state: AlertState::parse(&r.get::<_, String>(3)?),
                since_us: r.get(4)?,
                failing: r.get::<_, i64>(5)? as u32,
                fired_at_us: r.get(6)?,
                last_notified_us: r.get(7)?,
                value: r.get(8)?,
                threshold: r.get(9)?,
                message: r.get(10)?,
                evaluated_at_us: r.get(11)?,
            })
        })?;
        rows.collect()
    }

    /// Stores an alert's state.
    pub fn save_alert(&self, a: &Alert) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO alerts VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                a.monitor,
                a.index as i64,
                a.check,
                a.state.name(),
                a.since_us,
                i64::from(a.failing),
                a.fired_at_us,
                a.last_notified_us,
                a.value.filter(|v| v.is_finite()),
                a.threshold,
                a.message,
                a.evaluated_at_us,
            ],
        )?;
        Ok(())
    }

    /// Records a delivery attempt.
    pub fn record_delivery(&self, d: &Delivery) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO deliveries (monitor, sink, status, alerts, attempt, at, ok, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![
                d.monitor,
                d.sink,
                d.status,
                d.alerts as i64,
                i64::from(d.attempt),
                d.at_us,
                d.ok,
                d.error
            ],
        )?;
        Ok(())
    }

    /// Delivery attempts of `monitor`, oldest first.
    pub fn deliveries(&self, monitor: Option<&str>) -> rusqlite::Result<Vec<Delivery>> {
        let mut stmt = self.conn.prepare(
            "SELECT monitor, sink, status, alerts, attempt, at, ok, error FROM deliveries
             WHERE (?1 IS NULL OR monitor = ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map(rusqlite::params![monitor], |r| {
            Ok(Delivery {
                monitor: r.get(0)?,
                sink: r.get(1)?,
                status: r.get(2)?,
                alerts: r.get::<_, i64>(3)? as usize,
                attempt: r.get::<_, i64>(4)? as u32,
                at_us: r.get(5)?,
                ok: r.get(6)?,
                error: r.get(7)?,
            })
        })?;
        rows.collect()
    }
}
