//! The Redis online store for synchronous callers (the online store's lookups, materialization,
//! `features verify`): each call runs on one process-wide tokio runtime of its own and the
//! caller waits for its answer, so that it works the same from a plain thread, a blocking
//! pool and an actix worker (which a nested `block_on` would panic in).
//!
//! The connection is made on first use, not when the store opens: a server whose Redis is
//! down starts, answers 503 with the reason, and connects once Redis is back. Every call has
//! a deadline, so a lost server costs a request at most that long.

use crate::online::OnlineRow;
use crate::redis_store::{OnlineWrite, RedisStore, Written};
use crate::FeatureError;
use mlp_ir::{Column, Type};
use serde_json::Value;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long a lookup (one pipelined read) may take before it is answered as unavailable.
pub const READ_DEADLINE: Duration = Duration::from_secs(2);

/// How long one view's writes or a key scan may take.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(600);

/// The runtime every Redis call of the process runs on: one worker thread, never dropped (a
/// runtime dropped from inside another one's worker would panic).
fn runtime() -> Result<&'static tokio::runtime::Runtime, FeatureError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mlp-redis")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| FeatureError::Unavailable(format!("cannot start the Redis client's runtime: {e}")))
}

/// A Redis online store: its URL, its key prefix and, once made, its connection.
pub struct RedisOnline {
    url: String,
    prefix: String,
    store: Mutex<Option<RedisStore>>,
}

impl RedisOnline {
    /// The store at `url` (`redis://HOST:PORT[/DB]`) for the keys under `prefix`; nothing is
    /// connected yet.
    pub fn new(url: &str, prefix: &str) -> RedisOnline {
        RedisOnline {
            url: url.to_string(),
            prefix: prefix.to_string(),
            store: Mutex::new(None),
        }
    }

    /// Runs `f` on the connection (made first when there is none) on the Redis runtime and
    /// waits for it at most `deadline`.
    fn run<T, F, Fut>(&self, deadline: Duration, f: F) -> Result<T, FeatureError>
    where
        T: Send + 'static,
        F: FnOnce(RedisStore) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, FeatureError>> + Send + 'static,
    {
        let rt = runtime()?;
        let known = self.store.lock().ok().and_then(|g| g.clone());
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        let said = url.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let work = async move {
                let store = match known {
                    Some(s) => s,
                    None => RedisStore::connect(&url, &prefix).await?,
                };
                let out = f(store.clone()).await?;
                Ok::<_, FeatureError>((out, store))
            };
            let answer = match tokio::time::timeout(deadline, work).await {
                Ok(r) => r,
                Err(_) => Err(FeatureError::Unavailable(format!(
                    "Redis at {said} did not answer within {deadline:?}"
                ))),
            };
            // The caller may have gone (it never does: it waits on `rx` below).
            tx.send(answer).ok();
        });
        let (out, store) = rx.recv().map_err(|_| {
            FeatureError::Unavailable("the Redis client's runtime stopped".into())
        })??;
        if let Ok(mut g) = self.store.lock() {
            if g.is_none() {
                *g = Some(store);
            }
        }
        Ok(out)
    }

    /// The rows of `view` (of entity `entity`, whose key columns are `keys_of`) for `keys`,
    /// with the values of `features`; no TTL applied (the online store applies it per
    /// feature).
    pub fn read(
        &self,
        entity: &str,
        keys_of: &[Column],
        view: &str,
        keys: &[Vec<Value>],
        features: &[String],
    ) -> Result<Vec<Option<OnlineRow>>, FeatureError> {
        let (entity, view, features) = (entity.to_string(), view.to_string(), features.to_vec());
        let keys: Vec<Vec<Value>> = keys.iter().map(|k| canonical_key(keys_of, k)).collect();
        self.run(READ_DEADLINE, move |mut s| async move {
            s.read(&entity, &view, &keys, &features, None, 0).await
        })
    }

    /// Writes `rows` of `view`, skipping those older than what Redis holds.
    pub fn write(
        &self,
        entity: &str,
        view: &str,
        rows: Vec<OnlineWrite>,
    ) -> Result<Written, FeatureError> {
        let (entity, view) = (entity.to_string(), view.to_string());
        self.run(WRITE_DEADLINE, move |mut s| async move {
            s.write(&entity, &view, &rows).await
        })
    }

    /// Every key with values of `view`.
    pub fn keys(&self, entity: &str, view: &str) -> Result<Vec<Vec<Value>>, FeatureError> {
        let (entity, view) = (entity.to_string(), view.to_string());
        self.run(WRITE_DEADLINE, move |mut s| async move {
            s.keys(&entity, &view).await
        })
    }

    /// The materialization counter.
    pub fn generation(&self) -> Result<u64, FeatureError> {
        self.run(READ_DEADLINE, |mut s| async move { s.generation().await })
    }

    /// Counts a materialization.
    pub fn bump_generation(&self) -> Result<u64, FeatureError> {
        self.run(
            READ_DEADLINE,
            |mut s| async move { s.bump_generation().await },
        )
    }

    /// The watermark Redis holds for `view`.
    pub fn watermark(&self, view: &str) -> Result<Option<String>, FeatureError> {
        let view = view.to_string();
        self.run(READ_DEADLINE, move |mut s| async move {
            s.watermark(&view).await
        })
    }

    /// Records `view`'s watermark.
    pub fn set_watermark(&self, view: &str, watermark: &str) -> Result<(), FeatureError> {
        let (view, watermark) = (view.to_string(), watermark.to_string());
        self.run(READ_DEADLINE, move |mut s| async move {
            s.set_watermark(&view, &watermark).await
        })
    }
}

/// `key` as materialization writes it, so that a request's `42.0` or `"42"` for an integer
/// key finds the hash of `42` (as the DuckDB store's comparison does): integral numbers and
/// integer text become integers for `int` keys, numbers become text for `string` keys.
pub fn canonical_key(columns: &[Column], key: &[Value]) -> Vec<Value> {
    key.iter()
        .enumerate()
        .map(|(i, v)| match (columns.get(i).map(|c| c.ty), v) {
            (Some(Type::Int), Value::Number(n)) if n.as_i64().is_none() => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map_or_else(|| v.clone(), |f| Value::from(f as i64)),
            (Some(Type::Int), Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map_or_else(|_| v.clone(), Value::from),
            (Some(Type::String), Value::Number(n)) => Value::String(n.to_string()),
            _ => v.clone(),
        })
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    fn col(name: &str, ty: Type) -> Column {
        Column::scalar(name, ty)
    }

    #[test]
    fn request_keys_take_the_written_form() {
        let cols = [col("user_id", Type::Int), col("country", Type::String)];
        assert_eq!(
            canonical_key(&cols, &[json!(42.0), json!("FR")]),
            vec![json!(42), json!("FR")]
        );
        assert_eq!(
            canonical_key(&cols, &[json!(" 7"), json!(33)]),
            vec![json!(7), json!("33")]
        );
        // Not an integer: left as it is, found by nothing.
        assert_eq!(
            canonical_key(&cols, &[json!(1.5), json!(null)]),
            vec![json!(1.5), json!(null)]
        );
    }
}
