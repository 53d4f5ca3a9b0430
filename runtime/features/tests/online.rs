//! Materialization and the online store: online values equal the offline point-in-time
//! values at the watermark for every entity; a second run is incremental; the TTL is
//! enforced on online reads; a failed run keeps the previous values; the LRU counts hits.

use mlp_features::{historical, materialize, HistoricalRequest, OnlineStore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SPEC: &str = "project shop {
  online = memory(capacity = 2)
}

entity account {
  key = [user_id: int, region: string]
}

source tx {
  path      = \"tx.csv\"
  timestamp = event_ts
  created   = created_ts

  schema {
    user_id: int
    region: string
    amount: float
    event_ts: timestamp
    created_ts: timestamp
  }
}

features stats {
  entity = account
  source = tx
  ttl    = 2h

  amount: float
  n_3h: int = count(*) over 3h
  total: float = sum(amount)
}

pipeline refresh {
  step m {
    materialize {
      views = [stats]
    }
  }
}
";

fn rows(n: usize, hour_offset: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let h = (i * 7 + hour_offset) % 20;
        let created = (h + i % 3).min(23);
        s.push_str(&format!(
            "{},{},{}.0,2026-01-01 {h:02}:{:02}:00,2026-01-01 {created:02}:{:02}:00\n",
            i % 5,
            ["eu", "us"][i % 2],
            (i * 13) % 50,
            i % 60,
            i % 60
        ));
    }
    s
}

