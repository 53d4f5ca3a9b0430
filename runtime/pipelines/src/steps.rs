//! One step of a run: its cache key, the cache lookup, the attempts with retries and
//! backoff, the action itself (a command, a training set, a materialization, or a gate in
//! gate.rs), the commit of its output into the store and the registration of a model it
//! trains.

use crate::exec::{self, Outcome, Proc};
use crate::history::{now, StepRecord};
use crate::keys::{cache_key, training_features};
use crate::runner::{human_duration, Ctx};
use crate::store::{make_writable, CacheEntry, CacheKey};
use mlp_ir::StepAction;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Why an attempt failed.
pub(crate) struct Failure {
    message: String,
    exit_code: Option<i64>,
    /// Worth another attempt (a command's failure or timeout), or not (a gate, a bad spec).
    retry: bool,
    cancelled: bool,
}

impl Failure {
    /// A failure not worth another attempt.
    pub(crate) fn fatal(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            exit_code: None,
            retry: false,
            cancelled: false,
        }
    }
}

fn log_path(ctx: &Ctx, step: &str) -> PathBuf {
    mlp_ir::host::state_dir(&ctx.project)
        .join("runs")
        .join(&ctx.run_id)
        .join(format!("{step}.log"))
}

/// Appends `line` to a step's log (prefixed `mlp:`, beside its command's own output).
pub(crate) async fn log_line(path: &Path, line: &str) {
    let write = async {
        if let Some(d) = path.parent() {
            tokio::fs::create_dir_all(d).await?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        f.write_all(format!("mlp: {line}\n").as_bytes()).await
    };
    // The step's log is for people; a step is not failed for it, but the loss is said.
    if let Err(e) = write.await {
        eprintln!("warning: cannot write `{}`: {e}", path.display());
    }
}

/// Runs step `i` and returns its record. `inputs` are the output hashes of the steps it
/// depends on directly, `ancestors` those of every step before it.
pub(crate) async fn execute(
    ctx: Arc<Ctx>,
    i: usize,
    inputs: BTreeMap<String, String>,
    ancestors: BTreeMap<String, String>,
    forced: Option<String>,
) -> StepRecord {
    let start = Instant::now();
    let mut rec = StepRecord {
        step: ctx.steps[i].name.clone(),
        started: Some(now()),
        ..StepRecord::default()
    };
    let status = match step_to_record(&ctx, i, &inputs, &ancestors, forced, &mut rec).await {
        Ok(status) | Err(status) => status,
    };
    rec.status = status.into();
    rec.ended = Some(now());
    rec.duration_ms = Some(start.elapsed().as_millis() as u64);
    rec
}

/// Records `error` on the step and ends it as failed.
fn failed(rec: &mut StepRecord, error: String) -> &'static str {
    rec.error = Some(error);
    "failed"
}

/// Step `i` from its cache key to its registered output, filling `rec`. Returns the status it
/// ends in: `Ok` when it succeeded or came from the cache, `Err` when it stopped early.
async fn step_to_record(
    ctx: &Arc<Ctx>,
    i: usize,
    inputs: &BTreeMap<String, String>,
    ancestors: &BTreeMap<String, String>,
    forced: Option<String>,
    rec: &mut StepRecord,
) -> Result<&'static str, &'static str> {
    let step = &ctx.steps[i];
    let log = log_path(ctx, &step.name);
    let key = step_key(ctx, i, inputs, &log, rec).await?;
    rec.cache_key = Some(key.key.clone());
    let cacheable = matches!(
        step.action,
        StepAction::Run { .. } | StepAction::TrainingSet { .. }
    );
    if cacheable && forced.is_none() {
        if let Some(entry) = ctx.store.lookup(&key.key) {
            rec.cached = true;
            rec.output = Some(entry.output.clone());
            rec.reason = format!(
                "cached: nothing it depends on changed since run {}",
                entry.run_id
            );
            // A run killed between committing the output and registering the model left
            // the registration undone; registering is idempotent, so do it now.
            let registered =
                register(ctx, i, &entry.output, ancestors).map_err(|e| failed(rec, e))?;
            rec.registered = registered;
            return Ok("cached");
        }
    }
    rec.reason = run_reason(ctx, i, forced.as_deref(), cacheable, &key);
    let tmp = ctx.store.tmp_path(&ctx.pipeline, &ctx.run_id, &step.name);
    attempts(ctx, i, &tmp, &log, ancestors, rec).await?;
    if !cacheable {
        make_writable(&tmp);
        // Best effort: the step succeeded and nothing reads this folder again; a leftover
        // under `.mlp/tmp` only takes space (`Store::clean_tmp` clears old runs' folders).
        std::fs::remove_dir_all(&tmp).ok();
        return Ok("succeeded");
    }
    let hash = commit_output(ctx, i, &tmp, &key)
        .await
        .map_err(|e| failed(rec, e))?;
    rec.output = Some(hash.clone());
    let registered = register(ctx, i, &hash, ancestors).map_err(|e| failed(rec, e))?;
    rec.registered = registered;
    Ok("succeeded")
}

