//! Monitors that run: a monitor of the applied plan evaluated over a window of its
//! deployment's prediction log against a baseline ([`window`], [`evaluate`], [`compute`]),
//! stored in history ([`history`]), with Alertmanager-style alert states and notifications
//! ([`alert`]); [`run::run_monitor`] does one evaluation; [`report_html`] writes a monitor's
//! history as one HTML page.

pub mod alert;
pub mod compute;
pub mod evaluate;
pub mod history;
pub mod metric;
pub mod report_charts;
pub mod report_html;
pub mod run;
pub mod window;

pub use evaluate::{CheckResult, Outcome, MIN_ROWS};
pub use history::{AlertState, History};
pub use metric::{Metric, Sink};
pub use run::{monitors, now_us, run_monitor, MonitorRun, RunError};
