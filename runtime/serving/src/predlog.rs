//! The prediction log: every request appended, asynchronously and in batches, to Parquet
//! files under `.mlp/predictions/` that DuckDB (and the monitors) read while the server runs.
//!
//! Every request to a deployment gets one record with its status, latency and model version,
//! whatever the deployment's `log` policy: monitors need every request for exact latency
//! quantiles and error rates. The payload (entities, request fields, model inputs and
//! outputs) is filled only for requests the policy samples (`sampled = true`); the others
//! cost a compact record of a few dozen bytes. A per-request record rather than a per-second
//! roll-up keeps quantiles exact (no buckets) and lets labels join on the request id.
//!
//! The request path only `try_send`s a record into a bounded queue: a full queue drops the
//! record and counts it (`mlp_prediction_log_dropped_total`), it never blocks a request. A
//! writer thread flushes every 1,000 records or every second, each flush one new file
//! written under a temporary name and renamed, so a reader never sees half a file. Stopping
//! the log (graceful shutdown) flushes what is queued. A SIGKILL loses at most what was
//! queued and not yet flushed: up to one second of records.

use crate::error::LogError;
use crate::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per flush at most.
pub const FLUSH_ROWS: usize = 1000;
/// Longest time a record waits in memory.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// One request to a deployment.
#[derive(Debug, Clone)]
pub struct Record {
    /// Request id (the caller's `X-Request-Id`, or a random UUID).
    pub request_id: String,
    /// When, microseconds since the epoch.
    pub time_us: i64,
    /// Deployment.
    pub deployment: String,
    /// `MODEL@VERSION` that answered.
    pub model_version: String,
    /// Shadow `MODEL@VERSION`, if any.
    pub shadow_version: Option<String>,
    /// `X-MLP-Consumer`, if sent.
    pub consumer: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// The error answered, for a status other than 200.
    pub error: Option<String>,
    /// Rows in the request, when it could be read.
    pub rows: Option<u32>,
    /// Whether the payload columns below are filled (the `log` policy sampled it).
    pub sampled: bool,
    /// Entity keys, JSON: `{key: [value per row]}`.
    pub entities: Option<String>,
    /// Request fields, JSON: `{field: [value per row]}`.
    pub request: Option<String>,
    /// Model inputs by name, JSON: `{view.feature: [value per row]}`.
    pub features: Option<String>,
    /// Outputs by name, JSON: `{output: [value per row]}`.
    pub outputs: Option<String>,
    /// Shadow outputs by name, JSON.
    pub shadow_outputs: Option<String>,
    /// Server-side latency in milliseconds.
    pub latency_ms: f64,
}

impl Record {
    /// A record without payload: a request the policy did not sample, or one that failed.
    pub fn compact(
        request_id: String,
        time_us: i64,
        deployment: String,
        status: u16,
        error: Option<String>,
        latency_ms: f64,
    ) -> Record {
        Record {
            request_id,
            time_us,
            deployment,
            model_version: String::new(),
            shadow_version: None,
            consumer: None,
            status,
            error,
            rows: None,
            sampled: false,
            entities: None,
            request: None,
            features: None,
            outputs: None,
            shadow_outputs: None,
            latency_ms,
        }
    }
}

/// The sending side of the log.
#[derive(Clone)]
pub struct PredictionLog {
    tx: SyncSender<Record>,
    metrics: Arc<Metrics>,
}

/// The writer thread, to join on shutdown.
pub struct Writer {
    handle: std::thread::JoinHandle<()>,
}

impl Writer {
    /// Waits until everything queued before the last sender was dropped is on disk.
    pub fn join(self) {
        if self.handle.join().is_err() {
            eprintln!("prediction log: the writer thread panicked; records queued since its last flush are lost");
        }
    }
}

/// Where a project's prediction log lives.
pub fn log_dir(project_dir: &Path) -> PathBuf {
    mlp_ir::host::state_dir(project_dir).join("predictions")
}

impl PredictionLog {
    /// Starts the writer thread with a queue of `capacity` records, writing into `dir`
    /// (a project's is `log_dir`).
    pub fn start(dir: PathBuf, capacity: usize, metrics: Arc<Metrics>) -> (PredictionLog, Writer) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let m = metrics.clone();
        let handle = std::thread::spawn(move || write_loop(rx, &dir, &m));
        (PredictionLog { tx, metrics }, Writer { handle })
    }

    /// Queues a record; a full queue drops it and counts the drop.
    pub fn log(&self, r: Record) {
        match self.tx.try_send(r) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.log_dropped.inc();
            }
        }
    }
}

fn write_loop(rx: Receiver<Record>, dir: &Path, metrics: &Metrics) {
    let mut pending: Vec<Record> = Vec::new();
    let mut since = Instant::now();
    let mut seq: u64 = 0;
    loop {
        let wait = FLUSH_EVERY.saturating_sub(since.elapsed());
        match rx.recv_timeout(wait) {
            Ok(r) => {
                if pending.is_empty() {
                    since = Instant::now();
                }
                pending.push(r);
                if pending.len() < FLUSH_ROWS {
                    continue;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                flush(dir, &mut pending, &mut seq, metrics);
                return;
            }
        }
        flush(dir, &mut pending, &mut seq, metrics);
        since = Instant::now();
    }
}

fn flush(dir: &Path, pending: &mut Vec<Record>, seq: &mut u64, metrics: &Metrics) {
    if pending.is_empty() {
        return;
    }
    *seq += 1;
    match write_parquet(dir, pending, *seq) {
        Ok(()) => {
            metrics.log_written.inc_by(pending.len() as u64);
        }
        Err(e) => {
            eprintln!("prediction log: {e}; {} records lost", pending.len());
            metrics.log_dropped.inc_by(pending.len() as u64);
        }
    }
    pending.clear();
}

/// This machine's name as a file name part (letters, digits, `-`): servers of a cluster
/// write one shared log folder, and their processes often all have pid 1.
fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let name = rustix::system::uname();
        let name = name.nodename().to_string_lossy();
        let clean: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(63)
            .collect();
        if clean.is_empty() {
            "host".into()
        } else {
            clean
        }
    })
}

fn write_parquet(dir: &Path, rows: &[Record], seq: u64) -> Result<(), LogError> {
    std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let first = rows.first().map_or(0, |r| r.time_us);
    let name = format!(
        "part-{first}-{}-{seq:06}-{}.parquet",
        std::process::id(),
        host()
    );
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(&name);
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE TABLE p (request_id VARCHAR, time TIMESTAMP, deployment VARCHAR, model_version VARCHAR, shadow_version VARCHAR, consumer VARCHAR, status USMALLINT, error VARCHAR, rows UINTEGER, sampled BOOLEAN, entities JSON, request JSON, features JSON, outputs JSON, shadow_outputs JSON, latency_ms DOUBLE);",
    )?;
    {
        let mut app = conn.appender("p")?;
        for r in rows {
            app.append_row(duckdb::params![
                r.request_id,
                duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, r.time_us),
                r.deployment,
                r.model_version,
                r.shadow_version,
                r.consumer,
                r.status,
                r.error,
                r.rows,
                r.sampled,
                r.entities,
                r.request,
                r.features,
                r.outputs,
                r.shadow_outputs,
                r.latency_ms
            ])?;
        }
    }
    let path = tmp.to_string_lossy().replace('\'', "''");
    conn.execute_batch(&format!("COPY p TO '{path}' (FORMAT parquet)"))?;
    std::fs::rename(&tmp, &target).map_err(|source| LogError::Io {
        path: target,
        source,
    })
}
