//! Run history in `.mlp/runs.sqlite`: one row per run and one per step of it, written as the
//! run goes so that `mlpc runs` and `mlpc logs` see a run in progress. SQLite in WAL mode, so
//! that a run, the CLI and the server can read and write at once.

use crate::RunError;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL, trigger TEXT NOT NULL,
  params TEXT NOT NULL, pid INTEGER NOT NULL, started TEXT NOT NULL, ended TEXT, error TEXT,
  started_us INTEGER NOT NULL, ended_us INTEGER
);
CREATE INDEX IF NOT EXISTS runs_pipeline ON runs (pipeline, started);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL, cached INTEGER NOT NULL,
  reason TEXT NOT NULL, attempts INTEGER NOT NULL, started TEXT, ended TEXT, duration_ms INTEGER,
  cache_key TEXT, output TEXT, exit_code INTEGER, error TEXT, registered TEXT,
  PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS schedules (
  pipeline TEXT PRIMARY KEY, cron TEXT NOT NULL, last_tick_us INTEGER NOT NULL
);
";

/// A run as the history has it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Pipeline.
    pub pipeline: String,
    /// `running`, `succeeded`, `failed`, `cancelled` or `interrupted` (the process died).
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// Parameters, as JSON text.
    pub params: String,
    /// Start, RFC 3339 UTC.
    pub started: String,
    /// End, RFC 3339 UTC.
    pub ended: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Wall time from start to end (to now while it runs), in milliseconds.
    pub duration_ms: u64,
    /// Its steps, in the order they were declared.
    pub steps: Vec<StepRecord>,
}

/// A step of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StepRecord {
    /// Step name.
    pub step: String,
    /// `pending`, `running`, `succeeded`, `cached`, `failed`, `skipped` (something it needs
    /// failed) or `cancelled`.
    pub status: String,
    /// Whether the output came from the cache.
    pub cached: bool,
    /// Why it ran (or why it did not).
    pub reason: String,
    /// Attempts made.
    pub attempts: u64,
    /// Start, RFC 3339 UTC.
    pub started: Option<String>,
    /// End, RFC 3339 UTC.
    pub ended: Option<String>,
    /// Wall time in milliseconds.
    pub duration_ms: Option<u64>,
    /// Cache key.
    pub cache_key: Option<String>,
    /// Output hash in the store.
    pub output: Option<String>,
    /// Exit code of the last attempt.
    pub exit_code: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
    /// The model version it registered (`MODEL@VERSION`).
    pub registered: Option<String>,
}

