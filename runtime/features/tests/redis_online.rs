//! The Redis online store end to end, against a real `redis-server`: one project materialized
//! twice (incrementally) into the local store and into Redis gives the same lookups, cell by
//! cell, for 10,000 users of skewed row counts (`skewed_transactions`: 1 to 40 rows each,
//! nulls, ties, rows created days late) and for two-column keys, through on-demand features, with the near cache
//! and without it; `verify` passes against Redis; a Redis that lost its data is written whole
//! by the next run; a killed Redis is an `Unavailable` error within the read deadline, and the
//! same store answers again once it is back.

use mlp_features::{materialize, verify, FeatureError, OnlineStore};
use mlp_test_support::fixtures::skewed_transactions;
use mlp_test_support::redis::{skipped, RedisServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const USERS: i64 = 10_000;

fn spec(online: &str) -> String {
    format!(
        "project shop {{
  online = {online}
}}

entity user {{
  key = user_id: int
}}

entity account {{
  key = [user_id: int, region: string]
}}

source tx {{
  path      = \"tx.parquet\"
  timestamp = event_ts
  created   = created_ts

  schema {{
    user_id: int
    region: string
    amount: float
    event_ts: timestamp
    created_ts: timestamp
  }}
}}

features user_stats {{
  entity = user
  source = tx
  ttl    = 20d

  amount: float
  last_region: string = last(region)
  n_7d: int = count(*) over 7d
  avg_7d: float = avg(amount) over 7d
  max_1d: float = max(amount) over 1d
  regions_30d: int = count_distinct(region) over 30d
  total: float = sum(amount)
}}

features account_stats {{
  entity = account
  source = tx

  n: int = count(*)
  last_amount: float = last(amount)
}}

request checkout {{
  amount: float
}}

features derived {{
  ratio: float = checkout.amount / coalesce(user_stats.avg_7d, 1.0)
}}
"
    )
}

fn project(dir: &Path, online: &str) {
    std::fs::write(dir.join("p.mlp"), spec(online)).unwrap_or_else(|e| panic!("{e}"));
}

fn plan(dir: &Path) -> mlp_ir::Plan {
    let c = mlp_driver::check_dir(dir, None);
    c.plan.unwrap_or_else(|| panic!("{:?}", c.diagnostics))
}

fn run(dir: &Path, until: &str) -> u64 {
    materialize(&plan(dir), dir, &[], Some(until))
        .unwrap_or_else(|e| panic!("materialize {}: {e}", dir.display()))
        .iter()
        .map(|m| m.keys)
        .sum()
}

const USER_FEATURES: [&str; 8] = [
    "user_stats.amount",
    "user_stats.last_region",
    "user_stats.n_7d",
    "user_stats.avg_7d",
    "user_stats.max_1d",
    "user_stats.regions_30d",
    "user_stats.total",
    "derived.ratio",
];

/// Every user and 50 unknown ones, with a request amount each.
fn users() -> BTreeMap<String, Vec<Value>> {
    let ids: Vec<Value> = (0..USERS + 50).map(Value::from).collect();
    let amounts: Vec<Value> = (0..USERS + 50)
        .map(|i| Value::from((i % 97) as f64 + 0.5))
        .collect();
    [("user_id".into(), ids), ("amount".into(), amounts)].into()
}

/// 3,000 (user, region) pairs, some never seen.
fn accounts() -> BTreeMap<String, Vec<Value>> {
    let ids: Vec<Value> = (0..3000)
        .map(|i| Value::from(i * 3 % (USERS + 7)))
        .collect();
    let regions: Vec<Value> = (0..3000)
        .map(|i| Value::from(["eu", "us", "apac", "mars"][i as usize % 4]))
        .collect();
    [("user_id".into(), ids), ("region".into(), regions)].into()
}

/// 2026-03-01 13:00 UTC, µs since the epoch: an hour after the last watermark, so that the
/// 20-day TTL nulls some users' latest rows and not others.
const NOW_US: i64 = 1_772_370_000_000_000;

