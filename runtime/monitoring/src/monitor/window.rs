//! What a monitor compares, and reading its files with DuckDB: a window's requests and
//! logged rows (read from the prediction log by [`super::logread`]), a baseline file (the
//! served version's training set, or a file the spec names) and the labels joined on the
//! request id.

use super::logread::{empty_values, push_value};
use mlp_ir::Type;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A half-open time window `[start_us, end_us)`, microseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start, inclusive.
    pub start_us: i64,
    /// End, exclusive.
    pub end_us: i64,
}

/// A logged value a check names, as the spec names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnRef {
    /// A model input that is a feature: `view.feature`.
    Feature {
        /// View.
        view: String,
        /// Feature.
        feature: String,
    },
    /// A request field: `request.field`.
    Request {
        /// Request block.
        request: String,
        /// Field.
        field: String,
    },
    /// An output of the deployment: `score`.
    Output {
        /// Output name.
        name: String,
    },
}

impl ColumnRef {
    /// The name as the spec writes it.
    pub fn spec_name(&self) -> String {
        match self {
            ColumnRef::Feature { view, feature } => format!("{view}.{feature}"),
            ColumnRef::Request { request, field } => format!("{request}.{field}"),
            ColumnRef::Output { name } => name.clone(),
        }
    }

    /// The log's JSON column and key holding it.
    pub fn log_place(&self) -> (&'static str, String) {
        match self {
            ColumnRef::Feature { view, feature } => ("features", format!("{view}.{feature}")),
            ColumnRef::Request { field, .. } => ("request", field.clone()),
            ColumnRef::Output { name } => ("outputs", name.clone()),
        }
    }

    /// The column names a training set or baseline file may hold it under, in order: the
    /// spec's name, the training set's `view__feature`, the bare field or output name.
    fn file_names(&self) -> Vec<String> {
        match self {
            ColumnRef::Feature { view, feature } => {
                vec![format!("{view}.{feature}"), format!("{view}__{feature}")]
            }
            ColumnRef::Request { request, field } => {
                vec![format!("{request}.{field}"), field.clone()]
            }
            ColumnRef::Output { name } => vec![name.clone()],
        }
    }
}

/// Values of one column: numbers (ints, floats and booleans as 0/1) or categories.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Numeric; `None` is null.
    Numeric(Vec<Option<f64>>),
    /// Categorical; `None` is null.
    Categorical(Vec<Option<String>>),
}

impl Values {
    /// Number of rows, nulls included.
    pub fn len(&self) -> usize {
        match self {
            Values::Numeric(v) => v.len(),
            Values::Categorical(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows that are not null (nor NaN).
    pub fn present(&self) -> usize {
        match self {
            Values::Numeric(v) => v.iter().filter(|x| x.is_some_and(|x| !x.is_nan())).count(),
            Values::Categorical(v) => v.iter().filter(|x| x.is_some()).count(),
        }
    }
}

/// Whether a column of type `ty` is compared as numbers.
pub fn is_numeric(ty: Type) -> bool {
    matches!(ty, Type::Int | Type::Float | Type::Bool)
}

/// Every request of the window: what service metrics read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requests {
    /// Server-side latency of each request, ms.
    pub latency_ms: Vec<f64>,
    /// Whether each request failed (status 500 and above, or a refused 503).
    pub failed: Vec<bool>,
    /// Rows answered (sum over successful requests).
    pub rows: u64,
    /// The model version that answered most requests, if any did.
    pub model_version: Option<String>,
}

/// The sampled rows of a window: one entry per row of each logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Request id of each row, when asked for (labels join on them); else empty.
    pub request_id: Vec<String>,
    /// Index of the row within its request (0 for a single-row request).
    pub row: Vec<i64>,
    /// The columns asked for, in order.
    pub columns: Vec<Values>,
    /// For each column, whether any sampled request of the window logged it at all (a
    /// column the log lacks is an error, a logged column that is all null is "no data").
    pub logged: Vec<bool>,
}

/// Why something could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// Nothing logged yet.
    #[error("no prediction log yet in `{0}` (serve the deployment and send requests first)")]
    NoLog(PathBuf),
    /// A file that is not there.
    #[error("`{0}` does not exist")]
    Missing(PathBuf),
    /// A column the spec names is not in a file or the log.
    #[error("{what} has no column {name} (columns: {columns})")]
    NoColumn {
        /// The file or log.
        what: String,
        /// The column as the spec names it (and alternatives).
        name: String,
        /// What it has.
        columns: String,
    },
    /// A column whose type differs from the spec's.
    #[error("{what}: column `{name}` is {found}, the spec says {wanted}")]
    WrongType {
        /// The file.
        what: String,
        /// Column.
        name: String,
        /// DuckDB's type.
        found: String,
        /// The spec's type.
        wanted: String,
    },
    /// No training set to compare against.
    #[error("{0}")]
    NoBaseline(String),
    /// DuckDB failed.
    #[error("{0}")]
    Query(String),
}

impl From<duckdb::Error> for ReadError {
    fn from(e: duckdb::Error) -> Self {
        ReadError::Query(e.to_string())
    }
}

/// SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A file's identity when read: its size and modification time. A file rewritten in place
/// gets another (a write within the file system's time granularity that keeps the size is
/// the one change it misses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

