//! Windowed aggregations through the window index and the merge, against a brute-force
//! reference written here in plain Rust: every aggregation the merge computes (`count(*)`,
//! `count(x)`, `count_distinct`, `sum` of floats and of integers, `avg`, `min`, `max`,
//! `first`, `last`, over windows and over all history) beside a latest-row feature, on data
//! of every shape (one to many
//! rows per key, exact ties on event and created time, late rows, nulls, rows exactly at the
//! window's edge), with one integer key and with two keys (integer and text), with and without
//! `created`; and a large case whose index spans several batches, so that the merge is split
//! over the cores, with an entity file in Parquet of many row groups.

use mlp_features::{historical, HistoricalRequest};
use proptest::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// The features, in output order, with the window (minutes) and what each computes.
const FEATURES: [&str; 14] = [
    "n_30m", "c_30m", "d_30m", "s_30m", "si_2h", "a_2h", "mn_2h", "mx_30m", "f_2h", "l_2h",
    "n_all", "l_all", "fx_30m", "q",
];

fn spec(two_keys: bool, created: bool) -> String {
    let key = if two_keys {
        "[user_id: int, region: string]"
    } else {
        "user_id: int"
    };
    let created = if created {
        "  created   = created_ts\n"
    } else {
        ""
    };
    format!(
        "project win {{}}

entity user {{
  key = {key}
}}

source tx {{
  path      = \"tx.csv\"
  timestamp = event_ts
{created}
  schema {{
    user_id: int
    region: string
    amount: float
    qty: int
    event_ts: timestamp
    created_ts: timestamp
  }}
}}

features w {{
  entity = user
  source = tx

  n_30m: int = count(*) over 30m
  c_30m: int = count(amount) over 30m
  d_30m: int = count_distinct(qty) over 30m
  s_30m: float = sum(amount) over 30m
  si_2h: int = sum(qty) over 2h
  a_2h: float = avg(amount) over 2h
  mn_2h: float = min(amount) over 2h
  mx_30m: int = max(qty) over 30m
  f_2h: float = first(amount) over 2h
  l_2h: float = last(amount) over 2h
  n_all: int = count(*)
  l_all: int = last(qty)
  fx_30m: float = first(amount * 2.0) over 30m
  q: int = qty
}}
"
    )
}

#[derive(Debug, Clone)]
struct Row {
    user: i64,
    region: usize,
    ts: i64,
    created: i64,
    amount: Option<i64>,
    qty: Option<i64>,
}

#[derive(Debug, Clone)]
struct Ent {
    user: i64,
    region: usize,
    t: i64,
}

const REGIONS: [&str; 2] = ["eu", "us"];

fn stamp(minute: i64) -> String {
    format!(
        "2026-01-{:02} {:02}:{:02}:00",
        1 + minute / 1440,
        minute / 60 % 24,
        minute % 60
    )
}

/// The rows by entity key (the region counts only with two keys).
type ByKey<'a> = std::collections::HashMap<(i64, usize), Vec<&'a Row>>;

fn by_key(rows: &[Row], two_keys: bool) -> ByKey<'_> {
    let mut m: ByKey<'_> = std::collections::HashMap::new();
    for r in rows {
        let region = if two_keys { r.region } else { 0 };
        m.entry((r.user, region)).or_default().push(r);
    }
    m
}