/// Step `i`'s cache key, computed on a blocking thread (it hashes the step's code and data).
async fn step_key(
    ctx: &Arc<Ctx>,
    i: usize,
    inputs: &BTreeMap<String, String>,
    log: &Path,
    rec: &mut StepRecord,
) -> Result<CacheKey, &'static str> {
    let (ctx2, inputs2) = (ctx.clone(), inputs.clone());
    match tokio::task::spawn_blocking(move || cache_key(&ctx2, i, &inputs2)).await {
        Ok(Ok(k)) => Ok(k),
        Ok(Err(e)) => {
            log_line(log, &e.to_string()).await;
            Err(failed(rec, e.to_string()))
        }
        Err(e) => Err(failed(rec, format!("computing the cache key failed: {e}"))),
    }
}

/// Why step `i` runs rather than coming from the cache.
fn run_reason(
    ctx: &Ctx,
    i: usize,
    forced: Option<&str>,
    cacheable: bool,
    key: &CacheKey,
) -> String {
    let step = &ctx.steps[i];
    match (forced, cacheable) {
        (Some(why), _) => format!("ran: {why}"),
        (None, false) => match step.action {
            StepAction::Materialize { .. } => {
                "ran: materialization always runs (it is incremental itself)".into()
            }
            _ => "ran: gates always run".into(),
        },
        (None, true) => match ctx.store.last_key(&ctx.pipeline, &step.name) {
            None => "ran: no earlier successful run of this step".into(),
            Some(before) => {
                let changes = key.changes_since(&before);
                if changes.is_empty() {
                    "ran: its earlier output is no longer in the store".into()
                } else {
                    format!("ran: {}", changes.join("; "))
                }
            }
        },
    }
}

/// Runs step `i`'s action in `tmp` until an attempt succeeds, retrying with a doubling delay
/// while its failures are worth another attempt. `Err` is the status the step ends in.
async fn attempts(
    ctx: &Arc<Ctx>,
    i: usize,
    tmp: &Path,
    log: &Path,
    ancestors: &BTreeMap<String, String>,
    rec: &mut StepRecord,
) -> Result<(), &'static str> {
    let step = &ctx.steps[i];
    // Under a workflow engine, its retry strategy makes the attempts.
    let attempts = if ctx.one_attempt {
        1
    } else {
        1 + step.retries.unwrap_or(ctx.retries)
    };
    let timeout = step.timeout_ms.map(Duration::from_millis).or(ctx.timeout);
    let mut delay = ctx.retry_delay;
    for attempt in 1..=attempts {
        rec.attempts = attempt;
        fresh_folder(tmp, attempt).map_err(|e| failed(rec, e))?;
        log_line(
            log,
            &format!("attempt {attempt} of {attempts} at {}", now()),
        )
        .await;
        let f = match attempt_action(ctx, i, tmp, log, timeout, ancestors).await {
            Ok(()) => {
                rec.exit_code = matches!(step.action, StepAction::Run { .. }).then_some(0);
                rec.error = None;
                return Ok(());
            }
            Err(f) => f,
        };
        rec.exit_code = f.exit_code;
        rec.error = Some(f.message.clone());
        log_line(log, &f.message).await;
        if f.cancelled {
            return Err("cancelled");
        }
        if !f.retry || attempt == attempts {
            if ctx.echo {
                eprintln!("[{}] failed: {}", step.name, f.message);
            }
            return Err("failed");
        }
        let note = format!(
            "attempt {attempt} failed ({}); retrying in {}",
            f.message,
            human_duration(delay)
        );
        log_line(log, &note).await;
        if ctx.echo {
            eprintln!("[{}] {note}", step.name);
        }
        let mut cancel = ctx.cancel.clone();
        let cancelled = tokio::select! {
            () = tokio::time::sleep(delay) => false,
            _ = cancel.wait_for(|c| *c) => true,
        };
        if cancelled {
            return Err("cancelled");
        }
        delay = delay.saturating_mul(2);
    }
    Ok(())
}

