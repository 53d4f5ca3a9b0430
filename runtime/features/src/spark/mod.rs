//! Offline features on Spark (`offline = spark(master = ...)`): a point-in-time retrieval's
//! query, compiled by the same generator as DuckDB's in Spark's dialect (feature_sql.rs,
//! sql.rs), run as a PySpark application, its result joined back to the entity rows.
//!
//! A retrieval on Spark, step by step:
//! 1. DuckDB loads the entity file and numbers its rows (`__mlp_row`), as on the DuckDB path,
//!    and writes the columns the query reads (the row number, the request time as a UTC
//!    instant, the keys, the request fields) to `entities.parquet` in a staging folder.
//! 2. The query reads that file as table `__e` and each view's source as `__src{i}` (Parquet
//!    as it is; CSV as text cast to the types DuckDB reads, so both engines see one value),
//!    and yields one row per entity row: its number and its features (the join plan: every
//!    entity row against the source rows of its key; Spark has no point-in-time index).
//! 3. `job.py` (embedded in the binary, written next to the job file) runs the query with the
//!    project's Python (`pyspark` from its venv) at the declared master: `local[N]` on this
//!    machine, or a cluster's URL, which then needs the staging folder on a file system every
//!    node mounts (`staging = "/shared/…"`).
//! 4. DuckDB joins the result back to the entity rows by number and writes the output in the
//!    entity file's order, with the entity file's own columns untouched, as on the DuckDB path.
//!
//! The session runs with ANSI mode off and the UTC time zone (the dialect's assumptions).

use crate::historical::{
    sql_type, EntityTable, FeatureError, HistoricalReport, HistoricalRequest, Query,
};
use crate::sql::{ident, string, Dialect};
use duckdb::Connection;
use mlp_ir::SourceFormat;
use mlp_ir::{Literal, Plan, Spec};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PySpark application that runs one query.
const JOB_PY: &str = include_str!("job.py");

/// The master a project's `spark()` runs at when it names none.
pub const DEFAULT_MASTER: &str = "local[*]";

/// Where a project computes offline features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineConfig {
    /// Embedded DuckDB (the default).
    DuckDb,
    /// A Spark application.
    Spark(SparkConfig),
}

/// How to reach Spark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkConfig {
    /// The master URL (`local[2]`, `spark://host:7077`, `yarn`, `k8s://…`).
    pub master: String,
    /// The folder the job's files go through; `None`: `spark/` in the state folder.
    pub staging: Option<PathBuf>,
}

/// The project's offline engine, from its `offline = ...`.
pub fn offline_config(plan: &Plan) -> OfflineConfig {
    let backend = plan.project().and_then(|r| match &r.spec {
        Spec::Project { offline, .. } => Some(offline),
        _ => None,
    });
    let text = |name: &str| {
        backend
            .and_then(|b| b.args.get(name))
            .and_then(|v| match v {
                Literal::String(s) => Some(s.clone()),
                _ => None,
            })
    };
    match backend.map(|b| b.kind.as_str()) {
        Some("spark") => OfflineConfig::Spark(SparkConfig {
            master: text("master").unwrap_or_else(|| DEFAULT_MASTER.to_string()),
            staging: text("staging").map(PathBuf::from),
        }),
        _ => OfflineConfig::DuckDb,
    }
}

/// A registered table of the job: its files and how to read them.
pub(crate) struct JobTable {
    /// The table's name in the query.
    pub(crate) name: String,
    /// A file, folder or glob.
    pub(crate) path: PathBuf,
    /// `parquet` or `csv`.
    pub(crate) format: &'static str,
    /// For CSV, each column's DuckDB type (the text is cast to its Spark equivalent).
    pub(crate) types: Vec<(String, String)>,
}

/// A folder for one job's files, removed when dropped.
pub(crate) struct Staging {
    dir: PathBuf,
}

