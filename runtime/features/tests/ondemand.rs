//! The online evaluator and the offline SQL agree: random on-demand expressions over random
//! rows (nulls, zeros, the integer extremes, negative numbers, text, timestamps with and
//! without offsets, around DST changes and on leap days) are evaluated by the Rust evaluator
//! and by DuckDB running the compiled SQL, and every result must be equal. Every scalar
//! function of the stdlib appears in the generated expressions.

use duckdb::types::Value as DbValue;
use duckdb::Connection;
use mlp_features::ondemand::{eval, Kind, Val};
use mlp_features::sql::expr_to_sql;
use mlp_ir::{IrExpr, Literal};
use proptest::prelude::*;

/// Columns of the test table: (request field, SQL type).
/// `t` is a timestamp as text (as a request sends it: offsets, `T` or a space), `u` a naive
/// TIMESTAMP column (as a Parquet file holds one; online it is text without an offset).
const FIELDS: [(&str, &str); 7] = [
    ("i", "BIGINT"),
    ("j", "BIGINT"),
    ("x", "DOUBLE"),
    ("s", "VARCHAR"),
    ("b", "BOOLEAN"),
    ("t", "VARCHAR"),
    ("u", "TIMESTAMP"),
];

fn kind_of_field(name: &str) -> Kind {
    match name {
        "i" | "j" => Kind::Int,
        "x" => Kind::Float,
        "s" | "t" | "u" => Kind::Str,
        _ => Kind::Bool,
    }
}

fn field(name: &str) -> IrExpr {
    IrExpr::Request {
        request: "r".into(),
        field: name.into(),
    }
}

/// `hour(...)` or `day_of_week(...)` of one of the two timestamp fields.
fn time_call() -> impl Strategy<Value = IrExpr> {
    (
        prop_oneof![Just("hour"), Just("day_of_week")],
        prop_oneof![Just("t"), Just("u")],
    )
        .prop_map(|(f, t)| IrExpr::Call {
            func: f.into(),
            args: vec![field(t)],
        })
}

fn int_leaf() -> impl Strategy<Value = IrExpr> {
    prop_oneof![
        Just(field("i")),
        Just(field("j")),
        time_call(),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            Just(i64::MAX),
            Just(i64::MIN),
            -1000i64..1000
        ]
        .prop_map(|v| IrExpr::Literal {
            value: Literal::Int(v)
        }),
    ]
}

fn num_expr() -> impl Strategy<Value = IrExpr> {
    let leaf = prop_oneof![
        3 => int_leaf(),
        2 => Just(field("x")),
        1 => prop_oneof![Just(0.0f64), Just(0.5), Just(-2.5), -1000.0f64..1000.0].prop_map(|v| IrExpr::Literal { value: Literal::Float(v) }),
        1 => Just(IrExpr::Literal { value: Literal::Null }),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| IrExpr::Binary {
                    binop: op.into(),
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                }),
            inner.clone().prop_map(|x| IrExpr::Unary {
                unop: "-".into(),
                expr: Box::new(x)
            }),
            (
                prop_oneof![
                    Just("abs"),
                    Just("round"),
                    Just("floor"),
                    Just("ceil"),
                    Just("ln"),
                    Just("sqrt"),
                    Just("to_float")
                ],
                inner.clone()
            )
                .prop_map(|(f, x)| IrExpr::Call {
                    func: f.into(),
                    args: vec![x]
                }),
            (
                prop_oneof![Just("coalesce"), Just("least"), Just("greatest")],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, a, b)| IrExpr::Call {
                    func: f.into(),
                    args: vec![a, b]
                }),
            (bool_leaf(), inner.clone(), inner).prop_map(|(c, a, b)| IrExpr::Call {
                func: "if_else".into(),
                args: vec![c, a, b]
            }),
        ]
    })
}

fn bool_leaf() -> impl Strategy<Value = IrExpr> {
    prop_oneof![
        Just(field("b")),
        Just(IrExpr::Call {
            func: "is_null".into(),
            args: vec![field("x")]
        }),
        (
            prop_oneof![
                Just("=="),
                Just("!="),
                Just("<"),
                Just("<="),
                Just(">"),
                Just(">=")
            ],
            int_leaf(),
            Just(field("x"))
        )
            .prop_map(|(op, l, r)| IrExpr::Binary {
                binop: op.into(),
                lhs: Box::new(l),
                rhs: Box::new(r)
            }),
    ]
}

