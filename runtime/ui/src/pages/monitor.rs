//! A monitor: the state of each check, its history charts with thresholds and each
//! evaluation's outcome, and the latest distributions (baseline against window): the
//! sections of `mlpc monitor report`, from the same history.

use super::resource::{heading, links};
use crate::layout::{self, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{Plan, Resource, Spec};

fn err(e: impl std::fmt::Display) -> Problem {
    Problem::internal(&format!("the monitor history: {e}"))
}

/// The page of monitor `r`.
pub fn page(ui: &Ui, _plan: &Plan, r: &Resource) -> Result<Markup, Problem> {
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
            dt { "Watches" } dd { (links(&[format!("deployment.{on}")])) }
            dt { "Every" } dd { (super::view::duration(*every_ms)) ", over a window of " (super::view::duration(*window_ms)) }
            dt { "Checks" } dd { (checks.len()) }
        }
        @if entries.is_empty() {
            p class="empty" data-testid="never-evaluated" { "Never evaluated: `mlpc serve` evaluates it on its schedule, `mlpc monitor run` at once." }
        } @else {
            div data-testid="monitor-report" { (mlp_monitoring::monitor::report_html::sections(&entries, &alerts, layout::now_us())) }
        }
    };
    Ok(shell(&r.name, "", body))
}