/// The expected output cells of one entity row, as text (empty for null), from the rows of
/// its key.
fn reference(rows: &ByKey<'_>, e: &Ent, two_keys: bool, created: bool) -> Vec<String> {
    let key = (e.user, if two_keys { e.region } else { 0 });
    let mut visible: Vec<&Row> = rows
        .get(&key)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .copied()
        .filter(|r| r.ts <= e.t && (!created || r.created <= e.t))
        .collect();
    // The index's order: event time, created time, then the other columns in file order
    // (region, amount, qty), each ascending with nulls first; `first` is the least, `last`
    // the greatest. Without `created`, created_ts is an ordinary column, after qty.
    visible.sort_by_key(|r| {
        let cr = if created { r.created } else { 0 };
        (
            r.ts,
            cr,
            REGIONS[r.region],
            r.amount,
            r.qty,
            if created { 0 } else { r.created },
        )
    });
    let within =
        |m: i64| -> Vec<&Row> { visible.iter().copied().filter(|r| r.ts > e.t - m).collect() };
    let f = |x: Option<f64>| x.map(|v| format!("{v:?}")).unwrap_or_default();
    let i = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    let w30 = within(30);
    let w2h = within(120);
    let amounts = |w: &[&Row]| w.iter().filter_map(|r| r.amount).collect::<Vec<_>>();
    let qtys = |w: &[&Row]| w.iter().filter_map(|r| r.qty).collect::<Vec<_>>();
    let mut distinct = qtys(&w30);
    distinct.sort_unstable();
    distinct.dedup();
    let a2 = amounts(&w2h);
    let avg = (!a2.is_empty()).then(|| a2.iter().sum::<i64>() as f64 / a2.len() as f64);
    vec![
        w30.len().to_string(),
        amounts(&w30).len().to_string(),
        distinct.len().to_string(),
        f((!amounts(&w30).is_empty()).then(|| amounts(&w30).iter().sum::<i64>() as f64)),
        i((!qtys(&w2h).is_empty()).then(|| qtys(&w2h).iter().sum::<i64>())),
        f(avg),
        f(a2.iter().min().map(|&v| v as f64)),
        i(qtys(&w30).into_iter().max()),
        f(w2h.first().and_then(|r| r.amount).map(|v| v as f64)),
        f(w2h.last().and_then(|r| r.amount).map(|v| v as f64)),
        visible.len().to_string(),
        i(visible.last().and_then(|r| r.qty)),
        f(w30.first().and_then(|r| r.amount).map(|v| v as f64 * 2.0)),
        // The latest row's column, through the point-in-time index (the best row is the
        // last in the index's order, as for `last`).
        i(visible.last().and_then(|r| r.qty)),
    ]
}

fn write_inputs(dir: &Path, rows: &[Row], ents: &[Ent], two_keys: bool, created: bool) {
    let mut tx = String::from("user_id,region,amount,qty,event_ts,created_ts\n");
    for r in rows {
        let amount = r.amount.map(|a| format!("{a}.0")).unwrap_or_default();
        let qty = r.qty.map(|q| q.to_string()).unwrap_or_default();
        writeln!(
            tx,
            "{},{},{amount},{qty},{},{}",
            r.user,
            REGIONS[r.region],
            stamp(r.ts),
            stamp(r.created)
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join("tx.csv"), tx).unwrap_or_else(|e| panic!("{e}"));
    let mut en = String::from("user_id,region,event_timestamp,label\n");
    for (i, e) in ents.iter().enumerate() {
        writeln!(en, "{},{},{},row{i}", e.user, REGIONS[e.region], stamp(e.t))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join("entities.csv"), en).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("p.mlp"), spec(two_keys, created)).unwrap_or_else(|e| panic!("{e}"));
}

/// Runs the retrieval of every feature from `entities` into `out` (CSV) and returns its lines.
fn run(dir: &Path, entities: &str, out: &str) -> Vec<Vec<String>> {
    let checked = mlp_driver::check_dir(dir, None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let req = HistoricalRequest {
        project_dir: dir.to_path_buf(),
        entities: dir.join(entities),
        features: FEATURES.iter().map(|f| format!("w.{f}")).collect(),
        at: "event_timestamp".into(),
        out: dir.join(out),
    };
    historical(&plan, &req).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(dir.join(out)).unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// A float cell as the reference writes it (`3.0`, not `3`), so that the two compare as text.
fn canonical(cell: &str, feature: &str) -> String {
    let floats = ["s_30m", "a_2h", "mn_2h", "f_2h", "l_2h", "fx_30m"];
    if cell.is_empty() || !floats.contains(&feature) {
        return cell.to_string();
    }
    let v: f64 = cell
        .parse()
        .unwrap_or_else(|e| panic!("`{cell}` of {feature}: {e}"));
    format!("{v:?}")
}

fn check(dir: &Path, rows: &[Row], ents: &[Ent], two_keys: bool, created: bool, entities: &str) {
    let out = run(dir, entities, "out.csv");
    let header: Vec<String> = FEATURES.iter().map(|f| format!("w__{f}")).collect();
    assert_eq!(out[0][4..], header[..]);
    assert_eq!(out.len() - 1, ents.len(), "every entity row exactly once");
    let rows = by_key(rows, two_keys);
    for (n, (e, line)) in ents.iter().zip(&out[1..]).enumerate() {
        assert_eq!(line[3], format!("row{n}"), "input order");
        let got: Vec<String> = line[4..]
            .iter()
            .zip(FEATURES)
            .map(|(c, f)| canonical(c, f))
            .collect();
        let want = reference(&rows, e, two_keys, created);
        for (k, f) in FEATURES.iter().enumerate() {
            assert_eq!(
                got[k], want[k],
                "{f} of entity row {n} {e:?} (two keys: {two_keys}, created: {created})"
            );
        }
    }
}

/// Rows with `per_key` as the typical rows per key: event times in a 4-hour span on a
/// 5-minute grid (so that exact ties are common), created 0 to 10 minutes after, or 1 to 3
/// hours for a late row; values with nulls and repeats.
fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    (1usize..40).prop_flat_map(|per_key| {
        prop::collection::vec(
            (
                0i64..3,
                0usize..2,
                0i64..48,
                prop::bool::weighted(0.15),
                0i64..180,
                prop::option::weighted(0.85, -5i64..6),
                prop::option::weighted(0.85, 0i64..4),
            ),
            0..per_key * 6,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(user, region, slot, late, d, amount, qty)| Row {
                    user,
                    region,
                    ts: slot * 5,
                    created: slot * 5 + if late { 60 + d } else { d % 11 },
                    amount,
                    qty,
                })
                .collect()
        })
    })
}

