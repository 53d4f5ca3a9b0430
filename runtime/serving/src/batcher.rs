//! Dynamic batching on dedicated inference threads: requests queue up, and a thread runs
//! them together, up to `max_batch` rows or once the oldest has waited `max_delay`. With
//! several threads (`resources { threads }`), each takes a whole batch off the shared queue
//! in turn and runs it while the next one gathers. The async workers never run a model;
//! they wait on a oneshot for their rows' outputs.

use crate::error::{LoadError, ServingError};
use crate::model::{Backend, TensorData, TensorIn};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The model a deployment serves now, with its registry version; swapped whole on a move.
pub struct Loaded {
    /// The backend.
    pub model: Box<dyn Backend>,
    /// `MODEL@VERSION`.
    pub version: String,
    /// Its input tensors, in `forward`'s order: each one's type and values per row
    /// (`None`: a `[n]` tensor).
    pub layout: Vec<(mlp_ir::DType, Option<usize>)>,
    /// Outputs per row.
    pub outputs: usize,
}

impl Loaded {
    /// What is wrong with `inputs` for `n` rows of this model, if anything.
    fn misfit(&self, inputs: &[TensorIn], n: usize) -> Option<String> {
        if inputs.len() != self.layout.len() {
            return Some(format!(
                "expected {} input tensors, got {}",
                self.layout.len(),
                inputs.len()
            ));
        }
        for (i, (t, (dtype, width))) in inputs.iter().zip(&self.layout).enumerate() {
            if t.data.dtype() != *dtype || t.width != *width {
                return Some(format!(
                    "input tensor {i}: expected {} with {} per row, got {} with {}",
                    dtype.name(),
                    width.unwrap_or(1),
                    t.data.dtype().name(),
                    t.width.unwrap_or(1)
                ));
            }
            if t.data.len() != n * width.unwrap_or(1) {
                return Some(format!(
                    "input tensor {i}: expected {} values per row, got {}",
                    width.unwrap_or(1),
                    t.data.len() / n.max(1)
                ));
            }
        }
        None
    }
}

/// Rows waiting for the model.
struct Job {
    inputs: Vec<TensorIn>,
    n: usize,
    reply: oneshot::Sender<Result<(Vec<f32>, String), ServingError>>,
}

/// The queue in front of one deployment's inference thread.
#[derive(Clone)]
pub struct Batcher {
    tx: SyncSender<Job>,
    /// The model in service (read per batch, replaced on an alias move).
    pub current: Arc<RwLock<Arc<Loaded>>>,
}

/// How a deployment batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Most rows per forward.
    pub max_batch: usize,
    /// Longest wait for more rows.
    pub max_delay: Duration,
    /// Requests that may wait at once before new ones are refused (503).
    pub queue: usize,
    /// Inference threads (at least 1).
    pub threads: usize,
    /// libtorch intra-op threads of each inference thread (`None`: libtorch's default, one
    /// per core).
    pub intra_op_threads: Option<usize>,
}

impl Batcher {
    /// Starts the inference threads for `loaded`; fails when no thread can be started.
    pub fn start(name: &str, loaded: Loaded, policy: BatchPolicy) -> Result<Batcher, LoadError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(policy.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let current = Arc::new(RwLock::new(Arc::new(loaded)));
        for i in 0..policy.threads.max(1) {
            let cur = current.clone();
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("infer-{name}-{i}"))
                .spawn(move || {
                    if let Some(n) = policy.intra_op_threads {
                        // Per thread: libtorch keeps the intra-op setting of the calling
                        // thread (OpenMP's per-thread ICV).
                        tch::set_num_threads(n.max(1) as i32);
                    }
                    run(&rx, &cur, policy)
                })
                .map_err(|source| LoadError::Thread {
                    name: name.to_string(),
                    source,
                })?;
        }
        Ok(Batcher { tx, current })
    }

    /// The version in service.
    pub fn version(&self) -> String {
        // The lock only guards swapping one whole `Arc` for another, so a poisoned lock still
        // holds a complete value: read it rather than answer an empty version.
        match self.current.read() {
            Ok(l) => l.version.clone(),
            Err(poisoned) => poisoned.into_inner().version.clone(),
        }
    }

    /// Runs `n` rows, given as the model's input tensors; answers their outputs and the
    /// version that computed them.
    pub async fn infer(
        &self,
        inputs: Vec<TensorIn>,
        n: usize,
    ) -> Result<(Vec<f32>, String), ServingError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job { inputs, n, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ServingError::Overloaded),
            Err(TrySendError::Disconnected(_)) => return Err(ServingError::Stopped),
        }
        // The thread drops a job's reply only when it stops.
        rx.await.map_err(|_| ServingError::Stopped)?
    }
}

