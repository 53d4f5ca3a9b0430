//! Point-in-time correctness to the row: random tricky data (ties on event time with
//! different created times, rows created after the request time, rows exactly at the TTL and
//! window boundaries, entities with no rows, two key columns, null values) goes through the
//! DuckDB retrieval, and every output value is compared with a brute-force reference written
//! here in plain Rust, independently of the SQL.

use mlp_features::{historical, HistoricalRequest};
use proptest::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

const SPEC: &str = "project pit {}

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
  ttl    = 90m

  amount: float
  amount_x2: float = amount * 2.0
  n_2h: int = count(*) over 2h
  sum_2h: float = sum(amount) over 2h
  last_amount: float = last(amount)
  max_1h: float = max(amount) over 1h
}

features derived {
  od: float = coalesce(stats.amount, 0.0) + stats.n_2h
}

pipeline refresh {
  step m {
    materialize {
      views = [stats]
    }
  }
}
";

const TTL: i64 = 90;
const REGIONS: [&str; 2] = ["eu", "us"];

#[derive(Debug, Clone)]
struct Row {
    user: i64,
    region: usize,
    ts: i64,
    created: i64,
    amount: Option<i64>,
}

#[derive(Debug, Clone)]
struct Ent {
    user: i64,
    region: usize,
    t: i64,
}

fn stamp(minute: i64) -> String {
    format!("2026-01-01 {:02}:{:02}:00", minute / 60, minute % 60)
}

/// The expected features of one entity row: amount, amount_x2, n_2h, sum_2h, last_amount, max_1h.
type Expected = (
    Option<f64>,
    Option<f64>,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn reference(rows: &[Row], e: &Ent) -> Expected {
    reference_with(rows, e, true)
}

/// The reference, for the source with `created = created_ts` or (`created` false) without:
/// then every row is visible from its event time on, and `created_ts` is an ordinary column
/// (the last of the tie-break, after `amount`).
fn reference_with(rows: &[Row], e: &Ent, created: bool) -> Expected {
    let visible: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.user == e.user
                && r.region == e.region
                && r.ts <= e.t
                && (!created || r.created <= e.t)
        })
        .collect();
    // Ties on (event, created) time go to the largest amount, a null amount last; without
    // `created`, ties on event time go to the largest amount, then the latest created_ts.
    let latest = |rs: Vec<&Row>| -> Option<Row> {
        if created {
            rs.into_iter()
                .max_by_key(|r| (r.ts, r.created, r.amount))
                .cloned()
        } else {
            rs.into_iter()
                .max_by_key(|r| (r.ts, r.amount, r.created))
                .cloned()
        }
    };
    let in_ttl: Vec<&Row> = visible
        .iter()
        .copied()
        .filter(|r| r.ts >= e.t - TTL)
        .collect();
    let amount = latest(in_ttl).and_then(|r| r.amount).map(|a| a as f64);
    let w2: Vec<&Row> = visible
        .iter()
        .copied()
        .filter(|r| r.ts > e.t - 120)
        .collect();
    let n_2h = w2.len() as i64;
    let vals2: Vec<i64> = w2.iter().filter_map(|r| r.amount).collect();
    let sum_2h = (!vals2.is_empty()).then(|| vals2.iter().sum::<i64>() as f64);
    let last_amount = latest(visible.clone())
        .and_then(|r| r.amount)
        .map(|a| a as f64);
    let max_1h = visible
        .iter()
        .filter(|r| r.ts > e.t - 60)
        .filter_map(|r| r.amount)
        .max()
        .map(|a| a as f64);
    (
        amount,
        amount.map(|a| a * 2.0),
        n_2h,
        sum_2h,
        last_amount,
        max_1h,
    )
}

fn write_inputs(dir: &Path, rows: &[Row], ents: &[Ent]) {
    write_inputs_with(dir, rows, ents, SPEC);
}

/// The spec without `created` (`created_ts` then an ordinary column).
fn spec_without_created() -> String {
    SPEC.replace("  created   = created_ts\n", "")
}

