//! `/ui/lineage/REF`: what a resource or a single feature reads and what reads it, as
//! `mlpc lineage` computes it (with the consumers the server has seen but no spec declares),
//! drawn with upstream to the left and downstream to the right, and listed.

use crate::graph::{self, Node};
use crate::layout::{self, href, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_state::lineage::{lineage, LineageView, Walk};

/// The lineage page of `reference`.
pub fn page_of(ui: &Ui, reference: &str) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let r = super::resource::find(&plan, reference)?;
    let undeclared = mlp_state::consumers::undeclared(&plan, &ui.project_dir)
        .map_err(|e| Problem::internal(&format!("the consumers seen: {e}")))?;
    let view = lineage(&plan, &r.id, Walk::Both)
        .ok_or_else(|| Problem::not_found(&format!("resource `{reference}`")))?
        .with_undeclared(&undeclared);
    let body = html! {
        h1 { "Lineage of " span data-testid="lineage-of" { (view.id) } span class="kind" { (view.kind) } }
        p { "Upstream (what it reads) to the left, downstream (what reads it) to the right. "
            (layout::link(&view.id, "The resource's page")) "." }
        (draw(&view))
        h2 { "Reached" }
        table data-testid="lineage-table" {
            thead { tr { th { "Resource" } th { "Kind" } th { "Direction" } th { "Hops" } } }
            tbody { @for n in &view.nodes {
                tr { td class="code" { a href=(href(&n.id)) { (n.id) } } td { (n.kind) } td { (n.direction) } td class="num" { (n.depth) } }
            } }
        }
    };
    Ok(shell(&format!("Lineage of {}", view.id), "", body))
}

fn draw(view: &LineageView) -> Markup {
    let up = view
        .nodes
        .iter()
        .filter(|n| n.direction == "upstream")
        .map(|n| n.depth)
        .max()
        .unwrap_or(0);
    let down = view
        .nodes
        .iter()
        .filter(|n| n.direction == "downstream")
        .map(|n| n.depth)
        .max()
        .unwrap_or(0);
    let mut nodes = vec![Node {
        id: view.id.clone(),
        label: layout::short(&view.id).to_string(),
        sub: view.kind.replace('_', " "),
        href: href(&view.id),
        column: up,
        class: "focus",
    }];
    nodes.extend(view.nodes.iter().map(|n| Node {
        id: n.id.clone(),
        label: layout::short(&n.id).to_string(),
        sub: n.kind.replace('_', " "),
        href: href(&n.id),
        column: if n.direction == "upstream" {
            up - n.depth.min(up)
        } else {
            up + n.depth
        },
        class: "",
    }));
    let heads: Vec<String> = (0..=up + down)
        .map(|c| match c.cmp(&up) {
            std::cmp::Ordering::Less => format!("upstream, {} hop(s)", up - c),
            std::cmp::Ordering::Equal => "this".into(),
            std::cmp::Ordering::Greater => format!("downstream, {} hop(s)", c - up),
        })
        .collect();
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let edges: Vec<(String, String)> = view
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    graph::draw(nodes, &edges, &heads, &|_, n| {
        Some((
            "#lineage-table".into(),
            format!("… and {n} more (listed below)"),
        ))
    })
}
