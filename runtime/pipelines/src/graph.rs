//! A pipeline's steps as a petgraph DAG: explicit `after` edges plus the edges that
//! `${STEP.output}` placeholders and gate conditions imply.

use crate::RunError;
use mlp_ir::{Step, StepAction};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef};
use std::collections::BTreeSet;

/// The steps of one pipeline and the order they depend on each other in.
#[derive(Debug)]
pub struct StepGraph<'p> {
    /// Steps in declaration order; node `i` of the graph is step `i`.
    pub steps: &'p [Step],
    graph: DiGraph<usize, ()>,
}

/// The steps a step reads from: its `after` list, the steps whose output its command names,
/// and the steps whose metrics its gate reads.
pub fn upstream_names(step: &Step) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = step.after.iter().cloned().collect();
    match &step.action {
        StepAction::Run { command } => {
            names.extend(
                crate::interp::placeholders(command)
                    .into_iter()
                    .filter_map(|p| p.strip_suffix(".output").map(str::to_string)),
            );
        }
        StepAction::Gate { require, .. } => {
            for c in require {
                for leaf in mlp_features::ondemand::leaves(&c.expr) {
                    if let mlp_ir::IrExpr::Feature { view, .. } = leaf {
                        if let Some(s) = view.strip_suffix(".metrics") {
                            names.insert(s.to_string());
                        }
                    }
                }
            }
        }
        _ => {}
    }
    names
}

impl<'p> StepGraph<'p> {
    /// Builds the graph; an unknown step name or a cycle is an error.
    pub fn new(pipeline: &str, steps: &'p [Step]) -> Result<StepGraph<'p>, RunError> {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
        for (i, s) in steps.iter().enumerate() {
            for up in upstream_names(s) {
                let Some(j) = steps.iter().position(|x| x.name == up) else {
                    return Err(RunError::Spec(format!(
                        "pipeline `{pipeline}`: step `{}` depends on unknown step `{up}`",
                        s.name
                    )));
                };
                graph.add_edge(nodes[j], nodes[i], ());
            }
        }
        if petgraph::algo::is_cyclic_directed(&graph) {
            return Err(RunError::Spec(format!(
                "pipeline `{pipeline}`: its steps depend on each other in a cycle"
            )));
        }
        Ok(StepGraph { steps, graph })
    }

    /// The index of the step named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The steps `i` depends on directly.
    pub fn deps(&self, i: usize) -> Vec<usize> {
        let mut d: Vec<usize> = self
            .graph
            .edges_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
            .map(|e| e.source().index())
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    }

    /// Step `i` and every step that depends on it, directly or not.
    pub fn downstream(&self, i: usize) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut dfs = Dfs::new(&self.graph, NodeIndex::new(i));
        while let Some(n) = dfs.next(&self.graph) {
            out.insert(n.index());
        }
        out
    }

    /// Every step, each after the steps it needs: of the steps ready at each point, the one
    /// declared first (the order a workflow engine runs them one at a time).
    pub fn order(&self) -> Vec<usize> {
        let n = self.steps.len();
        let mut left: Vec<usize> = (0..n).map(|i| self.deps(i).len()).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|i| left[*i] == 0).collect();
        let mut out = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            out.push(i);
            for e in self
                .graph
                .edges_directed(NodeIndex::new(i), petgraph::Direction::Outgoing)
            {
                let j = e.target().index();
                left[j] -= 1;
                if left[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        out
    }

    /// Every step `i` depends on, directly or not.
    pub fn ancestors(&self, i: usize) -> BTreeSet<usize> {
        let reversed = petgraph::visit::Reversed(&self.graph);
        let mut out = BTreeSet::new();
        let mut dfs = Dfs::new(reversed, NodeIndex::new(i));
        while let Some(n) = dfs.next(reversed) {
            if n.index() != i {
                out.insert(n.index());
            }
        }
        out
    }
}
