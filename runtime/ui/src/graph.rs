//! Graphs drawn as SVG in columns: the project's resources (entities to consumers), the
//! lineage of one resource (upstream to its left, downstream to its right) and a run's steps.
//! Each column is ordered by where its nodes' parents sit (one barycentre pass), edges are
//! curves from a node's right side to its child's left side, and every node is a link
//! carrying `data-testid="node-ID"`. A column longer than [`MAX_PER_COLUMN`] shows its first
//! nodes and a link to the rest.

use maud::{html, Markup};
use std::collections::HashMap;

/// The most nodes drawn in one column.
pub const MAX_PER_COLUMN: usize = 40;

const COL_W: f64 = 200.0;
const NODE_W: f64 = 168.0;
const NODE_H: f64 = 34.0;
const ROW_H: f64 = 44.0;
const TOP: f64 = 28.0;

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Stable id (the test id and the key of edges).
    pub id: String,
    /// What it says.
    pub label: String,
    /// The smaller line under it (kind, state).
    pub sub: String,
    /// Where it links to.
    pub href: String,
    /// Its column.
    pub column: usize,
    /// Extra class: `focus`, `good`, `bad`, `warn`.
    pub class: &'static str,
}

/// Draws `nodes` in columns headed by `heads`, with `edges` between ids; `more(column,
/// hidden)` is the link shown under a column with hidden nodes.
pub fn draw(
    nodes: Vec<Node>,
    edges: &[(String, String)],
    heads: &[&str],
    more: &dyn Fn(usize, usize) -> Option<(String, String)>,
) -> Markup {
    let columns = heads
        .len()
        .max(nodes.iter().map(|n| n.column + 1).max().unwrap_or(0));
    let mut by_col: Vec<Vec<Node>> = vec![Vec::new(); columns];
    for n in nodes {
        by_col[n.column].push(n);
    }
    let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (f, t) in edges {
        parents.entry(t.as_str()).or_default().push(f.as_str());
    }
    let mut row: HashMap<String, f64> = HashMap::new();
    let mut hidden = vec![0usize; columns];
    for (c, col) in by_col.iter_mut().enumerate() {
        col.sort_by(|a, b| a.label.cmp(&b.label));
        // Ordered by the mean row of the parents already placed; the rest keep name order.
        let key = |n: &Node| -> f64 {
            let ps: Vec<f64> = parents
                .get(n.id.as_str())
                .map(|ps| ps.iter().filter_map(|p| row.get(*p).copied()).collect())
                .unwrap_or_default();
            if ps.is_empty() {
                f64::MAX
            } else {
                ps.iter().sum::<f64>() / ps.len() as f64
            }
        };
        let mut keyed: Vec<(f64, Node)> = col.drain(..).map(|n| (key(&n), n)).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        hidden[c] = keyed.len().saturating_sub(MAX_PER_COLUMN);
        keyed.truncate(MAX_PER_COLUMN);
        for (i, (_, n)) in keyed.into_iter().enumerate() {
            row.insert(n.id.clone(), i as f64);
            col.push(n);
        }
    }
    let rows = by_col
        .iter()
        .enumerate()
        .map(|(c, col)| col.len() + usize::from(hidden[c] > 0))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = columns as f64 * COL_W + 10.0;
    let height = TOP + rows as f64 * ROW_H + 10.0;
    let pos: HashMap<&str, (f64, f64)> = by_col
        .iter()
        .enumerate()
        .flat_map(|(c, col)| {
            col.iter().enumerate().map(move |(i, n)| {
                (
                    n.id.as_str(),
                    (10.0 + c as f64 * COL_W, TOP + i as f64 * ROW_H),
                )
            })
        })
        .collect();
    let curves: Vec<String> = edges
        .iter()
        .filter_map(|(f, t)| {
            let (a, b) = (pos.get(f.as_str())?, pos.get(t.as_str())?);
            let (x1, y1) = (a.0 + NODE_W, a.1 + NODE_H / 2.0);
            let (x2, y2) = (b.0, b.1 + NODE_H / 2.0);
            let bend = ((x2 - x1).abs() / 2.0).max(30.0);
            Some(format!(
                "M{x1:.0} {y1:.0} C{:.0} {y1:.0} {:.0} {y2:.0} {x2:.0} {y2:.0}",
                x1 + bend,
                x2 - bend
            ))
        })
        .collect();
    html! {
        div class="graph" {
            svg class="dag" width=(format!("{width:.0}")) height=(format!("{height:.0}"))
                viewBox=(format!("0 0 {width:.0} {height:.0}")) role="img"
                aria-label="Graph; every node is a link" {
                @for (c, h) in heads.iter().enumerate() {
                    text class="head" x=(format!("{:.0}", 10.0 + c as f64 * COL_W)) y="16" { (h) }
                }
                @for d in &curves { path class="edge" d=(d) {} }
                @for (c, col) in by_col.iter().enumerate() {
                    @for (i, n) in col.iter().enumerate() {
                        @let (x, y) = (10.0 + c as f64 * COL_W, TOP + i as f64 * ROW_H);
                        a href=(n.href) class=(format!("node {}", n.class))
                            data-testid=(format!("node-{}", n.id)) {
                            title { (n.label) " (" (n.sub) ")" }
                            rect x=(format!("{x:.0}")) y=(format!("{y:.0}")) width=(NODE_W)
                                height=(NODE_H) {}
                            text x=(format!("{:.0}", x + 8.0)) y=(format!("{:.0}", y + 15.0)) {
                                (clip(&n.label, 24))
                            }
                            text class="sub" x=(format!("{:.0}", x + 8.0))
                                y=(format!("{:.0}", y + 28.0)) { (clip(&n.sub, 30)) }
                        }
                    }
                    @if hidden[c] > 0 {
                        @if let Some((to, text)) = more(c, hidden[c]) {
                            a href=(to) {
                                text x=(format!("{:.0}", 18.0 + c as f64 * COL_W))
                                    y=(format!("{:.0}", TOP + col.len() as f64 * ROW_H + 18.0)) {
                                    (text)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `s` cut to `n` characters with an ellipsis.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn node(id: &str, column: usize) -> Node {
        Node {
            id: id.into(),
            label: id.into(),
            sub: "kind".into(),
            href: format!("/ui/r/{id}"),
            column,
            class: "",
        }
    }

    #[test]
    fn long_columns_are_cut_with_a_link_and_edges_join_drawn_nodes() {
        let mut nodes: Vec<Node> = (0..MAX_PER_COLUMN + 5)
            .map(|i| node(&format!("v{i:03}"), 1))
            .collect();
        nodes.push(node("<e>", 0));
        let edges = vec![
            ("<e>".to_string(), "v000".to_string()),
            ("<e>".to_string(), "v044".to_string()),
        ];
        let svg = draw(nodes, &edges, &["a", "b"], &|c, n| {
            Some(("/ui/search".into(), format!("col {c}: {n} more")))
        })
        .into_string();
        assert!(svg.contains("col 1: 5 more"), "{svg}");
        assert_eq!(svg.matches("class=\"node ").count(), MAX_PER_COLUMN + 1);
        // v044 is drawn (its parent is placed) ... the edges to drawn nodes are.
        assert_eq!(svg.matches("class=\"edge\"").count(), 2, "{svg}");
        assert!(svg.contains("node-&lt;e&gt;"), "ids are escaped");
    }
}
