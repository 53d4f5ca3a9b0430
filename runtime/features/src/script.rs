//! DuckDB SQL scripts run from the folder that holds them, so that relative paths in them land
//! next to them: the projects' seeded data generators (`mlpc sql generate.sql`, and the
//! `mlp-sql` binary). A generator ends its timeline at the SQL variable `as_of`, which
//! `--as-of` sets (a date or a timestamp, UTC) before the script runs.

use std::path::{Path, PathBuf};

/// Why a script did not run.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read `{}`: {source}", .path.display())]
    Read {
        /// The script.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Its folder could not be entered.
    #[error("cannot enter `{}`: {source}", .path.display())]
    Enter {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `--as-of` is not a date or a timestamp.
    #[error(
        "`--as-of {0}` is not a date or a timestamp (write 2026-04-01 or 2026-04-01 12:00:00)"
    )]
    AsOf(String),
    /// DuckDB refused the script.
    #[error("{}: {source}", .path.display())]
    Sql {
        /// The script.
        path: PathBuf,
        /// DuckDB's error.
        source: duckdb::Error,
    },
}

/// Runs the SQL script `path` with an in-memory DuckDB, from the script's folder (the
/// process's working directory changes to it), after `SET VARIABLE as_of = ...` when `as_of`
/// is given.
pub fn run_file(path: &Path, as_of: Option<&str>) -> Result<(), ScriptError> {
    let sql = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::env::set_current_dir(dir).map_err(|source| ScriptError::Enter {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let sql_err = |source| ScriptError::Sql {
        path: path.to_path_buf(),
        source,
    };
    let conn = duckdb::Connection::open_in_memory().map_err(sql_err)?;
    let pin = match as_of {
        Some(v) => as_of_statement(&conn, v)?,
        None => String::new(),
    };
    conn.execute_batch(&format!("{pin}\n{sql}"))
        .map_err(sql_err)
}

/// `SET VARIABLE as_of = ...` for a date or a timestamp, checked by DuckDB itself.
fn as_of_statement(conn: &duckdb::Connection, value: &str) -> Result<String, ScriptError> {
    let literal = value.replace('\'', "''");
    conn.query_row(
        &format!("SELECT CAST('{literal}' AS TIMESTAMP)"),
        [],
        |_| Ok(()),
    )
    .map_err(|_| ScriptError::AsOf(value.to_string()))?;
    Ok(format!(
        "SET VARIABLE as_of = CAST('{literal}' AS TIMESTAMP);"
    ))
}
