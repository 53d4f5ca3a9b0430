//! `mlpc serve`: the HTTP server for the project's deployments, online features, registry
//! and metrics, with the pipeline scheduler running beside it; and `mlpc score`, the same
//! deployment's model over a file.

use crate::state_cmds::{checked_plan, fail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// `mlpc serve`.
pub fn serve(a: &ServeArgs) -> ExitCode {
    let plan = match checked_plan(&a.dir, a.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let token = std::env::var("MLP_TOKEN").ok().filter(|t| !t.is_empty());
    let config = mlp_serving::Config {
        project_dir: a.dir.clone(),
        bind: a.bind.clone(),
        token,
        workers: a.workers,
        log_queue: 100_000,
    };
    // After each `mlpc apply`, the project is checked again and changed deployments swap in.
    let reload = {
        let dir = a.dir.clone();
        let env = a.env.clone();
        mlp_serving::reload::Reloader::new(
            &a.dir,
            Box::new(move || {
                let checked = mlp_driver::check_dir(&dir, env.as_deref());
                match checked.plan {
                    Some(p) if !checked.has_errors() => Ok(p),
                    _ => Err("the project does not check; run `mlpc check`".into()),
                }
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
        let env = a.env.clone();
        std::thread::spawn(move || {
            let load = || {
                let checked = mlp_driver::check_dir(&dir, env.as_deref());
                let ok = !checked.has_errors();
                checked.plan.filter(|_| ok)
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
        let _ = s.join();
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
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// `mlpc score`.
pub fn score(a: &ScoreArgs) -> ExitCode {
    let (dir, rest) = crate::run_cmds::split_dir(&a.args, 1, 1);
    let Some(deployment) = rest.first() else {
        return fail("name the deployment");
    };
    let plan = match checked_plan(&dir, a.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
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
