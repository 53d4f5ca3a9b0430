//! The overview (the resource graph, the last apply, whether the source differs from it, a
//! health strip) and search across resource names and docs.

use crate::graph::{self, Node};
use crate::layout::{self, chip, href, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::Plan;
use std::collections::BTreeSet;

/// The column of each kind drawn on the overview: entities, sources and requests, views,
/// models and pipelines, deployments with their monitors beside them, consumers.
fn column(kind: &str) -> Option<usize> {
    Some(match kind {
        "entity" => 0,
        "source" | "request" => 1,
        "feature_view" => 2,
        "model" | "pipeline" => 3,
        "deployment" | "monitor" => 4,
        "consumer" => 5,
        _ => return None,
    })
}

/// The kinds drawn, in column order.
const KINDS: [&str; 9] = [
    "entity",
    "source",
    "request",
    "feature_view",
    "model",
    "pipeline",
    "deployment",
    "monitor",
    "consumer",
];

const HEADS: [&str; 6] = [
    "entities",
    "sources, requests",
    "feature views",
    "models, pipelines",
    "deployments, monitors",
    "consumers",
];

/// The id a resource is drawn as: a feature as its view.
fn drawn(plan: &Plan, id: &str) -> Option<String> {
    let r = plan.get(id)?;
    match &r.spec {
        mlp_ir::Spec::Feature { view, .. } => plan.view(view).map(|v| v.id.clone()),
        _ => column(r.kind()).map(|_| r.id.clone()),
    }
}

/// The resource graph of `plan` (features folded into their views).
pub fn resource_graph(ui: &Ui, plan: &Plan) -> Markup {
    let served: Vec<crate::Served> = ui.live.as_ref().map_or(Vec::new(), |l| l.deployments());
    let nodes: Vec<Node> = plan
        .resources()
        .filter_map(|r| {
            let c = column(r.kind())?;
            let (sub, class) = match served.iter().find(|s| s.name == r.name) {
                Some(s) if r.kind() == "deployment" => match &s.error {
                    None => (
                        format!("deployment · serving {}", s.versions.join(", ")),
                        "good",
                    ),
                    Some(_) => ("deployment · cannot serve".to_string(), "bad"),
                },
                _ => (r.kind().replace('_', " "), ""),
            };
            Some(Node {
                id: r.id.clone(),
                label: r.name.clone(),
                sub,
                href: href(&r.id),
                column: c,
                class,
            })
        })
        .collect();
    let mut edges = BTreeSet::new();
    for e in plan.graph.edge_indices() {
        let Some((a, b)) = plan.graph.edge_endpoints(e) else {
            continue;
        };
        let (from, to) = (
            drawn(plan, &plan.graph[a].id),
            drawn(plan, &plan.graph[b].id),
        );
        if let (Some(f), Some(t)) = (from, to) {
            if f != t {
                edges.insert((f, t));
            }
        }
    }
    let edges: Vec<(String, String)> = edges.into_iter().collect();
    graph::draw(nodes, &edges, &HEADS, &|c, n| {
        let kinds: Vec<&str> = KINDS
            .iter()
            .filter(|k| column(k) == Some(c))
            .copied()
            .collect();
        Some((
            format!("/ui/search?kinds={}", kinds.join(",")),
            format!("… and {n} more (list them)"),
        ))
    })
}

/// The overview page.
pub fn page(ui: &Ui) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let last = ui.last_apply()?;
    let project = plan.project.clone();
    let counts = |k: &str| plan.resources().filter(|r| r.kind() == k).count();
    let body = html! {
        h1 { "Project " (project) }
        dl class="meta" {
            dt { "Last apply" }
            dd data-testid="last-apply" {
                @match &last {
                    Some(a) => {
                        "serial " (a.serial) ", " (a.applied_at) " — "
                        (a.changes[0]) " created, " (a.changes[1]) " updated, "
                        (a.changes[2]) " replaced, " (a.changes[3]) " deleted"
                    },
                    None => "never",
                }
            }
            dt { "Source" }
            dd id="source-drift" hx-get="/ui/source-drift" hx-trigger="load" hx-swap="innerHTML" {
                "comparing the source with the applied plan…"
            }
            dt { "Resources" }
            dd { (counts("feature_view")) " feature views, " (counts("feature")) " features, "
                (counts("model")) " models, " (counts("deployment")) " deployments, "
                (counts("monitor")) " monitors" }
        }
        (health(ui, &plan)?)
        h2 { "Resources" }
        p { "Entities to consumers, left to right; monitors beside their deployments. Every node is a link." }
        (resource_graph(ui, &plan))
    };
    Ok(shell(&format!("Project {project}"), "overview", body))
}

