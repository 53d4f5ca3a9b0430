//! The drift report of two files (Parquet or CSV), read with DuckDB one column at a time:
//! numeric columns as 64-bit floats, cleaned and sorted once, categorical columns as counts
//! per category (`GROUP BY` in DuckDB, no string per row), tested in parallel with the same
//! definitions monitors use ([`crate::fastpath`]). Peak memory is about two copies of one
//! numeric column per worker; the number of workers is bounded so that it stays under
//! [`MEMORY_BUDGET`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::arrow::array::{Array, Float64Array};
use duckdb::Connection;
use rayon::prelude::*;

use crate::fastpath::{
    clean_key, drift_categorical_counts, drift_numeric_clean, keys_to_values, sort_keys,
    CategoryCounts,
};
use crate::report::{ColumnDrift, ColumnKind, DriftReport, Side, SkippedColumn};

/// The memory the parallel column workers may hold together, in bytes.
pub const MEMORY_BUDGET: u64 = 1 << 30;
/// Bytes a numeric column's test holds per row of reference and current together: the
/// values and DuckDB's result while it is read.
const BYTES_PER_ROW: u64 = 8 * 2;

/// Why a drift report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The file cannot be opened or read.
    #[error("cannot read `{path}`: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file has no rows.
    #[error("`{0}` has no rows")]
    Empty(PathBuf),
    /// A column is missing on a side.
    #[error("column `{column}` is not in `{path}` (its columns: {available})")]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The file without it.
        path: PathBuf,
        /// The file's columns, comma-separated.
        available: String,
    },
    /// The two files do not have the same columns.
    #[error("`{reference}` and `{current}` have different columns ({differences}); name the columns to compare (--columns)")]
    Columns {
        /// The reference file.
        reference: PathBuf,
        /// The current file.
        current: PathBuf,
        /// Which columns are on one side only.
        differences: String,
    },
    /// A column is numeric on one side and text on the other (or untestable on one).
    #[error("column `{column}` is {reference_type} in the reference but {current_type} in the current file")]
    Types {
        /// The column.
        column: String,
        /// Its type in the reference.
        reference_type: String,
        /// Its type in the current file.
        current_type: String,
    },
    /// A column named explicitly has a type that is not tested.
    #[error(
        "column `{column}` is {source_type}: only numeric, boolean and text columns are tested"
    )]
    Untestable {
        /// The column.
        column: String,
        /// Its type.
        source_type: String,
    },
    /// A column was named twice.
    #[error("column `{0}` is named twice")]
    Duplicate(String),
    /// DuckDB failed while reading a column.
    #[error("cannot read column `{column}` of `{path}`: {message}")]
    Read {
        /// The column.
        column: String,
        /// The file.
        path: PathBuf,
        /// DuckDB's message.
        message: String,
    },
}

/// A file opened for reading: the table function that reads it, its rows and columns.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    from: String,
    rows: u64,
    /// Name and DuckDB type of each column, in the file's order.
    columns: Vec<(String, String)>,
}

/// How DuckDB types are tested: numbers and booleans as numeric, text as categorical,
/// everything else (timestamps, dates, intervals, blobs, nested types) not at all, as
/// Evidently's `DataDriftPreset` leaves datetime columns out.
pub fn kind_of(source_type: &str) -> Option<ColumnKind> {
    const NUMERIC: [&str; 13] = [
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "BOOLEAN",
    ];
    if NUMERIC.contains(&source_type) || source_type.starts_with("DECIMAL") {
        Some(ColumnKind::Numeric)
    } else if source_type == "VARCHAR" || source_type.starts_with("ENUM(") {
        Some(ColumnKind::Categorical)
    } else {
        None
    }
}

