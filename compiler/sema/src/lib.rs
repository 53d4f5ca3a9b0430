//! Semantic analysis of a whole project: `ast_to_hir` resolves names across all files, checks
//! every declaration's attributes, types and units against the stdlib, and the graphs of
//! on-demand features, pipeline steps and deployments for cycles; `hir_to_plan` turns the
//! checked declarations into the plan IR's DAG.

mod body;
mod consts;
mod cycles;
mod decls;
pub mod env;
mod envblock;
pub mod fast;
mod graph;
pub mod hir;
mod lints;
mod lower;
mod models;
mod outputs;
mod paths;
mod pipeline;
mod pyenv;
mod serving;
mod sources;
pub mod support;
mod typeck;
mod views;

pub use env::{load_env_file, EnvValues};
pub use hir::{Hir, HirDecl};
pub use lower::hir_to_plan;

use mlp_diagnostics::{Diagnostics, FileId, SourceMap};
use mlp_syntax::ast;

/// Checks the parsed files of one project together. `env` holds the values from the
/// environment's YAML file (empty when no `--env` was given). Every problem found is in the
/// returned diagnostics; the HIR is complete only when they hold no error.
pub fn ast_to_hir(
    files: &[(FileId, ast::File)],
    env: &EnvValues,
    map: &SourceMap,
) -> (Hir, Diagnostics) {
    let mut cx = decls::Checker::new(files, env, map);
    cx.run();
    cx.finish()
}
