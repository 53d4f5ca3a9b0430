//! `mlpc lineage`: what a resource or a single feature reads (upstream) and what reads it
//! (downstream), across features, on-demand features, models, pipelines, deployments,
//! monitors and consumers, as text, JSON or Graphviz dot.

use mlp_ir::Plan;
use petgraph::graph::NodeIndex;
use petgraph::Direction;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

/// Which way to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// What the resource reads, transitively.
    Upstream,
    /// What reads the resource, transitively.
    Downstream,
    /// Both.
    Both,
}

/// One node reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct LineageNode {
    /// Resource id.
    pub id: String,
    /// Resource kind.
    pub kind: String,
    /// `upstream` or `downstream`.
    pub direction: String,
    /// Hops from the resource asked about.
    pub depth: usize,
}

/// One edge between reached nodes (always pointing downstream).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct LineageEdge {
    /// Upstream end.
    pub from: String,
    /// Downstream end.
    pub to: String,
    /// Relation (`input`, `serves`, `consumes`...).
    pub kind: String,
}

/// The lineage of one resource: `mlpc lineage --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LineageView {
    /// Version of this document.
    pub format_version: String,
    /// The resource asked about.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Every resource reached, nearest first.
    pub nodes: Vec<LineageNode>,
    /// The edges among the resource and the nodes reached.
    pub edges: Vec<LineageEdge>,
}

/// Resolves a reference: a full id (`feature.user_stats.avg_7d`, `model.scorer`), a
/// feature as `view.feature`, or a bare name when exactly one resource has it.
pub fn resolve(plan: &Plan, reference: &str) -> Result<String, String> {
    if plan.get(reference).is_some() {
        return Ok(reference.to_string());
    }
    let feature = format!("feature.{reference}");
    if plan.get(&feature).is_some() {
        return Ok(feature);
    }
    let named: Vec<&str> = plan
        .resources()
        .filter(|r| r.name == reference && r.kind() != "feature")
        .map(|r| r.id.as_str())
        .collect();
    match named.as_slice() {
        [one] => Ok((*one).to_string()),
        // A name this long matches nothing: no suggestion (edit distances to every id would
        // cost time in proportion to its length).
        [] if reference.len() > 200 => Err(format!(
            "no resource `{}…` in the project (`mlpc ir` lists every id)",
            reference.chars().take(40).collect::<String>()
        )),
        [] => {
            let ids: Vec<&str> = plan.resources().map(|r| r.id.as_str()).collect();
            let short: Vec<String> = plan
                .resources()
                .filter(|r| r.kind() == "feature")
                .map(|r| r.id.trim_start_matches("feature.").to_string())
                .collect();
            let close = ids
                .iter()
                .copied()
                .chain(short.iter().map(String::as_str))
                .min_by_key(|c| strsim::levenshtein(c, reference))
                .filter(|c| strsim::levenshtein(c, reference) <= reference.len() / 3 + 1);
            Err(match close {
                Some(c) => format!("no resource `{reference}` in the project; did you mean `{c}`?"),
                None => {
                    format!("no resource `{reference}` in the project (`mlpc ir` lists every id)")
                }
            })
        }
        many => Err(format!(
            "`{reference}` is ambiguous: {}; give the full id",
            many.join(", ")
        )),
    }
}

fn walk(plan: &Plan, start: NodeIndex, dir: Direction) -> Vec<(NodeIndex, usize)> {
    let mut seen = HashSet::from([start]);
    let mut out = Vec::new();
    let mut frontier = vec![start];
    let mut depth = 0;
    while !frontier.is_empty() {
        depth += 1;
        let mut next = Vec::new();
        for n in frontier {
            for m in plan.graph.neighbors_directed(n, dir) {
                if seen.insert(m) {
                    out.push((m, depth));
                    next.push(m);
                }
            }
        }
        next.sort_by(|a, b| plan.graph[*a].id.cmp(&plan.graph[*b].id));
        frontier = next;
    }
    out
}

