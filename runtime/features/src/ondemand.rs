//! The online evaluator of on-demand features: the plan IR's expressions over request
//! fields and other features, evaluated in Rust per request. Its semantics are those of the
//! SQL that `sql::expr_to_sql` generates for the offline path, and a property test
//! (`tests/ondemand.rs`) runs random expressions and rows through both:
//! null propagates (with SQL's three-valued `and`/`or`), integer overflow is null, division
//! by zero is null, `/` divides as floats, floats follow IEEE (infinities; NaN equals NaN and
//! sorts above every number, as in DuckDB), `ln`/`sqrt` outside their domain are null.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use mlp_ir::{IrExpr, Literal, Scalar};
use serde_json::Value;

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// SQL NULL.
    Null,
    /// 64-bit integer.
    Int(i64),
    /// 64-bit float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Text.
    Str(String),
}

impl Val {
    /// From JSON (request fields, online values).
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| n.as_f64().map_or(Val::Null, Val::Float), Val::Int),
            Value::String(s) => Val::Str(s.clone()),
            other => Val::Str(other.to_string()),
        }
    }

    /// To JSON (non-finite floats become null).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Bool(b) => Value::Bool(*b),
            Val::Str(s) => Value::String(s.clone()),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }
}

fn literal(l: &Literal) -> Val {
    match l {
        Literal::Int(i) => Val::Int(*i),
        Literal::Float(f) if f.is_finite() => Val::Float(*f),
        Literal::Bool(b) => Val::Bool(*b),
        Literal::String(s) => Val::Str(s.clone()),
        Literal::DurationMs(v)
        | Literal::PerSecond(v)
        | Literal::Bytes(v)
        | Literal::Fraction(v) => Val::Float(*v),
        Literal::Float(_) | Literal::Null => Val::Null,
    }
}

fn arith(op: &str, a: &Val, b: &Val) -> Val {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => {
            let r = match op {
                "+" => x.checked_add(*y),
                "-" => x.checked_sub(*y),
                _ => x.checked_mul(*y),
            };
            r.map_or(Val::Null, Val::Int)
        }
        _ => match (a.num(), b.num()) {
            (Some(x), Some(y)) => Val::Float(match op {
                "+" => x + y,
                "-" => x - y,
                _ => x * y,
            }),
            _ => Val::Null,
        },
    }
}

fn compare(op: &str, a: &Val, b: &Val) -> Val {
    let ord = match (a, b) {
        (Val::Null, _) | (_, Val::Null) => return Val::Null,
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        (Val::Int(x), Val::Int(y)) => x.cmp(y),
        _ => match (a.num(), b.num()) {
            // DuckDB's order: NaN equals NaN and is above every other number; -0 equals 0.
            (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            },
            _ => return Val::Null,
        },
    };
    use std::cmp::Ordering::*;
    Val::Bool(match op {
        "==" => ord == Equal,
        "!=" => ord != Equal,
        "<" => ord == Less,
        "<=" => ord != Greater,
        ">" => ord == Greater,
        _ => ord != Less,
    })
}

fn truth(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        _ => None,
    }
}

fn float(v: &Val, f: impl Fn(f64) -> Option<f64>) -> Val {
    v.num().and_then(f).map_or(Val::Null, Val::Float)
}

/// The static type of an expression, as SQL sees it: what a `coalesce` or `if_else` of an
/// int and a float returns (a float, even when the float is null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// Text.
    Str,
    /// The null literal: takes the other side's type.
    Null,
}

impl Kind {
    /// The kind of a declared value type (timestamps compare as text).
    pub fn of(t: mlp_ir::Type) -> Kind {
        match t {
            mlp_ir::Type::Int => Kind::Int,
            mlp_ir::Type::Float => Kind::Float,
            mlp_ir::Type::Bool => Kind::Bool,
            mlp_ir::Type::String | mlp_ir::Type::Timestamp => Kind::Str,
        }
    }
}

