//! `mlpc serve`: the HTTP server for the project's deployments, online features, registry
//! and metrics, with the pipeline scheduler running beside it.

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
    let running = match mlp_serving::start(config, plan) {
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