impl Staging {
    /// A new folder under the configured staging folder, or `spark/` in the state folder.
    pub(crate) fn new(cfg: &SparkConfig, project_dir: &Path) -> Result<Self, FeatureError> {
        let base = match &cfg.staging {
            Some(p) if p.is_absolute() => p.clone(),
            Some(p) => project_dir.join(p),
            None => mlp_ir::host::state_dir(project_dir).join("spark"),
        };
        let dir = base.join(format!(
            "job-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| FeatureError::File {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        Ok(Staging { dir })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Best effort: a leftover folder under the state folder holds no state anyone reads.
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The retrieval on Spark (see spark/): the entity rows the query reads exported, the query
/// run as a Spark job, its features joined back to the entity rows by row number and written
/// by DuckDB, in the entity file's order.
pub(crate) fn retrieval_to_copy(
    cfg: &SparkConfig,
    table: &EntityTable,
    req: &HistoricalRequest,
    q: &Query<'_>,
) -> Result<HistoricalReport, FeatureError> {
    let d = Dialect::Spark;
    let conn = &table.conn;
    let staging = Staging::new(cfg, &req.project_dir)?;
    let mut read: Vec<&String> = q.read.iter().collect();
    read.sort();
    read.dedup();
    let cols = read
        .iter()
        .map(|c| format!(", {}", ident(c)))
        .collect::<String>();
    let entities = staging.path().join("entities.parquet");
    export(
        conn,
        &format!("SELECT __mlp_row, CAST(__mlp_at AS TIMESTAMPTZ) AS __mlp_at{cols} FROM __e"),
        &entities,
    )?;
    let mut tables = vec![JobTable {
        name: "__e".into(),
        path: entities,
        format: "parquet",
        types: Vec::new(),
    }];
    tables.extend(q.ctes.tables.iter().map(|t| JobTable {
        name: t.name.clone(),
        path: t.path.clone(),
        format: match t.format {
            SourceFormat::Parquet => "parquet",
            SourceFormat::Csv => "csv",
        },
        types: t.types.clone(),
    }));
    let mut joins = String::new();
    for c in &q.ctes.ctes {
        let name = c.split(' ').next().unwrap_or("");
        joins.push_str(&format!(
            " LEFT JOIN {name} ON {name}.__mlp_row = e.__mlp_row"
        ));
    }
    let mut projection = vec!["e.__mlp_row".to_string()];
    let mut back = vec!["e.* EXCLUDE (__mlp_row, __mlp_at)".to_string()];
    let mut out_cols = Vec::new();
    for (view, name) in q.order {
        let col = format!("{view}__{name}");
        let Some((sql, ty)) = q.by_name.get(&col) else {
            continue;
        };
        if out_cols.contains(&col) {
            continue;
        }
        projection.push(format!("{sql} AS {}", d.ident(&col)));
        back.push(format!(
            "CAST(r.{0} AS {1}) AS {0}",
            ident(&col),
            sql_type(*ty)
        ));
        out_cols.push(col);
    }
    let with = if q.ctes.ctes.is_empty() {
        String::new()
    } else {
        format!("WITH {} ", q.ctes.ctes.join(", "))
    };
    let sql = format!("{with}SELECT {} FROM __e e{joins}", projection.join(", "));
    let n: i64 = conn.query_row("SELECT count(*) FROM __e", [], |r| r.get(0))?;
    // No entity rows, no job: the output is the entity file's columns and the features'.
    let result = if n == 0 {
        let nulls = out_cols
            .iter()
            .map(|c| format!("NULL AS {}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("(SELECT NULL::BIGINT AS __mlp_row, {nulls} LIMIT 0)")
    } else {
        let out = run(cfg, &req.project_dir, &staging, &tables, &sql)?;
        format!(
            "read_parquet({})",
            string(&out.join("*.parquet").to_string_lossy())
        )
    };
    let query = format!(
        "SELECT {} FROM __e e LEFT JOIN {result} r ON r.__mlp_row = e.__mlp_row ORDER BY e.__mlp_row",
        back.join(", ")
    );
    let rows = crate::historical::copy_to(conn, &query, &req.out)?;
    Ok(HistoricalReport {
        rows,
        columns: out_cols,
    })
}

/// Writes `select` (a query over DuckDB's `conn`) to `path` as Parquet for the job to read,
/// with timestamps as UTC instants (Spark reads naive ones as another type).
pub(crate) fn export(conn: &Connection, select: &str, path: &Path) -> Result<(), FeatureError> {
    conn.execute_batch(&format!(
        "COPY ({select}) TO {} (FORMAT parquet);",
        string(&path.to_string_lossy())
    ))?;
    Ok(())
}

/// The Spark type text of DuckDB type `duck` is cast to, for CSV columns.
fn spark_type(duck: &str) -> &'static str {
    let t = duck.to_ascii_uppercase();
    match t.as_str() {
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "UBIGINT" | "UINTEGER" | "USMALLINT"
        | "UTINYINT" | "HUGEINT" => "BIGINT",
        "DOUBLE" | "FLOAT" => "DOUBLE",
        "BOOLEAN" => "BOOLEAN",
        "DATE" => "DATE",
        _ if t.starts_with("TIMESTAMP") => "TIMESTAMP",
        _ if t.starts_with("DECIMAL") => "DOUBLE",
        _ => "STRING",
    }
}

/// The Python that runs the job: `MLP_SPARK_PYTHON`, else `MLP_VENV`'s, else the nearest
/// `.venv` at or above the project's, else `python3` on PATH.
fn python(project_dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("MLP_SPARK_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(v) = std::env::var_os("MLP_VENV").filter(|p| !p.is_empty()) {
        return PathBuf::from(v).join("bin/python");
    }
    let abs = std::fs::canonicalize(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    abs.ancestors()
        .map(|d| d.join(".venv/bin/python"))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Runs `sql` (Spark SQL) over `tables` at `cfg`'s master and returns the folder of Parquet
/// files it wrote, under `staging`. A job that fails is an error with Spark's own message.
pub(crate) fn run(
    cfg: &SparkConfig,
    project_dir: &Path,
    staging: &Staging,
    tables: &[JobTable],
    sql: &str,
) -> Result<PathBuf, FeatureError> {
    let dir = staging.path();
    let out = dir.join("result");
    let script = dir.join("job.py");
    let job_file = dir.join("job.json");
    let tables: serde_json::Map<String, serde_json::Value> = tables
        .iter()
        .map(|t| {
            let types: serde_json::Map<String, serde_json::Value> = t
                .types
                .iter()
                .map(|(n, ty)| (n.clone(), spark_type(ty).into()))
                .collect();
            (
                t.name.clone(),
                serde_json::json!({
                    "path": t.path.to_string_lossy(),
                    "format": t.format,
                    "types": types,
                }),
            )
        })
        .collect();
    let job = serde_json::json!({
        "master": cfg.master,
        "name": "mlp-historical",
        "tables": tables,
        "sql": sql,
        "out": out.to_string_lossy(),
    });
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| FeatureError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    };
    write(&script, JOB_PY)?;
    write(&job_file, &job.to_string())?;
    let py = python(project_dir);
    let run = Command::new(&py)
        .arg(&script)
        .arg(&job_file)
        .output()
        .map_err(|e| {
            FeatureError::Engine(format!(
                "cannot run the Spark job with `{}`: {e} (set MLP_SPARK_PYTHON or MLP_VENV to a Python with pyspark)",
                py.display()
            ))
        })?;
    if !run.status.success() {
        return Err(FeatureError::Engine(format!(
            "the Spark job at `{}` failed: {}",
            cfg.master,
            failure(&String::from_utf8_lossy(&run.stderr))
        )));
    }
    Ok(out)
}

/// What a failed job's stderr says: the job's own error line where it wrote one, else the
/// last lines (a Python traceback or Spark's exception).
fn failure(stderr: &str) -> String {
    if let Some(line) = stderr.lines().rev().find(|l| l.starts_with("mlp-spark: ")) {
        return line.trim_start_matches("mlp-spark: ").to_string();
    }
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_are_cast_to_the_spark_type_of_their_duckdb_type() {
        assert_eq!(spark_type("INTEGER"), "BIGINT");
        assert_eq!(spark_type("TIMESTAMP WITH TIME ZONE"), "TIMESTAMP");
        assert_eq!(spark_type("DOUBLE"), "DOUBLE");
        assert_eq!(spark_type("VARCHAR"), "STRING");
        assert_eq!(spark_type("BOOLEAN"), "BOOLEAN");
    }

    #[test]
    fn a_failure_is_the_jobs_own_line_else_the_tail() {
        assert_eq!(
            failure("noise\nmlp-spark: table `x`: no such file\nmore"),
            "table `x`: no such file"
        );
        let tail = failure(&(0..20).map(|i| format!("l{i}\n")).collect::<String>());
        assert!(tail.starts_with("l12") && tail.ends_with("l19"), "{tail}");
    }
}
