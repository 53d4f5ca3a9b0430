//! `mlpc serve`: the HTTP server for the project's deployments, online features, registry
//! and metrics, with the pipeline scheduler running beside it; and `mlpc score`, the same
//! deployment's model over a file. Both run the plan the last `mlpc apply` stored in the
//! state, never the source: apply is the gate.

use crate::state_cmds::fail;
use clap::Args;
use mlp_ir::Plan;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The plan the last `mlpc apply` stored, or the exit code after saying why there is none.
pub(crate) fn applied_plan(dir: &Path) -> Result<Plan, ExitCode> {
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

/// What differs between the source and the applied plan: resources added, changed and
/// removed in the source, by id.
fn source_drift(source: &Plan, applied: &Plan) -> Vec<String> {
    let hashes = |p: &Plan| -> BTreeMap<String, String> {
        p.resources()
            .map(|r| (r.id.clone(), r.hash.clone()))
            .collect()
    };
    let (src, app) = (hashes(source), hashes(applied));
    let mut out = Vec::new();
    for (id, h) in &src {
        match app.get(id) {
            None => out.push(format!("+ {id}")),
            Some(a) if a != h => out.push(format!("~ {id}")),
            Some(_) => {}
        }
    }
    out.extend(
        app.keys()
            .filter(|id| !src.contains_key(*id))
            .map(|id| format!("- {id}")),
    );
    out
}

/// Warns once when the source of `dir` differs from the applied plan (or does not check),
/// naming what differs; the applied plan is served all the same.
pub(crate) fn warn_if_source_differs(dir: &Path, env: Option<&str>, applied: &Plan) {
    let checked = mlp_driver::check_dir(dir, env);
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let source = match checked.plan {
        Some(p) if errors == 0 => p,
        _ => {
            eprintln!(
                "warning: the source in `{}` does not check ({errors} error(s), see `mlpc check`); serving the applied plan",
                dir.display()
            );
            return;
        }
    };
    let drift = source_drift(&source, applied);
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
    dir: PathBuf,
    /// Address to listen on. A non-loopback address needs MLP_TOKEN.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: String,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Do not run the pipeline schedules.
    #[arg(long)]
    no_scheduler: bool,
    /// The environment the source is compared in (DIR/env/NAME.yaml); what serves is the
    /// applied plan, with the environment it was applied with.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// `mlpc serve`.
pub fn serve(a: &ServeArgs) -> ExitCode {
    let plan = match applied_plan(&a.dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    warn_if_source_differs(&a.dir, a.env.as_deref(), &plan);
    let token = std::env::var("MLP_TOKEN").ok().filter(|t| !t.is_empty());
    let config = mlp_serving::Config {
        project_dir: a.dir.clone(),
        bind: a.bind.clone(),
        token,
        workers: a.workers,
        log_queue: 100_000,
    };
    // After each `mlpc apply`, the newly applied plan is read and changed deployments swap in.
    let reload = {
        let dir = a.dir.clone();
        mlp_serving::reload::Reloader::new(
            &a.dir,
            Box::new(move || match mlp_state::Catalog::read_applied_plan(&dir) {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err("the state holds no applied plan".into()),
                Err(e) => Err(e.to_string()),
            }),
        )
    };
    let running = match mlp_serving::start(config, plan, Some(reload)) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    eprintln!("serving {} on http://{}", a.dir.display(), running.addr);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let scheduler = (!a.no_scheduler).then(|| {
        let dir = a.dir.clone();
        std::thread::spawn(move || {
            // The schedules of the applied plan, read again at every tick.
            let load = || match mlp_state::Catalog::read_applied_plan(&dir) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("scheduler: {e}");
                    None
                }
            };
            if let Err(e) = mlp_pipelines::schedule::run_scheduler(&dir, &load, &stop_rx, false) {
                eprintln!("scheduler: {e}");
            }
        })
    });
    // SIGINT or SIGTERM: requests in flight finish, then the log flushes.
    running.run_until_signal();
    drop(stop_tx);
    if let Some(s) = scheduler {
        if s.join().is_err() {
            eprintln!("scheduler: the scheduler thread panicked");
        }
    }
    eprintln!("stopped; the prediction log is flushed");
    ExitCode::SUCCESS
}

/// `mlpc score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// `[DIR] DEPLOYMENT`: the project folder (default `.`) and the deployment.
    #[arg(value_name = "[DIR] DEPLOYMENT", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Parquet or CSV with the entity keys, a timestamp column and the request fields.
    #[arg(long, value_name = "FILE")]
    entities: PathBuf,
    /// The timestamp column of the entity file.
    #[arg(long, value_name = "COLUMN", default_value = "event_timestamp")]
    at: String,
    /// Output file: .parquet or .csv.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The environment the source is compared in (DIR/env/NAME.yaml); what scores is the
    /// applied plan.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// `mlpc score`.
pub fn score(a: &ScoreArgs) -> ExitCode {
    let (dir, rest) = crate::run_cmds::split_dir(&a.args, 1, 1);
    let Some(deployment) = rest.first() else {
        return fail("name the deployment");
    };
    let plan = match applied_plan(&dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    warn_if_source_differs(&dir, a.env.as_deref(), &plan);
    let req = mlp_serving::score::ScoreRequest {
        project_dir: dir.clone(),
        deployment: deployment.clone(),
        entities: a.entities.clone(),
        at: a.at.clone(),
        out: a.out.clone(),
    };
    match mlp_serving::score::score(&plan, &req) {
        Ok(r) => {
            println!(
                "scored {} rows with {} into {}",
                r.rows,
                r.model_version,
                a.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
