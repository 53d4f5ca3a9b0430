//! The feature store: feature views compiled from the plan IR to DuckDB SQL, point-in-time
//! correct historical retrieval (`historical`), and later materialization into the online
//! store and on-demand features.

pub mod api;
mod feature_sql;
pub mod historical;
pub mod materialize;
pub mod ondemand;
pub mod online;
pub mod pit;
pub mod redis_online;
pub mod redis_store;
pub mod schema;
pub mod script;
pub mod spark;
pub mod sql;
pub mod verify;
mod window;

pub use historical::{historical, FeatureError, HistoricalRequest};
pub use materialize::{materialize, Materialized};
pub use online::OnlineStore;
pub use verify::{verify, VerifyReport};