/// Empties `tmp` for an attempt: what an earlier attempt left must not end up in its output.
fn fresh_folder(tmp: &Path, attempt: u64) -> Result<(), String> {
    make_writable(tmp);
    match std::fs::remove_dir_all(tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!(
                "cannot empty `{}` for attempt {attempt}: {e}",
                tmp.display()
            ));
        }
        _ => {}
    }
    std::fs::create_dir_all(tmp).map_err(|e| format!("cannot create `{}`: {e}", tmp.display()))
}

/// Commits step `i`'s output folder into the store and records it under its cache key (on a
/// blocking thread); returns the output's hash.
async fn commit_output(
    ctx: &Arc<Ctx>,
    i: usize,
    tmp: &Path,
    key: &CacheKey,
) -> Result<String, String> {
    let (ctx2, tmp2, key2) = (ctx.clone(), tmp.to_path_buf(), key.clone());
    let name = ctx.steps[i].name.clone();
    let committed = tokio::task::spawn_blocking(move || {
        let hash = ctx2.store.commit(&tmp2)?;
        ctx2.store.record(
            &ctx2.pipeline,
            &name,
            &CacheEntry {
                key: key2,
                output: hash.clone(),
                run_id: ctx2.run_id.clone(),
            },
        )?;
        Ok::<_, crate::RunError>(hash)
    })
    .await;
    match committed {
        Ok(Ok(h)) => Ok(h),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("storing the output failed: {e}")),
    }
}

/// The venv of a step's declared Python environment, built first if need be (on a blocking
/// thread: it may wait for another run's build); a failure is the step's, not retried.
async fn step_venv(
    ctx: &Arc<Ctx>,
    step: &str,
    python: &mlp_ir::PythonEnv,
    log: &Path,
) -> Result<PathBuf, Failure> {
    let (python, project, log) = (python.clone(), ctx.project.clone(), log.to_path_buf());
    let announce = ctx.echo.then(|| step.to_string());
    tokio::task::spawn_blocking(move || {
        // A first build can take minutes (pip downloading torch): say so on the terminal.
        if let Some(step) = announce.filter(|_| crate::pyenv::ready(&python, &project).is_none()) {
            eprintln!(
                "[{step}] building the Python environment {} (once; pip's output goes to the step log)",
                python.text()
            );
        }
        crate::pyenv::prepare(&python, &project, &log)
    })
        .await
        .map_err(|e| Failure::fatal(format!("preparing the Python environment failed: {e}")))?
        .map_err(|e| Failure::fatal(format!("Python environment: {e}")))
}

/// One attempt at step `i`'s action, its output written into `tmp`.
async fn attempt_action(
    ctx: &Arc<Ctx>,
    i: usize,
    tmp: &Path,
    log: &Path,
    timeout: Option<Duration>,
    ancestors: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    match &step.action {
        StepAction::Run { command } => {
            run_command(ctx, i, command, tmp, log, timeout, ancestors).await
        }
        StepAction::TrainingSet {
            labels,
            features,
            at,
        } => training_set(ctx, i, labels, features, at, tmp, log).await,
        StepAction::Materialize { views } => materialize_views(ctx, i, views, log).await,
        StepAction::Gate { require, promote } => {
            crate::gate::gate(ctx, i, require, promote.as_ref(), ancestors, log).await
        }
    }
}