fn setup(dir: &Path) {
    std::fs::write(dir.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("tx.csv"),
        format!("user_id,region,amount,event_ts,created_ts\n{}", rows(60, 0)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn plan(dir: &Path) -> mlp_ir::Plan {
    let c = mlp_driver::check_dir(dir, None);
    c.plan.unwrap_or_else(|| panic!("{:?}", c.diagnostics))
}

const FEATURES: [&str; 3] = ["stats.amount", "stats.n_3h", "stats.total"];

fn us(t: &str) -> i64 {
    // 2026-01-01 HH:MM:SS -> microseconds since the epoch.
    let base = 1_767_225_600i64; // 2026-01-01T00:00:00Z
    let h: i64 = t[11..13].parse().unwrap_or(0);
    let m: i64 = t[14..16].parse().unwrap_or(0);
    (base + h * 3600 + m * 60) * 1_000_000
}

/// Offline values at `t` for every (user, region) pair, as columns.
fn offline_at(dir: &Path, t: &str) -> BTreeMap<String, Vec<String>> {
    let mut e = String::from("user_id,region,event_timestamp\n");
    for u in 0..6 {
        for r in ["eu", "us"] {
            e.push_str(&format!("{u},{r},{t}\n"));
        }
    }
    std::fs::write(dir.join("keys.csv"), e).unwrap_or_else(|e| panic!("{e}"));
    let req = HistoricalRequest {
        project_dir: dir.to_path_buf(),
        entities: dir.join("keys.csv"),
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        at: "event_timestamp".into(),
        out: dir.join("offline.csv"),
    };
    historical(&plan(dir), &req).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(dir.join("offline.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    let mut cols: BTreeMap<String, Vec<String>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for l in lines {
        for (h, v) in header.iter().zip(l.split(',')) {
            cols.entry(h.clone()).or_default().push(v.to_string());
        }
    }
    cols
}

fn online_at(store: &OnlineStore, now_us: i64) -> BTreeMap<String, Vec<Value>> {
    let mut entities = BTreeMap::new();
    let (mut users, mut regions) = (Vec::new(), Vec::new());
    for u in 0..6 {
        for r in ["eu", "us"] {
            users.push(Value::from(u));
            regions.push(Value::from(r));
        }
    }
    entities.insert("user_id".to_string(), users);
    entities.insert("region".to_string(), regions);
    let features: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
    store
        .lookup(&features, &entities, now_us)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn same(offline: &BTreeMap<String, Vec<String>>, online: &BTreeMap<String, Vec<Value>>) {
    for f in ["stats__amount", "stats__n_3h", "stats__total"] {
        let off = &offline[f];
        let on = &online[f];
        assert_eq!(off.len(), on.len());
        for (i, (a, b)) in off.iter().zip(on).enumerate() {
            let b = match b {
                Value::Null => String::new(),
                v => v.as_f64().map(|x| x.to_string()).unwrap_or_default(),
            };
            let a = a.parse::<f64>().map(|x| x.to_string()).unwrap_or_default();
            assert_eq!(a, b, "{f} row {i}");
        }
    }
}

#[test]
fn online_equals_offline_at_the_watermark_incrementally() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    setup(dir.path());
    let p = plan(dir.path());
    let first = materialize(&p, dir.path(), &[], Some("2026-01-01 12:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].from, None);
    let all_keys = first[0].keys;
    assert_eq!(all_keys, 10, "five users in two regions");
    // Materialization reads a point-in-time index only when a current one is there; it
    // never builds one (the retrievals below do, and the second run finds it stale).
    assert!(!dir.path().join(".mlp").join("pit").exists());
    {
        let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
        same(
            &offline_at(dir.path(), "2026-01-01 12:00:00"),
            &online_at(&store, us("2026-01-01 12:00:00")),
        );
    }
    // New rows arrive for some keys; the next run recomputes only the keys they can affect.
    let mut text = std::fs::read_to_string(dir.path().join("tx.csv")).unwrap_or_default();
    text.push_str("1,us,99.0,2026-01-01 13:00:00,2026-01-01 13:00:00\n");
    std::fs::write(dir.path().join("tx.csv"), text).unwrap_or_else(|e| panic!("{e}"));
    let second = materialize(&p, dir.path(), &[], Some("2026-01-01 14:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second[0].from.as_deref(), Some("2026-01-01 12:00:00"));
    assert!(
        second[0].keys < all_keys,
        "incremental: {} of {all_keys} keys",
        second[0].keys
    );
    let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
    same(
        &offline_at(dir.path(), "2026-01-01 14:00:00"),
        &online_at(&store, us("2026-01-01 14:00:00")),
    );
    // `verify` finds no skew for any entity of the view.
    let report = mlp_features::verify(&p, dir.path(), "stats").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.keys, 10);
    assert_eq!(report.values, 30);
    assert!(report.mismatches.is_empty(), "{:#?}", report.mismatches);
    // History rewritten behind the watermark (a backdated row, no later `created`): the
    // offline values move, the online ones cannot, and verify reports the skew.
    let mut text = std::fs::read_to_string(dir.path().join("tx.csv")).unwrap_or_default();
    text.push_str("2,eu,77.0,2026-01-01 13:30:00,2026-01-01 13:30:00\n");
    std::fs::write(dir.path().join("tx.csv"), text).unwrap_or_else(|e| panic!("{e}"));
    let skew = mlp_features::verify(&p, dir.path(), "stats").unwrap_or_else(|e| panic!("{e}"));
    assert!(!skew.mismatches.is_empty());
    assert!(
        skew.mismatches
            .iter()
            .all(|m| m.key["user_id"] == 2 && m.key["region"] == "eu"),
        "{:#?}",
        skew.mismatches
    );
    assert!(
        skew.mismatches
            .iter()
            .any(|m| m.feature == "stats.amount" && m.offline == 77.0),
        "{:#?}",
        skew.mismatches
    );
    // The TTL (2h) is enforced when reading: four hours later the latest-row value is null,
    // while the unwindowed total stays.
    let later = online_at(&store, us("2026-01-01 18:00:00"));
    let i = (0..12)
        .find(|&i| later["user_id"][i] == 1 && later["region"][i] == "us")
        .unwrap_or(0);
    assert_eq!(later["stats__amount"][i], Value::Null);
    assert!(later["stats__total"][i].as_f64().is_some());
    // One read per entity row and view: 12 entity rows, 12 misses in the first lookup; the
    // cache (capacity 2) keeps the last two, which the second lookup finds before it reads
    // the other ten; asking for one entity twice is then a hit.
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (count(&store.counters.hits), count(&store.counters.misses)),
        (2, 22)
    );
    let one: BTreeMap<String, Vec<Value>> = [
        ("user_id".to_string(), vec![Value::from(1)]),
        ("region".to_string(), vec![Value::from("us")]),
    ]
    .into();
    let features: Vec<String> = FEATURES.iter().map(|f| f.to_string()).collect();
    let a = store
        .lookup(&features, &one, us("2026-01-01 14:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    let b = store
        .lookup(&features, &one, us("2026-01-01 14:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert_eq!(
        (count(&store.counters.hits), count(&store.counters.misses)),
        (3, 23)
    );
}

#[test]
fn a_failed_materialization_keeps_the_previous_values() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    setup(dir.path());
    let p = plan(dir.path());
    materialize(&p, dir.path(), &[], Some("2026-01-01 12:00:00")).unwrap_or_else(|e| panic!("{e}"));
    let before = {
        let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
        online_at(&store, us("2026-01-01 12:00:00"))
    };
    let mut text = std::fs::read_to_string(dir.path().join("tx.csv")).unwrap_or_default();
    text.push_str("1,us,not-a-number,2026-01-01 13:00:00,2026-01-01 13:00:00\n");
    std::fs::write(dir.path().join("tx.csv"), text).unwrap_or_else(|e| panic!("{e}"));
    let err = materialize(&p, dir.path(), &[], Some("2026-01-01 14:00:00"))
        .map(|_| ())
        .err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("amount"), "{msg}");
    let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(online_at(&store, us("2026-01-01 12:00:00")), before);
    // The watermark did not move: materializing up to 12:00 again is refused.
    assert!(materialize(&p, dir.path(), &[], Some("2026-01-01 12:00:00")).is_err());
}

#[test]
fn materializing_up_to_now_again_is_a_no_op_not_an_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    setup(dir.path());
    let plan = plan(dir.path());
    // Up to now, twice in a row (a pipeline's refresh step re-run at once): both succeed,
    // and the second finds nothing new.
    let first =
        mlp_features::materialize(&plan, dir.path(), &[], None).unwrap_or_else(|e| panic!("{e}"));
    let second =
        mlp_features::materialize(&plan, dir.path(), &[], None).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.iter().all(|m| m.keys > 0));
    assert!(second.iter().all(|m| m.keys == 0), "{second:?}");
    // An explicit --until before the watermark is still refused.
    let err = mlp_features::materialize(&plan, dir.path(), &[], Some("2026-01-01 00:00:00"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("--until must be later"), "{err}");
}

#[test]
fn a_reader_holding_the_store_open_does_not_hold_up_a_materialization() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    setup(dir.path());
    let p = plan(dir.path());
    materialize(&p, dir.path(), &[], Some("2026-01-01 12:00:00")).unwrap_or_else(|e| panic!("{e}"));
    let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
    let before = online_at(&store, us("2026-01-01 12:00:00"));
    // Another process reads the store and keeps it open (DuckDB's locks are per process).
    let holder_bin = env!("CARGO_BIN_EXE_mlp-hold-online");
    let mut holder = std::process::Command::new(holder_bin)
        .arg(dir.path())
        .arg("stats")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{holder_bin}: {e}"));
    let mut said = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap_or_else(|| panic!("no stdout")))
        .read_line(&mut said)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(said.starts_with("open"), "the holder said {said:?}");
    let mut text = std::fs::read_to_string(dir.path().join("tx.csv")).unwrap_or_default();
    text.push_str("1,us,99.0,2026-01-01 13:00:00,2026-01-01 13:00:00\n");
    std::fs::write(dir.path().join("tx.csv"), text).unwrap_or_else(|e| panic!("{e}"));
    // Written in place, this would wait for the holder and fail (DuckDB's lock).
    let done = materialize(&p, dir.path(), &[], Some("2026-01-01 14:00:00"));
    drop(holder.stdin.take());
    let held = holder
        .wait()
        .unwrap_or_else(|e| panic!("{holder_bin}: {e}"));
    assert!(held.success(), "the holder failed: {held}");
    done.unwrap_or_else(|e| panic!("{e}"));
    assert!(!dir.path().join(".mlp/online.duckdb.next").exists());
    // The store saw the old values until it noticed the change, then the new ones.
    assert!(store.invalidate_if_changed(), "the change went unnoticed");
    let after = online_at(&store, us("2026-01-01 14:00:00"));
    assert_ne!(before, after);
    same(&offline_at(dir.path(), "2026-01-01 14:00:00"), &after);
}

#[test]
fn keys_match_as_values_in_one_batch_whatever_their_json_form() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    setup(dir.path());
    let p = plan(dir.path());
    materialize(&p, dir.path(), &[], Some("2026-01-01 12:00:00")).unwrap_or_else(|e| panic!("{e}"));
    let store = OnlineStore::open(dir.path(), &p).unwrap_or_else(|e| panic!("{e}"));
    // 1, 1.0 and 1 again in one lookup; 1.5, a null key, an unknown region, and a key of
    // another type: nothing.
    let users = ["1", "1.0", "1", "1.5", "null", "1", "2"]
        .map(|v| serde_json::from_str::<Value>(v).unwrap_or(Value::Null));
    let regions = ["us", "us", "us", "us", "us", "mars", "eu"].map(Value::from);
    let entities: BTreeMap<String, Vec<Value>> = [
        ("user_id".to_string(), users.to_vec()),
        ("region".to_string(), regions.to_vec()),
    ]
    .into();
    let got = store
        .lookup(
            &["stats.total".to_string()],
            &entities,
            us("2026-01-01 12:00:00"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .remove("stats__total")
        .unwrap_or_default();
    assert!(got[0].as_f64().is_some(), "{got:?}");
    assert_eq!((&got[1], &got[2]), (&got[0], &got[0]));
    assert_eq!(&got[3..6], &[Value::Null, Value::Null, Value::Null]);
    assert!(got[6].as_f64().is_some(), "{got:?}");
    assert_ne!(got[6], got[0]);
}
