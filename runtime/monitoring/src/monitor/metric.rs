//! The metrics a monitor check can name, one enum matched exhaustively by the evaluator, so
//! that a metric the stdlib declares and the runtime lacks fails to compile or fails the
//! conformance test.

/// A metric built-in (`metric` in the stdlib).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Population stability index.
    Psi,
    /// Kolmogorov–Smirnov p-value.
    Ks,
    /// Jensen–Shannon distance.
    Js,
    /// Normalised Wasserstein distance.
    Wasserstein,
    /// Chi-square homogeneity p-value.
    Chi2,
    /// Drift verdict with Evidently's default method.
    Drift,
    /// Share of nulls in the window.
    NullShare,
    /// Mean in the window.
    Mean,
    /// Rows in the window.
    RowCount,
    /// ROC AUC against labels.
    Auc,
    /// Precision at a threshold.
    Precision,
    /// Recall at a threshold.
    Recall,
    /// F1 at a threshold.
    F1,
    /// Accuracy at a threshold.
    Accuracy,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Latency quantile (0.5 to 0.999).
    Latency(LatencyQ),
    /// Share of failed requests.
    ErrorRate,
    /// Requests per second.
    Throughput,
}

/// The latency quantiles the stdlib names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatencyQ {
    /// p50.
    P50,
    /// p90.
    P90,
    /// p95.
    P95,
    /// p99.
    P99,
    /// p99.9.
    P999,
}

impl LatencyQ {
    /// The quantile as a fraction.
    pub fn q(self) -> f64 {
        match self {
            LatencyQ::P50 => 0.5,
            LatencyQ::P90 => 0.9,
            LatencyQ::P95 => 0.95,
            LatencyQ::P99 => 0.99,
            LatencyQ::P999 => 0.999,
        }
    }
}

/// What a metric reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// One logged column in the window and in the baseline.
    Distribution,
    /// One logged column in the window only.
    Window,
    /// A score or prediction and a label column (labelled rows of the window).
    Labels,
    /// Every request's status and latency (no column).
    Requests,
}

impl Metric {
    /// Every metric, for tables and tests.
    pub const ALL: [Metric; 23] = [
        Metric::Psi,
        Metric::Ks,
        Metric::Js,
        Metric::Wasserstein,
        Metric::Chi2,
        Metric::Drift,
        Metric::NullShare,
        Metric::Mean,
        Metric::RowCount,
        Metric::Auc,
        Metric::Precision,
        Metric::Recall,
        Metric::F1,
        Metric::Accuracy,
        Metric::Rmse,
        Metric::Mae,
        Metric::Latency(LatencyQ::P50),
        Metric::Latency(LatencyQ::P90),
        Metric::Latency(LatencyQ::P95),
        Metric::Latency(LatencyQ::P99),
        Metric::Latency(LatencyQ::P999),
        Metric::ErrorRate,
        Metric::Throughput,
    ];

    /// The metric the stdlib calls `name`.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its stdlib name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Psi => "psi",
            Metric::Ks => "ks",
            Metric::Js => "js",
            Metric::Wasserstein => "wasserstein",
            Metric::Chi2 => "chi2",
            Metric::Drift => "drift",
            Metric::NullShare => "null_share",
            Metric::Mean => "mean",
            Metric::RowCount => "row_count",
            Metric::Auc => "auc",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::Accuracy => "accuracy",
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::Latency(LatencyQ::P50) => "latency_p50",
            Metric::Latency(LatencyQ::P90) => "latency_p90",
            Metric::Latency(LatencyQ::P95) => "latency_p95",
            Metric::Latency(LatencyQ::P99) => "latency_p99",
            Metric::Latency(LatencyQ::P999) => "latency_p999",
            Metric::ErrorRate => "error_rate",
            Metric::Throughput => "throughput",
        }
    }

    /// What it reads.
    pub fn needs(self) -> Needs {
        match self {
            Metric::Psi
            | Metric::Ks
            | Metric::Js
            | Metric::Wasserstein
            | Metric::Chi2
            | Metric::Drift => Needs::Distribution,
            Metric::NullShare | Metric::Mean => Needs::Window,
            Metric::Auc
            | Metric::Precision
            | Metric::Recall
            | Metric::F1
            | Metric::Accuracy
            | Metric::Rmse
            | Metric::Mae => Needs::Labels,
            Metric::RowCount | Metric::Latency(_) | Metric::ErrorRate | Metric::Throughput => {
                Needs::Requests
            }
        }
    }
}

/// The alert sinks the runtime delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// POST Alertmanager's webhook payload (version 4) to a URL.
    Webhook(String),
    /// POST Slack's incoming-webhook JSON to a URL.
    Slack(String),
    /// Mail through the local `sendmail`.
    Email(String),
    /// Write to the log (stderr of `mlpc monitor run` or of the server).
    Log,
}

impl Sink {
    /// The sink a plan's `Backend` names; `None` for one the runtime does not deliver to.
    pub fn from_backend(b: &mlp_ir::Backend) -> Option<Sink> {
        match b.kind.as_str() {
            "webhook" => match b.args.get("url") {
                Some(mlp_ir::Literal::String(u)) => Some(Sink::Webhook(u.clone())),
                _ => None,
            },
            "slack" => match b.args.get("webhook") {
                Some(mlp_ir::Literal::String(u)) => Some(Sink::Slack(u.clone())),
                _ => None,
            },
            "email" => match b.args.get("to") {
                Some(mlp_ir::Literal::String(to)) => Some(Sink::Email(to.clone())),
                _ => None,
            },
            "log" => Some(Sink::Log),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
            assert!(seen.insert(m.name()));
        }
        assert_eq!(Metric::from_name("latency_p42"), None);
    }
}
