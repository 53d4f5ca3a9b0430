//! `mlpc export argo [DIR] PIPELINE --image IMAGE`: a pipeline of the applied plan as an Argo
//! Workflow and, when it has a `schedule`, a CronWorkflow (Argo 3.6+, `schedules` as a list).
//!
//! Each step is a container of IMAGE running `mlpc run /project PIPELINE --step NAME --run-id
//! {{workflow.name}}`, one after the other in the steps' order, on the project's state volume
//! (`MLP_STATE_DIR=/state`, the `PROJECT-state` claim): the run history and the
//! content-addressed step store are shared, so the cache and idempotence hold across pods
//! (`mlp_pipelines::run_step`). The pipeline's parameters are the workflow's, passed to every
//! step. `retries` and `retry_delay` (doubling) are each template's `retryStrategy`, except
//! for a gate that did not pass (exit 3), which a retry would not change; a step's `timeout`
//! (or the pipeline's) is its `activeDeadlineSeconds`. On the CronWorkflow, `max_active_runs
//! = 1` is `concurrencyPolicy: Forbid`, more is `Allow` with a semaphore of that many
//! workflows (a ConfigMap); `catchup = none` is `startingDeadlineSeconds: 0`, `latest` the
//! schedule's longest gap between ticks (the last missed run starts late, as mlp's scheduler
//! does); `all` has no Argo equivalent and is refused.

use crate::suggest::k8s::{dns_name, state_claim, STATE_MOUNT};
use chrono::Utc;
use mlp_ir::{Plan, Spec, Step, StepAction};
use mlpc_shared::{applied_plan, fail};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit code of `mlpc run --step` for a gate that did not pass: not worth a retry.
pub const GATE_FAILED: u8 = 3;

/// `mlpc export argo`.
#[derive(Debug, clap::Args)]
pub struct ExportArgoArgs {
    /// `[DIR] PIPELINE`: the project folder (default `.`) and the pipeline.
    #[arg(value_name = "[DIR] PIPELINE", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// The container image (the root Dockerfile's, with the project at `/project`).
    #[arg(long)]
    pub image: String,
    /// The environment the steps read (DIR/env/NAME.yaml), passed to each `mlpc run`.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Write the YAML here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `mlpc export argo`.
pub fn export(a: &ExportArgoArgs) -> ExitCode {
    let (dir, rest) = mlpc_shared::split_dir(&a.args, 1, 1);
    let Some(pipeline) = rest.first() else {
        return fail("name the pipeline: `mlpc export argo [DIR] PIPELINE --image IMAGE`");
    };
    let plan = match applied_plan(&dir) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let docs = match workflows(&plan, pipeline, &a.image, a.env.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let mut yaml = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            yaml.push_str("---\n");
        }
        match serde_yaml::to_string(d) {
            Ok(y) => yaml.push_str(&y),
            Err(e) => return fail(format!("cannot write YAML: {e}")),
        }
    }
    crate::suggest::k8s_cmd::emit(&yaml, a.out.as_ref())
}