/// Deployments serving, monitors firing and the last run.
fn health(ui: &Ui, plan: &Plan) -> Result<Markup, Problem> {
    let declared = plan
        .resources()
        .filter(|r| r.kind() == "deployment")
        .count();
    let firing: Vec<String> = match ui.monitors()? {
        Some(h) => h
            .alerts(None)
            .map_err(|e| Problem::internal(&format!("the monitor history: {e}")))?
            .into_iter()
            .filter(|a| a.state == mlp_monitoring::monitor::AlertState::Firing)
            .map(|a| format!("{}: {}", a.monitor, a.check))
            .collect(),
        None => Vec::new(),
    };
    let last_run = match ui.runs()? {
        Some(h) => h
            .runs(None, 1)
            .map_err(|e| Problem::internal(&format!("the run history: {e}")))?
            .pop(),
        None => None,
    };
    Ok(html! {
        section class="strip" aria-label="Health" {
            div class="card" data-testid="health-deployments" {
                div class="sub" { "Deployments" }
                @match &ui.live {
                    Some(live) => {
                        @let served = live.deployments();
                        @let ok = served.iter().filter(|s| s.error.is_none()).count();
                        div class="big" { (ok) " of " (declared) }
                        div { "serving " @if ok < declared { (chip("cannot serve")) " " (declared - ok) } }
                    },
                    None => {
                        div class="big" { (declared) }
                        div class="sub" { "declared; `mlpc serve` shows which serve" }
                    },
                }
            }
            div class="card" data-testid="health-monitors" {
                div class="sub" { "Monitors" }
                div class="big" { (firing.len()) }
                div { "checks firing " @if firing.is_empty() { (chip("ok")) } @else { (chip("firing")) } }
                @for f in firing.iter().take(3) { div class="sub" { (f) } }
            }
            div class="card" data-testid="health-run" {
                div class="sub" { "Last run" }
                @match &last_run {
                    Some(r) => {
                        div class="big" { a href=(format!("/ui/runs/{}", layout::seg(&r.run_id))) { (r.pipeline) } }
                        div { (chip(&r.status)) " " (r.started) }
                    },
                    None => { div class="big" { "none" } div class="sub" { "`mlpc run` starts one" } },
                }
            }
        }
    })
}

/// The fragment saying whether the source differs from the applied plan.
pub fn source_drift(ui: &Ui) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    Ok(match ui.source_drift(&plan) {
        Ok(d) if d.is_empty() => html! { (chip("ok")) " the source is what is applied" },
        Ok(d) => html! {
            (chip("differs")) " " (d.len()) " resource(s) differ from what is applied; `mlpc plan` shows how: "
            code { (d.iter().take(10).cloned().collect::<Vec<_>>().join(", ")) }
            @if d.len() > 10 { " and " (d.len() - 10) " more" }
        },
        Err(e) => html! { (chip("error")) " " (e) },
    })
}

/// Search results for `q` across ids and docs (of `kinds` only, when given), at most 200.
pub fn search(ui: &Ui, q: &str, kinds: &[String]) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let needle = q.trim().to_lowercase();
    const SHOWN: usize = 200;
    let mut total = 0;
    let mut hits = Vec::new();
    if !needle.is_empty() || !kinds.is_empty() {
        for r in plan.resources() {
            let kind_ok = kinds.is_empty() || kinds.iter().any(|k| k == r.kind());
            let text_ok = needle.is_empty()
                || r.id.to_lowercase().contains(&needle)
                || r.doc.to_lowercase().contains(&needle);
            if kind_ok && text_ok {
                total += 1;
                if hits.len() < SHOWN {
                    hits.push(r);
                }
            }
        }
    }
    let body = html! {
        h1 { "Search" }
        form method="get" action="/ui/search" class="inline" role="search" {
            label { "Names and docs" input type="search" name="q" value=(q) data-testid="search-page-box"; }
            @if !kinds.is_empty() { input type="hidden" name="kinds" value=(kinds.join(",")); }
            button type="submit" { "Search" }
        }
        @if !kinds.is_empty() { p class="sub" { "Only: " (kinds.join(", ")) } }
        @if needle.is_empty() && kinds.is_empty() {
            p { "Type part of a name or of a doc comment." }
        } @else {
            p data-testid="search-count" { (total) " match" @if total != 1 { "es" }
                @if total > SHOWN { "; the first " (SHOWN) " are shown" } }
            table {
                thead { tr { th { "Resource" } th { "Kind" } th { "Doc" } } }
                tbody { @for r in &hits {
                    tr { td class="code" { (layout::link(&r.id, &r.id)) } td { (r.kind()) } td { (r.doc) } }
                } }
            }
        }
    };
    Ok(shell(&format!("Search {q}"), "", body))
}
