//! Compiling the plan IR's expressions to SQL: columns, literals, operators, the stdlib's
//! scalar functions and aggregations. One compiler, two dialects ([`Dialect`]): DuckDB's,
//! which the runtime runs, and Spark SQL's, for offline features on a Spark cluster; the
//! dialect decides only how a construct is spelled (quoting, casts, the 128-bit type,
//! intervals, functions named differently), never what it means. Semantics follow the
//! stdlib's documentation (and the online evaluator): division by zero and `ln`/`sqrt`
//! outside their domain give null, integer overflow gives null (computed in 128 bits, no
//! error), floats follow IEEE, `round` rounds halves away from zero.

use crate::ondemand::{kind_of, Kind};
use mlp_ir::{IrExpr, Literal, Scalar};

/// Why an expression cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot compile to SQL: {0}")]
pub struct SqlError(pub String);

/// The SQL dialect an expression is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// DuckDB, the embedded engine.
    #[default]
    DuckDb,
    /// Spark SQL (3.4 and later), with ANSI mode off and the session time zone UTC, as the
    /// Spark job sets them: an overflowing decimal is null there, as mlp's rules want.
    Spark,
}

impl Dialect {
    /// A quoted identifier.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// A quoted string literal.
    pub fn string(self, s: &str) -> String {
        match self {
            Dialect::DuckDb => format!("'{}'", s.replace('\'', "''")),
            // Spark reads backslash escapes in literals, and `''` as two literals.
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }

    /// `x` as type `ty` (a type name of this dialect).
    pub fn cast(self, x: &str, ty: &str) -> String {
        match self {
            Dialect::DuckDb => format!("({x})::{ty}"),
            Dialect::Spark => format!("CAST({x} AS {ty})"),
        }
    }

    /// The 128-bit integer type integer arithmetic is done in.
    fn wide(self) -> &'static str {
        match self {
            Dialect::DuckDb => "HUGEINT",
            Dialect::Spark => "DECIMAL(38,0)",
        }
    }

