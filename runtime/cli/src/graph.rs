//! Renders the plan's resource DAG as Graphviz dot or Mermaid for `mlpc graph`.

use mlp_ir::Plan;

fn label(id: &str) -> String {
    id.replace('"', "'")
}

fn shape(kind: &str) -> &'static str {
    match kind {
        "source" => "cylinder",
        "feature_view" | "feature" => "box",
        "model" => "component",
        "deployment" => "box3d",
        "monitor" => "octagon",
        "consumer" => "house",
        "pipeline" => "cds",
        _ => "ellipse",
    }
}

/// Graphviz dot, one node per resource, edges labelled with their relation.
pub fn dot(plan: &Plan) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n", label(&plan.project));
    for r in plan.resources() {
        out.push_str(&format!(
            "  \"{}\" [shape={}];\n",
            label(&r.id),
            shape(r.kind())
        ));
    }
    for e in plan.edges() {
        let kind = e.kind.name();
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
            label(&e.from),
            label(&e.to),
            kind
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart.
pub fn mermaid(plan: &Plan) -> String {
    let id = |s: &str| s.replace(['.', '-'], "_");
    let mut out = String::from("flowchart LR\n");
    for r in plan.resources() {
        out.push_str(&format!("  {}[\"{}\"]\n", id(&r.id), label(&r.id)));
    }
    for e in plan.edges() {
        let kind = e.kind.name();
        out.push_str(&format!("  {} -->|{}| {}\n", id(&e.from), kind, id(&e.to)));
    }
    out
}
