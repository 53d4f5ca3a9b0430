//! The HTTP API of the feature store, independent of any web framework so that the server
//! (issue 6) mounts it as it is: `POST /v1/features/online` with
//! `{"features": ["view.feature", ...], "entities": {"user_id": [1, 2]}, "request": {...}}`
//! answers `{"columns": {"user_id": [1, 2], "view__feature": [...]}}`: the same feature
//! list and entity shape as historical retrieval, one line apart.

use crate::online::OnlineStore;
use crate::FeatureError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The body of `POST /v1/features/online`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineRequest {
    /// Features as `view.feature`.
    pub features: Vec<String>,
    /// Entity keys as columns of equal length.
    pub entities: BTreeMap<String, Vec<Value>>,
    /// Request fields for on-demand features, as columns of the same length.
    #[serde(default)]
    pub request: BTreeMap<String, Vec<Value>>,
}

/// Handles `POST /v1/features/online`: the HTTP status and the JSON body to answer.
pub fn online_features(store: &OnlineStore, body: &[u8], now_us: i64) -> (u16, Value) {
    let req: OnlineRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return (
                400,
                json!({ "error": format!("invalid request body: {e}") }),
            )
        }
    };
    if req.features.is_empty() {
        return (400, json!({ "error": "`features` is empty" }));
    }
    let mut columns = req.entities;
    for (k, v) in req.request {
        if columns.contains_key(&k) {
            return (
                400,
                json!({ "error": format!("`{k}` is both an entity key and a request field") }),
            );
        }
        columns.insert(k, v);
    }
    match store.lookup(&req.features, &columns, now_us) {
        Ok(cols) => (200, json!({ "columns": cols })),
        Err(FeatureError::Unavailable(why)) => (
            503,
            json!({ "error": format!("the online store is unavailable: {why}") }),
        ),
        Err(e) => (400, json!({ "error": e.to_string() })),
    }
}
