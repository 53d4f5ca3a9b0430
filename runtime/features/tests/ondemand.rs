//! The online evaluator and the offline SQL agree: random on-demand expressions over random
//! rows (nulls, zeros, the integer extremes, negative numbers, text) are evaluated by the
//! Rust evaluator and by DuckDB running the compiled SQL, and every result must be equal.

use duckdb::types::Value as DbValue;
use duckdb::Connection;
use mlp_features::ondemand::{eval, Kind, Val};
use mlp_features::sql::expr_to_sql;
use mlp_ir::{IrExpr, Literal};
use proptest::prelude::*;

/// Columns of the test table: (request field, SQL type).
const FIELDS: [(&str, &str); 5] = [
    ("i", "BIGINT"),
    ("j", "BIGINT"),
    ("x", "DOUBLE"),
    ("s", "VARCHAR"),
    ("b", "BOOLEAN"),
];

fn field(name: &str) -> IrExpr {
    IrExpr::Request {
        request: "r".into(),
        field: name.into(),
    }
}

fn int_leaf() -> impl Strategy<Value = IrExpr> {
    prop_oneof![
        Just(field("i")),
        Just(field("j")),
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
);

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
    )
}

fn value_of(r: &Row, name: &str) -> Val {
    match name {
        "i" => r.0.map_or(Val::Null, Val::Int),
        "j" => r.1.map_or(Val::Null, Val::Int),
        "x" => r.2.map_or(Val::Null, Val::Float),
        "s" => r.3.clone().map_or(Val::Null, Val::Str),
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
    conn.execute_batch(&format!("CREATE TABLE t (id INTEGER, {cols});"))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (id, r) in rows.iter().enumerate() {
        conn.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)",
            duckdb::params![id as i64, r.0, r.1, r.2, r.3, r.4],
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    let col = |name: &str| format!("t.\"{name}\"");
    for e in exprs {
        let kind = |x: &IrExpr| match x {
            IrExpr::Request { field, .. } => match field.as_str() {
                "i" | "j" => Kind::Int,
                "x" => Kind::Float,
                "s" => Kind::Str,
                _ => Kind::Bool,
            },
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
                    IrExpr::Request { field, .. } => match field.as_str() {
                        "i" | "j" => Kind::Int,
                        "x" => Kind::Float,
                        "s" => Kind::Str,
                        _ => Kind::Bool,
                    },
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
