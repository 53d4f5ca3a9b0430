//! The registry's tables in `.mlp/registry.sqlite` and the operations on them: register,
//! resolve, list, search, alias moves with their history.

use crate::{
    check_alias, store::BlobStore, AliasMove, NewVersion, Origin, Registered, RegistryError,
    Signature, TrainingSet, Version,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS versions (
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  origin TEXT NOT NULL,
  training_set TEXT,
  params TEXT NOT NULL,
  metrics TEXT NOT NULL,
  tags TEXT NOT NULL,
  signature TEXT,
  created TEXT NOT NULL,
  PRIMARY KEY (model, version)
);
CREATE INDEX IF NOT EXISTS versions_artifact ON versions (model, artifact_sha256);
CREATE TABLE IF NOT EXISTS tags (
  model TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (model, version, key)
);
CREATE INDEX IF NOT EXISTS tags_kv ON tags (key, value);
CREATE TABLE IF NOT EXISTS aliases (
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
  PRIMARY KEY (model, alias)
);
CREATE TABLE IF NOT EXISTS alias_moves (
  model TEXT NOT NULL, alias TEXT NOT NULL, from_version INTEGER, to_version INTEGER NOT NULL,
  at TEXT NOT NULL, reason TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS versions_are_immutable BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
CREATE TRIGGER IF NOT EXISTS versions_are_kept BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END;
";

/// The registry of one project.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    project: PathBuf,
    blobs: BlobStore,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish()
    }
}

/// Maps a database error to a registry error naming the database file.
fn db_error(path: PathBuf) -> impl Fn(rusqlite::Error) -> RegistryError {
    move |e| RegistryError::Db {
        path: path.clone(),
        message: e.to_string(),
    }
}

/// The current time as RFC 3339 UTC with microseconds.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Seconds (and microseconds) since the epoch as `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`; a time
/// outside chrono's range (beyond ±262,000 years) is written as its seconds.
pub fn rfc3339(secs: i64, micros: u32) -> String {
    match chrono::DateTime::from_timestamp(secs, micros.saturating_mul(1000)) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        None => format!("@{secs}.{micros:06}"),
    }
}

