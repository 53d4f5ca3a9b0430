//! The plan IR: every resource a project declares (entities, sources, feature views and
//! features, requests, models, pipelines, deployments, monitors, consumers) with a stable id,
//! a typed spec and a content hash, connected in a petgraph DAG whose edges point
//! downstream (source -> feature -> model -> deployment -> consumer). Serialized as
//! versioned JSON (`specs/plan.schema.json`). Runtime crates read only this IR.

mod access;
pub use access::ModelBlock;
pub mod cron;
mod expr;
pub mod host;
mod scalar;
mod spec;
mod tensor;

pub use expr::{IrExpr, Literal};
pub use scalar::Scalar;
pub use spec::*;
pub use tensor::{input_tensors, DType, IdRange, TensorInput};

use petgraph::graph::{DiGraph, NodeIndex};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Version of the plan JSON format; bumped on incompatible changes.
pub const FORMAT_VERSION: &str = "1.0";

/// Where a resource was declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Origin {
    /// File path relative to the project folder.
    pub file: String,
    /// 1-based line of the declaration's name.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset of the end.
    pub end: usize,
}

/// One resource of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resource {
    /// Stable id: `KIND.NAME` (`features.user_stats`), or `feature.VIEW.NAME` for features.
    pub id: String,
    /// The resource's name as declared.
    pub name: String,
    /// What it is and how it is defined.
    pub spec: Spec,
    /// Hex sha256 of the spec's canonical JSON: equal hashes mean equal definitions.
    pub hash: String,
    /// Doc comment, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub doc: String,
    /// Where it is declared (not part of the hash).
    pub origin: Origin,
}

impl Resource {
    /// Builds a resource and computes its hash.
    pub fn new(id: String, name: String, spec: Spec, doc: String, origin: Origin) -> Self {
        let hash = spec_hash(&spec);
        Resource {
            id,
            name,
            spec,
            hash,
            doc,
            origin,
        }
    }
    /// The kind's name (`feature_view`, `model`, ...).
    pub fn kind(&self) -> &'static str {
        self.spec.kind()
    }
}

/// Hex sha256 of a spec's JSON (serde_json writes struct fields in declaration order and
/// maps are BTreeMaps, so equal specs give equal bytes).
pub fn spec_hash(spec: &Spec) -> String {
    // A spec is plain data (derived Serialize, string map keys; non-finite floats become
    // null), so serialising it cannot fail; an empty hash input would make every spec equal.
    let bytes = match serde_json::to_vec(spec) {
        Ok(b) => b,
        Err(e) => unreachable!("a Spec always serialises to JSON: {e}"),
    };
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a downstream resource depends on an upstream one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A view is keyed by the entity.
    Keys,
    /// A view reads the source.
    Reads,
    /// A feature belongs to the view.
    Contains,
    /// An on-demand feature is computed from a feature or request.
    Computes,
    /// A model takes the feature or request field as input.
    Input,
    /// A pipeline reads features or sources (training sets, materialization).
    Trains,
    /// A pipeline registers versions of a model.
    Registers,
    /// A deployment serves the model (or another deployment in its graph).
    Serves,
    /// A monitor watches the deployment or a feature.
    Monitors,
    /// A consumer reads the deployment's outputs.
    Consumes,
}

impl EdgeKind {
    /// The name it serialises to (`keys`, `reads`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Keys => "keys",
            EdgeKind::Reads => "reads",
            EdgeKind::Contains => "contains",
            EdgeKind::Computes => "computes",
            EdgeKind::Input => "input",
            EdgeKind::Trains => "trains",
            EdgeKind::Registers => "registers",
            EdgeKind::Serves => "serves",
            EdgeKind::Monitors => "monitors",
            EdgeKind::Consumes => "consumes",
        }
    }
}

/// One edge: `from` feeds `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Edge {
    /// Upstream resource id.
    pub from: String,
    /// Downstream resource id.
    pub to: String,
    /// Relation.
    pub kind: EdgeKind,
}

/// The serialized plan document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDoc {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// The project's name.
    pub project: String,
    /// The environment the values came from (`--env`), if any.
    pub env: Option<String>,
    /// Resources sorted by id.
    pub resources: Vec<Resource>,
    /// Edges sorted.
    pub edges: Vec<Edge>,
}

