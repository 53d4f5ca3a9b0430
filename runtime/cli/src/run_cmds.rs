//! `mlpc run`, `mlpc runs` and `mlpc logs`: pipeline runs from the command line.

use crate::state_cmds::{checked_plan, fail};
use crate::Format;
use clap::Args;
use mlp_pipelines::{History, RunOptions, RunRecord};
use mlpc_shared::print_json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `mlpc run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `[DIR] PIPELINE`: the project folder (default `.`) and the pipeline.
    #[arg(value_name = "[DIR] PIPELINE", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// Re-run this step and every step after it; take the others from the cache.
    #[arg(long, value_name = "STEP")]
    from: Option<String>,
    /// Ignore the cache and run every step.
    #[arg(long)]
    force: bool,
    /// Override a pipeline parameter (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Steps running at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Do not echo the steps' output (it is still in their logs).
    #[arg(long, short)]
    quiet: bool,
    /// Summary for people, or the run record as JSON.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Run only this step, in the run `--run-id` names (a workflow engine's container per
    /// step, `mlpc export argo`): the steps it needs must have succeeded in that run. Exits
    /// 3 when it is a gate that did not pass.
    #[arg(
        long,
        value_name = "STEP",
        requires = "run_id",
        conflicts_with = "from"
    )]
    step: Option<String>,
    /// The run `--step` belongs to, recorded by its first step (Argo: `{{workflow.name}}`).
    #[arg(long, value_name = "ID", requires = "step")]
    run_id: Option<String>,
}

/// `mlpc runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// `[DIR] [PIPELINE]`: the project folder (default `.`) and a pipeline to list only.
    #[arg(value_name = "[DIR] [PIPELINE]", num_args = 0..=2)]
    args: Vec<String>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print the JSON Schema of one run record (specs/run.schema.json) instead; `runs
    /// --format json` prints an array of them and `run --format json` one.
    #[arg(long)]
    schema: bool,
    /// A table for people, or JSON.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// `mlpc schedules` and `mlpc scheduler`.
#[derive(Debug, Args)]
pub struct SchedulesArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// A table for people, or JSON.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// `mlpc logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// `[DIR] RUN [STEP]`: the project folder (default `.`), a run id (or a unique prefix of
    /// one, or `last`) and a step (every step when absent).
    #[arg(value_name = "[DIR] RUN [STEP]", num_args = 1..=3, required = true)]
    args: Vec<String>,
}

pub(crate) use mlpc_shared::split_dir;

fn symbol(status: &str) -> &'static str {
    match status {
        "succeeded" => "ok",
        "cached" => "cached",
        "failed" => "FAILED",
        "skipped" => "skipped",
        "cancelled" => "cancelled",
        "interrupted" => "interrupted",
        _ => "..",
    }
}

fn ms(d: Option<u64>) -> String {
    match d {
        Some(ms) if ms >= 1000 => format!("{:.1}s", ms as f64 / 1000.0),
        Some(ms) => format!("{ms}ms"),
        None => String::new(),
    }
}

fn print_run(r: &RunRecord) {
    println!(
        "run {} of {}: {} in {}",
        r.run_id,
        r.pipeline,
        r.status,
        ms(Some(r.duration_ms))
    );
    let width = r.steps.iter().map(|s| s.step.len()).max().unwrap_or(4);
    for s in &r.steps {
        let mut line = format!(
            "  {:<width$}  {:<11} {:>7}  {}",
            s.step,
            symbol(&s.status),
            ms(s.duration_ms),
            s.reason
        );
        if s.attempts > 1 {
            line.push_str(&format!(" ({} attempts)", s.attempts));
        }
        println!("{}", line.trim_end());
        if let Some(e) = &s.error {
            if s.status == "failed" || s.attempts > 1 {
                println!("  {:<width$}  {e}", "");
            }
        }
    }
    if let Some(e) = &r.error {
        println!("{e}");
    }
}