/// The history database of a project.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// The current time as RFC 3339 UTC with microseconds.
pub fn now() -> String {
    // chrono reads a clock set before 1970 as it is, where `duration_since` would fail.
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Microseconds since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn pid_alive(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl History {
    /// Opens (creating when needed) `.mlp/runs.sqlite`.
    pub fn open(project_dir: &Path) -> Result<History, RunError> {
        let dir = mlp_ir::host::state_dir(project_dir);
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("runs.sqlite");
        let h = |e: rusqlite::Error| RunError::History(format!("{}: {e}", path.display()));
        let conn = mlp_util::open_sqlite(&path, Duration::from_secs(30), SCHEMA).map_err(h)?;
        // Columns added since the first release of the schema.
        for (table, column, ty) in [
            ("runs", "started_us", "INTEGER NOT NULL DEFAULT 0"),
            ("runs", "ended_us", "INTEGER"),
            ("steps", "registered", "TEXT"),
        ] {
            let has: bool = conn
                .prepare(&format!(
                    "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
                ))
                .and_then(|mut s| s.exists([column]))
                .map_err(h)?;
            if !has {
                conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))
                    .map_err(h)?;
            }
        }
        Ok(History { conn, path })
    }

    /// Runs `f` on the connection (for the scheduler's table), mapping errors; a query that
    /// finds no row gives `None`.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, RunError> {
        f(&self.conn).optional().map_err(self.err())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> RunError + '_ {
        move |e| RunError::History(format!("{}: {e}", self.path.display()))
    }

    /// Records a new run with its steps pending.
    pub fn start_run(
        &self,
        run_id: &str,
        pipeline: &str,
        trigger: &str,
        params: &str,
        steps: &[String],
    ) -> Result<(), RunError> {
        self.conn
            .execute(
                "INSERT INTO runs VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, NULL, NULL, ?7, NULL)",
                params![
                    run_id,
                    pipeline,
                    trigger,
                    params,
                    std::process::id(),
                    now(),
                    now_us()
                ],
            )
            .map_err(self.err())?;
        for s in steps {
            self.conn
                .execute(
                    "INSERT INTO steps (run_id, step, status, cached, reason, attempts) VALUES (?1, ?2, 'pending', 0, '', 0)",
                    params![run_id, s],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Marks the runs of `pipeline` still `running` as `interrupted` (their process was
    /// killed), with their unfinished steps: all of them when the caller holds the pipeline's
    /// only run slot (`exclusive`), else those whose process is gone.
    pub fn mark_interrupted(
        &self,
        pipeline: &str,
        exclusive: bool,
    ) -> Result<Vec<String>, RunError> {
        let mut stmt = self
            .conn
            .prepare("SELECT run_id, pid FROM runs WHERE pipeline = ?1 AND status = 'running'")
            .map_err(self.err())?;
        let rows: Vec<(String, i64)> = stmt
            .query_map(params![pipeline], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (run, pid) in rows {
            if exclusive || !pid_alive(pid) {
                self.finish_run(
                    &run,
                    "interrupted",
                    Some("the run's process stopped before it finished"),
                )?;
                out.push(run);
            }
        }
        Ok(out)
    }

    /// Records a step's state.
    pub fn update_step(&self, run_id: &str, s: &StepRecord) -> Result<(), RunError> {
        self.conn
            .execute(
                "UPDATE steps SET status = ?3, cached = ?4, reason = ?5, attempts = ?6, started = ?7, ended = ?8, duration_ms = ?9, cache_key = ?10, output = ?11, exit_code = ?12, error = ?13, registered = ?14 WHERE run_id = ?1 AND step = ?2",
                params![
                    run_id, s.step, s.status, s.cached, s.reason, s.attempts, s.started, s.ended,
                    s.duration_ms, s.cache_key, s.output, s.exit_code, s.error, s.registered
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records the end of a run; steps still pending or running end as `cancelled` when the
    /// run was, `interrupted` when its process died, and `skipped` otherwise.
    pub fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), RunError> {
        let leftover = match status {
            "cancelled" => "cancelled",
            "interrupted" => "interrupted",
            _ => "skipped",
        };
        self.conn
            .execute(
                "UPDATE steps SET status = ?2 WHERE run_id = ?1 AND status IN ('pending', 'running')",
                params![run_id, leftover],
            )
            .map_err(self.err())?;
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, ended = ?3, error = ?4, ended_us = ?5 WHERE run_id = ?1",
                params![run_id, status, now(), error, now_us()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Sets a run's status without touching its steps (a workflow engine runs them one by
    /// one: a failed step fails the run, and its retry makes it `running` again).
    pub fn set_run_status(
        &self,
        run_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<(), RunError> {
        let ended = status != "running";
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, error = ?3, ended = ?4, ended_us = ?5 WHERE run_id = ?1",
                params![
                    run_id,
                    status,
                    error,
                    ended.then(now),
                    ended.then(now_us)
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The latest runs (of `pipeline` only, when given), newest first, at most `limit`.
    pub fn runs(&self, pipeline: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, RunError> {
        self.runs_page(pipeline, 0, limit)
    }

    /// How many runs there are (of `pipeline` only, when given).
    pub fn count(&self, pipeline: Option<&str>) -> Result<u64, RunError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM runs WHERE (?1 IS NULL OR pipeline = ?1)",
                params![pipeline],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(self.err())
    }

    /// The runs newest first (of `pipeline` only, when given), skipping `offset`, at most
    /// `limit`: one page of the history.
    pub fn runs_page(
        &self,
        pipeline: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<RunRecord>, RunError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id FROM runs WHERE (?1 IS NULL OR pipeline = ?1) ORDER BY started DESC, run_id DESC LIMIT ?2 OFFSET ?3",
            )
            .map_err(self.err())?;
        let clamp = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let ids: Vec<String> = stmt
            .query_map(params![pipeline, clamp(limit), clamp(offset)], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(self.err())?;
        ids.iter()
            .filter_map(|id| self.run(id).transpose())
            .collect()
    }

    /// One run with its steps, or `None`. A run id may be given by a unique prefix.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, RunError> {
        let mut stmt = self
            .conn
            .prepare("SELECT run_id, pipeline, status, trigger, params, started, ended, error, pid, coalesce(ended_us, ?2) - started_us FROM runs WHERE run_id = ?1 OR run_id LIKE ?3 ESCAPE '\\' ORDER BY run_id = ?1 DESC LIMIT 2")
            .map_err(self.err())?;
        // The prefix matches literally: `%` and `_` in it are not wildcards.
        let prefix = format!(
            "{}%",
            run_id
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let found: Vec<(RunRecord, i64)> = stmt
            .query_map(params![run_id, now_us(), prefix], |r| {
                Ok((
                    RunRecord {
                        run_id: r.get(0)?,
                        pipeline: r.get(1)?,
                        status: r.get(2)?,
                        trigger: r.get(3)?,
                        params: r.get(4)?,
                        started: r.get(5)?,
                        ended: r.get(6)?,
                        error: r.get(7)?,
                        duration_ms: (r.get::<_, i64>(9)?.max(0) / 1000) as u64,
                        steps: Vec::new(),
                    },
                    r.get(8)?,
                ))
            })
            .and_then(|r| r.collect())
            .map_err(self.err())?;
        let exact = found.first().is_some_and(|(r, _)| r.run_id == run_id);
        if found.len() > 1 && !exact {
            return Err(RunError::Spec(format!(
                "run id prefix `{run_id}` is ambiguous; give more of it"
            )));
        }
        let Some((mut run, pid)) = found.into_iter().next() else {
            return Ok(None);
        };
        // A run whose process is gone without finishing was killed.
        if run.status == "running" && !pid_alive(pid) {
            run.status = "interrupted".into();
        }
        let mut stmt = self
            .conn
            .prepare("SELECT step, status, cached, reason, attempts, started, ended, duration_ms, cache_key, output, exit_code, error, registered FROM steps WHERE run_id = ?1 ORDER BY rowid")
            .map_err(self.err())?;
        run.steps = stmt
            .query_map(params![run.run_id], |r| {
                Ok(StepRecord {
                    step: r.get(0)?,
                    status: r.get(1)?,
                    cached: r.get(2)?,
                    reason: r.get(3)?,
                    attempts: r.get(4)?,
                    started: r.get(5)?,
                    ended: r.get(6)?,
                    duration_ms: r.get(7)?,
                    cache_key: r.get(8)?,
                    output: r.get(9)?,
                    exit_code: r.get(10)?,
                    error: r.get(11)?,
                    registered: r.get(12)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(self.err())?;
        Ok(Some(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix matches literally (`_` and `%` are not wildcards), an ambiguous one is an
    /// error, and pages of the history come newest first with the count beside them.
    #[test]
    fn prefixes_match_literally_and_pages_follow_the_count() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let h = History::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for id in ["a_1", "ab1", "x%y", "z1"] {
            h.start_run(id, if id == "z1" { "q" } else { "p" }, "manual", "{}", &[])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let found = |p: &str| h.run(p).map(|r| r.map(|r| r.run_id));
        assert_eq!(found("a_").ok().flatten().as_deref(), Some("a_1"));
        assert_eq!(found("x%").ok().flatten().as_deref(), Some("x%y"));
        assert_eq!(found("%").ok().flatten(), None);
        assert!(matches!(found("a"), Err(RunError::Spec(_))));
        assert_eq!(h.count(None).ok(), Some(4));
        assert_eq!(h.count(Some("p")).ok(), Some(3));
        let page = |offset: usize, limit: usize| -> Vec<String> {
            h.runs_page(Some("p"), offset, limit)
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .map(|r| r.run_id)
                .collect()
        };
        let all = page(0, 10);
        assert_eq!(all.len(), 3);
        assert_eq!(page(1, 1), vec![all[1].clone()]);
        assert!(page(usize::MAX, 10).is_empty());
    }
}
