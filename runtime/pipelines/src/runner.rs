//! One run of a pipeline: parameters resolved, the run lock taken, steps launched as soon as
//! what they need has finished (at most `concurrency` at once), a failed step's dependents
//! skipped while independent steps finish, Ctrl-C turned into a cancelled run.

use crate::graph::StepGraph;
use crate::history::{now, History, StepRecord};
use crate::store::Store;
use crate::RunError;
use mlp_ir::{Literal, Plan, Spec, Step};
use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The pipeline.
    pub pipeline: String,
    /// Re-run this step and everything after it; take the rest from the cache.
    pub from: Option<String>,
    /// Ignore the cache: run every step.
    pub force: bool,
    /// Parameter overrides (`--param k=v`).
    pub params: BTreeMap<String, String>,
    /// Steps running at once.
    pub concurrency: usize,
    /// Echo step output to the terminal.
    pub echo: bool,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// The Python venv whose `bin/` leads PATH for `run` steps; `None`: `MLP_VENV`, else the
    /// nearest `.venv` at or above the project.
    pub venv: Option<PathBuf>,
    /// The schedule tick a scheduled run is for (steps see it as `MLP_SCHEDULED_AT`).
    pub scheduled_at: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// The steps, in declaration order.
    pub steps: Vec<StepRecord>,
}

/// Everything a step needs, shared by the step tasks of a run.
pub(crate) struct Ctx {
    pub plan: Plan,
    pub project: PathBuf,
    pub pipeline: String,
    pub run_id: String,
    pub steps: Vec<Step>,
    pub retries: u64,
    pub retry_delay: Duration,
    /// One attempt per step: a workflow engine retries (`run_step`).
    pub one_attempt: bool,
    pub timeout: Option<Duration>,
    /// Parameter values as text (what `${params.NAME}` becomes).
    pub params: BTreeMap<String, String>,
    pub store: Store,
    pub echo: bool,
    /// Variables every `run` step gets (the venv on PATH, MLP_RUN_ID, ...).
    pub env: BTreeMap<String, String>,
    /// The Python venv of `run` steps (also checks registered models with its PyTorch).
    pub venv: Option<PathBuf>,
    pub cancel: watch::Receiver<bool>,
}

/// `1h 2m 3s`-style text for a duration.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// A parameter value as the text `${params.NAME}` becomes and `--param` takes.
pub fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::String(s) => s.clone(),
        Literal::DurationMs(ms) => format!("{ms}ms"),
        Literal::PerSecond(x) => format!("{x}/s"),
        Literal::Bytes(b) => b.to_string(),
        Literal::Fraction(f) => f.to_string(),
        Literal::Null => String::new(),
    }
}