fn ents_strategy() -> impl Strategy<Value = Vec<Ent>> {
    prop::collection::vec((0i64..4, 0usize..2, 0i64..300), 1..30).prop_map(|v| {
        v.into_iter()
            .map(|(user, region, t)| Ent { user, region, t })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_windowed_aggregation_matches_the_reference(
        rows in rows_strategy(),
        ents in ents_strategy(),
        two_keys in any::<bool>(),
        created in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_inputs(dir.path(), &rows, &ents, two_keys, created);
        check(dir.path(), &rows, &ents, two_keys, created, "entities.csv");
        let built = std::fs::read_dir(dir.path().join(".mlp/pit"))
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .any(|f| f.file_name().to_string_lossy().ends_with(".arrow"));
        prop_assert!(built, "the window index was used");
    }
}

/// A pseudo-random number from `i` and `salt` (the data is the same every run).
fn hash(i: i64, salt: i64) -> i64 {
    let mut x = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt as u64);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 1) as i64
}

#[test]
fn a_large_index_split_over_the_cores_matches_the_reference() {
    // 160,000 rows over 4,000 keys (40 per key, skewed: a few keys hold many more), more
    // than two batches of the index; 150,000 entity rows in a Parquet file of 4,096-row
    // groups (read in parallel, and more than one row group of DuckDB's table, so that the
    // entity table is scanned in parallel under the positional join).
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Row> = (0..160_000)
        .map(|i| {
            let user = if hash(i, 1) % 10 == 0 {
                hash(i, 2) % 20
            } else {
                hash(i, 3) % 4000
            };
            let ts = hash(i, 4) % 2880 / 5 * 5;
            let late = hash(i, 5) % 30 == 0;
            Row {
                user,
                region: (hash(i, 6) % 2) as usize,
                ts,
                created: ts
                    + if late {
                        60 + hash(i, 7) % 120
                    } else {
                        hash(i, 7) % 11
                    },
                amount: (hash(i, 8) % 10 != 0).then(|| hash(i, 9) % 11 - 5),
                qty: (hash(i, 10) % 10 != 0).then(|| hash(i, 11) % 4),
            }
        })
        .collect();
    let ents: Vec<Ent> = (0..150_000)
        .map(|i| Ent {
            user: hash(i, 12) % 4100,
            region: (hash(i, 13) % 2) as usize,
            t: hash(i, 14) % 3000,
        })
        .collect();
    write_inputs(dir.path(), &rows, &ents, false, true);
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM read_csv('{0}/entities.csv', header = true)) TO '{0}/entities.parquet' (FORMAT parquet, ROW_GROUP_SIZE 4096)",
        dir.path().display()
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    check(dir.path(), &rows, &ents, false, true, "entities.parquet");
    check(dir.path(), &rows, &ents, false, true, "entities.csv");
}

#[test]
fn a_key_longer_than_a_batch_of_the_index_matches_the_reference() {
    // 70,000 rows of key 1 (more than a batch of the index), between keys 0 and 2.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Row> = (0..72_000)
        .map(|i| {
            let ts = hash(i, 20) % 2880;
            Row {
                user: if i < 1000 {
                    0
                } else if i < 71_000 {
                    1
                } else {
                    2
                },
                region: 0,
                ts,
                created: ts + hash(i, 21) % 90,
                amount: Some(hash(i, 22) % 7),
                qty: (hash(i, 23) % 5 != 0).then(|| hash(i, 24) % 9),
            }
        })
        .collect();
    let ents: Vec<Ent> = (0..300)
        .map(|i| Ent {
            user: i % 4,
            region: 0,
            t: hash(i, 25) % 3000,
        })
        .collect();
    write_inputs(dir.path(), &rows, &ents, false, true);
    check(dir.path(), &rows, &ents, false, true, "entities.csv");
}
