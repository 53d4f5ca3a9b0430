//! Apply: takes the project's lock, checks that a saved plan still matches the state, runs
//! each component's actions for the changes in order, and records the result in the
//! catalog in one transaction. Components (the feature store, pipelines, the registry,
//! serving, monitors) register through the [`Component`] trait; their actions must be
//! idempotent, because an apply that was killed is completed by running it again.

use crate::catalog::{Catalog, StateError};
use crate::diff::{plan_to_changes, Change, ChangeSet};
use crate::openlineage;
use mlp_ir::{Plan, PlanDoc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a component does for one change. Called in plan order (creates and updates after
/// what they depend on, deletes last); must be idempotent.
pub trait Component {
    /// Name for messages (`feature store`).
    fn name(&self) -> &str;
    /// Carries out `change` (of a resource in `plan`, or of a deleted one).
    fn apply(&self, change: &Change, plan: &Plan, project_dir: &Path) -> Result<(), String>;
}

/// A plan saved by `mlpc plan --out FILE`: the changes shown and the plan they came from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SavedPlan {
    /// The project folder the plan was made for.
    pub project_dir: PathBuf,
    /// The changes, as shown.
    pub changes: ChangeSet,
    /// The plan IR the changes lead to.
    pub plan: PlanDoc,
}

/// Errors of apply.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The state catalog failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// Another apply holds the lock.
    #[error("another `mlpc apply` is running on this project (lock `{0}`); wait for it, or pass --lock-timeout to wait")]
    Locked(PathBuf),
    /// The lock file could not be opened.
    #[error("cannot take the lock `{path}`: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The state moved since the saved plan was made.
    #[error("the saved plan is stale: it was made against state serial {planned}, and the state is now at serial {current} (or its contents changed); run `mlpc plan` again")]
    Stale {
        /// Serial the plan was made against.
        planned: i64,
        /// Serial now.
        current: i64,
    },
    /// A component failed; nothing was recorded.
    #[error("{component} failed on `{id}`: {message}; the state is unchanged, fix the cause and apply again")]
    Component {
        /// Which component.
        component: String,
        /// Which resource.
        id: String,
        /// What went wrong.
        message: String,
    },
}

/// The project's apply lock, held until dropped.
pub struct ApplyLock {
    _file: File,
}

/// Takes `.mlp/apply.lock`, waiting up to `timeout` for another apply to finish.
pub fn lock(project_dir: &Path, timeout: Duration) -> Result<ApplyLock, ApplyError> {
    let dir = mlp_ir::host::state_dir(project_dir);
    std::fs::create_dir_all(&dir).map_err(|source| ApplyError::Lock {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join("apply.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ApplyError::Lock {
            path: path.clone(),
            source,
        })?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(ApplyLock { _file: file }),
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                // Polling a held OS lock: there is no portable way to wait with a timeout.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => return Err(ApplyError::Locked(path)),
            Err(TryLockError::Error(source)) => return Err(ApplyError::Lock { path, source }),
        }
    }
}

/// A short id for a change set: the first 16 hex digits of the sha256 of its JSON.
pub fn plan_id(changes: &ChangeSet) -> String {
    // Plain data (derived Serialize), as the plan's specs: serialising cannot fail, and an
    // empty input would give every plan the same id.
    let json = match serde_json::to_vec(changes) {
        Ok(j) => j,
        Err(e) => unreachable!("a change set always serialises to JSON: {e}"),
    };
    Sha256::digest(&json)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    /// The state serial after the apply.
    pub serial: i64,
    /// The plan id recorded.
    pub plan_id: String,
    /// The changes made.
    pub changes: ChangeSet,
    /// Problems that did not stop the apply (an OpenLineage sink that failed).
    pub warnings: Vec<String>,
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Applies `changes` (computed from `plan` against the state at `changes.state_serial`) to
/// the project in `project_dir`. The caller holds the lock. Refuses when the state moved
/// since the changes were computed.
pub fn apply(
    catalog: &mut Catalog,
    project_dir: &Path,
    plan: &Plan,
    changes: &ChangeSet,
    components: &[&dyn Component],
) -> Result<ApplyReport, ApplyError> {
    crate::failpoint::failpoint("apply.locked");
    let now = catalog.snapshot()?;
    if now.serial != changes.state_serial || plan_to_changes(plan, &now) != *changes {
        return Err(ApplyError::Stale {
            planned: changes.state_serial,
            current: now.serial,
        });
    }
    let sink = openlineage::sink(plan, project_dir);
    let run_id = uuid::Uuid::new_v4().to_string();
    let mut warnings = Vec::new();
    let mut send = |event_type: &str| {
        if let Some(sink) = &sink {
            let event =
                openlineage::apply_event(event_type, &run_id, plan, changes, &now_rfc3339());
            if let Err(e) = openlineage::emit(sink, &event) {
                warnings.push(format!("OpenLineage event not sent: {e}"));
            }
        }
    };
    send("START");
    for change in &changes.changes {
        for c in components {
            if let Err(message) = c.apply(change, plan, project_dir) {
                send("FAIL");
                return Err(ApplyError::Component {
                    component: c.name().to_string(),
                    id: change.id.clone(),
                    message,
                });
            }
        }
    }
    crate::failpoint::failpoint("apply.components");
    let id = plan_id(changes);
    let serial = catalog.record_apply(changes, plan, &id, &now_rfc3339())?;
    send("COMPLETE");
    Ok(ApplyReport {
        serial,
        plan_id: id,
        changes: changes.clone(),
        warnings,
    })
}