impl Registry {
    /// Opens (creating when needed) the registry of the project in `project_dir`.
    pub fn open(project_dir: &Path) -> Result<Registry, RegistryError> {
        let dir = mlp_ir::host::state_dir(project_dir);
        std::fs::create_dir_all(&dir).map_err(|source| RegistryError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("registry.sqlite");
        let db = |e: rusqlite::Error| RegistryError::Db {
            path: path.clone(),
            message: e.to_string(),
        };
        // Writers queue behind each other instead of failing at once.
        let conn = mlp_util::open_sqlite(&path, Duration::from_secs(30), SCHEMA).map_err(db)?;
        Ok(Registry {
            conn,
            path: path.clone(),
            project: project_dir.to_path_buf(),
            blobs: BlobStore::new(dir.join("registry").join("blobs")),
        })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> RegistryError {
        db_error(self.path.clone())
    }

    /// The artifact of a version, as a path on this machine.
    pub fn artifact_path(&self, v: &Version) -> PathBuf {
        mlp_ir::host::project_path(&self.project, &v.artifact)
    }

    /// Registers a new version: copies the artifact into the store and records it. When the
    /// model already has a version with exactly this artifact, that version is returned and
    /// nothing is added (a re-run that produced the same bytes is the same model).
    pub fn register(&mut self, new: &NewVersion) -> Result<Registered, RegistryError> {
        if new.model.is_empty() {
            return Err(RegistryError::UnknownModel(String::new()));
        }
        let sha = self.blobs.put(&new.artifact)?;
        let origin = json(&new.origin);
        let training_set = new.training_set.as_ref().map(json);
        let params = json(&new.params);
        let metrics = json(&new.metrics);
        let tags = json(&new.tags);
        let signature = new.signature.as_ref().map(json);
        let created = now();
        let db = db_error(self.path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&db)?;
        let existing: Option<u64> = tx
            .query_row(
                "SELECT version FROM versions WHERE model = ?1 AND artifact_sha256 = ?2 ORDER BY version LIMIT 1",
                params![new.model, sha],
                |r| r.get(0),
            )
            .optional()
            .map_err(&db)?;
        let (version, created_now) = match existing {
            Some(v) => (v, false),
            None => {
                let next: u64 = tx
                    .query_row(
                        "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE model = ?1",
                        params![new.model],
                        |r| r.get(0),
                    )
                    .map_err(&db)?;
                tx.execute(
                    "INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        new.model,
                        next,
                        sha,
                        origin,
                        training_set,
                        params,
                        metrics,
                        tags,
                        signature,
                        created
                    ],
                )
                .map_err(&db)?;
                for (k, v) in &new.tags {
                    tx.execute(
                        "INSERT INTO tags VALUES (?1, ?2, ?3, ?4)",
                        params![new.model, next, k, v],
                    )
                    .map_err(&db)?;
                }
                (next, true)
            }
        };
        tx.commit().map_err(&db)?;
        let version = self.get(&new.model, version)?;
        Ok(Registered {
            version,
            created: created_now,
        })
    }

    /// Version `version` of `model`.
    pub fn get(&self, model: &str, version: u64) -> Result<Version, RegistryError> {
        let mut list = self.query(
            "WHERE v.model = ?1 AND v.version = ?2",
            &[&model as &dyn rusqlite::ToSql, &version],
        )?;
        list.pop().ok_or_else(|| RegistryError::UnknownRef {
            model: model.into(),
            reference: version.to_string(),
            known: String::new(),
        })
    }

    /// The version `reference` names: a number, an alias, or `latest`.
    pub fn resolve(&self, model: &str, reference: &str) -> Result<Version, RegistryError> {
        let latest: Option<u64> = self
            .conn
            .query_row(
                "SELECT max(version) FROM versions WHERE model = ?1",
                params![model],
                |r| r.get(0),
            )
            .map_err(self.db())?;
        let Some(latest) = latest else {
            return Err(RegistryError::UnknownModel(model.into()));
        };
        let reference = reference
            .strip_prefix('v')
            .filter(|r| r.parse::<u64>().is_ok())
            .unwrap_or(reference);
        let version = if reference == "latest" {
            Some(latest)
        } else if let Ok(n) = reference.parse::<u64>() {
            (1..=latest).contains(&n).then_some(n)
        } else {
            self.conn
                .query_row(
                    "SELECT version FROM aliases WHERE model = ?1 AND alias = ?2",
                    params![model, reference],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db())?
        };
        match version {
            Some(v) => self.get(model, v),
            None => {
                let aliases = self.aliases(model)?;
                let mut known = vec![format!("versions 1 to {latest}"), "latest".into()];
                known.extend(aliases.keys().cloned());
                Err(RegistryError::UnknownRef {
                    model: model.into(),
                    reference: reference.into(),
                    known: format!(" (it has {})", known.join(", ")),
                })
            }
        }
    }

    /// The version of `model` whose artifact has this hash, if any.
    pub fn find_by_artifact(
        &self,
        model: &str,
        sha256: &str,
    ) -> Result<Option<Version>, RegistryError> {
        let mut list = self.query(
            "WHERE v.model = ?1 AND v.artifact_sha256 = ?2",
            &[&model as &dyn rusqlite::ToSql, &sha256],
        )?;
        list.truncate(1);
        Ok(list.pop())
    }

    /// Every version of `model` (of every model when `None`), oldest first.
    pub fn list(&self, model: Option<&str>) -> Result<Vec<Version>, RegistryError> {
        match model {
            Some(m) => self.query("WHERE v.model = ?1", &[&m as &dyn rusqlite::ToSql]),
            None => self.query("", &[]),
        }
    }

    /// The models with versions: name, number of versions, latest version.
    pub fn models(&self) -> Result<Vec<(String, u64, u64)>, RegistryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model, count(*), max(version) FROM versions GROUP BY model ORDER BY model",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.db())?;
        Ok(rows)
    }

