//! `hour(...)` and `day_of_week(...)` of a request timestamp are one definition: the server's
//! online features (HTTP) and point-in-time retrieval (`mlpc features historical`) give the
//! same values for the same rows, with offsets, naive times (UTC), a DST change, a leap day
//! and times before 1970.

use mlp_test_support::serving::{call, mlpc, serve};
use serde_json::{json, Value};

const SPEC: &str = "project clock {}

entity user {
  key = user_id: int
}

source tx {
  path      = \"tx.csv\"
  timestamp = ts

  schema {
    user_id: int
    amount: float
    ts: timestamp
  }
}

features stats {
  entity = user
  source = tx

  avg_amount: float = avg(amount) over 30d
}

request checkout {
  at: timestamp
  amount: float
}

features when {
  hour_of: int = hour(checkout.at)
  weekday: int = day_of_week(checkout.at)
  night_and_big: bool = (hour(checkout.at) < 6 or hour(checkout.at) >= 22) and checkout.amount > coalesce(stats.avg_amount, 0.0)
}
";

/// Request times as clients send them, and what they are in UTC (for the reader).
const TIMES: [&str; 8] = [
    "2026-03-29T01:30:00+02:00", // Saturday 23:30 UTC, the night Europe's clocks change
    "2026-03-29 01:30:00",       // naive: UTC, a Sunday
    "2024-02-29T23:59:59.999999Z",
    "2024-02-29T23:00:00-05:00", // into March 1st in UTC
    "2026-11-01T01:30:00-04:00", // America's change, 05:30 UTC
    "1969-12-31T23:59:59+14:00",
    "2026-11-30T12:00:00+05:30",
    "2026-11-30",
];

#[test]
fn hour_and_day_of_week_are_the_same_online_over_http_and_in_historical_retrieval() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("clock.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        p.join("tx.csv"),
        "user_id,amount,ts\n1,10.0,2026-01-01 10:00:00\n1,30.0,2026-01-02 11:00:00\n2,5.0,2026-01-01 09:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["materialize", ".", "--until", "2026-01-03 00:00:00"], p);

    // Offline: one entity row per time, all read at the same moment.
    let mut csv = String::from("user_id,event_timestamp,at,amount\n");
    for (i, t) in TIMES.iter().enumerate() {
        csv.push_str(&format!(
            "{},2026-01-03 00:00:00,{t},{}\n",
            1 + i % 3,
            10 * i
        ));
    }
    std::fs::write(p.join("entities.csv"), csv).unwrap_or_else(|e| panic!("{e}"));
    let features = "when.hour_of,when.weekday,when.night_and_big";
    mlpc(
        &[
            "features",
            "historical",
            ".",
            "--entities",
            "entities.csv",
            "--features",
            features,
            "--out",
            "out.parquet",
        ],
        p,
    );
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let file = p.join("out.parquet").display().to_string();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT when__hour_of, when__weekday, when__night_and_big FROM read_parquet('{file}')"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let offline: Vec<(Option<i64>, Option<i64>, Option<bool>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(offline.len(), TIMES.len());
    // Known answers for the first rows, so that both sides cannot agree on nulls.
    assert_eq!(offline[0].0, Some(23));
    assert_eq!(offline[0].1, Some(5));
    assert_eq!(offline[3], (Some(4), Some(4), offline[3].2));

    // Online, over HTTP, the same rows.
    let mut server = serve(p);
    let users: Vec<i64> = (0..TIMES.len()).map(|i| 1 + (i % 3) as i64).collect();
    let amounts: Vec<f64> = (0..TIMES.len()).map(|i| (10 * i) as f64).collect();
    let (status, answer) = call(
        "POST",
        &format!("{}/v1/features/online", server.base),
        Some(json!({
            "features": features.split(',').collect::<Vec<_>>(),
            "entities": {"user_id": users},
            "request": {"at": TIMES, "amount": amounts},
        })),
    );
    assert_eq!(status, 200, "{answer}");
    let col = |name: &str| -> Vec<Value> {
        answer["columns"][name]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no column {name}: {answer}"))
    };
    let (hours, days, flags) = (
        col("when__hour_of"),
        col("when__weekday"),
        col("when__night_and_big"),
    );
    for (i, t) in TIMES.iter().enumerate() {
        let online = (hours[i].as_i64(), days[i].as_i64(), flags[i].as_bool());
        assert_eq!(
            online, offline[i],
            "{t}: online {online:?}, offline {:?}",
            offline[i]
        );
    }
    assert_eq!(server.terminate(), Some(0));
}
