//! The web UI under `/ui`: the applied plan's resource graph, feature views, lineage, models,
//! pipeline runs, deployments, monitors and search, as server-rendered HTML (maud) with every
//! asset embedded in the binary. `mlpc serve` mounts it beside the API, with live traffic
//! from the server's own metrics ([`Live`]); `mlpc ui` serves it alone.
//!
//! Read-only by default: actions that change anything (moving an alias, starting a pipeline
//! run, evaluating a monitor) need the server's `MLP_TOKEN`, sent as a form field or a bearer
//! token; without it they answer 403.

mod assets;
mod data;
mod expr;
mod graph;
mod layout;
mod pages;
mod route;

pub use route::configure;

use mlp_ir::Plan;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the server in the same process knows and the files do not: what it serves now and
/// its traffic. Implemented by `mlp-serving`; absent under `mlpc ui`.
pub trait Live: Send + Sync {
    /// The plan served now (the applied plan, with any tuning).
    fn plan(&self) -> Arc<Plan>;
    /// Each deployment of the plan: the versions it serves, or why it cannot serve.
    fn deployments(&self) -> Vec<Served>;
    /// The traffic of `deployment` over the last minute.
    fn traffic(&self, deployment: &str) -> Traffic;
    /// The online store's feature cache hits and misses since it opened, if it is open.
    fn cache_counts(&self) -> Option<(u64, u64)>;
    /// Runs `f` on the server's connection to the online store; `None` when it has none.
    fn with_online(
        &self,
        f: &mut dyn FnMut(&duckdb::Connection) -> Result<(), String>,
    ) -> Option<Result<(), String>>;
}

/// One deployment as the server holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// The deployment.
    pub name: String,
    /// `MODEL@VERSION` of each model it serves, when it serves.
    pub versions: Vec<String>,
    /// The shadow's `MODEL@VERSION`s, if any.
    pub shadow: Option<String>,
    /// Why it cannot serve, when it cannot.
    pub error: Option<String>,
}

/// A deployment's traffic over the last minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// Requests answered in each second of the last minute, oldest first (60 values).
    pub per_second: Vec<u32>,
    /// Requests answered with a status other than 200 in the last minute.
    pub errors: u64,
    /// Median latency of the last minute, seconds.
    pub p50: Option<f64>,
    /// 99th percentile latency of the last minute, seconds.
    pub p99: Option<f64>,
}

impl Traffic {
    /// Requests per second over the last ten seconds.
    pub fn rate(&self) -> f64 {
        let n = self.per_second.len();
        let recent: u32 = self.per_second[n.saturating_sub(10)..].iter().sum();
        f64::from(recent) / 10.0
    }
}

/// Checks the source in a folder (with an environment) into a plan, or says why it does not
/// check. Given by the binary, which links the compiler; the runtime crates do not.
pub type SourcePlan =
    Arc<dyn Fn(&std::path::Path, Option<&str>) -> Result<Plan, String> + Send + Sync>;

/// How the binary sets the UI up beyond the project and the token.
#[derive(Clone, Default)]
pub struct Setup {
    /// The environment the source is compared in.
    pub env: Option<String>,
    /// How to check the source, to show whether it differs from the applied plan; `None`:
    /// not shown.
    pub source: Option<SourcePlan>,
    /// The `mlpc` the write actions run (`mlpc run`, `mlpc monitor run`); `None`: those
    /// actions are not offered.
    pub mlpc: Option<PathBuf>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("env", &self.env)
            .field("source", &self.source.as_ref().map(|_| "a source check"))
            .field("mlpc", &self.mlpc)
            .finish()
    }
}

/// The UI of one project.
pub struct Ui {
    /// The project folder.
    pub project_dir: PathBuf,
    /// The environment and the source checker.
    pub setup: Setup,
    /// The token write actions need (`MLP_TOKEN`); `None`: the UI is read-only.
    pub token: Option<String>,
    /// The server beside it, if any.
    pub live: Option<Arc<dyn Live>>,
    /// The applied plan as last read, with what it was read from.
    cache: Mutex<Option<data::Cached>>,
    /// Whether the source differs from the applied plan, as last computed.
    drift: Mutex<Option<data::Drift>>,
}

impl Ui {
    /// The UI of the project in `project_dir`.
    pub fn new(
        project_dir: PathBuf,
        token: Option<String>,
        live: Option<Arc<dyn Live>>,
        setup: Setup,
    ) -> Ui {
        Ui {
            project_dir,
            setup,
            token,
            live,
            cache: Mutex::new(None),
            drift: Mutex::new(None),
        }
    }
}