/// `mlpc run`.
pub fn run(a: &RunArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 1);
    let Some(pipeline) = rest.first() else {
        return fail("name the pipeline to run");
    };
    let mut params = BTreeMap::new();
    for p in &a.params {
        let Some((k, v)) = p.split_once('=') else {
            return fail(format!("--param {p}: write NAME=VALUE"));
        };
        params.insert(k.trim().to_string(), v.to_string());
    }
    let plan = match checked_plan(&dir, a.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = RunOptions {
        pipeline: pipeline.clone(),
        from: a.from.clone(),
        force: a.force,
        params,
        concurrency: a.concurrency,
        echo: !a.quiet && matches!(a.format, Format::Human),
        trigger: "manual".into(),
        venv: None,
        scheduled_at: None,
    };
    let report = match (&a.step, &a.run_id) {
        (Some(step), Some(id)) => mlp_pipelines::run_step(&plan, &dir, &opts, step, id),
        _ => mlp_pipelines::run_pipeline(&plan, &dir, &opts),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let record = History::open(&dir)
        .and_then(|h| h.run(&report.run_id))
        .ok()
        .flatten();
    match (a.format, &record) {
        (Format::Json, Some(r)) => {
            if let Err(code) = print_json(serde_json::to_string_pretty(r)) {
                return code;
            }
        }
        (_, Some(r)) => print_run(r),
        (_, None) => println!("run {}: {}", report.run_id, report.status),
    }
    if let Some(step) = &a.step {
        let failed = report
            .steps
            .iter()
            .find(|s| &s.step == step)
            .is_some_and(|s| s.status == "failed");
        let gate = plan.pipeline(pipeline).is_some_and(|r| {
            matches!(&r.spec, mlp_ir::Spec::Pipeline { steps, .. }
                if steps.iter().any(|s| &s.name == step && matches!(s.action, mlp_ir::StepAction::Gate { .. })))
        });
        return match (failed, gate) {
            (false, _) => ExitCode::SUCCESS,
            (true, true) => ExitCode::from(crate::argo_cmd::GATE_FAILED),
            (true, false) => ExitCode::from(1),
        };
    }
    match report.status.as_str() {
        "succeeded" => ExitCode::SUCCESS,
        // The shell's convention for a program stopped by Ctrl-C.
        "cancelled" => ExitCode::from(130),
        _ => ExitCode::from(1),
    }
}

/// `mlpc runs`.
pub fn runs(a: &RunsArgs) -> ExitCode {
    if a.schema {
        let mut schema = schemars::schema_for!(RunRecord);
        schema.insert("$id".into(), "https://mlp.dev/specs/run.schema.json".into());
        if let Err(code) = print_json(serde_json::to_string_pretty(&schema.to_value())) {
            return code;
        }
        return ExitCode::SUCCESS;
    }
    let (dir, rest) = split_dir(&a.args, 0, 1);
    let history = match History::open(&dir) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let list = match history.runs(rest.first().map(String::as_str), a.limit) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if matches!(a.format, Format::Json) {
        if let Err(code) = print_json(serde_json::to_string_pretty(&list)) {
            return code;
        }
        return ExitCode::SUCCESS;
    }
    if list.is_empty() {
        println!("no runs yet");
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<24} {:<16} {:<11} {:<27} {:>8}  steps",
        "RUN", "PIPELINE", "STATUS", "STARTED", "TIME"
    );
    for r in &list {
        let count = |s: &str| r.steps.iter().filter(|x| x.status == s).count();
        let mut parts = vec![format!("{} ran", count("succeeded"))];
        for s in ["cached", "failed", "skipped", "cancelled"] {
            if count(s) > 0 {
                parts.push(format!("{} {s}", count(s)));
            }
        }
        println!(
            "{:<24} {:<16} {:<11} {:<27} {:>8}  {}",
            r.run_id,
            r.pipeline,
            r.status,
            r.started,
            ms(Some(r.duration_ms)),
            parts.join(", ")
        );
    }
    ExitCode::SUCCESS
}