/// The documents for `pipeline`: the Workflow, then the CronWorkflow (and its semaphore's
/// ConfigMap) when it is scheduled.
pub fn workflows(
    plan: &Plan,
    pipeline: &str,
    image: &str,
    env: Option<&str>,
) -> Result<Vec<Value>, String> {
    let Some(Spec::Pipeline {
        schedule,
        catchup,
        retries,
        retry_delay_ms,
        timeout_ms,
        max_active_runs,
        params,
        steps,
    }) = plan.pipeline(pipeline).map(|r| &r.spec)
    else {
        return Err(format!("no pipeline `{pipeline}` in the applied plan"));
    };
    let name = dns_name(&[&plan.project, pipeline]);
    let order = mlp_pipelines::graph::StepGraph::new(pipeline, steps)
        .map_err(|e| e.to_string())?
        .order();
    let mut templates = vec![];
    let mut sequence = vec![];
    let mut seen = std::collections::BTreeMap::new();
    for i in order {
        let step = &steps[i];
        let t = dns_name(&["step", &step.name]);
        if let Some(other) = seen.insert(t.clone(), step.name.clone()) {
            return Err(format!(
                "steps `{other}` and `{}` have the same Argo name `{t}`: rename one",
                step.name
            ));
        }
        sequence.push(json!([{"name": t, "template": t}]));
        let defaults = Defaults {
            retries: *retries,
            retry_delay_ms: *retry_delay_ms,
            timeout_ms: *timeout_ms,
        };
        templates.push(template(&t, step, pipeline, params, image, env, defaults));
    }
    templates.insert(0, json!({"name": "main", "steps": sequence}));
    let mut spec = json!({
        "entrypoint": "main",
        "arguments": {"parameters": params.iter().map(|(k, v)| json!({"name": k, "value": mlp_pipelines::runner::literal_text(v)})).collect::<Vec<_>>()},
        "volumes": [{"name": "state", "persistentVolumeClaim": {"claimName": state_claim(&plan.project)}}],
        "templates": templates,
    });
    let labels = json!({
        "app.kubernetes.io/part-of": "mlp",
        "mlp.dev/project": dns_name(&[&plan.project]),
        "mlp.dev/pipeline": dns_name(&[pipeline]),
    });
    let workflow = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": format!("{name}-"), "labels": labels},
        "spec": spec.clone(),
    });
    let Some(cron) = schedule else {
        return Ok(vec![workflow]);
    };
    let deadline = match catchup.as_str() {
        "none" => 0,
        "latest" => longest_gap_s(cron)?,
        other => {
            return Err(format!(
                "pipeline `{pipeline}` has `catchup = {other}`: Argo starts at most the latest missed run of a CronWorkflow, never every one; use `catchup = latest` (or `none`) for Argo, and backfill with `mlpc run` if needed"
            ))
        }
    };
    let mut docs = vec![workflow];
    let policy = if *max_active_runs <= 1 {
        "Forbid"
    } else {
        // Argo's concurrencyPolicy knows one run or any number: a semaphore counts to N.
        let limits = format!("{name}-limits");
        spec["synchronization"] =
            json!({"semaphores": [{"configMapKeyRef": {"name": limits, "key": "workflows"}}]});
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": limits, "labels": labels},
            "data": {"workflows": max_active_runs.to_string()},
        }));
        "Allow"
    };
    docs.push(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "schedules": [cron],
            "timezone": "UTC",
            "concurrencyPolicy": policy,
            "startingDeadlineSeconds": deadline,
            "workflowSpec": spec,
        },
    }));
    Ok(docs)
}

/// The pipeline's defaults a step falls back to.
#[derive(Clone, Copy)]
struct Defaults {
    retries: u64,
    retry_delay_ms: u64,
    timeout_ms: Option<u64>,
}

/// The container template of `step`.
fn template(
    t: &str,
    step: &Step,
    pipeline: &str,
    params: &std::collections::BTreeMap<String, mlp_ir::Literal>,
    image: &str,
    env: Option<&str>,
    d: Defaults,
) -> Value {
    let mut args: Vec<String> = [
        "run",
        "/project",
        pipeline,
        "--step",
        &step.name,
        "--run-id",
        "{{workflow.name}}",
        "--quiet",
    ]
    .map(String::from)
    .to_vec();
    for k in params.keys() {
        args.push("--param".into());
        args.push(format!("{k}={{{{workflow.parameters.{k}}}}}"));
    }
    if let Some(e) = env {
        args.push("--env".into());
        args.push(e.to_string());
    }
    let mut out = json!({
        "name": t,
        "container": {
            "image": image,
            "args": args,
            "env": [{"name": mlp_ir::host::STATE_DIR_VAR, "value": STATE_MOUNT}],
            "volumeMounts": [{"name": "state", "mountPath": STATE_MOUNT}],
        },
    });
    let retries = step.retries.unwrap_or(d.retries);
    if retries > 0 {
        let mut strategy = json!({
            "limit": retries.to_string(),
            "retryPolicy": "OnFailure",
            "backoff": {"duration": format!("{}s", d.retry_delay_ms.div_ceil(1000).max(1)), "factor": "2"},
        });
        if matches!(step.action, StepAction::Gate { .. }) {
            strategy["expression"] = json!(format!("asInt(lastRetry.exitCode) != {GATE_FAILED}"));
        }
        out["retryStrategy"] = strategy;
    }
    if let Some(ms) = step.timeout_ms.or(d.timeout_ms) {
        out["activeDeadlineSeconds"] = json!(ms.div_ceil(1000).max(1));
    }
    out
}

/// The longest gap, in seconds, between two ticks of `cron` over the next year: a missed
/// tick then always starts within the deadline, at most one late.
fn longest_gap_s(cron: &str) -> Result<i64, String> {
    let s = mlp_pipelines::schedule::parse_cron(cron).map_err(|e| e.to_string())?;
    let now = Utc::now();
    let ticks: Vec<_> = s
        .after(&now)
        .take_while(|t| (*t - now).num_days() <= 366)
        .take(100_000)
        .collect();
    let gap = ticks
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .max()
        .unwrap_or(366 * 86_400);
    Ok(gap.max(1))
}
