//! The Redis online store's layout and I/O, async on tokio (`redis_online` runs it for the
//! synchronous online store, `materialize` writes through it).
//!
//! Layout, Feast's: one hash per entity key, holding every view's features of that entity.
//! - The key is `{prefix}:{entity}:{key}`, where `key` is the entity key's values as a JSON
//!   array (`mlp:fraud:user:[42]`): one hash whatever the number of key columns.
//! - Each feature is the field `{view}:{feature}`, its value as JSON (`null` kept as JSON
//!   `null`, so that a missing field and a null value differ).
//! - Each view has the field `{view}:__ts`: the event time, in µs since the epoch, of the row
//!   its values come from. A write with an older event time than the stored one is skipped
//!   (a Lua script compares and writes atomically), so late or replayed batches never
//!   overwrite newer values.
//! - `{prefix}:__generation` counts materializations: a near cache in front of Redis keeps
//!   what it read with the generation it read it at and drops it when the counter moves.
//! - `{prefix}:__watermarks` is a hash of each view's materialization watermark: a Redis
//!   that lost its data (restarted without persistence, flushed, a new server) disagrees with
//!   the materializer's own watermark, and the next materialization writes the whole view
//!   again instead of only what changed.
//!
//! Writes and reads are pipelined in batches ([`BATCH`]) over one multiplexed connection
//! from the redis crate's `ConnectionManager`, which reconnects by itself; a failed command
//! is an [`FeatureError::Unavailable`] with Redis's reason, never a panic.

use crate::online::OnlineRow;
use crate::FeatureError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;
use std::collections::BTreeMap;

/// Commands per pipeline.
pub const BATCH: usize = 1000;

/// How long connecting to Redis may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// How long one command or pipeline may wait for its answer.
pub const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Compares the stored event time of a view with the new one and writes the view's fields
/// only when the new one is not older. KEYS[1]: the hash; ARGV[1]: the view's time field;
/// ARGV[2]: the new time (empty when unknown: always written); ARGV[3..]: field, value
/// pairs. Returns 1 written, 0 skipped.
const WRITE_IF_NEWER: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
local new = tonumber(ARGV[2])
if cur and new and cur > new then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 1))
return 1
";

/// One entity's values of one view, as materialization writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineWrite {
    /// The entity key's values, in key-column order.
    pub key: Vec<Value>,
    /// The event time of the row the values come from, µs since the epoch; `None` when no
    /// row is visible yet (the TTL then never expires the values, as in the local store).
    pub event_us: Option<i64>,
    /// Values by feature name.
    pub values: BTreeMap<String, Value>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Entities written.
    pub written: u64,
    /// Entities skipped: Redis held newer values.
    pub skipped: u64,
}

/// A connection to the Redis online store of one project.
#[derive(Clone)]
pub struct RedisStore {
    con: ConnectionManager,
    prefix: String,
    write_sha: String,
}

/// The hash of `entity`'s key `key` under `prefix`.
fn hash_key(prefix: &str, entity: &str, key: &[Value]) -> String {
    format!("{prefix}:{entity}:{}", Value::from(key.to_vec()))
}

