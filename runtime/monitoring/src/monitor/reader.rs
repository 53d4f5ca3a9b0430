//! What evaluations read, kept between them: one DuckDB connection, the prediction log's
//! records by file, baseline columns and labels by file. A long-lived evaluator (the
//! server's monitor loop) reads only the log files written since its last evaluation,
//! however long the window, and a baseline or labels file again only once it changed.
//!
//! The log's files never change once written (the writer renames each into place), so a file
//! read once is kept under its path, size and modification time; a baseline or labels file
//! likewise (a rewritten file has another size or time, and is read again). A file no
//! evaluation of its kind used in the last [`KEEP_LOADS`] is dropped, and so is every file of
//! a deployment and column set no evaluation asked for in the last [`KEEP_GROUPS`]: memory
//! stays about what the windows hold.

use super::logread::{self, log_files, FileRecords};
use super::window::{
    self, file_id, ColumnRef, FileId, LabelMap, ReadError, Requests, Rows, Span, Values,
};
use mlp_ir::Type;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Window reads of one deployment and column set after which a log file none of them used
/// is dropped (an evaluation makes one, and one more per `previous(...)` baseline column).
pub const KEEP_LOADS: u64 = 4;

/// Window reads (of any deployment) after which a deployment and column set none of them
/// asked for is dropped with its files.
pub const KEEP_GROUPS: u64 = 256;

/// The log files kept for one deployment and column set.
#[derive(Default)]
struct Group {
    files: HashMap<PathBuf, Kept<FileRecords>>,
    /// This group's window reads so far.
    loads: u64,
    /// The reader's window reads when this group was last asked for.
    last_asked: u64,
}

/// Something read from a file, with the file's identity when read and the read that last
/// used it.
struct Kept<T> {
    id: FileId,
    used: u64,
    value: Arc<T>,
}

/// A deployment and the columns read of it.
type GroupKey = (String, Vec<(ColumnRef, Type)>);

/// The connection and what was read, kept between evaluations.
pub struct Reader {
    conn: duckdb::Connection,
    groups: HashMap<GroupKey, Group>,
    loads: u64,
    columns: HashMap<(PathBuf, ColumnRef, Type), Kept<Values>>,
    labels: HashMap<(PathBuf, Vec<String>), Kept<LabelMap>>,
    files_read: u64,
}

impl Reader {
    /// A reader with a DuckDB connection of `threads` threads (0: DuckDB's default, the
    /// cores). The server's loop uses one, leaving the other cores to serving.
    pub fn new(threads: usize) -> Result<Reader, ReadError> {
        let conn = duckdb::Connection::open_in_memory()?;
        conn.execute_batch("SET TimeZone = 'UTC';")?;
        if threads > 0 {
            conn.execute_batch(&format!("SET threads = {threads};"))?;
        }
        Ok(Reader {
            conn,
            groups: HashMap::new(),
            loads: 0,
            columns: HashMap::new(),
            labels: HashMap::new(),
            files_read: 0,
        })
    }

    /// The connection, for reads that are not kept.
    pub fn conn(&self) -> &duckdb::Connection {
        &self.conn
    }

    /// Every request of deployment `d` in `span`, and its sampled rows with `columns` (and
    /// their request ids when `ids`; else `Rows::request_id` is empty): the log files near
    /// the window read once, the window taken from what was read.
    pub fn window(
        &mut self,
        project_dir: &Path,
        d: &str,
        span: Span,
        columns: &[(ColumnRef, Type)],
        ids: bool,
    ) -> Result<(Requests, Rows), ReadError> {
        self.loads += 1;
        let loads = self.loads;
        self.groups
            .retain(|_, g| loads.saturating_sub(g.last_asked) <= KEEP_GROUPS);
        let files = log_files(project_dir, span)?;
        let group = self
            .groups
            .entry((d.to_string(), columns.to_vec()))
            .or_default();
        group.loads += 1;
        group.last_asked = loads;
        let now = group.loads;
        // A file removed since it was listed (by hand, or a retention job) is not read.
        let files: Vec<(PathBuf, FileId)> = files
            .into_iter()
            .filter_map(|f| file_id(&f).ok().map(|id| (f, id)))
            .collect();
        let mut missing: Vec<(PathBuf, FileId)> = Vec::new();
        for (f, id) in &files {
            match group.files.get_mut(f) {
                Some(k) if k.id == *id => k.used = now,
                _ => missing.push((f.clone(), *id)),
            }
        }
        if !missing.is_empty() {
            let paths: Vec<PathBuf> = missing.iter().map(|(f, _)| f.clone()).collect();
            // In the order asked for, one per file.
            let read = logread::read_log_files(&self.conn, &paths, d, columns)?;
            self.files_read += read.len() as u64;
            for ((f, recs), (_, id)) in read.into_iter().zip(missing) {
                group.files.insert(
                    f,
                    Kept {
                        id,
                        used: now,
                        value: Arc::new(recs),
                    },
                );
            }
        }
        let parts: Vec<Arc<FileRecords>> = files
            .iter()
            .filter_map(|(f, _)| group.files.get(f).map(|k| Arc::clone(&k.value)))
            .collect();
        group
            .files
            .retain(|_, k| now.saturating_sub(k.used) < KEEP_LOADS);
        Ok(logread::assemble(&parts, span, columns, ids))
    }

    /// Column `c` of type `ty` from a baseline file (`what` names it in errors), read again
    /// only when the file changed.
    pub fn file_column(
        &mut self,
        path: &Path,
        what: &str,
        c: &ColumnRef,
        ty: Type,
    ) -> Result<Arc<Values>, ReadError> {
        let id = file_id(path)?;
        let key = (path.to_path_buf(), c.clone(), ty);
        if let Some(k) = self.columns.get(&key).filter(|k| k.id == id) {
            return Ok(Arc::clone(&k.value));
        }
        let v = Arc::new(window::read_file_column(&self.conn, path, what, c, ty)?);
        self.columns.insert(
            key,
            Kept {
                id,
                used: 0,
                value: Arc::clone(&v),
            },
        );
        Ok(v)
    }

    /// The labels file's columns `names` by `(request_id, row)`, read again only when the
    /// file changed.
    pub fn labels(&mut self, path: &Path, names: &[String]) -> Result<Arc<LabelMap>, ReadError> {
        let id = file_id(path)?;
        let key = (path.to_path_buf(), names.to_vec());
        if let Some(k) = self.labels.get(&key).filter(|k| k.id == id) {
            return Ok(Arc::clone(&k.value));
        }
        let m = Arc::new(window::read_labels(&self.conn, path, names)?);
        self.labels.insert(
            key,
            Kept {
                id,
                used: 0,
                value: Arc::clone(&m),
            },
        );
        Ok(m)
    }

    /// Log files kept, over every deployment and column set.
    pub fn kept_log_files(&self) -> usize {
        self.groups.values().map(|g| g.files.len()).sum()
    }

    /// Log files read from disk so far (a file read for two column sets counts twice).
    pub fn log_files_read(&self) -> u64 {
        self.files_read
    }
}