/// `mlpc logs`.
pub fn logs(a: &LogsArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 2);
    let history = match History::open(&dir) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let Some(run_ref) = rest.first() else {
        return fail("name the run (see `mlpc runs`)");
    };
    let run = if run_ref == "last" {
        history.runs(None, 1).map(|mut l| l.pop())
    } else {
        history.run(run_ref)
    };
    let run = match run {
        Ok(Some(r)) => r,
        Ok(None) => return fail(format!("no run `{run_ref}` (see `mlpc runs`)")),
        Err(e) => return fail(e),
    };
    let steps: Vec<&str> = match rest.get(1) {
        Some(s) => {
            if !run.steps.iter().any(|x| &x.step == s) {
                return fail(format!(
                    "run {} has no step `{s}` (steps: {})",
                    run.run_id,
                    run.steps
                        .iter()
                        .map(|x| x.step.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            vec![s.as_str()]
        }
        None => run.steps.iter().map(|x| x.step.as_str()).collect(),
    };
    let one = steps.len() == 1;
    for s in steps {
        let path = mlp_ir::host::state_dir(&dir)
            .join("runs")
            .join(&run.run_id)
            .join(format!("{s}.log"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            // A cached, skipped or never started step ran nothing in this run.
            let why = run
                .steps
                .iter()
                .find(|x| x.step == s)
                .map(|x| {
                    if x.reason.starts_with(&x.status) {
                        x.reason.clone()
                    } else {
                        format!("{}: {}", x.status, x.reason)
                    }
                })
                .unwrap_or_default();
            println!("[{s}] (no log in this run; {why})");
            continue;
        };
        if one {
            print!("{text}");
        } else {
            for line in text.lines() {
                println!("[{s}] {line}");
            }
        }
    }
    ExitCode::SUCCESS
}

/// `mlpc schedules`: the scheduled pipelines with their last and next ticks.
pub fn schedules(a: &SchedulesArgs) -> ExitCode {
    let plan = match checked_plan(&a.dir, None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let list = match mlp_pipelines::schedule::Scheduler::new(&a.dir).list(&plan, chrono::Utc::now())
    {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if matches!(a.format, Format::Json) {
        if let Err(code) = print_json(serde_json::to_string_pretty(&list)) {
            return code;
        }
    } else if list.is_empty() {
        println!("no pipeline has a schedule");
    } else {
        println!(
            "{:<20} {:<16} {:<8} {:<26} next",
            "PIPELINE", "CRON", "CATCHUP", "LAST"
        );
        for s in &list {
            println!(
                "{:<20} {:<16} {:<8} {:<26} {}",
                s.pipeline,
                s.cron,
                s.catchup,
                s.last.as_deref().unwrap_or("-"),
                s.next.as_deref().unwrap_or("-")
            );
        }
    }
    ExitCode::SUCCESS
}

/// `mlpc scheduler`: runs the project's schedules in the foreground until Ctrl-C.
pub fn scheduler(a: &SchedulesArgs) -> ExitCode {
    let dir = a.dir.clone();
    // The schedules of the applied plan: apply is the gate, as for `mlpc serve`.
    if let Err(code) = mlpc_shared::applied_plan(&dir) {
        return code;
    }
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    // Ctrl-C and SIGTERM stop the loop; runs in progress cancel themselves on the same signal.
    std::thread::spawn(move || {
        if let Err(e) = mlp_util::block_until_shutdown_signal() {
            eprintln!("scheduler: cannot wait for signals ({e}); stopping");
        }
        // The receiver is gone only when the scheduler has already returned.
        stop_tx.send(()).ok();
    });
    // The applied plan is read again at every tick, so an apply takes effect at the next
    // one; while the state cannot be read, the last plan read stays in force.
    let last_good = std::cell::RefCell::new(None::<mlp_ir::Plan>);
    let load = || {
        match mlp_state::Catalog::read_applied_plan(&dir) {
            Ok(Some(p)) => *last_good.borrow_mut() = Some(p),
            Ok(None) => {}
            Err(e) => eprintln!("scheduler: {e}; keeping the last plan read"),
        }
        last_good.borrow().clone()
    };
    eprintln!(
        "scheduler: running the schedules of {} (Ctrl-C stops)",
        dir.display()
    );
    match mlp_pipelines::schedule::run_scheduler(&dir, &load, &stop_rx, true) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
