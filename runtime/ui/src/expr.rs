//! Expressions of the plan IR as people write them (`avg(amount)`, `score > 0.3 and
//! score < 0.7`), for feature definitions and routing conditions.

use mlp_ir::{IrExpr, Literal};

/// `e` in the language's own notation, with parentheses only where a binary operand is
/// itself a binary operation.
pub fn expr_text(e: &IrExpr) -> String {
    match e {
        IrExpr::Literal { value } => literal(value),
        IrExpr::Column { name } | IrExpr::Output { name, index: None } => name.clone(),
        IrExpr::Output {
            name,
            index: Some(i),
        } => format!("{name}[{i}]"),
        IrExpr::Feature { view, feature } => format!("{view}.{feature}"),
        IrExpr::Request { request, field } => format!("{request}.{field}"),
        IrExpr::Label { name } => format!("labels.{name}"),
        IrExpr::Star => "*".into(),
        IrExpr::Call { func, args } => format!(
            "{func}({})",
            args.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
        IrExpr::Unary { unop, expr } => match unop.as_str() {
            "neg" => format!("-{}", operand(expr)),
            op => format!("{op} {}", operand(expr)),
        },
        IrExpr::Binary { binop, lhs, rhs } => {
            format!("{} {binop} {}", operand(lhs), operand(rhs))
        }
    }
}

fn operand(e: &IrExpr) -> String {
    match e {
        IrExpr::Binary { .. } => format!("({})", expr_text(e)),
        _ => expr_text(e),
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::String(s) => format!("{s:?}"),
        Literal::DurationMs(ms) => format!("{ms}ms"),
        Literal::PerSecond(x) => format!("{x}/s"),
        Literal::Bytes(b) => format!("{b}B"),
        Literal::Fraction(f) => format!("{}%", f * 100.0),
        Literal::Null => "null".into(),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn nested_operations_keep_their_grouping() {
        let col = |n: &str| IrExpr::Column { name: n.into() };
        let bin = |op: &str, l, r| IrExpr::Binary {
            binop: op.into(),
            lhs: Box::new(l),
            rhs: Box::new(r),
        };
        let e = bin(
            "*",
            bin("+", col("a"), col("b")),
            IrExpr::Call {
                func: "avg".into(),
                args: vec![col("amount")],
            },
        );
        assert_eq!(expr_text(&e), "(a + b) * avg(amount)");
        let neg = IrExpr::Unary {
            unop: "neg".into(),
            expr: Box::new(IrExpr::Literal {
                value: Literal::Fraction(0.1),
            }),
        };
        assert_eq!(expr_text(&neg), "-10%");
    }
}
