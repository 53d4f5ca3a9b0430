//! `plan_to_changes`: the change set a plan makes against the state. Each resource is
//! created, updated in place, replaced (when an in-place update is unsafe, such as a
//! feature's type or an entity's keys) or deleted, with its attribute-level differences, the
//! resources downstream that it reaches, and whether the change is breaking for them.

use crate::catalog::StateSnapshot;
use crate::impact::{assess, Lineage};
use mlp_ir::Plan;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the change-set JSON (`specs/changes.schema.json`).
pub const CHANGES_FORMAT_VERSION: &str = "1.0";

/// What happens to one resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+`: new.
    Create,
    /// `~`: changed in place.
    Update,
    /// `-/+`: deleted and created again (the change cannot be made in place).
    Replace,
    /// `-`: removed from the specs.
    Delete,
}

impl Action {
    /// Terraform's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// Terraform's `actions` list for the JSON plan.
    pub fn actions(self) -> Vec<&'static str> {
        match self {
            Action::Create => vec!["create"],
            Action::Update => vec!["update"],
            Action::Replace => vec!["delete", "create"],
            Action::Delete => vec!["delete"],
        }
    }
}

/// Whether a change can break what reads the resource.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing downstream needs to change.
    Compatible,
    /// A deployed model, a deployment's consumers or stored feature values are affected.
    Breaking,
}

/// One attribute that differs, by its path in the spec (`def.window_ms`, `inputs[1]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttrDiff {
    /// Path in the resource's spec.
    pub path: String,
    /// Value in the state (absent when the attribute is new).
    pub before: Option<Value>,
    /// Value in the plan (absent when the attribute is removed).
    pub after: Option<Value>,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// Resource id.
    pub id: String,
    /// Resource kind.
    pub kind: String,
    /// What happens.
    pub action: Action,
    /// Terraform's form of the action: `["create"]`, `["update"]`, `["delete","create"]`,
    /// `["delete"]`.
    pub actions: Vec<String>,
    /// Content hash in the state.
    pub before_hash: Option<String>,
    /// Content hash in the plan.
    pub after_hash: Option<String>,
    /// Attributes that differ (updates and replaces).
    pub diffs: Vec<AttrDiff>,
    /// Breaking or compatible.
    pub severity: Severity,
    /// Why: the reasons for a replace and for a breaking severity, in words.
    pub reasons: Vec<String>,
    /// Every resource downstream of this one (lineage), ordered from features to consumers.
    pub reaches: Vec<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Creates plus replaces (Terraform counts a replace as one add and one destroy).
    pub add: usize,
    /// In-place updates.
    pub change: usize,
    /// Deletes plus replaces.
    pub destroy: usize,
    /// Changes with severity `breaking`.
    pub breaking: usize,
}

/// The change set: what `mlpc plan` prints and a saved plan file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeSet {
    /// Format of this document.
    pub format_version: String,
    /// Project name.
    pub project: String,
    /// Environment of the plan, if any.
    pub env: Option<String>,
    /// The state serial the plan was made against; apply refuses a saved plan when the
    /// state has moved since.
    pub state_serial: i64,
    /// Every change, in apply order for creates and updates, deletes last.
    pub changes: Vec<Change>,
    /// Totals.
    pub summary: Summary,
    /// Consumers the server has seen calling a deployment without being declared as using
    /// it (filled by `mlpc plan` from `.mlp/consumers.sqlite`; absent when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeclared_consumers: Vec<crate::consumers::SeenConsumer>,
}

impl ChangeSet {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    /// True when any change is breaking.
    pub fn has_breaking(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.severity == Severity::Breaking)
    }
}

/// Attribute paths whose change cannot be made in place, by kind: the stored or served
/// values would no longer mean what the new definition says.
fn forces_replace(kind: &str, path: &str) -> Option<&'static str> {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    match (kind, top) {
        ("feature", "type") => Some("the feature's type changed"),
        ("feature", "view") => Some("the feature moved to another view"),
        ("feature", "def") if path == "def.kind" => {
            Some("the feature's kind of definition changed")
        }
        ("entity", "keys") => Some("the entity's key columns changed"),
        ("feature_view", "entity") => Some("the view is keyed by another entity"),
        ("source", "timestamp") => Some("the source's event-time column changed"),
        _ => None,
    }
}

