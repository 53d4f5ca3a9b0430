//! `mode = lookup`: a deployment whose answers are precomputed for its whole input space and
//! served from a hash table, without fetching features or running a model per request
//! (Booking.com's fastest path). The input space is the entities of the online store: every
//! input of the graph must be a materialized feature of views on one entity. The server
//! runs the graph over every key in the online store (and once over all-missing inputs, the
//! answer for a key the store does not hold, as online serving gives it), and builds the
//! table again when the store changes, when a model version moves, and every
//! [`REFRESH`] so that TTLs expire as they do online.

use crate::deployment::Deployment;
use crate::error::{LoadError, LookupError};
use crate::graph::{Env, Graph};
use crate::server::Serving;
use mlp_features::OnlineStore;
use mlp_ir::{InputRef, Plan, Spec};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Longest age of a table before it is built again.
pub const REFRESH: Duration = Duration::from_secs(60);

/// Most entities a lookup deployment precomputes.
pub const MAX_KEYS: usize = 1_000_000;

/// Rows per run of the graph while building.
const CHUNK: usize = 4096;

/// A built table.
pub struct Table {
    /// Inputs then outputs of each key (key values as a JSON array), row-major.
    rows: HashMap<String, Vec<f32>>,
    /// The row of a key the store does not hold.
    missing: Vec<f32>,
    /// The model versions that computed it.
    pub versions: Vec<String>,
    /// When it was built.
    pub built: Instant,
    /// How many inputs lead each row.
    width: usize,
}

impl Table {
    /// Keys in the table.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it has no key.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The inputs and outputs for `key` (its key values as a JSON array).
    pub fn get(&self, key: &str) -> (&[f32], &[f32]) {
        let row = self.rows.get(key).unwrap_or(&self.missing);
        row.split_at(self.width.min(row.len()))
    }
}

/// A lookup deployment's table, built in the background.
pub struct Lookup {
    /// The entity whose keys index it.
    pub entity: String,
    /// Its key columns, in order.
    pub keys: Vec<String>,
    /// The views read.
    views: Vec<String>,
    /// The table, once built.
    current: RwLock<Option<Arc<Table>>>,
    /// Set when the store changed after the table was read.
    expired: AtomicBool,
    /// The last build error as it was said, so that the same one is said once.
    last_error: Mutex<Option<String>>,
}

/// The lookup of a deployment whose `mode` is `lookup`; an error says why its inputs do not
/// make a finite input space.
pub fn plan_lookup(plan: &Plan, inputs: &[InputRef]) -> Result<Lookup, LoadError> {
    let mut entity: Option<String> = None;
    let mut views = BTreeSet::new();
    for i in inputs {
        let name = crate::deployment::input_name(i);
        let InputRef::Feature { view, .. } = i else {
            return Err(LoadError::Lookup(format!(
                "mode = lookup precomputes an answer per entity, but the graph reads `{name}`, a request field"
            )));
        };
        let e = match plan.view(view).map(|r| &r.spec) {
            Some(Spec::FeatureView {
                entity: Some(e),
                online: true,
                ..
            }) => e.clone(),
            _ => {
                return Err(LoadError::Lookup(format!(
                    "mode = lookup needs materialized features of one entity; `{name}` is on-demand or offline only"
                )))
            }
        };
        match &entity {
            Some(x) if *x != e => {
                return Err(LoadError::Lookup(format!(
                    "mode = lookup needs the features of one entity; the graph reads `{x}` and `{e}` features"
                )))
            }
            _ => entity = Some(e),
        }
        views.insert(view.clone());
    }
    let Some(entity) = entity else {
        return Err(LoadError::Lookup(
            "mode = lookup needs features to look up; the graph reads none".into(),
        ));
    };
    let keys = match plan.entity(&entity).map(|r| &r.spec) {
        Some(Spec::Entity { keys }) => keys.iter().map(|k| k.name.clone()).collect(),
        _ => {
            return Err(LoadError::Lookup(format!(
                "entity `{entity}` is not declared"
            )))
        }
    };
    Ok(Lookup {
        entity,
        keys,
        views: views.into_iter().collect(),
        current: RwLock::new(None),
        expired: AtomicBool::new(false),
        last_error: Mutex::new(None),
    })
}

impl Lookup {
    /// The table in service, if built.
    pub fn table(&self) -> Option<Arc<Table>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// Whether the table should be built (again): none yet, older than [`REFRESH`], or
    /// computed by other versions than `graph` serves now.
    pub fn stale(&self, graph: &Graph) -> bool {
        match self.table() {
            None => true,
            Some(t) => {
                self.expired.load(Ordering::Relaxed) || t.built.elapsed() >= REFRESH || {
                    let now = graph.versions();
                    t.versions.iter().any(|v| !now.contains(v))
                }
            }
        }
    }

    /// Marks the table for building again (the online store changed).
    pub fn expire(&self) {
        self.expired.store(true, Ordering::Relaxed);
    }

