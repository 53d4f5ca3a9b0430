//! The window index of a view: its source's rows in (key, event time, created time,
//! tie-break) order with their visibility time and the aggregations' arguments, as an Arrow
//! IPC file under `.mlp/pit/`, written in batches that never split a key.

use super::merge::Keys;
use super::Args;
use crate::feature_sql::Scan;
use crate::historical::FeatureError;
use crate::pit::{cached_file, Cached};
use crate::sql::ident;
use arrow_ipc::writer::FileWriter;
use duckdb::arrow::array::{ArrayRef, RecordBatch};
use duckdb::arrow::compute::{cast, concat_batches};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::Connection;
use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

/// The layout's version: part of the file's hash.
const FORMAT: &str = "mlp-window-v1";

/// Rows per written batch, at least (a batch ends at a key's last row).
const BATCH_ROWS: usize = 1 << 16;

/// The view's window index with argument columns `args`: the current file, built when
/// missing or stale if the retrieval builds indexes (`None` when it does not and none is
/// current).
pub(super) fn window_index(
    conn: &Connection,
    scan: &Scan<'_>,
    args: &Args,
) -> Result<Option<Cached>, FeatureError> {
    let mut extra = vec![FORMAT.to_string(), scan.view().to_string()];
    extra.extend(args.iter().map(|(sql, _)| sql.clone()));
    let input = scan.index_input();
    let stem = format!("{}.{}-", input.name, scan.view());
    let (key, _) = super::key_sql("s", scan.key_columns());
    cached_file(conn, &input, &stem, "arrow", &extra, scan.when(), |tmp| {
        write(conn, &build_sql(scan, &key, args), tmp)
    })
}

/// The SQL of the index's rows: `__mlp_key`, `__mlp_ts` and `__mlp_vis` (microseconds), then
/// the arguments `__mlp_a{i}`, in key order and within a key in time order, ties by the
/// documented tie-break (the best row last). Rows with a null key or time are left out (they
/// match no entity row and are never visible).
fn build_sql(scan: &Scan<'_>, key: &str, args: &Args) -> String {
    let ts = scan.ts();
    let vis = match scan.cr() {
        Some(cr) => format!("greatest({ts}, {cr})"),
        None => ts.to_string(),
    };
    let mut not_null: Vec<String> = scan
        .key_columns()
        .iter()
        .map(|k| format!("s.{} IS NOT NULL", ident(&k.name)))
        .collect();
    not_null.push(format!("{ts} IS NOT NULL"));
    not_null.extend(scan.cr().map(|cr| format!("{cr} IS NOT NULL")));
    let mut order = vec!["__mlp_key".to_string(), ts.to_string()];
    order.extend(scan.cr().map(str::to_string));
    order.extend(
        scan.tie_columns()
            .map(|c| format!("s.{} ASC NULLS FIRST", ident(c))),
    );
    let args = args
        .iter()
        .enumerate()
        .map(|(i, (sql, _))| format!(", {sql} AS __mlp_a{i}"))
        .collect::<String>();
    format!(
        "SELECT {key} AS __mlp_key, epoch_us({ts}) AS __mlp_ts, epoch_us({vis}) AS __mlp_vis{args} FROM {} s WHERE {} ORDER BY {}",
        scan.reader(),
        not_null.join(" AND "),
        order.join(", ")
    )
}

/// Runs `sql` and writes its rows to `path` as Arrow IPC, in batches of at least
/// [`BATCH_ROWS`] rows that end at a key's last row; fails if the rows are not in key order
/// as the merge compares keys (bytes for text).
fn write(conn: &Connection, sql: &str, path: &Path) -> Result<(), FeatureError> {
    let io = |e: &dyn std::fmt::Display| FeatureError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut stmt = conn.prepare(sql)?;
    let mut writer: Option<FileWriter<std::io::BufWriter<std::fs::File>>> = None;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut rows = 0usize;
    let mut schema = None;
    for batch in stmt.query_arrow([])? {
        let batch = normalize(&batch).map_err(|e| io(&e))?;
        schema.get_or_insert_with(|| batch.schema());
        let n = batch.num_rows();
        if n == 0 {
            continue;
        }
        let keys = Keys::of(batch.column(0).as_ref())?;
        // The previous batch's last row is the pending rows' last (a cut leaves its tail).
        let after_last = match pending.last() {
            Some(p) => Some(keys.cmp(0, &Keys::of(p.column(0).as_ref())?, p.num_rows() - 1)),
            None => None,
        };
        let sorted = (1..n).all(|i| keys.cmp(i - 1, &keys, i) != Ordering::Greater);
        if !sorted || after_last == Some(Ordering::Less) {
            return Err(FeatureError::Db(
                "internal: the window index's rows are not in key order".to_string(),
            ));
        }
        // Where a key starts in this batch, if one does: the batches written end there.
        let cut = keys.run_start(n - 1);
        let starts_new = after_last.is_some_and(|o| o != Ordering::Equal);
        rows += n;
        if rows >= BATCH_ROWS && (cut > 0 || starts_new) {
            let mut head = std::mem::take(&mut pending);
            head.push(batch.slice(0, cut));
            let all = concat_batches(&batch.schema(), &head).map_err(|e| io(&e))?;
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(open(path, &all)?),
            };
            w.write(&all).map_err(|e| io(&e))?;
            rows = n - cut;
            pending.push(batch.slice(cut, rows));
        } else {
            // One key longer than a batch grows the pending rows until it ends.
            pending.push(batch);
        }
    }
    let Some(schema) = schema else {
        // No row: an index of no batch, with the columns' types from the statement.
        let empty = RecordBatch::new_empty(Arc::new(empty_schema(&stmt)));
        let mut w = open(path, &empty)?;
        return w.finish().map_err(|e| io(&e));
    };
    let mut w = match writer {
        Some(w) => w,
        None => open(path, &RecordBatch::new_empty(schema.clone()))?,
    };
    if !pending.is_empty() {
        let rest = concat_batches(&schema, &pending).map_err(|e| io(&e))?;
        w.write(&rest).map_err(|e| io(&e))?;
    }
    w.finish().map_err(|e| io(&e))
}

/// A new IPC file at `path` with `batch`'s schema.
fn open(
    path: &Path,
    batch: &RecordBatch,
) -> Result<FileWriter<std::io::BufWriter<std::fs::File>>, FeatureError> {
    let err = |e: &dyn std::fmt::Display| FeatureError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(|e| err(&e))?;
    FileWriter::try_new(std::io::BufWriter::new(file), &batch.schema()).map_err(|e| err(&e))
}

/// The schema of a statement that returned no batch (every column nullable, text as Utf8).
fn empty_schema(stmt: &duckdb::Statement<'_>) -> Schema {
    let schema = stmt.schema();
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), utf8(f.data_type()), true))
            .collect::<Vec<_>>(),
    )
}

/// Text as `Utf8` (DuckDB may hand out string views or large strings).
fn utf8(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        t => t.clone(),
    }
}

/// `batch` with its text columns as `Utf8`.
pub(super) fn normalize(
    batch: &RecordBatch,
) -> Result<RecordBatch, duckdb::arrow::error::ArrowError> {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let t = utf8(c.data_type());
        cols.push(if &t == c.data_type() {
            c.clone()
        } else {
            cast(c, &t)?
        });
        fields.push(Field::new(f.name(), t, true));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
}
