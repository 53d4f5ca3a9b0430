//! The search: for each configuration of the knobs (batching, inference and intra-op
//! threads, HTTP workers, device), the capacity, the highest open-loop rate at which the
//! SLA holds, found by bisection, and the CPU a request costs at one replica's share of the
//! SLA throughput; then a quick search in Model Analyzer's manner, from the
//! smallest configuration one knob a step at a time, keeping a step only when it makes the
//! deployment cheaper by more than the noise margin, and pruning the knob otherwise.

use super::child::ChildServer;
use mlp_loadgen::{self as load, LoadResult, LoadSpec};
use mlpc_shared::Tuning;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Kubernetes' and Knative's convention: a replica is sized to run at 70 % of its
/// capacity, leaving headroom for bursts and for the autoscaler to react.
pub const TARGET_UTILIZATION: f64 = 0.7;
/// A configuration replaces the incumbent only when it is cheaper by more than this share:
/// repeated measurements on one machine differ by a few percent, and a smaller win is not
/// told apart from noise (so the same inputs choose the same configuration).
pub const MARGIN: f64 = 0.15;
/// Bisection stops when the failing rate is within this factor of the passing one.
const RESOLUTION: f64 = 1.08;
/// The error rate allowed when the SLA states none.
pub const DEFAULT_ERROR_RATE: f64 = 0.001;
/// Concurrent clients of the load generator: enough that a client waiting on a slow answer
/// does not hold back the open-loop schedule.
const CLIENTS: usize = 64;

/// The deployment's objectives, from its `sla { }`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Objectives {
    /// Latency targets in ms by percentile name (`p99`).
    pub latency_ms: BTreeMap<String, f64>,
    /// Requests per second the deployment must sustain.
    pub throughput_per_s: f64,
    /// Largest share of failed requests.
    pub error_rate: f64,
}

/// The quantile of a percentile name (`p99` 0.99, `p999` 0.999): the live SLA's and the
/// monitors' `latency_p99`.
pub fn quantile_of(name: &str) -> Option<f64> {
    match mlp_monitoring::monitor::Metric::from_name(&format!("latency_{name}"))? {
        mlp_monitoring::monitor::Metric::Latency(q) => Some(q.q()),
        _ => None,
    }
}

/// One configuration: the knobs `mlpc suggest` turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Knobs {
    /// HTTP worker threads.
    pub workers: usize,
    /// Inference threads.
    pub threads: u64,
    /// libtorch intra-op threads per inference thread.
    pub intra_op_threads: u64,
    /// Most rows per forward.
    pub max_batch: u64,
    /// Longest wait for a batch to fill, ms.
    pub max_delay_ms: f64,
    /// `cpu` or `cuda`.
    pub device: String,
}

impl Knobs {
    /// A short label: `w1 t1 i1 b1/0ms cpu`.
    pub fn label(&self) -> String {
        format!(
            "workers {} · threads {} · intra-op {} · batch {}/{}ms · {}",
            self.workers,
            self.threads,
            self.intra_op_threads,
            self.max_batch,
            self.max_delay_ms,
            self.device
        )
    }

    /// The child server's `--tune` for these knobs.
    pub fn tuning(&self, deployment: &str) -> Tuning {
        Tuning {
            deployment: deployment.to_string(),
            max_batch: self.max_batch,
            max_delay_ms: self.max_delay_ms,
            threads: self.threads,
            intra_op_threads: self.intra_op_threads,
            device: self.device.clone(),
        }
    }
}

/// The child server's `--tune` for `k`.
pub fn tuning_of(k: &Knobs, deployment: &str) -> Tuning {
    k.tuning(deployment)
}

/// One load run at a fixed rate, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Probe {
    /// Offered requests per second (open loop).
    pub rate: f64,
    /// Answered requests per second.
    pub throughput: f64,
    /// Latency percentiles in ms: `p50`, `p99` and each the SLA names.
    pub latency_ms: BTreeMap<String, f64>,
    /// Failed share.
    pub error_rate: f64,
    /// Whether the SLA's latency targets and error rate held.
    pub holds: bool,
}