    /// The type a value of `t` has.
    pub fn type_name(self, t: mlp_ir::Type) -> &'static str {
        match (self, t) {
            (_, mlp_ir::Type::Int) => "BIGINT",
            (_, mlp_ir::Type::Float) => "DOUBLE",
            (_, mlp_ir::Type::Bool) => "BOOLEAN",
            (Dialect::DuckDb, mlp_ir::Type::String) => "VARCHAR",
            (Dialect::Spark, mlp_ir::Type::String) => "STRING",
            (_, mlp_ir::Type::Timestamp) => "TIMESTAMP",
        }
    }

    /// A duration of `ms` milliseconds, to add to or subtract from a timestamp.
    pub fn millis(self, ms: u64) -> String {
        let ms = ms.min(i64::MAX as u64 / 2);
        match self {
            Dialect::DuckDb => format!("to_milliseconds({ms}::BIGINT)"),
            // Days, then the rest in milliseconds: a day-time interval of any length.
            Dialect::Spark => format!(
                "make_dt_interval({}, 0, 0, {}.{:03})",
                ms / 86_400_000,
                ms % 86_400_000 / 1000,
                ms % 1000
            ),
        }
    }

    /// The time order of source rows (event time, then created time) as one comparable value.
    pub fn time_order(self, ts: &str, cr: Option<&str>) -> String {
        match (self, cr) {
            (_, None) => ts.to_string(),
            (Dialect::DuckDb, Some(cr)) => format!("struct_pack(t := {ts}, c := {cr})"),
            (Dialect::Spark, Some(cr)) => format!("named_struct('t', {ts}, 'c', {cr})"),
        }
    }

    /// The order of source rows for `first` and `last`, as one comparable value: event time,
    /// then created time, then the tie-break columns `ties` (each with nulls below every
    /// value), the order of the window index, so that rows that tie in time are resolved the
    /// same way by every plan and every engine.
    pub fn row_order(self, ts: &str, cr: Option<&str>, ties: &[String]) -> String {
        if ties.is_empty() {
            return self.time_order(ts, cr);
        }
        let mut fields = vec![("t".to_string(), ts.to_string())];
        fields.extend(cr.map(|c| ("c".to_string(), c.to_string())));
        for (i, x) in ties.iter().enumerate() {
            let pair = self.record(&[
                ("n".to_string(), format!("({x}) IS NOT NULL")),
                ("v".to_string(), x.clone()),
            ]);
            fields.push((format!("k{i}"), pair));
        }
        self.record(&fields)
    }

    /// A struct of named fields.
    fn record(self, fields: &[(String, String)]) -> String {
        let list = fields
            .iter()
            .map(|(n, x)| match self {
                Dialect::DuckDb => format!("{n} := {x}"),
                Dialect::Spark => format!("'{n}', {x}"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            Dialect::DuckDb => format!("struct_pack({list})"),
            Dialect::Spark => format!("named_struct({list})"),
        }
    }

    /// `x` of the row where `order` is largest (`last`), nulls of `x` included.
    fn arg_max(self, x: &str, order: &str) -> String {
        match self {
            Dialect::DuckDb => format!("arg_max_null({x}, {order})"),
            Dialect::Spark => format!("max_by({x}, {order})"),
        }
    }

    /// `x` of the row where `order` is smallest (`first`), nulls of `x` included.
    fn arg_min(self, x: &str, order: &str) -> String {
        match self {
            Dialect::DuckDb => format!("arg_min_null({x}, {order})"),
            Dialect::Spark => format!("min_by({x}, {order})"),
        }
    }

    /// `x` (a timestamp, or text with or without an offset) read as a UTC instant; null for
    /// text that is no timestamp.
    fn instant(self, x: &str) -> String {
        match self {
            Dialect::DuckDb => format!("TRY_CAST({x} AS TIMESTAMPTZ)"),
            Dialect::Spark => format!("try_cast({x} AS TIMESTAMP)"),
        }
    }
}

/// A quoted SQL identifier (DuckDB's).
pub fn ident(name: &str) -> String {
    Dialect::DuckDb.ident(name)
}

/// A quoted SQL string literal (DuckDB's).
pub fn string(s: &str) -> String {
    Dialect::DuckDb.string(s)
}

fn literal(d: Dialect, l: &Literal) -> String {
    match l {
        Literal::Int(i) => d.cast(&format!("({i})"), "BIGINT"),
        Literal::Float(f) if f.is_finite() => d.cast(&format!("({f:?})"), "DOUBLE"),
        Literal::Float(_) => d.cast("NULL", "DOUBLE"),
        Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Literal::String(s) => d.string(s),
        Literal::Null => "NULL".into(),
        Literal::DurationMs(ms) => match d {
            Dialect::DuckDb => format!("to_milliseconds({ms}::BIGINT)"),
            Dialect::Spark => d.millis(ms.max(0.0).round() as u64),
        },
        Literal::PerSecond(v) | Literal::Bytes(v) | Literal::Fraction(v) => {
            d.cast(&format!("{v:?}"), "DOUBLE")
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
    row_sql(Dialect::DuckDb, e, col, kind)
}

/// [`expr_to_sql`] in dialect `d`.
pub fn expr_to_sql_in(
    d: Dialect,
    e: &IrExpr,
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
) -> Result<String, SqlError> {
    row_sql(d, e, col, kind)
}

const I64_RANGE: &str = "BETWEEN -9223372036854775808 AND 9223372036854775807";

/// `x` computed in 128 bits, null when it does not fit a BIGINT.
fn checked(d: Dialect, x: &str) -> String {
    format!(
        "(CASE WHEN ({x}) {I64_RANGE} THEN {} ELSE NULL END)",
        d.cast(&format!("({x})"), "BIGINT")
    )
}

fn row_sql(
    d: Dialect,
    e: &IrExpr,
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
) -> Result<String, SqlError> {
    let int = |x: &IrExpr| kind_of(x, kind) == Kind::Int;
    let wide = |x: &str| d.cast(&format!("({x})"), d.wide());
    let double = |x: &str| d.cast(&format!("({x})"), "DOUBLE");
    Ok(match e {
        IrExpr::Literal { value } => literal(d, value),
        IrExpr::Column { name } => col(name),
        // On-demand features read the retrieved columns `view__feature` / `request__field`.
        IrExpr::Feature { view, feature } => col(&format!("{view}__{feature}")),
        IrExpr::Request { request, field } => col(&format!("{request}__{field}")),
        IrExpr::Unary { unop, expr } => {
            let x = row_sql(d, expr, col, kind)?;
            match unop.as_str() {
                "not" => format!("(NOT {x})"),
                // Negating the smallest integer overflows: null, like the online evaluator.
                _ if int(expr) => checked(d, &format!("-{}", wide(&x))),
                _ => format!("(-({x}))"),
            }
        }
        IrExpr::Binary { binop, lhs, rhs } => {
            let (a, b) = (row_sql(d, lhs, col, kind)?, row_sql(d, rhs, col, kind)?);
            match binop.as_str() {
                "+" | "-" | "*" if int(e) => {
                    checked(d, &format!("({} {binop} {})", wide(&a), wide(&b)))
                }
                "+" | "-" | "*" => format!("(({a}) {binop} ({b}))"),
                "/" => format!(
                    "(CASE WHEN ({b}) = 0 THEN NULL ELSE {} / {} END)",
                    double(&a),
                    double(&b)
                ),
                "==" => format!("(({a}) = ({b}))"),
                "!=" => format!("(({a}) <> ({b}))"),
                "<" | "<=" | ">" | ">=" => format!("(({a}) {binop} ({b}))"),
                "and" => format!("(({a}) AND ({b}))"),
                "or" => format!("(({a}) OR ({b}))"),
                other => return Err(SqlError(format!("operator `{other}`"))),
            }
        }
        IrExpr::Call { func, args } => scalar(d, func, args, col, kind)?,
        IrExpr::Star => return Err(SqlError("`*` outside count(*)".into())),
        other => return Err(SqlError(format!("{other:?} in a feature view expression"))),
    })
}

fn scalar(
    d: Dialect,
    func: &str,
    args: &[IrExpr],
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
) -> Result<String, SqlError> {
    let a: Vec<String> = args
        .iter()
        .map(|x| row_sql(d, x, col, kind))
        .collect::<Result<_, _>>()?;
    let double = |x: &str| d.cast(&format!("({x})"), "DOUBLE");
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
        Scalar::Abs if args.first().is_some_and(|x| kind_of(x, kind) == Kind::Int) => checked(
            d,
            &format!("abs({})", d.cast(&format!("({})", arg(0)?), d.wide())),
        ),
        Scalar::Abs => format!("abs({})", arg(0)?),
        Scalar::Round => {
            let x = double(&arg(0)?);
            // Spark's floor is a BIGINT: the result is kept a DOUBLE, as DuckDB's.
            let floor = double(&format!("floor(abs({x}) + 0.5)"));
            match d {
                Dialect::DuckDb => format!("(sign({x}) * floor(abs({x}) + 0.5))"),
                Dialect::Spark => format!("(signum({x}) * {floor})"),
            }
        }
        Scalar::Floor => match d {
            Dialect::DuckDb => format!("floor({})", double(&arg(0)?)),
            Dialect::Spark => double(&format!("floor({})", double(&arg(0)?))),
        },
        Scalar::Ceil => match d {
            Dialect::DuckDb => format!("ceil({})", double(&arg(0)?)),
            Dialect::Spark => double(&format!("ceil({})", double(&arg(0)?))),
        },
        Scalar::Ln => format!(
            "(CASE WHEN ({0}) > 0 THEN ln({1}) ELSE NULL END)",
            arg(0)?,
            double(&arg(0)?)
        ),
        Scalar::Sqrt => format!(
            "(CASE WHEN ({0}) >= 0 THEN sqrt({1}) ELSE NULL END)",
            arg(0)?,
            double(&arg(0)?)
        ),
        Scalar::Least => format!("least({}, {})", double(&arg(0)?), double(&arg(1)?)),
        Scalar::Greatest => format!("greatest({}, {})", double(&arg(0)?), double(&arg(1)?)),
        Scalar::Lower => format!("lower({})", arg(0)?),
        Scalar::Upper => format!("upper({})", arg(0)?),
        Scalar::Length => d.cast(&format!("length({})", arg(0)?), "BIGINT"),
        Scalar::IsNull => format!("(({}) IS NULL)", arg(0)?),
        Scalar::IfElse => format!(
            "(CASE WHEN {} THEN {} ELSE {} END)",
            arg(0)?,
            arg(1)?,
            arg(2)?
        ),
        // Through an instant, whatever the column's type (a naive TIMESTAMP, a TIMESTAMPTZ,
        // or text with or without an offset): every connection of the runtime sets
        // `TimeZone = 'UTC'` (and the Spark job its session time zone), so naive values are
        // UTC and offsets are converted to UTC, as the online evaluator does
        // (`ondemand::parse_timestamp`). Text that is no timestamp is null on both sides.
        Scalar::Hour => d.cast(&format!("hour({})", d.instant(&arg(0)?)), "BIGINT"),
        Scalar::DayOfWeek => match d {
            Dialect::DuckDb => d.cast(&format!("(isodow({}) - 1)", d.instant(&arg(0)?)), "BIGINT"),
            // dayofweek: 1 is Sunday; Monday is 0 in mlp.
            Dialect::Spark => d.cast(
                &format!("((dayofweek({}) + 5) % 7)", d.instant(&arg(0)?)),
                "BIGINT",
            ),
        },
        Scalar::ToFloat => double(&arg(0)?),
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
    aggregate_to_sql_in(Dialect::DuckDb, e, col, kind, order)
}

/// [`aggregate_to_sql`] in dialect `d`.
pub fn aggregate_to_sql_in(
    d: Dialect,
    e: &IrExpr,
    col: ColumnFn<'_>,
    kind: KindFn<'_>,
    order: &str,
) -> Result<String, SqlError> {
    let double = |x: &str| d.cast(&format!("({x})"), "DOUBLE");
    let IrExpr::Call { func, args } = e else {
        return Err(SqlError(
            "an aggregate feature must be an aggregation call".into(),
        ));
    };
    let arg = |i: usize| -> Result<String, SqlError> {
        match args.get(i) {
            Some(IrExpr::Star) => Ok("*".into()),
            Some(x) => row_sql(d, x, col, kind),
            None => Err(SqlError(format!("`{func}` lacks an argument"))),
        }
    };
    Ok(match func.as_str() {
        "count" => format!("count({})", arg(0)?),
        "count_distinct" => format!("count(DISTINCT {})", arg(0)?),
        // Spark's sum of BIGINTs wraps around on overflow; in 38 digits it cannot, and the
        // feature's cast to BIGINT then gives null (ANSI off) where DuckDB's raises.
        "sum"
            if d == Dialect::Spark
                && args.first().is_some_and(|x| kind_of(x, kind) == Kind::Int) =>
        {
            format!("sum({})", d.cast(&format!("({})", arg(0)?), d.wide()))
        }
        "sum" => format!("sum({})", arg(0)?),
        "avg" => format!("avg({})", double(&arg(0)?)),
        "min" => format!("min({})", arg(0)?),
        "max" => format!("max({})", arg(0)?),
        "first" => d.arg_min(&arg(0)?, order),
        "last" => d.arg_max(&arg(0)?, order),
        "stddev" => format!("stddev_samp({})", double(&arg(0)?)),
        "variance" => format!("var_samp({})", double(&arg(0)?)),
        "median" => format!("median({})", double(&arg(0)?)),
        other => return Err(SqlError(format!("aggregation `{other}`"))),
    })
}
