//! The aggregations of the merge: over the visible rows of one entity row's window in an
//! index batch, with the SQL plan's semantics (see the module above), into columns of
//! results.

use super::{Agg, ArgType, Func};
use crate::historical::FeatureError;
use duckdb::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use mlp_ir::Type;
use std::cmp::Ordering;
use std::sync::Arc;

/// An argument column of one index batch.
pub(super) enum ArgCol<'a> {
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Bool(&'a BooleanArray),
    Str(&'a StringArray),
}

impl<'a> ArgCol<'a> {
    pub(super) fn of(a: &'a dyn Array, t: ArgType) -> Result<ArgCol<'a>, FeatureError> {
        let any = a.as_any();
        let col = match t {
            ArgType::Int => any.downcast_ref().map(ArgCol::Int),
            ArgType::Float => any.downcast_ref().map(ArgCol::Float),
            ArgType::Bool => any.downcast_ref().map(ArgCol::Bool),
            ArgType::Str => any.downcast_ref().map(ArgCol::Str),
        };
        col.ok_or_else(|| {
            FeatureError::Db(format!(
                "window merge: an argument column of type {} where {t:?} was expected",
                a.data_type()
            ))
        })
    }
}

/// One aggregation's results, by sorted entity row.
pub(super) enum Out {
    Count(Vec<i64>),
    Int(Vec<Option<i64>>),
    Wide(Vec<Option<i128>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Out {
    pub(super) fn new(agg: &Agg, rows: usize) -> Out {
        match (agg.func, agg.arg_type) {
            (Func::CountStar | Func::Count | Func::CountDistinct, _) => Out::Count(vec![0; rows]),
            (Func::Sum, ArgType::Int) => Out::Wide(vec![None; rows]),
            (Func::Sum | Func::Avg, _) | (_, ArgType::Float) => Out::Float(vec![None; rows]),
            (_, ArgType::Int) => Out::Int(vec![None; rows]),
            (_, ArgType::Bool) => Out::Bool(vec![None; rows]),
            (_, ArgType::Str) => Out::Str(vec![None; rows]),
        }
    }

    /// The results as a column; an integer sum past 64 bits is an error for an `int`
    /// feature (as DuckDB's cast is) and a float for a `float` one.
    pub(super) fn finish(self, agg: &Agg) -> Result<ArrayRef, FeatureError> {
        Ok(match self {
            Out::Count(v) => Arc::new(Int64Array::from(v)),
            Out::Int(v) => Arc::new(Int64Array::from(v)),
            Out::Float(v) => Arc::new(Float64Array::from(v)),
            Out::Bool(v) => Arc::new(BooleanArray::from(v)),
            Out::Str(v) => Arc::new(StringArray::from(v)),
            Out::Wide(v) if agg.out == Type::Float => Arc::new(
                v.into_iter()
                    .map(|x| x.map(|x| x as f64))
                    .collect::<Float64Array>(),
            ),
            Out::Wide(v) => {
                let mut out = Vec::with_capacity(v.len());
                for x in v {
                    out.push(match x {
                        Some(x) => Some(i64::try_from(x).map_err(|_| {
                            FeatureError::Db(format!(
                                "feature `{}`: the sum {x} does not fit a 64-bit integer",
                                agg.label
                            ))
                        })?),
                        None => None,
                    });
                }
                Arc::new(Int64Array::from(out))
            }
        })
    }

    /// Its positions `from..to`, writable apart from the others.
    pub(super) fn view(&mut self, from: usize, to: usize) -> OutMut<'_> {
        match self {
            Out::Count(v) => OutMut::Count(&mut v[from..to]),
            Out::Int(v) => OutMut::Int(&mut v[from..to]),
            Out::Wide(v) => OutMut::Wide(&mut v[from..to]),
            Out::Float(v) => OutMut::Float(&mut v[from..to]),
            Out::Bool(v) => OutMut::Bool(&mut v[from..to]),
            Out::Str(v) => OutMut::Str(&mut v[from..to]),
        }
    }
}

/// Part of one aggregation's results, written by one worker.
pub(super) enum OutMut<'a> {
    Count(&'a mut [i64]),
    Int(&'a mut [Option<i64>]),
    Wide(&'a mut [Option<i128>]),
    Float(&'a mut [Option<f64>]),
    Bool(&'a mut [Option<bool>]),
    Str(&'a mut [Option<String>]),
}

impl OutMut<'_> {
    /// Splits off the positions before `at` (relative), leaving the rest in `self`.
    pub(super) fn split_off_front(&mut self, at: usize) -> Self {
        fn cut<'b, T>(v: &mut &'b mut [T], at: usize) -> &'b mut [T] {
            let (a, b) = std::mem::take(v).split_at_mut(at);
            *v = b;
            a
        }
        match self {
            OutMut::Count(v) => OutMut::Count(cut(v, at)),
            OutMut::Int(v) => OutMut::Int(cut(v, at)),
            OutMut::Wide(v) => OutMut::Wide(cut(v, at)),
            OutMut::Float(v) => OutMut::Float(cut(v, at)),
            OutMut::Bool(v) => OutMut::Bool(cut(v, at)),
            OutMut::Str(v) => OutMut::Str(cut(v, at)),
        }
    }
}

/// Float order with NaN above every number.
fn nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The extreme of the non-null values at `rows` (the first of equals): the largest when
/// `want` is Greater, the smallest when Less.
fn extreme<T: Copy>(
    rows: &[usize],
    get: impl Fn(usize) -> Option<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
    want: Ordering,
) -> Option<T> {
    let mut best: Option<T> = None;
    for &q in rows {
        if let Some(v) = get(q) {
            if best.as_ref().is_none_or(|b| cmp(&v, b) == want) {
                best = Some(v);
            }
        }
    }
    best
}

/// The values at `rows` that are not null.
fn non_null<T>(rows: &[usize], valid: impl Fn(usize) -> bool, get: impl Fn(usize) -> T) -> Vec<T> {
    rows.iter()
        .filter(|&&q| valid(q))
        .map(|&q| get(q))
        .collect()
}

/// Distinct count of `vals` (sorted and deduplicated in place).
fn distinct<T: Ord>(vals: &mut Vec<T>) -> i64 {
    vals.sort_unstable();
    vals.dedup();
    vals.len() as i64
}

/// The number of distinct non-null values of `a` among `rows`.
fn count_distinct(rows: &[usize], a: &ArgCol<'_>) -> i64 {
    match a {
        ArgCol::Int(a) => distinct(&mut non_null(rows, |q| a.is_valid(q), |q| a.value(q))),
        // -0.0 is 0.0 and every NaN one value, as DuckDB's DISTINCT.
        ArgCol::Float(a) => distinct(&mut non_null(
            rows,
            |q| a.is_valid(q),
            |q| {
                let x = a.value(q);
                if x == 0.0 {
                    0
                } else if x.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    x.to_bits()
                }
            },
        )),
        ArgCol::Bool(a) => distinct(&mut non_null(rows, |q| a.is_valid(q), |q| a.value(q))),
        ArgCol::Str(a) => distinct(&mut non_null(
            rows,
            |q| a.is_valid(q),
            |q| a.value(q).as_bytes(),
        )),
    }
}

/// The least (`want` Less) or greatest (`want` Greater) non-null value of `a` among `rows`
/// into `out[row]`.
fn min_max(out: &mut OutMut<'_>, row: usize, rows: &[usize], a: &ArgCol<'_>, want: Ordering) {
    match (out, a) {
        (OutMut::Int(v), ArgCol::Int(a)) => {
            v[row] = extreme(rows, |q| a.is_valid(q).then(|| a.value(q)), Ord::cmp, want);
        }
        (OutMut::Float(v), ArgCol::Float(a)) => {
            v[row] = extreme(
                rows,
                |q| a.is_valid(q).then(|| a.value(q)),
                |x, y| nan_last(*x, *y),
                want,
            );
        }
        (OutMut::Bool(v), ArgCol::Bool(a)) => {
            v[row] = extreme(rows, |q| a.is_valid(q).then(|| a.value(q)), Ord::cmp, want);
        }
        (OutMut::Str(v), ArgCol::Str(a)) => {
            v[row] = extreme(
                rows,
                |q| a.is_valid(q).then(|| a.value(q)),
                |x, y| x.as_bytes().cmp(y.as_bytes()),
                want,
            )
            .map(str::to_string);
        }
        _ => {}
    }
}

/// The value of `a` in row `q` (null where it is null) into `out[row]`.
fn value_at(out: &mut OutMut<'_>, row: usize, q: usize, a: &ArgCol<'_>) {
    match (out, a) {
        (OutMut::Int(v), ArgCol::Int(a)) => v[row] = a.is_valid(q).then(|| a.value(q)),
        (OutMut::Float(v), ArgCol::Float(a)) => v[row] = a.is_valid(q).then(|| a.value(q)),
        (OutMut::Bool(v), ArgCol::Bool(a)) => v[row] = a.is_valid(q).then(|| a.value(q)),
        (OutMut::Str(v), ArgCol::Str(a)) => v[row] = a.is_valid(q).then(|| a.value(q).to_string()),
        _ => {}
    }
}

/// Computes `agg` over the visible rows `rows` of an index batch into `out[row]`.
pub(super) fn update(
    agg: &Agg,
    out: &mut OutMut<'_>,
    row: usize,
    rows: &[usize],
    arg: Option<&ArgCol<'_>>,
) {
    match (agg.func, out, arg) {
        (Func::CountStar, OutMut::Count(v), _) => v[row] = rows.len() as i64,
        (Func::Count, OutMut::Count(v), Some(ArgCol::Bool(a))) => {
            v[row] = rows
                .iter()
                .filter(|&&q| a.is_valid(q) && a.value(q))
                .count() as i64;
        }
        (Func::CountDistinct, OutMut::Count(v), Some(a)) => v[row] = count_distinct(rows, a),
        (Func::Sum, OutMut::Wide(v), Some(ArgCol::Int(a))) => {
            let mut sum: Option<i128> = None;
            for &q in rows {
                if a.is_valid(q) {
                    sum = Some(sum.unwrap_or(0) + i128::from(a.value(q)));
                }
            }
            v[row] = sum;
        }
        (Func::Sum | Func::Avg, OutMut::Float(v), Some(ArgCol::Float(a))) => {
            let (mut sum, mut n) = (0.0f64, 0usize);
            for &q in rows {
                if a.is_valid(q) {
                    sum += a.value(q);
                    n += 1;
                }
            }
            v[row] = match (n, agg.func) {
                (0, _) => None,
                (_, Func::Avg) => Some(sum / n as f64),
                _ => Some(sum),
            };
        }
        (Func::Min | Func::Max, out, Some(a)) => {
            let want = if agg.func == Func::Max {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            min_max(out, row, rows, a, want);
        }
        (Func::First | Func::Last, out, Some(a)) => {
            let pick = if agg.func == Func::First {
                rows.first()
            } else {
                rows.last()
            };
            if let Some(&q) = pick {
                value_at(out, row, q, a);
            }
        }
        _ => {}
    }
}
