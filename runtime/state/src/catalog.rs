//! The state catalog: `.mlp/state.duckdb` holds every applied resource (kind, id, content
//! hash, version, spec, the time and the plan that applied it), the lineage edges between
//! them, the history of every apply, and the whole plan the last apply applied (what
//! `mlpc serve` and the scheduler run). All writes of one apply are one transaction.

use crate::diff::{Action, ChangeSet};
use duckdb::{params, Connection, Transaction};
use mlp_ir::Plan;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Errors of the state catalog.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// DuckDB failed.
    #[error("state catalog `{path}`: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The DuckDB error.
        source: duckdb::Error,
    },
    /// The folder could not be created.
    #[error("cannot create `{path}`: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The stored plan is not a plan document.
    #[error("state catalog `{path}`: the applied plan is corrupt: {message}")]
    CorruptPlan {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored spec is not valid JSON.
    #[error("state catalog: resource `{id}` has a corrupt spec: {message}")]
    Corrupt {
        /// The resource.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// One applied resource as the state holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateResource {
    /// Stable id (`feature.user_stats.avg_amount_7d`).
    pub id: String,
    /// Kind (`feature`, `model`...).
    pub kind: String,
    /// Content hash of the spec.
    pub hash: String,
    /// 1 when created, +1 on each update or replace.
    pub version: i64,
    /// The spec as JSON.
    pub spec: serde_json::Value,
    /// When it was last applied (RFC 3339, UTC).
    pub applied_at: String,
    /// The plan that last applied it.
    pub plan_id: String,
}

/// Everything the state holds, read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateSnapshot {
    /// Incremented by every apply that changed something; 0 for an empty state.
    pub serial: i64,
    /// Resources by id.
    pub resources: BTreeMap<String, StateResource>,
    /// Lineage edges `(from, to, kind)` between applied resources.
    pub edges: Vec<(String, String, String)>,
}

/// An apply as the state recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastApply {
    /// Its serial.
    pub serial: i64,
    /// The plan it applied.
    pub plan_id: String,
    /// When (RFC 3339, UTC).
    pub applied_at: String,
    /// Creates, updates, replaces and deletes.
    pub changes: [i64; 4],
}

/// One `history` row before it is written: id, kind, action, hash, version.
type HistoryRow<'a> = (&'a str, &'a str, String, Option<&'a str>, Option<i64>);

