//! What the two binaries of this package share: `mlpc` (everything that runs no model:
//! check, plan, apply, features, pipelines, the registry) and `mlp-serve` (the serving
//! binary, linked with libtorch, that `mlpc serve` and `mlpc score` run): the arguments of
//! `serve` and `score`, the applied plan that both read, and small command-line helpers.

use clap::Args;
use mlp_ir::Plan;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prints `error: MSG` and gives exit code 1.
pub fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(1)
}

/// Prints JSON text made by `serde_json::to_string_pretty` on stdout; when the value could
/// not be made JSON, says so and gives exit code 1 (never an empty line in its place).
pub fn print_json(text: serde_json::Result<String>) -> Result<(), ExitCode> {
    match text {
        Ok(t) => {
            println!("{t}");
            Ok(())
        }
        Err(e) => Err(fail(format!("cannot write the output as JSON: {e}"))),
    }
}

/// Splits `[DIR] REST...` where REST has `min..=max` arguments: the first argument is the
/// folder when there are more than `max`, or more than `min` and it is a folder.
pub fn split_dir(args: &[String], min: usize, max: usize) -> (PathBuf, Vec<String>) {
    match args.split_first() {
        Some((first, rest))
            if args.len() > max || (args.len() > min && Path::new(first).is_dir()) =>
        {
            (PathBuf::from(first), rest.to_vec())
        }
        _ => (PathBuf::from("."), args.to_vec()),
    }
}

/// The plan the last `mlpc apply` stored, or the exit code after saying why there is none.
pub fn applied_plan(dir: &Path) -> Result<Plan, ExitCode> {
    match mlp_state::Catalog::read_applied_plan(dir) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(fail(format!(
            "nothing is applied in `{}` yet: run `mlpc apply {}` first (mlpc serves and runs the applied plan, never unapplied source)",
            dir.display(),
            dir.display()
        ))),
        Err(e) => Err(fail(e)),
    }
}

/// The source of `dir` checked into a plan, or why it does not check (the web UI's source
/// comparison).
pub fn source_plan(dir: &Path, env: Option<&str>) -> Result<Plan, String> {
    let checked = mlp_driver::check_dir(dir, env);
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    match checked.plan {
        Some(p) if errors == 0 => Ok(p),
        _ => Err(format!(
            "the source does not check ({errors} error(s), see `mlpc check`)"
        )),
    }
}

/// The web UI's set-up for `mlpc serve` and `mlpc ui`: the environment, the source check,
/// and the `mlpc` its write actions run (`mlpc` itself, or the one beside `mlp-serve`).
pub fn ui_setup(env: Option<String>) -> mlp_ui::Setup {
    mlp_ui::Setup {
        env,
        source: Some(std::sync::Arc::new(source_plan)),
        mlpc: mlpc_path(),
    }
}

/// The `mlpc` binary: this process when it is `mlpc`, else the one beside it (`mlp-serve`'s
/// monitor evaluator and web UI run it); `None` when there is none.
pub fn mlpc_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    if exe.file_stem().is_some_and(|s| s == "mlpc") {
        return Some(exe);
    }
    Some(exe.with_file_name("mlpc")).filter(|p| p.is_file())
}

/// Warns once when the source of `dir` differs from the applied plan (or does not check),
/// naming what differs; the applied plan is served all the same.
pub fn warn_if_source_differs(dir: &Path, env: Option<&str>, applied: &Plan) {
    let source = match source_plan(dir, env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "warning: in `{}`, {e}; serving the applied plan",
                dir.display()
            );
            return;
        }
    };
    let drift = mlp_state::plan_drift(&source, applied);
    if drift.is_empty() {
        return;
    }
    const SHOWN: usize = 20;
    let mut list = drift
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if drift.len() > SHOWN {
        list.push_str(&format!(" and {} more", drift.len() - SHOWN));
    }
    eprintln!(
        "warning: the source in `{}` differs from the applied plan ({list}); serving the applied plan until `mlpc apply`",
        dir.display()
    );
}