fn bool_expr() -> impl Strategy<Value = IrExpr> {
    let leaf = prop_oneof![
        3 => bool_leaf(),
        2 => (prop_oneof![Just("=="), Just("!="), Just("<"), Just(">=")], num_expr(), num_expr())
            .prop_map(|(op, l, r)| IrExpr::Binary { binop: op.into(), lhs: Box::new(l), rhs: Box::new(r) }),
        1 => (prop_oneof![Just("=="), Just("<")], Just(field("s")), prop_oneof![Just("a"), Just("B"), Just("é")])
            .prop_map(|(op, l, r)| IrExpr::Binary { binop: op.into(), lhs: Box::new(l), rhs: Box::new(IrExpr::Literal { value: Literal::String(r.into()) }) }),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            (
                prop_oneof![Just("and"), Just("or")],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| IrExpr::Binary {
                    binop: op.into(),
                    lhs: Box::new(l),
                    rhs: Box::new(r)
                }),
            inner.prop_map(|x| IrExpr::Unary {
                unop: "not".into(),
                expr: Box::new(x)
            }),
        ]
    })
}

fn text_expr() -> impl Strategy<Value = IrExpr> {
    prop_oneof![
        Just(IrExpr::Call {
            func: "lower".into(),
            args: vec![field("s")]
        }),
        Just(IrExpr::Call {
            func: "upper".into(),
            args: vec![field("s")]
        }),
        Just(IrExpr::Call {
            func: "length".into(),
            args: vec![field("s")]
        }),
        Just(IrExpr::Call {
            func: "coalesce".into(),
            args: vec![
                field("s"),
                IrExpr::Literal {
                    value: Literal::String("none".into())
                }
            ]
        }),
    ]
}

type Row = (
    Option<i64>,
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<bool>,
    Option<String>,
    Option<String>,
);

/// A civil date-time: days since 1900-01-01 (to 2100), seconds of the day, micros; with the
/// edges weighted in: leap days (2000, 2024, 2028), Europe's and America's DST changes of
/// 2026, midnight, the last microsecond of a day and of a year, and dates before 1970.
fn date_time() -> impl Strategy<Value = chrono::NaiveDateTime> {
    use chrono::{NaiveDate, NaiveDateTime};
    let special = prop_oneof![
        Just("2024-02-29 23:59:59.999999"),
        Just("2000-02-29 00:00:00"),
        Just("2028-02-29 12:30:00"),
        Just("2026-03-29 00:59:59"),
        Just("2026-03-29 01:00:00"),
        Just("2026-10-25 00:59:59.5"),
        Just("2026-03-08 07:00:00"),
        Just("2026-11-01 06:00:00"),
        Just("2026-12-31 23:59:59.999999"),
        Just("1969-12-31 23:59:59"),
        Just("1900-01-01 00:00:00"),
    ]
    .prop_map(|s| {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_else(|e| panic!("{e}"))
    });
    let any = (
        0i64..73_000,
        0u32..86_400,
        prop_oneof![Just(0u32), 0u32..1_000_000],
    )
        .prop_map(|(d, s, us)| {
            let day = NaiveDate::from_ymd_opt(1900, 1, 1)
                .and_then(|x| x.checked_add_signed(chrono::Duration::days(d)))
                .unwrap_or_else(|| panic!("day {d}"));
            day.and_hms_micro_opt(s / 3600, s / 60 % 60, s % 60, us)
                .unwrap_or_else(|| panic!("{s} {us}"))
        });
    prop_oneof![2 => special, 3 => any]
}

/// A timestamp as a client would send one: `T` or a space, an offset (`Z`, `+02:00`,
/// `-05:00`, `+05:30`, `+14:00`, `-12:00`) or none, with or without a fraction.
fn timestamp_text() -> impl Strategy<Value = String> {
    (
        date_time(),
        prop_oneof![Just('T'), Just(' ')],
        prop_oneof![
            Just(""),
            Just("Z"),
            Just("+00:00"),
            Just("+02:00"),
            Just("-05:00"),
            Just("+05:30"),
            Just("+14:00"),
            Just("-12:00")
        ],
    )
        .prop_map(|(t, sep, offset)| {
            format!(
                "{}{sep}{}{offset}",
                t.format("%Y-%m-%d"),
                t.format("%H:%M:%S%.f")
            )
        })
}

