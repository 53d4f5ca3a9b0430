//! Shared test fixtures of the workspace, in one crate so that each exists once: the sample
//! shop project (`fixtures`) and the helpers of the tests that apply, train and serve a
//! project (`serving`). Test helpers panic with the reason, as tests should.

pub mod fixtures;
pub mod serving;

pub use fixtures::{project, root, write, SHOP};