/// The next batch off the queue: the first job waited for, then more until `max_batch` rows
/// or `max_delay`; `None` when the queue is closed (or its lock poisoned).
fn gather(rx: &Mutex<Receiver<Job>>, policy: &BatchPolicy) -> Option<(Vec<Job>, usize)> {
    // Held while this batch gathers: the other inference threads run theirs meanwhile.
    let rx = rx.lock().ok()?;
    let first = rx.recv().ok()?;
    let mut rows: usize = first.n;
    let mut jobs = vec![first];
    let deadline = Instant::now() + policy.max_delay;
    while rows < policy.max_batch {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Take what is already queued, without waiting.
            match rx.try_recv() {
                Ok(j) => {
                    rows += j.n;
                    jobs.push(j);
                    continue;
                }
                Err(_) => break,
            }
        }
        match rx.recv_timeout(left) {
            Ok(j) => {
                rows += j.n;
                jobs.push(j);
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Some((jobs, rows))
}

fn run(rx: &Mutex<Receiver<Job>>, current: &RwLock<Arc<Loaded>>, policy: BatchPolicy) {
    while let Some((jobs, rows)) = gather(rx, &policy) {
        let loaded = match current.read() {
            Ok(l) => l.clone(),
            Err(_) => return,
        };
        // Each named tensor is concatenated on its own, the jobs' rows in queue order.
        let mut input: Vec<TensorIn> = loaded
            .layout
            .iter()
            .map(|(dtype, width)| TensorIn {
                data: match dtype {
                    mlp_ir::DType::Float32 => {
                        TensorData::F32(Vec::with_capacity(rows * width.unwrap_or(1)))
                    }
                    mlp_ir::DType::Int64 => {
                        TensorData::I64(Vec::with_capacity(rows * width.unwrap_or(1)))
                    }
                },
                width: *width,
            })
            .collect();
        let mut ok_jobs = Vec::with_capacity(jobs.len());
        for j in jobs {
            if let Some(why) = loaded.misfit(&j.inputs, j.n) {
                // A send fails only when the request is gone (its client went away).
                j.reply.send(Err(ServingError::Model(why))).ok();
                continue;
            }
            for (to, from) in input.iter_mut().zip(&j.inputs) {
                // Types were just checked equal.
                to.data.extend(&from.data).ok();
            }
            ok_jobs.push(j);
        }
        let n: usize = ok_jobs.iter().map(|j| j.n).sum();
        if n == 0 {
            continue;
        }
        // A model that panics inside libtorch must not take the thread down with it.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            loaded.model.forward(&input, n)
        }))
        .unwrap_or_else(|_| Err("the model panicked".into()));
        match result {
            Ok(out) if out.len() == n * loaded.outputs => {
                let mut at = 0;
                for j in ok_jobs {
                    let len = j.n * loaded.outputs;
                    j.reply
                        .send(Ok((out[at..at + len].to_vec(), loaded.version.clone())))
                        .ok();
                    at += len;
                }
            }
            Ok(out) => {
                let msg = format!(
                    "the model answered {} values for {n} rows; the model block declares {} outputs",
                    out.len(),
                    loaded.outputs
                );
                for j in ok_jobs {
                    j.reply.send(Err(ServingError::Model(msg.clone()))).ok();
                }
            }
            Err(e) => {
                for j in ok_jobs {
                    j.reply.send(Err(ServingError::Model(e.clone()))).ok();
                }
            }
        }
    }
}
