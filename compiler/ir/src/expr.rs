//! Expressions in the plan IR: resolved (every name says what it refers to) and free of any
//! SQL dialect, so that the offline compiler (DuckDB now, others later) and the online Rust
//! evaluator both start from the same tree.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Literal {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Text.
    String(String),
    /// Duration in milliseconds.
    DurationMs(f64),
    /// Events per second.
    PerSecond(f64),
    /// Bytes.
    Bytes(f64),
    /// Fraction (10% is 0.1).
    Fraction(f64),
    /// Null.
    Null,
}

/// A resolved expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum IrExpr {
    /// A constant.
    Literal {
        /// The value.
        value: Literal,
    },
    /// A column of the view's source.
    Column {
        /// Column name.
        name: String,
    },
    /// A feature of a view (on-demand features, monitor checks).
    Feature {
        /// View name.
        view: String,
        /// Feature name.
        feature: String,
    },
    /// A request field.
    Request {
        /// Request block name.
        request: String,
        /// Field name.
        field: String,
    },
    /// An output of the monitored deployment.
    Output {
        /// Output name.
        name: String,
        /// The element read from a vector output (`probs[1]`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
    /// A column of the monitor's label source.
    Label {
        /// Column name.
        name: String,
    },
    /// `*` in `count(*)`.
    Star,
    /// A built-in call (aggregation, scalar function or metric).
    Call {
        /// Built-in name.
        func: String,
        /// Arguments.
        args: Vec<IrExpr>,
    },
    /// Unary operator: `not` or `neg`.
    Unary {
        /// `not` or `neg`.
        unop: String,
        /// Operand.
        expr: Box<IrExpr>,
    },
    /// Binary operator (`+ - * / == != < <= > >= and or`).
    Binary {
        /// The operator symbol.
        binop: String,
        /// Left operand.
        lhs: Box<IrExpr>,
        /// Right operand.
        rhs: Box<IrExpr>,
    },
}
