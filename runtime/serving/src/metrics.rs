//! Prometheus metrics of the server, kept with `prometheus-client` and rendered in the
//! Prometheus text exposition format (0.0.4): requests per deployment, model version and
//! status code, latency histograms per deployment, feature cache hits and misses,
//! prediction log records written and dropped, and each monitor check's last value and alert
//! state (set by the monitor loop, `monitor_loop.rs`), and the live SLA (`sla.rs`): each
//! deployment's SLA targets beside the exact latency quantiles of its last minute.
//!
//! `benches/metrics.rs` measures a request's recording cost and a render.

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of the exposition that [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

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

/// The labels of `mlp_monitor_value`: a monitor and one of its checks, as written.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    monitor: String,
    check: String,
}

/// The label of the monitor loop's counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabel {
    monitor: String,
}

/// The labels of `mlp_monitor_state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    monitor: String,
    check: String,
    state: &'static str,
}

/// The alert states `mlp_monitor_state` has a series for (one of them is 1).
pub const MONITOR_STATES: [&str; 6] = ["ok", "pending", "firing", "resolved", "no_data", "error"];

/// Makes a deployment's latency histogram, with [`BUCKETS`].
type NewHistogram = fn() -> Histogram;

/// A latency histogram with [`BUCKETS`] (and `+Inf`).
fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The server's counters.
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<DeploymentLabel, Histogram, NewHistogram>,
    /// Prediction log records written to Parquet.
    pub log_written: Counter,
    /// Prediction log records dropped because the queue was full.
    pub log_dropped: Counter,
    monitor_value: Family<CheckLabels, Gauge<f64, AtomicU64>>,
    monitor_state: Family<StateLabels, Gauge>,
    monitor_evaluations: Family<MonitorLabel, Counter>,
    monitor_failures: Family<MonitorLabel, Counter>,
    /// Each deployment's latencies of the last minute, for the live SLA.
    recent: crate::sla::Recent,
    /// The request and monitor series (the rest are registered per render, see
    /// [`Metrics::render`]).
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::new_with_constructor(latency_histogram as NewHistogram);
        let mut registry = Registry::default();
        // prometheus-client adds the `_total` of a counter and the full stop of a help text.
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
        let monitor_value = Family::<CheckLabels, Gauge<f64, AtomicU64>>::default();
        let monitor_state = Family::<StateLabels, Gauge>::default();
        registry.register(
            "mlp_monitor_value",
            "The last value of each monitor check, from the server's monitor loop",
            monitor_value.clone(),
        );
        registry.register(
            "mlp_monitor_state",
            "Each monitor check's alert state: 1 for the current state, 0 for the others",
            monitor_state.clone(),
        );
        let monitor_evaluations = Family::<MonitorLabel, Counter>::default();
        let monitor_failures = Family::<MonitorLabel, Counter>::default();
        registry.register(
            "mlp_monitor_evaluations",
            "Evaluations of each monitor by the server's monitor loop",
            monitor_evaluations.clone(),
        );
        registry.register(
            "mlp_monitor_evaluation_failures",
            "Evaluations of each monitor that could not run (said on stderr)",
            monitor_failures.clone(),
        );
        Metrics {
            requests,
            latency,
            log_written: Counter::default(),
            log_dropped: Counter::default(),
            monitor_value,
            monitor_state,
            monitor_evaluations,
            monitor_failures,
            recent: crate::sla::Recent::default(),
            registry,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, deployment: &str, version: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            deployment: deployment.to_owned(),
            version: version.to_owned(),
            code: status,
        };
        self.requests.get_or_create(&labels).inc();
        let label = DeploymentLabel {
            deployment: labels.deployment,
        };
        self.recent.record(
            &label.deployment,
            std::time::Instant::now(),
            seconds,
            status == 200,
        );
        self.latency.get_or_create(&label).observe(seconds);
    }

    /// The requests of `deployment` answered over the last minute (the web UI's traffic).
    pub fn traffic(&self, deployment: &str) -> crate::sla::Window {
        self.recent
            .deployment_window(deployment, std::time::Instant::now())
    }

    /// Sets a monitor check's last value (no series when it has none) and its alert state
    /// (`state` is one of [`MONITOR_STATES`]).
    pub fn monitor_check(&self, monitor: &str, check: &str, value: Option<f64>, state: &str) {
        let labels = CheckLabels {
            monitor: monitor.to_owned(),
            check: check.to_owned(),
        };
        match value {
            Some(v) => {
                self.monitor_value.get_or_create(&labels).set(v);
            }
            None => {
                self.monitor_value.remove(&labels);
            }
        }
        for s in MONITOR_STATES {
            let labels = StateLabels {
                monitor: labels.monitor.clone(),
                check: labels.check.clone(),
                state: s,
            };
            self.monitor_state
                .get_or_create(&labels)
                .set(i64::from(s == state));
        }
    }

    /// Counts an evaluation of `monitor` (and a failure when it could not run).
    pub fn monitor_evaluated(&self, monitor: &str, ok: bool) {
        let label = MonitorLabel {
            monitor: monitor.to_owned(),
        };
        self.monitor_evaluations.get_or_create(&label).inc();
        if !ok {
            self.monitor_failures.get_or_create(&label).inc();
        }
    }

    /// Removes a monitor's counters (it left the plan).
    pub fn forget_monitor(&self, monitor: &str) {
        let label = MonitorLabel {
            monitor: monitor.to_owned(),
        };
        self.monitor_evaluations.remove(&label);
        self.monitor_failures.remove(&label);
    }

    /// Removes a monitor check's series (the monitor or the check left the plan).
    pub fn forget_monitor_check(&self, monitor: &str, check: &str) {
        let labels = CheckLabels {
            monitor: monitor.to_owned(),
            check: check.to_owned(),
        };
        self.monitor_value.remove(&labels);
        for s in MONITOR_STATES {
            self.monitor_state.remove(&StateLabels {
                monitor: labels.monitor.clone(),
                check: labels.check.clone(),
                state: s,
            });
        }
    }

    /// The text exposition, with the feature cache counters given.
    /// `slas` are the served deployments' SLAs, shown beside their window's quantiles.
    pub fn render(
        &self,
        cache_hits: u64,
        cache_misses: u64,
        slas: &[(String, mlp_ir::Sla)],
    ) -> Result<String, std::fmt::Error> {
        // The feature cache counters live in the online store, which a reload replaces, so
        // they are registered for this render only, with the prediction log's after them.
        let mut rest = Registry::default();
        for (name, help, value) in [
            (
                "mlp_feature_cache_hits",
                "Online feature reads answered by the LRU cache",
                cache_hits,
            ),
            (
                "mlp_feature_cache_misses",
                "Online feature reads that went to the online table",
                cache_misses,
            ),
        ] {
            let counter = Counter::<u64>::default();
            counter.inc_by(value);
            rest.register(name, help, counter);
        }
        rest.register(
            "mlp_prediction_log_written",
            "Prediction log records written to Parquet",
            self.log_written.clone(),
        );
        rest.register(
            "mlp_prediction_log_dropped",
            "Prediction log records dropped because the log queue was full",
            self.log_dropped.clone(),
        );
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry)?;
        prometheus_text::encode(&mut out, &rest)?;
        crate::sla::render(&mut out, slas, &self.recent, std::time::Instant::now())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_deployment_version_and_status() {
        let m = Metrics::default();
        m.request("fraud_api", "fraud_scorer@1", 200, 0.0007);
        m.request("fraud_api", "fraud_scorer@1", 200, 0.003);
        m.request("fraud_api", "fraud_scorer@2", 503, 0.5);
        m.request("other", "", 404, 0.0001);
        let text = m.render(0, 0, &[]).unwrap_or_default();
        for line in [
            "mlp_requests_total{deployment=\"fraud_api\",version=\"fraud_scorer@1\",code=\"200\"} 2",
            "mlp_requests_total{deployment=\"fraud_api\",version=\"fraud_scorer@2\",code=\"503\"} 1",
            "mlp_requests_total{deployment=\"other\",version=\"\",code=\"404\"} 1",
            "mlp_request_duration_seconds_bucket{deployment=\"fraud_api\",le=\"0.001\"} 1",
            "mlp_request_duration_seconds_bucket{deployment=\"fraud_api\",le=\"0.005\"} 2",
            "mlp_request_duration_seconds_count{deployment=\"fraud_api\"} 3",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn monitor_checks_show_their_value_and_one_state() {
        let m = Metrics::default();
        m.monitor_check(
            "amount_watch",
            "psi(checkout.amount) < 0.2",
            Some(0.25),
            "firing",
        );
        m.monitor_check("amount_watch", "error_rate < 1%", None, "no_data");
        m.monitor_evaluated("amount_watch", true);
        m.monitor_evaluated("amount_watch", false);
        let text = m.render(0, 0, &[]).unwrap_or_default();
        for line in [
            "# TYPE mlp_monitor_value gauge",
            "mlp_monitor_value{monitor=\"amount_watch\",check=\"psi(checkout.amount) < 0.2\"} 0.25",
            "# TYPE mlp_monitor_state gauge",
            "mlp_monitor_state{monitor=\"amount_watch\",check=\"psi(checkout.amount) < 0.2\",state=\"firing\"} 1",
            "mlp_monitor_state{monitor=\"amount_watch\",check=\"psi(checkout.amount) < 0.2\",state=\"ok\"} 0",
            "mlp_monitor_state{monitor=\"amount_watch\",check=\"error_rate < 1%\",state=\"no_data\"} 1",
            "mlp_monitor_evaluations_total{monitor=\"amount_watch\"} 2",
            "mlp_monitor_evaluation_failures_total{monitor=\"amount_watch\"} 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains("check=\"error_rate < 1%\"} "),
            "no value, no series:\n{text}"
        );
        let ones = text
            .lines()
            .filter(|l| l.starts_with("mlp_monitor_state{") && l.ends_with(" 1"))
            .count();
        assert_eq!(ones, 2, "one current state per check:\n{text}");
        // Moving on: the old state drops to 0; a value that goes away loses its series.
        m.monitor_check(
            "amount_watch",
            "psi(checkout.amount) < 0.2",
            None,
            "resolved",
        );
        let text = m.render(0, 0, &[]).unwrap_or_default();
        assert!(
            text.contains("check=\"psi(checkout.amount) < 0.2\",state=\"firing\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("check=\"psi(checkout.amount) < 0.2\",state=\"resolved\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("mlp_monitor_value{"), "{text}");
        m.forget_monitor_check("amount_watch", "psi(checkout.amount) < 0.2");
        m.forget_monitor_check("amount_watch", "error_rate < 1%");
        m.forget_monitor("amount_watch");
        let text = m.render(0, 0, &[]).unwrap_or_default();
        assert!(!text.contains("amount_watch"), "{text}");
    }

    /// The series, their help and types, and the buckets are those of the hand-written
    /// exposition that prometheus-client replaced, in its order.
    #[test]
    fn the_exposition_keeps_its_names_labels_and_buckets() {
        let m = Metrics::default();
        m.request("a\"b", "v\\1\n", 200, 0.2);
        m.log_written.inc_by(5);
        m.log_dropped.inc();
        let text = m.render(7, 3, &[]).unwrap_or_default();
        let le: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("mlp_request_duration_seconds_bucket"))
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(
            le,
            [
                "0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5",
                "1", "5", "+Inf"
            ],
            "{text}"
        );
        let expected = [
            "# HELP mlp_requests_total Prediction requests answered, by deployment, model version and HTTP status.",
            "# TYPE mlp_requests_total counter",
            "mlp_requests_total{deployment=\"a\\\"b\",version=\"v\\\\1\\n\",code=\"200\"} 1",
            "# HELP mlp_request_duration_seconds Prediction latency, from request to answer.",
            "# TYPE mlp_request_duration_seconds histogram",
            "mlp_request_duration_seconds_bucket{deployment=\"a\\\"b\",le=\"0.1\"} 0",
            "mlp_request_duration_seconds_bucket{deployment=\"a\\\"b\",le=\"0.2\"} 1",
            "mlp_request_duration_seconds_bucket{deployment=\"a\\\"b\",le=\"+Inf\"} 1",
            "mlp_request_duration_seconds_sum{deployment=\"a\\\"b\"} 0.2",
            "mlp_request_duration_seconds_count{deployment=\"a\\\"b\"} 1",
            "# HELP mlp_feature_cache_hits_total Online feature reads answered by the LRU cache.",
            "# TYPE mlp_feature_cache_hits_total counter",
            "mlp_feature_cache_hits_total 7",
            "# HELP mlp_feature_cache_misses_total Online feature reads that went to the online table.",
            "mlp_feature_cache_misses_total 3",
            "# HELP mlp_prediction_log_written_total Prediction log records written to Parquet.",
            "mlp_prediction_log_written_total 5",
            "# HELP mlp_prediction_log_dropped_total Prediction log records dropped because the log queue was full.",
            "# TYPE mlp_prediction_log_dropped_total counter",
            "mlp_prediction_log_dropped_total 1",
        ];
        let mut at = 0;
        for line in expected {
            match text[at..].find(&format!("{line}\n")) {
                Some(i) => at += i + line.len(),
                None => panic!("missing, or out of order: {line}\nin\n{text}"),
            }
        }
    }
}