fn row() -> impl Strategy<Value = Row> {
    let int = prop_oneof![
        Just(0i64),
        Just(1),
        Just(-1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(i64::MAX / 2),
        -100i64..100
    ];
    (
        prop::option::weighted(0.8, int.clone()),
        prop::option::weighted(0.8, int),
        prop::option::weighted(
            0.8,
            prop_oneof![Just(0.0f64), Just(-0.5), Just(1e300), -1000.0f64..1000.0],
        ),
        prop::option::weighted(
            0.8,
            prop_oneof![
                Just("Ab".to_string()),
                Just("É".to_string()),
                Just(String::new()),
                "[a-zA-Z]{0,4}"
            ],
        ),
        prop::option::weighted(0.8, any::<bool>()),
        prop::option::weighted(
            0.8,
            prop_oneof![8 => timestamp_text(), 1 => Just("not a time".to_string())],
        ),
        prop::option::weighted(
            0.8,
            date_time().prop_map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        ),
    )
}

fn value_of(r: &Row, name: &str) -> Val {
    match name {
        "i" => r.0.map_or(Val::Null, Val::Int),
        "j" => r.1.map_or(Val::Null, Val::Int),
        "x" => r.2.map_or(Val::Null, Val::Float),
        "s" => r.3.clone().map_or(Val::Null, Val::Str),
        "t" => r.5.clone().map_or(Val::Null, Val::Str),
        "u" => r.6.clone().map_or(Val::Null, Val::Str),
        _ => r.4.map_or(Val::Null, Val::Bool),
    }
}

fn from_db(v: DbValue) -> Val {
    match v {
        DbValue::Null => Val::Null,
        DbValue::Boolean(b) => Val::Bool(b),
        DbValue::BigInt(i) => Val::Int(i),
        DbValue::Int(i) => Val::Int(i64::from(i)),
        DbValue::HugeInt(i) => i64::try_from(i).map_or(Val::Null, Val::Int),
        DbValue::Double(f) => Val::Float(f),
        DbValue::Text(s) => Val::Str(s),
        other => Val::Str(format!("{other:?}")),
    }
}

fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Float(x), Val::Float(y)) => {
            x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => (*x as f64) == *y,
        _ => a == b,
    }
}