/// `mlpc serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Address to listen on. A non-loopback address needs MLP_TOKEN.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// HTTP worker threads (default: the largest `resources { workers }` of the applied
    /// deployments, else 2).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Do not run the pipeline schedules.
    #[arg(long)]
    pub no_scheduler: bool,
    /// Do not evaluate the monitors on their `every` schedule (when `mlpc monitor run` from
    /// cron does, or another replica of the server).
    #[arg(long)]
    pub no_monitors: bool,
    /// Do not mount the web UI under /ui.
    #[arg(long)]
    pub no_ui: bool,
    /// The environment the source is compared in (DIR/env/NAME.yaml); what serves is the
    /// applied plan, with the environment it was applied with.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// `mlpc suggest`'s measurement settings for one deployment, as JSON ([`Tuning`]),
    /// overriding the applied plan's in this process only.
    #[arg(long, hide = true, value_name = "JSON")]
    pub tune: Option<String>,
    /// Write the prediction log here instead of the project's `.mlp/predictions`
    /// (`mlpc suggest`: the log's cost is measured, its traffic kept apart).
    #[arg(long, hide = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// How many servers may serve this project at once (the exported Kubernetes manifests
    /// set the autoscaler's maximum). Above 1, the online store must be one they all reach
    /// (`online = redis(...)`): the server refuses to start on the local store.
    #[arg(long, env = "MLP_REPLICAS", default_value_t = 1, value_name = "N")]
    pub replicas: u64,
}

/// Why `replicas` servers cannot share the project's online store, when they cannot: the
/// local store (`online = memory(...)`) is a file on each server's own disk.
pub fn replicas_problem(plan: &Plan, replicas: u64) -> Option<String> {
    if replicas <= 1 {
        return None;
    }
    match mlp_features::online::online_config(plan) {
        mlp_features::online::OnlineConfig::Memory { .. } => Some(format!(
            "up to {replicas} servers would serve project `{}`, but its online store is \
             `memory(...)`: the values live in .mlp/online.duckdb on each server's own disk, \
             and a materialization writes only its own machine's copy, so the replicas would \
             serve different features, or none. Declare a store they all reach in the project \
             block, `online = redis(\"redis://HOST:6379/0\")`, then apply and materialize \
             (docs/scale-out.md)",
            plan.project
        )),
        mlp_features::online::OnlineConfig::Redis { .. } => None,
    }
}

/// HTTP workers when `--workers` is not given: the largest `resources { workers }` of the
/// plan's deployments, else 2.
pub fn default_workers(plan: &Plan) -> usize {
    plan.resources()
        .filter_map(|r| match &r.spec {
            mlp_ir::Spec::Deployment { resources, .. } => {
                resources.as_ref().and_then(|x| x.workers)
            }
            _ => None,
        })
        .max()
        .map_or(2, |w| w.max(1) as usize)
}

/// The settings `mlpc suggest` measures one deployment with, passed to a child `mlp-serve`
/// as `--tune JSON`: they replace the deployment's batching, threads and device in that
/// process's copy of the applied plan (nothing is written).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tuning {
    /// The deployment.
    pub deployment: String,
    /// `batching { max_batch }`.
    pub max_batch: u64,
    /// `batching { max_delay }` in ms.
    pub max_delay_ms: f64,
    /// `resources { threads }`.
    pub threads: u64,
    /// `resources { intra_op_threads }`.
    pub intra_op_threads: u64,
    /// `cpu` or `cuda`.
    pub device: String,
}

impl Tuning {
    /// Reads `--tune`'s JSON.
    pub fn parse(json: &str) -> Result<Tuning, String> {
        serde_json::from_str(json).map_err(|e| format!("--tune: {e}"))
    }

    /// Replaces the deployment's settings in `plan`.
    pub fn apply_to(&self, plan: &mut Plan) -> Result<(), String> {
        let Some(r) = plan.deployment(&self.deployment).cloned() else {
            return Err(format!(
                "--tune: no deployment `{}` in the applied plan",
                self.deployment
            ));
        };
        let mut spec = r.spec.clone();
        if let mlp_ir::Spec::Deployment {
            batching,
            device,
            resources,
            ..
        } = &mut spec
        {
            *batching = Some(mlp_ir::Batching {
                max_batch: self.max_batch.max(1),
                max_delay_ms: self.max_delay_ms.max(0.0),
            });
            *device = self.device.clone();
            let res = resources.get_or_insert_with(Default::default);
            res.threads = Some(self.threads.max(1));
            res.intra_op_threads = Some(self.intra_op_threads.max(1));
        }
        plan.add(mlp_ir::Resource::new(r.id, r.name, spec, r.doc, r.origin));
        Ok(())
    }
}

/// `mlpc score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// `[DIR] DEPLOYMENT`: the project folder (default `.`) and the deployment.
    #[arg(value_name = "[DIR] DEPLOYMENT", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Parquet or CSV with the entity keys, a timestamp column and the request fields.
    #[arg(long, value_name = "FILE")]
    pub entities: PathBuf,
    /// The timestamp column of the entity file.
    #[arg(long, value_name = "COLUMN", default_value = "event_timestamp")]
    pub at: String,
    /// Output file: .parquet or .csv.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The environment the source is compared in (DIR/env/NAME.yaml); what scores is the
    /// applied plan.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}
