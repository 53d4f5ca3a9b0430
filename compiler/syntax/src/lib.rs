//! The concrete syntax of the `.mlp` language: the pest grammar, the spanned AST, the
//! parser (`source_to_ast`) and the canonical formatter (`ast_to_source`).

pub mod ast;
mod comments;
mod fmt;
mod parse;
mod syntax_error;
pub mod units;

pub use fmt::ast_to_source;
pub use parse::source_to_ast;

/// Reserved words that cannot name anything.
pub const KEYWORDS: &[&str] = &[
    "check", "require", "step", "over", "and", "or", "not", "true", "false", "null",
];
