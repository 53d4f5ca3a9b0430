//! Reading the prediction log (`.mlp/predictions/*.parquet`) with DuckDB: which files may
//! hold a window, each file's records of a deployment (every request, and the sampled rows
//! with the columns a monitor names), and a window assembled from files read before.

use super::window::{is_numeric, lit, ColumnRef, ReadError, Requests, Rows, Span, Values};
use mlp_ir::Type;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How far a log record's time may be from the time in its file's name: a file is named after
/// its first record (`part-{first_time_us}-{pid}-{seq}-{host}.parquet`), the writer flushes within a
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
/// [`FILE_SLACK_US`] of it, or not named after a time), sorted, or `NoLog`. The log grows by
/// a file a second: without this an evaluation would open every file ever written.
pub fn log_files(project_dir: &Path, span: Span) -> Result<Vec<PathBuf>, ReadError> {
    let dir = mlp_ir::host::state_dir(project_dir).join("predictions");
    let all: Vec<(Option<i64>, PathBuf)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let name = p.file_name()?.to_string_lossy().to_string();
                let log = p.extension().is_some_and(|x| x == "parquet") && !name.starts_with('.');
                log.then(|| (file_time_us(&name), p))
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
    let mut files: Vec<PathBuf> = all
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
    Ok(files)
}

/// One log file's records of one deployment: every request, and the rows of the sampled,
/// successful ones with the columns asked for.
#[derive(Debug, Default)]
pub struct FileRecords {
    /// Per request: time (µs), latency (ms, NaN when not recorded), HTTP status, rows, and
    /// the index of its model version in `versions`.
    time_us: Vec<i64>,
    latency_ms: Vec<f64>,
    status: Vec<i64>,
    rows: Vec<i64>,
    version: Vec<Option<u32>>,
    versions: Vec<String>,
    /// Per request: whether its payload counts (sampled and answered 200), and per column
    /// whether the payload has the column's key at all (`logged[column][request]`).
    kept: Vec<bool>,
    logged: Vec<Vec<bool>>,
    /// Per row of a kept request: time, request id, index in the request, and each column.
    row_time_us: Vec<i64>,
    request_id: Vec<String>,
    row: Vec<i64>,
    columns: Vec<Values>,
}

impl FileRecords {
    fn new(columns: &[(ColumnRef, Type)]) -> FileRecords {
        FileRecords {
            logged: vec![Vec::new(); columns.len()],
            columns: columns.iter().map(|(_, ty)| empty_values(*ty)).collect(),
            ..FileRecords::default()
        }
    }

    fn version_index(&mut self, v: Option<String>) -> Option<u32> {
        let v = v.filter(|v| !v.is_empty())?;
        let i = match self.versions.iter().position(|x| *x == v) {
            Some(i) => i,
            None => {
                self.versions.push(v);
                self.versions.len() - 1
            }
        };
        u32::try_from(i).ok()
    }
}

/// The columns of the files `from` reads, by name.
fn columns_of(conn: &duckdb::Connection, from: &str) -> Result<Vec<String>, ReadError> {
    let mut stmt = conn.prepare(&format!("DESCRIBE SELECT * FROM {from}"))?;
    let mut q = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        out.push(r.get::<_, String>(0)?);
    }
    Ok(out)
}

