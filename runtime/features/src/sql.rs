//! Compiling the plan IR's expressions to DuckDB SQL: columns, literals, operators, the
//! stdlib's scalar functions and aggregations. Semantics follow the stdlib's documentation
//! (and the online evaluator): division by zero and `ln`/`sqrt` outside their domain give
//! null, integer overflow gives null (computed in 128 bits, no error), floats follow IEEE,
//! `round` rounds halves away from zero.

use crate::ondemand::{kind_of, Kind};
use mlp_ir::{IrExpr, Literal, Scalar};

/// Why an expression cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot compile to SQL: {0}")]
pub struct SqlError(pub String);

/// A quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
pub fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Int(i) => format!("({i})::BIGINT"),
        Literal::Float(f) if f.is_finite() => format!("({f:?})::DOUBLE"),
        Literal::Float(_) => "NULL::DOUBLE".into(),
        Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Literal::String(s) => string(s),
        Literal::Null => "NULL".into(),
        Literal::DurationMs(ms) => format!("to_milliseconds({ms}::BIGINT)"),
        Literal::PerSecond(v) | Literal::Bytes(v) | Literal::Fraction(v) => {
            format!("{v:?}::DOUBLE")
        }
    }
}

/// How a column reference is written (e.g. `s."amount"`).
pub type ColumnFn<'a> = &'a dyn Fn(&str) -> String;

/// The static type of a leaf (column, feature or request field).
pub type KindFn<'a> = &'a dyn Fn(&IrExpr) -> Kind;

/// Compiles a row-level expression (no aggregation); `kind` gives the types of its leaves.
/// Integer arithmetic is done in 128 bits and a result outside 64 bits is null (DuckDB would
/// raise an error), as in the online evaluator; floats follow IEEE.
pub fn expr_to_sql(e: &IrExpr, col: ColumnFn<'_>, kind: KindFn<'_>) -> Result<String, SqlError> {
    row_sql(e, col, kind)
}

const I64_RANGE: &str = "BETWEEN -9223372036854775808 AND 9223372036854775807";

/// `x` computed in HUGEINT, null when it does not fit a BIGINT.
fn checked(x: &str) -> String {
    format!("(CASE WHEN ({x}) {I64_RANGE} THEN ({x})::BIGINT ELSE NULL END)")
}

fn row_sql(e: &IrExpr, col: ColumnFn<'_>, kind: KindFn<'_>) -> Result<String, SqlError> {
    let int = |x: &IrExpr| kind_of(x, kind) == Kind::Int;
    Ok(match e {
        IrExpr::Literal { value } => literal(value),
        IrExpr::Column { name } => col(name),
        // On-demand features read the retrieved columns `view__feature` / `request__field`.
        IrExpr::Feature { view, feature } => col(&format!("{view}__{feature}")),
        IrExpr::Request { request, field } => col(&format!("{request}__{field}")),
        IrExpr::Unary { unop, expr } => {
            let x = row_sql(expr, col, kind)?;
            match unop.as_str() {
                "not" => format!("(NOT {x})"),
                // Negating the smallest integer overflows: null, like the online evaluator.
                _ if int(expr) => checked(&format!("-(({x})::HUGEINT)")),
                _ => format!("(-({x}))"),
            }
        }
        IrExpr::Binary { binop, lhs, rhs } => {
            let (a, b) = (row_sql(lhs, col, kind)?, row_sql(rhs, col, kind)?);
            match binop.as_str() {
                "+" | "-" | "*" if int(e) => {
                    checked(&format!("(({a})::HUGEINT {binop} ({b})::HUGEINT)"))
                }
                "+" | "-" | "*" => format!("(({a}) {binop} ({b}))"),
                "/" => format!(
                    "(CASE WHEN ({b}) = 0 THEN NULL ELSE ({a})::DOUBLE / ({b})::DOUBLE END)"
                ),
                "==" => format!("(({a}) = ({b}))"),
                "!=" => format!("(({a}) <> ({b}))"),
                "<" | "<=" | ">" | ">=" => format!("(({a}) {binop} ({b}))"),
                "and" => format!("(({a}) AND ({b}))"),
                "or" => format!("(({a}) OR ({b}))"),
                other => return Err(SqlError(format!("operator `{other}`"))),
            }
        }
        IrExpr::Call { func, args } => scalar(func, args, col, kind)?,
        IrExpr::Star => return Err(SqlError("`*` outside count(*)".into())),
        other => return Err(SqlError(format!("{other:?} in a feature view expression"))),
    })
}

