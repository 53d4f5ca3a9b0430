//! What the project's runtime state records, read without changing it: the model registry
//! (`.mlp/registry.sqlite`: each version's signature, the aliases) and the consumers the
//! server has seen (`.mlp/consumers.sqlite`). The files are opened read-only, and only when
//! they exist (the language server never creates `.mlp/`); SQLite is the format the
//! registry and the server write (`mlp-registry`, `mlp-state`), so it is read directly with
//! `rusqlite` rather than through those crates, which would open the files for writing and
//! bring DuckDB into the language server.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// A registered model version and the inputs its signature records (`view.feature`,
/// `request.field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The model.
    pub model: String,
    /// The version.
    pub version: u64,
    /// Its recorded inputs, in order.
    pub inputs: Vec<String>,
}

fn open(dir: &Path, file: &str) -> Result<Option<Connection>, String> {
    let path = mlp_ir::host::state_dir(dir).join(file);
    if !path.is_file() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(2))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Some(conn))
}

/// Every registered version of the project in `dir` with the inputs its signature records
/// (none when nothing is registered).
pub fn recorded_inputs(dir: &Path) -> Result<Vec<Recorded>, String> {
    let Some(conn) = open(dir, "registry.sqlite")? else {
        return Ok(Vec::new());
    };
    let err = |e: rusqlite::Error| format!("cannot read the model registry: {e}");
    let mut stmt = conn
        .prepare("SELECT model, version, signature FROM versions ORDER BY model, version")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (model, version, signature) = row.map_err(err)?;
        let sig: serde_json::Value = signature
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let inputs = sig["inputs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i[0].as_str().or_else(|| i.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.push(Recorded {
            model,
            version: u64::try_from(version).unwrap_or(0),
            inputs,
        });
    }
    Ok(out)
}

/// The aliases of `model` in the registry with the versions they point at, and its
/// versions; empty when the registry cannot be read.
pub fn aliases_and_versions(dir: &Path, model: &str) -> (Vec<(String, u64)>, Vec<u64>) {
    let Ok(Some(conn)) = open(dir, "registry.sqlite") else {
        return (Vec::new(), Vec::new());
    };
    let aliases = conn
        .prepare("SELECT alias, version FROM aliases WHERE model = ?1 ORDER BY alias")
        .and_then(|mut s| {
            s.query_map([model], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .map(|r| r.map(|(a, v)| (a, u64::try_from(v).unwrap_or(0))))
            .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_default();
    let versions = conn
        .prepare("SELECT version FROM versions WHERE model = ?1 ORDER BY version")
        .and_then(|mut s| {
            s.query_map([model], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(|v| u64::try_from(v).unwrap_or(0)))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_default();
    (aliases, versions)
}

/// The consumers the server has seen calling `deployment` (`X-MLP-Consumer`).
pub fn seen_consumers(dir: &Path, deployment: &str) -> Result<Vec<String>, String> {
    let Some(conn) = open(dir, "consumers.sqlite")? else {
        return Ok(Vec::new());
    };
    let err = |e: rusqlite::Error| format!("cannot read the consumers the server has seen: {e}");
    let mut stmt = conn
        .prepare("SELECT DISTINCT consumer FROM seen WHERE deployment = ?1 ORDER BY consumer")
        .map_err(err)?;
    let rows = stmt
        .query_map([deployment], |r| r.get::<_, String>(0))
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}