/// The differences between two JSON values, as paths.
pub fn json_diff(before: &Value, after: &Value) -> Vec<AttrDiff> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<AttrDiff>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = join(path, k);
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => walk(&p, x, y, out),
                    (x, y) => out.push(AttrDiff {
                        path: p,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if before == after => {}
        _ => out.push(AttrDiff {
            path: path.to_string(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
    }
}

/// The plan's nodes in a topological order that prefers, among the ready ones, the lowest
/// (kind rank, id) (Kahn's algorithm with a priority queue).
fn ordered(plan: &Plan, lineage: &Lineage) -> Vec<petgraph::graph::NodeIndex> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let g = &plan.graph;
    let mut indegree: Vec<usize> = g
        .node_indices()
        .map(|n| {
            g.neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let key =
        |n: petgraph::graph::NodeIndex| Reverse((lineage.rank(g[n].kind()), g[n].id.clone(), n));
    let mut ready: BinaryHeap<_> = g
        .node_indices()
        .filter(|n| indegree[n.index()] == 0)
        .map(key)
        .collect();
    let mut out = Vec::with_capacity(g.node_count());
    while let Some(Reverse((_, _, n))) = ready.pop() {
        out.push(n);
        for m in g.neighbors_directed(n, petgraph::Direction::Outgoing) {
            indegree[m.index()] -= 1;
            if indegree[m.index()] == 0 {
                ready.push(key(m));
            }
        }
    }
    // A cyclic plan cannot pass the checker; keep every node all the same.
    if out.len() < g.node_count() {
        let seen: std::collections::HashSet<_> = out.iter().copied().collect();
        out.extend(g.node_indices().filter(|n| !seen.contains(n)));
    }
    out
}

/// Computes the change set of `plan` against `state`.
pub fn plan_to_changes(plan: &Plan, state: &StateSnapshot) -> ChangeSet {
    let lineage = Lineage::new(plan, state);
    let mut changes = Vec::new();
    // Creates and updates in dependency order, and among the resources that are ready, from
    // sources of data to their readers, then by id: a stable order to read and to apply.
    for ix in ordered(plan, &lineage) {
        let r = &plan.graph[ix];
        let (action, before_hash, diffs, mut reasons) = match state.resources.get(&r.id) {
            None => (Action::Create, None, Vec::new(), Vec::new()),
            Some(s) if s.hash == r.hash && s.kind == r.kind() => continue,
            Some(s) => {
                let after = serde_json::to_value(&r.spec).unwrap_or(Value::Null);
                let diffs = json_diff(&s.spec, &after);
                let mut reasons: Vec<String> = diffs
                    .iter()
                    .filter_map(|d| forces_replace(r.kind(), &d.path))
                    .map(|why| format!("cannot change in place: {why}"))
                    .collect();
                reasons.dedup();
                let action = if reasons.is_empty() && s.kind == r.kind() {
                    Action::Update
                } else {
                    Action::Replace
                };
                (action, Some(s.hash.clone()), diffs, reasons)
            }
        };
        let (severity, why) = assess(&lineage, &r.id, r.kind(), action, &diffs);
        reasons.extend(why);
        changes.push(Change {
            id: r.id.clone(),
            kind: r.kind().to_string(),
            action,
            actions: action.actions().into_iter().map(str::to_string).collect(),
            before_hash,
            after_hash: Some(r.hash.clone()),
            diffs,
            severity,
            reasons,
            reaches: lineage.downstream(&r.id),
        });
    }
    // Deletes last, consumers before what they read (reverse order of the state's lineage).
    let mut deletes: Vec<_> = state
        .resources
        .values()
        .filter(|s| plan.get(&s.id).is_none())
        .collect();
    deletes.sort_by(|a, b| {
        lineage
            .rank(&b.kind)
            .cmp(&lineage.rank(&a.kind))
            .then(a.id.cmp(&b.id))
    });
    for s in deletes {
        let (severity, reasons) = assess(&lineage, &s.id, &s.kind, Action::Delete, &[]);
        changes.push(Change {
            id: s.id.clone(),
            kind: s.kind.clone(),
            action: Action::Delete,
            actions: vec!["delete".into()],
            before_hash: Some(s.hash.clone()),
            after_hash: None,
            diffs: Vec::new(),
            severity,
            reasons,
            reaches: lineage.downstream(&s.id),
        });
    }
    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => {
                summary.add += 1;
                summary.destroy += 1;
            }
            Action::Delete => summary.destroy += 1,
        }
        summary.breaking += usize::from(c.severity == Severity::Breaking);
    }
    ChangeSet {
        format_version: CHANGES_FORMAT_VERSION.into(),
        project: plan.project.clone(),
        env: plan.env.clone(),
        state_serial: state.serial,
        changes,
        summary,
        undeclared_consumers: Vec::new(),
    }
}

/// What differs between the source and the applied plan: resources added, changed and
/// removed in the source, by id.
pub fn plan_drift(source: &Plan, applied: &Plan) -> Vec<String> {
    let hashes = |p: &Plan| -> std::collections::BTreeMap<String, String> {
        p.resources()
            .map(|r| (r.id.clone(), r.hash.clone()))
            .collect()
    };
    let (src, app) = (hashes(source), hashes(applied));
    let mut out = Vec::new();
    for (id, h) in &src {
        match app.get(id) {
            None => out.push(format!("+ {id}")),
            Some(a) if a != h => out.push(format!("~ {id}")),
            Some(_) => {}
        }
    }
    out.extend(
        app.keys()
            .filter(|id| !src.contains_key(*id))
            .map(|id| format!("- {id}")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_diff_gives_paths_of_changed_leaves() {
        let a = json!({"kind": "feature", "type": "float", "def": {"kind": "aggregate", "window_ms": 1}, "xs": [1, 2]});
        let b = json!({"kind": "feature", "type": "int", "def": {"kind": "aggregate", "window_ms": 2}, "xs": [1, 3], "new": true});
        let paths: Vec<String> = json_diff(&a, &b).into_iter().map(|d| d.path).collect();
        assert_eq!(paths, ["def.window_ms", "new", "type", "xs[1]"]);
        assert!(json_diff(&a, &a).is_empty());
    }

    #[test]
    fn type_and_key_changes_force_a_replace() {
        assert!(forces_replace("feature", "type").is_some());
        assert!(forces_replace("entity", "keys[0].type").is_some());
        assert!(forces_replace("feature", "def.window_ms").is_none());
        assert!(forces_replace("model", "inputs[0]").is_none());
    }
}