/// The first line of DuckDB's message (the rest quotes the SQL, which the user never wrote).
fn first_line(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// `s` as an SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `s` as an SQL identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Source {
    /// Opens `path`: `.parquet`/`.pq` with `read_parquet`, `.csv`/`.tsv` (optionally `.gz`)
    /// with `read_csv`; reads its columns and row count.
    fn open(conn: &Connection, path: &Path) -> Result<Self, DriftError> {
        let file_error = |message: String| DriftError::File {
            path: path.to_path_buf(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?;
        if meta.is_dir() {
            return Err(file_error("it is a folder, not a file".into()));
        }
        let name = path.to_string_lossy().to_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let text = path.to_string_lossy();
        let (from, format) = if name.ends_with(".parquet") || name.ends_with(".pq") {
            (format!("read_parquet({})", literal(&text)), "Parquet")
        } else if name.ends_with(".csv") || name.ends_with(".tsv") {
            (format!("read_csv({})", literal(&text)), "CSV")
        } else {
            return Err(file_error(
                "unknown file type: name it .parquet or .csv (.tsv, .csv.gz)".into(),
            ));
        };
        let as_format =
            |e: duckdb::Error| file_error(format!("not readable as {format}: {}", first_line(e)));
        let columns = conn
            .prepare(&format!("DESCRIBE SELECT * FROM {from}"))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(as_format)?;
        let rows: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {from}"), [], |r| r.get(0))
            .map_err(as_format)?;
        if rows == 0 {
            return Err(DriftError::Empty(path.to_path_buf()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            from,
            rows: rows.unsigned_abs(),
            columns,
        })
    }

    /// The DuckDB type of a column.
    fn type_of(&self, column: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, t)| t.as_str())
    }

    /// Its columns, comma-separated.
    fn names(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        names.join(", ")
    }

    /// The error of a failed read of `column`.
    fn read_error(&self, column: &str, e: impl std::fmt::Display) -> DriftError {
        DriftError::Read {
            column: column.to_string(),
            path: self.path.clone(),
            message: first_line(e),
        }
    }

    /// The values of a numeric column as the tests keep them (nulls, NaN and infinities
    /// dropped, `-0.0` as `0.0`), sorted.
    fn clean_values(&self, conn: &Connection, column: &str) -> Result<Vec<f64>, DriftError> {
        let c = ident(column);
        let sql = format!(
            "SELECT CAST({c} AS DOUBLE) FROM {} WHERE {c} IS NOT NULL",
            self.from
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.read_error(column, e))?;
        let batches = stmt
            .query_arrow([])
            .map_err(|e| self.read_error(column, e))?;
        let mut keys: Vec<u64> = Vec::with_capacity(usize::try_from(self.rows).unwrap_or(0));
        for batch in batches {
            let values = batch
                .column(0)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| self.read_error(column, "DuckDB did not give DOUBLE values"))?;
            keys.extend(values.values().iter().filter_map(|v| clean_key(*v)));
        }
        sort_keys(&mut keys);
        Ok(keys_to_values(keys))
    }

    /// The count of each value of a categorical column (nulls left out).
    fn counts(&self, conn: &Connection, column: &str) -> Result<CategoryCounts, DriftError> {
        let c = ident(column);
        let sql = format!(
            "SELECT CAST({c} AS VARCHAR), count(*) FROM {} WHERE {c} IS NOT NULL GROUP BY 1",
            self.from
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.read_error(column, e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.read_error(column, e))?;
        Ok(rows
            .into_iter()
            .map(|(k, n)| (k, n.unsigned_abs()))
            .collect())
    }
}

/// A column to test.
#[derive(Debug, Clone)]
struct Planned {
    name: String,
    kind: ColumnKind,
    source_type: String,
}

/// The columns to test and the ones skipped: `columns` when given (each on both sides, of
/// a tested type), else every column, which must then be the same on both sides.
fn plan(
    reference: &Source,
    current: &Source,
    columns: Option<&[String]>,
) -> Result<(Vec<Planned>, Vec<SkippedColumn>), DriftError> {
    let names: Vec<String> = match columns {
        Some(list) => {
            let mut seen = BTreeSet::new();
            for c in list {
                if !seen.insert(c.as_str()) {
                    return Err(DriftError::Duplicate(c.clone()));
                }
            }
            list.to_vec()
        }
        None => {
            let r: BTreeSet<&str> = reference.columns.iter().map(|(n, _)| n.as_str()).collect();
            let c: BTreeSet<&str> = current.columns.iter().map(|(n, _)| n.as_str()).collect();
            if r != c {
                let side = |a: &BTreeSet<&str>, b: &BTreeSet<&str>| {
                    a.difference(b).copied().collect::<Vec<_>>().join(", ")
                };
                let mut parts = Vec::new();
                for (label, a, b) in [("reference", &r, &c), ("current", &c, &r)] {
                    let only = side(a, b);
                    if !only.is_empty() {
                        parts.push(format!("only in the {label}: {only}"));
                    }
                }
                return Err(DriftError::Columns {
                    reference: reference.path.clone(),
                    current: current.path.clone(),
                    differences: parts.join("; "),
                });
            }
            reference.columns.iter().map(|(n, _)| n.clone()).collect()
        }
    };
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for name in names {
        let lookup = |s: &Source| {
            s.type_of(&name)
                .map(str::to_string)
                .ok_or_else(|| DriftError::MissingColumn {
                    column: name.clone(),
                    path: s.path.clone(),
                    available: s.names(),
                })
        };
        let (r, c) = (lookup(reference)?, lookup(current)?);
        match (kind_of(&r), kind_of(&c)) {
            (Some(kr), Some(kc)) if kr == kc => planned.push(Planned {
                name,
                kind: kr,
                source_type: r.clone(),
            }),
            (None, None) if columns.is_none() => skipped.push(SkippedColumn {
                column: name,
                source_type: r.clone(),
            }),
            (None, None) => {
                return Err(DriftError::Untestable {
                    column: name,
                    source_type: r.clone(),
                })
            }
            _ => {
                return Err(DriftError::Types {
                    column: name,
                    reference_type: r,
                    current_type: c,
                })
            }
        }
    }
    Ok((planned, skipped))
}

/// Reads and tests one column on both sides.
fn test_column(
    conn: &Connection,
    reference: &Source,
    current: &Source,
    column: &Planned,
) -> Result<ColumnDrift, DriftError> {
    let name = &column.name;
    let (counts, tested) = match column.kind {
        ColumnKind::Numeric => {
            let r = reference.clean_values(conn, name)?;
            let c = current.clean_values(conn, name)?;
            (
                (r.len() as u64, c.len() as u64),
                drift_numeric_clean(&r, &c),
            )
        }
        ColumnKind::Categorical => {
            let r = reference.counts(conn, name)?;
            let c = current.counts(conn, name)?;
            let counts = (r.values().sum(), c.values().sum());
            (counts, drift_categorical_counts(&r, &c))
        }
    };
    Ok(ColumnDrift::new(
        name.clone(),
        column.kind,
        column.source_type.clone(),
        counts,
        tested,
    ))
}

/// The drift report of `current` against `reference` over `columns` (every column when
/// `None`), Evidently's `DataDriftPreset` with mlp's definitions (docs/monitoring.md).
pub fn drift_report(
    reference: &Path,
    current: &Path,
    columns: Option<&[String]>,
) -> Result<DriftReport, DriftError> {
    let conn = Connection::open_in_memory().map_err(|e| DriftError::File {
        path: reference.to_path_buf(),
        message: format!("cannot start DuckDB: {e}"),
    })?;
    let r = Source::open(&conn, reference)?;
    let c = Source::open(&conn, current)?;
    let (planned, skipped) = plan(&r, &c, columns)?;
    let per_column = (r.rows + c.rows).saturating_mul(BYTES_PER_ROW).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = usize::try_from(MEMORY_BUDGET / per_column)
        .unwrap_or(usize::MAX)
        .clamp(1, cores.max(1))
        .min(planned.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| r.read_error("*", format!("cannot start worker threads: {e}")))?;
    let base = Mutex::new(conn);
    let results: Vec<Result<ColumnDrift, DriftError>> = pool.install(|| {
        planned
            .par_iter()
            .map(|col| {
                let conn = base
                    .lock()
                    .map_err(|e| r.read_error(&col.name, e))?
                    .try_clone()
                    .map_err(|e| r.read_error(&col.name, e))?;
                test_column(&conn, &r, &c, col)
            })
            .collect()
    });
    let tested = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let side = |s: &Source| Side {
        path: s.path.to_string_lossy().into_owned(),
        rows: s.rows,
    };
    Ok(DriftReport::new(side(&r), side(&c), tested, skipped))
}
