//! Shared test fixtures of the workspace, in one crate so that each exists once: the sample
//! shop project (`fixtures`) and the helpers of the tests that apply, train and serve a
//! project (`serving`), validation against the committed JSON Schemas (`schema`), a
//! language client for `mlpc lsp` (`lsp`) and a real `redis-server` (`redis`). Test
//! helpers panic with the reason, as tests should.

pub mod fixtures;
pub mod lsp;
pub mod redis;
pub mod schema;
pub mod serving;

pub use fixtures::{project, root, write, SHOP};
