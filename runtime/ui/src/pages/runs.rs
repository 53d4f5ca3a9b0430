//! Pipeline runs: the history with status, duration and cache hits; one run's DAG with each
//! step's state and why it ran or came from the cache; a step's log.

use crate::graph::{self, Node};
use crate::layout::{self, chip, pager, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::Spec;
use mlp_pipelines::history::{RunRecord, StepRecord};
use std::collections::HashMap;

const PER_PAGE: usize = 50;

fn history_err(e: mlp_pipelines::RunError) -> Problem {
    Problem::internal(&format!("the run history: {e}"))
}

fn run_href(id: &str) -> String {
    format!("/ui/runs/{}", layout::seg(id))
}

fn seconds(ms: u64) -> String {
    layout::ms(ms as f64)
}

/// The run history, newest first.
pub fn list(ui: &Ui, page_no: usize) -> Result<Markup, Problem> {
    let Some(h) = ui.runs()? else {
        return Ok(shell(
            "Runs",
            "runs",
            html! { h1 { "Runs" } p class="empty" { "No run yet: `mlpc run PIPELINE` starts one." } },
        ));
    };
    let plan = ui.plan()?;
    let total = h.count(None).map_err(history_err)?;
    let offset = (page_no - 1).saturating_mul(PER_PAGE);
    let shown = h.runs_page(None, offset, PER_PAGE).map_err(history_err)?;
    let body = html! {
        h1 { "Runs" }
        @if shown.is_empty() {
            p class="empty" { "No run on this page: `mlpc run PIPELINE` starts one." }
        } @else {
            table data-testid="runs" {
                thead { tr { th { "Run" } th { "Pipeline" } th { "Status" } th { "Trigger" } th { "Started" } th { "Duration" } th { "Steps" } th { "From cache" } } }
                tbody { @for r in &shown {
                    @let cached = r.steps.iter().filter(|s| s.cached).count();
                    tr {
                        td class="code" { a href=(run_href(&r.run_id)) data-testid="run-link" { (r.run_id) } }
                        td { (layout::link_to(plan.pipeline(&r.pipeline), &r.pipeline)) }
                        td { (chip(&r.status)) }
                        td { (r.trigger) }
                        td { (r.started) }
                        td class="num" { (seconds(r.duration_ms)) }
                        td class="num" { (r.steps.len()) }
                        td class="num" { (cached) " of " (r.steps.len()) }
                    }
                } }
            }
        }
        (pager(page_no, PER_PAGE, usize::try_from(total).unwrap_or(usize::MAX), |n| format!("/ui/runs?page={n}")))
    };
    Ok(shell("Runs", "runs", body))
}

fn find_run(ui: &Ui, id: &str) -> Result<RunRecord, Problem> {
    let missing = || Problem::not_found(&format!("run `{id}`"));
    let h = ui.runs()?.ok_or_else(missing)?;
    let run = if id == "last" {
        h.runs(None, 1).map(|mut v| v.pop())
    } else {
        h.run(id)
    };
    match run {
        Ok(r) => r.ok_or_else(missing),
        // An ambiguous prefix.
        Err(mlp_pipelines::RunError::Spec(e)) => Err(Problem::bad_request(&e)),
        Err(e) => Err(history_err(e)),
    }
}

/// The state word of a step: `cached` for a cache hit, else its status.
fn state(s: &StepRecord) -> &str {
    if s.cached {
        "cached"
    } else {
        &s.status
    }
}

/// One run: its DAG and steps.
pub fn run(ui: &Ui, id: &str) -> Result<Markup, Problem> {
    let r = find_run(ui, id)?;
    let plan = ui.plan()?;
    // The steps' order comes from the applied pipeline (a step it no longer has stands alone).
    let after: HashMap<String, Vec<String>> = match plan.pipeline(&r.pipeline).map(|p| &p.spec) {
        Some(Spec::Pipeline { steps, .. }) => steps
            .iter()
            .map(|s| (s.name.clone(), s.after.clone()))
            .collect(),
        _ => HashMap::new(),
    };
    let mut depth: HashMap<&str, usize> = HashMap::new();
    fn depth_of<'a>(
        s: &'a str,
        after: &'a HashMap<String, Vec<String>>,
        memo: &mut HashMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        if let Some(d) = memo.get(s) {
            return *d;
        }
        let d = match after.get(s) {
            Some(ps) if guard < 1000 => ps
                .iter()
                .map(|p| depth_of(p, after, memo, guard + 1) + 1)
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        memo.insert(s, d);
        d
    }
    let nodes: Vec<Node> = r
        .steps
        .iter()
        .map(|s| {
            let st = state(s);
            Node {
                id: s.step.clone(),
                label: s.step.clone(),
                sub: format!(
                    "{st}{}",
                    s.duration_ms
                        .map_or(String::new(), |d| format!(" · {}", seconds(d)))
                ),
                href: format!("#step-{}", layout::seg(&s.step)),
                column: depth_of(&s.step, &after, &mut depth, 0),
                class: match st {
                    "succeeded" | "cached" => "good",
                    "failed" => "bad",
                    "running" | "retrying" => "warn",
                    _ => "",
                },
            }
        })
        .collect();
    let edges: Vec<(String, String)> = after
        .iter()
        .flat_map(|(s, ps)| ps.iter().map(move |p| (p.clone(), s.clone())))
        .collect();
    let columns = nodes.iter().map(|n| n.column + 1).max().unwrap_or(1);
    let heads: Vec<String> = (0..columns).map(|c| format!("stage {}", c + 1)).collect();
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let body = html! {
        h1 { "Run " span data-testid="run-id" { (r.run_id) } span class="kind" { "pipeline " (r.pipeline) } }
        dl class="meta" {
            dt { "Status" } dd data-testid="run-status" { (chip(&r.status)) @if let Some(e) = &r.error { " " (e) } }
            dt { "Trigger" } dd { (r.trigger) }
            dt { "Started" } dd { (r.started) }
            dt { "Ended" } dd { (r.ended.as_deref().unwrap_or("not yet")) }
            dt { "Duration" } dd { (seconds(r.duration_ms)) }
            dt { "Params" } dd { code { (r.params) } }
        }
        h2 { "DAG" }
        div data-testid="run-dag" { (graph::draw(nodes, &edges, &heads, &|_, _| None)) }
        h2 { "Steps" }
        table data-testid="steps" {
            thead { tr { th { "Step" } th { "State" } th { "Why" } th { "Attempts" } th { "Duration" } th { "Output" } th { "Log" } } }
            tbody { @for s in &r.steps {
                tr id=(format!("step-{}", s.step)) {
                    td class="code name" { (s.step) }
                    td { (chip(state(s))) @if let Some(c) = s.exit_code { " exit " (c) } }
                    td { (s.reason) @if let Some(e) = &s.error { div class="sub" { (e) } } }
                    td class="num" { (s.attempts) }
                    td class="num" { (s.duration_ms.map_or("-".into(), seconds)) }
                    td class="code" { (s.output.as_deref().map_or("-", layout::short_hash)) @if let Some(reg) = &s.registered { div { "registered " (reg) } } }
                    td { a href=(format!("{}/logs/{}", run_href(&r.run_id), layout::seg(&s.step))) data-testid=(format!("log-{}", s.step)) { "log" } }
                }
            } }
        }
    };
    Ok(shell(&format!("Run {}", r.run_id), "runs", body))
}

/// The log of `step` in run `id`.
pub fn log(ui: &Ui, id: &str, step: &str) -> Result<Markup, Problem> {
    let r = find_run(ui, id)?;
    let s = r
        .steps
        .iter()
        .find(|s| s.step == step)
        .ok_or_else(|| Problem::not_found(&format!("step `{step}` in run `{id}`")))?;
    let path = mlp_ir::host::state_dir(&ui.project_dir)
        .join("runs")
        .join(&r.run_id)
        .join(format!("{step}.log"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Problem::internal(&format!("{}: {e}", path.display()))),
    };
    let body = html! {
        h1 { "Log of " (step) span class="kind" { "run " a href=(run_href(&r.run_id)) { (r.run_id) } } }
        p { (chip(state(s))) " " (s.reason) }
        @match &text {
            Some(t) => pre class="log" data-testid="step-log" { (t) },
            None => p class="empty" data-testid="step-log" { "This step ran nothing in this run (" (s.reason) "), so it has no log here." },
        }
    };
    Ok(shell(&format!("Log of {step}"), "runs", body))
}
