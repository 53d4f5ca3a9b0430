//! `mlpc suggest`'s report: the machine, every point tried, the winner and why, or why the
//! SLA cannot be met; as JSON (`specs/suggest.schema.json`) and as a table for people.

use super::search::{Knobs, Objectives, Point, Probe, Sizing};
use serde::{Deserialize, Serialize};

/// Appends one formatted line to a `String` (which cannot fail, unlike `writeln!`'s
/// general case).
macro_rules! out {
    ($o:expr, $($t:tt)*) => {{
        $o.push_str(&format!($($t)*));
        $o.push('\n');
    }};
}

/// The report's format version.
pub const FORMAT_VERSION: &str = "1";

/// The machine measured on.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Machine {
    /// Logical cores.
    pub cores: usize,
    /// CPU model (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// The GPU, when the machine has an NVIDIA driver.
    pub gpu: Option<String>,
    /// Hex digest of cores, CPU model and GPU: suggestions are kept per fingerprint.
    pub fingerprint: String,
    /// What the figures mean on it.
    pub note: String,
}

/// Whether to serve on a GPU.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GpuChoice {
    /// Yes or no.
    pub use_gpu: bool,
    /// Why.
    pub reason: String,
}

/// What to run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Suggestion {
    /// The configuration.
    pub knobs: Knobs,
    /// Its capacity per replica, requests per second.
    pub capacity_per_s: f64,
    /// Replicas and resources.
    pub sizing: Sizing,
    /// GPU or not.
    pub gpu: GpuChoice,
    /// Why it won.
    pub why: String,
}

/// Why no configuration meets the SLA.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unreachable {
    /// Index in `points` of the nearest point (lowest latency against the target).
    pub nearest: usize,
    /// `http`, `features`, `compute` or `queueing`.
    pub blocker: String,
    /// What one request costs, one at a time, on the nearest point: the HTTP round trip,
    /// online features alone and the whole prediction, p50 in ms.
    pub breakdown_ms: std::collections::BTreeMap<String, f64>,
    /// In words.
    pub explanation: String,
}

/// The confirmation run of the winner.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Confirmation {
    /// Seconds measured.
    pub seconds: f64,
    /// The run at one replica's share of the SLA throughput.
    pub probe: Probe,
    /// Whether the SLA held.
    pub holds: bool,
}

/// Everything `mlpc suggest` found.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// The deployment.
    pub deployment: String,
    /// The model versions its aliases resolved to (`fraud_scorer@3`).
    pub model_versions: Vec<String>,
    /// When (RFC 3339, UTC).
    pub created_at: String,
    /// Where.
    pub machine: Machine,
    /// What it must reach.
    pub objectives: Objectives,
    /// Where the requests came from.
    pub traffic: String,
    /// The search budget, seconds.
    pub budget_s: f64,
    /// Seconds the search took.
    pub search_s: f64,
    /// Whether the budget ended the search.
    pub budget_exhausted: bool,
    /// The utilization a replica is sized to run at.
    pub target_utilization: f64,
    /// Replicas at least.
    pub min_replicas: u64,
    /// Memory margin over the measured peak, as a share.
    pub memory_margin: f64,
    /// `suggested`, `unreachable` or `confirmation_failed`.
    pub outcome: String,
    /// Every point tried, in order.
    pub points: Vec<Point>,
    /// The winner (also when its confirmation failed).
    pub suggestion: Option<Suggestion>,
    /// With `outcome = unreachable`.
    pub unreachable: Option<Unreachable>,
    /// The winner's confirmation run.
    pub confirmation: Option<Confirmation>,
}

fn ms(p: Option<&Probe>, k: &str) -> String {
    p.and_then(|p| p.latency_ms.get(k))
        .map_or("-".into(), |v| format!("{v:.2}"))
}

