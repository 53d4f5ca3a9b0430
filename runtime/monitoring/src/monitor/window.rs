//! Reading what a monitor compares, with DuckDB: a deployment's requests and logged rows in
//! a time window of the prediction log (`.mlp/predictions/*.parquet`), a baseline (the served
//! version's training set, the window before, or a file) and the labels joined on the
//! request id.

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
    fn log_place(&self) -> (&'static str, String) {
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
    /// Request id of each row.
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
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// How far a log record's time may be from the time in its file's name: a file is named after
/// its first record (`part-{first_time_us}-{pid}-{seq}.parquet`), the writer flushes within a
/// second of receiving a record, and a record is received when its request is answered.
/// Requests longer than this, or a writer that far behind, would put a record in a file the
/// window skips. Each file opened costs an evaluation its footer and schema: the slack is
/// kept short because the server evaluates windows every few seconds.
pub const FILE_SLACK_US: i64 = 10 * 1_000_000;

/// The time in a log file's name, if it has one.
fn file_time_us(name: &str) -> Option<i64> {
    name.strip_prefix("part-")?.split('-').next()?.parse().ok()
}

/// The prediction log's files that may hold records of `span` (named within
/// [`FILE_SLACK_US`] of it, or not named after a time), or `NoLog`. The log grows by a file a
/// second: without this an evaluation would open every file ever written.
fn log_files(project_dir: &Path, span: Span) -> Result<String, ReadError> {
    let dir = project_dir.join(".mlp").join("predictions");
    let all: Vec<(Option<i64>, String)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let name = p.file_name()?.to_string_lossy().to_string();
                let log = p.extension().is_some_and(|x| x == "parquet") && !name.starts_with('.');
                log.then(|| (file_time_us(&name), lit(&p.to_string_lossy())))
            })
            .collect(),
        Err(_) => return Err(ReadError::NoLog(dir)),
    };
    let near = |t: &Option<i64>| {
        t.is_none_or(|t| {
            t >= span.start_us.saturating_sub(FILE_SLACK_US)
                && t < span.end_us.saturating_add(FILE_SLACK_US)
        })
    };
    let mut files: Vec<String> = all
        .iter()
        .filter(|(t, _)| near(t))
        .map(|(_, f)| f.clone())
        .collect();
    // A log with nothing near the window: one file, so that the window reads as empty.
    if files.is_empty() {
        files.extend(all.into_iter().map(|(_, f)| f).next());
    }
    if files.is_empty() {
        return Err(ReadError::NoLog(dir));
    }
    files.sort();
    Ok(format!(
        "read_parquet([{}], union_by_name = true)",
        files.join(", ")
    ))
}

/// The filter selecting deployment `d`'s records in `span`.
fn in_span(d: &str, span: Span) -> String {
    format!(
        "deployment = {} AND time >= make_timestamp({}) AND time < make_timestamp({})",
        lit(d),
        span.start_us,
        span.end_us
    )
}

/// Every request to deployment `d` in `span`.
pub fn read_requests(
    conn: &duckdb::Connection,
    project_dir: &Path,
    d: &str,
    span: Span,
) -> Result<Requests, ReadError> {
    let from = log_files(project_dir, span)?;
    let sql = format!(
        "SELECT latency_ms, coalesce(status, 200) AS status, coalesce(rows, 1), model_version FROM {from} WHERE {}",
        in_span(d, span)
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut out = Requests::default();
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let latency: Option<f64> = r.get(0)?;
        let status: i64 = r.get(1)?;
        let rows: i64 = r.get(2)?;
        let version: Option<String> = r.get(3)?;
        out.latency_ms.push(latency.unwrap_or(f64::NAN));
        // Client errors (a bad request) are the caller's; the service failed on 5xx.
        out.failed.push(status >= 500);
        if status == 200 {
            out.rows += u64::try_from(rows).unwrap_or(0);
            if let Some(v) = version.filter(|v| !v.is_empty()) {
                *versions.entry(v).or_default() += 1;
            }
        }
    }
    out.model_version = versions
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(v, _)| v);
    Ok(out)
}

/// The SQL list of a logged JSON value holding column `c` (a list of rows; a single-row
/// request from before the log kept lists is a scalar).
fn list_sql(c: &ColumnRef, ty: Type) -> String {
    let (col, key) = c.log_place();
    let x = format!("json_extract({col}, {})", lit(&format!("$.\"{key}\"")));
    let elem = match ty {
        Type::Int | Type::Float => "DOUBLE",
        Type::Bool => "BOOLEAN",
        Type::String | Type::Timestamp => "VARCHAR",
    };
    let list = format!(
        "CASE WHEN json_type({x}) = 'ARRAY' THEN CAST({x} AS {elem}[]) WHEN {x} IS NULL OR json_type({x}) = 'NULL' THEN NULL ELSE [CAST({x} AS {elem})] END"
    );
    if ty == Type::Bool {
        format!("CAST({list} AS DOUBLE[])")
    } else {
        list
    }
}

