//! The live SLA on `/metrics`: each deployment's latencies of the last [`WINDOW`] kept in
//! memory, their exact quantiles beside the targets of the deployment's `sla { }` block, so
//! that a dashboard or an alert compares the two without a histogram's bucket error. The
//! quantiles are the monitors' (`mlp_monitoring::quantile`, DuckDB's `quantile_cont`), over
//! the latency `mlp_request_duration_seconds` observes (the handler's, which also counts
//! writing the answer, so a little above the prediction log's `latency_ms`).

use mlp_ir::Sla;
use mlp_monitoring::monitor::Metric;
use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far back the window's quantiles reach.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most latencies kept per deployment (33,000 requests a second over the window); past
/// it the oldest go first, and the quantiles cover less than the window.
pub const MAX_KEPT: usize = 2_000_000;

/// The quantile an SLA percentile name (`p99`) stands for: the monitors' `latency_p99`.
pub fn quantile_of(name: &str) -> Option<f64> {
    match Metric::from_name(&format!("latency_{name}"))? {
        Metric::Latency(q) => Some(q.q()),
        _ => None,
    }
}

/// The quantiles shown for every deployment with requests in the window: those the monitors'
/// latency metrics name (0.5 to 0.999).
fn quantiles() -> impl Iterator<Item = f64> {
    Metric::ALL.into_iter().filter_map(|m| match m {
        Metric::Latency(q) => Some(q.q()),
        _ => None,
    })
}

/// One answered request: when, its latency in seconds, and whether it succeeded.
type Answered = (Instant, f64, bool);

/// Each deployment's recent latencies, oldest first.
#[derive(Default)]
pub struct Recent {
    by: Mutex<HashMap<String, VecDeque<Answered>>>,
}

/// One deployment's requests over the window: per second, errors and latencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// Requests answered in each second of the window, oldest first.
    pub per_second: Vec<u32>,
    /// Requests answered with a status other than 200.
    pub errors: u64,
    /// Their latencies, seconds.
    pub latencies: Vec<f64>,
}

impl Recent {
    /// Keeps one request's latency (seconds), answered at `at`, and whether it succeeded.
    pub fn record(&self, deployment: &str, at: Instant, seconds: f64, ok: bool) {
        // A poisoned lock only means a panic elsewhere held it; the data is still whole.
        let mut by = self
            .by
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = match by.get_mut(deployment) {
            Some(k) => k,
            None => by.entry(deployment.to_string()).or_default(),
        };
        if kept.len() >= MAX_KEPT {
            kept.pop_front();
        }
        kept.push_back((at, seconds, ok));
        drop_before(kept, at);
    }

    /// The requests of `deployment` answered in the window ending at `now`.
    pub fn deployment_window(&self, deployment: &str, now: Instant) -> Window {
        let by = self
            .by
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let secs = WINDOW.as_secs() as usize;
        let mut w = Window {
            per_second: vec![0; secs],
            ..Window::default()
        };
        let Some(kept) = by.get(deployment) else {
            return w;
        };
        for (at, seconds, ok) in kept.iter().rev() {
            let age = now.saturating_duration_since(*at);
            if age >= WINDOW {
                break;
            }
            w.per_second[secs - 1 - age.as_secs() as usize] += 1;
            w.errors += u64::from(!ok);
            w.latencies.push(*seconds);
        }
        w
    }