/// The parameters: declared defaults with `--param` overrides checked against their types.
pub(crate) fn resolve_params(
    pipeline: &str,
    declared: &BTreeMap<String, Literal>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, RunError> {
    let mut out: BTreeMap<String, String> = declared
        .iter()
        .map(|(k, v)| (k.clone(), literal_text(v)))
        .collect();
    for (k, v) in overrides {
        let Some(default) = declared.get(k) else {
            let known = if declared.is_empty() {
                "it declares none".to_string()
            } else {
                format!(
                    "it declares {}",
                    declared
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(RunError::Spec(format!(
                "pipeline `{pipeline}` has no parameter `{k}` ({known})"
            )));
        };
        let ok = match default {
            Literal::Int(_) => v.parse::<i64>().is_ok(),
            Literal::Float(_) => v.parse::<f64>().is_ok_and(f64::is_finite),
            Literal::Bool(_) => v == "true" || v == "false",
            _ => true,
        };
        if !ok {
            let ty = match default {
                Literal::Int(_) => "an integer",
                Literal::Float(_) => "a number",
                _ => "`true` or `false`",
            };
            return Err(RunError::Spec(format!("--param {k}={v}: `{k}` is {ty}")));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// Takes one of the pipeline's run slots (`max_active_runs` of them), or fails at once.
fn take_slot(project: &Path, pipeline: &str, slots: u64) -> Result<File, RunError> {
    let dir = mlp_ir::host::state_dir(project).join("runs");
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    for i in 0..slots.max(1) {
        let path = dir.join(format!("{pipeline}.{i}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| RunError::Io {
                action: "open",
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => continue,
            Err(TryLockError::Error(source)) => {
                return Err(RunError::Io {
                    action: "lock",
                    path,
                    source,
                })
            }
        }
    }
    Err(RunError::Busy(pipeline.to_string(), slots.max(1)))
}

/// The project's Python venv: `MLP_VENV`, else the nearest `.venv` at or above the project.
pub fn find_venv(project: &Path) -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("MLP_VENV") {
        return Some(PathBuf::from(v));
    }
    let abs = std::fs::canonicalize(project).ok()?;
    abs.ancestors()
        .map(|d| d.join(".venv"))
        .find(|v| v.join("bin").join("python").exists())
}

/// The `PATH` the steps inherit, for a venv to go in front of: empty when unset; an error
/// when not UTF-8 (the steps' environment is text, and a lossy copy would break it).
pub(crate) fn inherited_path() -> Result<String, RunError> {
    match std::env::var("PATH") {
        Ok(p) => Ok(p),
        Err(std::env::VarError::NotPresent) => Ok(String::new()),
        Err(std::env::VarError::NotUnicode(_)) => Err(RunError::Spec(
            "cannot put the virtual environment in front of PATH: PATH is not valid UTF-8".into(),
        )),
    }
}

fn new_run_id() -> String {
    let stamp: String = now()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}-{}",
        &stamp[..8.min(stamp.len())],
        &stamp[8.min(stamp.len())..],
        &rand[..6]
    )
}

/// The error for a pipeline the plan does not have, naming those it has.
pub(crate) fn no_pipeline(plan: &Plan, pipeline: &str) -> RunError {
    let known: Vec<String> = plan
        .resources()
        .filter(|r| r.kind() == "pipeline")
        .map(|r| format!("`{}`", r.name))
        .collect();
    RunError::Spec(format!(
        "no pipeline `{pipeline}` in the project ({})",
        if known.is_empty() {
            "it has none".to_string()
        } else {
            format!("it has {}", known.join(", "))
        }
    ))
}

/// The variables every `run` step of run `run_id` gets: the run and pipeline, the schedule
/// tick, and the venv in front of `PATH`.
pub(crate) fn step_env(
    run_id: &str,
    opts: &RunOptions,
    venv: Option<&Path>,
) -> Result<BTreeMap<String, String>, RunError> {
    let mut env = BTreeMap::new();
    env.insert("MLP_RUN_ID".to_string(), run_id.to_string());
    env.insert("MLP_PIPELINE".to_string(), opts.pipeline.clone());
    if let Some(at) = &opts.scheduled_at {
        env.insert("MLP_SCHEDULED_AT".to_string(), at.clone());
    }
    if let Some(v) = venv {
        let path = format!("{}:{}", v.join("bin").display(), inherited_path()?);
        env.insert("PATH".into(), path);
        env.insert("VIRTUAL_ENV".into(), v.display().to_string());
    }
    Ok(env)
}

/// The two-worker tokio runtime steps run on.
pub(crate) fn runner_runtime(project_dir: &Path) -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            action: "start the runner for",
            path: project_dir.to_path_buf(),
            source,
        })
}

/// Runs `opts.pipeline` of `plan` for the project in `project_dir`.
pub fn run_pipeline(
    plan: &Plan,
    project_dir: &Path,
    opts: &RunOptions,
) -> Result<RunReport, RunError> {
    let Some(Spec::Pipeline {
        retries,
        retry_delay_ms,
        timeout_ms,
        max_active_runs,
        params,
        steps,
        ..
    }) = plan.pipeline(&opts.pipeline).map(|r| &r.spec)
    else {
        return Err(no_pipeline(plan, &opts.pipeline));
    };
    let graph = StepGraph::new(&opts.pipeline, steps)?;
    let from = match &opts.from {
        Some(f) => Some(step_index(&graph, &opts.pipeline, steps, f)?),
        None => None,
    };
    let params = resolve_params(&opts.pipeline, params, &opts.params)?;
    let project_dir = &absolute_project(project_dir)?;
    let _slot = take_slot(project_dir, &opts.pipeline, *max_active_runs)?;
    let history = History::open(project_dir)?;
    history.mark_interrupted(&opts.pipeline, *max_active_runs <= 1)?;
    let run_id = new_run_id();
    let store = Store::new(project_dir);
    if *max_active_runs <= 1 {
        store.clean_tmp(&opts.pipeline, &run_id);
    }
    let params_json = params_to_json(&params)?;
    // Read before the run is recorded as started, so that a failure here leaves no trace.
    let venv = opts.venv.clone().or_else(|| find_venv(project_dir));
    let env = step_env(&run_id, opts, venv.as_deref())?;
    let names: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
    history.start_run(&run_id, &opts.pipeline, &opts.trigger, &params_json, &names)?;
    let lineage = crate::lineage::Emitter::new(plan, project_dir, &opts.pipeline, &run_id);
    lineage.run("START");
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        project: project_dir.to_path_buf(),
        pipeline: opts.pipeline.clone(),
        run_id: run_id.clone(),
        steps: steps.clone(),
        retries: *retries,
        retry_delay: Duration::from_millis(*retry_delay_ms),
        one_attempt: false,
        timeout: timeout_ms.map(Duration::from_millis),
        params,
        store,
        echo: opts.echo,
        env,
        venv,
        cancel: cancel_rx,
    });
    let rt = runner_runtime(project_dir)?;
    let forced: Vec<bool> = (0..steps.len())
        .map(|i| opts.force || from.is_some_and(|f| graph.downstream(f).contains(&i)))
        .collect();
    let outcome = rt.block_on(schedule(
        ctx, &graph, &history, &lineage, &forced, opts, cancel_tx,
    ));
    let (status, records) = match outcome {
        Ok(r) => r,
        Err(e) => {
            if let Err(h) = history.finish_run(&run_id, "failed", Some(&e.to_string())) {
                eprintln!("warning: the run history did not record run {run_id} as failed: {h}");
            }
            lineage.run("FAIL");
            return Err(e);
        }
    };
    lineage.run(match status.as_str() {
        "succeeded" => "COMPLETE",
        "cancelled" => "ABORT",
        _ => "FAIL",
    });
    history.finish_run(&run_id, &status, run_error(&records).as_deref())?;
    let steps = history.run(&run_id)?.map(|r| r.steps).unwrap_or(records);
    Ok(RunReport {
        run_id,
        status,
        steps,
    })
}