/// The sampled rows of deployment `d` in `span`, with `columns` (and their types).
pub fn read_rows(
    conn: &duckdb::Connection,
    project_dir: &Path,
    d: &str,
    span: Span,
    columns: &[(ColumnRef, Type)],
) -> Result<Rows, ReadError> {
    let from = log_files(project_dir, span)?;
    let lists: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (c, ty))| format!("{} AS c{i}", list_sql(c, *ty)))
        .collect();
    let first = if columns.is_empty() {
        "[]".to_string()
    } else {
        "c0".to_string()
    };
    let unnests: Vec<String> = (0..columns.len()).map(|i| format!("c{i}[i + 1]")).collect();
    let filter = format!(
        "{} AND coalesce(sampled, true) AND coalesce(status, 200) = 200",
        in_span(d, span)
    );
    let sql = format!(
        "WITH r AS (SELECT request_id, rows, {lists} FROM {from} WHERE {filter})
         SELECT request_id, i{more} FROM (SELECT *, unnest(range(CAST(coalesce(rows, len({first}), 1) AS BIGINT))) AS i FROM r)",
        lists = if lists.is_empty() { "1 AS none".into() } else { lists.join(", ") },
        more = unnests.iter().map(|u| format!(", {u}")).collect::<String>(),
    );
    let logged = logged_keys(conn, &from, &filter, columns)?;
    let mut stmt = conn.prepare(&sql)?;
    let mut out = Rows {
        request_id: Vec::new(),
        row: Vec::new(),
        columns: columns.iter().map(|(_, ty)| empty_values(*ty)).collect(),
        logged,
    };
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        out.request_id.push(r.get(0)?);
        out.row.push(r.get(1)?);
        for (j, v) in out.columns.iter_mut().enumerate() {
            push_value(v, r, j + 2)?;
        }
    }
    Ok(out)
}

/// Whether each column's key appears in any record selected by `filter`.
fn logged_keys(
    conn: &duckdb::Connection,
    from: &str,
    filter: &str,
    columns: &[(ColumnRef, Type)],
) -> Result<Vec<bool>, ReadError> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<String> = columns
        .iter()
        .map(|(c, _)| {
            let (col, key) = c.log_place();
            format!(
                "count(*) FILTER (WHERE json_exists({col}, {}))",
                lit(&format!("$.\"{key}\""))
            )
        })
        .collect();
    let sql = format!("SELECT {} FROM {from} WHERE {filter}", counts.join(", "));
    let mut stmt = conn.prepare(&sql)?;
    let mut q = stmt.query([])?;
    let mut out = vec![false; columns.len()];
    if let Some(r) = q.next()? {
        for (i, o) in out.iter_mut().enumerate() {
            *o = r.get::<_, i64>(i)? > 0;
        }
    }
    Ok(out)
}

fn empty_values(ty: Type) -> Values {
    if is_numeric(ty) {
        Values::Numeric(Vec::new())
    } else {
        Values::Categorical(Vec::new())
    }
}

