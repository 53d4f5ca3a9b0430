//! Materialization: the value of every feature of a view for every entity key, as of a
//! watermark, persisted in `.mlp/online.duckdb` for the online store. The values are exactly
//! what point-in-time retrieval returns at the watermark (materialization runs the same
//! retrieval), so online and offline cannot disagree.
//!
//! Incremental: a run recomputes only the keys whose values can have changed since the last
//! watermark: keys with rows created or timestamped after it, and keys with rows inside
//! the longest aggregation window, whose aggregates move as time passes. Each view is
//! written in one transaction: a failed run leaves the previous values and watermark.
//!
//! With `online = redis(URL)`, the local database stays the materializer's record (its
//! watermarks and rows), and each view's recomputed rows are also written to Redis, in
//! pipelined batches, before the view's transaction commits: a Redis that cannot take them
//! fails the view and leaves the old watermark, so the next run writes them again. Redis
//! keeps each view's watermark too; when it differs from the local one (Redis lost its data,
//! or it is a new server), the view is written whole. Each run that wrote rows counts one
//! more generation, which drops the servers' near caches.

use crate::historical::{
    historical_if_indexed, key_columns, source_reader, sql_type, view_of, FeatureError,
    HistoricalReport, HistoricalRequest, ViewInfo,
};
use crate::online::{online_config, to_json, OnlineConfig};
use crate::redis_online::RedisOnline;
use crate::redis_store::OnlineWrite;
use crate::sql::{ident, string};
use duckdb::{params, Connection, OptionalExt};
use mlp_ir::{FeatureDef, Plan, Spec};
use std::path::{Path, PathBuf};

/// The persisted online tables of a project.
pub fn online_db(project_dir: &Path) -> PathBuf {
    mlp_ir::host::state_dir(project_dir).join("online.duckdb")
}

/// The table of a view in the online database.
pub fn online_table(view: &str) -> String {
    ident(&format!("online__{view}"))
}

/// What one view's materialization did.
#[derive(Debug, Clone, PartialEq)]
pub struct Materialized {
    /// The view.
    pub view: String,
    /// The previous watermark, if any.
    pub from: Option<String>,
    /// The new watermark.
    pub until: String,
    /// Keys recomputed.
    pub keys: u64,
}

/// A fingerprint of a view's definition: when it changes, the view is rebuilt from scratch.
fn definition(plan: &Plan, view: &str) -> String {
    let mut parts: Vec<String> = plan
        .resources()
        .filter(|r| {
            r.id == format!("features.{view}") || r.id.starts_with(&format!("feature.{view}."))
        })
        .map(|r| r.hash.clone())
        .collect();
    parts.sort();
    parts.join(",")
}

/// One materialization at a time: an exclusive lock on `.mlp/online.lock`, held until the
/// returned file is dropped (another `mlpc materialize` waits for it).
fn writer_lock(dir: &Path) -> Result<std::fs::File, FeatureError> {
    let path = dir.join("online.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| FeatureError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
    file.lock().map_err(|e| FeatureError::File {
        path,
        message: format!("cannot lock: {e}"),
    })?;
    Ok(file)
}

/// The online database is never written in place, so that readers (a running server) never
/// hold up a materialization and never see half of one: the file is copied, the copy is
/// written and checkpointed, then renamed over the original. Readers with the old file open
/// keep reading it until they reopen (the server does within a second of the change).
struct NextDb {
    path: PathBuf,
    next: PathBuf,
}

impl NextDb {
    fn start(path: &Path) -> Result<(NextDb, Connection), FeatureError> {
        let next = PathBuf::from(format!("{}.next", path.display()));
        let io = |p: &Path, e: std::io::Error| FeatureError::File {
            path: p.to_path_buf(),
            message: e.to_string(),
        };
        for leftover in [
            next.clone(),
            PathBuf::from(format!("{}.wal", next.display())),
        ] {
            match std::fs::remove_file(&leftover) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&leftover, e)),
                _ => {}
            }
        }
        if path.exists() {
            std::fs::copy(path, &next).map_err(|e| io(path, e))?;
            // A log left by a writer that died (or by an in-place write of an older mlpc).
            let wal = PathBuf::from(format!("{}.wal", path.display()));
            if wal.exists() {
                std::fs::copy(&wal, format!("{}.wal", next.display())).map_err(|e| io(&wal, e))?;
            }
        }
        let conn = Connection::open(&next)?;
        Ok((
            NextDb {
                path: path.to_path_buf(),
                next,
            },
            conn,
        ))
    }

    /// Checkpoints, closes and puts the new file in place.
    fn finish(self, conn: Connection) -> Result<(), FeatureError> {
        conn.execute_batch("CHECKPOINT;")?;
        drop(conn);
        // The copy holds what the old log held: the log must not be replayed onto it, so a
        // log that cannot be removed stops the swap (the original stays in place).
        let wal = PathBuf::from(format!("{}.wal", self.path.display()));
        match std::fs::remove_file(&wal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(FeatureError::Db(format!(
                    "cannot remove the old write-ahead log `{}` before replacing the database: {e}",
                    wal.display()
                )))
            }
            _ => {}
        }
        std::fs::rename(&self.next, &self.path).map_err(|e| FeatureError::File {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }
}