/// What was measured of one configuration.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Point {
    /// The configuration.
    pub knobs: Knobs,
    /// Highest open-loop rate at which the SLA held (0: at no rate tried).
    pub capacity_per_s: f64,
    /// Closed-loop throughput with 64 clients (the bisection starts at 80 % of it).
    pub closed_loop_per_s: f64,
    /// The bisection's runs, in order.
    pub probes: Vec<Probe>,
    /// The run at 80 % of capacity (the latency the report shows).
    pub at_80: Option<Probe>,
    /// Server CPU time per request at one replica's share of the SLA throughput, ms.
    pub cpu_ms_per_request: Option<f64>,
    /// Peak resident memory of the server, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// What it would take: replicas, cores each and in all (when the SLA held somewhere).
    pub sizing: Option<Sizing>,
    /// Why the search moved on from it, or what went wrong.
    pub note: String,
}

impl Point {
    /// Adds `note` to what the point says (after a `; ` when it says something already).
    pub fn add_note(&mut self, note: String) {
        if !self.note.is_empty() {
            self.note.push_str("; ");
        }
        self.note.push_str(&note);
    }
}

/// Replicas and cores for the SLA's throughput.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sizing {
    /// ceil(throughput / (capacity × target utilization)), at least the minimum.
    pub replicas: u64,
    /// CPU per replica in millicores (request = limit).
    pub cpu_millicores: u64,
    /// Memory per replica in MiB (request = limit).
    pub memory_mib: u64,
    /// replicas × the CPU request, in cores.
    pub total_cores: f64,
    /// replicas × the cores each needs before rounding up to 100 millicores: what the
    /// search minimises (rounding would let noise flip a comparison at a rounding step).
    pub cores_needed: f64,
}

/// How a search runs.
#[derive(Debug, Clone)]
pub struct SearchConfig<'a> {
    /// The project.
    pub dir: &'a Path,
    /// The deployment.
    pub deployment: &'a str,
    /// What it must reach.
    pub objectives: &'a Objectives,
    /// The traffic.
    pub bodies: &'a [String],
    /// Seconds measured per run.
    pub probe_seconds: f64,
    /// Whether CUDA points are tried.
    pub cuda: bool,
    /// Cores of this machine (workers and threads are not raised past them).
    pub cores: usize,
    /// Replicas at least.
    pub min_replicas: u64,
    /// Memory margin over the peak RSS, as a share.
    pub memory_margin: f64,
}

impl SearchConfig<'_> {
    fn url(&self, server: &ChildServer) -> String {
        format!("{}/v1/deployments/{}/predict", server.base, self.deployment)
    }

    fn load(&self, server: &ChildServer, rate: f64, seconds: f64) -> LoadResult {
        load::run(&LoadSpec {
            url: self.url(server),
            bodies: self.bodies.to_vec(),
            clients: CLIENTS,
            seconds,
            rate,
            warmup: 0.5,
        })
    }

    /// Whether a failed probe looks like a transient stall rather than saturation: every
    /// answer came, the schedule was kept, and the median was under a quarter of the
    /// strictest latency target.
    fn looks_like_a_stall(&self, p: &Probe) -> bool {
        let strictest = self
            .objectives
            .latency_ms
            .values()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let p50 = p.latency_ms.get("p50").copied().unwrap_or(f64::INFINITY);
        p.error_rate <= self.objectives.error_rate
            && p.throughput >= p.rate * 0.9
            && p50 < strictest / 4.0
    }

    /// The probe of a run at `rate`.
    pub fn probe(&self, r: &LoadResult, rate: f64) -> Probe {
        let mut latency_ms = BTreeMap::new();
        for name in ["p50", "p99"]
            .into_iter()
            .chain(self.objectives.latency_ms.keys().map(String::as_str))
        {
            if let Some(q) = quantile_of(name) {
                latency_ms.insert(name.to_string(), round3(r.quantile_ms(q)));
            }
        }
        let latency_ok =
            self.objectives.latency_ms.iter().all(|(name, target)| {
                quantile_of(name).is_some_and(|q| r.quantile_ms(q) <= *target)
            });
        // An open-loop run that answered well short of its rate fell behind its schedule.
        let kept_up = rate <= 0.0 || r.throughput() >= rate * 0.9;
        Probe {
            rate: round3(rate),
            throughput: round3(r.throughput()),
            latency_ms,
            error_rate: r.error_rate(),
            holds: latency_ok && kept_up && r.error_rate() <= self.objectives.error_rate,
        }
    }
}

