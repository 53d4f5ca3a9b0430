//! Monitors that run: a monitor of the applied plan evaluated over a window of its
//! deployment's prediction log against a baseline ([`logread`], [`window`], [`evaluate`],
//! [`compute`]), stored in history ([`history`]), with Alertmanager-style alert states and
//! notifications ([`alert`]); [`run::run_monitor`] does one evaluation with a [`Reader`] that
//! keeps what it read for the next; [`worker`] evaluates on request for a long-lived
//! evaluator process; [`report_html`] writes a monitor's history as one HTML page.

pub mod alert;
pub mod compute;
pub mod evaluate;
pub mod history;
pub mod logread;
pub mod metric;
pub mod reader;
pub mod report_charts;
pub mod report_html;
pub mod run;
pub mod window;
pub mod worker;

pub use evaluate::{CheckResult, Outcome, MIN_ROWS};
pub use history::{AlertState, History};
pub use metric::{Metric, Sink};
pub use reader::Reader;
pub use run::{monitors, now_us, run_monitor, MonitorRun, RunError};
