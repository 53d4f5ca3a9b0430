//! One online lookup: the rows of every view it needs, read in one batch per view, then each
//! feature's value per entity row, TTL enforced on latest-row features and on-demand features
//! evaluated over them.

use super::{OnlineRow, OnlineStore};
use crate::historical::FeatureError;
use crate::ondemand::{eval, leaves, Kind, Val};
use mlp_ir::{FeatureDef, IrExpr, Spec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One lookup in progress: rows already read, by view and entity row.
pub(super) struct Lookup<'a> {
    store: &'a OnlineStore,
    entities: &'a BTreeMap<String, Vec<Value>>,
    now_us: i64,
    fetched: HashMap<(String, usize), Option<Arc<OnlineRow>>>,
}

impl<'a> Lookup<'a> {
    /// A lookup of the rows `entities` (columns of equal length) at `now_us`.
    pub(super) fn new(
        store: &'a OnlineStore,
        entities: &'a BTreeMap<String, Vec<Value>>,
        now_us: i64,
    ) -> Lookup<'a> {
        Lookup {
            store,
            entities,
            now_us,
            fetched: HashMap::new(),
        }
    }

    /// Reads, for each view that `features` need (directly or through on-demand features),
    /// the rows of all `n` entity rows in one batch. A view whose key columns the entities
    /// lack is left for [`Lookup::value`] to report.
    pub(super) fn prefetch(&mut self, features: &[String], n: usize) -> Result<(), FeatureError> {
        let mut views = BTreeSet::new();
        for f in features {
            self.views_of(f, &mut views, 0);
        }
        for view in views {
            let Some(keys) = self.store.views.get(&view).map(|(_, k)| k) else {
                continue;
            };
            let Some(cols) = keys
                .iter()
                .map(|k| self.entities.get(&k.name))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let wanted: Vec<Vec<Value>> = (0..n)
                .map(|i| cols.iter().map(|c| c[i].clone()).collect())
                .collect();
            for (i, row) in self.store.rows(&view, &wanted)?.into_iter().enumerate() {
                self.fetched.insert((view.clone(), i), row);
            }
        }
        Ok(())
    }

    /// Adds the views holding `full` (`view.feature`) or what it is computed from.
    fn views_of(&self, full: &str, out: &mut BTreeSet<String>, depth: usize) {
        if self.store.meta.contains_key(full) {
            if let Some((view, _)) = full.split_once('.') {
                out.insert(view.to_string());
            }
            return;
        }
        if depth > 64 {
            return;
        }
        if let Some(Spec::Feature {
            def: FeatureDef::OnDemand { expr },
            ..
        }) = self.store.plan.feature_at(full).map(|r| &r.spec)
        {
            for leaf in leaves(expr) {
                if let IrExpr::Feature { view, feature } = leaf {
                    self.views_of(&format!("{view}.{feature}"), out, depth + 1);
                }
            }
        }
    }

    /// The value of `view.name` for entity row `i`: a materialized value (TTL enforced) or an
    /// on-demand one computed from request fields and other features.
    pub(super) fn value(
        &mut self,
        view: &str,
        name: &str,
        i: usize,
        depth: usize,
    ) -> Result<Value, FeatureError> {
        let full = format!("{view}.{name}");
        let Some(meta) = self.store.meta.get(&full).cloned() else {
            let plan = &self.store.plan;
            return match plan.feature_at(&full).map(|r| &r.spec) {
                Some(Spec::Feature {
                    def: FeatureDef::OnDemand { expr },
                    ..
                }) => {
                    if depth > 64 {
                        return Err(FeatureError::Unsupported(
                            full,
                            "on-demand features nested too deeply".into(),
                        ));
                    }
                    self.on_demand(expr, i, depth)
                }
                _ => Err(FeatureError::UnknownFeature(full, String::new())),
            };
        };
        for k in &meta.keys {
            if !self.entities.contains_key(k) {
                return Err(FeatureError::Db(format!(
                    "the entities lack `{k}`, a key of entity `{}`",
                    meta.entity
                )));
            }
        }
        let (latest, is_count) = (meta.latest, meta.is_count);
        // One read per view and entity row, whatever the number of its features.
        let row = match self.fetched.get(&(view.to_string(), i)) {
            Some(r) => r.clone(),
            None => {
                let key: Vec<Value> = meta
                    .keys
                    .iter()
                    .map(|k| self.entities[k][i].clone())
                    .collect();
                let r = self.store.row(view, &key)?;
                self.fetched.insert((view.to_string(), i), r.clone());
                r
            }
        };
        Ok(match row {
            None if is_count => Value::from(0),
            None => Value::Null,
            Some(r) => {
                let ttl_us = meta.ttl_us;
                let expired = latest
                    && matches!((ttl_us, r.event_us), (Some(ttl), Some(ev)) if self.now_us - ev > ttl);
                if expired {
                    Value::Null
                } else {
                    r.values.get(name).cloned().unwrap_or(Value::Null)
                }
            }
        })
    }

    fn on_demand(&mut self, expr: &IrExpr, i: usize, depth: usize) -> Result<Value, FeatureError> {
        // Read every leaf first (features may need the store), then evaluate.
        let mut values: HashMap<String, Val> = HashMap::new();
        let mut kinds: HashMap<String, Kind> = HashMap::new();
        for leaf in leaves(expr) {
            let key = leaf_key(leaf);
            if values.contains_key(&key) {
                continue;
            }
            let (val, kind) = match leaf {
                IrExpr::Feature { view, feature } => {
                    let ty = match self.store.plan.feature(view, feature).map(|r| &r.spec) {
                        Some(Spec::Feature { ty, .. }) => Kind::of(*ty),
                        _ => Kind::Null,
                    };
                    (
                        Val::from_json(&self.value(view, feature, i, depth + 1)?),
                        ty,
                    )
                }
                IrExpr::Request { request, field } => {
                    let col = self.entities.get(field).ok_or_else(|| {
                        FeatureError::Db(format!(
                            "the request lacks `{field}`, a field of request `{request}`"
                        ))
                    })?;
                    let ty = match self.store.plan.request(request).map(|r| &r.spec) {
                        Some(Spec::Request { fields }) => fields
                            .iter()
                            .find(|c| &c.name == field)
                            .map_or(Kind::Null, |c| Kind::of(c.ty)),
                        _ => Kind::Null,
                    };
                    (Val::from_json(&col[i]), ty)
                }
                _ => (Val::Null, Kind::Null),
            };
            values.insert(key.clone(), val);
            kinds.insert(key, kind);
        }
        let v = eval(
            expr,
            &|x| values.get(&leaf_key(x)).cloned().unwrap_or(Val::Null),
            &|x| kinds.get(&leaf_key(x)).copied().unwrap_or(Kind::Null),
        );
        Ok(v.to_json())
    }
}

fn leaf_key(e: &IrExpr) -> String {
    match e {
        IrExpr::Feature { view, feature } => format!("f:{view}.{feature}"),
        IrExpr::Request { request, field } => format!("r:{request}.{field}"),
        _ => String::new(),
    }
}