/// Whether two cells agree: equal, or, with `ulps`, floats within a relative 1e-12 (a view
/// written whole adds a key's rows in another order than one written incrementally).
fn agree(a: &Value, b: &Value, ulps: bool) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if ulps => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

/// Asserts equal lookups, naming the first differing cell.
fn same(
    local: &OnlineStore,
    redis: &OnlineStore,
    features: &[&str],
    rows: &BTreeMap<String, Vec<Value>>,
    ulps: bool,
) {
    let f: Vec<String> = features.iter().map(|s| s.to_string()).collect();
    let want = local
        .lookup(&f, rows, NOW_US)
        .unwrap_or_else(|e| panic!("local: {e}"));
    let got = redis
        .lookup(&f, rows, NOW_US)
        .unwrap_or_else(|e| panic!("redis: {e}"));
    for (col, w) in &want {
        let g = &got[col];
        assert_eq!(g.len(), w.len(), "{col}");
        for (i, (a, b)) in w.iter().zip(g).enumerate() {
            assert!(agree(a, b, ulps), "{col}, row {i}: local {a}, redis {b}");
        }
    }
    assert_eq!(want.len(), got.len());
    // Not a comparison of nulls: both values and nulls occur.
    for col in ["user_stats__amount", "account_stats__last_amount"] {
        if let Some(c) = want.get(col) {
            let nulls = c.iter().filter(|v| v.is_null()).count();
            assert!(
                nulls > 0 && nulls < c.len() * 3 / 4,
                "{col}: {nulls} nulls of {}",
                c.len()
            );
        }
    }
}

#[test]
fn redis_serves_what_the_local_store_serves_and_survives_losing_redis() {
    if skipped() {
        return;
    }
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut server = RedisServer::start(data.path());
    let (local, redis, uncached) = (
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
    );
    let url = server.url();
    project(local.path(), "memory(capacity = 1000)");
    project(
        redis.path(),
        &format!("redis(\"{url}\", near_cache = 20000)"),
    );
    // The same Redis keys, read without a near cache.
    project(
        uncached.path(),
        &format!("redis(\"{url}\", near_cache = 0, prefix = \"mlp:shop\")"),
    );
    for d in [local.path(), redis.path()] {
        skewed_transactions(&d.join("tx.parquet"), USERS);
    }

    two_runs_recompute_the_same_keys(local.path(), redis.path());
    let plan_r = plan(redis.path());
    let local_store =
        OnlineStore::open(local.path(), &plan(local.path())).unwrap_or_else(|e| panic!("{e}"));
    let redis_store = OnlineStore::open(redis.path(), &plan_r).unwrap_or_else(|e| panic!("{e}"));
    let uncached_store = OnlineStore::open(uncached.path(), &plan(uncached.path()))
        .unwrap_or_else(|e| panic!("{e}"));
    lookups_agree_with_and_without_the_near_cache(&local_store, &redis_store, &uncached_store);
    redis_holds_the_local_keys_and_verifies(&local_store, &redis_store, &plan_r, redis.path());
    a_flushed_redis_is_written_whole(
        &mut server,
        &local_store,
        &redis_store,
        local.path(),
        redis.path(),
    );
    let f = a_killed_redis_is_unavailable_within_the_deadline(
        &mut server,
        &redis_store,
        &plan_r,
        redis.path(),
    );
    a_restarted_redis_answers_the_same(&mut server, &local_store, &redis_store, &f);
}

/// Two runs: the second only recomputes what changed.
fn two_runs_recompute_the_same_keys(local: &Path, redis: &Path) {
    for until in ["2026-02-10 00:00:00", "2026-03-01 12:00:00"] {
        let (a, b) = (run(local, until), run(redis, until));
        assert_eq!(a, b, "keys recomputed up to {until}");
        assert!(a > 0);
    }
}