/// The index of step `name` of `pipeline`; an error that lists its steps when it has none of
/// that name.
pub(crate) fn step_index(
    graph: &StepGraph<'_>,
    pipeline: &str,
    steps: &[mlp_ir::Step],
    name: &str,
) -> Result<usize, RunError> {
    graph.index(name).ok_or_else(|| {
        RunError::Spec(format!(
            "pipeline `{pipeline}` has no step `{name}` (steps: {})",
            steps
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The project folder as an absolute path, so that the paths given to steps hold in any
/// working directory.
pub(crate) fn absolute_project(project_dir: &Path) -> Result<PathBuf, RunError> {
    std::fs::canonicalize(project_dir).map_err(|source| RunError::Io {
        action: "open",
        path: project_dir.to_path_buf(),
        source,
    })
}

/// The run's parameters as the JSON its history records.
pub(crate) fn params_to_json(params: &BTreeMap<String, String>) -> Result<String, RunError> {
    serde_json::to_string(params)
        .map_err(|e| RunError::History(format!("cannot record the run's parameters as JSON: {e}")))
}

/// The run's error: which steps failed, with their errors (`None` when none did).
fn run_error(records: &[StepRecord]) -> Option<String> {
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| format!("`{}` ({})", r.step, r.error.clone().unwrap_or_default()))
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} failed: {}",
            if failed.len() == 1 { "step" } else { "steps" },
            failed.join(", ")
        )
    })
}

/// What the scheduler knows of a step.
#[derive(Clone, PartialEq)]
enum State {
    Pending,
    Running,
    /// Finished with its output hash (None for steps without an output).
    Done(Option<String>),
    /// Failed, skipped or cancelled.
    NotDone,
}

/// A step's finished record, from its task.
type Finished = (usize, StepRecord);

