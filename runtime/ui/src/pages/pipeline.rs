//! A pipeline: its schedule, parameters and steps, its recent runs, and starting a run
//! (with the token), which runs `mlpc run` in the background as `mlpc run` by hand would.

use super::resource::heading;
use crate::layout::{self, chip, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{Resource, Spec};
use std::process::{Command, Stdio};

/// The page of pipeline `r`.
pub fn page(ui: &Ui, r: &Resource) -> Result<Markup, Problem> {
    let Spec::Pipeline {
        schedule,
        params,
        steps,
        ..
    } = &r.spec
    else {
        return Err(Problem::internal("not a pipeline"));
    };
    let runs = match ui.runs()? {
        Some(h) => h
            .runs(Some(&r.name), 20)
            .map_err(|e| Problem::internal(&format!("the run history: {e}")))?,
        None => Vec::new(),
    };
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Schedule" } dd { (schedule.as_deref().unwrap_or("none (run by hand)")) }
            dt { "Params" } dd { code { (params.iter().map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default())).collect::<Vec<_>>().join(", ")) } }
            dt { "Steps" } dd { (steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(" · ")) }
        }
        h2 { "Recent runs" }
        @if runs.is_empty() {
            p class="empty" { "No run yet." }
        } @else {
            table data-testid="pipeline-runs" {
                thead { tr { th { "Run" } th { "Status" } th { "Trigger" } th { "Started" } th { "Duration" } } }
                tbody { @for run in &runs {
                    tr {
                        td class="code" { a href=(format!("/ui/runs/{}", layout::seg(&run.run_id))) { (run.run_id) } }
                        td { (chip(&run.status)) }
                        td { (run.trigger) }
                        td { (run.started) }
                        td class="num" { (layout::ms(run.duration_ms as f64)) }
                    }
                } }
            }
        }
        @if ui.setup.mlpc.is_some() {
            h2 { "Run now" }
            p class="sub" { "Needs the server's token (MLP_TOKEN). Unchanged steps come from the cache." }
            (super::action_form(&format!("/ui/pipelines/{}/run", layout::seg(&r.name)), "Run", "run-pipeline"))
        }
    };
    Ok(shell(&r.name, "runs", body))
}

/// The `mlpc` the write actions run, or why there is none.
pub fn mlpc(ui: &Ui) -> Result<&std::path::Path, Problem> {
    ui.setup.mlpc.as_deref().ok_or_else(|| {
        Problem::bad_request("this server cannot find `mlpc` beside it to run the action")
    })
}

/// Starts `mlpc run DIR PIPELINE` in the background (the run history records it); where to
/// go next: the runs.
pub fn start_run(ui: &Ui, name: &str) -> Result<String, Problem> {
    let plan = ui.plan()?;
    plan.pipeline(name)
        .ok_or_else(|| Problem::not_found(&format!("pipeline `{name}`")))?;
    let mut cmd = Command::new(mlpc(ui)?);
    cmd.arg("run").arg(&ui.project_dir).arg(name).arg("--quiet");
    if let Some(env) = &ui.setup.env {
        cmd.args(["--env", env]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Problem::internal(&format!("starting `mlpc run`: {e}")))?;
    // Reaped when it ends; its outcome is in the run history.
    std::thread::spawn(move || {
        if let Err(e) = child.wait() {
            eprintln!("ui: waiting for `mlpc run`: {e}");
        }
    });
    Ok("/ui/runs".into())
}