impl Drop for NextDb {
    fn drop(&mut self) {
        // After a failure: the original stays as it was. Best effort (after a success there is
        // nothing to remove): `start` removes leftovers before it copies.
        std::fs::remove_file(&self.next).ok();
        std::fs::remove_file(format!("{}.wal", self.next.display())).ok();
    }
}

/// Materializes `views` (every online view with a source when empty) up to `until`
/// (`YYYY-MM-DD HH:MM:SS`, UTC; now when absent).
pub fn materialize(
    plan: &Plan,
    project_dir: &Path,
    views: &[String],
    until: Option<&str>,
) -> Result<Vec<Materialized>, FeatureError> {
    let dir = mlp_ir::host::state_dir(project_dir);
    std::fs::create_dir_all(&dir).map_err(|e| FeatureError::File {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let _lock = writer_lock(&dir)?;
    let (next, conn) = NextDb::start(&online_db(project_dir))?;
    conn.execute_batch("SET TimeZone = 'UTC';")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS watermarks (view VARCHAR PRIMARY KEY, watermark TIMESTAMP NOT NULL, definition VARCHAR NOT NULL, materialized_at TIMESTAMP NOT NULL);",
    )?;
    let until_given = until.is_some();
    let until: String = match until {
        Some(u) => conn
            .query_row(
                &format!("SELECT CAST(CAST({} AS TIMESTAMP) AS VARCHAR)", string(u)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| {
                FeatureError::Db(format!(
                    "--until `{u}` is not a timestamp: {}",
                    e.to_string().lines().next().unwrap_or("")
                ))
            })?,
        None => conn.query_row(
            "SELECT CAST(date_trunc('second', now()::TIMESTAMP) AS VARCHAR)",
            [],
            |r| r.get(0),
        )?,
    };
    let chosen: Vec<String> = if views.is_empty() {
        plan.resources()
            .filter_map(|r| match &r.spec {
                Spec::FeatureView {
                    source: Some(_),
                    online: true,
                    ..
                } => Some(r.name.clone()),
                _ => None,
            })
            .collect()
    } else {
        views.to_vec()
    };
    let redis = match online_config(plan) {
        OnlineConfig::Redis { url, prefix, .. } => Some(RedisOnline::new(&url, &prefix)),
        OnlineConfig::Memory { .. } => None,
    };
    let mut out: Vec<Materialized> = Vec::new();
    for view in &chosen {
        let cx = ViewRun {
            conn: &conn,
            plan,
            project_dir,
            redis: redis.as_ref(),
        };
        match cx.materialize_view(view, &until, until_given) {
            Ok(m) => out.push(m),
            Err(e) => {
                // Each view is its own transaction: the views done so far are kept, and the
                // servers are told of what reached Redis. The view's error is the one to
                // report; a Redis that also refuses the count adds nothing to it.
                next.finish(conn)?;
                if let Some(r) = &redis {
                    if out.iter().any(|m| m.keys > 0) {
                        r.bump_generation().ok();
                    }
                }
                return Err(e);
            }
        }
    }
    next.finish(conn)?;
    if let Some(r) = &redis {
        if out.iter().any(|m| m.keys > 0) {
            r.bump_generation()?;
        }
    }
    Ok(out)
}

/// What materializing one view works with.
struct ViewRun<'a> {
    conn: &'a Connection,
    plan: &'a Plan,
    project_dir: &'a Path,
    redis: Option<&'a RedisOnline>,
}

/// The SQL pieces one view's materialization shares between its steps.
struct ViewSql {
    /// The view's entity, source and keys.
    v: ViewInfo,
    /// The entity's key columns.
    keys: Vec<String>,
    /// The key columns, quoted and comma-separated.
    key_list: String,
    /// The source as a DuckDB table expression.
    src: String,
    /// The source's event time, as a TIMESTAMP.
    ts: String,
    /// The source's created time, as a TIMESTAMP, where it has one.
    created: Option<String>,
    /// The new watermark, as a TIMESTAMP literal.
    until: String,
    /// The new watermark as given.
    until_text: String,
    /// The view's definition, stored beside its watermark.
    definition: String,
}

impl ViewRun<'_> {
    /// Materializes `view` up to `until` (given by the user, or now): only the keys whose
    /// values can have changed since its watermark, or all of them when its definition or
    /// Redis's watermark changed.
    fn materialize_view(
        &self,
        view: &str,
        until: &str,
        until_given: bool,
    ) -> Result<Materialized, FeatureError> {
        let (plan, project_dir) = (self.plan, self.project_dir);
        let v = view_of(plan, view)?;
        let def = definition(plan, view);
        let from = self.start(view, &def)?;
        if let Some(w) = &from {
            if w.as_str() >= until && !until_given {
                // Materializing "up to now" again within the same second: already up to date.
                return Ok(Materialized {
                    view: view.to_string(),
                    from: Some(w.clone()),
                    until: w.clone(),
                    keys: 0,
                });
            }
            if w.as_str() >= until {
                return Err(FeatureError::Db(format!(
                    "view `{view}` is already materialized up to {w}; --until must be later"
                )));
            }
        }
        let features = view_features(plan, view);
        let keys = key_columns(plan, &v.entity);
        let sql = ViewSql {
            key_list: keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", "),
            keys,
            src: source_reader(project_dir, &v.source),
            ts: format!("CAST({} AS TIMESTAMP)", ident(&v.source.timestamp)),
            created: v
                .source
                .created
                .as_ref()
                .map(|c| format!("CAST({} AS TIMESTAMP)", ident(c))),
            until: format!("CAST({} AS TIMESTAMP)", string(until)),
            until_text: until.to_string(),
            definition: def,
            v,
        };
        let tmp = tempdir_in(project_dir)?;
        let result = tmp.join("values.parquet");
        let recomputed = self.recompute(view, &features, &sql, from.as_deref(), &tmp, &result);
        let report = match recomputed {
            Ok(r) => r,
            Err(e) => {
                // Best effort on the way out: the error is what the caller needs.
                std::fs::remove_dir_all(&tmp).ok();
                return Err(e);
            }
        };
        let applied = self.write_view(view, &features, &sql, from.is_none(), &result);
        // Best effort: the scratch files were read; a leftover only takes space.
        std::fs::remove_dir_all(&tmp).ok();
        applied?;
        Ok(Materialized {
            view: view.to_string(),
            from,
            until: until.to_string(),
            keys: report.rows,
        })
    }

    /// The watermark to go on from: the view's last one, unless its definition changed since
    /// or Redis's watermark is not the local one (then the view is rebuilt from scratch).
    fn start(&self, view: &str, def: &str) -> Result<Option<String>, FeatureError> {
        let previous: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT CAST(watermark AS VARCHAR), definition FROM watermarks WHERE view = ?",
                params![view],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let from = previous.filter(|(_, d)| d == def).map(|(w, _)| w);
        if let (Some(r), Some(w)) = (self.redis, &from) {
            if r.watermark(view)?.as_deref() != Some(w.as_str()) {
                return Ok(None);
            }
        }
        Ok(from)
    }

    /// Recomputes the features of the keys whose values can have changed since `from` (all
    /// keys without it) into `result`: the affected keys as an entity file at the new
    /// watermark, then the same point-in-time retrieval as offline.
    fn recompute(
        &self,
        view: &str,
        features: &[(String, FeatureDef)],
        sql: &ViewSql,
        from: Option<&str>,
        tmp: &Path,
        result: &Path,
    ) -> Result<HistoricalReport, FeatureError> {
        let ViewSql {
            key_list,
            src,
            ts,
            until,
            ..
        } = sql;
        let mut affected = format!("{ts} <= {until}");
        if let Some(w) = from {
            let w = format!("CAST({} AS TIMESTAMP)", string(w));
            // Without a window only new rows change an aggregate; those keys are recomputed.
            let longest = features
                .iter()
                .filter_map(|(_, d)| match d {
                    FeatureDef::Aggregate { window_ms, .. } => *window_ms,
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let window = if longest > 0 {
                format!(
                    " OR {ts} > {w} - to_milliseconds({}::BIGINT)",
                    longest.min(i64::MAX as u64 / 2)
                )
            } else {
                String::new()
            };
            let late = sql
                .created
                .as_ref()
                .map(|c| format!(" OR {c} > {w}"))
                .unwrap_or_default();
            affected = format!("{affected} AND ({ts} > {w}{window}{late})");
        }
        let entities = tmp.join("keys.parquet");
        self.conn.execute(
            &format!(
                "COPY (SELECT DISTINCT {key_list}, {until} AS __mlp_until FROM {src} WHERE {affected} ORDER BY ALL) TO {} (FORMAT parquet)",
                string(&entities.to_string_lossy())
            ),
            [],
        )?;
        let req = HistoricalRequest {
            project_dir: self.project_dir.to_path_buf(),
            entities,
            features: features
                .iter()
                .map(|(n, _)| format!("{view}.{n}"))
                .collect(),
            at: "__mlp_until".into(),
            out: result.to_path_buf(),
        };
        // The index only when a current one is there: its few keys at one time cost less to
        // join than a whole index costs to build after each new batch of data.
        historical_if_indexed(self.plan, &req)
    }

    /// Replaces the recomputed keys' rows of the view's online table with `result`, each
    /// with the event time of the row its latest values come from (for the online TTL), and
    /// moves the watermark, in one transaction; with Redis, its rows and watermark are
    /// written before the commit.
    fn write_view(
        &self,
        view: &str,
        features: &[(String, FeatureDef)],
        sql: &ViewSql,
        rebuild: bool,
        result: &Path,
    ) -> Result<(), FeatureError> {
        let ViewSql {
            v,
            keys,
            key_list,
            src,
            ts,
            until: until_sql,
            until_text: until,
            definition: def,
            ..
        } = sql;
        let mut visible = format!("{ts} <= {until_sql}");
        if let Some(c) = &sql.created {
            visible.push_str(&format!(" AND {c} <= {until_sql}"));
        }
        let table = online_table(view);
        let cols: Vec<String> = features
            .iter()
            .map(|(n, _)| {
                let ty = self
                    .plan
                    .feature(view, n)
                    .and_then(|r| match &r.spec {
                        Spec::Feature { ty, .. } => Some(sql_type(*ty)),
                        _ => None,
                    })
                    .unwrap_or("VARCHAR");
                format!("{} {ty}", ident(n))
            })
            .collect();
        let key_defs: Vec<String> = v
            .entity_keys
            .iter()
            .map(|k| format!("{} {}", ident(&k.name), sql_type(k.ty)))
            .collect();
        let values = string(&result.to_string_lossy());
        let join = keys
            .iter()
            .map(|k| format!("r.{0} = l.{0}", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let batch = format!(
            "BEGIN TRANSACTION;
         {drop}
         CREATE TABLE IF NOT EXISTS {table} ({keydefs}, {cols}, __event_ts TIMESTAMP);
         DELETE FROM {table} AS l USING read_parquet({values}) AS r WHERE {join};
         INSERT INTO {table} BY NAME
           SELECT r.* EXCLUDE (__mlp_until) RENAME ({renames}), l.__event_ts
           FROM read_parquet({values}) r
           LEFT JOIN (SELECT {key_list}, max({ts}) AS __event_ts FROM {src} WHERE {visible} GROUP BY ALL) l ON {join};
         INSERT OR REPLACE INTO watermarks VALUES ({view_lit}, {until_sql}, {def_lit}, now()::TIMESTAMP);",
            drop = if rebuild { format!("DROP TABLE IF EXISTS {table};") } else { String::new() },
            keydefs = key_defs.join(", "),
            cols = cols.join(", "),
            renames = features
                .iter()
                .map(|(n, _)| format!("{} AS {}", ident(&format!("{view}__{n}")), ident(n)))
                .collect::<Vec<_>>()
                .join(", "),
            view_lit = string(view),
            def_lit = string(def),
        );
        let applied = self
            .conn
            .execute_batch(&batch)
            .map_err(FeatureError::from)
            .and_then(|()| {
                if let Some(r) = self.redis {
                    let rows = self.changed_rows(&table, &values, keys)?;
                    r.write(&v.entity, view, rows)?;
                    r.set_watermark(view, until)?;
                }
                Ok(self.conn.execute_batch("COMMIT;")?)
            });
        if applied.is_err() {
            // The batch's own error is the one reported; a failed ROLLBACK adds nothing to it.
            self.conn.execute_batch("ROLLBACK;").ok();
        }
        applied
    }

    /// The rows of `table` whose keys are in the recomputed `values` file, as Redis writes.
    fn changed_rows(
        &self,
        table: &str,
        values: &str,
        keys: &[String],
    ) -> Result<Vec<OnlineWrite>, FeatureError> {
        let key_list = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
        let join = keys
            .iter()
            .map(|k| format!("t.{0} IS NOT DISTINCT FROM r.{0}", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT t.* EXCLUDE (__event_ts), epoch_us(t.__event_ts) AS __event_us FROM {table} t
         SEMI JOIN (SELECT DISTINCT {key_list} FROM read_parquet({values})) r ON {join}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut w = OnlineWrite {
                key: Vec::with_capacity(keys.len()),
                event_us: None,
                values: Default::default(),
            };
            let mut by_name = std::collections::HashMap::new();
            for (i, n) in names.iter().enumerate() {
                by_name.insert(n.as_str(), r.get::<_, duckdb::types::Value>(i)?);
            }
            for k in keys {
                w.key.push(
                    by_name
                        .remove(k.as_str())
                        .map_or(serde_json::Value::Null, to_json),
                );
            }
            w.event_us = match by_name.remove("__event_us") {
                Some(duckdb::types::Value::BigInt(us)) => Some(us),
                _ => None,
            };
            for (n, v) in by_name {
                w.values.insert(n.to_string(), to_json(v));
            }
            out.push(w);
        }
        Ok(out)
    }
}

fn tempdir_in(project_dir: &Path) -> Result<PathBuf, FeatureError> {
    let dir = mlp_ir::host::state_dir(project_dir).join(format!("tmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| FeatureError::File {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    Ok(dir)
}

/// The features of `view`, in the plan's order, with their definitions.
fn view_features(plan: &Plan, view: &str) -> Vec<(String, FeatureDef)> {
    plan.resources()
        .filter_map(|r| match &r.spec {
            Spec::Feature { view: fv, def, .. } if fv == view => {
                Some((r.name.clone(), def.clone()))
            }
            _ => None,
        })
        .collect()
}