fn unavailable(url: &str) -> impl Fn(redis::RedisError) -> FeatureError + '_ {
    move |e| FeatureError::Unavailable(format!("Redis at {url}: {e}"))
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`) for the keys under `prefix`
    /// (`mlp:PROJECT`), and loads the write script.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, FeatureError> {
        let err = unavailable(url);
        let client = redis::Client::open(url).map_err(&err)?;
        // A lost server must answer quickly (a 503 from the server, not a request held for
        // the default backoff's seconds): one retry, short timeouts. Each later command
        // tries to reconnect again, so a restarted server is picked up by the next request.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_factor(20)
            .set_max_delay(100)
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(RESPONSE_TIMEOUT);
        let mut con = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(&err)?;
        let write_sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(WRITE_IF_NEWER)
            .query_async(&mut con)
            .await
            .map_err(&err)?;
        Ok(RedisStore {
            con,
            prefix: prefix.to_string(),
            write_sha,
        })
    }

    /// The hash of `entity`'s key `key`.
    pub fn hash_key(&self, entity: &str, key: &[Value]) -> String {
        hash_key(&self.prefix, entity, key)
    }

    fn err(&self) -> impl Fn(redis::RedisError) -> FeatureError + '_ {
        move |e| FeatureError::Unavailable(format!("Redis ({}): {e}", self.prefix))
    }

    /// Writes `rows` of `view` (an entity of `entity`), in pipelined batches; rows older
    /// than what Redis holds for their entity and view are skipped.
    pub async fn write(
        &mut self,
        entity: &str,
        view: &str,
        rows: &[OnlineWrite],
    ) -> Result<Written, FeatureError> {
        let ts_field = format!("{view}:__ts");
        let prefix = self.prefix.clone();
        let mut out = Written::default();
        for chunk in rows.chunks(BATCH) {
            let pipe = |sha: &str| {
                let mut pipe = redis::pipe();
                for r in chunk {
                    let cmd = pipe
                        .cmd("EVALSHA")
                        .arg(sha)
                        .arg(1)
                        .arg(hash_key(&prefix, entity, &r.key))
                        .arg(&ts_field)
                        .arg(r.event_us.map_or_else(String::new, |t| t.to_string()));
                    for (f, v) in &r.values {
                        cmd.arg(format!("{view}:{f}")).arg(v.to_string());
                    }
                }
                pipe
            };
            let sha = self.write_sha.clone();
            let done: Vec<i64> = match pipe(&sha).query_async(&mut self.con).await {
                Ok(d) => d,
                // A restarted server has forgotten the script: load it again, once.
                Err(e) if e.kind() == redis::ErrorKind::NoScriptError => {
                    self.write_sha = redis::cmd("SCRIPT")
                        .arg("LOAD")
                        .arg(WRITE_IF_NEWER)
                        .query_async(&mut self.con)
                        .await
                        .map_err(self.err())?;
                    pipe(&self.write_sha)
                        .query_async(&mut self.con)
                        .await
                        .map_err(self.err())?
                }
                Err(e) => return Err(self.err()(e)),
            };
            let written = done.iter().filter(|d| **d == 1).count() as u64;
            out.written += written;
            out.skipped += done.len() as u64 - written;
        }
        Ok(out)
    }

    /// The values of `features` of `view` for each of `keys` (an entity of `entity`), in
    /// order, read with pipelined `HMGET`s: `None` for an entity Redis has no values of, or
    /// whose values are older than `ttl_ms` at `now_us` (the TTL is enforced on read).
    pub async fn read(
        &mut self,
        entity: &str,
        view: &str,
        keys: &[Vec<Value>],
        features: &[String],
        ttl_ms: Option<u64>,
        now_us: i64,
    ) -> Result<Vec<Option<OnlineRow>>, FeatureError> {
        let mut fields = vec![format!("{view}:__ts")];
        fields.extend(features.iter().map(|f| format!("{view}:{f}")));
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("HMGET").arg(self.hash_key(entity, k)).arg(&fields);
            }
            let got: Vec<Vec<Option<String>>> =
                pipe.query_async(&mut self.con).await.map_err(self.err())?;
            for row in got {
                out.push(decode(&row, features, ttl_ms, now_us)?);
            }
        }
        Ok(out)
    }

    /// The materialization counter (0 before the first).
    pub async fn generation(&mut self) -> Result<u64, FeatureError> {
        let g: Option<u64> = redis::cmd("GET")
            .arg(format!("{}:__generation", self.prefix))
            .query_async(&mut self.con)
            .await
            .map_err(self.err())?;
        Ok(g.unwrap_or(0))
    }

    /// The watermark Redis holds for `view`, if any.
    pub async fn watermark(&mut self, view: &str) -> Result<Option<String>, FeatureError> {
        redis::cmd("HGET")
            .arg(format!("{}:__watermarks", self.prefix))
            .arg(view)
            .query_async(&mut self.con)
            .await
            .map_err(self.err())
    }

    /// Records `view`'s watermark, once its rows are written.
    pub async fn set_watermark(&mut self, view: &str, watermark: &str) -> Result<(), FeatureError> {
        redis::cmd("HSET")
            .arg(format!("{}:__watermarks", self.prefix))
            .arg(view)
            .arg(watermark)
            .query_async(&mut self.con)
            .await
            .map_err(self.err())
    }

    /// Every entity key of `entity` that has values of `view`, each in key-column order
    /// (a `SCAN` over the entity's hashes, then pipelined `HEXISTS`).
    pub async fn keys(
        &mut self,
        entity: &str,
        view: &str,
    ) -> Result<Vec<Vec<Value>>, FeatureError> {
        let head = format!("{}:{entity}:", self.prefix);
        let pattern = format!("{}*", glob_escape(&head));
        let mut names: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(&mut self.con)
                .await
                .map_err(self.err())?;
            names.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key twice.
        names.sort();
        names.dedup();
        let field = format!("{view}:__ts");
        let mut out = Vec::new();
        for chunk in names.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for n in chunk {
                pipe.cmd("HEXISTS").arg(n).arg(&field);
            }
            let has: Vec<bool> = pipe.query_async(&mut self.con).await.map_err(self.err())?;
            for (n, has) in chunk.iter().zip(has) {
                if !has {
                    continue;
                }
                let key: Vec<Value> = serde_json::from_str(&n[head.len()..]).map_err(|e| {
                    FeatureError::Db(format!("the Redis key `{n}` is not mlp's: {e}"))
                })?;
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Counts one more materialization: near caches drop what they read before.
    pub async fn bump_generation(&mut self) -> Result<u64, FeatureError> {
        redis::cmd("INCR")
            .arg(format!("{}:__generation", self.prefix))
            .query_async(&mut self.con)
            .await
            .map_err(self.err())
    }
}

/// `s` with Redis's glob characters escaped, for a `MATCH` pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One `HMGET` answer (the time field, then each feature) as a row, or `None`.
fn decode(
    row: &[Option<String>],
    features: &[String],
    ttl_ms: Option<u64>,
    now_us: i64,
) -> Result<Option<OnlineRow>, FeatureError> {
    let Some(Some(ts)) = row.first() else {
        return Ok(None);
    };
    let event_us: Option<i64> =
        match ts.as_str() {
            "" => None,
            ts => Some(ts.parse().map_err(|_| {
                FeatureError::Db(format!("a Redis event time is not a number: {ts}"))
            })?),
        };
    if let (Some(ttl), Some(event_us)) = (ttl_ms, event_us) {
        let ttl_us = i64::try_from(ttl)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        if now_us.saturating_sub(event_us) > ttl_us {
            return Ok(None);
        }
    }
    let mut values = BTreeMap::new();
    for (f, v) in features.iter().zip(&row[1..]) {
        let value = match v {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                FeatureError::Db(format!("the Redis value of `{f}` is not JSON: {e}"))
            })?,
            None => Value::Null,
        };
        values.insert(f.clone(), value);
    }
    Ok(Some(OnlineRow { values, event_us }))
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_decode_with_the_ttl_enforced_and_bad_values_said() {
        let f = vec!["a".to_string(), "b".to_string()];
        let row = vec![Some("1000000".to_string()), Some("1.5".to_string()), None];
        let got = decode(&row, &f, Some(10), 1_000_000 + 10_000).unwrap_or_else(|e| panic!("{e}"));
        let got = got.unwrap_or_else(|| panic!("a row"));
        assert_eq!(got.values["a"], json!(1.5));
        assert_eq!(got.values["b"], Value::Null);
        assert_eq!(got.event_us, Some(1_000_000));
        // One µs past the TTL.
        assert_eq!(
            decode(&row, &f, Some(10), 1_000_000 + 10_001).ok(),
            Some(None)
        );
        assert_eq!(decode(&[None, None, None], &f, None, 0).ok(), Some(None));
        let bad = vec![Some("x".to_string()), None, None];
        assert!(decode(&bad, &f, None, 0).is_err());
        let bad = vec![Some("1".to_string()), Some("{".to_string()), None];
        assert!(decode(&bad, &f, None, 0).is_err());
    }
}
