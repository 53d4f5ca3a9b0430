//! Finding cycles for the checks that forbid them (on-demand features, pipeline steps,
//! deployment graphs): the strongly connected components of a petgraph graph that have more
//! than one node, or one node with an edge to itself.

use crate::fast::{HashMap, HashSet};
use petgraph::graph::DiGraph;
use std::hash::Hash;

/// One cycle: its members sorted, and the edges between them in the order they were given.
#[derive(Debug)]
pub(crate) struct Cycle<K, E> {
    /// Node keys on the cycle, sorted.
    pub members: Vec<K>,
    /// `(from, to, weight)` of every edge inside the cycle.
    pub edges: Vec<(K, K, E)>,
}

/// Every cycle of the graph with `nodes` and `edges`; edges naming an unknown node are
/// ignored (their endpoints were reported as unknown names already).
pub(crate) fn find_cycles<K, E>(
    nodes: impl IntoIterator<Item = K>,
    edges: impl IntoIterator<Item = (K, K, E)>,
) -> Vec<Cycle<K, E>>
where
    K: Clone + Eq + Hash + Ord,
    E: Clone,
{
    let mut g: DiGraph<K, E> = DiGraph::new();
    let mut idx = HashMap::default();
    for n in nodes {
        if !idx.contains_key(&n) {
            idx.insert(n.clone(), g.add_node(n));
        }
    }
    for (from, to, w) in edges {
        if let (Some(&a), Some(&b)) = (idx.get(&from), idx.get(&to)) {
            g.add_edge(a, b, w);
        }
    }
    let mut out = Vec::new();
    for scc in petgraph::algo::tarjan_scc(&g) {
        let self_loop = scc.len() == 1 && g.find_edge(scc[0], scc[0]).is_some();
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let set: HashSet<_> = scc.iter().copied().collect();
        let mut members: Vec<K> = scc.iter().map(|i| g[*i].clone()).collect();
        members.sort();
        let edges = g
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = g.edge_endpoints(e)?;
                (set.contains(&a) && set.contains(&b))
                    .then(|| (g[a].clone(), g[b].clone(), g[e].clone()))
            })
            .collect();
        out.push(Cycle { members, edges });
    }
    out.sort_by(|a, b| a.members.cmp(&b.members));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_loops_and_self_loops_but_not_chains() {
        let cycles = find_cycles(
            ["a", "b", "c", "d"],
            [
                ("a", "b", 1),
                ("b", "a", 2),
                ("c", "c", 3),
                ("c", "d", 4),
                ("x", "a", 5),
            ],
        );
        let members: Vec<_> = cycles.iter().map(|c| c.members.clone()).collect();
        assert_eq!(members, vec![vec!["a", "b"], vec!["c"]]);
        assert_eq!(cycles[0].edges, vec![("a", "b", 1), ("b", "a", 2)]);
        assert!(find_cycles(["a", "b"], [("a", "b", ())]).is_empty());
    }
}