    /// The latencies (seconds) of each deployment answered in the window ending at `now`;
    /// older ones are dropped.
    pub fn window(&self, now: Instant) -> Vec<(String, Vec<f64>)> {
        let mut by = self
            .by
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by.retain(|_, kept| {
            drop_before(kept, now);
            !kept.is_empty()
        });
        let mut out: Vec<(String, Vec<f64>)> = by
            .iter()
            .map(|(d, kept)| (d.clone(), kept.iter().map(|(_, s, _)| *s).collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Drops the latencies answered more than [`WINDOW`] before `now`.
fn drop_before(kept: &mut VecDeque<Answered>, now: Instant) {
    let Some(start) = now.checked_sub(WINDOW) else {
        return;
    };
    while kept.front().is_some_and(|(t, _, _)| *t < start) {
        kept.pop_front();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    deployment: String,
    quantile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabel {
    deployment: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// Appends the live SLA series to `out`: for each deployment of `slas` its targets, and for
/// each deployment with requests in the window ending at `now` its exact latency quantiles.
pub fn render(
    out: &mut String,
    slas: &[(String, Sla)],
    recent: &Recent,
    now: Instant,
) -> Result<(), std::fmt::Error> {
    let latency_target = Family::<QuantileLabels, F64Gauge>::default();
    let throughput_target = Family::<DeploymentLabel, F64Gauge>::default();
    let error_target = Family::<DeploymentLabel, F64Gauge>::default();
    for (d, sla) in slas {
        for (name, ms) in &sla.latency_ms {
            let Some(q) = quantile_of(name) else { continue };
            latency_target
                .get_or_create(&QuantileLabels {
                    deployment: d.clone(),
                    quantile: q.to_string(),
                })
                .set(ms / 1000.0);
        }
        let label = DeploymentLabel {
            deployment: d.clone(),
        };
        if let Some(t) = sla.throughput_per_s {
            throughput_target.get_or_create(&label).set(t);
        }
        if let Some(e) = sla.error_rate {
            error_target.get_or_create(&label).set(e);
        }
    }
    let window = Family::<QuantileLabels, F64Gauge>::default();
    let count = Family::<DeploymentLabel, F64Gauge>::default();
    for (d, latencies) in recent.window(now) {
        for q in quantiles() {
            if let Some(v) = mlp_monitoring::quantile(&latencies, q) {
                window
                    .get_or_create(&QuantileLabels {
                        deployment: d.clone(),
                        quantile: q.to_string(),
                    })
                    .set(v);
            }
        }
        count
            .get_or_create(&DeploymentLabel { deployment: d })
            .set(latencies.len() as f64);
    }
    let mut r = Registry::default();
    r.register(
        "mlp_sla_latency_target_seconds",
        "A deployment's SLA latency objective at a quantile, from its sla block",
        latency_target,
    );
    r.register(
        "mlp_sla_throughput_target_per_second",
        "A deployment's SLA throughput, from its sla block",
        throughput_target,
    );
    r.register(
        "mlp_sla_error_rate_target",
        "A deployment's largest acceptable share of failed requests, from its sla block",
        error_target,
    );
    r.register(
        "mlp_request_latency_window_seconds",
        "Exact latency quantiles of a deployment's requests answered in the last 60 s (quantile_cont, as monitors compute them)",
        window,
    );
    r.register(
        "mlp_request_latency_window_requests",
        "Requests of a deployment answered in the last 60 s, the quantiles' sample",
        count,
    );
    prometheus_text::encode(out, &r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sla() -> Sla {
        let mut s = Sla::default();
        s.latency_ms.insert("p99".into(), 20.0);
        s.throughput_per_s = Some(2000.0);
        s.error_rate = Some(0.01);
        s
    }

    /// 1..=100 ms: the exact p99 is 99.01 ms (`quantile_cont`), where a histogram would say
    /// a bucket bound; requests older than the window no longer count.
    #[test]
    fn targets_sit_beside_exact_window_quantiles() {
        let recent = Recent::default();
        let t0 = Instant::now();
        recent.record("fraud_api", t0, 5.0, true);
        let now = t0 + WINDOW + Duration::from_secs(1);
        for ms in 1..=100 {
            recent.record("fraud_api", now, f64::from(ms) / 1000.0, true);
        }
        let mut text = String::new();
        render(&mut text, &[("fraud_api".into(), sla())], &recent, now)
            .unwrap_or_else(|e| panic!("{e}"));
        for line in [
            "mlp_sla_latency_target_seconds{deployment=\"fraud_api\",quantile=\"0.99\"} 0.02",
            "mlp_sla_throughput_target_per_second{deployment=\"fraud_api\"} 2000.0",
            "mlp_sla_error_rate_target{deployment=\"fraud_api\"} 0.01",
            "mlp_request_latency_window_requests{deployment=\"fraud_api\"} 100.0",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let at = |q: &str| -> f64 {
            let series = format!(
                "mlp_request_latency_window_seconds{{deployment=\"fraud_api\",quantile=\"{q}\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(series.as_str()))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        assert!((at("0.5") - 0.0505).abs() < 1e-12, "{text}");
        assert!((at("0.99") - 0.09901).abs() < 1e-12, "{text}");
    }

    #[test]
    fn a_deployment_without_recent_requests_has_no_quantiles() {
        let recent = Recent::default();
        let t0 = Instant::now();
        recent.record("old", t0, 0.001, true);
        let mut text = String::new();
        render(&mut text, &[], &recent, t0 + WINDOW * 2).unwrap_or_else(|e| panic!("{e}"));
        assert!(!text.contains("deployment=\"old\""), "{text}");
        assert_eq!(quantile_of("p999"), Some(0.999));
        assert_eq!(quantile_of("p42"), None);
    }

    /// Each second of the window counts the requests answered in it; errors and latencies
    /// cover the window only.
    #[test]
    fn the_window_counts_requests_per_second_and_errors() {
        let recent = Recent::default();
        let t0 = Instant::now();
        // Outside the window by the time it is read.
        recent.record("d", t0, 9.0, false);
        let now = t0 + WINDOW + Duration::from_secs(5);
        for (age, n, ok) in [(0u64, 3, true), (1, 2, false), (59, 1, true)] {
            for _ in 0..n {
                recent.record("d", now - Duration::from_millis(age * 1000 + 200), 0.01, ok);
            }
        }
        let w = recent.deployment_window("d", now);
        assert_eq!(w.per_second.len(), 60);
        assert_eq!(
            (w.per_second[59], w.per_second[58], w.per_second[0]),
            (3, 2, 1)
        );
        assert_eq!(w.per_second.iter().sum::<u32>(), 6);
        assert_eq!(w.errors, 2);
        assert_eq!(w.latencies.len(), 6);
        assert_eq!(
            recent
                .deployment_window("other", now)
                .per_second
                .iter()
                .sum::<u32>(),
            0
        );
    }
}
