//! Monitors: the metric functions they evaluate on the prediction log (pure functions over
//! slices, with the exact definitions written down in `docs/monitoring.md`), and [`monitor`],
//! which runs a monitor of the applied plan: window, baseline, labels, checks, history,
//! alerts.
//!
//! The metric modules:
//! [`binning`] (the bins PSI and Jensen–Shannon share), [`distance`] (PSI, Jensen–Shannon,
//! Wasserstein), [`stattests`] (Kolmogorov–Smirnov, chi-square, Z-test), [`ksdist`] (the
//! Kolmogorov–Smirnov null distributions scipy uses), [`drift`] (Evidently's
//! default choice among them), [`data`] (data quality), [`labels`] (quality against labels)
//! and [`service`] (latency quantiles, error rate, throughput).
//!
//! Conventions everywhere: NaN values are dropped before a metric is computed; a metric that has
//! nothing to be computed on (an empty input, a 0/0 share) is `None`, never NaN.

pub mod binning;
pub mod data;
pub mod distance;
pub mod drift;
pub mod fastpath;
pub mod ksdist;
pub mod labels;
pub mod monitor;
pub mod report;
pub mod service;
pub mod stattests;
pub mod table;

pub use binning::PSI_EPSILON;
pub use data::{mean, null_share, row_count};
pub use distance::{js, js_categorical, psi, psi_categorical, wasserstein};
pub use drift::{
    dataset_drift, drift_categorical, drift_numeric, DatasetDrift, Drift, DriftMethod,
};
pub use labels::{accuracy, auc, f1, mae, precision, recall, rmse};
pub use service::{error_rate, quantile, throughput};
pub use stattests::{chi2, chi2_numeric, kolmogorov_sf, ks, proportions_z_test, TestResult};
