//! A monitor: the state of each check, its history charts with thresholds and each
//! evaluation's outcome, and the latest distributions (baseline against window): the
//! sections of `mlpc monitor report`, from the same history.

use super::resource::heading;
use crate::layout::{self, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{Plan, Resource, Spec};

fn err(e: impl std::fmt::Display) -> Problem {
    Problem::internal(&format!("the monitor history: {e}"))
}

/// The page of monitor `r`.
pub fn page(ui: &Ui, plan: &Plan, r: &Resource) -> Result<Markup, Problem> {
    let Spec::Monitor {
        on,
        every_ms,
        window_ms,
        checks,
        ..
    } = &r.spec
    else {
        return Err(Problem::internal("not a monitor"));
    };
    let (entries, alerts) = match ui.monitors()? {
        Some(h) => (
            h.entries(Some(&r.name), i64::MIN).map_err(err)?,
            h.alerts(Some(&r.name)).map_err(err)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Watches" } dd { (crate::layout::link_to(plan.deployment(on), on)) }
            dt { "Every" } dd { (super::view::duration(*every_ms)) ", over a window of " (super::view::duration(*window_ms)) }
            dt { "Checks" } dd { (checks.len()) }
        }
        @if ui.setup.mlpc.is_some() {
            (super::action_form(&format!("/ui/monitors/{}/run", crate::layout::seg(&r.name)), "Evaluate now", "run-monitor"))
        }
        @if entries.is_empty() {
            p class="empty" data-testid="never-evaluated" { "Never evaluated: `mlpc serve` evaluates it on its schedule, `mlpc monitor run` at once." }
        } @else {
            div data-testid="monitor-report" { (mlp_monitoring::monitor::report_html::sections(&entries, &alerts, layout::now_us())) }
        }
    };
    Ok(shell(&r.name, "", body))
}

/// Evaluates monitor `name` now with `mlpc monitor run` (its alerts are sent as on its
/// schedule) and waits for it; where to go next: the monitor's page.
pub fn evaluate_now(ui: &Ui, name: &str) -> Result<String, Problem> {
    let plan = ui.plan()?;
    let r = plan
        .monitor(name)
        .ok_or_else(|| Problem::not_found(&format!("monitor `{name}`")))?;
    let out = std::process::Command::new(super::pipeline::mlpc(ui)?)
        .args(["monitor", "run"])
        .arg(&ui.project_dir)
        .arg(name)
        .args(["--format", "json"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Problem::internal(&format!("running `mlpc monitor run`: {e}")))?;
    // Its exit code says how the checks went (a failed check, a check that could not be
    // evaluated, an alert not delivered); what matters here is that it evaluated: its JSON
    // holds the run.
    let runs: Option<Vec<serde_json::Value>> = serde_json::from_slice(&out.stdout).ok();
    if runs.is_some_and(|r| !r.is_empty()) {
        Ok(crate::layout::href(&r.id))
    } else {
        Err(Problem::internal(&format!(
            "`mlpc monitor run` did not evaluate it: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
