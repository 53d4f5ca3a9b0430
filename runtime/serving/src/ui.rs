//! What the web UI (`mlp-ui`) sees of the server beside it: the plan served now, each
//! deployment's versions or why it cannot serve, its traffic over the last minute from the
//! server's own metrics, and the feature cache's counters.

use crate::server::State;
use actix_web::web;
use mlp_ir::Plan;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The server's state, seen by the UI.
pub struct Live(pub web::Data<State>);

impl mlp_ui::Live for Live {
    fn plan(&self) -> Arc<Plan> {
        self.0.now().plan.clone()
    }

    fn deployments(&self) -> Vec<mlp_ui::Served> {
        let now = self.0.now();
        let mut out: Vec<mlp_ui::Served> = now
            .deployments
            .iter()
            .map(|(name, d)| mlp_ui::Served {
                name: name.clone(),
                versions: d.graph.versions(),
                shadow: d.shadow.as_ref().map(|s| s.versions().join(", ")),
                error: None,
            })
            .collect();
        out.extend(now.failed.iter().map(|(name, e)| mlp_ui::Served {
            name: name.clone(),
            versions: Vec::new(),
            shadow: None,
            error: Some(e.clone()),
        }));
        out
    }

    fn traffic(&self, deployment: &str) -> mlp_ui::Traffic {
        let w = self.0.metrics.traffic(deployment);
        mlp_ui::Traffic {
            per_second: w.per_second,
            errors: w.errors,
            p50: mlp_monitoring::quantile(&w.latencies, 0.5),
            p99: mlp_monitoring::quantile(&w.latencies, 0.99),
        }
    }

    fn cache_counts(&self) -> Option<(u64, u64)> {
        self.0.now().store.as_ref().map(|s| {
            (
                s.counters.hits.load(Ordering::Relaxed),
                s.counters.misses.load(Ordering::Relaxed),
            )
        })
    }

    fn with_online(
        &self,
        f: &mut dyn FnMut(&duckdb::Connection) -> Result<(), String>,
    ) -> Option<Result<(), String>> {
        let now = self.0.now();
        let store = now.store.as_ref()?;
        // A clone of the store's connection (the same database), so that the UI's queries
        // do not hold the lock the prediction path's feature reads take.
        let conn = store.with_conn(|c| Ok(c.try_clone()?));
        Some(match conn {
            Ok(c) => f(&c),
            Err(e) => Err(e.to_string()),
        })
    }
}
