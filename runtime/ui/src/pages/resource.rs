//! `/ui/r/ID`: a resource on the page of its kind, and the plain page of the kinds without
//! one of their own (entities, sources, requests, pipelines, consumers, the project).

use crate::layout::{self, href, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{Plan, Resource};
use petgraph::Direction;

/// The resource `reference` names (an id, `view.feature`, or a bare name that is unique).
pub fn find<'p>(plan: &'p Plan, reference: &str) -> Result<&'p Resource, Problem> {
    let id = mlp_state::lineage::resolve(plan, reference).map_err(|e| Problem {
        detail: e,
        ..Problem::not_found("")
    })?;
    plan.get(&id)
        .ok_or_else(|| Problem::not_found(&format!("resource `{reference}`")))
}

/// The page of resource `reference`.
pub fn page_of(ui: &Ui, reference: &str, page: usize) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let r = find(&plan, reference)?;
    match r.kind() {
        "feature_view" => super::view::page(ui, &plan, r, page),
        "pipeline" => super::pipeline::page(ui, r),
        "feature" => super::view::feature(&plan, r),
        "model" => super::models::model(ui, &plan, r),
        "deployment" => super::deployment::page(ui, &plan, r),
        "monitor" => super::monitor::page(ui, &plan, r),
        _ => Ok(plain(&plan, r)),
    }
}

/// The resources next to `r` in the plan: what it reads and what reads it, one hop.
pub fn neighbours(plan: &Plan, r: &Resource, dir: Direction) -> Vec<String> {
    let Some(n) = plan.node(&r.id) else {
        return Vec::new();
    };
    let mut v: Vec<String> = plan
        .graph
        .neighbors_directed(n, dir)
        .map(|m| plan.graph[m].id.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The heading every resource page starts with: name, kind, doc, declaration, lineage link.
pub fn heading(r: &Resource) -> Markup {
    html! {
        h1 data-testid="resource-name" { (r.name) span class="kind" { (r.kind().replace('_', " ")) } }
        @if !r.doc.is_empty() { p class="doc" { (r.doc) } }
        p class="sub" {
            "Declared in " code { (r.origin.file) ":" (r.origin.line) } " · "
            a href=(format!("/ui/lineage/{}", layout::seg(&r.id))) data-testid="lineage-link" { "lineage" }
            " · spec hash " code { (layout::short_hash(&r.hash)) }
        }
    }
}

/// A list of resource links.
pub fn links(ids: &[String]) -> Markup {
    html! {
        @if ids.is_empty() { span class="sub" { "none" } }
        @for (i, id) in ids.iter().enumerate() {
            @if i > 0 { ", " }
            a href=(href(id)) { (id) }
        }
    }
}

fn plain(plan: &Plan, r: &Resource) -> Markup {
    let spec = serde_json::to_string_pretty(&r.spec).unwrap_or_else(|e| e.to_string());
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Reads" } dd { (links(&neighbours(plan, r, Direction::Incoming))) }
            dt { "Read by" } dd { (links(&neighbours(plan, r, Direction::Outgoing))) }
        }
        h2 { "Specification" }
        pre class="log" { (spec) }
    };
    shell(&r.name, "", body)
}
