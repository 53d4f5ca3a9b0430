//! The merged windows' results as a table function, `__mlp_window_results(id)`, so that the
//! retrieval's SQL joins them like a table: a scan of Arrow arrays held in Rust, without
//! copying them into DuckDB's storage first.

use crate::historical::FeatureError;
use duckdb::arrow::array::RecordBatch;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{
    record_batch_to_duckdb_data_chunk, to_duckdb_logical_type, BindInfo, InitInfo,
    TableFunctionInfo, VTab,
};
use duckdb::Connection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The table function's name.
const NAME: &str = "__mlp_window_results";

/// Rows per chunk handed to DuckDB: its vector size (`STANDARD_VECTOR_SIZE`, 2048 in the
/// pinned libduckdb).
const CHUNK: usize = 2048;

/// The results registered and not yet released, by id.
fn store() -> &'static Mutex<BTreeMap<u64, RecordBatch>> {
    static STORE: OnceLock<Mutex<BTreeMap<u64, RecordBatch>>> = OnceLock::new();
    STORE.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// Results readable through the table function while this is held; released on drop.
pub(crate) struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        // A poisoned lock means another retrieval panicked while holding it: its entries
        // are all that could be wrong, and removing ours is still right.
        let mut map = store().lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.0);
    }
}

/// Makes the table function known to `conn` (every retrieval's connection).
pub(crate) fn register_table_function(conn: &Connection) -> Result<(), FeatureError> {
    conn.register_table_function::<Results>(NAME)?;
    Ok(())
}

/// Registers `batch` and returns the SQL that scans it; it stays readable while the guard
/// pushed to `keep` lives.
pub(super) fn register(batch: RecordBatch, keep: &mut Vec<Registered>) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    store()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, batch);
    keep.push(Registered(id));
    format!("{NAME}({id})")
}

/// The table function.
struct Results;

/// What a scan reads.
struct Bind {
    batch: RecordBatch,
}

/// How far a scan has read.
struct Init {
    offset: AtomicUsize,
}

impl VTab for Results {
    type InitData = Init;
    type BindData = Bind;

    fn bind(bind: &BindInfo) -> Result<Bind, Box<dyn std::error::Error>> {
        let id = bind.get_parameter(0).to_int64();
        let batch = store()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&u64::try_from(id)?)
            .cloned()
            .ok_or_else(|| format!("no window results {id}"))?;
        for f in batch.schema().fields() {
            bind.add_result_column(f.name(), to_duckdb_logical_type(f.data_type())?);
        }
        bind.set_cardinality(batch.num_rows() as u64, true);
        Ok(Bind { batch })
    }

    fn init(_: &InitInfo) -> Result<Init, Box<dyn std::error::Error>> {
        Ok(Init {
            offset: AtomicUsize::new(0),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let batch = &func.get_bind_data().batch;
        let offset = func
            .get_init_data()
            .offset
            .fetch_add(CHUNK, Ordering::Relaxed);
        if offset >= batch.num_rows() {
            output.set_len(0);
            return Ok(());
        }
        let len = CHUNK.min(batch.num_rows() - offset);
        record_batch_to_duckdb_data_chunk(&batch.slice(offset, len), output)
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::Bigint)])
    }
}
