//! The per-request cost of recording Prometheus metrics, and of rendering the exposition:
//! the hand-written `mlp_serving::metrics::Metrics` against the same series kept with
//! `prometheus-client` (`Family<RequestLabels, Counter>` and `Family<DeploymentLabel,
//! Histogram>` with the same buckets), over several label shapes, from one thread and from
//! two at once, allocating with mimalloc as the server does. Prints ns per request; nothing
//! is asserted on time.
//!
//! `cargo bench -p mlp-serving --bench metrics`

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mlp_serving::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// mimalloc, as in the serving binary (`mlp-serve`): label sets allocate per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The latency buckets of `mlp_serving::metrics`, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// Requests recorded per thread in one timed run.
const REQUESTS: usize = 50_000;

/// Timed runs per case, the implementations taking turns; the best and the median are printed.
const RUNS: usize = 9;

/// Renders timed per run of the exposition.
const RENDERS: usize = 200;

/// One recorded request: deployment, model version, HTTP status and latency in seconds.
type Request = (String, String, u16, f64);

/// The labels of `mlp_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    deployment: String,
    version: String,
    code: u16,
}

/// The label of `mlp_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabel {
    deployment: String,
}

/// The constructor of the latency histograms.
type NewHistogram = fn() -> Histogram;

/// The server's request series kept with prometheus-client.
struct Prom {
    requests: Family<RequestLabels, Counter>,
    latency: Family<DeploymentLabel, Histogram, NewHistogram>,
    registry: Registry,
}

impl Prom {
    /// Empty families, registered under the hand-written exposition's names.
    fn new() -> Prom {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<DeploymentLabel, Histogram, NewHistogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        let mut registry = Registry::default();
        registry.register(
            "mlp_requests",
            "Prediction requests answered, by deployment, model version and HTTP status",
            requests.clone(),
        );
        registry.register(
            "mlp_request_duration_seconds",
            "Prediction latency, from request to answer",
            latency.clone(),
        );
        // The rest of the exposition, so that both renders hold the same families.
        for (name, help) in [
            (
                "mlp_feature_cache_hits",
                "Online feature reads answered by the LRU cache",
            ),
            (
                "mlp_feature_cache_misses",
                "Online feature reads that went to the online table",
            ),
            (
                "mlp_prediction_log_written",
                "Prediction log records written to Parquet",
            ),
            (
                "mlp_prediction_log_dropped",
                "Prediction log records dropped because the log queue was full",
            ),
        ] {
            registry.register(name, help, Counter::<u64>::default());
        }
        Prom {
            requests,
            latency,
            registry,
        }
    }

    /// Counts one request the way a server would with only `&str`s in hand: the label
    /// sets are built (two strings allocated) per request.
    fn request(&self, deployment: &str, version: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            deployment: deployment.to_owned(),
            version: version.to_owned(),
            code: status,
        };
        self.requests.get_or_create(&labels).inc();
        let label = DeploymentLabel {
            deployment: labels.deployment,
        };
        self.latency.get_or_create(&label).observe(seconds);
    }

    /// Counts one request with label sets built beforehand: the lower bound of the crate's
    /// own cost (hash, lock, atomic), which a server would reach only by interning labels.
    fn request_prebuilt(&self, labels: &RequestLabels, label: &DeploymentLabel, seconds: f64) {
        self.requests.get_or_create(labels).inc();
        self.latency.get_or_create(label).observe(seconds);
    }

    /// The Prometheus text exposition (0.0.4).
    fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .unwrap_or_else(|e| panic!("encoding the registry: {e}"));
        out
    }
}

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

/// Records each request once, untimed, so that every series exists before the timed runs.
fn warm<T>(requests: &[T], record: impl Fn(&T)) {
    for r in requests {
        record(r);
    }
}

/// One timed run of `record` over the requests from `threads` threads at once (each thread
/// records all of them); ns per request per thread, from the slowest thread.
fn run<T, F>(threads: usize, requests: &[T], record: F) -> f64
where
    T: Sync,
    F: Fn(&T) + Sync,
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

