//! `mlpc serve` on the Redis online store, against a real `redis-server`: one project applied,
//! materialized and served twice, once on the local store and once on Redis, answers the same
//! predictions with the same inputs, cell by cell, for 10,000 users (and 50 unknown ones);
//! `mlpc features verify` passes against Redis; killing `redis-server` turns predictions into
//! 503s that say why, and restarting it brings 200s back from the same `mlpc serve` process.
//! The fraud example on Redis answers its 1,000 users' checkouts as on its own store.

use mlp_test_support::fixtures::skewed_transactions;
use mlp_test_support::redis::{skipped, RedisServer};
use mlp_test_support::serving::{
    call, example, labelled_checkouts, mlpc, register_linear, serve, Server,
};
use serde_json::{json, Value};
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

// No TTL: the two servers read at slightly different times.
features user_stats {{
  entity = user
  source = tx

  amount: float
  n_7d: int = count(*) over 7d
  avg_7d: float = avg(amount) over 7d
  regions_30d: int = count_distinct(region) over 30d
  total: float = sum(amount)
}}

model risk {{
  inputs = [user_stats.amount, user_stats.n_7d, user_stats.avg_7d, user_stats.regions_30d, user_stats.total]
  output = score: float
}}

deployment api {{
  model = risk@1
  log   = none
}}
"
    )
}

/// Applies, materializes (twice: the second run is incremental) and registers the model.
fn setup(dir: &Path, online: &str) {
    std::fs::write(dir.join("p.mlp"), spec(online)).unwrap_or_else(|e| panic!("{e}"));
    skewed_transactions(&dir.join("tx.parquet"), USERS);
    mlpc(&["apply", ".", "--auto-approve"], dir);
    for until in ["2026-02-10 00:00:00", "2026-03-01 12:00:00"] {
        mlpc(&["materialize", ".", "--until", until], dir);
    }
    register_linear(dir, "risk", &[0.5, 0.1, -0.02, 0.3, 0.001], 0.25, false);
}

fn predict(server: &Server, users: &[i64]) -> (u16, Value) {
    let url = format!("{}/v1/deployments/api/predict", server.base);
    call(
        "POST",
        &url,
        Some(json!({"entities": {"user_id": users}, "return_inputs": true})),
    )
}

#[test]
fn serving_on_redis_answers_as_on_the_local_store_and_outlives_a_redis_restart() {
    if skipped() {
        return;
    }
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut redis = RedisServer::start(data.path());
    let (on_local, on_redis) = (
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
    );
    setup(on_local.path(), "memory(capacity = 100000)");
    setup(on_redis.path(), &format!("redis(\"{}\")", redis.url()));
    mlpc(&["features", "verify", ".", "user_stats"], on_redis.path());

    let (local, mut remote) = (serve(on_local.path()), serve(on_redis.path()));
    let ids: Vec<i64> = (0..USERS + 50).collect();
    let mut valued = 0;
    for chunk in ids.chunks(500) {
        let (s1, want) = predict(&local, chunk);
        let (s2, got) = predict(&remote, chunk);
        assert_eq!((s1, s2), (200, 200), "{want} {got}");
        assert_eq!(want["inputs"], got["inputs"], "users {}..", chunk[0]);
        assert_eq!(want["outputs"], got["outputs"], "users {}..", chunk[0]);
        valued += want["inputs"]["user_stats.total"]
            .as_array()
            .map_or(0, |c| c.iter().filter(|v| v.as_f64().is_some()).count());
    }
    // Real values, not rows of nulls on both sides.
    assert!(valued > 9_000, "{valued} users with a total");

    // Killed: a user never asked for (so in no near cache) is a 503 at once, with the reason;
    // the cached ones follow once the server finds the generation unreadable (each second).
    redis.save();
    redis.kill();
    let (s, answer) = predict(&remote, &[USERS + 500]);
    assert_eq!(s, 503, "{answer}");
    let why = answer["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("unavailable") && why.contains("Redis"),
        "{why}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while predict(&remote, &[1, 2, 3]).0 != 503 {
        assert!(Instant::now() < deadline, "cached users still answered");
        std::thread::yield_now();
    }

    // Back (from its dump): 200s again, with the same answers, from the same process.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, answer) = predict(&remote, &[1, 2, 3]);
        if s == 200 {
            break;
        }
        assert_eq!(s, 503, "{answer}");
        assert!(Instant::now() < deadline, "still {s}: {answer}");
        std::thread::yield_now();
    }
    for chunk in ids.chunks(2000).take(2) {
        let (_, want) = predict(&local, chunk);
        let (s, got) = predict(&remote, chunk);
        assert_eq!(s, 200, "{got}");
        assert_eq!(want["inputs"], got["inputs"]);
    }
    assert!(
        matches!(remote.child.try_wait(), Ok(None)),
        "mlpc serve exited"
    );
    assert_eq!(remote.terminate(), Some(0));
}

/// The example's project block on Redis.
fn example_on_redis(p: &Path, url: &str) {
    let file = p.join("project.mlp");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let from = "online  = memory(capacity = env.online_capacity)";
    assert!(text.contains(from));
    let text = text.replacen(from, &format!("online  = redis(\"{url}\")"), 1);
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_example_on_redis_answers_its_checkouts_as_on_its_own_store() {
    if skipped() {
        return;
    }
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let redis = RedisServer::start(data.path());
    let (own, shared) = (example(), example());
    example_on_redis(shared.path(), &redis.url());
    for p in [own.path(), shared.path()] {
        mlpc(&["apply", ".", "--auto-approve"], p);
        // Inside the data's months, so that the windows hold rows.
        mlpc(&["materialize", ".", "--until", "2026-03-20 00:00:00"], p);
        register_linear(p, "fraud_scorer", &[0.01, 0.002, 0.5, 0.3], -1.0, true);
        for alias in ["production", "staging"] {
            mlpc(&["registry", "alias", ".", "fraud_scorer", "1", alias], p);
        }
    }
    for view in ["user_stats", "merchant_profile"] {
        mlpc(&["features", "verify", ".", view], shared.path());
    }
    let (a, b) = (serve(own.path()), serve(shared.path()));
    let rows = labelled_checkouts(own.path(), 1000, 7, 1.0);
    let mut counts = 0;
    for chunk in rows.chunks(100) {
        let body = json!({
            "entities": {"user_id": chunk.iter().map(|r| r.0).collect::<Vec<_>>()},
            "request": {
                "amount": chunk.iter().map(|r| r.1).collect::<Vec<_>>(),
                "country": chunk.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
                "merchant_id": chunk.iter().map(|r| r.3).collect::<Vec<_>>(),
            },
            "return_inputs": true,
        });
        let url = |s: &Server| format!("{}/v1/deployments/fraud_api/predict", s.base);
        let (s1, want) = call("POST", &url(&a), Some(body.clone()));
        let (s2, got) = call("POST", &url(&b), Some(body));
        assert_eq!((s1, s2), (200, 200), "{want} {got}");
        assert_eq!(want["inputs"], got["inputs"]);
        assert_eq!(want["outputs"], got["outputs"]);
        counts += want["inputs"]["user_stats.txn_count_7d"]
            .as_array()
            .map_or(0, |c| {
                c.iter()
                    .filter(|v| v.as_i64().is_some_and(|n| n > 0))
                    .count()
            });
    }
    assert!(
        counts > 500,
        "{counts} checkouts with transactions in the window"
    );
}