/// The plan as a DAG.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Project name.
    pub project: String,
    /// Environment name.
    pub env: Option<String>,
    /// Resources as nodes, edges point downstream.
    pub graph: DiGraph<Resource, EdgeKind>,
    index: BTreeMap<String, NodeIndex>,
}

impl Plan {
    /// An empty plan for `project`.
    pub fn new(project: impl Into<String>, env: Option<String>) -> Self {
        Plan {
            project: project.into(),
            env,
            ..Default::default()
        }
    }

    /// Adds a resource (a second one with the same id replaces the first).
    pub fn add(&mut self, r: Resource) -> NodeIndex {
        if let Some(&i) = self.index.get(&r.id) {
            self.graph[i] = r;
            return i;
        }
        let id = r.id.clone();
        let i = self.graph.add_node(r);
        self.index.insert(id, i);
        i
    }

    /// Adds an edge between two ids; ignored when either is missing or it already exists.
    pub fn connect(&mut self, from: &str, to: &str, kind: EdgeKind) {
        if let (Some(&a), Some(&b)) = (self.index.get(from), self.index.get(to)) {
            if !self
                .graph
                .edges_connecting(a, b)
                .any(|e| *e.weight() == kind)
            {
                self.graph.add_edge(a, b, kind);
            }
        }
    }

    /// The resource with `id`.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.index.get(id).map(|&i| &self.graph[i])
    }

    /// Node index of `id`.
    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    /// Resources sorted by id.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> {
        self.index.values().map(|&i| &self.graph[i])
    }

    /// Edges sorted.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges: Vec<Edge> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some(Edge {
                    from: self.graph[a].id.clone(),
                    to: self.graph[b].id.clone(),
                    kind: self.graph[e],
                })
            })
            .collect();
        edges.sort();
        edges
    }

    /// True when the graph has no cycle (the checker guarantees it for checked projects).
    pub fn is_dag(&self) -> bool {
        !petgraph::algo::is_cyclic_directed(&self.graph)
    }

    /// The serializable document.
    pub fn to_doc(&self) -> PlanDoc {
        PlanDoc {
            format_version: FORMAT_VERSION.to_string(),
            project: self.project.clone(),
            env: self.env.clone(),
            resources: self.resources().cloned().collect(),
            edges: self.edges(),
        }
    }

    /// Rebuilds a plan from its document.
    pub fn from_doc(doc: PlanDoc) -> Self {
        let mut p = Plan::new(doc.project, doc.env);
        for r in doc.resources {
            p.add(r);
        }
        for e in doc.edges {
            p.connect(&e.from, &e.to, e.kind);
        }
        p
    }

    /// Pretty JSON of the plan document.
    pub fn to_json(&self) -> String {
        match serde_json::to_string_pretty(&self.to_doc()) {
            Ok(s) => s,
            // Plain data, as for `spec_hash`.
            Err(e) => unreachable!("a plan document always serialises to JSON: {e}"),
        }
    }

    /// Parses a plan document, refusing other major format versions.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let doc: PlanDoc =
            serde_json::from_str(text).map_err(|e| format!("not a plan document: {e}"))?;
        let major = |v: &str| v.split('.').next().map(str::to_string);
        if major(&doc.format_version) != major(FORMAT_VERSION) {
            return Err(format!(
                "plan format {} is not supported (this mlpc writes {FORMAT_VERSION})",
                doc.format_version
            ));
        }
        Ok(Plan::from_doc(doc))
    }
}

/// The JSON Schema of the plan document (`specs/plan.schema.json` is this, pretty-printed).
pub fn plan_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(PlanDoc);
    schema.insert(
        "$id".into(),
        "https://mlp.dev/specs/plan.schema.json".into(),
    );
    schema.insert(
        "description".into(),
        format!(
            "The plan IR that `mlpc ir` prints and `mlpc plan` diffs against the state: every \
             resource with its stable id, typed spec, content hash and origin, and the edges \
             between them (pointing downstream). Format version {FORMAT_VERSION}: a reader \
             accepts any document with the same major version."
        )
        .into(),
    );
    schema.to_value()
}

#[cfg(test)]
mod edge_kind_tests {
    use super::EdgeKind;

    #[test]
    fn each_edge_kind_is_named_as_it_serialises() {
        use EdgeKind::*;
        for k in [
            Keys, Reads, Contains, Computes, Input, Trains, Registers, Serves, Monitors, Consumes,
        ] {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(serde_json::Value::String(k.name().into()))
            );
        }
    }
}
