//! The merge of the entity rows, sorted by key, against a view's window index, split by key
//! range over the cores.

use super::aggregate::{update, ArgCol, Out, OutMut};
use super::{Agg, KeyKind};
use crate::historical::FeatureError;
use crate::sql::ident;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::{read_footer_length, FileDecoder};
use arrow_ipc::{root_as_footer, Block};
use duckdb::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use duckdb::arrow::buffer::{Buffer, MutableBuffer};
use duckdb::arrow::compute::{concat_batches, take};
use duckdb::Connection;
use std::cmp::Ordering;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// The entity rows with a key and a time, sorted by key: columns `k`, `t`
/// (microseconds) and `r` (the row number), and how many entity rows there are in all.
pub(super) struct Entities {
    sorted: RecordBatch,
    rows: usize,
}

/// Reads the entity rows of `__e` sorted by key, `key` being the key's SQL over `e`.
/// DuckDB sorts; the order is checked as the merge compares (bytes for text) and redone here
/// if it differs.
pub(super) fn entities(
    conn: &Connection,
    key: &str,
    kind: KeyKind,
    keys: &[mlp_ir::Column],
) -> Result<Entities, FeatureError> {
    let rows: i64 = conn.query_row("SELECT count(*) FROM __e", [], |r| r.get(0))?;
    let not_null = keys
        .iter()
        .map(|k| format!("e.{} IS NOT NULL AND ", ident(&k.name)))
        .collect::<String>();
    // Integer keys are sorted here, on every core, faster than DuckDB's ORDER BY and its
    // export; text keys by DuckDB (then checked, as bytes).
    let order = match kind {
        KeyKind::Int => "",
        KeyKind::Str => " ORDER BY k",
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {key} AS k, epoch_us(e.__mlp_at) AS t, e.__mlp_row AS r FROM __e e WHERE {not_null}e.__mlp_at IS NOT NULL{order}"
    ))?;
    let batches: Vec<RecordBatch> = stmt.query_arrow([])?.collect();
    // After the execution: the statement's schema exists only then.
    let schema = batches
        .first()
        .map_or_else(|| stmt.schema(), |b| b.schema());
    let all = concat_batches(&schema, &batches).map_err(arrow_err)?;
    let all = super::index::normalize(&all).map_err(arrow_err)?;
    let sorted = sort(all)?;
    Ok(Entities {
        sorted,
        rows: usize::try_from(rows).unwrap_or(0),
    })
}

fn arrow_err(e: duckdb::arrow::error::ArrowError) -> FeatureError {
    FeatureError::Db(format!("window merge: {e}"))
}

/// `batch` sorted by key as the merge compares, unchanged when it already is.
fn sort(batch: RecordBatch) -> Result<RecordBatch, FeatureError> {
    let n = batch.num_rows();
    let keys = Keys::of(batch.column(0).as_ref())?;
    let cmp = |a: usize, b: usize| keys.cmp(a, &keys, b);
    if (1..n).all(|i| cmp(i - 1, i) != Ordering::Greater) {
        return Ok(batch);
    }
    let order: Vec<u32> = match keys {
        Keys::Int(k) => sort_int(k),
        Keys::Str(_) => {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| cmp(a as usize, b as usize));
            order
        }
    };
    let idx = UInt32Array::from(order);
    let cols = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &idx, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(arrow_err)?;
    RecordBatch::try_new(batch.schema(), cols).map_err(arrow_err)
}

/// The positions of `keys` in key order: halves sorted on two threads, then merged.
fn sort_int(keys: &[i64]) -> Vec<u32> {
    let mut pairs: Vec<(i64, u32)> = keys.iter().zip(0u32..).map(|(&k, i)| (k, i)).collect();
    let mid = pairs.len() / 2;
    let (a, b) = pairs.split_at_mut(mid);
    std::thread::scope(|s| {
        s.spawn(|| a.sort_unstable());
        b.sort_unstable();
    });
    let (a, b) = pairs.split_at(mid);
    let mut out = Vec::with_capacity(pairs.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j] < a[i] {
            out.push(b[j].1);
            j += 1;
        } else {
            out.push(a[i].1);
            i += 1;
        }
    }
    out.extend(a[i..].iter().map(|p| p.1));
    out.extend(b[j..].iter().map(|p| p.1));
    out
}