/// The report for people.
pub fn human(r: &Report) -> String {
    let mut o = String::new();
    let sla = r
        .objectives
        .latency_ms
        .iter()
        .map(|(k, v)| format!("latency_{k} = {v}ms"))
        .chain([format!("throughput = {}/s", r.objectives.throughput_per_s)])
        .chain([format!("error_rate = {}%", r.objectives.error_rate * 100.0)])
        .collect::<Vec<_>>()
        .join(", ");
    out!(
        o,
        "deployment {} ({}): {sla}",
        r.deployment,
        r.model_versions.join(", ")
    );
    out!(
        o,
        "machine: {} cores, {}, GPU: {}",
        r.machine.cores,
        r.machine.cpu_model,
        r.machine.gpu.as_deref().unwrap_or("none")
    );
    out!(o, "  {}", r.machine.note);
    out!(o, "traffic: {}", r.traffic);
    out!(
        o,
        "search: {:.0} s of a {:.0} s budget{}\n",
        r.search_s,
        r.budget_s,
        if r.budget_exhausted {
            " (the budget ended it)"
        } else {
            ""
        }
    );
    points_table(&mut o, r);
    o.push('\n');
    outcome(&mut o, r);
    o
}

/// One line per point the search measured.
fn points_table(o: &mut String, r: &Report) {
    out!(
        o,
        "  # | workers threads intra-op batch/delay device | capacity/s | @80%: p50 ms  p99 ms | CPU ms/req @share |  peak RSS | cores needed → replicas × CPU | note"
    );
    for (i, p) in r.points.iter().enumerate() {
        let k = &p.knobs;
        let sizing = p.sizing.as_ref().map_or("-".into(), |s| {
            format!(
                "{:.2} → {} × {}m = {:.1}",
                s.cores_needed, s.replicas, s.cpu_millicores, s.total_cores
            )
        });
        out!(
            o,
            "{:>3} | {:>7} {:>7} {:>8} {:>11} {:<6} | {:>10.0} | {:>12} {:>7} | {:>17} | {:>5} MiB | {:<29} | {}",
            i + 1,
            k.workers,
            k.threads,
            k.intra_op_threads,
            format!("{}/{}ms", k.max_batch, k.max_delay_ms),
            k.device,
            p.capacity_per_s,
            ms(p.at_80.as_ref(), "p50"),
            ms(p.at_80.as_ref(), "p99"),
            p.cpu_ms_per_request.map_or("-".into(), |c| format!("{c:.3}")),
            p.peak_rss_bytes.map_or("-".into(), |b| format!("{}", b / 1_048_576)),
            sizing,
            p.note
        );
    }
}

/// The suggestion with its sizing and confirmation, or why the SLA cannot be met.
fn outcome(o: &mut String, r: &Report) {
    match (&r.suggestion, r.outcome.as_str()) {
        (Some(s), outcome) => {
            out!(
                o,
                "{}: {}",
                if outcome == "suggested" {
                    "suggested"
                } else {
                    "NOT CONFIRMED"
                },
                s.knobs.label()
            );
            out!(
                o,
                "  replicas {} (capacity {:.0}/s each at {:.0} % target utilization, at least {}), CPU {}m and memory {}Mi each (request = limit)",
                s.sizing.replicas,
                s.capacity_per_s,
                r.target_utilization * 100.0,
                r.min_replicas,
                s.sizing.cpu_millicores,
                s.sizing.memory_mib
            );
            out!(
                o,
                "  GPU: {} ({})",
                if s.gpu.use_gpu { "yes" } else { "no" },
                s.gpu.reason
            );
            out!(o, "  why: {}", s.why);
            if let Some(c) = &r.confirmation {
                out!(
                    o,
                    "  confirmation: {:.0}/s (one replica's share) for {:.0} s: p50 {} ms, p99 {} ms, errors {:.3} %: the SLA {}",
                    c.probe.rate,
                    c.seconds,
                    ms(Some(&c.probe), "p50"),
                    ms(Some(&c.probe), "p99"),
                    c.probe.error_rate * 100.0,
                    if c.holds { "held" } else { "did NOT hold" }
                );
            }
        }
        (None, _) => {
            if let Some(u) = &r.unreachable {
                out!(
                    o,
                    "the SLA cannot be met on this machine: {}",
                    u.explanation
                );
                out!(
                    o,
                    "  nearest point: #{} ({}); blocker: {}",
                    u.nearest + 1,
                    r.points
                        .get(u.nearest)
                        .map_or(String::new(), |p| p.knobs.label()),
                    u.blocker
                );
            }
        }
    }
}
