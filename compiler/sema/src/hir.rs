//! The HIR: every declaration checked and resolved, with its spans kept for diagnostics and
//! its definition already in the plan IR's typed form, plus the upstream resources it reads.

use mlp_diagnostics::Span;
use mlp_ir::{EdgeKind, Spec};
use mlp_syntax::ast::DeclKind;

/// A checked project.
#[derive(Debug, Clone, Default)]
pub struct Hir {
    /// The project's name (from its `project` block).
    pub project: String,
    /// Environment name, when values came from `env/NAME.yaml`.
    pub env: Option<String>,
    /// Declarations in source order (features follow their view).
    pub decls: Vec<HirDecl>,
}

/// One checked declaration (or one feature of a view).
#[derive(Debug, Clone)]
pub struct HirDecl {
    /// Plan id (`features.user_stats`, `feature.user_stats.avg_amount_7d`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Declaration kind (features carry `Features`).
    pub kind: DeclKind,
    /// Span of the name.
    pub span: Span,
    /// Doc comment text.
    pub doc: String,
    /// Resolved definition.
    pub spec: Spec,
    /// Upstream ids this one depends on, with the relation.
    pub deps: Vec<(String, EdgeKind)>,
}

/// Plan id for a declaration.
pub fn decl_id(kind: DeclKind, name: &str) -> String {
    format!("{}.{}", kind.keyword(), name)
}

/// Plan id for a feature.
pub fn feature_id(view: &str, feature: &str) -> String {
    format!("feature.{view}.{feature}")
}