/// The features and request fields an expression reads, in order (with repeats).
pub fn leaves(e: &IrExpr) -> Vec<&IrExpr> {
    fn walk<'a>(e: &'a IrExpr, out: &mut Vec<&'a IrExpr>) {
        match e {
            IrExpr::Feature { .. } | IrExpr::Request { .. } => out.push(e),
            IrExpr::Unary { expr, .. } => walk(expr, out),
            IrExpr::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            IrExpr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(e, &mut out);
    out
}

fn unify(a: Kind, b: Kind) -> Kind {
    match (a, b) {
        (Kind::Null, x) | (x, Kind::Null) => x,
        (Kind::Float, Kind::Int) | (Kind::Int, Kind::Float) => Kind::Float,
        (x, _) => x,
    }
}

/// The static type of `e`, with the types of features and request fields from `leaf`.
pub fn kind_of(e: &IrExpr, leaf: &dyn Fn(&IrExpr) -> Kind) -> Kind {
    match e {
        IrExpr::Literal { value } => match value {
            Literal::Int(_) => Kind::Int,
            Literal::Bool(_) => Kind::Bool,
            Literal::String(_) => Kind::Str,
            Literal::Null => Kind::Null,
            _ => Kind::Float,
        },
        IrExpr::Feature { .. }
        | IrExpr::Request { .. }
        | IrExpr::Column { .. }
        | IrExpr::Output { .. } => leaf(e),
        IrExpr::Unary { unop, .. } if unop == "not" => Kind::Bool,
        IrExpr::Unary { expr, .. } => kind_of(expr, leaf),
        IrExpr::Binary { binop, lhs, rhs } => match binop.as_str() {
            "+" | "-" | "*" => match unify(kind_of(lhs, leaf), kind_of(rhs, leaf)) {
                Kind::Null => Kind::Int,
                k => k,
            },
            "/" => Kind::Float,
            _ => Kind::Bool,
        },
        IrExpr::Call { func, args } => {
            let k = |i: usize| args.get(i).map_or(Kind::Null, |a| kind_of(a, leaf));
            match Scalar::from_name(func) {
                Some(Scalar::Coalesce) => unify(k(0), k(1)),
                Some(Scalar::IfElse) => unify(k(1), k(2)),
                Some(Scalar::Abs) => k(0),
                Some(Scalar::Lower | Scalar::Upper) => Kind::Str,
                Some(Scalar::Length | Scalar::Hour | Scalar::DayOfWeek) => Kind::Int,
                Some(Scalar::IsNull) => Kind::Bool,
                Some(
                    Scalar::Round
                    | Scalar::Floor
                    | Scalar::Ceil
                    | Scalar::Ln
                    | Scalar::Sqrt
                    | Scalar::Least
                    | Scalar::Greatest
                    | Scalar::ToFloat,
                ) => Kind::Float,
                // Not a scalar (an aggregation or a metric): not evaluated online.
                None => Kind::Null,
            }
        }
        _ => Kind::Null,
    }
}

/// Evaluates `e`, reading features and request fields through `get` and their static types
/// through `leaf`.
pub fn eval(e: &IrExpr, get: &dyn Fn(&IrExpr) -> Val, leaf: &dyn Fn(&IrExpr) -> Kind) -> Val {
    let v = eval_inner(e, get, leaf);
    // An int where SQL's static type is float (a coalesce or if_else of int and float).
    match (v, kind_of(e, leaf)) {
        (Val::Int(i), Kind::Float) => Val::Float(i as f64),
        (v, _) => v,
    }
}

fn eval_inner(e: &IrExpr, get: &dyn Fn(&IrExpr) -> Val, leaf: &dyn Fn(&IrExpr) -> Kind) -> Val {
    let eval = |x: &IrExpr| eval(x, get, leaf);
    match e {
        IrExpr::Literal { value } => literal(value),
        IrExpr::Feature { .. }
        | IrExpr::Request { .. }
        | IrExpr::Column { .. }
        | IrExpr::Output { .. } => get(e),
        IrExpr::Unary { unop, expr } => {
            let x = eval(expr);
            match (unop.as_str(), x) {
                ("not", Val::Bool(b)) => Val::Bool(!b),
                ("not", _) => Val::Null,
                (_, Val::Int(i)) => i.checked_neg().map_or(Val::Null, Val::Int),
                (_, Val::Float(f)) => Val::Float(-f),
                _ => Val::Null,
            }
        }
        IrExpr::Binary { binop, lhs, rhs } => {
            let (a, b) = (eval(lhs), eval(rhs));
            match binop.as_str() {
                "+" | "-" | "*" => arith(binop, &a, &b),
                "/" => match (a.num(), b.num()) {
                    // Division by zero (of either sign) is null, as in the SQL.
                    (Some(x), Some(y)) => {
                        if y == 0.0 {
                            Val::Null
                        } else {
                            Val::Float(x / y)
                        }
                    }
                    _ => Val::Null,
                },
                "and" => match (truth(&a), truth(&b)) {
                    (Some(false), _) | (_, Some(false)) => Val::Bool(false),
                    (Some(true), Some(true)) => Val::Bool(true),
                    _ => Val::Null,
                },
                "or" => match (truth(&a), truth(&b)) {
                    (Some(true), _) | (_, Some(true)) => Val::Bool(true),
                    (Some(false), Some(false)) => Val::Bool(false),
                    _ => Val::Null,
                },
                op => compare(op, &a, &b),
            }
        }
        // Like SQL's CASE and COALESCE, only the branch taken is evaluated (an overflow in
        // the other one does not count).
        IrExpr::Call { func, args } if func == "if_else" || func == "coalesce" => {
            let arg = |i: usize| args.get(i).map_or(Val::Null, eval);
            if func == "if_else" {
                match truth(&arg(0)) {
                    Some(true) => arg(1),
                    _ => arg(2),
                }
            } else {
                match arg(0) {
                    Val::Null => arg(1),
                    x => x,
                }
            }
        }
        IrExpr::Call { func, args } => {
            let a: Vec<Val> = args.iter().map(eval).collect();
            let arg = |i: usize| a.get(i).cloned().unwrap_or(Val::Null);
            match Scalar::from_name(func) {
                Some(f) => scalar(f, &arg),
                // Aggregations and metrics never reach the online evaluator: the checker
                // allows them only in views and monitors.
                None => Val::Null,
            }
        }
        _ => Val::Null,
    }
}

/// One scalar function of already evaluated arguments. Exhaustive over the stdlib's scalars:
/// one without an online implementation does not compile.
fn scalar(f: Scalar, arg: &dyn Fn(usize) -> Val) -> Val {
    match f {
        // Evaluated lazily by the caller; here for exhaustiveness with the same meaning.
        Scalar::Coalesce => match arg(0) {
            Val::Null => arg(1),
            x => x,
        },
        Scalar::IfElse => match truth(&arg(0)) {
            Some(true) => arg(1),
            _ => arg(2),
        },
        Scalar::Abs => match arg(0) {
            Val::Int(i) => i.checked_abs().map_or(Val::Null, Val::Int),
            Val::Float(f) => Val::Float(f.abs()),
            _ => Val::Null,
        },
        Scalar::Round => float(&arg(0), |x| Some(x.signum() * (x.abs() + 0.5).floor())),
        Scalar::Floor => float(&arg(0), |x| Some(x.floor())),
        Scalar::Ceil => float(&arg(0), |x| Some(x.ceil())),
        Scalar::Ln => float(&arg(0), |x| (x > 0.0).then(|| x.ln())),
        Scalar::Sqrt => float(&arg(0), |x| (x >= 0.0).then(|| x.sqrt())),
        Scalar::Least | Scalar::Greatest => match (arg(0).num(), arg(1).num()) {
            (Some(x), Some(y)) => Val::Float(if f == Scalar::Least {
                x.min(y)
            } else {
                x.max(y)
            }),
            (Some(x), None) | (None, Some(x)) => Val::Float(x),
            (None, None) => Val::Null,
        },
        Scalar::Lower => match arg(0) {
            Val::Str(s) => Val::Str(s.to_lowercase()),
            _ => Val::Null,
        },
        Scalar::Upper => match arg(0) {
            Val::Str(s) => Val::Str(s.to_uppercase()),
            _ => Val::Null,
        },
        Scalar::Length => match arg(0) {
            Val::Str(s) => Val::Int(s.chars().count() as i64),
            _ => Val::Null,
        },
        Scalar::IsNull => Val::Bool(arg(0) == Val::Null),
        Scalar::ToFloat => float(&arg(0), Some),
        Scalar::Hour => match arg(0) {
            Val::Str(s) => parse_timestamp(&s).map_or(Val::Null, |t| Val::Int(i64::from(t.hour()))),
            _ => Val::Null,
        },
        Scalar::DayOfWeek => match arg(0) {
            Val::Str(s) => parse_timestamp(&s).map_or(Val::Null, |t| {
                Val::Int(i64::from(t.weekday().num_days_from_monday()))
            }),
            _ => Val::Null,
        },
    }
}

/// A timestamp as the runtime reads one, in UTC: RFC 3339 with `T` or a space between date
/// and time and an optional fraction (`2026-03-29T01:30:00+02:00`, `...Z`), the same without
/// an offset (naive, taken as UTC), or a date alone (midnight). DuckDB's cast of the same
/// text to TIMESTAMPTZ under `TimeZone = 'UTC'` gives the same instant; `None` for anything
/// else.
pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.naive_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}
