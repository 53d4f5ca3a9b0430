//! The online store: an in-process LRU cache (the `lru` crate) in front of the materialized
//! rows, which are read from `.mlp/online.duckdb` (`online = memory(...)`) or from a Redis
//! server (`online = redis(URL)`, the LRU then being its near cache). A miss loads the
//! entity's row; the view's TTL is enforced on every read (a latest-row value older than the
//! TTL is null), unlike Feast's online path.

mod lookup;

use crate::historical::{key_columns, view_of, FeatureError};
use crate::materialize::{online_db, online_table};
use crate::redis_online::RedisOnline;
use crate::sql::ident;
use duckdb::types::Value as DbValue;
use duckdb::Connection;
use lookup::Lookup;
use lru::LruCache;
use mlp_ir::{Column, FeatureDef, IrExpr, Literal, Plan, Spec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long opening the online table waits for a materialization that holds it.
pub const OPEN_WAIT: Duration = Duration::from_secs(5);

/// Opens `path` read-only, waiting up to `wait` while a writer (a materialization in another
/// process) holds the file's lock.
pub fn open_read_only(path: &Path, wait: Duration) -> Result<Connection, FeatureError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        match Connection::open_with_flags(path, config) {
            Ok(c) => return Ok(c),
            Err(e) if e.to_string().contains("lock") && start.elapsed() < wait => {
                // Polling an OS file lock: DuckDB offers no way to wait on it.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The latest modification time of the online database and its write-ahead log.
fn stamp(path: &Path) -> Option<SystemTime> {
    let wal = PathBuf::from(format!("{}.wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// One entity's materialized values: feature -> value, and the event time (microseconds
/// since the epoch) of the row the latest-row features come from.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    /// Values by feature name.
    pub values: BTreeMap<String, Value>,
    /// Event time of the latest row, in microseconds since the epoch.
    pub event_us: Option<i64>,
}

/// Hit and miss counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Reads answered from the cache.
    pub hits: AtomicU64,
    /// Reads that went to the table.
    pub misses: AtomicU64,
}

type Key = (String, String);

/// The online store a project block declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineConfig {
    /// `memory(capacity = N)`: the LRU of `capacity` rows over `.mlp/online.duckdb`.
    Memory {
        /// Rows the LRU holds.
        capacity: usize,
    },
    /// `redis(URL, near_cache = N, prefix = P)`.
    Redis {
        /// `redis://HOST:PORT[/DB]`.
        url: String,
        /// The keys' prefix: `mlp:PROJECT` unless declared.
        prefix: String,
        /// Rows the near cache holds; 0 for none.
        near_cache: usize,
    },
}

/// The online store the plan's project block declares.
pub fn online_config(plan: &Plan) -> OnlineConfig {
    let project = plan.project();
    let backend = project.and_then(|r| match &r.spec {
        Spec::Project { online, .. } => Some(online),
        _ => None,
    });
    let int = |name: &str| {
        backend
            .and_then(|b| b.args.get(name))
            .and_then(|v| match v {
                Literal::Int(n) if *n >= 0 => usize::try_from(*n).ok(),
                _ => None,
            })
    };
    let text = |name: &str| {
        backend
            .and_then(|b| b.args.get(name))
            .and_then(|v| match v {
                Literal::String(s) => Some(s.clone()),
                _ => None,
            })
    };
    match backend.map(|b| b.kind.as_str()) {
        Some("redis") => OnlineConfig::Redis {
            url: text("url").unwrap_or_default(),
            prefix: text("prefix").unwrap_or_else(|| {
                format!("mlp:{}", project.map_or("project", |r| r.name.as_str()))
            }),
            near_cache: int("near_cache").unwrap_or(DEFAULT_CAPACITY),
        },
        _ => OnlineConfig::Memory {
            capacity: int("capacity")
                .filter(|n| *n > 0)
                .unwrap_or(DEFAULT_CAPACITY),
        },
    }
}

/// The LRU's capacity when the project block declares none.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Where the materialized rows are read from.
enum Backend {
    /// `.mlp/online.duckdb`, through the store's connection.
    Local,
    /// A Redis server, and the materialization generation the cache was filled at: `None`
    /// before the first check, `Some(None)` after a check that could not reach Redis.
    Redis {
        redis: RedisOnline,
        generation: Mutex<Option<Option<u64>>>,
    },
}

/// The online store of a project.
pub struct OnlineStore {
    /// Open while misses come in; closed when idle (`release_if_idle`) and when a
    /// materialization has replaced the file (`invalidate_if_changed`). With Redis, the
    /// materializer's local copy, which only the web UI reads.
    conn: Mutex<Option<(Connection, Instant)>>,
    path: PathBuf,
    /// The file's modification time when the cache was last known to be current.
    seen: Mutex<Option<SystemTime>>,
    /// `None` for a Redis store without a near cache.
    cache: Option<Mutex<LruCache<Key, Option<Arc<OnlineRow>>>>>,
    backend: Backend,
    /// Hit/miss counters.
    pub counters: Counters,
    plan: Plan,
    /// What a lookup needs of each batch feature, by `view.feature`, computed once.
    meta: HashMap<String, Arc<FeatureMeta>>,
    /// Each view's batch features, and its entity's key columns, for Redis reads.
    views: HashMap<String, (Vec<String>, Vec<Column>)>,
}

/// A batch feature as the online path reads it.
#[derive(Debug)]
struct FeatureMeta {
    entity: String,
    keys: Vec<String>,
    /// A latest-row feature, to which the view's TTL applies.
    latest: bool,
    /// `count`/`count_distinct`: 0, not null, for an unknown key.
    is_count: bool,
    ttl_us: Option<i64>,
}

fn feature_meta(plan: &Plan) -> HashMap<String, Arc<FeatureMeta>> {
    let mut out = HashMap::new();
    for r in plan.resources() {
        let Spec::Feature { view, def, .. } = &r.spec else {
            continue;
        };
        if matches!(def, FeatureDef::OnDemand { .. }) {
            continue;
        }
        let Ok(v) = view_of(plan, view) else { continue };
        let is_count = matches!(def, FeatureDef::Aggregate { expr: IrExpr::Call { func, .. }, .. } if func == "count" || func == "count_distinct");
        out.insert(
            format!("{view}.{}", r.name),
            Arc::new(FeatureMeta {
                keys: key_columns(plan, &v.entity),
                entity: v.entity,
                latest: matches!(def, FeatureDef::Column { .. } | FeatureDef::Expr { .. }),
                is_count,
                ttl_us: v
                    .ttl_ms
                    .map(|t| i64::try_from(t).unwrap_or(i64::MAX).saturating_mul(1000)),
            }),
        );
    }
    out
}

/// A missing online table said as such.
fn not_materialized(view: &str, e: duckdb::Error) -> FeatureError {
    match e.to_string() {
        m if m.contains("does not exist") => FeatureError::Db(format!(
            "view `{view}` is not materialized: run `mlpc materialize`"
        )),
        _ => FeatureError::from(e),
    }
}

/// The capacity of the in-process cache the project block declares (`memory(capacity = N)`,
/// `redis(URL, near_cache = N)`), or 100,000; 0 for a Redis store without one.
pub fn capacity(plan: &Plan) -> usize {
    match online_config(plan) {
        OnlineConfig::Memory { capacity } => capacity,
        OnlineConfig::Redis { near_cache, .. } => near_cache,
    }
}

/// Each view's batch features and its entity's key columns.
fn view_columns(plan: &Plan) -> HashMap<String, (Vec<String>, Vec<Column>)> {
    let mut out: HashMap<String, (Vec<String>, Vec<Column>)> = HashMap::new();
    for r in plan.resources() {
        let Spec::Feature { view, def, .. } = &r.spec else {
            continue;
        };
        if matches!(def, FeatureDef::OnDemand { .. }) {
            continue;
        }
        let Ok(v) = view_of(plan, view) else { continue };
        out.entry(view.clone())
            .or_insert_with(|| (Vec::new(), v.entity_keys.clone()))
            .0
            .push(r.name.clone());
    }
    out
}

/// A DuckDB value as JSON (numbers, text, booleans, null; other types as their text).
pub fn to_json(v: DbValue) -> Value {
    match v {
        DbValue::Null => Value::Null,
        DbValue::Boolean(b) => Value::Bool(b),
        DbValue::TinyInt(i) => i.into(),
        DbValue::SmallInt(i) => i.into(),
        DbValue::Int(i) => i.into(),
        DbValue::BigInt(i) => i.into(),
        DbValue::UTinyInt(i) => i.into(),
        DbValue::USmallInt(i) => i.into(),
        DbValue::UInt(i) => i.into(),
        DbValue::UBigInt(i) => i.into(),
        DbValue::Float(f) => {
            serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
        }
        DbValue::Double(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        DbValue::Text(s) => Value::String(s),
        other => Value::String(format!("{other:?}")),
    }
}

/// The DuckDB type a key value is compared as; `None` for a null (which matches nothing).
fn db_type(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some("BOOLEAN"),
        Value::Number(n) if n.as_i64().is_some() => Some("BIGINT"),
        Value::Number(_) => Some("DOUBLE"),
        _ => Some("VARCHAR"),
    }
}

fn to_db(v: &Value) -> DbValue {
    match v {
        Value::Null => DbValue::Null,
        Value::Bool(b) => DbValue::Boolean(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || DbValue::Double(n.as_f64().unwrap_or(f64::NAN)),
            DbValue::BigInt,
        ),
        Value::String(s) => DbValue::Text(s.clone()),
        other => DbValue::Text(other.to_string()),
    }
}

impl OnlineStore {
    /// Opens the store of the project in `project_dir` (read-only) with the cache the
    /// project block declares. A Redis store connects on its first read.
    pub fn open(project_dir: &Path, plan: &Plan) -> Result<Self, FeatureError> {
        let path = online_db(project_dir);
        let (backend, capacity) = match online_config(plan) {
            OnlineConfig::Memory { capacity } => (Backend::Local, capacity),
            OnlineConfig::Redis {
                url,
                prefix,
                near_cache,
            } => (
                Backend::Redis {
                    redis: RedisOnline::new(&url, &prefix),
                    generation: Mutex::new(None),
                },
                near_cache,
            ),
        };
        let conn = match backend {
            Backend::Local if !path.exists() => {
                return Err(FeatureError::File {
                    path,
                    message: "nothing is materialized yet: run `mlpc materialize` first".into(),
                })
            }
            Backend::Local => Some((open_read_only(&path, OPEN_WAIT)?, Instant::now())),
            Backend::Redis { .. } => None,
        };
        Ok(OnlineStore {
            seen: Mutex::new(stamp(&path)),
            conn: Mutex::new(conn),
            path,
            cache: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
            backend,
            counters: Counters::default(),
            plan: plan.clone(),
            meta: feature_meta(plan),
            views: view_columns(plan),
        })
    }

    /// Closes the connection to the online table when no miss has used it for `idle`, so
    /// that an idle server holds no file (a server calls this every second). The next miss
    /// opens it again.
    pub fn release_if_idle(&self, idle: Duration) {
        if let Ok(mut g) = self.conn.lock() {
            if g.as_ref().is_some_and(|(_, used)| used.elapsed() >= idle) {
                *g = None;
            }
        }
    }

    fn clear_cache(&self) {
        if let Some(Ok(mut c)) = self.cache.as_ref().map(Mutex::lock) {
            c.clear();
        }
    }

    /// Empties the cache when a materialization ran since the last check, so that later
    /// reads see the new values (a server calls this every second): for the local store, the
    /// online table changed on disk; for Redis, its generation counter moved, or Redis could
    /// not be reached (a near cache that cannot be checked is not trusted). Returns whether it
    /// emptied the cache.
    pub fn invalidate_if_changed(&self) -> bool {
        if let Backend::Redis { redis, generation } = &self.backend {
            let now = redis.generation().ok();
            let Ok(mut seen) = generation.lock() else {
                return false;
            };
            match (*seen, now) {
                // Unchanged; or still unreachable, the cache already emptied.
                (Some(Some(a)), Some(b)) if a == b => return false,
                (Some(None), None) => return false,
                _ => {}
            }
            let first = seen.is_none();
            *seen = Some(now);
            self.clear_cache();
            // Not for the first reading, which only learns the counter: for a moved counter,
            // a lost Redis (once, not every second while it stays away) and its return.
            return !first;
        }
        let now = stamp(&self.path);
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if *seen == now {
            return false;
        }
        *seen = now;
        if let Ok(mut g) = self.conn.lock() {
            // A connection opened before the change may not see it.
            *g = None;
        }
        self.clear_cache();
        true
    }

    /// Runs `f` on the connection to `.mlp/online.duckdb`, opening it when a release closed it
    /// (the web UI reads the online tables through the server's own connection: a second
    /// DuckDB instance on the same file in one process is refused). With Redis, the file is
    /// the materializer's local copy, there only where materialization ran.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, FeatureError>,
    ) -> Result<T, FeatureError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| FeatureError::Db("online store lock poisoned".into()))?;
        if guard.is_none() {
            if !self.path.exists() {
                return Err(FeatureError::File {
                    path: self.path.clone(),
                    message: "nothing is materialized on this machine".into(),
                });
            }
            *guard = Some((open_read_only(&self.path, OPEN_WAIT)?, Instant::now()));
        }
        let Some((conn, used)) = guard.as_mut() else {
            return Err(FeatureError::Db("the online store is not open".into()));
        };
        *used = Instant::now();
        f(conn)
    }

    /// Every entity key materialized for `view`, each in key-column order.
    pub fn keys(&self, view: &str) -> Result<Vec<Vec<Value>>, FeatureError> {
        let v = view_of(&self.plan, view)?;
        if let Backend::Redis { redis, .. } = &self.backend {
            return redis.keys(&v.entity, view);
        }
        let keys = key_columns(&self.plan, &v.entity);
        let sql = format!(
            "SELECT {} FROM {}",
            keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", "),
            online_table(view)
        );
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(&sql).map_err(|e| not_materialized(view, e))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let mut key = Vec::with_capacity(keys.len());
                for i in 0..keys.len() {
                    key.push(to_json(r.get(i)?));
                }
                out.push(key);
            }
            Ok(out)
        })
    }

    /// The materialized row of `view` for `key` (values in key-column order), through the cache.
    pub fn row(&self, view: &str, key: &[Value]) -> Result<Option<Arc<OnlineRow>>, FeatureError> {
        Ok(self.rows(view, &[key.to_vec()])?.pop().flatten())
    }

    /// The materialized rows of `view` for `keys`, in order, through the cache: the misses
    /// are read in one go (one pipelined read from Redis).
    pub fn rows(
        &self,
        view: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Arc<OnlineRow>>>, FeatureError> {
        let cache_keys: Vec<Key> = keys
            .iter()
            .map(|k| (view.to_string(), Value::Array(k.clone()).to_string()))
            .collect();
        let mut out: Vec<Option<Option<Arc<OnlineRow>>>> = vec![None; keys.len()];
        if let Some(Ok(mut c)) = self.cache.as_ref().map(Mutex::lock) {
            for (slot, k) in out.iter_mut().zip(&cache_keys) {
                *slot = c.get(k).cloned();
            }
        }
        // Each missing key once, however many rows ask for it.
        let mut missing: Vec<usize> = Vec::new();
        let mut first: HashMap<&Key, usize> = HashMap::new();
        for (i, slot) in out.iter().enumerate() {
            if slot.is_some() {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
            } else {
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                first.entry(&cache_keys[i]).or_insert_with(|| {
                    missing.push(i);
                    i
                });
            }
        }
        if !missing.is_empty() {
            let wanted: Vec<Vec<Value>> = missing.iter().map(|i| keys[*i].clone()).collect();
            let read = self.read(view, &wanted)?;
            let mut cache = self.cache.as_ref().and_then(|c| c.lock().ok());
            let mut by_key: HashMap<&Key, Option<Arc<OnlineRow>>> = HashMap::new();
            for (i, row) in missing.iter().zip(read) {
                if let Some(c) = cache.as_mut() {
                    c.put(cache_keys[*i].clone(), row.clone());
                }
                by_key.insert(&cache_keys[*i], row);
            }
            for (slot, k) in out.iter_mut().zip(&cache_keys) {
                if slot.is_none() {
                    *slot = by_key.get(k).cloned();
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// Reads the rows of `view` for `keys` from the backend.
    fn read(
        &self,
        view: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Arc<OnlineRow>>>, FeatureError> {
        match &self.backend {
            Backend::Redis { redis, .. } => {
                let v = view_of(&self.plan, view)?;
                let (features, columns) = self
                    .views
                    .get(view)
                    .map_or((&[][..], &[][..]), |(f, c)| (f.as_slice(), c.as_slice()));
                Ok(redis
                    .read(&v.entity, columns, view, keys, features)?
                    .into_iter()
                    .map(|r| r.map(Arc::new))
                    .collect())
            }
            Backend::Local => self.read_local(view, keys),
        }
    }

    /// The rows of `view` for `keys` in `.mlp/online.duckdb`: one query per 500 keys whose
    /// values have the same types (a request's keys nearly always do), each key compared as
    /// the value it is, as a lone `key = ?` would (`42.0` finds `42`, `42.5` nothing); a key
    /// with a null finds nothing.
    fn read_local(
        &self,
        view: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Arc<OnlineRow>>>, FeatureError> {
        let v = view_of(&self.plan, view)?;
        let names = key_columns(&self.plan, &v.entity);
        let mut out: Vec<Option<Arc<OnlineRow>>> = vec![None; keys.len()];
        let mut groups: BTreeMap<Vec<&'static str>, Vec<usize>> = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            let types: Option<Vec<&'static str>> = k.iter().map(db_type).collect();
            if let Some(t) = types.filter(|t| t.len() == names.len()) {
                groups.entry(t).or_default().push(i);
            }
        }
        let cols = names
            .iter()
            .map(|k| ident(k))
            .collect::<Vec<_>>()
            .join(", ");
        let join = names
            .iter()
            .map(|k| format!("t.{0} = __w.{0}", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        for (types, members) in groups {
            for chunk in members.chunks(500) {
                let row = format!(
                    "({})",
                    std::iter::once("CAST(? AS INTEGER)")
                        .chain(types.iter().map(|t| match *t {
                            "BIGINT" => "CAST(? AS BIGINT)",
                            "DOUBLE" => "CAST(? AS DOUBLE)",
                            "BOOLEAN" => "CAST(? AS BOOLEAN)",
                            _ => "CAST(? AS VARCHAR)",
                        }))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let sql = format!(
                    "WITH __w(__mlp_i, {cols}) AS (VALUES {}) SELECT __w.__mlp_i, t.*, epoch_us(t.__event_ts) AS __event_us FROM __w JOIN {} t ON {join}",
                    vec![row; chunk.len()].join(", "),
                    online_table(view)
                );
                let mut params: Vec<DbValue> = Vec::with_capacity(chunk.len() * (names.len() + 1));
                for (j, i) in chunk.iter().enumerate() {
                    params.push(DbValue::Int(j as i32));
                    params.extend(keys[*i].iter().map(to_db));
                }
                let found = self.with_conn(|conn| {
                    let mut stmt = conn.prepare(&sql).map_err(|e| not_materialized(view, e))?;
                    let mut rows = stmt.query(duckdb::params_from_iter(params))?;
                    // Column names are known once the statement ran (duckdb-rs panics before).
                    let cols: Vec<String> =
                        rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
                    let mut found = Vec::new();
                    while let Some(r) = rows.next()? {
                        let j: i32 = r.get(0)?;
                        let mut values = BTreeMap::new();
                        let mut event_us = None;
                        for (c, n) in cols.iter().enumerate().skip(1) {
                            let v: DbValue = r.get(c)?;
                            if n == "__event_us" {
                                event_us = match v {
                                    DbValue::BigInt(us) => Some(us),
                                    _ => None,
                                };
                            } else if n != "__event_ts" && !names.contains(n) {
                                values.insert(n.clone(), to_json(v));
                            }
                        }
                        found.push((j, Arc::new(OnlineRow { values, event_us })));
                    }
                    Ok(found)
                })?;
                for (j, row) in found {
                    if let Some(i) = usize::try_from(j).ok().and_then(|j| chunk.get(j)) {
                        out[*i] = Some(row);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Looks up `features` (`view.feature`) for entity rows given as columns
    /// (`{"user_id": [1, 2]}`, plus the request fields that on-demand features read, by field
    /// name) at time `now_us` (microseconds since the epoch), enforcing each view's TTL on
    /// latest-row features. Returns the given columns, then `view__feature` for each feature.
    pub fn lookup(
        &self,
        features: &[String],
        entities: &BTreeMap<String, Vec<Value>>,
        now_us: i64,
    ) -> Result<BTreeMap<String, Vec<Value>>, FeatureError> {
        let n = entities.values().map(Vec::len).max().unwrap_or(0);
        if entities.values().any(|c| c.len() != n) {
            return Err(FeatureError::Db(
                "every entity column must have the same number of values".into(),
            ));
        }
        let mut out: BTreeMap<String, Vec<Value>> = entities.clone();
        let mut cx = Lookup::new(self, entities, now_us);
        cx.prefetch(features, n)?;
        for f in features {
            let (view, name) = f.split_once('.').ok_or_else(|| {
                FeatureError::UnknownFeature(f.clone(), " (write VIEW.FEATURE)".into())
            })?;
            let mut col = Vec::with_capacity(n);
            for i in 0..n {
                col.push(cx.value(view, name, i, 0)?);
            }
            out.insert(format!("{view}__{name}"), col);
        }
        Ok(out)
    }
}