/// The values of a non-null BIGINT column.
fn int64(a: &dyn Array) -> Result<&[i64], FeatureError> {
    a.as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.values().as_ref())
        .ok_or_else(|| {
            FeatureError::Db(format!(
                "window merge: expected BIGINT, got {}",
                a.data_type()
            ))
        })
}

/// A key column, compared as the index is sorted (the index's build checks its order with
/// this same comparison).
pub(super) enum Keys<'a> {
    Int(&'a [i64]),
    Str(&'a StringArray),
}

impl<'a> Keys<'a> {
    pub(super) fn of(a: &'a dyn Array) -> Result<Keys<'a>, FeatureError> {
        if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
            return Ok(Keys::Str(s));
        }
        int64(a).map(Keys::Int)
    }

    /// This key at `i` against `other`'s at `j`.
    pub(super) fn cmp(&self, i: usize, other: &Keys<'_>, j: usize) -> Ordering {
        match (self, other) {
            (Keys::Int(a), Keys::Int(b)) => a[i].cmp(&b[j]),
            (Keys::Str(a), Keys::Str(b)) => a.value(i).as_bytes().cmp(b.value(j).as_bytes()),
            // Never mixed: both sides are built by `key_sql` from the same declaration.
            (Keys::Int(_), Keys::Str(_)) => Ordering::Less,
            (Keys::Str(_), Keys::Int(_)) => Ordering::Greater,
        }
    }

    /// The start of the run of rows with the key at `i`.
    pub(super) fn run_start(&self, i: usize) -> usize {
        let mut j = i;
        while j > 0 && self.cmp(j - 1, self, i) == Ordering::Equal {
            j -= 1;
        }
        j
    }

    /// The end of the run of rows with the key at `i`.
    fn run_end(&self, i: usize, n: usize) -> usize {
        let mut j = i + 1;
        while j < n && self.cmp(j, self, i) == Ordering::Equal {
            j += 1;
        }
        j
    }
}

/// The window index file: its schema and batches, each read into a buffer of the reader's
/// (reused from batch to batch, so that reading costs a copy and no fresh memory).
struct IndexFile {
    path: std::path::PathBuf,
    decoder: FileDecoder,
    blocks: Vec<Block>,
}

impl IndexFile {
    fn open(path: &Path) -> Result<IndexFile, FeatureError> {
        let io = |e: &dyn std::fmt::Display| FeatureError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut f = std::fs::File::open(path).map_err(|e| io(&e))?;
        let len = f.seek(SeekFrom::End(0)).map_err(|e| io(&e))?;
        let mut trailer = [0u8; 10];
        let tail = len
            .checked_sub(10)
            .ok_or_else(|| io(&"too short for an Arrow file"))?;
        f.seek(SeekFrom::Start(tail)).map_err(|e| io(&e))?;
        f.read_exact(&mut trailer).map_err(|e| io(&e))?;
        let footer_len = read_footer_length(trailer).map_err(|e| io(&e))?;
        let start = tail
            .checked_sub(footer_len as u64)
            .ok_or_else(|| io(&"a footer longer than the file"))?;
        let mut footer = vec![0u8; footer_len];
        f.seek(SeekFrom::Start(start)).map_err(|e| io(&e))?;
        f.read_exact(&mut footer).map_err(|e| io(&e))?;
        let footer = root_as_footer(&footer).map_err(|e| io(&e))?;
        let schema = footer
            .schema()
            .map(fb_to_schema)
            .ok_or_else(|| io(&"no schema in the footer"))?;
        let blocks = footer
            .recordBatches()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        Ok(IndexFile {
            path: path.to_path_buf(),
            decoder: FileDecoder::new(Arc::new(schema), footer.version()),
            blocks,
        })
    }

    fn err(&self, e: &dyn std::fmt::Display) -> FeatureError {
        FeatureError::File {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Batch `i`, read through `file` into `buf`; hand the returned buffer back with
    /// [`IndexFile::reclaim`] once the batch is dropped.
    fn read(
        &self,
        file: &mut std::fs::File,
        i: usize,
        mut buf: MutableBuffer,
    ) -> Result<(RecordBatch, Buffer), FeatureError> {
        let block = &self.blocks[i];
        let len = usize::try_from(block.metaDataLength()).unwrap_or(0)
            + usize::try_from(block.bodyLength()).unwrap_or(0);
        // Grows (zero-filling only the growth) or shrinks; no fresh memory once it has grown.
        buf.resize(len, 0);
        let offset = u64::try_from(block.offset()).map_err(|e| self.err(&e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| self.err(&e))?;
        file.read_exact(buf.as_slice_mut())
            .map_err(|e| self.err(&e))?;
        let data: Buffer = buf.into();
        let batch = self
            .decoder
            .read_record_batch(block, &data)
            .map_err(|e| self.err(&e))?
            .ok_or_else(|| self.err(&"an empty message where a batch was expected"))?;
        Ok((batch, data))
    }

    /// The buffer of a batch that has been dropped, for the next read.
    fn reclaim(data: Buffer) -> MutableBuffer {
        data.into_mutable()
            .unwrap_or_else(|_| MutableBuffer::new(0))
    }
}

/// The aggregations `aggs` for every entity row, by one pass over the window index at
/// `path` together with the sorted entity rows (split by key range over the cores): a batch
/// with a row per entity row in row order (to be joined by position) and a column `a{i}`
/// per aggregation.
pub(super) fn merge(
    path: &Path,
    ents: &Entities,
    aggs: &[Agg],
) -> Result<RecordBatch, FeatureError> {
    let en = ents.sorted.num_rows();
    // Results in the sorted entity rows' order (written in sequence, which costs far less
    // than writing each at its row), plus one row of "nothing" (position `en`) for the entity
    // rows without a key or a time; put in row order at the end.
    let mut outs: Vec<Out> = aggs.iter().map(|a| Out::new(a, en + 1)).collect();
    let index = IndexFile::open(path)?;
    let ekeys = Keys::of(ents.sorted.column(0).as_ref())?;
    let eat = int64(ents.sorted.column(1).as_ref())?;
    let erow = int64(ents.sorted.column(2).as_ref())?;
    // The batches split into one contiguous run per core; each run's entity rows start at
    // the first with a key not below the run's first key (a key never spans two batches).
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(index.blocks.len())
        .max(1);
    let cuts: Vec<usize> = (0..=workers)
        .map(|w| w * index.blocks.len() / workers)
        .collect();
    let mut starts = vec![0usize];
    {
        let mut file = std::fs::File::open(path).map_err(|e| index.err(&e))?;
        for &b in &cuts[1..workers] {
            let (batch, _) = index.read(&mut file, b, MutableBuffer::new(0))?;
            let first = Keys::of(batch.column(0).as_ref())?;
            let at = partition(en, |p| ekeys.cmp(p, &first, 0) == Ordering::Less);
            starts.push(at.max(*starts.last().unwrap_or(&0)));
        }
    }
    starts.push(en);
    let ctx = Ctx {
        index: &index,
        aggs,
        groups: window_groups(aggs),
        ekeys: &ekeys,
        eat,
    };
    // Each worker writes the positions of its entity rows only.
    let mut views: Vec<Vec<OutMut<'_>>> = (0..workers).map(|_| Vec::new()).collect();
    for out in outs.iter_mut() {
        let mut rest = out.view(0, en);
        for w in 0..workers {
            let front = rest.split_off_front(starts[w + 1] - starts[w]);
            views[w].push(front);
        }
    }
    let results: Vec<Result<(), FeatureError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = views
            .into_iter()
            .enumerate()
            .map(|(w, view)| {
                let ctx = &ctx;
                let (blocks, from, to) = (cuts[w]..cuts[w + 1], starts[w], starts[w + 1]);
                scope.spawn(move || ctx.run(blocks, from, to, view))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(FeatureError::Db("window merge: a worker panicked".into()))
                })
            })
            .collect()
    });
    for r in results {
        r?;
    }
    // Row r's result is at position at[r] (`en`, "nothing", for the rows not merged).
    let mut at = vec![en as u32; ents.rows];
    for (p, &r) in erow.iter().enumerate() {
        if let Some(slot) = usize::try_from(r).ok().and_then(|r| at.get_mut(r)) {
            *slot = p as u32;
        }
    }
    let at = UInt32Array::from(at);
    let mut cols: Vec<(String, ArrayRef)> = vec![];
    for (i, (out, agg)) in outs.into_iter().zip(aggs).enumerate() {
        let sorted = out.finish(agg)?;
        cols.push((
            format!("a{i}"),
            take(sorted.as_ref(), &at, None).map_err(arrow_err)?,
        ));
    }
    RecordBatch::try_from_iter(cols).map_err(arrow_err)
}