fn round3(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        x
    }
}

/// Rounds `rate` to two significant digits, so that every run probes the same rates.
fn grid(rate: f64) -> f64 {
    if rate <= 0.0 {
        return 0.0;
    }
    let mag = 10f64.powf(rate.log10().floor() - 1.0);
    (rate / mag).round() * mag
}

/// The highest rate at which the SLA holds, by bisection on a geometric scale between a
/// passing and a failing rate; 0 when none passed. It starts at 80 % of the closed-loop
/// throughput `x`, grows by half while runs pass (the closed loop's clients can hold the
/// server back, so `x` is no upper bound), drops by 4× down to `x / 50` while they fail,
/// then halves the gap until the two are within [`RESOLUTION`].
fn capacity(cfg: &SearchConfig, server: &ChildServer, x: f64, probes: &mut Vec<Probe>) -> f64 {
    const MAX_PROBES: usize = 16;
    let floor = grid((x / 50.0).max(1.0));
    let (mut lo, mut hi) = (0.0f64, None::<f64>);
    let mut rate = grid(x * 0.8);
    while probes.len() < MAX_PROBES {
        let r = cfg.load(server, rate, cfg.probe_seconds);
        let mut p = cfg.probe(&r, rate);
        if !p.holds && cfg.looks_like_a_stall(&p) {
            // A stall must repeat to count: the median was far under the target and the
            // schedule kept, so one pause (a flush, the scheduler) broke the tail of this
            // short run. The second run decides; both are in the report.
            probes.push(p);
            let again = cfg.load(server, rate, cfg.probe_seconds);
            p = cfg.probe(&again, rate);
        }
        if p.holds {
            lo = rate;
        } else {
            hi = Some(rate);
        }
        probes.push(p);
        let next = match hi {
            // Nothing failed yet: grow.
            None => grid(lo * 1.5),
            // Nothing passed yet: go down fast, to a trickle at most.
            Some(_) if lo == 0.0 => {
                if rate <= floor {
                    break;
                }
                grid((rate / 4.0).max(floor))
            }
            Some(h) => {
                if h / lo <= RESOLUTION {
                    break;
                }
                let next = grid((lo * h).sqrt());
                if next <= lo || next >= h {
                    break;
                }
                next
            }
        };
        rate = next;
    }
    lo
}

/// Measures one configuration: its capacity by bisection, a run at 80 % of it, and its CPU
/// per request at one replica's share.
pub fn measure(cfg: &SearchConfig, knobs: &Knobs) -> Point {
    let mut point = Point {
        knobs: knobs.clone(),
        capacity_per_s: 0.0,
        closed_loop_per_s: 0.0,
        probes: Vec::new(),
        at_80: None,
        cpu_ms_per_request: None,
        peak_rss_bytes: None,
        sizing: None,
        note: String::new(),
    };
    let server = match ChildServer::start(cfg.dir, knobs.workers, &knobs.tuning(cfg.deployment)) {
        Ok(s) => s,
        Err(e) => {
            point.note = format!("could not serve: {e}");
            return point;
        }
    };
    let closed = cfg.load(&server, 0.0, cfg.probe_seconds * 0.75);
    point.closed_loop_per_s = round3(closed.throughput());
    if closed.requests() == 0 || closed.error_rate() > 0.5 {
        point.note = format!(
            "the deployment failed under load ({} of {} requests failed)",
            closed.errors,
            closed.requests()
        );
        return point;
    }
    let x = closed.throughput();
    let lo = capacity(cfg, &server, x, &mut point.probes);
    point.capacity_per_s = lo;
    if lo == 0.0 {
        // The nearest it came: the probe with the lowest p99.
        let best = point.probes.iter().min_by(|a, b| {
            let p99 = |p: &Probe| p.latency_ms.get("p99").copied().unwrap_or(f64::INFINITY);
            p99(a).total_cmp(&p99(b))
        });
        if let Some(b) = best {
            let p99 = b.latency_ms.get("p99").copied().unwrap_or(f64::NAN);
            let note = format!(
                "the SLA held at no rate tried (the lowest p99: {p99} ms at {}/s)",
                b.rate
            );
            point.add_note(note);
        }
        return point;
    }
    // At 80 % of capacity: the latency the report shows.
    let rate80 = grid(lo * 0.8);
    let r = cfg.load(&server, rate80, cfg.probe_seconds);
    let at_80 = cfg.probe(&r, rate80);
    if !at_80.holds {
        point.add_note(
            "the SLA did not hold at 80 % of this capacity: a stall, so the capacity is optimistic"
                .into(),
        );
    }
    point.at_80 = Some(at_80);
    // At one replica's share of the SLA throughput: the CPU a request costs where the
    // replica will run. Every configuration with the same replica count is measured at the
    // same rate, so their costs compare without the rate's own effect (batching amortizes
    // more at a higher rate).
    let share = cfg.objectives.throughput_per_s / replicas_for(cfg, lo) as f64;
    match cpu_per_request(cfg, &server, share) {
        Ok(c) => point.cpu_ms_per_request = Some(c),
        Err(e) => point.add_note(e),
    }
    match server.peak_rss() {
        Ok(b) => point.peak_rss_bytes = Some(b),
        Err(e) => point.add_note(e),
    }
    server.stop();
    point.sizing = size(cfg, &point);
    point
}