/// The samples of an exposition (comments left out) whose name starts with `prefix`, as
/// series (name and labels) and value, sorted.
fn samples(text: &str, prefix: &str) -> Vec<(String, f64)> {
    let mut samples: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect();
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

fn main() {
    println!(
        "metrics bench: {REQUESTS} requests per thread per run, {RUNS} runs, ns/request per thread (best / median)"
    );
    println!(
        "{:<34} {:>7} {:>15} {:>15} {:>15} {:>9}",
        "label shape", "threads", "hand-written", "prom-client", "ratio", "prebuilt"
    );
    let shapes = shapes();
    for (name, requests) in &shapes {
        // Label sets built beforehand, for the lower-bound column.
        let prebuilt: Vec<(RequestLabels, DeploymentLabel, f64)> = requests
            .iter()
            .map(|(d, v, s, t)| {
                (
                    RequestLabels {
                        deployment: d.clone(),
                        version: v.clone(),
                        code: *s,
                    },
                    DeploymentLabel {
                        deployment: d.clone(),
                    },
                    *t,
                )
            })
            .collect();
        for threads in [1, 2] {
            let hand = Metrics::default();
            let prom = Prom::new();
            let prom_pre = Prom::new();
            let hand_record = |(d, v, s, t): &Request| hand.request(d, v, *s, *t);
            let prom_record = |(d, v, s, t): &Request| prom.request(d, v, *s, *t);
            let pre_record = |(l, dl, t): &(RequestLabels, DeploymentLabel, f64)| {
                prom_pre.request_prebuilt(l, dl, *t)
            };
            warm(requests, hand_record);
            warm(requests, prom_record);
            warm(&prebuilt, pre_record);
            // The three take turns, so that the machine's other load falls on each alike.
            let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..RUNS {
                a.push(run(threads, requests, hand_record));
                b.push(run(threads, requests, prom_record));
                c.push(run(threads, &prebuilt, pre_record));
            }
            let ((a, am), (b, bm), (c, _)) = (best_median(a), best_median(b), best_median(c));
            println!(
                "{name:<34} {threads:>7} {a:>7.1} /{am:>6.1} {b:>7.1} /{bm:>6.1} {:>6.2}x /{:>5.2}x {c:>9.1}",
                b / a,
                bm / am
            );
        }
    }

    println!(
        "prebuilt: prom-client with label sets built beforehand (no allocation per request; best)"
    );

    // The exposition with ~100 series: 96 request counters and 8 latency histograms.
    let (_, cycling) = &shapes[1];
    let hand = Metrics::default();
    let prom = Prom::new();
    for (d, v, s, t) in cycling {
        hand.request(d, v, *s, *t);
        prom.request(d, v, *s, *t);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(run_render(|| hand.render(0, 0)));
        b.push(run_render(|| prom.render()));
    }
    let ((a, _), (b, _)) = (best_median(a), best_median(b));
    let (a_bytes, b_bytes) = (hand.render(0, 0).len(), prom.render().len());
    println!(
        "render, 96 request series + 8 histograms (us/render): hand-written {a:.1} ({a_bytes} bytes), prom-client {b:.1} ({b_bytes} bytes), ratio {:.2}x",
        b / a
    );
    // Not timed: do both expose the same series with the same values? (Values compare as
    // numbers: the two print a float's digits differently.)
    let hand_samples = samples(&hand.render(0, 0), "mlp_");
    let prom_samples = samples(&prom.render(), "mlp_");
    let differing: Vec<&(String, f64)> = hand_samples
        .iter()
        .filter(|s| !prom_samples.contains(s))
        .collect();
    println!(
        "exposition check: {} samples hand-written, {} prom-client, {} of the hand-written missing or different in prom-client",
        hand_samples.len(),
        prom_samples.len(),
        differing.len()
    );
    if let Some((series, value)) = differing.first() {
        println!("  first: {series} {value}");
    }
}
