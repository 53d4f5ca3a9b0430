//! State, plan and apply: the catalog of applied resources (DuckDB under `.mlp/`), the
//! change set a plan makes against it (`plan_to_changes`) with the impact of each change on
//! everything downstream, and apply.

pub mod catalog;

pub use catalog::{Catalog, StateError, StateResource, StateSnapshot};