/// An open state catalog.
pub struct Catalog {
    /// The connection (one per process; DuckDB allows one writer).
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
  id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, hash VARCHAR NOT NULL, version BIGINT NOT NULL,
  spec VARCHAR NOT NULL, applied_at VARCHAR NOT NULL, plan_id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS edges (from_id VARCHAR NOT NULL, to_id VARCHAR NOT NULL, kind VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS history (
  serial BIGINT NOT NULL, plan_id VARCHAR NOT NULL, id VARCHAR NOT NULL, kind VARCHAR NOT NULL,
  action VARCHAR NOT NULL, hash VARCHAR, version BIGINT, applied_at VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS applied_plan (id INTEGER PRIMARY KEY, serial BIGINT NOT NULL, plan VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS applies (
  serial BIGINT PRIMARY KEY, plan_id VARCHAR NOT NULL, applied_at VARCHAR NOT NULL,
  creates BIGINT NOT NULL, updates BIGINT NOT NULL, replaces BIGINT NOT NULL, deletes BIGINT NOT NULL);
";

impl Catalog {
    /// Opens (creating when missing) the catalog of the project in `project_dir`.
    pub fn open(project_dir: &Path) -> Result<Self, StateError> {
        let dir = mlp_ir::host::state_dir(project_dir);
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("state.duckdb");
        let conn = Connection::open(&path).map_err(|source| StateError::Db {
            path: path.clone(),
            source,
        })?;
        let cat = Catalog { conn, path };
        cat.conn.execute_batch(SCHEMA).map_err(|e| cat.err(e))?;
        Ok(cat)
    }

    /// The state of the project in `project_dir` without changing anything on disk: empty
    /// when no apply has run yet, otherwise read through a read-only connection.
    pub fn read_snapshot(project_dir: &Path) -> Result<StateSnapshot, StateError> {
        match Catalog::open_read_only(project_dir)? {
            Some(cat) => cat.snapshot(),
            None => Ok(StateSnapshot::default()),
        }
    }

    /// The plan the last apply applied, read without changing anything on disk: `None` when
    /// nothing has been applied yet. This, never the source, is what serves and runs.
    pub fn read_applied_plan(project_dir: &Path) -> Result<Option<Plan>, StateError> {
        match Catalog::open_read_only(project_dir)? {
            Some(cat) => cat.applied_plan(),
            None => Ok(None),
        }
    }

    /// The last apply that changed something, read without changing anything on disk:
    /// `None` before the first.
    pub fn read_last_apply(project_dir: &Path) -> Result<Option<LastApply>, StateError> {
        let Some(cat) = Catalog::open_read_only(project_dir)? else {
            return Ok(None);
        };
        let row = cat.conn.query_row(
            "SELECT serial, plan_id, applied_at, creates, updates, replaces, deletes FROM applies ORDER BY serial DESC LIMIT 1",
            [],
            |r| {
                Ok(LastApply {
                    serial: r.get(0)?,
                    plan_id: r.get(1)?,
                    applied_at: r.get(2)?,
                    changes: [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                })
            },
        );
        match row {
            Ok(a) => Ok(Some(a)),
            Err(duckdb::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(cat.err(e)),
        }
    }

    /// The catalog through a read-only connection (the caller drops it soon: a reader holds
    /// up another process's apply); `None` when there is no catalog yet.
    fn open_read_only(project_dir: &Path) -> Result<Option<Catalog>, StateError> {
        let path = mlp_ir::host::state_dir(project_dir).join("state.duckdb");
        if !path.exists() {
            return Ok(None);
        }
        // A few small reads: one thread, no extension autoloading. DuckDB's thread pool
        // start-up and shut-down were most of `mlpc plan`'s time on the example.
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .and_then(|c| c.threads(1))
            .and_then(|c| c.enable_autoload_extension(false))
            .map_err(|source| StateError::Db {
                path: path.clone(),
                source,
            })?;
        let conn = Connection::open_with_flags(&path, config).map_err(|source| StateError::Db {
            path: path.clone(),
            source,
        })?;
        Ok(Some(Catalog { conn, path }))
    }

    /// The plan the last apply applied (`None` before the first apply, and for a catalog
    /// written by a version of mlp that did not store it).
    pub fn applied_plan(&self) -> Result<Option<Plan>, StateError> {
        let has_table: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'applied_plan'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if has_table == 0 {
            return Ok(None);
        }
        let json: Option<String> =
            match self
                .conn
                .query_row("SELECT plan FROM applied_plan WHERE id = 1", [], |r| {
                    r.get(0)
                }) {
                Ok(j) => Some(j),
                Err(duckdb::Error::QueryReturnedNoRows) => None,
                Err(e) => return Err(self.err(e)),
            };
        let Some(json) = json else {
            return Ok(None);
        };
        let doc: mlp_ir::PlanDoc =
            serde_json::from_str(&json).map_err(|e| StateError::CorruptPlan {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(Some(Plan::from_doc(doc)))
    }

    fn err(&self, source: duckdb::Error) -> StateError {
        StateError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The state as it is now.
    pub fn snapshot(&self) -> Result<StateSnapshot, StateError> {
        let serial: i64 = self
            .conn
            .query_row("SELECT coalesce(max(serial), 0) FROM applies", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare("SELECT id, kind, hash, version, spec, applied_at, plan_id FROM resources ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut resources = BTreeMap::new();
        for row in rows {
            let (id, kind, hash, version, spec, applied_at, plan_id) =
                row.map_err(|e| self.err(e))?;
            let spec = serde_json::from_str(&spec).map_err(|e| StateError::Corrupt {
                id: id.clone(),
                message: e.to_string(),
            })?;
            resources.insert(
                id.clone(),
                StateResource {
                    id,
                    kind,
                    hash,
                    version,
                    spec,
                    applied_at,
                    plan_id,
                },
            );
        }
        let mut stmt = self
            .conn
            .prepare("SELECT from_id, to_id, kind FROM edges ORDER BY from_id, to_id, kind")
            .map_err(|e| self.err(e))?;
        let edges = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(StateSnapshot {
            serial,
            resources,
            edges,
        })
    }

    /// Records an apply of `changes` (made from `plan`) in one transaction: the resources
    /// created, updated, replaced and deleted, the lineage edges of the new plan, a history
    /// row per change and an `applies` row. Returns the new serial. Nothing is written when
    /// the change set is empty. Killed half-way, the transaction is rolled back by DuckDB's
    /// write-ahead log, and the next apply sees the state as it was.
    pub fn record_apply(
        &mut self,
        changes: &ChangeSet,
        plan: &Plan,
        plan_id: &str,
        now: &str,
    ) -> Result<i64, StateError> {
        let plan_json =
            serde_json::to_string(&plan.to_doc()).map_err(|e| StateError::CorruptPlan {
                path: self.path.clone(),
                message: format!("cannot serialise the plan: {e}"),
            })?;
        if changes.is_empty() {
            // Nothing to apply; a catalog that holds no plan yet (written before mlp stored
            // it) gets this one, which is what its resources already are.
            if self.applied_plan()?.is_none() {
                self.conn
                    .execute(
                        "INSERT OR REPLACE INTO applied_plan VALUES (1, ?, ?)",
                        params![changes.state_serial, plan_json],
                    )
                    .map_err(|e| self.err(e))?;
            }
            return Ok(changes.state_serial);
        }
        let path = self.path.clone();
        let err = |source| StateError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let serial: i64 = tx
            .query_row(
                "SELECT coalesce(max(serial), 0) + 1 FROM applies",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        // Bulk writes through appenders: one apply may touch tens of thousands of resources.
        let versions = resource_versions(&tx).map_err(err)?;
        delete_changed(&tx, changes).map_err(err)?;
        let (history, counts) =
            append_resources(&tx, changes, plan, &versions, plan_id, now, &err)?;
        crate::failpoint::failpoint("record.mid");
        append_history(&tx, serial, plan_id, history, now).map_err(err)?;
        replace_edges(&tx, plan).map_err(err)?;
        tx.execute(
            "INSERT INTO applies VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![serial, plan_id, now, counts[0], counts[1], counts[2], counts[3]],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO applied_plan VALUES (1, ?, ?)",
            params![serial, plan_json],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        crate::failpoint::failpoint("record.committed");
        Ok(serial)
    }

    /// The DuckDB version linked (for `mlpc --version` and diagnostics).
    pub fn duckdb_version(&self) -> Result<String, StateError> {
        self.conn
            .query_row("SELECT version()", params![], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// The version of every resource in the catalog.
fn resource_versions(tx: &Transaction<'_>) -> duckdb::Result<HashMap<String, i64>> {
    let mut versions = HashMap::new();
    let mut stmt = tx.prepare("SELECT id, version FROM resources")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (id, v) = row?;
        versions.insert(id, v);
    }
    Ok(versions)
}

/// Deletes the rows of the resources a change updates, replaces or deletes (the new rows
/// of the first two are appended after).
fn delete_changed(tx: &Transaction<'_>, changes: &ChangeSet) -> duckdb::Result<()> {
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS gone (id VARCHAR); DELETE FROM gone;")?;
    {
        let mut app = tx.appender("gone")?;
        for c in changes
            .changes
            .iter()
            .filter(|c| c.action != Action::Create)
        {
            app.append_row(params![c.id])?;
        }
        app.flush()?;
    }
    tx.execute(
        "DELETE FROM resources WHERE id IN (SELECT id FROM gone)",
        [],
    )?;
    Ok(())
}

/// Appends the new row of every resource a change creates, updates or replaces, one version
/// up. Returns a history row per change and the counts of created, updated, replaced and
/// deleted resources.
fn append_resources<'c>(
    tx: &Transaction<'_>,
    changes: &'c ChangeSet,
    plan: &Plan,
    versions: &HashMap<String, i64>,
    plan_id: &str,
    now: &str,
    err: &dyn Fn(duckdb::Error) -> StateError,
) -> Result<(Vec<HistoryRow<'c>>, [i64; 4]), StateError> {
    let mut counts = [0i64; 4];
    let mut history: Vec<HistoryRow<'_>> = Vec::new();
    let mut app = tx.appender("resources").map_err(err)?;
    for c in &changes.changes {
        let action = c.actions.join("+");
        let version = match (c.action, plan.get(&c.id)) {
            (Action::Delete, _) | (_, None) => {
                counts[3] += i64::from(c.action == Action::Delete);
                None
            }
            (_, Some(r)) => {
                let spec = serde_json::to_string(&r.spec).map_err(|e| StateError::Corrupt {
                    id: r.id.clone(),
                    message: format!("cannot serialise the spec: {e}"),
                })?;
                let version = versions.get(&c.id).map_or(1, |v| v + 1);
                app.append_row(params![r.id, r.kind(), r.hash, version, spec, now, plan_id])
                    .map_err(err)?;
                counts[match c.action {
                    Action::Create => 0,
                    Action::Update => 1,
                    _ => 2,
                }] += 1;
                Some(version)
            }
        };
        history.push((&c.id, &c.kind, action, c.after_hash.as_deref(), version));
    }
    app.flush().map_err(err)?;
    Ok((history, counts))
}

/// Appends the apply's history rows.
fn append_history(
    tx: &Transaction<'_>,
    serial: i64,
    plan_id: &str,
    history: Vec<HistoryRow<'_>>,
    now: &str,
) -> duckdb::Result<()> {
    let mut app = tx.appender("history")?;
    for (id, kind, action, hash, version) in history {
        app.append_row(params![
            serial, plan_id, id, kind, action, hash, version, now
        ])?;
    }
    app.flush()
}

/// Replaces the lineage edges with the new plan's.
fn replace_edges(tx: &Transaction<'_>, plan: &Plan) -> duckdb::Result<()> {
    tx.execute("DELETE FROM edges", [])?;
    let mut app = tx.appender("edges")?;
    for e in plan.edges() {
        app.append_row(params![e.from, e.to, e.kind.name()])?;
    }
    app.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_catalog_is_empty_and_links_duckdb_1_5_6() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cat.snapshot().unwrap_or_else(|e| panic!("{e}")),
            StateSnapshot::default()
        );
        assert_eq!(
            cat.duckdb_version().unwrap_or_else(|e| panic!("{e}")),
            "v1.5.6"
        );
        assert!(dir.path().join(".mlp/state.duckdb").exists());
    }
}