/// The SQL list of a logged JSON value holding column `c` (a list of rows; a single-row
/// request from before the log kept lists is a scalar). `json` is the log's JSON column
/// (`NULL::JSON` when no file has it).
fn list_sql(json: &str, key: &str, ty: Type) -> String {
    let x = format!("json_extract({json}, {})", lit(&format!("$.\"{key}\"")));
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

/// Reads deployment `d`'s records from each of `files` (all of them in two queries), with
/// `columns`. A file with no record of `d` gives empty records. Columns a file written
/// before the log had them lacks (status, sampled, rows) read as a success, sampled, one row.
pub fn read_log_files(
    conn: &duckdb::Connection,
    files: &[PathBuf],
    d: &str,
    columns: &[(ColumnRef, Type)],
) -> Result<Vec<(PathBuf, FileRecords)>, ReadError> {
    let batch = Batch::new(conn, files)?;
    let mut out: Vec<(PathBuf, FileRecords)> = files
        .iter()
        .map(|f| (f.clone(), FileRecords::new(columns)))
        .collect();
    batch.read_requests(conn, d, columns, &mut out)?;
    if !columns.is_empty() {
        batch.read_rows(conn, d, columns, &mut out)?;
    }
    Ok(out)
}

/// Log files read together: the table function over them, the columns any of them has, and
/// each file's place in the output.
struct Batch {
    from: String,
    have: Vec<String>,
    index: HashMap<String, usize>,
}

impl Batch {
    fn new(conn: &duckdb::Connection, files: &[PathBuf]) -> Result<Batch, ReadError> {
        let list: Vec<String> = files.iter().map(|f| lit(&f.to_string_lossy())).collect();
        let from = format!(
            "read_parquet([{}], union_by_name = true, filename = true)",
            list.join(", ")
        );
        let have = columns_of(conn, &from)?;
        for needed in ["time", "deployment"] {
            if !have.iter().any(|c| c == needed) {
                return Err(ReadError::Query(format!(
                    "the prediction log's files have no `{needed}` column: {} is not a prediction log",
                    files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let index = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.to_string_lossy().to_string(), i))
            .collect();
        Ok(Batch { from, have, index })
    }

    /// `present` when some file has column `name`, else `absent`.
    fn col(&self, name: &str, absent: &str, present: &str) -> String {
        if self.have.iter().any(|c| c == name) {
            present.to_string()
        } else {
            absent.to_string()
        }
    }

    /// A JSON payload column, `NULL` when no file has it.
    fn json(&self, name: &str) -> String {
        self.col(name, "NULL::JSON", name)
    }

    /// Whether a record's payload counts: sampled and answered 200.
    fn kept(&self) -> String {
        let status = self.col("status", "200", "coalesce(status, 200)");
        let sampled = self.col("sampled", "true", "coalesce(sampled, true)");
        format!("{sampled} AND {status} = 200")
    }

    /// The place in the output of the file DuckDB names.
    fn at(&self, name: &str) -> Result<usize, ReadError> {
        self.index.get(name).copied().ok_or_else(|| {
            ReadError::Query(format!(
                "DuckDB read a log file that was not asked for: {name}"
            ))
        })
    }

    /// Every request of `d`, with whether each column's key is in its payload.
    fn read_requests(
        &self,
        conn: &duckdb::Connection,
        d: &str,
        columns: &[(ColumnRef, Type)],
        out: &mut [(PathBuf, FileRecords)],
    ) -> Result<(), ReadError> {
        let flags: String = columns
            .iter()
            .map(|(c, _)| {
                let (j, key) = c.log_place();
                format!(
                    ", coalesce(json_exists({}, {}), false)",
                    self.json(j),
                    lit(&format!("$.\"{key}\""))
                )
            })
            .collect();
        let sql = format!(
            "SELECT filename, epoch_us(time), {latency}, {status}, {rows}, {version}, {kept}{flags}
             FROM {from} WHERE deployment = {d}",
            latency = self.col("latency_ms", "NULL", "CAST(latency_ms AS DOUBLE)"),
            status = self.col("status", "200", "coalesce(status, 200)"),
            rows = self.col("rows", "1", "coalesce(rows, 1)"),
            version = self.col("model_version", "NULL", "model_version"),
            kept = self.kept(),
            from = self.from,
            d = lit(d),
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let f = &mut out[self.at(&r.get::<_, String>(0)?)?].1;
            f.time_us.push(r.get(1)?);
            f.latency_ms
                .push(r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN));
            f.status.push(r.get(3)?);
            f.rows.push(r.get(4)?);
            let v = f.version_index(r.get(5)?);
            f.version.push(v);
            f.kept.push(r.get(6)?);
            for (j, l) in f.logged.iter_mut().enumerate() {
                l.push(r.get(7 + j)?);
            }
        }
        Ok(())
    }

    /// The rows of `d`'s kept requests, unnested from the payload's lists, with `columns`.
    fn read_rows(
        &self,
        conn: &duckdb::Connection,
        d: &str,
        columns: &[(ColumnRef, Type)],
        out: &mut [(PathBuf, FileRecords)],
    ) -> Result<(), ReadError> {
        let lists: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (c, ty))| {
                let (j, key) = c.log_place();
                format!("{} AS c{i}", list_sql(&self.json(j), &key, *ty))
            })
            .collect();
        let unnests: String = (0..columns.len())
            .map(|i| format!(", c{i}[i + 1]"))
            .collect();
        let sql = format!(
            "WITH r AS (SELECT filename, epoch_us(time) AS t, {id} AS request_id, {rows} AS rows, {lists}
                        FROM {from} WHERE deployment = {d} AND {kept})
             SELECT filename, t, request_id, i{unnests}
             FROM (SELECT *, unnest(range(CAST(coalesce(rows, len(c0), 1) AS BIGINT))) AS i FROM r)",
            id = self.col("request_id", "''", "coalesce(CAST(request_id AS VARCHAR), '')"),
            rows = self.col("rows", "NULL", "rows"),
            lists = lists.join(", "),
            from = self.from,
            kept = self.kept(),
            d = lit(d),
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            let f = &mut out[self.at(&r.get::<_, String>(0)?)?].1;
            f.row_time_us.push(r.get(1)?);
            f.request_id.push(r.get(2)?);
            f.row.push(r.get(3)?);
            for (j, v) in f.columns.iter_mut().enumerate() {
                push_value(v, r, j + 4)?;
            }
        }
        Ok(())
    }
}