/// Server CPU milliseconds per request at `rate`: the lower of two runs of 1.5 times the
/// probe time. What else runs on the machine only ever adds CPU time (cache misses, the
/// load generator's threads), so the lower figure is the closer one.
fn cpu_per_request(cfg: &SearchConfig, server: &ChildServer, rate: f64) -> Result<f64, String> {
    let seconds = cfg.probe_seconds * 1.5;
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let before = server.cpu_seconds()?;
        let r = cfg.load(server, rate, seconds);
        let after = server.cpu_seconds()?;
        if r.requests() == 0 {
            return Err(format!("no request was answered at {rate}/s"));
        }
        // The warm-up's requests used CPU too: count them at the offered rate.
        let sent = r.requests() as f64 + rate * 0.5;
        best = best.min((after - before) * 1000.0 / sent);
    }
    Ok(round3(best))
}

/// ceil(throughput / (capacity × target utilization)), at least the minimum.
fn replicas_for(cfg: &SearchConfig, capacity: f64) -> u64 {
    ((cfg.objectives.throughput_per_s / (capacity * TARGET_UTILIZATION)).ceil() as u64)
        .max(cfg.min_replicas)
        .max(1)
}

/// Replicas and cores for the SLA's throughput from a point's capacity and CPU per request.
fn size(cfg: &SearchConfig, p: &Point) -> Option<Sizing> {
    let cpu_ms = p.cpu_ms_per_request?;
    let rss = p.peak_rss_bytes?;
    if p.capacity_per_s <= 0.0 {
        return None;
    }
    let replicas = replicas_for(cfg, p.capacity_per_s);
    // Each replica serves its share at the target utilization: its CPU lets it reach
    // share / utilization (never more than its capacity needs).
    let share = cfg.objectives.throughput_per_s / replicas as f64;
    let busiest = (share / TARGET_UTILIZATION).min(p.capacity_per_s);
    let cores = cpu_ms / 1000.0 * busiest;
    let cpu_millicores = ((cores * 10.0).ceil() as u64).max(1) * 100;
    let memory_mib =
        ((rss as f64 * (1.0 + cfg.memory_margin)) / 1_048_576.0 / 16.0).ceil() as u64 * 16;
    Some(Sizing {
        replicas,
        cpu_millicores,
        memory_mib,
        total_cores: replicas as f64 * cpu_millicores as f64 / 1000.0,
        cores_needed: round3(replicas as f64 * cores),
    })
}

/// The search's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every point, in the order measured.
    pub points: Vec<Point>,
    /// The index of the winner, when one met the SLA.
    pub winner: Option<usize>,
    /// Why the winner won, or why there is none.
    pub why: String,
    /// Whether the budget ran out before the search was done.
    pub budget_exhausted: bool,
}

/// Whether `a` beats `b`: fewer cores in all by more than the margin.
fn beats(a: &Point, b: &Point) -> bool {
    match (&a.sizing, &b.sizing) {
        (Some(x), Some(y)) => x.cores_needed < y.cores_needed * (1.0 - MARGIN),
        (Some(_), None) => true,
        _ => false,
    }
}

