//! The Redis online store against a real `redis-server` (Debian's; `scripts/test.sh`
//! installs it) started on a free loopback port: views of one entity share its hash, keys of
//! several columns, nulls and text round-trip, older rows are skipped and newer ones win
//! (checked against a reference map over 10,000 shuffled rows, more than a pipeline batch),
//! the TTL is enforced on read, the generation counts, and a killed server gives an
//! `Unavailable` error, not a panic, until a restarted one answers again on the same
//! connection manager.
//!
//! Without `redis-server` on PATH the test fails, unless `MLP_SKIP_REDIS=1` says to skip
//! (the server is `mlp_test_support::redis`'s).

use mlp_features::redis_store::{OnlineWrite, RedisStore, Written};
use mlp_features::FeatureError;
use mlp_test_support::redis::{skipped, RedisServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn row(key: Vec<Value>, event_us: i64, values: &[(&str, Value)]) -> OnlineWrite {
    OnlineWrite {
        key,
        event_us: Some(event_us),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn names(f: &[&str]) -> Vec<String> {
    f.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_redis_store_keeps_the_newest_row_enforces_ttl_and_survives_a_restart() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut server = RedisServer::start(dir.path());
    let port = server.port;
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let url = format!("redis://127.0.0.1:{port}/0");
        let mut s = RedisStore::connect(&url, "mlp:test")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.hash_key("user", &[json!(42)]), "mlp:test:user:[42]");

        views_share_a_hash_and_values_round_trip(&mut s).await;
        each_key_ends_with_its_newest_row(&mut s).await;
        the_ttl_is_enforced_on_read(&mut s).await;
        the_generation_counts(&mut s).await;
        a_killed_server_is_unavailable_until_restarted(&mut s, &mut server, port, dir.path()).await;
    });
}

/// Two views of one entity in one hash; a two-column key; null and text values.
async fn views_share_a_hash_and_values_round_trip(s: &mut RedisStore) {
    let k = vec![json!("a b"), json!(7)];
    let w = s
        .write(
            "pair",
            "v1",
            &[row(k.clone(), 10, &[("x", json!(1.5)), ("y", Value::Null)])],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        w,
        Written {
            written: 1,
            skipped: 0
        }
    );
    s.write(
        "pair",
        "v2",
        &[row(k.clone(), 5, &[("z", json!("it's \"quoted\""))])],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let got = s
        .read(
            "pair",
            "v1",
            &[k.clone(), vec![json!("no"), json!(0)]],
            &names(&["x", "y"]),
            None,
            0,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = got[0].clone().unwrap_or_else(|| panic!("v1 of {k:?}"));
    assert_eq!(first.values["x"], json!(1.5));
    assert_eq!(first.values["y"], Value::Null);
    assert_eq!(first.event_us, Some(10));
    assert!(got[1].is_none(), "an unknown key has no row");
    let z = s
        .read(
            "pair",
            "v2",
            std::slice::from_ref(&k),
            &names(&["z"]),
            None,
            0,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        z[0].as_ref().map(|r| r.values["z"].clone()),
        Some(json!("it's \"quoted\""))
    );
}

/// 10,000 rows over 700 keys in a shuffled order, late rows among them: Redis ends with
/// each key's newest row, as the reference says; equal times keep the last.
async fn each_key_ends_with_its_newest_row(s: &mut RedisStore) {
    let mut reference: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..10_000i64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = (state % 700) as i64;
        let t = ((state >> 20) % 5_000) as i64;
        rows.push(row(vec![json!(key)], t, &[("n", json!(i))]));
        let e = reference.entry(key).or_insert((i64::MIN, 0));
        if t >= e.0 {
            *e = (t, i);
        }
    }
    let w = s
        .write("user", "stats", &rows)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.written + w.skipped, 10_000);
    assert!(w.skipped > 0, "late rows were skipped");
    let keys: Vec<Vec<Value>> = reference.keys().map(|k| vec![json!(k)]).collect();
    let got = s
        .read("user", "stats", &keys, &names(&["n"]), None, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for ((key, (t, i)), r) in reference.iter().zip(&got) {
        let r = r.as_ref().unwrap_or_else(|| panic!("key {key}"));
        assert_eq!(
            (r.event_us, &r.values["n"]),
            (Some(*t), &json!(i)),
            "key {key}"
        );
    }
}

/// The TTL, on read: 10 ms after an event at 1 s, alive at 1.01 s and gone after.
async fn the_ttl_is_enforced_on_read(s: &mut RedisStore) {
    s.write(
        "user",
        "fresh",
        &[row(vec![json!(1)], 1_000_000, &[("v", json!(true))])],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let at = |now: i64| {
        let mut s = s.clone();
        async move {
            s.read(
                "user",
                "fresh",
                &[vec![json!(1)]],
                &names(&["v"]),
                Some(10),
                now,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(0)
            .is_some()
        }
    };
    assert!(at(1_010_000).await);
    assert!(!at(1_010_001).await);
}

/// The generation counts: a bump answers the one after the current.
async fn the_generation_counts(s: &mut RedisStore) {
    let g = s.generation().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.bump_generation().await.unwrap_or_else(|e| panic!("{e}")),
        g + 1
    );
}

/// A killed server: an error that says so. A restarted one: answers again, on the same
/// connection manager.
async fn a_killed_server_is_unavailable_until_restarted(
    s: &mut RedisStore,
    server: &mut RedisServer,
    port: u16,
    dir: &Path,
) {
    server.kill();
    let down = s
        .read("user", "fresh", &[vec![json!(1)]], &names(&["v"]), None, 0)
        .await;
    assert!(
        matches!(down, Err(FeatureError::Unavailable(_))),
        "{down:?}"
    );
    let _server = RedisServer::start_on(port, dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match s
            .read("user", "fresh", &[vec![json!(1)]], &names(&["v"]), None, 0)
            .await
        {
            // Nothing persisted: the restarted server holds no rows, and takes writes
            // again (the write script is loaded anew).
            Ok(r) => {
                assert!(r[0].is_none());
                let w = s
                    .write(
                        "user",
                        "fresh",
                        &[row(vec![json!(1)], 2, &[("v", json!(false))])],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(w.written, 1);
                break;
            }
            Err(FeatureError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("after the restart: {e}"),
        }
    }
}