/// The identity of file `path`, or `Missing`.
pub fn file_id(path: &Path) -> Result<FileId, ReadError> {
    let m = std::fs::metadata(path).map_err(|_| ReadError::Missing(path.to_path_buf()))?;
    Ok(FileId {
        len: m.len(),
        modified: m.modified().ok(),
    })
}

/// The DuckDB table function reading a Parquet or CSV file.
pub fn read_file_sql(path: &Path) -> Result<String, ReadError> {
    if !path.exists() {
        return Err(ReadError::Missing(path.to_path_buf()));
    }
    let p = lit(&path.to_string_lossy());
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    Ok(if csv {
        format!("read_csv({p}, header = true)")
    } else {
        format!("read_parquet({p})")
    })
}

/// The columns of a file: name and DuckDB type.
pub fn file_columns(
    conn: &duckdb::Connection,
    from: &str,
) -> Result<Vec<(String, String)>, ReadError> {
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {from}"))?;
    let mut q = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        out.push((r.get::<_, String>(0)?, r.get::<_, String>(1)?));
    }
    Ok(out)
}

fn numeric_duckdb(t: &str) -> bool {
    let t = t.to_ascii_uppercase();
    [
        "INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "BOOLEAN", "NUMERIC",
    ]
    .iter()
    .any(|k| t.contains(k))
}

/// Column `c` of type `ty` from a baseline file (`what` names it in errors).
pub fn read_file_column(
    conn: &duckdb::Connection,
    path: &Path,
    what: &str,
    c: &ColumnRef,
    ty: Type,
) -> Result<Values, ReadError> {
    let from = read_file_sql(path)?;
    let cols = file_columns(conn, &from)?;
    let names = c.file_names();
    let Some((name, found)) = names
        .iter()
        .find_map(|n| cols.iter().find(|(c, _)| c == n).cloned())
    else {
        return Err(ReadError::NoColumn {
            what: what.to_string(),
            name: names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or "),
            columns: cols
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    if is_numeric(ty) != numeric_duckdb(&found) {
        return Err(ReadError::WrongType {
            what: what.to_string(),
            name,
            found,
            wanted: ty.name().to_string(),
        });
    }
    let q = format!("\"{}\"", name.replace('"', "\"\""));
    let sql = if is_numeric(ty) {
        format!("SELECT CAST({q} AS DOUBLE) FROM {from}")
    } else {
        format!("SELECT CAST({q} AS VARCHAR) FROM {from}")
    };
    let mut stmt = conn.prepare(&sql)?;
    let mut out = empty_values(ty);
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        push_value(&mut out, r, 0)?;
    }
    Ok(out)
}

/// Labels by `(request_id, row)`: the values of the labels file's columns, in order.
pub type LabelMap = HashMap<(String, i64), Vec<Option<f64>>>;

/// The labels file's columns `names`, keyed by `(request_id, row)`: the file must have a
/// `request_id` column; a `row` column (the row's index in a batch request) is optional and
/// 0 when absent. Values are numbers (booleans as 0/1).
pub fn read_labels(
    conn: &duckdb::Connection,
    path: &Path,
    names: &[String],
) -> Result<LabelMap, ReadError> {
    let from = read_file_sql(path)?;
    let cols = file_columns(conn, &from)?;
    let has = |n: &str| cols.iter().any(|(c, _)| c == n);
    let what = format!("labels file `{}`", path.display());
    let listing = || {
        cols.iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !has("request_id") {
        return Err(ReadError::NoColumn {
            what,
            name: "`request_id` (the key labels join on)".into(),
            columns: listing(),
        });
    }
    for n in names {
        if !has(n) {
            return Err(ReadError::NoColumn {
                what,
                name: format!("`{n}`"),
                columns: listing(),
            });
        }
    }
    let row = if has("row") {
        "CAST(\"row\" AS BIGINT)"
    } else {
        "0"
    };
    let mut vals = String::new();
    for n in names {
        let ty = cols
            .iter()
            .find(|(c, _)| c == n)
            .map_or("", |(_, t)| t.as_str());
        if !numeric_duckdb(ty) {
            return Err(ReadError::WrongType {
                what,
                name: n.clone(),
                found: ty.to_string(),
                wanted: "a number or a boolean".into(),
            });
        }
        let q = format!("\"{}\"", n.replace('"', "\"\""));
        // Booleans go through INTEGER: true is 1.
        if ty.eq_ignore_ascii_case("BOOLEAN") {
            vals.push_str(&format!(", CAST(CAST({q} AS INTEGER) AS DOUBLE)"));
        } else {
            vals.push_str(&format!(", CAST({q} AS DOUBLE)"));
        }
    }
    let sql = format!("SELECT CAST(request_id AS VARCHAR), {row}{vals} FROM {from}");
    let mut stmt = conn.prepare(&sql)?;
    let mut q = stmt.query([])?;
    let mut out = HashMap::new();
    while let Some(r) = q.next()? {
        let Some(id) = r.get::<_, Option<String>>(0)? else {
            continue;
        };
        let row: Option<i64> = r.get(1)?;
        let mut v = Vec::with_capacity(names.len());
        for j in 0..names.len() {
            v.push(r.get::<_, Option<f64>>(j + 2)?);
        }
        out.insert((id, row.unwrap_or(0)), v);
    }
    Ok(out)
}