/// The next configurations from `k`, one knob a step up each, in a fixed order.
fn neighbours(k: &Knobs, cfg: &SearchConfig, pruned: &[&str]) -> Vec<(&'static str, Knobs)> {
    const BATCHING: &[(u64, f64)] = &[(1, 0.0), (8, 0.5), (32, 1.0), (64, 2.0)];
    let cores = cfg.cores.max(1);
    let at = BATCHING
        .iter()
        .position(|(b, _)| *b == k.max_batch)
        .unwrap_or(0);
    // Each knob's next step, when it has one.
    let step = |knob: &str| -> Option<Knobs> {
        let mut n = k.clone();
        match knob {
            "batching" => {
                let (b, d) = BATCHING.get(at + 1)?;
                (n.max_batch, n.max_delay_ms) = (*b, *d);
            }
            "workers" => n.workers = Some(k.workers * 2).filter(|w| *w <= cores)?,
            "threads" => n.threads = Some(k.threads * 2).filter(|t| *t as usize <= cores)?,
            "intra_op_threads" => {
                n.intra_op_threads =
                    Some(k.intra_op_threads * 2).filter(|t| *t as usize <= cores)?
            }
            "device" if cfg.cuda && k.device == "cpu" => n.device = "cuda".into(),
            _ => return None,
        }
        Some(n)
    };
    [
        "batching",
        "workers",
        "threads",
        "intra_op_threads",
        "device",
    ]
    .into_iter()
    .filter(|name| !pruned.contains(name))
    .filter_map(|name| step(name).map(|n| (name, n)))
    .collect()
}

/// The smallest configuration.
pub fn start_knobs() -> Knobs {
    Knobs {
        workers: 1,
        threads: 1,
        intra_op_threads: 1,
        max_batch: 1,
        max_delay_ms: 0.0,
        device: "cpu".into(),
    }
}

/// The quick search within `budget_s` seconds; `progress` hears of each point measured.
pub fn search(cfg: &SearchConfig, budget_s: f64, progress: &dyn Fn(&Point)) -> Outcome {
    let started = Instant::now();
    let mut points: Vec<Point> = Vec::new();
    let first = measure(cfg, &start_knobs());
    progress(&first);
    points.push(first);
    let mut best = 0usize;
    let mut pruned: Vec<&str> = Vec::new();
    let mut exhausted = false;
    // A point takes about as long as the first one did.
    let per_point = started.elapsed().as_secs_f64();
    'climb: loop {
        let from = points[best].knobs.clone();
        let mut moved = false;
        for (knob, k) in neighbours(&from, cfg, &pruned) {
            if points.iter().any(|p| p.knobs == k) {
                continue;
            }
            if started.elapsed().as_secs_f64() + per_point > budget_s {
                exhausted = true;
                break 'climb;
            }
            let mut p = measure(cfg, &k);
            if beats(&p, &points[best]) {
                p.add_note(format!(
                    "cheaper than {} by more than {:.0} %",
                    points[best].knobs.label(),
                    MARGIN * 100.0
                ));
                progress(&p);
                points.push(p);
                best = points.len() - 1;
                moved = true;
                break; // climb from the new incumbent
            }
            p.add_note(if p.sizing.is_some() {
                format!(
                    "not cheaper than the incumbent by more than {:.0} %: `{knob}` is not raised further",
                    MARGIN * 100.0
                )
            } else {
                format!("`{knob}` is not raised further")
            });
            pruned.push(knob);
            progress(&p);
            points.push(p);
        }
        if !moved {
            break;
        }
    }
    let winner = points[best].sizing.is_some().then_some(best);
    let why = match winner {
        Some(w) => {
            let p = &points[w];
            let s = p.sizing.as_ref().map_or(0.0, |s| s.cores_needed);
            if exhausted && points.len() == 1 {
                return Outcome {
                    why: format!(
                        "the only configuration measured ({s} cores needed for {}/s) before the budget ended the search; a larger --budget tries the others",
                        cfg.objectives.throughput_per_s
                    ),
                    points,
                    winner,
                    budget_exhausted: exhausted,
                };
            }
            format!(
                "fewest cores for {}/s: {s} needed in all; no configuration tried after it needed fewer by more than {:.0} % (the noise margin)",
                cfg.objectives.throughput_per_s,
                MARGIN * 100.0
            )
        }
        None => "no configuration met the SLA at any rate tried".into(),
    };
    Outcome {
        points,
        winner,
        why,
        budget_exhausted: exhausted,
    }
}
