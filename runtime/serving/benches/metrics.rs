//! The per-request cost of recording the server's Prometheus metrics
//! (`mlp_serving::metrics::Metrics::request`, kept with prometheus-client) over several label
//! shapes, from one thread and from two at once, allocating with mimalloc as the server does;
//! and the cost of rendering the exposition with ~100 series. Prints ns per request and µs
//! per render; nothing is asserted on time. This bench's first version, in the git history,
//! compared prometheus-client with the hand-written exposition it replaced.
//!
//! `cargo bench -p mlp-serving --bench metrics`

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mlp_serving::metrics::Metrics;

/// mimalloc, as in the serving binary (`mlp-serve`): label sets allocate per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Requests recorded per thread in one timed run.
const REQUESTS: usize = 50_000;

/// Timed runs per case; the best and the median are printed.
const RUNS: usize = 9;

/// Renders timed per run of the exposition.
const RENDERS: usize = 200;

/// One recorded request: deployment, model version, HTTP status and latency in seconds.
type Request = (String, String, u16, f64);

/// A deterministic pseudo-random sequence (64-bit LCG), so that runs see the same keys.
struct Lcg(u64);

impl Lcg {
    /// The next value in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// The label shapes: a name and the requests of one run.
fn shapes() -> Vec<(&'static str, Vec<Request>)> {
    let deployments: Vec<String> = (0..8).map(|i| format!("deployment_{i}")).collect();
    let versions: Vec<String> = (1..=3).map(|v| format!("scorer@{v}")).collect();
    let statuses = [200u16, 400, 404, 503];
    let mut rng = Lcg(42);
    // Latencies over the buckets, from 0.1 ms to 1.6 s.
    let latency = move |i: usize| 0.0001 * f64::from(1u32 << (i % 15)) * 1.003;
    let one = (0..REQUESTS)
        .map(|i| {
            (
                "fraud_api".to_string(),
                "fraud_scorer@1".to_string(),
                200,
                latency(i),
            )
        })
        .collect();
    let combos: Vec<(usize, usize, usize)> = (0..deployments.len())
        .flat_map(|d| (0..versions.len()).flat_map(move |v| (0..4).map(move |s| (d, v, s))))
        .collect();
    let cycling = (0..REQUESTS)
        .map(|i| {
            let (d, v, s) = combos[i % combos.len()];
            (
                deployments[d].clone(),
                versions[v].clone(),
                statuses[s],
                latency(i),
            )
        })
        .collect();
    // Nine in ten requests to one deployment, version and status; the rest over all 96.
    let skewed = (0..REQUESTS)
        .map(|i| {
            let (d, v, s) = if rng.below(10) < 9 {
                (0, 0, 0)
            } else {
                combos[rng.below(combos.len())]
            };
            (
                deployments[d].clone(),
                versions[v].clone(),
                statuses[s],
                latency(i),
            )
        })
        .collect();
    vec![
        ("1 deployment x 1 version", one),
        ("8 dep x 3 ver x 4 status, cycling", cycling),
        ("skewed: 90% one key, 10% over 96", skewed),
    ]
}

/// The best and the median of the runs: the machine's other load only adds to a run's time,
/// but two threads contend only in the runs where both are on a core at once.
fn best_median(mut runs: Vec<f64>) -> (f64, f64) {
    runs.sort_by(f64::total_cmp);
    (runs[0], runs[runs.len() / 2])
}

/// One timed run of `record` over the requests from `threads` threads at once (each thread
/// records all of them); ns per request per thread, from the slowest thread.
fn run<F>(threads: usize, requests: &[Request], record: F) -> f64
where
    F: Fn(&Request) + Sync,
{
    let barrier = Barrier::new(threads);
    let elapsed: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for r in requests {
                        record(black_box(r));
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a bench thread panicked"))
            })
            .collect()
    });
    let slowest = elapsed.iter().max().copied().unwrap_or_default();
    slowest.as_nanos() as f64 / requests.len() as f64
}

/// One timed run of `RENDERS` renders; µs per render.
fn run_render(render: impl Fn() -> String) -> f64 {
    let start = Instant::now();
    for _ in 0..RENDERS {
        black_box(render());
    }
    start.elapsed().as_nanos() as f64 / 1000.0 / RENDERS as f64
}

fn main() {
    println!(
        "metrics bench: {REQUESTS} requests per thread per run, {RUNS} runs, ns/request per thread"
    );
    println!(
        "{:<34} {:>7} {:>9} {:>9}",
        "label shape", "threads", "best", "median"
    );
    let shapes = shapes();
    for (name, requests) in &shapes {
        for threads in [1, 2] {
            let metrics = Metrics::default();
            let record = |(d, v, s, t): &Request| metrics.request(d, v, *s, *t);
            // Once untimed, so that every series exists before the timed runs.
            run(1, requests, record);
            let (best, median) =
                best_median((0..RUNS).map(|_| run(threads, requests, record)).collect());
            println!("{name:<34} {threads:>7} {best:>9.1} {median:>9.1}");
        }
    }

    // The exposition with ~100 series: 96 request counters and 8 latency histograms.
    let (_, cycling) = &shapes[1];
    let metrics = Metrics::default();
    for (d, v, s, t) in cycling {
        metrics.request(d, v, *s, *t);
    }
    let render = || {
        metrics
            .render(0, 0, &[])
            .unwrap_or_else(|e| panic!("rendering the metrics: {e}"))
    };
    let (best, median) = best_median((0..RUNS).map(|_| run_render(render)).collect());
    println!(
        "render, 96 request series + 8 histograms: {best:.1} us best, {median:.1} us median ({} bytes)",
        render().len()
    );
}
