//! Impact analysis: the lineage graph of the plan and the state together (so that a deleted
//! resource still knows what read it), what each change reaches downstream (features ->
//! on-demand features -> models -> deployments -> monitors -> consumers), and whether the
//! change is breaking for it.

use crate::catalog::StateSnapshot;
use crate::diff::{Action, AttrDiff, Severity};
use mlp_ir::Plan;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Lineage across the plan and the state: every id's kind and its downstream neighbours.
#[derive(Debug, Default)]
pub struct Lineage {
    kinds: BTreeMap<String, String>,
    down: BTreeMap<String, BTreeSet<String>>,
}

impl Lineage {
    /// Builds the union of the plan's edges and the state's edges.
    pub fn new(plan: &Plan, state: &StateSnapshot) -> Self {
        let mut l = Lineage::default();
        for s in state.resources.values() {
            l.kinds.insert(s.id.clone(), s.kind.clone());
        }
        for r in plan.resources() {
            l.kinds.insert(r.id.clone(), r.kind().to_string());
        }
        for (from, to, _) in &state.edges {
            l.down.entry(from.clone()).or_default().insert(to.clone());
        }
        for e in plan.edges() {
            l.down.entry(e.from).or_default().insert(e.to);
        }
        l
    }

    /// Order of kinds from sources of data to its readers, for listing what a change reaches.
    pub fn rank(&self, kind: &str) -> u8 {
        match kind {
            "project" | "entity" | "source" | "request" => 0,
            "feature_view" => 1,
            "feature" => 2,
            "pipeline" => 3,
            "model" => 4,
            "deployment" => 5,
            "monitor" => 6,
            "consumer" => 7,
            _ => 8,
        }
    }

    /// The kind of `id`.
    pub fn kind(&self, id: &str) -> &str {
        self.kinds.get(id).map_or("", String::as_str)
    }

    /// Every resource downstream of `id`, ordered by kind (features first, consumers last).
    pub fn downstream(&self, id: &str) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::from([id]);
        while let Some(n) = queue.pop_front() {
            for d in self.down.get(n).into_iter().flatten() {
                if d != id && seen.insert(d.clone()) {
                    queue.push_back(d);
                }
            }
        }
        let mut out: Vec<String> = seen.into_iter().collect();
        out.sort_by(|a, b| {
            self.rank(self.kind(a))
                .cmp(&self.rank(self.kind(b)))
                .then(a.cmp(b))
        });
        out
    }

    /// Downstream resources of one kind.
    fn downstream_of_kind(&self, id: &str, kind: &str) -> Vec<String> {
        self.downstream(id)
            .into_iter()
            .filter(|d| self.kind(d) == kind)
            .collect()
    }

    /// Models downstream of `id` that some deployment serves.
    fn deployed_models(&self, id: &str) -> Vec<String> {
        self.downstream_of_kind(id, "model")
            .into_iter()
            .filter(|m| !self.downstream_of_kind(m, "deployment").is_empty())
            .collect()
    }
}

fn names(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn changed<'a>(diffs: &'a [AttrDiff], prefix: &str) -> Option<&'a AttrDiff> {
    diffs.iter().find(|d| {
        d.path == prefix
            || d.path.starts_with(&format!("{prefix}."))
            || d.path.starts_with(&format!("{prefix}["))
    })
}

fn show(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map_or_else(|| "nothing".into(), |v| v.to_string())
}

