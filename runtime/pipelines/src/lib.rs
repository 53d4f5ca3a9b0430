//! The pipeline runner: `mlpc run` executes a pipeline's DAG of steps on tokio with a
//! concurrency limit, reuses every step whose cache key (definition, code files, parameters,
//! inputs) is unchanged, stores outputs content-addressed under `.mlp/store/`, records each
//! run in `.mlp/runs.sqlite`, and turns `registers = MODEL` outputs into registry versions;
//! `run_step` runs one step of a run, as a workflow engine's container does.

pub mod exec;
mod gate;
pub mod graph;
pub mod history;
pub mod interp;
mod keys;
mod lineage;
pub mod model_check;
pub mod pyenv;
pub mod runner;
pub mod schedule;
mod single;
mod steps;
pub mod store;

pub use history::{History, RunRecord, StepRecord};
pub use model_check::{check_torchscript, check_with_torch, signature};
pub use runner::find_venv;
pub use runner::{run_pipeline, RunOptions, RunReport};
pub use single::run_step;

use std::path::PathBuf;

/// Errors of the runner that stop a run before or outside any one step.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The pipeline, a step, a parameter or a flag that does not fit the spec.
    #[error("{0}")]
    Spec(String),
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A step failed (the message says which and why).
    #[error("{0}")]
    Step(String),
    /// Another run of the pipeline holds every run slot.
    #[error("pipeline `{0}` is already running ({1} run(s) at once allowed; see `mlpc runs`)")]
    Busy(String, u64),
    /// The run history database failed.
    #[error("run history: {0}")]
    History(String),
}