fn check(exprs: &[IrExpr], rows: &[Row]) -> Result<(), TestCaseError> {
    let conn = Connection::open_in_memory().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let cols = FIELDS
        .iter()
        .map(|(n, t)| format!("r__{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ");
    // As every connection of the runtime does: naive timestamps are UTC.
    conn.execute_batch(&format!(
        "SET TimeZone = 'UTC'; CREATE TABLE t (id INTEGER, {cols});"
    ))
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (id, r) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            duckdb::params![id as i64, r.0, r.1, r.2, r.3, r.4, r.5, r.6],
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let col = |name: &str| format!("t.\"{name}\"");
    for e in exprs {
        let kind = |x: &IrExpr| match x {
            IrExpr::Request { field, .. } => kind_of_field(field),
            _ => Kind::Null,
        };
        let sql = expr_to_sql(e, &col, &kind).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut stmt = conn
            .prepare(&format!("SELECT {sql} FROM t ORDER BY id"))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{sql}")))?;
        let got: Vec<Val> = stmt
            .query_map([], |r| r.get::<_, DbValue>(0))
            .and_then(|rs| rs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{sql}")))?
            .into_iter()
            .map(from_db)
            .collect();
        for (r, sql_val) in rows.iter().zip(&got) {
            let rust_val = eval(
                e,
                &|x| match x {
                    IrExpr::Request { field, .. } => value_of(r, field),
                    _ => Val::Null,
                },
                &|x| match x {
                    IrExpr::Request { field, .. } => kind_of_field(field),
                    _ => Kind::Null,
                },
            );
            prop_assert!(
                same(&rust_val, sql_val),
                "row {r:?}\nexpr {e:?}\nsql {sql}\nrust {rust_val:?} duckdb {sql_val:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn rust_and_sql_agree(
        nums in prop::collection::vec(num_expr(), 1..4),
        bools in prop::collection::vec(bool_expr(), 1..3),
        text in text_expr(),
        rows in prop::collection::vec(row(), 1..12),
    ) {
        let mut exprs = nums;
        exprs.extend(bools);
        exprs.push(text);
        check(&exprs, &rows)?;
    }
}

const SPEC: &str = "project shop {}

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

  avg_amount: float = avg(amount) over 1d
}

request checkout {
  amount: float
}

features derived {
  ratio: float = checkout.amount / coalesce(stats.avg_amount, 1.0)
  big: bool = derived.ratio > 2.0
}

model m {
  inputs = [derived.ratio, derived.big]
  output = score: float
}

deployment d {
  model = m@1
}
";

const TX: &str = "user_id,amount,ts\n1,10.0,2026-01-01 10:00:00\n1,30.0,2026-01-01 11:00:00\n2,0.0,2026-01-01 09:00:00\n";

/// The shop project with its transactions in a temporary folder, checked.
fn shop() -> (tempfile::TempDir, mlp_ir::Plan) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("tx.csv"), TX).unwrap_or_else(|e| panic!("{e}"));
    let checked = mlp_driver::check_dir(dir.path(), None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    (dir, plan)
}

/// The shop, materialized at noon, and its online store.
fn shop_online() -> (tempfile::TempDir, mlp_ir::Plan, mlp_features::OnlineStore) {
    let (dir, plan) = shop();
    mlp_features::materialize(&plan, dir.path(), &[], Some("2026-01-01 12:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    let store =
        mlp_features::OnlineStore::open(dir.path(), &plan).unwrap_or_else(|e| panic!("{e}"));
    (dir, plan, store)
}

#[test]
fn historical_retrieval_computes_on_demand_features_with_the_evaluators_semantics() {
    let (dir, plan) = shop();
    let p = dir.path();
    std::fs::write(
        p.join("entities.csv"),
        "user_id,event_timestamp,amount\n1,2026-01-01 12:00:00,50.0\n2,2026-01-01 12:00:00,5.0\n3,2026-01-01 12:00:00,3.0\n1,2026-01-01 12:00:00,\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let req = mlp_features::HistoricalRequest {
        project_dir: p.to_path_buf(),
        entities: p.join("entities.csv"),
        features: vec!["derived.big".into(), "derived.ratio".into()],
        at: "event_timestamp".into(),
        out: p.join("out.csv"),
    };
    let report = mlp_features::historical(&plan, &req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.columns, ["derived__big", "derived__ratio"]);
    let out = std::fs::read_to_string(p.join("out.csv")).unwrap_or_default();
    // avg for user 1 is 20 (ratio 2.5, big); user 2's avg is 0, so the division by zero is
    // null and so is `big`; user 3 has no rows (coalesce to 1.0); a null request amount.
    assert_eq!(
        out,
        "user_id,event_timestamp,amount,derived__big,derived__ratio\n\
         1,2026-01-01 12:00:00,50.0,true,2.5\n\
         2,2026-01-01 12:00:00,5.0,,\n\
         3,2026-01-01 12:00:00,3.0,true,3.0\n\
         1,2026-01-01 12:00:00,,,\n"
    );
    // The same values from the online evaluator.
    let ratio = match plan.get("feature.derived.ratio").map(|r| &r.spec) {
        Some(mlp_ir::Spec::Feature {
            def: mlp_ir::FeatureDef::OnDemand { expr },
            ..
        }) => expr.clone(),
        other => panic!("{other:?}"),
    };
    let kinds = |_: &IrExpr| Kind::Float;
    for (amount, avg, want) in [
        (Some(50.0), Some(20.0), Val::Float(2.5)),
        (Some(5.0), Some(0.0), Val::Null),
        (Some(3.0), None, Val::Float(3.0)),
        (None, Some(20.0), Val::Null),
    ] {
        let got = eval(
            &ratio,
            &|x| match x {
                IrExpr::Request { .. } => amount.map_or(Val::Null, Val::Float),
                IrExpr::Feature { .. } => avg.map_or(Val::Null, Val::Float),
                _ => Val::Null,
            },
            &kinds,
        );
        assert_eq!(got, want);
    }
}

#[test]
fn online_lookups_compute_on_demand_features_like_historical_retrieval() {
    let (_dir, _plan, store) = shop_online();
    let entities: std::collections::BTreeMap<String, Vec<serde_json::Value>> = [
        (
            "user_id".to_string(),
            vec![1.into(), 2.into(), 3.into(), 1.into()],
        ),
        (
            "amount".to_string(),
            vec![50.0.into(), 5.0.into(), 3.0.into(), serde_json::Value::Null],
        ),
    ]
    .into();
    let features = vec!["derived.big".to_string(), "derived.ratio".to_string()];
    let cols = store
        .lookup(&features, &entities, 1_767_268_800_000_000)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        serde_json::json!(cols["derived__ratio"]),
        serde_json::json!([2.5, null, 3.0, null])
    );
    assert_eq!(
        serde_json::json!(cols["derived__big"]),
        serde_json::json!([true, null, true, null])
    );
    // Without the request field the lookup says which field is missing.
    let mut no_amount = entities.clone();
    no_amount.remove("amount");
    let err = store
        .lookup(&features, &no_amount, 0)
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("lacks `amount`"), "{err}");
}

#[test]
fn the_http_handler_answers_columns_or_a_400() {
    // User 2's average is 0, so its ratio divides by zero: null.
    let (_dir, _plan, store) = shop_online();
    let now = 1_767_268_800_000_000;
    let body = br#"{"features": ["stats.avg_amount", "derived.ratio"], "entities": {"user_id": [1, 2]}, "request": {"amount": [40.0, 1.0]}}"#;
    let (status, v) = mlp_features::api::online_features(&store, body, now);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["columns"]["stats__avg_amount"],
        serde_json::json!([20.0, 0.0])
    );
    assert_eq!(
        v["columns"]["derived__ratio"],
        serde_json::json!([2.0, null])
    );
    for (bad, why) in [
        (&b"not json"[..], "invalid request body"),
        (
            &br#"{"features": [], "entities": {"user_id": [1]}}"#[..],
            "empty",
        ),
        (
            &br#"{"features": ["stats.nope"], "entities": {"user_id": [1]}}"#[..],
            "unknown feature",
        ),
        (
            &br#"{"features": ["stats.avg_amount"], "entities": {"user_id": [1, 2], "x": [1]}}"#[..],
            "same number",
        ),
        (
            &br#"{"features": ["stats.avg_amount"], "entitys": {}}"#[..],
            "invalid request body",
        ),
    ] {
        let (status, v) = mlp_features::api::online_features(&store, bad, now);
        assert_eq!(status, 400, "{v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains(why)),
            "{why}: {v}"
        );
    }
}

#[test]
fn hour_and_day_of_week_give_known_values_in_utc_online_and_in_sql() {
    // (text, hour in UTC, day of week with Monday = 0)
    let cases = [
        ("2026-03-29T01:30:00+02:00", Some(23), Some(5)), // Saturday 23:30 UTC
        ("2026-03-29 01:30:00", Some(1), Some(6)),        // naive: UTC, a Sunday
        ("2024-02-29T23:59:59.999999Z", Some(23), Some(3)), // a leap day, a Thursday
        ("2024-02-29T23:00:00-05:00", Some(4), Some(4)),  // into March 1st
        ("2026-11-30", Some(0), Some(0)),                 // a date: midnight, a Monday
        ("1969-12-31T23:59:59+14:00", Some(9), Some(2)),  // before 1970, a Wednesday
        ("not a time", None, None),
    ];
    let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("SET TimeZone = 'UTC';")
        .unwrap_or_else(|e| panic!("{e}"));
    let kind = |_: &IrExpr| Kind::Str;
    for (text, hour, dow) in cases {
        for (func, want) in [("hour", hour), ("day_of_week", dow)] {
            let e = IrExpr::Call {
                func: func.into(),
                args: vec![field("t")],
            };
            let online = eval(&e, &|_| Val::Str(text.into()), &kind);
            let want = want.map_or(Val::Null, Val::Int);
            assert_eq!(online, want, "online {func}({text})");
            let sql =
                expr_to_sql(&e, &|_| format!("'{text}'"), &kind).unwrap_or_else(|e| panic!("{e}"));
            let offline: DbValue = conn
                .query_row(&format!("SELECT {sql}"), [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}: {sql}"));
            assert_eq!(from_db(offline), want, "offline {func}({text}): {sql}");
        }
    }
}
