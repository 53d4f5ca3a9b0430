//! Windowed aggregations without the fan-out: a view's aggregations (`count`, `sum`, `avg`,
//! `min`, `max`, `count_distinct`, `first`, `last`, each over a window or over all history)
//! computed by one merge of the entity rows against the view's window index, instead of a join
//! of every entity row to every source row of its key.
//!
//! The window index ([`index`]) holds the source's rows sorted by (key, event time, created
//! time, the documented tie-break), each with its visibility time and the values the
//! aggregations read (their argument expressions, evaluated by DuckDB when the index is
//! built). It is an Arrow IPC file under `.mlp/pit/`, named like the point-in-time index by a
//! hash of what it was built from (so a change to the source's files is never read through a
//! stale one), plus the view's aggregation arguments.
//!
//! A retrieval ([`merge`]) sorts the entity rows by key and walks them together with
//! the index, batch by batch: for a request at `t` with window `w`, the rows of its key with
//! `t - w < event_ts <= t` are a contiguous run (found by binary search), and of those the
//! ones visible at `t` (`max(event_ts, created_ts) <= t`) are aggregated. Cost: O(E log E)
//! for the sort, one sequential pass over the index, and per entity row O(log R + W) where R
//! is its key's rows and W the rows in its window (the join plan costs O(R) per entity row,
//! however small the window). The results reach the retrieval's SQL as a table function
//! over Arrow arrays ([`results`]), one row per entity row in row order, joined by position
//! (the entity table holds its rows in row-number order).
//!
//! Semantics are the SQL plan's (sql.rs): `count(*)` counts the visible rows in the window,
//! `count(x)` the non-null values, `count_distinct(x)` the distinct non-null values (for
//! floats -0.0 equals 0.0 and NaNs are one value); `sum` of integers is exact (128 bits; a
//! total past 64 bits is an error for an `int` feature, as in DuckDB), `sum` and `avg` of
//! floats add in event-time order; `min` and `max` order NaN above every number; `first` and
//! `last` are the value (possibly null) of the earliest and latest visible row in the window,
//! full ties on (event, created) time going by the documented tie-break (the SQL plan left
//! those to chance). Aggregations outside this set (`stddev`, `variance`, `median`) and
//! arguments over timestamps keep the join plan for their whole view.

mod aggregate;
mod index;
mod merge;
mod results;

pub(crate) use results::{register_table_function, Registered};

use crate::feature_sql::{Ctes, Scan, Wanted};
use crate::historical::{sql_type, FeatureError};
use crate::ondemand::{kind_of, leaves, Kind};
use crate::sql::{expr_to_sql, ident};
use mlp_ir::{FeatureDef, IrExpr, Type};

/// An aggregation the merge computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// `count(*)`.
    CountStar,
    /// `count(x)`: its argument column holds whether `x` is not null.
    Count,
    /// `count_distinct(x)`.
    CountDistinct,
    /// `sum(x)`.
    Sum,
    /// `avg(x)` (its argument is a DOUBLE).
    Avg,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `first(x)`.
    First,
    /// `last(x)`.
    Last,
}

impl Func {
    /// The aggregation of a call, when the merge computes it.
    fn of(name: &str) -> Option<Func> {
        Some(match name {
            "count" => Func::Count,
            "count_distinct" => Func::CountDistinct,
            "sum" => Func::Sum,
            "avg" => Func::Avg,
            "min" => Func::Min,
            "max" => Func::Max,
            "first" => Func::First,
            "last" => Func::Last,
            _ => return None,
        })
    }
}

/// The type of an argument column of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgType {
    /// BIGINT.
    Int,
    /// DOUBLE.
    Float,
    /// BOOLEAN.
    Bool,
    /// VARCHAR.
    Str,
}

impl ArgType {
    fn sql(self) -> &'static str {
        match self {
            ArgType::Int => "BIGINT",
            ArgType::Float => "DOUBLE",
            ArgType::Bool => "BOOLEAN",
            ArgType::Str => "VARCHAR",
        }
    }
}

/// One aggregation of the view, as the merge computes it.
#[derive(Debug, Clone)]
pub(crate) struct Agg {
    /// What it computes.
    pub(crate) func: Func,
    /// The index of its argument column (`None` for `count(*)`).
    pub(crate) arg: Option<usize>,
    /// Its argument's type.
    pub(crate) arg_type: ArgType,
    /// Its window in microseconds (`None`: all history).
    pub(crate) window_us: Option<i64>,
    /// The feature's declared type.
    pub(crate) out: Type,
    /// `view.feature`, for errors.
    pub(crate) label: String,
}

/// The argument columns of a view's aggregations (SQL over the source row `s`, and type).
pub(crate) type Args = Vec<(String, ArgType)>;

/// How the entity's keys are compared: one integer key as itself, anything else as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// One key declared `int`: BIGINT.
    Int,
    /// Other keys: VARCHAR (several keys length-prefixed and joined, so that distinct tuples
    /// never meet).
    Str,
}