/// The lineage of resource `id` (already resolved).
pub fn lineage(plan: &Plan, id: &str, which: Walk) -> Option<LineageView> {
    let start = plan.node(id)?;
    let mut nodes = Vec::new();
    let mut keep: BTreeSet<NodeIndex> = BTreeSet::from([start]);
    let dirs: &[(Direction, &str)] = match which {
        Walk::Upstream => &[(Direction::Incoming, "upstream")],
        Walk::Downstream => &[(Direction::Outgoing, "downstream")],
        Walk::Both => &[
            (Direction::Incoming, "upstream"),
            (Direction::Outgoing, "downstream"),
        ],
    };
    for (dir, name) in dirs {
        for (n, depth) in walk(plan, start, *dir) {
            keep.insert(n);
            let r = &plan.graph[n];
            nodes.push(LineageNode {
                id: r.id.clone(),
                kind: r.kind().to_string(),
                direction: (*name).to_string(),
                depth,
            });
        }
    }
    nodes.sort_by(|a, b| {
        (a.direction.as_str(), a.depth, &a.id).cmp(&(b.direction.as_str(), b.depth, &b.id))
    });
    let kept: HashSet<&str> = keep.iter().map(|n| plan.graph[*n].id.as_str()).collect();
    let edges = plan
        .edges()
        .into_iter()
        .filter(|e| kept.contains(e.from.as_str()) && kept.contains(e.to.as_str()))
        .map(|e| LineageEdge {
            kind: e.kind.name().to_string(),
            from: e.from,
            to: e.to,
        })
        .collect();
    let r = &plan.graph[start];
    Some(LineageView {
        format_version: "1.0".into(),
        id: r.id.clone(),
        kind: r.kind().to_string(),
        nodes,
        edges,
    })
}

impl LineageView {
    /// Adds the consumers the server has seen calling a deployment of this view without
    /// being declared as using it: nodes of kind `undeclared consumer`, one hop below their
    /// deployment, with `consumes (undeclared)` edges.
    pub fn with_undeclared(mut self, undeclared: &[crate::consumers::SeenConsumer]) -> Self {
        let mut deployments: Vec<(String, usize)> = self
            .nodes
            .iter()
            .filter(|n| n.kind == "deployment" && n.direction == "downstream")
            .map(|n| (n.id.clone(), n.depth))
            .collect();
        if self.kind == "deployment" {
            deployments.push((self.id.clone(), 0));
        }
        for (dep, depth) in deployments {
            for s in undeclared
                .iter()
                .filter(|s| format!("deployment.{}", s.deployment) == dep)
            {
                let id = format!("consumer.{}", s.consumer);
                if !self.nodes.iter().any(|n| n.id == id) {
                    self.nodes.push(LineageNode {
                        id: id.clone(),
                        kind: "undeclared consumer".into(),
                        direction: "downstream".into(),
                        depth: depth + 1,
                    });
                }
                self.edges.push(LineageEdge {
                    from: dep.clone(),
                    to: id,
                    kind: "consumes (undeclared)".into(),
                });
            }
        }
        self.nodes.sort_by(|a, b| {
            (a.direction.as_str(), a.depth, &a.id).cmp(&(b.direction.as_str(), b.depth, &b.id))
        });
        self
    }

    /// Text: the resource, then its upstream and downstream resources by distance.
    pub fn to_text(&self) -> String {
        let mut out = format!("{} ({})\n", self.id, self.kind);
        for dir in ["upstream", "downstream"] {
            let nodes: Vec<&LineageNode> =
                self.nodes.iter().filter(|n| n.direction == dir).collect();
            if nodes.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{dir}:");
            for n in nodes {
                let _ = writeln!(out, "{}{} ({})", "  ".repeat(n.depth), n.id, n.kind);
            }
        }
        out
    }

    /// Graphviz dot, the resource asked about in bold.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box];\n");
        let _ = writeln!(out, "  \"{}\" [style=bold];", self.id);
        for n in &self.nodes {
            let _ = writeln!(out, "  \"{}\";", n.id);
        }
        for e in &self.edges {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\"];",
                e.from, e.to, e.kind
            );
        }
        out.push_str("}\n");
        out
    }
}