fn push_value(v: &mut Values, r: &duckdb::Row<'_>, i: usize) -> Result<(), duckdb::Error> {
    match v {
        Values::Numeric(xs) => xs.push(r.get::<_, Option<f64>>(i)?),
        Values::Categorical(xs) => xs.push(r.get::<_, Option<String>>(i)?),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, select: &str) {
        let d = dir.join(".mlp/predictions");
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let file = d.join(name).display().to_string();
        conn.execute_batch(&format!("COPY ({select}) TO '{file}' (FORMAT parquet)"))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A log written before records had a status (outputs as scalars for single rows) and one
    /// written after, read together: every request counted, batch rows unnested, errors and
    /// unsampled requests kept out of the rows.
    #[test]
    fn old_and_new_log_files_read_together() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path();
        write(p, "part-1-1-000001.parquet",
            "SELECT 'a' AS request_id, make_timestamp(1000) AS time, 'd' AS deployment, 'm@1' AS model_version,
                    '{\"x\":[1.5]}'::JSON AS request, '{\"score\":0.25}'::JSON AS outputs, 2.0 AS latency_ms");
        write(p, "part-2-1-000002.parquet",
            "SELECT * FROM (VALUES
               ('b', make_timestamp(2000), 'd', 'm@2', 200::USMALLINT, NULL, 2::UINTEGER, true,
                '{\"x\":[2.5, null]}'::JSON, '{\"score\":[0.5, 0.75]}'::JSON, 4.0),
               ('c', make_timestamp(3000), 'd', 'm@2', 503::USMALLINT, 'down', NULL, false, NULL, NULL, 1.0),
               ('e', make_timestamp(3500), 'd', 'm@2', 200::USMALLINT, NULL, 1::UINTEGER, false, NULL, NULL, 3.0),
               ('f', make_timestamp(9000), 'd', 'm@2', 200::USMALLINT, NULL, 1::UINTEGER, true,
                '{\"x\":[9.0]}'::JSON, '{\"score\":[0.9]}'::JSON, 3.0),
               ('g', make_timestamp(2500), 'other', 'n@1', 200::USMALLINT, NULL, 1::UINTEGER, true,
                '{\"x\":[7.0]}'::JSON, '{\"score\":[0.1]}'::JSON, 3.0))
             t(request_id, time, deployment, model_version, status, error, rows, sampled, request, outputs, latency_ms)");
        let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let span = Span {
            start_us: 0,
            end_us: 5000,
        };
        let req = read_requests(&conn, p, "d", span).unwrap_or_else(|e| panic!("{e}"));
        let mut lat = req.latency_ms.clone();
        lat.sort_by(f64::total_cmp);
        assert_eq!(lat, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(req.failed.iter().filter(|f| **f).count(), 1);
        assert_eq!(req.rows, 1 + 2 + 1);
        assert_eq!(req.model_version.as_deref(), Some("m@2"));
        let x = ColumnRef::Request {
            request: "r".into(),
            field: "x".into(),
        };
        let score = ColumnRef::Output {
            name: "score".into(),
        };
        let rows = read_rows(
            &conn,
            p,
            "d",
            span,
            &[(x, Type::Float), (score, Type::Float)],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut got: Vec<(String, i64, Option<f64>, Option<f64>)> = (0..rows.row.len())
            .map(|i| {
                let v = |j: usize| match &rows.columns[j] {
                    Values::Numeric(v) => v[i],
                    Values::Categorical(_) => None,
                };
                (rows.request_id[i].clone(), rows.row[i], v(0), v(1))
            })
            .collect();
        got.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        assert_eq!(
            got,
            [
                ("a".to_string(), 0, Some(1.5), Some(0.25)),
                ("b".to_string(), 0, Some(2.5), Some(0.5)),
                ("b".to_string(), 1, None, Some(0.75)),
            ]
        );
        assert_eq!(rows.logged, [true, true]);
    }

    #[test]
    fn no_log_folder_is_no_log() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let span = Span {
            start_us: 0,
            end_us: 1,
        };
        assert!(matches!(
            read_requests(&conn, dir.path(), "d", span),
            Err(ReadError::NoLog(_))
        ));
    }

    #[test]
    fn an_evaluation_reads_the_log_files_named_near_its_window() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join(".mlp").join("predictions");
        std::fs::create_dir_all(&log).unwrap_or_else(|e| panic!("{e}"));
        let s = 1_000_000;
        let span = Span {
            start_us: 1000 * s,
            end_us: 1060 * s,
        };
        assert!(matches!(
            log_files(dir.path(), span),
            Err(ReadError::NoLog(_))
        ));
        for name in [
            format!("part-{}-7-000001.parquet", 100 * s),
            format!("part-{}-7-000002.parquet", 991 * s),
            format!("part-{}-7-000003.parquet", 1030 * s),
            format!("part-{}-7-000004.parquet", 1069 * s),
            format!("part-{}-7-000005.parquet", 1071 * s),
            "old.parquet".into(),
            ".part-1-1-000001.parquet.tmp".into(),
        ] {
            std::fs::write(log.join(name), b"").unwrap_or_else(|e| panic!("{e}"));
        }
        let from = log_files(dir.path(), span).unwrap_or_default();
        for (n, read) in [(1, false), (2, true), (3, true), (4, true), (5, false)] {
            assert_eq!(
                from.contains(&format!("-7-00000{n}.parquet")),
                read,
                "{n}: {from}"
            );
        }
        assert!(
            from.contains("old.parquet") && !from.contains(".part-1-1"),
            "{from}"
        );
        assert_eq!(file_time_us("part-42-1-000001.parquet"), Some(42));
        assert_eq!(file_time_us("part-x.parquet"), None);
        // Nothing near: one file, read as an empty window.
        std::fs::remove_file(log.join("old.parquet")).unwrap_or_else(|e| panic!("{e}"));
        let far = Span {
            start_us: 5000 * s,
            end_us: 5060 * s,
        };
        assert_eq!(
            log_files(dir.path(), far)
                .unwrap_or_default()
                .matches(".parquet'")
                .count(),
            1
        );
    }
}
