//! The scalar functions of the language as one closed enum, so that each evaluator (the
//! offline SQL generator and the online Rust evaluator) matches on it exhaustively: a scalar
//! declared in the stdlib without an implementation in both is a compile error there, and
//! the conformance test (`tests/tests/conformance.rs`) ties this list to the stdlib's.

/// A scalar built-in (`scalar` in `stdlib/src/builtins.mlp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `coalesce(x, fallback)`.
    Coalesce,
    /// `abs(x)`.
    Abs,
    /// `round(x)`: halves away from zero, as a float.
    Round,
    /// `floor(x)` as a float.
    Floor,
    /// `ceil(x)` as a float.
    Ceil,
    /// `ln(x)`: null for x <= 0.
    Ln,
    /// `sqrt(x)`: null for x < 0.
    Sqrt,
    /// `least(x, y)`.
    Least,
    /// `greatest(x, y)`.
    Greatest,
    /// `lower(s)`.
    Lower,
    /// `upper(s)`.
    Upper,
    /// `length(s)` in characters.
    Length,
    /// `is_null(x)`.
    IsNull,
    /// `if_else(condition, then, otherwise)`.
    IfElse,
    /// `hour(t)`: 0-23, in UTC.
    Hour,
    /// `day_of_week(t)`: 0 = Monday, in UTC.
    DayOfWeek,
    /// `to_float(x)`.
    ToFloat,
}

impl Scalar {
    /// Every scalar function, in the stdlib's order.
    pub const ALL: [Scalar; 17] = [
        Scalar::Coalesce,
        Scalar::Abs,
        Scalar::Round,
        Scalar::Floor,
        Scalar::Ceil,
        Scalar::Ln,
        Scalar::Sqrt,
        Scalar::Least,
        Scalar::Greatest,
        Scalar::Lower,
        Scalar::Upper,
        Scalar::Length,
        Scalar::IsNull,
        Scalar::IfElse,
        Scalar::Hour,
        Scalar::DayOfWeek,
        Scalar::ToFloat,
    ];

    /// The name the language spells it with.
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Coalesce => "coalesce",
            Scalar::Abs => "abs",
            Scalar::Round => "round",
            Scalar::Floor => "floor",
            Scalar::Ceil => "ceil",
            Scalar::Ln => "ln",
            Scalar::Sqrt => "sqrt",
            Scalar::Least => "least",
            Scalar::Greatest => "greatest",
            Scalar::Lower => "lower",
            Scalar::Upper => "upper",
            Scalar::Length => "length",
            Scalar::IsNull => "is_null",
            Scalar::IfElse => "if_else",
            Scalar::Hour => "hour",
            Scalar::DayOfWeek => "day_of_week",
            Scalar::ToFloat => "to_float",
        }
    }

    /// The scalar function called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.name() == name)
    }
}