/// A duration in milliseconds as the language writes it (`7d`, `36h`, `90s`, `250ms`).
fn duration(v: &Option<serde_json::Value>) -> String {
    let Some(ms) = v.as_ref().and_then(serde_json::Value::as_u64) else {
        return show(v);
    };
    // Days rather than weeks: windows and TTLs are written in days (`7d`, `30d`).
    const UNITS: [(u64, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    UNITS
        .iter()
        .find(|(n, _)| ms >= *n && ms % n == 0)
        .map_or_else(|| format!("{ms}ms"), |(n, u)| format!("{}{u}", ms / n))
}

/// The severity of a change to `id` and the reasons for a breaking one.
pub fn assess(
    l: &Lineage,
    id: &str,
    kind: &str,
    action: Action,
    diffs: &[AttrDiff],
) -> (Severity, Vec<String>) {
    let mut why = Vec::new();
    let mut notes = Vec::new();
    let deployed = l.deployed_models(id);
    let consumers = l.downstream_of_kind(id, "consumer");
    let read_by = || {
        if deployed.is_empty() {
            String::new()
        } else {
            format!("; deployed model {} reads it", names(&deployed))
        }
    };
    match (kind, action) {
        (_, Action::Create) => {}
        ("feature", Action::Replace) => {
            let detail = changed(diffs, "type")
                .map(|d| {
                    format!(
                        "type changed from {} to {}",
                        show(&d.before),
                        show(&d.after)
                    )
                })
                .unwrap_or_else(|| "definition cannot change in place".into());
            why.push(format!("{detail}{}", read_by()));
        }
        ("feature", Action::Delete) if !deployed.is_empty() => {
            why.push(format!(
                "removed, but deployed model {} reads it",
                names(&deployed)
            ));
        }
        ("feature", Action::Update) => {
            if let Some(d) = changed(diffs, "def.window_ms") {
                why.push(format!(
                    "window changed from {} to {}: stored values need a backfill{}",
                    duration(&d.before),
                    duration(&d.after),
                    read_by()
                ));
            } else if changed(diffs, "def").is_some() && !deployed.is_empty() {
                why.push(format!(
                    "definition changed under deployed model {}: retrain it, or training and serving disagree",
                    names(&deployed)
                ));
            }
        }
        ("feature_view", Action::Update) => {
            if let Some(d) = changed(diffs, "ttl_ms") {
                why.push(format!(
                    "TTL changed from {} to {}: online values need a re-materialization{}",
                    duration(&d.before),
                    duration(&d.after),
                    read_by()
                ));
            }
        }
        ("feature_view" | "entity" | "source", Action::Replace) => {
            why.push(format!(
                "every feature it feeds must be recomputed{}",
                read_by()
            ));
        }
        ("model", Action::Update | Action::Replace) => {
            let serving = l.downstream_of_kind(id, "deployment");
            if !serving.is_empty() {
                if let Some(d) = changed(diffs, "inputs") {
                    why.push(format!(
                        "inputs changed ({} -> {}): the version served by {} was trained on the old inputs",
                        show(&d.before),
                        show(&d.after),
                        names(&serving)
                    ));
                }
                if outputs_change(diffs) == Some(true) {
                    why.push(format!(
                        "outputs changed under deployment {}",
                        names(&serving)
                    ));
                }
            }
        }
        ("deployment", Action::Update | Action::Replace) if !consumers.is_empty() => {
            let change = outputs_change(diffs);
            if change == Some(true) {
                why.push(format!(
                    "outputs changed; consumer {} reads them",
                    names(&consumers)
                ));
            } else if change.is_some() {
                notes.push(format!(
                    "outputs added; consumer {} may read them",
                    names(&consumers)
                ));
            }
        }
        ("deployment", Action::Delete) if !consumers.is_empty() => {
            why.push(format!(
                "removed, but consumer {} reads its outputs",
                names(&consumers)
            ));
        }
        ("feature_view" | "entity" | "source", Action::Delete) if !deployed.is_empty() => {
            why.push(format!(
                "removed, but deployed model {} reads its features",
                names(&deployed)
            ));
        }
        _ => {}
    }
    let severity = if why.is_empty() {
        Severity::Compatible
    } else {
        Severity::Breaking
    };
    why.extend(notes);
    (severity, why)
}

/// How the `outputs` of a model or deployment changed: `None` when they did not,
/// `Some(false)` when outputs were only added, `Some(true)` when one was removed or changed
/// (which breaks whoever reads it).
fn outputs_change(diffs: &[AttrDiff]) -> Option<bool> {
    let mut found = None;
    for d in diffs
        .iter()
        .filter(|d| d.path == "outputs" || d.path.starts_with("outputs["))
    {
        let breaks = match (&d.before, &d.after) {
            (Some(serde_json::Value::Array(before)), Some(serde_json::Value::Array(after))) => {
                !before.iter().all(|b| after.contains(b))
            }
            (Some(_), _) => true,
            (None, _) => false,
        };
        found = Some(found.unwrap_or(false) || breaks);
    }
    found
}