fn scalar(
    func: &str,
    args: &[IrExpr],
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
) -> Result<String, SqlError> {
    let a: Vec<String> = args
        .iter()
        .map(|x| row_sql(x, col, kind))
        .collect::<Result<_, _>>()?;
    let arg = |i: usize| {
        a.get(i)
            .cloned()
            .ok_or_else(|| SqlError(format!("`{func}` lacks argument {}", i + 1)))
    };
    let Some(f) = Scalar::from_name(func) else {
        return Err(SqlError(format!("function `{func}` in a row expression")));
    };
    // Exhaustive: a scalar added to the language without SQL does not compile.
    Ok(match f {
        Scalar::Coalesce => format!("coalesce({}, {})", arg(0)?, arg(1)?),
        Scalar::Abs if args.first().is_some_and(|x| kind_of(x, kind) == Kind::Int) => {
            checked(&format!("abs(({})::HUGEINT)", arg(0)?))
        }
        Scalar::Abs => format!("abs({})", arg(0)?),
        Scalar::Round => format!(
            "(sign(({0})::DOUBLE) * floor(abs(({0})::DOUBLE) + 0.5))",
            arg(0)?
        ),
        Scalar::Floor => format!("floor(({})::DOUBLE)", arg(0)?),
        Scalar::Ceil => format!("ceil(({})::DOUBLE)", arg(0)?),
        Scalar::Ln => format!(
            "(CASE WHEN ({0}) > 0 THEN ln(({0})::DOUBLE) ELSE NULL END)",
            arg(0)?
        ),
        Scalar::Sqrt => format!(
            "(CASE WHEN ({0}) >= 0 THEN sqrt(({0})::DOUBLE) ELSE NULL END)",
            arg(0)?
        ),
        Scalar::Least => format!("least(({})::DOUBLE, ({})::DOUBLE)", arg(0)?, arg(1)?),
        Scalar::Greatest => format!("greatest(({})::DOUBLE, ({})::DOUBLE)", arg(0)?, arg(1)?),
        Scalar::Lower => format!("lower({})", arg(0)?),
        Scalar::Upper => format!("upper({})", arg(0)?),
        Scalar::Length => format!("length({})::BIGINT", arg(0)?),
        Scalar::IsNull => format!("(({}) IS NULL)", arg(0)?),
        Scalar::IfElse => format!(
            "(CASE WHEN {} THEN {} ELSE {} END)",
            arg(0)?,
            arg(1)?,
            arg(2)?
        ),
        // Through TIMESTAMPTZ, whatever the column's type (a naive TIMESTAMP, a TIMESTAMPTZ,
        // or text with or without an offset): every connection of the runtime sets
        // `TimeZone = 'UTC'`, so naive values are UTC and offsets are converted to UTC, as
        // the online evaluator does (`ondemand::parse_timestamp`). Text that is no
        // timestamp is null on both sides.
        Scalar::Hour => format!("hour(TRY_CAST({} AS TIMESTAMPTZ))::BIGINT", arg(0)?),
        Scalar::DayOfWeek => format!(
            "((isodow(TRY_CAST({} AS TIMESTAMPTZ)) - 1))::BIGINT",
            arg(0)?
        ),
        Scalar::ToFloat => format!("({})::DOUBLE", arg(0)?),
    })
}

/// Compiles an aggregation over the rows of a window. `order` is the SQL that orders rows in
/// time (event time, then created time) for `first` and `last`.
pub fn aggregate_to_sql(
    e: &IrExpr,
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
    order: &str,
) -> Result<String, SqlError> {
    let IrExpr::Call { func, args } = e else {
        return Err(SqlError(
            "an aggregate feature must be an aggregation call".into(),
        ));
    };
    let arg = |i: usize| -> Result<String, SqlError> {
        match args.get(i) {
            Some(IrExpr::Star) => Ok("*".into()),
            Some(x) => expr_to_sql(x, col, kind),
            None => Err(SqlError(format!("`{func}` lacks an argument"))),
        }
    };
    Ok(match func.as_str() {
        "count" => format!("count({})", arg(0)?),
        "count_distinct" => format!("count(DISTINCT {})", arg(0)?),
        "sum" => format!("sum({})", arg(0)?),
        "avg" => format!("avg(({})::DOUBLE)", arg(0)?),
        "min" => format!("min({})", arg(0)?),
        "max" => format!("max({})", arg(0)?),
        "first" => format!("arg_min_null({}, {order})", arg(0)?),
        "last" => format!("arg_max_null({}, {order})", arg(0)?),
        "stddev" => format!("stddev_samp(({})::DOUBLE)", arg(0)?),
        "variance" => format!("var_samp(({})::DOUBLE)", arg(0)?),
        "median" => format!("median(({})::DOUBLE)", arg(0)?),
        other => return Err(SqlError(format!("aggregation `{other}`"))),
    })
}