/// A `run` step: its command, placeholders filled in, run by `sh` in the step's Python
/// environment and `env`, with `MLP_OUT` set to `tmp`.
async fn run_command(
    ctx: &Arc<Ctx>,
    i: usize,
    command: &str,
    tmp: &Path,
    log: &Path,
    timeout: Option<Duration>,
    ancestors: &BTreeMap<String, String>,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    let lookup = |name: &str| -> Option<String> {
        match name {
            "out" => Some(tmp.display().to_string()),
            "run.id" => Some(ctx.run_id.clone()),
            _ => {
                if let Some(p) = name.strip_prefix("params.") {
                    return ctx.params.get(p).cloned();
                }
                let s = name.strip_suffix(".output")?;
                ancestors
                    .get(s)
                    .map(|h| ctx.store.output_path(h).display().to_string())
            }
        }
    };
    let command = crate::interp::interpolate(command, lookup).map_err(|e| {
        Failure::fatal(match e {
            crate::interp::InterpError::Unknown(name) => format!(
                "`${{{name}}}` is not known here (use ${{out}}, ${{params.NAME}}, ${{STEP.output}} of a step it runs after, or ${{run.id}})"
            ),
            crate::interp::InterpError::Unquotable(name) => format!(
                "the value of `${{{name}}}` holds a NUL byte, which no shell word can hold"
            ),
        })
    })?;
    let mut env = ctx.env.clone();
    if let Some(python) = &step.python {
        let venv = step_venv(ctx, &step.name, python, log).await?;
        let path = crate::runner::inherited_path().map_err(|e| Failure::fatal(e.to_string()))?;
        env.insert(
            "PATH".into(),
            format!("{}:{path}", venv.join("bin").display()),
        );
        env.insert("VIRTUAL_ENV".into(), venv.display().to_string());
    }
    env.extend(step.env.clone());
    env.insert("MLP_OUT".into(), tmp.display().to_string());
    let workdir = match &step.workdir {
        Some(w) => ctx.project.join(w),
        None => ctx.project.clone(),
    };
    log_line(log, &format!("$ {command}")).await;
    let proc = Proc {
        step: step.name.clone(),
        command,
        workdir,
        env,
        log: log.to_path_buf(),
        timeout,
        echo: ctx.echo,
    };
    match exec::run(&proc, ctx.cancel.clone()).await {
        Ok(Outcome::Exited(0)) => Ok(()),
        Ok(Outcome::Exited(code)) => Err(Failure {
            message: format!("the command exited with code {code}"),
            exit_code: Some(i64::from(code)),
            retry: true,
            cancelled: false,
        }),
        Ok(Outcome::Signaled(sig)) => Err(Failure {
            message: format!("the command was killed by signal {sig}"),
            exit_code: None,
            retry: true,
            cancelled: false,
        }),
        Ok(Outcome::TimedOut) => Err(Failure {
            message: format!(
                "timed out after {}",
                human_duration(timeout.unwrap_or_default())
            ),
            exit_code: None,
            retry: true,
            cancelled: false,
        }),
        Ok(Outcome::Cancelled) => Err(Failure {
            message: "cancelled".into(),
            exit_code: None,
            retry: false,
            cancelled: true,
        }),
        Err(e) => Err(Failure::fatal(format!("cannot start `sh`: {e}"))),
    }
}

/// A `training_set` step: point-in-time features for the label rows, into
/// `tmp/training_set.parquet`.
async fn training_set(
    ctx: &Arc<Ctx>,
    i: usize,
    labels: &str,
    features: &[mlp_ir::InputRef],
    at: &str,
    tmp: &Path,
    log: &Path,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    let req = mlp_features::HistoricalRequest {
        project_dir: ctx.project.clone(),
        entities: ctx.project.join(labels),
        features: training_features(features),
        at: at.to_string(),
        out: tmp.join("training_set.parquet"),
    };
    let plan_ctx = ctx.clone();
    let report =
        tokio::task::spawn_blocking(move || mlp_features::historical(&plan_ctx.plan, &req))
            .await
            .map_err(|e| Failure::fatal(format!("the training set task failed: {e}")))?
            .map_err(|e| Failure::fatal(e.to_string()))?;
    log_line(
        log,
        &format!(
            "training set: {} rows, columns {}",
            report.rows,
            report.columns.join(", ")
        ),
    )
    .await;
    if ctx.echo {
        println!("[{}] training set: {} rows", step.name, report.rows);
    }
    Ok(())
}

