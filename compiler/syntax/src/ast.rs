//! The spanned syntax tree of one `.mlp` file: declarations, statements and expressions
//! exactly as written (number texts and string escapes are kept for the formatter).

use mlp_diagnostics::Span;

/// A parsed file: its declarations and the plain `//` comments found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Top-level declarations in source order.
    pub decls: Vec<Decl>,
    /// `//` comments (not doc comments), in source order, for the formatter.
    pub comments: Vec<Comment>,
}

/// A `//` comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// Where it is (from `//` to the end of the line).
    pub span: Span,
    /// The text including `//`.
    pub text: String,
}

/// A `///` doc comment line.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Where it is.
    pub span: Span,
    /// The text after `///`, with one leading space removed.
    pub text: String,
}

/// `in LO..HI [else DEFAULT]` after a field's type: ids from `lo` up to, not including,
/// `hi`; `default` for a negative or missing id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRange {
    /// The smallest valid id.
    pub lo: i64,
    /// One past the largest valid id.
    pub hi: i64,
    /// The id a negative or missing one becomes; `None`: such a row is refused.
    pub default: Option<i64>,
    /// Where the range is written (from `in`).
    pub span: Span,
}

/// `[K]` after a type: a vector of `K` values per row (`probs: float32[3]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Width {
    /// `K`.
    pub n: u64,
    /// Where `[K]` is written.
    pub span: Span,
}

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is.
    pub span: Span,
}

/// The kind of a top-level declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclKind {
    /// `project NAME { ... }`: backends and project settings.
    Project,
    /// `env { ... }`: variables whose values come from `env/NAME.yaml`.
    Env,
    /// `entity NAME { key = ... }`.
    Entity,
    /// `source NAME { path = ... }`.
    Source,
    /// `features NAME { ... }`: a feature view.
    Features,
    /// `request NAME { ... }`: fields known at request time.
    Request,
    /// `model NAME { ... }`.
    Model,
    /// `pipeline NAME { step ... }`.
    Pipeline,
    /// `deployment NAME { ... }`.
    Deployment,
    /// `monitor NAME { check ... }`.
    Monitor,
    /// `consumer NAME { uses = ... }`.
    Consumer,
}

impl DeclKind {
    /// Every kind, in the canonical order used by documentation.
    pub const ALL: [DeclKind; 11] = [
        DeclKind::Project,
        DeclKind::Env,
        DeclKind::Entity,
        DeclKind::Source,
        DeclKind::Features,
        DeclKind::Request,
        DeclKind::Model,
        DeclKind::Pipeline,
        DeclKind::Deployment,
        DeclKind::Monitor,
        DeclKind::Consumer,
    ];

    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            DeclKind::Project => "project",
            DeclKind::Env => "env",
            DeclKind::Entity => "entity",
            DeclKind::Source => "source",
            DeclKind::Features => "features",
            DeclKind::Request => "request",
            DeclKind::Model => "model",
            DeclKind::Pipeline => "pipeline",
            DeclKind::Deployment => "deployment",
            DeclKind::Monitor => "monitor",
            DeclKind::Consumer => "consumer",
        }
    }

    /// The kind for a keyword.
    pub fn from_keyword(k: &str) -> Option<DeclKind> {
        DeclKind::ALL.into_iter().find(|d| d.keyword() == k)
    }

    /// How the kind is named in messages ("feature view", "entity", ...).
    pub fn describe(self) -> &'static str {
        match self {
            DeclKind::Features => "feature view",
            DeclKind::Env => "env block",
            other => other.keyword(),
        }
    }
}

/// `KIND NAME { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// Doc comments before it.
    pub docs: Vec<Doc>,
    /// What it declares.
    pub kind: DeclKind,
    /// Span of the keyword.
    pub kind_span: Span,
    /// The name (absent for `env`).
    pub name: Option<Ident>,
    /// The body.
    pub body: Block,
    /// The whole declaration including docs.
    pub span: Span,
}

/// `{ stmt* }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Statements in order.
    pub stmts: Vec<Stmt>,
    /// From `{` to `}`.
    pub span: Span,
}

/// One statement of a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// Doc comments before it.
    pub docs: Vec<Doc>,
    /// What it is.
    pub kind: StmtKind,
    /// The whole statement including docs.
    pub span: Span,
}

/// The statement forms.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `key = value`.
    Attr {
        /// The attribute name.
        key: Ident,
        /// Its value.
        value: Expr,
    },
    /// `name: type [= expr [over window]]`.
    Field {
        /// Field name.
        name: Ident,
        /// Declared type name.
        ty: Ident,
        /// `[K]` after the type.
        width: Option<Width>,
        /// `in LO..HI [else DEFAULT]`: the valid ids of an int64 model input.
        ids: Option<IdRange>,
        /// Defining expression.
        value: Option<Expr>,
        /// `over` window (boxed: the statement stays small).
        window: Option<Box<Expr>>,
    },
    /// `name { ... }`.
    Block {
        /// Block name.
        name: Ident,
        /// Its body.
        body: Block,
    },
    /// `step name { ... }`.
    Step {
        /// Step name.
        name: Ident,
        /// Its body.
        body: Block,
    },
    /// `check expr`.
    Check(Expr),
    /// `require expr`.
    Require(Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
    /// True for comparisons.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `not`
    Not,
    /// `-`
    Neg,
}