/// The key of the row `alias` as one comparable value, each key first cast to the entity's
/// declared type (the entity file and the source then compare as the join plan's `=` does).
pub(crate) fn key_sql(alias: &str, keys: &[mlp_ir::Column]) -> (String, KeyKind) {
    let typed =
        |k: &mlp_ir::Column| format!("CAST({alias}.{} AS {})", ident(&k.name), sql_type(k.ty));
    match keys {
        [k] if k.ty == Type::Int => (typed(k), KeyKind::Int),
        [k] => (format!("CAST({} AS VARCHAR)", typed(k)), KeyKind::Str),
        _ => {
            let parts = keys
                .iter()
                .map(|k| {
                    let x = format!("CAST({} AS VARCHAR)", typed(k));
                    format!("CAST(length({x}) AS VARCHAR), ':', {x}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            (format!("concat({parts})"), KeyKind::Str)
        }
    }
}

/// A view's aggregations for the merge, or `None` when one of them needs the join plan
/// (an aggregation outside the merge's set, an argument over a timestamp or of no type).
pub(crate) fn wanted_to_aggs(scan: &Scan<'_>, wanted: &[Wanted<'_>]) -> Option<(Vec<Agg>, Args)> {
    let mut aggs = Vec::new();
    let mut args: Args = Vec::new();
    for w in wanted {
        let FeatureDef::Aggregate { expr, window_ms } = w.def else {
            continue;
        };
        let IrExpr::Call {
            func,
            args: call_args,
        } = expr
        else {
            return None;
        };
        let window_us = match window_ms {
            Some(ms) => Some(i64::try_from(*ms).ok()?.checked_mul(1000)?),
            None => None,
        };
        let label = format!("{}.{}", w.view, w.name);
        let (func, arg) = match (Func::of(func)?, call_args.as_slice()) {
            (Func::Count, [IrExpr::Star]) => (Func::CountStar, None),
            (f, [x]) if !matches!(x, IrExpr::Star) => (f, Some(x)),
            _ => return None,
        };
        let Some(x) = arg else {
            aggs.push(Agg {
                func,
                arg: None,
                arg_type: ArgType::Int,
                window_us,
                out: w.ty,
                label,
            });
            continue;
        };
        let over_timestamp = leaves(x).into_iter().any(|l| {
            matches!(l, IrExpr::Column { name } if scan.schema().iter().any(|c| &c.name == name && c.ty == Type::Timestamp))
        });
        if over_timestamp {
            return None;
        }
        let kind = kind_of(x, &|e| scan.kind(e));
        let value = expr_to_sql(x, &|c| format!("s.{}", ident(c)), &|e| scan.kind(e)).ok()?;
        let (sql, arg_type) = match (func, kind) {
            (Func::Count, _) => (format!("(({value}) IS NOT NULL)"), ArgType::Bool),
            (Func::Avg, Kind::Int | Kind::Float) => (value, ArgType::Float),
            (Func::Sum, Kind::Int) => (value, ArgType::Int),
            (Func::Sum, Kind::Float) => (value, ArgType::Float),
            (Func::Sum | Func::Avg, _) => return None,
            (_, Kind::Int) => (value, ArgType::Int),
            (_, Kind::Float) => (value, ArgType::Float),
            (_, Kind::Bool) => (value, ArgType::Bool),
            (_, Kind::Str) => (value, ArgType::Str),
            (_, Kind::Null) => return None,
        };
        let sql = format!("CAST({sql} AS {})", arg_type.sql());
        let at = match args.iter().position(|a| a.0 == sql) {
            Some(i) => i,
            None => {
                args.push((sql, arg_type));
                args.len() - 1
            }
        };
        aggs.push(Agg {
            func,
            arg: Some(at),
            arg_type,
            window_us,
            out: w.ty,
            label,
        });
    }
    (!aggs.is_empty()).then_some((aggs, args))
}

/// Computes a view's aggregations by the merge when it can (the index enabled, every
/// aggregation in the merge's set, and the window index current or built as `scan` says),
/// adding their join and selects to `out`. Returns false when the join plan must do it.
pub(crate) fn windows_by_merge(
    scan: &Scan<'_>,
    wanted: &[Wanted<'_>],
    conn: &duckdb::Connection,
    out: &mut Ctes,
) -> Result<bool, FeatureError> {
    if !crate::pit::enabled() {
        return Ok(false);
    }
    let Some((aggs, args)) = wanted_to_aggs(scan, wanted) else {
        return Ok(false);
    };
    let Some(file) = index::window_index(conn, scan, &args)? else {
        return Ok(false);
    };
    let (key, kind) = key_sql("e", scan.key_columns());
    let entities = merge::entities(conn, &key, kind, scan.key_columns())?;
    let batch = merge::merge(&file.path, &entities, &aggs)?;
    let name = format!("__v{}_win", scan.index());
    let table = results::register(batch, &mut out.keep);
    out.positional
        .push(format!("POSITIONAL JOIN {table} {name}"));
    let windowed = wanted
        .iter()
        .filter(|w| matches!(w.def, FeatureDef::Aggregate { .. }));
    for (i, w) in windowed.enumerate() {
        out.selects.push((
            scan.view().to_string(),
            w.name.clone(),
            format!("{name}.{}", ident(&format!("a{i}"))),
        ));
    }
    Ok(true)
}
