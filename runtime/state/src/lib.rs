//! State, plan and apply: the catalog of applied resources (DuckDB under `.mlp/`), the
//! change set a plan makes against it (`plan_to_changes`) with the impact of each change on
//! everything downstream, and apply.

pub mod apply;
pub mod catalog;
pub mod consumers;
pub mod diff;
pub mod failpoint;
pub mod impact;
pub mod lineage;
pub mod openlineage;
pub mod render;

pub use apply::{apply, lock, plan_id, ApplyError, ApplyReport, Component, SavedPlan};
pub use catalog::{Catalog, LastApply, StateError, StateResource, StateSnapshot};
pub use diff::{
    plan_drift, plan_to_changes, Action, Change, ChangeSet, Severity, CHANGES_FORMAT_VERSION,
};
pub use render::render_changes;