/// A part of a string literal.
#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    /// Plain text with escapes resolved.
    Text(String),
    /// `${a.b}`.
    Interp {
        /// The dotted path inside.
        path: Vec<String>,
        /// Span of `${...}`.
        span: Span,
    },
}

/// A version reference after `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionRef {
    /// `model@3`.
    Number(u64),
    /// `model@production` (and the reserved `latest`).
    Alias(String),
}

/// An argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `name =` for named arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// Expression forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer as written (`1_000_000`).
    Int {
        /// Value.
        value: i64,
        /// Source text.
        text: String,
    },
    /// A decimal number.
    Float {
        /// Value.
        value: f64,
        /// Source text.
        text: String,
    },
    /// A number with a unit: duration, size or percentage (`20ms`, `4GiB`, `10%`).
    Quantity {
        /// The number.
        value: f64,
        /// Source text of the number.
        text: String,
        /// The unit as written.
        unit: String,
        /// Span of the unit.
        unit_span: Span,
    },
    /// `2000/s`.
    Rate {
        /// Events.
        value: f64,
        /// Source text of the number.
        text: String,
        /// Per which unit.
        unit: String,
        /// Span of the unit.
        unit_span: Span,
    },
    /// A string literal.
    Str {
        /// Parts with escapes resolved.
        parts: Vec<StrPart>,
        /// Source text including quotes.
        raw: String,
    },
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `*` (in `count(*)`).
    Star,
    /// `a`, `a.b`, `a.b.c`.
    Path(Vec<Ident>),
    /// `model@alias`, `model@3`.
    ModelRef {
        /// The model's name.
        model: Ident,
        /// What follows `@`.
        version: VersionRef,
        /// Span of what follows `@`.
        version_span: Span,
    },
    /// `f(args)`.
    Call {
        /// Function name.
        name: Ident,
        /// Arguments.
        args: Vec<Arg>,
    },
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `(e)`.
    Paren(Box<Expr>),
    /// `op e`.
    Unary {
        /// Operator.
        op: UnOp,
        /// Operand.
        expr: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left.
        lhs: Box<Expr>,
        /// Right.
        rhs: Box<Expr>,
    },
    /// `model -> alias` (promotions).
    Arrow {
        /// Left side.
        from: Ident,
        /// Right side.
        to: Ident,
    },
    /// `name: type` (entity keys, model outputs).
    Typed {
        /// The name.
        name: Ident,
        /// The type.
        ty: Ident,
        /// `[K]` after the type.
        width: Option<Width>,
    },
    /// `path[i]`: element `i` of a vector output.
    Index {
        /// What is indexed.
        path: Vec<Ident>,
        /// The element.
        index: u64,
        /// Where `[i]` is written.
        index_span: Span,
    },
}

impl Expr {
    /// The items of a list, or the expression itself: for attributes that take one value or
    /// a list of them (`after = a` and `after = [a, b]`).
    pub fn items(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![self],
        }
    }

    /// The identifiers of a path expression, if this is one.
    pub fn as_path(&self) -> Option<&[Ident]> {
        match &self.kind {
            ExprKind::Path(p) => Some(p),
            _ => None,
        }
    }
    /// The single identifier, if this is a one-segment path.
    pub fn as_ident(&self) -> Option<&Ident> {
        match &self.kind {
            ExprKind::Path(p) if p.len() == 1 => p.first(),
            _ => None,
        }
    }
    /// Short description of the expression's form for messages ("a string", "a duration").
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            ExprKind::Int { .. } => "an integer",
            ExprKind::Float { .. } => "a number",
            ExprKind::Quantity { unit, .. } => match crate::units::classify(unit) {
                Some(crate::units::UnitKind::Duration) => "a duration",
                Some(crate::units::UnitKind::Size) => "a size",
                Some(crate::units::UnitKind::Percent) => "a percentage",
                None => "a quantity",
            },
            ExprKind::Rate { .. } => "a rate",
            ExprKind::Str { .. } => "a string",
            ExprKind::Bool(_) => "a boolean",
            ExprKind::Null => "null",
            ExprKind::Star => "`*`",
            ExprKind::Path(_) => "a name",
            ExprKind::ModelRef { .. } => "a model reference",
            ExprKind::Call { .. } => "a call",
            ExprKind::List(_) => "a list",
            ExprKind::Paren(_) | ExprKind::Unary { .. } | ExprKind::Binary { .. } => {
                "an expression"
            }
            ExprKind::Arrow { .. } => "a promotion `model -> alias`",
            ExprKind::Typed { .. } => "a typed name",
            ExprKind::Index { .. } => "an element of a vector",
        }
    }
}
