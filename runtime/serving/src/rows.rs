//! A graph's rows of outputs: a model's answer put in place with its derived outputs
//! computed (`expand_rows`), the route conditions and derived outputs evaluated over a row
//! (`evaluate`, the on-demand evaluator, so a vector's element `probs[1]` reads like any
//! output), and the `combine` methods that merge members' rows cell by cell.

use crate::error::{LoadError, ServingError};
use mlp_features::ondemand::{self, Kind, Val};
use mlp_ir::{Column, IrExpr, Type};

/// How a `combine` node merges its members' outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The arithmetic mean.
    Mean,
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// `sum(w * x) / sum(w)`.
    Weighted,
    /// The value most members give; a tie goes to the value of the earliest member among
    /// the tied ones.
    Vote,
}

impl Method {
    /// The method a `combine` names (the stdlib's combiners).
    pub fn parse(s: &str) -> Result<Method, LoadError> {
        Ok(match s {
            "mean" => Method::Mean,
            "max" => Method::Max,
            "min" => Method::Min,
            "weighted" => Method::Weighted,
            "vote" => Method::Vote,
            other => return Err(LoadError::UnknownCombine(other.to_string())),
        })
    }
}

/// `n` rows of `outputs` from `raw`, the values a model returned: each returned value in its
/// place (`returned`), then each derived output computed from the row.
pub(crate) fn expand_rows(
    outputs: &[Column],
    returned: &[usize],
    derived: &[(usize, IrExpr)],
    raw: Vec<f32>,
    n: usize,
) -> Vec<f32> {
    let k = mlp_ir::row_width(outputs).max(1);
    if derived.is_empty() && returned.len() == k {
        // Every output is returned, in order: the answer is already the rows.
        return raw;
    }
    let r = returned.len().max(1);
    let mut out = vec![0.0; n * k];
    for i in 0..n {
        let row = &mut out[i * k..(i + 1) * k];
        for (j, &at) in returned.iter().enumerate() {
            row[at] = raw.get(i * r + j).copied().unwrap_or(f32::NAN);
        }
        for (at, e) in derived {
            row[*at] = number(&evaluate(e, outputs, row));
        }
    }
    out
}

/// Whether a route's condition holds for one row of the router's outputs; a condition that
/// is null (an output that is not a number) does not hold.
pub(crate) fn condition(when: &IrExpr, outputs: &[Column], row: &[f32]) -> bool {
    evaluate(when, outputs, row) == Val::Bool(true)
}

/// `e` over one row of `outputs` (a route's condition, a derived output): an output, or
/// an element of a vector output (`probs[1]`), by its type; a value that is not a number
/// is null.
fn evaluate(e: &IrExpr, outputs: &[Column], row: &[f32]) -> Val {
    let find = |e: &IrExpr| -> Option<(usize, Type)> {
        let IrExpr::Output { name, index } = e else {
            return None;
        };
        let at = mlp_ir::cell_of(outputs, name, *index)?;
        let ty = outputs.iter().find(|c| &c.name == name)?.ty;
        Some((at, ty))
    };
    let value = |e: &IrExpr| -> Val {
        let Some((j, ty)) = find(e) else {
            return Val::Null;
        };
        let x = row[j];
        match ty {
            Type::Bool => Val::Bool(x != 0.0),
            Type::Int => Val::Int(x.round() as i64),
            _ if x.is_finite() => Val::Float(f64::from(x)),
            _ => Val::Null,
        }
    };
    let kind = |e: &IrExpr| -> Kind { find(e).map_or(Kind::Null, |(_, t)| Kind::of(t)) };
    ondemand::eval(e, &value, &kind)
}

/// A derived output's value in a row of outputs: a number, a boolean as 0/1, null as NaN.
fn number(v: &Val) -> f32 {
    match v {
        Val::Float(x) => *x as f32,
        Val::Int(i) => *i as f32,
        Val::Bool(b) => f32::from(u8::from(*b)),
        _ => f32::NAN,
    }
}