fn write_inputs_with(dir: &Path, rows: &[Row], ents: &[Ent], spec: &str) {
    let mut tx = String::from("user_id,region,amount,event_ts,created_ts\n");
    for r in rows {
        let amount = r.amount.map(|a| format!("{a}.0")).unwrap_or_default();
        let _ = writeln!(
            tx,
            "{},{},{amount},{},{}",
            r.user,
            REGIONS[r.region],
            stamp(r.ts),
            stamp(r.created)
        );
    }
    std::fs::write(dir.join("tx.csv"), tx).unwrap_or_else(|e| panic!("{e}"));
    let mut en = String::from("user_id,region,event_timestamp,label\n");
    for (i, e) in ents.iter().enumerate() {
        let _ = writeln!(en, "{},{},{},row{i}", e.user, REGIONS[e.region], stamp(e.t));
    }
    std::fs::write(dir.join("entities.csv"), en).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("p.mlp"), spec).unwrap_or_else(|e| panic!("{e}"));
}

/// Every feature of the view, in the order of [`Expected`].
const ALL: [&str; 6] = [
    "amount",
    "amount_x2",
    "n_2h",
    "sum_2h",
    "last_amount",
    "max_1h",
];

fn run(dir: &Path, out: &str) -> Vec<Vec<String>> {
    run_features(dir, out, &ALL)
}

fn run_features(dir: &Path, out: &str, features: &[&str]) -> Vec<Vec<String>> {
    let checked = mlp_driver::check_dir(dir, None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let req = HistoricalRequest {
        project_dir: dir.to_path_buf(),
        entities: dir.join("entities.csv"),
        features: features
            .iter()
            .map(|f| {
                if f.contains('.') {
                    f.to_string()
                } else {
                    format!("stats.{f}")
                }
            })
            .collect(),
        at: "event_timestamp".into(),
        out: dir.join(out),
    };
    historical(&plan, &req).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(dir.join(out)).unwrap_or_default();
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> Option<f64> {
    if s.is_empty() {
        None
    } else {
        Some(s.parse().unwrap_or_else(|e| panic!("`{s}`: {e}")))
    }
}

fn check(rows: &[Row], ents: &[Ent]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_inputs(dir.path(), rows, ents);
    let out = run(dir.path(), "out.csv");
    assert_eq!(
        out[0],
        [
            "user_id",
            "region",
            "event_timestamp",
            "label",
            "stats__amount",
            "stats__amount_x2",
            "stats__n_2h",
            "stats__sum_2h",
            "stats__last_amount",
            "stats__max_1h"
        ]
    );
    assert_eq!(out.len() - 1, ents.len(), "every entity row exactly once");
    for (i, (e, line)) in ents.iter().zip(&out[1..]).enumerate() {
        assert_eq!(line[3], format!("row{i}"), "input order");
        let got: Expected = (
            num(&line[4]),
            num(&line[5]),
            num(&line[6]).map_or(-1, |n| n as i64),
            num(&line[7]),
            num(&line[8]),
            num(&line[9]),
        );
        assert_eq!(
            got,
            reference(rows, e),
            "entity row {i} {e:?}\nrows: {rows:#?}"
        );
    }
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            0i64..3,
            0usize..2,
            0i64..400,
            0i64..90,
            prop::option::weighted(0.85, -50i64..50),
        ),
        0..40,
    )
    .prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        // (keys, event time, created time) is unique: exact duplicates have no defined winner.
        v.into_iter()
            .filter(|(u, r, ts, d, _)| seen.insert((*u, *r, *ts, ts + d)))
            .map(|(user, region, ts, delay, amount)| Row {
                user,
                region,
                ts,
                created: ts + delay,
                amount,
            })
            .collect()
    })
}

