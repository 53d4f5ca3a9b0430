//! Serving: each deployment's model from the registry on libtorch (tch), behind one
//! actix-web server with online features, the registry, Prometheus metrics, the Open
//! Inference Protocol, dynamic batching on dedicated inference threads, the prediction log,
//! the monitor loop that evaluates the applied plan's monitors in the background, and the
//! web UI (`mlp-ui`) under `/ui` with the server's live view of what it serves.

pub mod batcher;
pub mod deployment;
pub mod error;
pub mod graph;
pub mod lookup;
pub mod metrics;
pub mod model;
pub mod monitor_loop;
pub mod oip;
pub mod outputs;
pub mod predict;
pub mod predlog;
pub mod reload;
mod rows;
pub mod score;
pub mod server;
pub mod sla;
pub mod ui;

pub use server::{start, Config, Running};