/// The first position in `0..n` where `below` is false (it must be true, then false).
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The aggregations by window, so that each window's visible rows are found once.
fn window_groups(aggs: &[Agg]) -> Vec<(Option<i64>, Vec<usize>)> {
    let mut groups: Vec<(Option<i64>, Vec<usize>)> = Vec::new();
    for (i, a) in aggs.iter().enumerate() {
        match groups.iter_mut().find(|g| g.0 == a.window_us) {
            Some(g) => g.1.push(i),
            None => groups.push((a.window_us, vec![i])),
        }
    }
    groups
}

/// What every worker of a merge shares.
struct Ctx<'a> {
    index: &'a IndexFile,
    aggs: &'a [Agg],
    groups: Vec<(Option<i64>, Vec<usize>)>,
    ekeys: &'a Keys<'a>,
    eat: &'a [i64],
}

impl Ctx<'_> {
    /// Merges the index batches `blocks` with the sorted entity rows `from..to`, writing
    /// their results to `outs` (position `p - from` for entity row `p`).
    fn run(
        &self,
        blocks: std::ops::Range<usize>,
        from: usize,
        to: usize,
        mut outs: Vec<OutMut<'_>>,
    ) -> Result<(), FeatureError> {
        let mut file = std::fs::File::open(&self.index.path).map_err(|e| self.index.err(&e))?;
        let mut buf = MutableBuffer::new(0);
        let mut visible: Vec<usize> = Vec::new();
        let mut p = from;
        for b in blocks {
            if p >= to {
                break;
            }
            let (batch, data) = self.index.read(&mut file, b, buf)?;
            p = self.merge_batch(&batch, p, from..to, &mut outs, &mut visible)?;
            // The batch's arrays hold the buffer: dropped, it is ours again.
            drop(batch);
            buf = IndexFile::reclaim(data);
        }
        Ok(())
    }

    /// Merges one index batch with the sorted entity rows from `p` on (of `range`); returns
    /// the first entity row past the batch's keys.
    fn merge_batch(
        &self,
        batch: &RecordBatch,
        mut p: usize,
        range: std::ops::Range<usize>,
        outs: &mut [OutMut<'_>],
        visible: &mut Vec<usize>,
    ) -> Result<usize, FeatureError> {
        let bkeys = Keys::of(batch.column(0).as_ref())?;
        let ts = int64(batch.column(1).as_ref())?;
        let vis = int64(batch.column(2).as_ref())?;
        let args = self
            .aggs
            .iter()
            .map(|a| {
                a.arg
                    .map(|i| ArgCol::of(batch.column(3 + i).as_ref(), a.arg_type))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = batch.num_rows();
        let mut j = 0usize;
        while j < n && p < range.end {
            match self.ekeys.cmp(p, &bkeys, j) {
                // An entity key with no source row: its results stay "nothing".
                Ordering::Less => p += 1,
                Ordering::Greater => j = bkeys.run_end(j, n),
                Ordering::Equal => {
                    let r = bkeys.run_end(j, n);
                    let run = &ts[j..r];
                    while p < range.end && self.ekeys.cmp(p, &bkeys, j) == Ordering::Equal {
                        let t = self.eat[p];
                        // The key's rows with event time <= t end at `hi`; a window starts
                        // at the first row past t - w. Of those, the visible ones count.
                        let hi = j + run.partition_point(|&x| x <= t);
                        for (w, members) in &self.groups {
                            let lo = match w {
                                Some(w) => j + run.partition_point(|&x| x <= t.saturating_sub(*w)),
                                None => j,
                            };
                            visible.clear();
                            visible.extend((lo..hi.max(lo)).filter(|&q| vis[q] <= t));
                            if visible.is_empty() {
                                continue;
                            }
                            for &a in members {
                                let arg = args[a].as_ref();
                                update(&self.aggs[a], &mut outs[a], p - range.start, visible, arg);
                            }
                        }
                        p += 1;
                    }
                    j = r;
                }
            }
        }
        Ok(p)
    }
}