fn ents_strategy() -> impl Strategy<Value = Vec<Ent>> {
    prop::collection::vec((0i64..4, 0usize..2, 0i64..500), 1..25).prop_map(|v| {
        v.into_iter()
            .map(|(user, region, t)| Ent { user, region, t })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_data_matches_the_reference(rows in rows_strategy(), ents in ents_strategy()) {
        check(&rows, &ents);
    }
}

#[test]
fn the_tricky_cases_by_hand() {
    let r = |user, region, ts, created, amount| Row {
        user,
        region,
        ts,
        created,
        amount,
    };
    let rows = vec![
        // Same event time, different created times: the later-created row wins once created.
        r(1, 0, 100, 100, Some(1)),
        r(1, 0, 100, 130, Some(2)),
        // Event time 110 but created at 150: invisible to requests before 150.
        r(1, 0, 110, 150, Some(9)),
        // Exactly at the TTL boundary (t - 90) for t = 190: inclusive.
        r(2, 1, 100, 100, Some(5)),
        // Same user, other region: a different entity.
        r(1, 1, 105, 105, Some(7)),
        // A null value in the latest row.
        r(3, 0, 50, 50, Some(4)),
        r(3, 0, 60, 60, None),
    ];
    let e = |user, region, t| Ent { user, region, t };
    let ents = vec![
        e(1, 0, 120), // only the row created at 100 exists yet
        e(1, 0, 140), // the tie on event time goes to the row created at 130
        e(1, 0, 160), // the row of event time 110 exists now and is the latest
        e(2, 1, 190), // TTL boundary: visible
        e(2, 1, 191), // one minute past the TTL: null, but still counted in the 2h window
        e(1, 1, 106), // the other region
        e(0, 0, 300), // no rows at all
        e(3, 0, 70),  // latest row has a null amount
    ];
    check(&rows, &ents);
    let exp = |i: usize| reference(&rows, &ents[i]);
    assert_eq!(exp(0).0, Some(1.0));
    assert_eq!(exp(1).0, Some(2.0));
    assert_eq!(exp(2).0, Some(9.0));
    assert_eq!(exp(3).0, Some(5.0));
    assert_eq!((exp(4).0, exp(4).2), (None, 1));
    assert_eq!(exp(6), (None, None, 0, None, None, None));
    assert_eq!((exp(7).0, exp(7).4, exp(7).5), (None, None, Some(4.0)));
}

#[test]
fn the_output_is_byte_identical_across_runs_in_both_formats() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Row> = (0..300)
        .map(|i| Row {
            user: i % 7,
            region: (i % 2) as usize,
            ts: i,
            created: i + i % 13,
            amount: Some(i % 17),
        })
        .collect();
    let ents: Vec<Ent> = (0..200)
        .map(|i| Ent {
            user: i % 9,
            region: (i % 2) as usize,
            t: (i * 37) % 400,
        })
        .collect();
    write_inputs(dir.path(), &rows, &ents);
    for out in ["a.csv", "a.parquet"] {
        run_only(dir.path(), out);
    }
    for (a, b) in [("a.csv", "b.csv"), ("a.parquet", "b.parquet")] {
        run_only(dir.path(), b);
        let x = std::fs::read(dir.path().join(a)).unwrap_or_default();
        let y = std::fs::read(dir.path().join(b)).unwrap_or_default();
        assert!(!x.is_empty());
        assert_eq!(x, y, "{a} and {b} differ");
    }
}

fn run_only(dir: &Path, out: &str) {
    let checked = mlp_driver::check_dir(dir, None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let req = HistoricalRequest {
        project_dir: dir.to_path_buf(),
        entities: dir.join("entities.csv"),
        features: vec![
            "stats.amount".into(),
            "stats.n_2h".into(),
            "stats.last_amount".into(),
        ],
        at: "event_timestamp".into(),
        out: dir.join(out),
    };
    historical(&plan, &req).unwrap_or_else(|e| panic!("{e}"));
}

/// Every feature but `last_amount` (whose ties on (event, created) time have no defined
/// winner), for data with exact ties, and an on-demand feature over two of them.
const TIED: [&str; 6] = [
    "amount",
    "amount_x2",
    "n_2h",
    "sum_2h",
    "max_1h",
    "derived.od",
];

/// As [`check`], for the features of [`TIED`], with or without `created`.
fn check_tied(rows: &[Row], ents: &[Ent], created: bool) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = if created {
        SPEC.to_string()
    } else {
        spec_without_created()
    };
    assert!(created || !spec.contains("created   ="));
    write_inputs_with(dir.path(), rows, ents, &spec);
    let out = run_features(dir.path(), "out.csv", &TIED);
    assert_eq!(out.len() - 1, ents.len(), "every entity row exactly once");
    for (i, (e, line)) in ents.iter().zip(&out[1..]).enumerate() {
        assert_eq!(line[3], format!("row{i}"), "input order");
        let got = (
            num(&line[4]),
            num(&line[5]),
            num(&line[6]).map_or(-1, |n| n as i64),
            num(&line[7]),
            num(&line[8]),
            num(&line[9]),
        );
        let (a, a2, n, s, _, m) = reference_with(rows, e, created);
        let od = a.unwrap_or(0.0) + n as f64;
        assert_eq!(
            got,
            (a, a2, n, s, m, Some(od)),
            "entity row {i} {e:?}\nrows: {rows:#?}"
        );
    }
}

/// Data of every shape the index must handle: from one row per key to hundreds (few keys,
/// many rows), with exact ties on (keys, event time, created time) that differ in amount
/// (nulls among them), late rows, and rows at the TTL and window boundaries.
fn shaped_rows() -> impl Strategy<Value = Vec<Row>> {
    (1i64..4, 1usize..160, 0i64..30).prop_flat_map(|(users, n, spread)| {
        prop::collection::vec(
            (
                0..users,
                0usize..2,
                // A narrow time range makes ties on event time frequent.
                0i64..(40 + spread * 12),
                prop_oneof![6 => Just(0i64), 3 => 0i64..30, 1 => 30i64..200],
                prop::option::weighted(0.85, -50i64..50),
            ),
            0..n,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(user, region, ts, delay, amount)| Row {
                    user,
                    region,
                    ts,
                    created: ts + delay,
                    amount,
                })
                .collect()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn every_shape_with_exact_ties_matches_the_reference(rows in shaped_rows(), ents in ents_strategy()) {
        check_tied(&rows, &ents, true);
    }

    #[test]
    fn every_shape_without_created_matches_the_reference(rows in shaped_rows(), ents in ents_strategy()) {
        check_tied(&rows, &ents, false);
    }
}

/// The index files of the project in `dir`.
fn index_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join(".mlp").join("pit"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_source_file_appended_to_or_rewritten_is_never_read_through_a_stale_index() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let row = |user, ts, amount| Row {
        user,
        region: 0,
        ts,
        created: ts,
        amount: Some(amount),
    };
    let mut rows = vec![row(1, 10, 1), row(1, 20, 2), row(2, 15, 3)];
    let ents = vec![
        Ent {
            user: 1,
            region: 0,
            t: 100,
        },
        Ent {
            user: 2,
            region: 0,
            t: 100,
        },
    ];
    write_inputs(dir.path(), &rows, &ents);
    // The latest amount (through the point-in-time index) and the 2-hour sum (through the
    // view's window index), as "amount|sum".
    let amounts = |dir: &Path| -> Vec<String> {
        run_features(dir, "out.csv", &["amount", "sum_2h"])[1..]
            .iter()
            .map(|l| format!("{}|{}", l[4], l[5]))
            .collect()
    };
    assert_eq!(amounts(dir.path()), ["2.0|3.0", "3.0|3.0"]);
    // One point-in-time index (Parquet) and one window index (Arrow).
    let first = index_files(dir.path());
    assert_eq!(first.len(), 2, "{first:?}");
    // Read again unchanged: the same index, not rebuilt.
    assert_eq!(amounts(dir.path()), ["2.0|3.0", "3.0|3.0"]);
    assert_eq!(index_files(dir.path()), first);

    // Rows appended (a later row for user 1): a new index, the old one removed.
    rows.push(row(1, 30, 7));
    write_inputs(dir.path(), &rows, &ents);
    assert_eq!(amounts(dir.path()), ["7.0|10.0", "3.0|3.0"]);
    let second = index_files(dir.path());
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        second.iter().all(|f| !first.contains(f)),
        "both rebuilt: {second:?}"
    );

    // Rewritten with the same size (one digit changed), only the modification time moves.
    let path = dir.path().join("tx.csv");
    let before = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let after = before.replacen(",7.0,", ",8.0,", 1);
    assert_eq!(before.len(), after.len());
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    let old = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, &after).unwrap_or_else(|e| panic!("{e}"));
    // A modification time surely different from the first write's (the file system's clock
    // may be coarse): set explicitly one second later.
    file.set_modified(old + std::time::Duration::from_secs(1))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(file);
    assert_eq!(amounts(dir.path()), ["8.0|11.0", "3.0|3.0"]);
    let third = index_files(dir.path());
    assert!(
        third.iter().all(|f| !second.contains(f)),
        "both rebuilt: {third:?}"
    );
}