/// A column with no values, numeric or categorical by `ty`.
pub fn empty_values(ty: Type) -> Values {
    if is_numeric(ty) {
        Values::Numeric(Vec::new())
    } else {
        Values::Categorical(Vec::new())
    }
}

/// Appends value `i` of a query row to `v`.
pub fn push_value(v: &mut Values, r: &duckdb::Row<'_>, i: usize) -> Result<(), duckdb::Error> {
    match v {
        Values::Numeric(xs) => xs.push(r.get::<_, Option<f64>>(i)?),
        Values::Categorical(xs) => xs.push(r.get::<_, Option<String>>(i)?),
    }
    Ok(())
}

/// Appends value `i` of `from` to `to` (columns of one type).
fn push_from(to: &mut Values, from: &Values, i: usize) {
    match (to, from) {
        (Values::Numeric(t), Values::Numeric(f)) => t.push(f[i]),
        (Values::Categorical(t), Values::Categorical(f)) => t.push(f[i].clone()),
        // Columns of one group have one type; a mismatch cannot be built.
        _ => {}
    }
}

/// The window `span` of files read before (`parts`, in file order): every request, and the
/// rows with `columns` (with their request ids when `ids`).
pub fn assemble(
    parts: &[Arc<FileRecords>],
    span: Span,
    columns: &[(ColumnRef, Type)],
    ids: bool,
) -> (Requests, Rows) {
    let inside = |t: i64| t >= span.start_us && t < span.end_us;
    let mut req = Requests::default();
    let mut rows = Rows {
        request_id: Vec::new(),
        row: Vec::new(),
        columns: columns.iter().map(|(_, ty)| empty_values(*ty)).collect(),
        logged: vec![false; columns.len()],
    };
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for p in parts {
        // Successful requests by version, counted by the file's index first.
        let mut by_index = vec![0u64; p.versions.len()];
        for k in (0..p.time_us.len()).filter(|&k| inside(p.time_us[k])) {
            req.latency_ms.push(p.latency_ms[k]);
            // Client errors (a bad request) are the caller's; the service failed on 5xx.
            req.failed.push(p.status[k] >= 500);
            if p.status[k] == 200 {
                req.rows += u64::try_from(p.rows[k]).unwrap_or(0);
                if let Some(n) = p.version[k].and_then(|v| by_index.get_mut(v as usize)) {
                    *n += 1;
                }
            }
            if p.kept[k] {
                for (j, l) in rows.logged.iter_mut().enumerate() {
                    *l |= p.logged[j][k];
                }
            }
        }
        for (v, n) in p.versions.iter().zip(by_index).filter(|(_, n)| *n > 0) {
            *versions.entry(v.as_str()).or_default() += n;
        }
        for i in (0..p.row_time_us.len()).filter(|&i| inside(p.row_time_us[i])) {
            if ids {
                rows.request_id.push(p.request_id[i].clone());
            }
            rows.row.push(p.row[i]);
            for (to, from) in rows.columns.iter_mut().zip(&p.columns) {
                push_from(to, from, i);
            }
        }
    }
    req.model_version = versions
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(v, _)| v.to_string());
    (req, rows)
}

#[cfg(test)]
mod tests {
    use super::super::reader::Reader;
    use super::*;

    fn write(dir: &Path, name: &str, select: &str) {
        let d = mlp_ir::host::state_dir(dir).join("predictions");
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
        let span = Span {
            start_us: 0,
            end_us: 5000,
        };
        let mut reader = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
        let x = ColumnRef::Request {
            request: "r".into(),
            field: "x".into(),
        };
        let score = ColumnRef::Output {
            name: "score".into(),
        };
        let (req, rows) = reader
            .window(
                p,
                "d",
                span,
                &[(x, Type::Float), (score, Type::Float)],
                true,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let mut lat = req.latency_ms.clone();
        lat.sort_by(f64::total_cmp);
        assert_eq!(lat, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(req.failed.iter().filter(|f| **f).count(), 1);
        assert_eq!(req.rows, 1 + 2 + 1);
        assert_eq!(req.model_version.as_deref(), Some("m@2"));
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
        let mut reader = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
        let span = Span {
            start_us: 0,
            end_us: 1,
        };
        assert!(matches!(
            reader.window(dir.path(), "d", span, &[], false),
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
        let names = |files: Vec<PathBuf>| -> String {
            files
                .iter()
                .map(|f| format!("{}'", f.display()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let from = names(log_files(dir.path(), span).unwrap_or_default());
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
        assert_eq!(log_files(dir.path(), far).unwrap_or_default().len(), 1);
    }
}
