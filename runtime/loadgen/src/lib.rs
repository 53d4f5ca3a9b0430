//! A bounded HTTP load generator: N clients, each on its own keep-alive connection, POST
//! JSON bodies for a fixed time, either as fast as answers come back (closed loop) or at a
//! fixed total rate (open loop, with latency measured from the scheduled send time so that
//! a stalled server is not hidden). `mlp-load` (the benchmarks) and `mlpc suggest` (capacity
//! by bisection) both run it; it links no libtorch, so that `mlpc` stays without it.

use std::time::{Duration, Instant};

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Where to POST.
    pub url: String,
    /// The bodies, sent in turn: the n-th request of the whole run (counted over the
    /// clients) takes body n modulo their number, so every run sends the same sequence.
    pub bodies: Vec<String>,
    /// Concurrent clients (connections).
    pub clients: usize,
    /// Measured seconds, after the warm-up.
    pub seconds: f64,
    /// Total requests per second (open loop); 0: closed loop.
    pub rate: f64,
    /// Seconds sent before measuring starts.
    pub warmup: f64,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// Latencies in ms of the requests sent and answered within the measured time, sorted.
    pub latencies_ms: Vec<f64>,
    /// Of those, how many failed (a status other than 200, or a body cut short).
    pub errors: u64,
    /// Measured seconds.
    pub seconds: f64,
}

impl LoadResult {
    /// Requests measured.
    pub fn requests(&self) -> usize {
        self.latencies_ms.len()
    }

    /// Answered requests per second.
    pub fn throughput(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.seconds.max(1e-9)
    }

    /// The `q` quantile of the latencies in ms (nearest rank); NaN without requests.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let l = &self.latencies_ms;
        if l.is_empty() {
            return f64::NAN;
        }
        l[((l.len() as f64 * q) as usize).min(l.len() - 1)]
    }

    /// Failed requests over measured ones (1 when nothing was measured).
    pub fn error_rate(&self) -> f64 {
        if self.latencies_ms.is_empty() {
            1.0
        } else {
            self.errors as f64 / self.latencies_ms.len() as f64
        }
    }
}

/// One client: latencies (ms) of the requests sent after the warm-up, and the errors.
fn client(a: &LoadSpec, index: usize, start: Instant) -> (Vec<f64>, u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections_per_host(1)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let measure_from = start + Duration::from_secs_f64(a.warmup);
    let end = measure_from + Duration::from_secs_f64(a.seconds);
    let interval = (a.rate > 0.0).then(|| Duration::from_secs_f64(a.clients as f64 / a.rate));
    // Open loop: clients are spread evenly over one interval.
    let mut next = start
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(index as f64 / a.clients as f64)
        });
    let mut lat = Vec::new();
    let mut errors = 0;
    // This client's requests are numbers index, index + clients, ... of the run.
    let mut n = index;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let sent = match interval {
            Some(i) => {
                if next > now {
                    std::thread::sleep(next - now);
                }
                let s = next;
                next += i;
                s
            }
            None => now,
        };
        if sent >= end {
            break;
        }
        let body = &a.bodies[n % a.bodies.len()];
        n += a.clients;
        let r = agent
            .post(&a.url)
            .header("content-type", "application/json")
            .send(body.as_str());
        let ok = match r {
            Ok(mut resp) => {
                // A body cut short counts as an error, like a status other than 200.
                let read = resp.body_mut().read_to_vec().is_ok();
                read && resp.status().as_u16() == 200
            }
            Err(_) => false,
        };
        let done = Instant::now();
        // Every request sent in the measured time counts, also one answered after it: a
        // server that stalls at the end must not look faster.
        if sent >= measure_from {
            lat.push((done - sent).as_secs_f64() * 1000.0);
            if !ok {
                errors += 1;
            }
        }
    }
    (lat, errors)
}

/// Runs `spec` and answers what it measured; a client thread that panicked loses its
/// requests (and says so on stderr).
pub fn run(spec: &LoadSpec) -> LoadResult {
    let start = Instant::now();
    let results: Vec<(Vec<f64>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.clients.max(1))
            .map(|i| s.spawn(move || client(spec, i, start)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(r) => Some(r),
                Err(_) => {
                    eprintln!("load: a client thread panicked; its requests are not counted");
                    None
                }
            })
            .collect()
    });
    let mut latencies_ms: Vec<f64> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    LoadResult {
        latencies_ms,
        errors: results.iter().map(|(_, e)| e).sum(),
        seconds: spec.seconds,
    }
}