/// A `materialize` step: the views' new rows into the online store.
async fn materialize_views(
    ctx: &Arc<Ctx>,
    i: usize,
    views: &[String],
    log: &Path,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    let plan_ctx = ctx.clone();
    let views = views.to_vec();
    let done = tokio::task::spawn_blocking(move || {
        mlp_features::materialize(&plan_ctx.plan, &plan_ctx.project, &views, None)
    })
    .await
    .map_err(|e| Failure::fatal(format!("the materialization task failed: {e}")))?
    .map_err(|e| Failure {
        message: e.to_string(),
        exit_code: None,
        retry: true,
        cancelled: false,
    })?;
    for m in done {
        let line = format!("{}: {} keys updated up to {}", m.view, m.keys, m.until);
        log_line(log, &line).await;
        if ctx.echo {
            println!("[{}] {line}", step.name);
        }
    }
    Ok(())
}

/// When step `i` registers a model, turns its output into a registry version (idempotent:
/// the same artifact is the same version).
fn register(
    ctx: &Ctx,
    i: usize,
    output: &str,
    ancestors: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    let step = &ctx.steps[i];
    let Some(model) = &step.registers else {
        return Ok(None);
    };
    let dir = ctx.store.output_path(output);
    let artifact = dir.join("model.pt");
    if !artifact.is_file() {
        return Err(format!(
            "step `{}` registers `{model}` but wrote no model.pt into ${{out}}",
            step.name
        ));
    }
    crate::model_check::check_torchscript(&artifact)?;
    let metrics_file = dir.join("metrics.json");
    let metrics = if metrics_file.exists() {
        mlp_registry::read_metrics(&metrics_file).map_err(|e| e.to_string())?
    } else {
        BTreeMap::new()
    };
    let mut params: BTreeMap<String, serde_json::Value> = ctx
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let params_file = dir.join("params.json");
    if params_file.exists() {
        params.extend(mlp_registry::read_object(&params_file).map_err(|e| e.to_string())?);
    }
    // The training set: the first training_set step among the steps before this one.
    let training_set = ctx.steps.iter().find_map(|s| match &s.action {
        StepAction::TrainingSet { features, .. } => {
            ancestors
                .get(&s.name)
                .map(|hash| mlp_registry::TrainingSet {
                    sha256: hash.clone(),
                    features: training_features(features),
                })
        }
        _ => None,
    });
    let signature = crate::model_check::signature(&ctx.plan, model);
    // The step's own Python environment checks what it trained, else the project's venv.
    let venv = match &step.python {
        Some(env) => crate::pyenv::ready(env, &ctx.project),
        None => ctx.venv.clone(),
    };
    if let (Some(_), Some(venv)) = (&signature, &venv) {
        crate::model_check::check_with_torch(
            &artifact,
            &ctx.plan,
            model,
            &venv.join("bin").join("python"),
        )?;
    }
    let new = mlp_registry::NewVersion {
        model: model.clone(),
        artifact,
        metrics,
        params,
        tags: [("pipeline".to_string(), ctx.pipeline.clone())].into(),
        origin: mlp_registry::Origin {
            pipeline: Some(ctx.pipeline.clone()),
            run_id: Some(ctx.run_id.clone()),
            step: Some(step.name.clone()),
        },
        training_set,
        signature,
    };
    let mut reg = mlp_registry::Registry::open(&ctx.project).map_err(|e| e.to_string())?;
    let done = reg.register(&new).map_err(|e| e.to_string())?;
    if ctx.echo {
        println!(
            "[{}] {} {model} version {}",
            step.name,
            if done.created {
                "registered"
            } else {
                "already registered as"
            },
            done.version.version
        );
    }
    Ok(Some(format!("{model}@{}", done.version.version)))
}
