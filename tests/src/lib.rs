//! Shared helpers for the workspace tests and benchmarks: the corpus of known-good and
//! known-bad projects (examples and golden files) and a generator of large projects.

pub mod corpus;
pub mod fuzz;
pub mod gen;