/// Runs the steps in dependency order, up to `opts.concurrency` at once, until each has
/// finished, been skipped after a failure upstream, or been cancelled. Returns the run's
/// status and the steps' records.
async fn schedule(
    ctx: Arc<Ctx>,
    graph: &StepGraph<'_>,
    history: &History,
    lineage: &crate::lineage::Emitter,
    forced: &[bool],
    opts: &RunOptions,
    cancel_tx: watch::Sender<bool>,
) -> Result<(String, Vec<StepRecord>), RunError> {
    let mut state = vec![State::Pending; ctx.steps.len()];
    let mut records: Vec<StepRecord> = ctx
        .steps
        .iter()
        .map(|s| StepRecord {
            step: s.name.clone(),
            status: "pending".into(),
            ..StepRecord::default()
        })
        .collect();
    // Ctrl-C and SIGTERM cancel the run: running steps are stopped, pending ones not started.
    let signals = tokio::spawn(async move {
        mlp_util::shutdown_signal().await;
        // No receiver left means the run has already finished.
        cancel_tx.send(true).ok();
    });
    let mut running: tokio::task::JoinSet<Finished> = tokio::task::JoinSet::new();
    let limit = opts.concurrency.max(1);
    loop {
        skip_after_failures(&ctx, graph, history, &mut state, &mut records)?;
        if !*ctx.cancel.borrow() {
            for i in 0..state.len() {
                if running.len() >= limit {
                    break;
                }
                let ready = state[i] == State::Pending
                    && graph
                        .deps(i)
                        .iter()
                        .all(|d| matches!(state[*d], State::Done(_)));
                if ready {
                    state[i] = State::Running;
                    records[i].status = "running".into();
                    records[i].started = Some(now());
                    history.update_step(&ctx.run_id, &records[i])?;
                    let why_forced = forced[i].then(|| match &opts.from {
                        Some(f) if !opts.force => format!("--from {f}"),
                        _ => "--force".to_string(),
                    });
                    start_step(
                        &ctx,
                        graph,
                        &state,
                        &records[i],
                        i,
                        why_forced,
                        &mut running,
                    );
                }
            }
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (i, rec) = done.map_err(|e| RunError::Step(format!("a step task failed: {e}")))?;
        state[i] = if rec.status == "succeeded" || rec.status == "cached" {
            State::Done(rec.output.clone())
        } else {
            State::NotDone
        };
        records[i] = rec;
        history.update_step(&ctx.run_id, &records[i])?;
        let inputs = outputs_of(&ctx, &state, graph.deps(i).iter().copied());
        tokio::task::block_in_place(|| {
            lineage.step(&ctx.plan, &ctx.steps[i], &records[i], &inputs)
        });
    }
    signals.abort();
    let cancelled = *ctx.cancel.borrow();
    for (i, s) in state.iter().enumerate() {
        if *s == State::Pending {
            records[i].status = if cancelled { "cancelled" } else { "skipped" }.into();
            history.update_step(&ctx.run_id, &records[i])?;
        }
    }
    let status = if cancelled {
        "cancelled"
    } else if records
        .iter()
        .all(|r| r.status == "succeeded" || r.status == "cached")
    {
        "succeeded"
    } else {
        "failed"
    };
    Ok((status.to_string(), records))
}

/// Marks skipped every pending step with a dependency that did not finish, until no more
/// change (a skip skips the steps after it in turn).
fn skip_after_failures(
    ctx: &Ctx,
    graph: &StepGraph<'_>,
    history: &History,
    state: &mut [State],
    records: &mut [StepRecord],
) -> Result<(), RunError> {
    loop {
        let mut changed = false;
        for i in 0..state.len() {
            if state[i] != State::Pending {
                continue;
            }
            let failed: Vec<String> = graph
                .deps(i)
                .iter()
                .filter(|d| state[**d] == State::NotDone)
                .map(|d| format!("`{}`", ctx.steps[*d].name))
                .collect();
            if failed.is_empty() {
                continue;
            }
            state[i] = State::NotDone;
            records[i].status = "skipped".into();
            records[i].reason = format!("{} did not succeed", failed.join(", "));
            history.update_step(&ctx.run_id, &records[i])?;
            changed = true;
        }
        if !changed {
            return Ok(());
        }
    }
}

/// The output hashes of the finished steps among `steps`, by name.
fn outputs_of(
    ctx: &Ctx,
    state: &[State],
    steps: impl Iterator<Item = usize>,
) -> BTreeMap<String, String> {
    steps
        .filter_map(|d| match &state[d] {
            State::Done(Some(h)) => Some((ctx.steps[d].name.clone(), h.clone())),
            _ => None,
        })
        .collect()
}

/// Starts step `i` (recorded as running in `rec`) as a task of `running`, with the outputs
/// of its dependencies and of every step before it.
fn start_step(
    ctx: &Arc<Ctx>,
    graph: &StepGraph<'_>,
    state: &[State],
    rec: &StepRecord,
    i: usize,
    why_forced: Option<String>,
    running: &mut tokio::task::JoinSet<Finished>,
) {
    let inputs = outputs_of(ctx, state, graph.deps(i).iter().copied());
    let ancestor_outputs = outputs_of(ctx, state, graph.ancestors(i).into_iter());
    let started = rec.started.clone();
    let ctx = ctx.clone();
    running.spawn(async move {
        let mut rec = crate::steps::execute(ctx, i, inputs, ancestor_outputs, why_forced).await;
        rec.started = started;
        (i, rec)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_against_their_declared_types() {
        let declared: BTreeMap<String, Literal> = [
            ("epochs".to_string(), Literal::Int(20)),
            ("lr".to_string(), Literal::Float(0.1)),
        ]
        .into();
        let over = |k: &str, v: &str| -> BTreeMap<String, String> {
            [(k.to_string(), v.to_string())].into()
        };
        let p = resolve_params("t", &declared, &over("epochs", "3")).unwrap_or_default();
        assert_eq!(p["epochs"], "3");
        assert_eq!(p["lr"], "0.1");
        let e = |k: &str, v: &str| {
            resolve_params("t", &declared, &over(k, v))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(e("epochs", "x"), "--param epochs=x: `epochs` is an integer");
        assert_eq!(e("lr", "nan"), "--param lr=nan: `lr` is a number");
        assert_eq!(
            e("depth", "3"),
            "pipeline `t` has no parameter `depth` (it declares `epochs`, `lr`)"
        );
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
    }
}