    /// The versions carrying every tag in `tags` (of `model` only, when given).
    pub fn search(
        &self,
        model: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<Vec<Version>, RegistryError> {
        let mut clauses = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(m) = model {
            args.push(Box::new(m.to_string()));
            clauses.push(format!("v.model = ?{}", args.len()));
        }
        // Driven by the (key, value) index: the versions carrying every tag.
        let mut sets = Vec::new();
        for (k, v) in tags {
            args.push(Box::new(k.clone()));
            let kn = args.len();
            args.push(Box::new(v.clone()));
            let vn = args.len();
            sets.push(format!(
                "SELECT model, version FROM tags WHERE key = ?{kn} AND value = ?{vn}"
            ));
        }
        if !sets.is_empty() {
            clauses.push(format!(
                "(v.model, v.version) IN ({})",
                sets.join(" INTERSECT ")
            ));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
        self.query(&filter, &refs)
    }

    fn query(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Version>, RegistryError> {
        let sql = format!(
            "WITH al AS (SELECT model, version, group_concat(alias, ',') AS names FROM (SELECT * FROM aliases ORDER BY alias) GROUP BY model, version)
             SELECT v.model, v.version, v.artifact_sha256, v.origin, v.training_set, v.params, v.metrics, v.tags, v.signature, v.created, al.names
             FROM versions v LEFT JOIN al ON al.model = v.model AND al.version = v.version {filter} ORDER BY v.model, v.version"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.db())?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.db())?;
        let bad = |what: &str, e: serde_json::Error| RegistryError::Db {
            path: self.path.clone(),
            message: format!("a stored {what} is not valid: {e}"),
        };
        rows.into_iter()
            .map(
                |(
                    model,
                    version,
                    sha,
                    origin,
                    ts,
                    params,
                    metrics,
                    tags,
                    sig,
                    created,
                    aliases,
                )| {
                    Ok(Version {
                        artifact: format!(".mlp/registry/blobs/{sha}"),
                        artifact_sha256: sha,
                        origin: serde_json::from_str::<Origin>(&origin)
                            .map_err(|e| bad("origin", e))?,
                        training_set: ts
                            .map(|t| serde_json::from_str::<TrainingSet>(&t))
                            .transpose()
                            .map_err(|e| bad("training set", e))?,
                        params: serde_json::from_str(&params).map_err(|e| bad("params", e))?,
                        metrics: serde_json::from_str(&metrics).map_err(|e| bad("metrics", e))?,
                        tags: serde_json::from_str(&tags).map_err(|e| bad("tags", e))?,
                        signature: sig
                            .map(|s| serde_json::from_str::<Signature>(&s))
                            .transpose()
                            .map_err(|e| bad("signature", e))?,
                        created,
                        aliases: aliases
                            .map(|a| a.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                        model,
                        version,
                    })
                },
            )
            .collect()
    }

    /// The aliases of `model`, by name.
    pub fn aliases(&self, model: &str) -> Result<BTreeMap<String, u64>, RegistryError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT alias, version FROM aliases WHERE model = ?1")
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![model], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<Result<BTreeMap<_, _>, _>>())
            .map_err(self.db())?;
        Ok(rows)
    }

    /// Points `alias` of `model` at `version` (which must exist) and records the move.
    /// Returns the move (its `from` is the version the alias left).
    pub fn set_alias(
        &mut self,
        model: &str,
        alias: &str,
        version: u64,
        reason: &str,
    ) -> Result<AliasMove, RegistryError> {
        check_alias(alias)?;
        self.get(model, version)
            .map_err(|_| match self.resolve(model, "latest") {
                Ok(latest) => RegistryError::UnknownRef {
                    model: model.into(),
                    reference: version.to_string(),
                    known: format!(" (it has versions 1 to {})", latest.version),
                },
                Err(e) => e,
            })?;
        let at = now();
        let db = db_error(self.path.clone());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&db)?;
        let from: Option<u64> = tx
            .query_row(
                "SELECT version FROM aliases WHERE model = ?1 AND alias = ?2",
                params![model, alias],
                |r| r.get(0),
            )
            .optional()
            .map_err(&db)?;
        tx.execute(
            "INSERT INTO aliases VALUES (?1, ?2, ?3, ?4) ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated = excluded.updated",
            params![model, alias, version, at],
        )
        .map_err(&db)?;
        if from != Some(version) {
            tx.execute(
                "INSERT INTO alias_moves VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![model, alias, from, version, at, reason],
            )
            .map_err(&db)?;
        }
        tx.commit().map_err(&db)?;
        Ok(AliasMove {
            model: model.into(),
            alias: alias.into(),
            from,
            to: version,
            at,
            reason: reason.into(),
        })
    }

    /// The alias moves of `model`, oldest first.
    pub fn alias_history(&self, model: &str) -> Result<Vec<AliasMove>, RegistryError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT model, alias, from_version, to_version, at, reason FROM alias_moves WHERE model = ?1 ORDER BY rowid")
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![model], |r| {
                Ok(AliasMove {
                    model: r.get(0)?,
                    alias: r.get(1)?,
                    from: r.get(2)?,
                    to: r.get(3)?,
                    at: r.get(4)?,
                    reason: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.db())?;
        Ok(rows)
    }
}

/// JSON text of a value (maps with string keys and plain structs cannot fail to serialize).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
