//! Prometheus metrics of the server, rendered in the text exposition format: requests and
//! errors per deployment, model version and status code, latency histograms per deployment,
//! feature cache hits and misses, and prediction log records written and dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A deployment's requests by model version, then HTTP status.
type ByVersion = BTreeMap<String, BTreeMap<u16, u64>>;

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<String, ByVersion>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Prediction log records written to Parquet.
    pub log_written: AtomicU64,
    /// Prediction log records dropped because the queue was full.
    pub log_dropped: AtomicU64,
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, deployment: &str, version: &str, status: u16, seconds: f64) {
        // Keys are allocated once per series, not per request.
        if let Ok(mut r) = self.requests.lock() {
            let by_version = match r.get_mut(deployment) {
                Some(v) => v,
                None => r.entry(deployment.to_string()).or_default(),
            };
            let by_status = match by_version.get_mut(version) {
                Some(s) => s,
                None => by_version.entry(version.to_string()).or_default(),
            };
            *by_status.entry(status).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = match l.get_mut(deployment) {
                Some(h) => h,
                None => l.entry(deployment.to_string()).or_default(),
            };
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The text exposition, with the feature cache counters given.
    pub fn render(&self, cache_hits: u64, cache_misses: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP mlp_requests_total Prediction requests answered, by deployment, model version and HTTP status.\n# TYPE mlp_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for (d, versions) in r.iter() {
                for (v, statuses) in versions {
                    for (s, n) in statuses {
                        out.push_str(&format!(
                            "mlp_requests_total{{deployment=\"{}\",version=\"{}\",code=\"{s}\"}} {n}\n",
                            escape(d),
                            escape(v)
                        ));
                    }
                }
            }
        }
        out.push_str("# HELP mlp_request_duration_seconds Prediction latency, from request to answer.\n# TYPE mlp_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (d, h) in l.iter() {
                let d = escape(d);
                for (i, b) in BUCKETS.iter().enumerate() {
                    out.push_str(&format!(
                        "mlp_request_duration_seconds_bucket{{deployment=\"{d}\",le=\"{b}\"}} {}\n",
                        h.counts[i]
                    ));
                }
                out.push_str(&format!(
                    "mlp_request_duration_seconds_bucket{{deployment=\"{d}\",le=\"+Inf\"}} {}\nmlp_request_duration_seconds_sum{{deployment=\"{d}\"}} {}\nmlp_request_duration_seconds_count{{deployment=\"{d}\"}} {}\n",
                    h.count, h.sum, h.count
                ));
            }
        }
        out.push_str(&format!(
            "# HELP mlp_feature_cache_hits_total Online feature reads answered by the LRU cache.\n# TYPE mlp_feature_cache_hits_total counter\nmlp_feature_cache_hits_total {cache_hits}\n# HELP mlp_feature_cache_misses_total Online feature reads that went to the online table.\n# TYPE mlp_feature_cache_misses_total counter\nmlp_feature_cache_misses_total {cache_misses}\n"
        ));
        out.push_str(&format!(
            "# HELP mlp_prediction_log_written_total Prediction log records written to Parquet.\n# TYPE mlp_prediction_log_written_total counter\nmlp_prediction_log_written_total {}\n# HELP mlp_prediction_log_dropped_total Prediction log records dropped because the log queue was full.\n# TYPE mlp_prediction_log_dropped_total counter\nmlp_prediction_log_dropped_total {}\n",
            self.log_written.load(Ordering::Relaxed),
            self.log_dropped.load(Ordering::Relaxed)
        ));
        out
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
        let text = m.render(0, 0);
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
}
