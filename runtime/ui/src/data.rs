//! What the pages read: the applied plan (the server's when one runs beside the UI, else the
//! state's, read again only when the state file changes), the last apply, whether the source
//! differs from it (checked by the binary's [`SourcePlan`](crate::SourcePlan), at most every
//! few seconds: checking 20,000 features takes a while), and the stores (registry, run
//! history, monitor history, the online store).

use crate::layout::Problem;
use crate::Ui;
use mlp_ir::Plan;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The modification time and length of the state's files: they change with every apply.
type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(project_dir: &Path) -> Stamp {
    ["state.duckdb", "state.duckdb.wal"]
        .iter()
        .map(|f| {
            std::fs::metadata(mlp_ir::host::state_dir(project_dir).join(f))
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

/// The applied plan as read from the state, with the stamp it was read at.
pub struct Cached {
    stamp: Stamp,
    plan: Option<Arc<Plan>>,
    last: Option<mlp_state::LastApply>,
}

/// Whether the source differs from the applied plan, computed at `at` for `plan`.
pub struct Drift {
    at: Instant,
    plan: usize,
    /// What differs (`+ id`, `~ id`, `- id`), or why the source could not be compared.
    pub result: Result<Vec<String>, String>,
}

/// How long a computed source drift is shown before it is computed again.
const DRIFT_FRESH: Duration = Duration::from_secs(5);

impl Ui {
    fn cached(&self) -> Result<(Option<Arc<Plan>>, Option<mlp_state::LastApply>), Problem> {
        let now = stamp(&self.project_dir);
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.as_ref().filter(|c| c.stamp == now) {
            return Ok((c.plan.clone(), c.last.clone()));
        }
        let err = |e: mlp_state::StateError| Problem::internal(&e.to_string());
        let plan = match &self.live {
            // The server's plan; the state is read only for the last apply.
            Some(_) => None,
            None => mlp_state::Catalog::read_applied_plan(&self.project_dir)
                .map_err(err)?
                .map(Arc::new),
        };
        let last = mlp_state::Catalog::read_last_apply(&self.project_dir).map_err(err)?;
        *cache = Some(Cached {
            stamp: now,
            plan: plan.clone(),
            last: last.clone(),
        });
        Ok((plan, last))
    }

    /// The plan the pages show: what the server beside the UI serves, else the applied plan.
    pub fn plan(&self) -> Result<Arc<Plan>, Problem> {
        if let Some(live) = &self.live {
            return Ok(live.plan());
        }
        self.cached()?.0.ok_or_else(Problem::nothing_applied)
    }

    /// The last apply, if any.
    pub fn last_apply(&self) -> Result<Option<mlp_state::LastApply>, Problem> {
        Ok(self.cached()?.1)
    }

    /// What differs between the source and `plan`, computed again when older than a few
    /// seconds or computed for another plan.
    pub fn source_drift(&self, plan: &Arc<Plan>) -> Result<Vec<String>, String> {
        let key = Arc::as_ptr(plan) as usize;
        // Held while checking: requests that come meanwhile wait for this one's answer
        // instead of each checking the source again.
        let mut d = self
            .drift
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = d
            .as_ref()
            .filter(|d| d.plan == key && d.at.elapsed() < DRIFT_FRESH)
        {
            return d.result.clone();
        }
        let Some(check) = &self.setup.source else {
            return Err("not compared here".into());
        };
        let result = check(&self.project_dir, self.setup.env.as_deref())
            .map(|source| mlp_state::plan_drift(&source, plan));
        *d = Some(Drift {
            at: Instant::now(),
            plan: key,
            result: result.clone(),
        });
        result
    }

    /// `f` on a connection to the online store: the server's when one runs beside the UI
    /// (DuckDB refuses a second instance on the same file in one process), else a read-only
    /// one of its own; `Ok(None)` when nothing is materialized.
    pub fn with_online<T>(
        &self,
        f: impl FnOnce(&duckdb::Connection) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        let path = mlp_features::materialize::online_db(&self.project_dir);
        if !path.exists() {
            return Ok(None);
        }
        let mut f = Some(f);
        if let Some(live) = &self.live {
            let mut out = None;
            let ran = live.with_online(&mut |c| {
                if let Some(f) = f.take() {
                    out = Some(f(c)?);
                }
                Ok(())
            });
            // Without a store open in the server, it is read directly below.
            if let Some(r) = ran {
                return r.map(|()| out);
            }
        }
        let conn = mlp_features::online::open_read_only(&path, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        match f.take() {
            Some(f) => f(&conn).map(Some),
            None => Ok(None),
        }
    }

    /// The model registry, for a write.
    pub fn registry(&self) -> Result<mlp_registry::Registry, Problem> {
        mlp_registry::Registry::open(&self.project_dir)
            .map_err(|e| Problem::internal(&format!("the model registry: {e}")))
    }

    /// The model registry, for a page; `None` when nothing was ever registered (a page
    /// creates no file).
    pub fn registry_if_any(&self) -> Result<Option<mlp_registry::Registry>, Problem> {
        if !mlp_ir::host::state_dir(&self.project_dir)
            .join("registry.sqlite")
            .exists()
        {
            return Ok(None);
        }
        self.registry().map(Some)
    }

    /// The pipeline run history; `None` when nothing ever ran (a page creates no file).
    pub fn runs(&self) -> Result<Option<mlp_pipelines::history::History>, Problem> {
        if !mlp_ir::host::state_dir(&self.project_dir)
            .join("runs.sqlite")
            .exists()
        {
            return Ok(None);
        }
        mlp_pipelines::history::History::open(&self.project_dir)
            .map(Some)
            .map_err(|e| Problem::internal(&format!("the run history: {e}")))
    }

    /// The monitor history; `None` when no monitor has been evaluated.
    pub fn monitors(&self) -> Result<Option<mlp_monitoring::monitor::History>, Problem> {
        if !mlp_monitoring::monitor::history::path(&self.project_dir).exists() {
            return Ok(None);
        }
        mlp_monitoring::monitor::History::open(&self.project_dir)
            .map(Some)
            .map_err(|e| Problem::internal(&format!("the monitor history: {e}")))
    }

    /// Whether `given` is the token write actions need; the problem to answer otherwise.
    pub fn authorize(&self, given: Option<&str>) -> Result<(), Problem> {
        match (&self.token, given) {
            (None, _) => Err(Problem::forbidden(
                "This UI is read-only: start the server with MLP_TOKEN set to allow changes.",
            )),
            (Some(t), Some(g)) if t == g => Ok(()),
            (Some(_), _) => Err(Problem::forbidden(
                "This action needs the server's token (MLP_TOKEN): it is missing or wrong.",
            )),
        }
    }
}
