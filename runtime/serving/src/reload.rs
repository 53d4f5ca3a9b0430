//! Applies picked up without a restart: after each `mlpc apply` (the state catalog's file
//! changes) the server reads the plan again, loads and warms up the deployments whose
//! definition changed (the deployment, its models' blocks, the deployments its graph
//! names), keeps the others as they are, and swaps the whole set in at once. Requests in
//! flight finish on what they started with.

use crate::deployment;
use crate::server::{Serving, State};
use mlp_ir::{GraphNode, Plan, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Reads the applied plan again from the state (never the source: apply is the gate).
pub type LoadPlan = Box<dyn Fn() -> Result<Plan, String> + Send + Sync>;

/// Watches the state catalog and reloads the plan when an apply changed it.
pub struct Reloader {
    load: LoadPlan,
    /// The state catalog and the registry, with their times when last looked at.
    watched: [(PathBuf, Mutex<Option<SystemTime>>); 2],
}

impl Reloader {
    /// Watches `project_dir`'s state catalog from now on.
    pub fn new(project_dir: &Path, load: LoadPlan) -> Reloader {
        let watch = |p: PathBuf| {
            let seen = Mutex::new(stamp(&p));
            (p, seen)
        };
        Reloader {
            watched: [
                watch(mlp_ir::host::state_dir(project_dir).join("state.duckdb")),
                watch(mlp_ir::host::state_dir(project_dir).join("registry.sqlite")),
            ],
            load,
        }
    }
}

/// The latest modification time of a database file and its write-ahead log (DuckDB's
/// `.wal`, SQLite's `-wal`).
fn stamp(path: &Path) -> Option<SystemTime> {
    let wal = PathBuf::from(format!("{}.wal", path.display()));
    let sqlite_wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal, sqlite_wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// What a deployment's serving depends on: the content hashes of its own resource, of the
/// model blocks its graph (and its shadow) names, and of the deployments the graph reuses.
fn fingerprint(plan: &Plan, name: &str) -> Vec<String> {
    fn walk(plan: &Plan, g: &GraphNode, out: &mut Vec<String>, depth: usize) {
        if depth > 32 {
            return;
        }
        match g {
            GraphNode::Model { model } => {
                if let Some(r) = plan.model(&model.model) {
                    out.push(r.hash.clone());
                }
            }
            GraphNode::Deployment { name } => deployment_hashes(plan, name, out, depth + 1),
            other => {
                for n in other.children() {
                    walk(plan, n, out, depth + 1);
                }
            }
        }
    }
    fn deployment_hashes(plan: &Plan, name: &str, out: &mut Vec<String>, depth: usize) {
        let Some(r) = plan.deployment(name) else {
            return;
        };
        out.push(r.hash.clone());
        if let Spec::Deployment { graph, shadow, .. } = &r.spec {
            walk(plan, graph, out, depth);
            if let Some(s) = shadow {
                walk(plan, &GraphNode::Model { model: s.clone() }, out, depth);
            }
        }
    }
    let mut out = Vec::new();
    deployment_hashes(plan, name, &mut out, 0);
    out
}

/// The hashes of everything online lookups read (entities, sources, views, features,
/// requests, the project block): equal means the online store can be kept.
fn store_fingerprint(plan: &Plan) -> BTreeMap<&str, &str> {
    plan.resources()
        .filter(|r| {
            matches!(
                r.spec,
                Spec::Project { .. }
                    | Spec::Entity { .. }
                    | Spec::Source { .. }
                    | Spec::FeatureView { .. }
                    | Spec::Feature { .. }
                    | Spec::Request { .. }
            )
        })
        .map(|r| (r.id.as_str(), r.hash.as_str()))
        .collect()
}

/// What to serve for `plan`: the deployments of `old` whose definition is unchanged are
/// kept (with their loaded models), the others are loaded and warmed up.
pub fn serving(project_dir: &Path, plan: Arc<Plan>, old: Option<&Serving>) -> Serving {
    let store = match old {
        Some(o) if store_fingerprint(&o.plan) == store_fingerprint(&plan) && o.store.is_some() => {
            o.store.clone()
        }
        _ => mlp_features::OnlineStore::open(project_dir, &plan)
            .ok()
            .map(Arc::new),
    };
    let mut deployments = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for r in plan.resources().filter(|r| r.kind() == "deployment") {
        let kept = old.and_then(|o| {
            o.deployments
                .get(&r.name)
                .filter(|_| fingerprint(&o.plan, &r.name) == fingerprint(&plan, &r.name))
        });
        match kept {
            Some(d) => {
                deployments.insert(r.name.clone(), d.clone());
            }
            None => match deployment::load(project_dir, &plan, &r.name) {
                Ok(d) => {
                    deployments.insert(r.name.clone(), Arc::new(d));
                }
                Err(e) => {
                    failed.insert(r.name.clone(), e.to_string());
                }
            },
        }
    }
    let request_fields = plan
        .resources()
        .filter_map(|r| match &r.spec {
            Spec::Request { fields } => Some(fields),
            _ => None,
        })
        .flatten()
        .map(|f| (f.name.clone(), f.ty))
        .collect();
    Serving {
        plan,
        store,
        deployments,
        failed,
        request_fields,
    }
}

/// Whether `path` changed since the last look.
fn changed((path, seen): &(PathBuf, Mutex<Option<SystemTime>>)) -> bool {
    let now = stamp(path);
    match seen.lock() {
        Ok(mut seen) if *seen != now => {
            *seen = now;
            true
        }
        _ => false,
    }
}

/// Reloads the plan if an apply ran since the last look, and tries the deployments that
/// could not serve again when the registry changed (a first version registered, an alias
/// set); says what changed.
pub fn reload_if_applied(state: &State) -> Vec<String> {
    let Some(r) = &state.reload else {
        return Vec::new();
    };
    let applied = changed(&r.watched[0]);
    let registered = changed(&r.watched[1]);
    let cur = state.now();
    let retry = registered && !cur.failed.is_empty();
    if !applied && !retry {
        return Vec::new();
    }
    let same = |a: &Plan, b: &Plan| {
        a.resources()
            .map(|r| (&r.id, &r.hash))
            .eq(b.resources().map(|r| (&r.id, &r.hash)))
    };
    let plan = if applied {
        match (r.load)() {
            Ok(p) if !same(&cur.plan, &p) => Arc::new(p),
            Ok(_) if retry => cur.plan.clone(),
            Ok(_) => return vec!["the state changed; the applied plan is the one served".into()],
            Err(e) => return vec![format!("the applied plan was not reloaded: {e}")],
        }
    } else {
        cur.plan.clone()
    };
    let next = serving(&state.project_dir, plan, Some(&cur));
    let mut said = Vec::new();
    for (name, d) in &next.deployments {
        match cur.deployments.get(name) {
            Some(old) if Arc::ptr_eq(old, d) => {}
            Some(_) => said.push(format!("deployment `{name}` reloaded")),
            None => said.push(format!("deployment `{name}` serves")),
        }
    }
    for (name, e) in &next.failed {
        if cur.failed.get(name) != Some(e) {
            said.push(format!("deployment `{name}` cannot serve: {e}"));
        }
    }
    for name in cur.deployments.keys() {
        if !next.deployments.contains_key(name) && !next.failed.contains_key(name) {
            said.push(format!("deployment `{name}` removed"));
        }
    }
    match state.current.write() {
        Ok(mut g) => *g = Arc::new(next),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
    }
    said
}