    /// Every key of the online store for this lookup's views, with their inputs as the
    /// model sees them (blocking: DuckDB).
    pub fn read_inputs(
        &self,
        store: &OnlineStore,
        inputs: &[InputRef],
        exact: &std::collections::HashSet<String>,
        now_us: i64,
    ) -> Result<(Vec<String>, Env), LookupError> {
        // A change of the store from here on calls for another build.
        self.expired.store(false, Ordering::Relaxed);
        let mut seen = BTreeSet::new();
        for v in &self.views {
            for k in store.keys(v)? {
                seen.insert(Value::Array(k).to_string());
                if seen.len() > MAX_KEYS {
                    return Err(LookupError::TooManyKeys {
                        max: MAX_KEYS,
                        entity: self.entity.clone(),
                    });
                }
            }
        }
        let keys: Vec<String> = seen.into_iter().collect();
        let mut cols: std::collections::BTreeMap<String, Vec<Value>> = self
            .keys
            .iter()
            .map(|k| (k.clone(), Vec::with_capacity(keys.len() + 1)))
            .collect();
        for k in &keys {
            // Written above as a JSON array; a key read back short would shift the columns.
            let parsed: Vec<Value> =
                serde_json::from_str(k).map_err(|source| LookupError::StoreKey {
                    key: k.clone(),
                    source,
                })?;
            for (name, v) in self.keys.iter().zip(parsed) {
                if let Some(c) = cols.get_mut(name) {
                    c.push(v);
                }
            }
        }
        // The last row: a key no store holds, so that every input is missing.
        for c in cols.values_mut() {
            c.push(Value::Null);
        }
        let features: Vec<String> = inputs.iter().map(crate::deployment::input_name).collect();
        let looked = store.lookup(&features, &cols, now_us)?;
        let cols: Vec<(String, &[Value])> = inputs
            .iter()
            .filter_map(|i| {
                let InputRef::Feature { view, feature } = i else {
                    return None;
                };
                let col = looked
                    .get(&format!("{view}__{feature}"))
                    .map_or(&[][..], Vec::as_slice);
                Some((crate::deployment::input_name(i), col))
            })
            .collect();
        let env = Env::from_json(keys.len() + 1, &cols, exact)?;
        Ok((keys, env))
    }

    /// Runs `graph` over `env` (from [`Lookup::read_inputs`]) and puts the table in service.
    pub async fn build(
        &self,
        graph: &Graph,
        inputs: &[InputRef],
        keys: Vec<String>,
        env: Env,
    ) -> Result<usize, LookupError> {
        let names: Vec<String> = inputs.iter().map(crate::deployment::input_name).collect();
        let width = names.len();
        let k = mlp_ir::row_width(&graph.outputs).max(1);
        let mut outputs = Vec::with_capacity(env.n * k);
        let mut versions: Vec<String> = Vec::new();
        for start in (0..env.n).step_by(CHUNK) {
            let end = (start + CHUNK).min(env.n);
            let chunk = env.slice(start, end);
            let outcome = graph.run(chunk).await?;
            for v in outcome.versions {
                if !versions.contains(&v) {
                    versions.push(v);
                }
            }
            outputs.extend(outcome.outputs);
        }
        let row = |r: usize| -> Vec<f32> {
            let mut v: Vec<f32> = names
                .iter()
                .map(|n| env.cols.get(n).map_or(0.0, |c| c[r]))
                .collect();
            v.extend_from_slice(&outputs[r * k..(r + 1) * k]);
            v
        };
        let missing = row(keys.len());
        let rows: HashMap<String, Vec<f32>> = keys
            .into_iter()
            .enumerate()
            .map(|(r, key)| {
                let v = row(r);
                (key, v)
            })
            .collect();
        let n = rows.len();
        let table = Table {
            rows,
            missing,
            versions,
            built: Instant::now(),
            width,
        };
        if let Ok(mut g) = self.current.write() {
            *g = Some(Arc::new(table));
        }
        Ok(n)
    }
}

/// What the follower read for one table to build: the keys and their inputs, or why not.
pub type Read = Result<(Vec<String>, Env), LookupError>;

/// Reads the inputs of every lookup table of `serving` that is due (all of them when the
/// online store changed). Blocking: call it off the async workers.
pub fn inputs_to_build(
    serving: &Serving,
    store_changed: bool,
    now_us: i64,
) -> Vec<(Arc<Deployment>, Read)> {
    let mut out = Vec::new();
    for d in serving.deployments.values() {
        let Some(lookup) = &d.lookup else {
            continue;
        };
        if store_changed {
            lookup.expire();
        }
        if !lookup.stale(&d.graph) {
            continue;
        }
        let read = match &serving.store {
            Some(store) => lookup.read_inputs(store, &d.inputs, &d.exact, now_us),
            None => Err(LookupError::NotMaterialized),
        };
        out.push((d.clone(), read));
    }
    out
}

/// Builds `d`'s table from what was read; says so when it is new or changed size, and says
/// an error once (not at every retry).
pub async fn build(d: &Deployment, read: Read) -> Option<String> {
    let lookup = d.lookup.as_ref()?;
    let before = lookup.table().map(|t| t.len());
    let result = match read {
        Ok((keys, env)) => lookup.build(&d.graph, &d.inputs, keys, env).await,
        Err(e) => Err(e),
    };
    let mut last = lookup.last_error.lock().ok()?;
    match result {
        Ok(n) => {
            *last = None;
            (before != Some(n)).then(|| {
                format!(
                    "deployment `{}`: lookup table of {n} `{}` keys built",
                    d.name, lookup.entity
                )
            })
        }
        Err(e) => {
            // Said once: a retry that fails the same way says nothing.
            let said = format!(
                "deployment `{}`: cannot build its lookup table: {e}",
                d.name
            );
            if last.as_deref() == Some(said.as_str()) {
                return None;
            }
            *last = Some(said.clone());
            Some(said)
        }
    }
}
