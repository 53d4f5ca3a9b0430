//! One step of a run, as a workflow engine runs it: `mlpc run DIR PIPELINE --step NAME
//! --run-id ID`, one container per step (`mlpc export argo`). The run is the one recorded
//! under `ID` in the run history of the project's state (`MLP_STATE_DIR`, a volume every step
//! mounts), created by its first step; a step reads the outputs of the steps it needs from
//! that record, which their own containers wrote, and its cache key, output and registered
//! model are what the local runner would give, since the store is the same content-addressed
//! one. Retries are the engine's (`retryStrategy`), so a step runs once per invocation; a
//! failed step fails the run, and its retry makes the run `running` again; the run succeeds
//! when its last step does.

use crate::graph::StepGraph;
use crate::history::{History, StepRecord};
use crate::runner::{
    absolute_project, find_venv, no_pipeline, params_to_json, resolve_params, step_env, step_index,
    Ctx, RunOptions, RunReport,
};
use crate::store::Store;
use crate::RunError;
use mlp_ir::{Plan, Spec};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Output hashes by step name.
type Outputs = BTreeMap<String, String>;

/// Whether a step's record counts as done for the steps after it.
fn done(r: &StepRecord) -> bool {
    r.status == "succeeded" || r.status == "cached"
}

/// Runs step `step` of `opts.pipeline` in run `run_id` (recorded first when it is new, with
/// `opts.params`; a run already recorded must have been started with the same parameters).
pub fn run_step(
    plan: &Plan,
    project_dir: &Path,
    opts: &RunOptions,
    step: &str,
    run_id: &str,
) -> Result<RunReport, RunError> {
    let Some(Spec::Pipeline {
        timeout_ms,
        params,
        steps,
        ..
    }) = plan.pipeline(&opts.pipeline).map(|r| &r.spec)
    else {
        return Err(no_pipeline(plan, &opts.pipeline));
    };
    check_run_id(run_id)?;
    let graph = StepGraph::new(&opts.pipeline, steps)?;
    let i = step_index(&graph, &opts.pipeline, steps, step)?;
    let params = resolve_params(&opts.pipeline, params, &opts.params)?;
    let params_json = params_to_json(&params)?;
    let project_dir = &absolute_project(project_dir)?;
    let history = History::open(project_dir)?;
    let lineage = crate::lineage::Emitter::new(plan, project_dir, &opts.pipeline, run_id);
    let records = run_records(&history, &lineage, opts, steps, run_id, &params_json)?;
    let (inputs, ancestors) = step_inputs(&graph, steps, i, &records, run_id)?;
    history.set_run_status(run_id, "running", None)?;
    let venv = opts.venv.clone().or_else(|| find_venv(project_dir));
    let env = step_env(run_id, opts, venv.as_deref())?;
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        plan: plan.clone(),
        project: project_dir.to_path_buf(),
        pipeline: opts.pipeline.clone(),
        run_id: run_id.to_string(),
        steps: steps.clone(),
        // The engine retries the container (`retryStrategy`).
        retries: 0,
        retry_delay: Duration::ZERO,
        one_attempt: true,
        timeout: timeout_ms.map(Duration::from_millis),
        params,
        store: Store::new(project_dir),
        echo: opts.echo,
        env,
        venv,
        cancel: cancel_rx,
    });
    let rt = crate::runner::runner_runtime(project_dir)?;
    let forced = opts.force.then(|| "--force".to_string());
    let running = StepRecord {
        step: step.to_string(),
        status: "running".into(),
        started: Some(crate::history::now()),
        ..StepRecord::default()
    };
    history.update_step(run_id, &running)?;
    let mut rec = rt.block_on(crate::steps::execute(
        ctx.clone(),
        i,
        inputs.clone(),
        ancestors,
        forced,
    ));
    rec.started = running.started;
    history.update_step(run_id, &rec)?;
    lineage.step(plan, &steps[i], &rec, &inputs);
    let all = history.run(run_id)?.map(|r| r.steps).unwrap_or_default();
    let status = if !done(&rec) {
        let error = format!(
            "step `{step}` failed: {}",
            rec.error.clone().unwrap_or_default()
        );
        history.set_run_status(run_id, "failed", Some(&error))?;
        lineage.run("FAIL");
        "failed"
    } else if all.iter().all(done) {
        history.set_run_status(run_id, "succeeded", None)?;
        lineage.run("COMPLETE");
        "succeeded"
    } else {
        "running"
    };
    Ok(RunReport {
        run_id: run_id.to_string(),
        status: status.to_string(),
        steps: all,
    })
}

/// A run id names a folder and a workflow's parameter: letters, digits, `-`, `_` and `.`.
fn check_run_id(run_id: &str) -> Result<(), RunError> {
    if run_id.is_empty()
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(RunError::Spec(format!(
            "--run-id `{run_id}`: letters, digits, `-`, `_` and `.` only"
        )));
    }
    Ok(())
}

/// The step records of run `run_id`, which is recorded (and its lineage started) by its
/// first step; a recorded run must be of the same pipeline with the same parameters.
fn run_records(
    history: &History,
    lineage: &crate::lineage::Emitter,
    opts: &RunOptions,
    steps: &[mlp_ir::Step],
    run_id: &str,
    params_json: &str,
) -> Result<Vec<StepRecord>, RunError> {
    match history.run(run_id)? {
        Some(r) if r.pipeline != opts.pipeline => Err(RunError::Spec(format!(
            "run `{run_id}` is a run of pipeline `{}`, not `{}`",
            r.pipeline, opts.pipeline
        ))),
        Some(r) if r.params != params_json => Err(RunError::Spec(format!(
            "run `{run_id}` was started with the parameters {}, not {params_json}: every step of a run takes the same --param values",
            r.params
        ))),
        Some(r) => Ok(r.steps),
        None => {
            let names: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
            history.start_run(run_id, &opts.pipeline, &opts.trigger, params_json, &names)?;
            lineage.run("START");
            Ok(history.run(run_id)?.map(|r| r.steps).unwrap_or_default())
        }
    }
}

/// The output hashes step `i` reads: those of the steps it depends on directly (each must be
/// done in this run), and those of every step before it that is done.
fn step_inputs(
    graph: &StepGraph,
    steps: &[mlp_ir::Step],
    i: usize,
    records: &[StepRecord],
    run_id: &str,
) -> Result<(Outputs, Outputs), RunError> {
    let record = |name: &str| records.iter().find(|r| r.step == name);
    let step = &steps[i].name;
    let mut inputs = BTreeMap::new();
    for d in graph.deps(i) {
        let name = &steps[d].name;
        match record(name) {
            Some(r) if done(r) => {
                if let Some(o) = &r.output {
                    inputs.insert(name.clone(), o.clone());
                }
            }
            r => {
                return Err(RunError::Spec(format!(
                    "step `{step}` needs `{name}`, which has not succeeded in run `{run_id}` ({}): run `--step {name}` first",
                    r.map_or("not recorded", |r| r.status.as_str())
                )))
            }
        }
    }
    let ancestors = graph
        .ancestors(i)
        .into_iter()
        .filter_map(|a| {
            let name = &steps[a].name;
            record(name)
                .filter(|r| done(r))
                .and_then(|r| r.output.clone())
                .map(|o| (name.clone(), o))
        })
        .collect();
    Ok((inputs, ancestors))
}
