//! Consumers the server has seen: every `X-MLP-Consumer` that called a deployment, with how
//! often and when, in `.mlp/consumers.sqlite` (SQLite in WAL mode: the server writes it
//! while `mlpc plan` and `mlpc lineage` read it). A seen consumer that the specs do not
//! declare as using that deployment is *undeclared*: plan and lineage show it, so that a
//! breaking change cannot surprise a caller nobody wrote down.

use mlp_ir::Plan;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// A (consumer, deployment) pair the server has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeenConsumer {
    /// The `X-MLP-Consumer` value.
    pub consumer: String,
    /// The deployment it called.
    pub deployment: String,
    /// Requests counted.
    pub requests: u64,
    /// First seen, microseconds since the epoch.
    pub first_us: i64,
    /// Last seen, microseconds since the epoch.
    pub last_us: i64,
}

fn open(project_dir: &Path) -> Result<Connection, String> {
    let dir = mlp_ir::host::state_dir(project_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("consumers.sqlite");
    let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
    mlp_util::open_sqlite(
        &path,
        Duration::from_secs(10),
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS seen (
           consumer TEXT NOT NULL, deployment TEXT NOT NULL, requests INTEGER NOT NULL,
           first_us INTEGER NOT NULL, last_us INTEGER NOT NULL,
           PRIMARY KEY (consumer, deployment));",
    )
    .map_err(err)
}

/// Adds counts to the record (requests are added; first and last seen widen).
pub fn record(project_dir: &Path, seen: &[SeenConsumer]) -> Result<(), String> {
    if seen.is_empty() {
        return Ok(());
    }
    let mut conn = open(project_dir)?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for s in seen {
        tx.execute(
            "INSERT INTO seen VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (consumer, deployment) DO UPDATE SET
               requests = requests + excluded.requests, first_us = min(first_us, excluded.first_us), last_us = max(last_us, excluded.last_us)",
            params![s.consumer, s.deployment, s.requests as i64, s.first_us, s.last_us],
        )
        .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

/// Everything seen, by consumer then deployment (nothing when the server never ran). An
/// unreadable record is an error, not an empty list: plan and lineage would hide consumers.
pub fn seen(project_dir: &Path) -> Result<Vec<SeenConsumer>, String> {
    let path = mlp_ir::host::state_dir(project_dir).join("consumers.sqlite");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = open(project_dir)?;
    let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let mut stmt = conn.prepare(
        "SELECT consumer, deployment, requests, first_us, last_us FROM seen ORDER BY consumer, deployment",
    ).map_err(err)?;
    stmt.query_map([], |r| {
        Ok(SeenConsumer {
            consumer: r.get(0)?,
            deployment: r.get(1)?,
            requests: r.get::<_, i64>(2)?.max(0) as u64,
            first_us: r.get(3)?,
            last_us: r.get(4)?,
        })
    })
    .and_then(|rows| rows.collect())
    .map_err(err)
}

/// Whether the plan declares consumer `consumer` as using deployment `deployment`.
pub fn is_declared(plan: &Plan, consumer: &str, deployment: &str) -> bool {
    let (from, to) = (
        format!("deployment.{deployment}"),
        format!("consumer.{consumer}"),
    );
    plan.edges().iter().any(|e| e.from == from && e.to == to)
}

/// The seen pairs the plan does not declare.
pub fn undeclared(plan: &Plan, project_dir: &Path) -> Result<Vec<SeenConsumer>, String> {
    Ok(seen(project_dir)?
        .into_iter()
        .filter(|s| !is_declared(plan, &s.consumer, &s.deployment))
        .collect())
}
