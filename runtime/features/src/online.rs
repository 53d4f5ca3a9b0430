//! The online store: an in-process LRU cache (the `lru` crate) in front of the materialized
//! tables in `.mlp/online.duckdb`. A miss loads the entity's row from the table; the view's
//! TTL is enforced on every read (a latest-row value older than the TTL is null), unlike
//! Feast's online path.

use crate::historical::{key_columns, view_of, FeatureError};
use crate::materialize::{online_db, online_table};
use crate::ondemand::{eval, leaves, Kind, Val};
use crate::sql::ident;
use duckdb::types::Value as DbValue;
use duckdb::Connection;
use lru::LruCache;
use mlp_ir::{FeatureDef, IrExpr, Literal, Plan, Spec};
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

/// The online store of a project.
pub struct OnlineStore {
    /// Open while misses come in; closed when idle (`release_if_idle`) and when a
    /// materialization has replaced the file (`invalidate_if_changed`).
    conn: Mutex<Option<(Connection, Instant)>>,
    path: PathBuf,
    /// The file's modification time when the cache was last known to be current.
    seen: Mutex<Option<SystemTime>>,
    cache: Mutex<LruCache<Key, Option<Arc<OnlineRow>>>>,
    /// Hit/miss counters.
    pub counters: Counters,
    plan: Plan,
    /// What a lookup needs of each batch feature, by `view.feature`, computed once.
    meta: HashMap<String, Arc<FeatureMeta>>,
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

/// The capacity the project block declares (`online = memory(capacity = N)`), or 100,000.
pub fn capacity(plan: &Plan) -> usize {
    plan.resources()
        .find_map(|r| match &r.spec {
            Spec::Project { online, .. } => online.args.get("capacity").and_then(|v| match v {
                Literal::Int(n) if *n > 0 => usize::try_from(*n).ok(),
                _ => None,
            }),
            _ => None,
        })
        .unwrap_or(100_000)
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
    /// Opens the store of the project in `project_dir` (read-only) with the capacity the
    /// project block declares.
    pub fn open(project_dir: &Path, plan: &Plan) -> Result<Self, FeatureError> {
        let path = online_db(project_dir);
        if !path.exists() {
            return Err(FeatureError::File {
                path,
                message: "nothing is materialized yet: run `mlpc materialize` first".into(),
            });
        }
        let conn = open_read_only(&path, OPEN_WAIT)?;
        let cap = NonZeroUsize::new(capacity(plan)).unwrap_or(NonZeroUsize::MIN);
        Ok(OnlineStore {
            seen: Mutex::new(stamp(&path)),
            conn: Mutex::new(Some((conn, Instant::now()))),
            path,
            cache: Mutex::new(LruCache::new(cap)),
            counters: Counters::default(),
            plan: plan.clone(),
            meta: feature_meta(plan),
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

    /// Empties the cache when the online table changed on disk since it was last checked
    /// (a materialization ran): later reads see the new values. Returns whether it did.
    pub fn invalidate_if_changed(&self) -> bool {
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
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        true
    }

    /// Runs `f` on the connection, opening it when a release closed it (the web UI reads
    /// the online tables through the server's own connection: a second DuckDB instance on
    /// the same file in one process is refused).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, FeatureError>,
    ) -> Result<T, FeatureError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| FeatureError::Db("online store lock poisoned".into()))?;
        if guard.is_none() {
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
        let cache_key = (view.to_string(), Value::Array(key.to_vec()).to_string());
        if let Ok(mut c) = self.cache.lock() {
            if let Some(hit) = c.get(&cache_key) {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit.clone());
            }
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let v = view_of(&self.plan, view)?;
        let keys = key_columns(&self.plan, &v.entity);
        let filter = keys
            .iter()
            .map(|k| format!("{} = ?", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT *, epoch_us(__event_ts) AS __event_us FROM {} WHERE {filter}",
            online_table(view)
        );
        let row = self.with_conn(|conn| {
            let mut stmt = conn.prepare(&sql).map_err(|e| not_materialized(view, e))?;
            let params: Vec<DbValue> = key.iter().map(to_db).collect();
            let mut rows = stmt.query(duckdb::params_from_iter(params))?;
            // Column names are known once the statement ran (duckdb-rs panics before).
            let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
            Ok(match rows.next()? {
                None => None,
                Some(r) => {
                    let mut values = BTreeMap::new();
                    let mut event_us = None;
                    for (i, n) in names.iter().enumerate() {
                        let v: DbValue = r.get(i)?;
                        if n == "__event_us" {
                            event_us = match v {
                                DbValue::BigInt(us) => Some(us),
                                _ => None,
                            };
                        } else if n != "__event_ts" && !keys.contains(n) {
                            values.insert(n.clone(), to_json(v));
                        }
                    }
                    Some(Arc::new(OnlineRow { values, event_us }))
                }
            })
        })?;
        if let Ok(mut c) = self.cache.lock() {
            c.put(cache_key, row.clone());
        }
        Ok(row)
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
        let mut cx = Lookup {
            store: self,
            entities,
            now_us,
            fetched: HashMap::new(),
        };
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

/// One lookup in progress: rows already read, by view and entity row.
struct Lookup<'a> {
    store: &'a OnlineStore,
    entities: &'a BTreeMap<String, Vec<Value>>,
    now_us: i64,
    fetched: HashMap<(String, usize), Option<Arc<OnlineRow>>>,
}

impl Lookup<'_> {
    /// The value of `view.name` for entity row `i`: a materialized value (TTL enforced) or an
    /// on-demand one computed from request fields and other features.
    fn value(
        &mut self,
        view: &str,
        name: &str,
        i: usize,
        depth: usize,
    ) -> Result<Value, FeatureError> {
        let full = format!("{view}.{name}");
        let Some(meta) = self.store.meta.get(&full).cloned() else {
            let plan = &self.store.plan;
            return match plan.feature_at(&full).map(|r| &r.spec) {
                Some(Spec::Feature {
                    def: FeatureDef::OnDemand { expr },
                    ..
                }) => {
                    if depth > 64 {
                        return Err(FeatureError::Unsupported(
                            full,
                            "on-demand features nested too deeply".into(),
                        ));
                    }
                    self.on_demand(expr, i, depth)
                }
                _ => Err(FeatureError::UnknownFeature(full, String::new())),
            };
        };
        for k in &meta.keys {
            if !self.entities.contains_key(k) {
                return Err(FeatureError::Db(format!(
                    "the entities lack `{k}`, a key of entity `{}`",
                    meta.entity
                )));
            }
        }
        let (latest, is_count) = (meta.latest, meta.is_count);
        // One read per view and entity row, whatever the number of its features.
        let row = match self.fetched.get(&(view.to_string(), i)) {
            Some(r) => r.clone(),
            None => {
                let key: Vec<Value> = meta
                    .keys
                    .iter()
                    .map(|k| self.entities[k][i].clone())
                    .collect();
                let r = self.store.row(view, &key)?;
                self.fetched.insert((view.to_string(), i), r.clone());
                r
            }
        };
        Ok(match row {
            None if is_count => Value::from(0),
            None => Value::Null,
            Some(r) => {
                let ttl_us = meta.ttl_us;
                let expired = latest
                    && matches!((ttl_us, r.event_us), (Some(ttl), Some(ev)) if self.now_us - ev > ttl);
                if expired {
                    Value::Null
                } else {
                    r.values.get(name).cloned().unwrap_or(Value::Null)
                }
            }
        })
    }

    fn on_demand(&mut self, expr: &IrExpr, i: usize, depth: usize) -> Result<Value, FeatureError> {
        // Read every leaf first (features may need the store), then evaluate.
        let mut values: HashMap<String, Val> = HashMap::new();
        let mut kinds: HashMap<String, Kind> = HashMap::new();
        for leaf in leaves(expr) {
            let key = leaf_key(leaf);
            if values.contains_key(&key) {
                continue;
            }
            let (val, kind) = match leaf {
                IrExpr::Feature { view, feature } => {
                    let ty = match self.store.plan.feature(view, feature).map(|r| &r.spec) {
                        Some(Spec::Feature { ty, .. }) => Kind::of(*ty),
                        _ => Kind::Null,
                    };
                    (
                        Val::from_json(&self.value(view, feature, i, depth + 1)?),
                        ty,
                    )
                }
                IrExpr::Request { request, field } => {
                    let col = self.entities.get(field).ok_or_else(|| {
                        FeatureError::Db(format!(
                            "the request lacks `{field}`, a field of request `{request}`"
                        ))
                    })?;
                    let ty = match self.store.plan.request(request).map(|r| &r.spec) {
                        Some(Spec::Request { fields }) => fields
                            .iter()
                            .find(|c| &c.name == field)
                            .map_or(Kind::Null, |c| Kind::of(c.ty)),
                        _ => Kind::Null,
                    };
                    (Val::from_json(&col[i]), ty)
                }
                _ => (Val::Null, Kind::Null),
            };
            values.insert(key.clone(), val);
            kinds.insert(key, kind);
        }
        let v = eval(
            expr,
            &|x| values.get(&leaf_key(x)).cloned().unwrap_or(Val::Null),
            &|x| kinds.get(&leaf_key(x)).copied().unwrap_or(Kind::Null),
        );
        Ok(v.to_json())
    }
}

fn leaf_key(e: &IrExpr) -> String {
    match e {
        IrExpr::Feature { view, feature } => format!("f:{view}.{feature}"),
        IrExpr::Request { request, field } => format!("r:{request}.{field}"),
        _ => String::new(),
    }
}