/// Merges the members' answers (each row-major, same shape) cell by cell.
pub fn combine(
    method: Method,
    weights: &[f64],
    results: &[Vec<f32>],
) -> Result<Vec<f32>, ServingError> {
    let Some(first) = results.first() else {
        return Ok(Vec::new());
    };
    if let Some(r) = results.iter().find(|r| r.len() != first.len()) {
        return Err(ServingError::Graph(format!(
            "combined models answered {} and {} values for the same rows",
            first.len(),
            r.len()
        )));
    }
    let total: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(first.len());
    for c in 0..first.len() {
        let cell = results.iter().map(|r| r[c]);
        out.push(match method {
            Method::Mean => (cell.map(f64::from).sum::<f64>() / results.len() as f64) as f32,
            Method::Max => cell.fold(f32::NEG_INFINITY, f32::max),
            Method::Min => cell.fold(f32::INFINITY, f32::min),
            Method::Weighted => {
                let s: f64 = cell.zip(weights).map(|(x, w)| f64::from(x) * w).sum();
                if total == 0.0 {
                    return Err(ServingError::Graph("the weights sum to 0".into()));
                }
                (s / total) as f32
            }
            Method::Vote => {
                let votes: Vec<f32> = cell.collect();
                let mut best = votes[0];
                let mut best_count = 0;
                for &v in &votes {
                    let count = votes.iter().filter(|&&x| x == v).count();
                    if count > best_count {
                        best = v;
                        best_count = count;
                    }
                }
                best
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn combiners_merge_cell_by_cell() {
        let r = vec![vec![0.2, 1.0], vec![0.4, 3.0], vec![0.9, 2.0]];
        let mean = combine(Method::Mean, &[], &r).unwrap();
        assert!((mean[0] - 0.5).abs() < 1e-6 && (mean[1] - 2.0).abs() < 1e-6);
        assert_eq!(combine(Method::Max, &[], &r).unwrap(), vec![0.9, 3.0]);
        assert_eq!(combine(Method::Min, &[], &r).unwrap(), vec![0.2, 1.0]);
        let w = combine(Method::Weighted, &[1.0, 1.0, 2.0], &r).unwrap();
        assert!((w[0] - (0.2 + 0.4 + 1.8) / 4.0).abs() < 1e-6);
        assert!((w[1] - (1.0 + 3.0 + 4.0) / 4.0).abs() < 1e-6);
        assert!(combine(Method::Weighted, &[0.0, 0.0, 0.0], &r).is_err());
    }

    #[test]
    fn vote_takes_the_majority_and_breaks_ties_by_member_order() {
        let r = vec![
            vec![1.0, 0.0, 2.0],
            vec![0.0, 0.0, 3.0],
            vec![1.0, 1.0, 4.0],
        ];
        assert_eq!(combine(Method::Vote, &[], &r).unwrap(), vec![1.0, 0.0, 2.0]);
        assert!(combine(Method::Vote, &[], &[vec![1.0], vec![1.0, 2.0]]).is_err());
    }

    #[test]
    fn derived_outputs_are_computed_in_their_places_from_the_returned_ones() {
        let vector = |name: &str, k| Column {
            name: name.into(),
            ty: Type::Float,
            width: Some(k),
        };
        // Declared: p (derived, first), probs[3], flag (derived), s.
        let outputs = vec![
            Column::scalar("p", Type::Float),
            vector("probs", 3),
            Column::scalar("flag", Type::Bool),
            Column::scalar("s", Type::Float),
        ];
        let element = |i| IrExpr::Output {
            name: "probs".into(),
            index: Some(i),
        };
        let mut derived = BTreeMap::new();
        derived.insert("p".to_string(), element(1));
        derived.insert(
            "flag".to_string(),
            IrExpr::Binary {
                binop: ">".into(),
                lhs: Box::new(element(2)),
                rhs: Box::new(IrExpr::Output {
                    name: "s".into(),
                    index: None,
                }),
            },
        );
        let place = |c: &Column| mlp_ir::cell_of(&outputs, &c.name, c.width.map(|_| 0));
        assert_eq!(place(&outputs[1]), Some(1));
        assert_eq!(place(&outputs[3]), Some(5));
        let returned: Vec<usize> = mlp_ir::returned_outputs(&outputs, &derived)
            .into_iter()
            .flat_map(|c| (0..c.cells()).map(move |j| place(c).unwrap_or(0) + j))
            .collect();
        assert_eq!(returned, vec![1, 2, 3, 5]);
        let derived: Vec<(usize, IrExpr)> = outputs
            .iter()
            .filter_map(|c| Some((place(c)?, derived.get(&c.name)?.clone())))
            .collect();
        // Two rows of what `forward` returns: probs then s.
        let raw = vec![0.25, 0.5, 0.25, 0.1, 0.125, 0.75, 0.125, 0.5];
        let rows = expand_rows(&outputs, &returned, &derived, raw, 2);
        assert_eq!(
            rows,
            vec![0.5, 0.25, 0.5, 0.25, 1.0, 0.1, 0.75, 0.125, 0.75, 0.125, 0.0, 0.5]
        );
        // A route's condition reads an element.
        let cond = IrExpr::Binary {
            binop: ">".into(),
            lhs: Box::new(element(1)),
            rhs: Box::new(IrExpr::Literal {
                value: mlp_ir::Literal::Float(0.6),
            }),
        };
        assert!(!condition(&cond, &outputs, &rows[..6]));
        assert!(condition(&cond, &outputs, &rows[6..]));
    }

    #[test]
    fn route_conditions_read_the_routers_outputs_by_type() {
        let out = |name: &str| {
            Box::new(IrExpr::Output {
                name: name.into(),
                index: None,
            })
        };
        let cond = IrExpr::Binary {
            binop: "and".into(),
            lhs: Box::new(IrExpr::Binary {
                binop: ">".into(),
                lhs: out("score"),
                rhs: Box::new(IrExpr::Literal {
                    value: mlp_ir::Literal::Float(0.3),
                }),
            }),
            rhs: out("flag"),
        };
        let outs = vec![
            Column::scalar("score", Type::Float),
            Column::scalar("flag", Type::Bool),
        ];
        assert!(condition(&cond, &outs, &[0.5, 1.0]));
        assert!(!condition(&cond, &outs, &[0.5, 0.0]));
        assert!(!condition(&cond, &outs, &[0.1, 1.0]));
        assert!(!condition(&cond, &outs, &[f32::NAN, 1.0]));
    }
}