/// Redis, with its near cache and without it, answers the local store's lookups for users
/// and two-column keys; a second lookup is answered by the near cache, and the same.
fn lookups_agree_with_and_without_the_near_cache(
    local_store: &OnlineStore,
    redis_store: &OnlineStore,
    uncached_store: &OnlineStore,
) {
    // A server checks the generation every second: the first check only learns it.
    assert!(!redis_store.invalidate_if_changed());
    assert!(!redis_store.invalidate_if_changed());
    let account_features = ["account_stats.n", "account_stats.last_amount"];
    for store in [redis_store, uncached_store] {
        same(local_store, store, &USER_FEATURES, &users(), false);
        same(local_store, store, &account_features, &accounts(), false);
    }
    // A second lookup is answered by the near cache, and the same.
    same(local_store, redis_store, &USER_FEATURES, &users(), false);
    let hits = redis_store
        .counters
        .hits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(hits >= USERS as u64, "{hits} near-cache hits");
    assert_eq!(
        uncached_store
            .counters
            .hits
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// The keys Redis holds for a view, as the local store's; `verify` passes against Redis.
fn redis_holds_the_local_keys_and_verifies(
    local_store: &OnlineStore,
    redis_store: &OnlineStore,
    plan_r: &mlp_ir::Plan,
    redis: &Path,
) {
    let mut a = local_store
        .keys("account_stats")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut b = redis_store
        .keys("account_stats")
        .unwrap_or_else(|e| panic!("{e}"));
    a.sort_by_key(|k| Value::from(k.clone()).to_string());
    b.sort_by_key(|k| Value::from(k.clone()).to_string());
    assert_eq!(a, b);

    for view in ["user_stats", "account_stats"] {
        let r = verify(plan_r, redis, view).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.keys > 5000 && r.mismatches.is_empty(),
            "{view}: {:?}",
            r.mismatches.first()
        );
    }
}

/// Redis loses its data: the next run writes every key again, not only the changed ones.
fn a_flushed_redis_is_written_whole(
    server: &mut RedisServer,
    local_store: &OnlineStore,
    redis_store: &OnlineStore,
    local: &Path,
    redis: &Path,
) {
    server.flush();
    assert!(redis_store.invalidate_if_changed());
    let until = "2026-03-01 12:30:00";
    let (a, b) = (run(local, until), run(redis, until));
    assert!(
        b > a && b >= USERS as u64,
        "after the flush: {b} keys, {a} locally"
    );
    assert!(redis_store.invalidate_if_changed(), "the generation moved");
    assert!(local_store.invalidate_if_changed());
    same(local_store, redis_store, &USER_FEATURES, &users(), true);
}

/// Killed: an error that says Redis is unavailable, within the read deadline; the near
/// cache is dropped when its generation cannot be checked. Returns the features looked up.
fn a_killed_redis_is_unavailable_within_the_deadline(
    server: &mut RedisServer,
    redis_store: &OnlineStore,
    plan_r: &mlp_ir::Plan,
    redis: &Path,
) -> Vec<String> {
    server.save();
    server.kill();
    assert!(redis_store.invalidate_if_changed());
    // Said once, not at every check while Redis stays away.
    assert!(!redis_store.invalidate_if_changed());
    let f: Vec<String> = USER_FEATURES.iter().map(|s| s.to_string()).collect();
    let started = Instant::now();
    let down = redis_store.lookup(&f, &users(), NOW_US);
    assert!(
        matches!(down, Err(FeatureError::Unavailable(_))),
        "{down:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let down = verify(plan_r, redis, "user_stats");
    assert!(
        matches!(down, Err(FeatureError::Unavailable(_))),
        "{down:?}"
    );
    f
}

/// Back, from its dump: the same store answers the same values.
fn a_restarted_redis_answers_the_same(
    server: &mut RedisServer,
    local_store: &OnlineStore,
    redis_store: &OnlineStore,
    f: &[String],
) {
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match redis_store.lookup(f, &users(), NOW_US) {
            Ok(_) => break,
            Err(FeatureError::Unavailable(e)) => {
                assert!(Instant::now() < deadline, "still unavailable: {e}");
                std::thread::yield_now();
            }
            Err(e) => panic!("{e}"),
        }
    }
    same(local_store, redis_store, &USER_FEATURES, &users(), true);
}
