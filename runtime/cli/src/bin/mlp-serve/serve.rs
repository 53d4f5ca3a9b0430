//! `mlpc serve`: the HTTP server for the project's deployments, online features, registry
//! and metrics, with the pipeline scheduler running beside it; and `mlpc score`, the same
//! deployment's model over a file. Both run the plan the last `mlpc apply` stored in the
//! state, never the source: apply is the gate.

use mlpc_shared::{
    applied_plan, default_workers, fail, split_dir, warn_if_source_differs, ScoreArgs, ServeArgs,
    Tuning,
};
use std::process::ExitCode;

/// `mlpc serve`.
pub fn serve(a: &ServeArgs) -> ExitCode {
    let mut plan = match applied_plan(&a.dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let tuning = match a.tune.as_deref().map(Tuning::parse).transpose() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if let Some(t) = &tuning {
        if let Err(e) = t.apply_to(&mut plan) {
            return fail(e);
        }
    }
    if let Some(why) = mlpc_shared::replicas_problem(&plan, a.replicas) {
        return fail(format!("cannot serve as one of several replicas: {why}"));
    }
    if a.replicas > 1 && std::env::var_os(mlp_ir::host::STATE_DIR_VAR).is_none() {
        eprintln!(
            "serve: warning: one of up to {} replicas, with the registry, prediction log and \
             monitor history in {}: set {} to a volume the replicas share",
            a.replicas,
            mlp_ir::host::state_dir(&a.dir).display(),
            mlp_ir::host::STATE_DIR_VAR
        );
    }
    // Before anything else is said or started: this may start the process again.
    crate::cuda::restart_with_cuda_if_needed(&plan);
    warn_if_source_differs(&a.dir, a.env.as_deref(), &plan);
    let token = std::env::var("MLP_TOKEN").ok().filter(|t| !t.is_empty());
    let config = mlp_serving::Config {
        project_dir: a.dir.clone(),
        bind: a.bind.clone(),
        token,
        workers: a.workers.unwrap_or_else(|| default_workers(&plan)),
        log_queue: 100_000,
        monitors: (!a.no_monitors).then(monitor_evaluator),
        log_dir: a.log_dir.clone(),
        ui: (!a.no_ui).then(|| mlpc_shared::ui_setup(a.env.clone())),
    };
    // After each `mlpc apply`, the newly applied plan is read and changed deployments swap in.
    let reload = {
        let dir = a.dir.clone();
        let replicas = a.replicas;
        mlp_serving::reload::Reloader::new(
            &a.dir,
            Box::new(move || match mlp_state::Catalog::read_applied_plan(&dir) {
                Ok(Some(mut p)) => {
                    if let Some(t) = &tuning {
                        t.apply_to(&mut p)?;
                    }
                    // A newly applied local store is refused like one at start.
                    if let Some(why) = mlpc_shared::replicas_problem(&p, replicas) {
                        return Err(why);
                    }
                    Ok(p)
                }
                Ok(None) => Err("the state holds no applied plan".into()),
                Err(e) => Err(e.to_string()),
            }),
        )
    };
    // SIGTERM and SIGINT are watched before the server says where it listens, so that one
    // sent at once stops it cleanly instead of killing it.
    let watch = match mlp_util::ShutdownWatch::install() {
        Ok(w) => Some(w),
        Err(e) => {
            eprintln!("serve: cannot watch signals yet ({e}); watching them later");
            None
        }
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
    running.run_until_signal(watch);
    drop(stop_tx);
    if let Some(s) = scheduler {
        if s.join().is_err() {
            eprintln!("scheduler: the scheduler thread panicked");
        }
    }
    eprintln!("stopped; the prediction log is flushed");
    ExitCode::SUCCESS
}

/// Where the monitor loop evaluates: in a child `mlpc monitor run`, with the `mlpc` beside
/// this binary, else in the server's process.
fn monitor_evaluator() -> mlp_serving::monitor_loop::Evaluator {
    match mlpc_shared::mlpc_path() {
        Some(mlpc) => mlp_serving::monitor_loop::Evaluator::Child(mlpc),
        None => mlp_serving::monitor_loop::Evaluator::InProcess,
    }
}

/// `mlpc score`.
pub fn score(a: &ScoreArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 1);
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
