//! Type and unit checking of expressions (feature definitions, on-demand features, monitor
//! checks, gate conditions, route conditions) against the stdlib's signatures; produces the
//! resolved IR expression.

use crate::decls::Checker;
use crate::fast::HashSet;
use crate::fast::IndexMap;
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::{Column, InputRef, IrExpr, Literal, Type};
use mlp_stdlib::Kind;
use mlp_syntax::ast::{BinOp, DeclKind, Expr, ExprKind, StrPart, UnOp};
use mlp_syntax::units::{self, UnitKind};

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A value type.
    Val(Type),
    /// Milliseconds.
    Duration,
    /// Per second.
    Rate,
    /// Fraction.
    Percent,
    /// Bytes.
    Size,
    /// `null`.
    Null,
    /// Not known at compile time (a source column without a declared schema).
    Unknown,
}

impl Ty {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Val(t) => t.name(),
            Ty::Duration => "duration",
            Ty::Rate => "rate",
            Ty::Percent => "percentage",
            Ty::Size => "size",
            Ty::Null => "null",
            Ty::Unknown => "unknown",
        }
    }
    fn numeric(self) -> bool {
        matches!(
            self,
            Ty::Val(Type::Int) | Ty::Val(Type::Float) | Ty::Unknown
        )
    }
    fn is(self, t: Type) -> bool {
        self == Ty::Val(t) || self == Ty::Unknown
    }
}

/// Where an expression is and so what its names mean.
pub enum Scope<'s> {
    /// A batch feature: names are source columns.
    Batch {
        /// Declared source schema, if any.
        schema: Option<&'s IndexMap<String, Type>>,
        /// The source's name (for messages).
        source: &'s str,
    },
    /// An on-demand feature: `view.feature` and `request.field`.
    OnDemand,
    /// A monitor check on a deployment.
    Monitor {
        /// The deployment's outputs.
        outputs: &'s IndexMap<String, Column>,
        /// Features and request fields the deployment logs.
        logged: &'s HashSet<InputRef>,
        /// Whether the monitor declares labels.
        labels: bool,
        /// The deployment.
        deployment: &'s str,
    },
    /// A gate: `step.metrics.name`.
    Gate {
        /// Steps that produce metrics (run steps).
        metric_steps: &'s HashSet<String>,
        /// Steps this one runs after, directly or not.
        ancestors: &'s HashSet<String>,
        /// All steps of the pipeline.
        all_steps: &'s [String],
    },
    /// A route condition over the router's outputs, or a model's derived output over the
    /// outputs its `forward` returns.
    Route {
        /// The outputs.
        outputs: &'s IndexMap<String, Column>,
        /// Whose they are, for messages (`the router`).
        of: &'s str,
    },
}

/// What checking an expression found besides its type.
#[derive(Debug, Default)]
pub struct Found {
    /// An aggregation call was seen.
    pub aggregates: bool,
    /// Columns used outside any aggregation.
    pub bare_columns: Vec<(String, Span)>,
    /// Features and request fields referenced.
    pub refs: Vec<(InputRef, Span)>,
    /// How many aggregation calls enclose the expression being checked (0: none).
    pub(crate) depth: usize,
}

fn lit(value: Literal) -> IrExpr {
    IrExpr::Literal { value }
}

impl Checker<'_> {
    /// Checks `e` in `scope`; returns its type and IR.
    pub fn expr(&mut self, e: &Expr, scope: &Scope<'_>, found: &mut Found) -> (Ty, IrExpr) {
        match &e.kind {
            ExprKind::Int { value, .. } => (Ty::Val(Type::Int), lit(Literal::Int(*value))),
            ExprKind::Float { value, .. } => (Ty::Val(Type::Float), lit(Literal::Float(*value))),
            ExprKind::Bool(b) => (Ty::Val(Type::Bool), lit(Literal::Bool(*b))),
            ExprKind::Null => (Ty::Null, lit(Literal::Null)),
            ExprKind::Quantity { value, unit, .. } => {
                let v = units::canonical(*value, unit).unwrap_or(*value);
                match units::classify(unit) {
                    Some(UnitKind::Duration) => (Ty::Duration, lit(Literal::DurationMs(v))),
                    Some(UnitKind::Size) => (Ty::Size, lit(Literal::Bytes(v))),
                    Some(UnitKind::Percent) => (Ty::Percent, lit(Literal::Fraction(v))),
                    None => (Ty::Unknown, lit(Literal::Null)),
                }
            }
            ExprKind::Rate { value, unit, .. } => (
                Ty::Rate,
                lit(Literal::PerSecond(
                    units::per_second(*value, unit).unwrap_or(*value),
                )),
            ),
            ExprKind::Str { parts, .. } => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Text(t) => s.push_str(t),
                        StrPart::Interp { path, span } => {
                            self.diags.push(
                                Diagnostic::new(
                                    "E0314",
                                    format!("unknown interpolation `${{{}}}`", path.join(".")),
                                )
                                .label(*span, "expressions cannot interpolate")
                                .help("build text with functions, or remove `${...}`"),
                            );
                        }
                    }
                }
                (Ty::Val(Type::String), lit(Literal::String(s)))
            }
            ExprKind::Paren(inner) => self.expr(inner, scope, found),
            ExprKind::Star => {
                self.diags.push(
                    Diagnostic::new("E0205", "`*` is only allowed as the argument of `count(*)`")
                        .label(e.span, "not allowed here"),
                );
                (Ty::Unknown, IrExpr::Star)
            }
            ExprKind::Path(p) => self.path(p, e.span, scope, found),
            ExprKind::Index {
                path,
                index,
                index_span,
            } => self.element(path, *index, *index_span, e.span, scope),
            ExprKind::Call { name, args } => self.call(name, args, e.span, scope, found),
            ExprKind::Unary { op, expr } => {
                let (t, ir) = self.expr(expr, scope, found);
                let (ok, out, name) = match op {
                    UnOp::Not => (t.is(Type::Bool), Ty::Val(Type::Bool), "not"),
                    UnOp::Neg => (t.numeric() || t == Ty::Duration, t, "neg"),
                };
                if !ok {
                    let sym = if name == "not" { "not" } else { "-" };
                    self.diags.push(
                        Diagnostic::new(
                            "E0210",
                            format!("`{sym}` cannot be applied to a {}", t.name()),
                        )
                        .label(e.span, format!("this is a {}", t.name())),
                    );
                }
                (
                    out,
                    IrExpr::Unary {
                        unop: name.into(),
                        expr: Box::new(ir),
                    },
                )
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, la) = self.expr(lhs, scope, found);
                let (b, lb) = self.expr(rhs, scope, found);
                let t = self.binary(*op, a, b, e.span);
                (
                    t,
                    IrExpr::Binary {
                        binop: op.symbol().into(),
                        lhs: Box::new(la),
                        rhs: Box::new(lb),
                    },
                )
            }
            ExprKind::List(_)
            | ExprKind::ModelRef { .. }
            | ExprKind::Arrow { .. }
            | ExprKind::Typed { .. } => {
                self.diags.push(
                    Diagnostic::new(
                        "E0211",
                        format!("{} cannot be used in an expression", e.describe()),
                    )
                    .label(e.span, "not a value"),
                );
                (Ty::Unknown, lit(Literal::Null))
            }
        }
    }

    fn binary(&mut self, op: BinOp, a: Ty, b: Ty, span: Span) -> Ty {
        let bad = |cx: &mut Self, help: Option<String>| {
            cx.diags.push(
                Diagnostic::new(
                    "E0210",
                    format!(
                        "`{}` cannot combine a {} and a {}",
                        op.symbol(),
                        a.name(),
                        b.name()
                    ),
                )
                .label(span, "incompatible types")
                .maybe_help(help),
            );
        };
        match op {
            BinOp::And | BinOp::Or => {
                if !(a.is(Type::Bool) && b.is(Type::Bool)) {
                    bad(
                        self,
                        Some(format!("`{}` needs booleans on both sides", op.symbol())),
                    );
                }
                Ty::Val(Type::Bool)
            }
            _ if op.is_comparison() => {
                let ok = a == Ty::Unknown
                    || b == Ty::Unknown
                    || (a.numeric() && b.numeric())
                    || a == b
                    || ((a == Ty::Null || b == Ty::Null) && matches!(op, BinOp::Eq | BinOp::Ne))
                    || (a == Ty::Percent && b.numeric())
                    || (b == Ty::Percent && a.numeric());
                if !ok {
                    let help = match (a, b) {
                        (Ty::Duration, t) | (t, Ty::Duration) if t.numeric() => {
                            Some("give the number a unit, e.g. `20ms`".to_string())
                        }
                        (Ty::Rate, t) | (t, Ty::Rate) if t.numeric() => {
                            Some("give the number a unit, e.g. `100/s`".to_string())
                        }
                        _ => None,
                    };
                    bad(self, help);
                }
                Ty::Val(Type::Bool)
            }
            _ => {
                if a.numeric() && b.numeric() {
                    if a == Ty::Unknown || b == Ty::Unknown {
                        Ty::Unknown
                    } else if op == BinOp::Div
                        || a == Ty::Val(Type::Float)
                        || b == Ty::Val(Type::Float)
                    {
                        Ty::Val(Type::Float)
                    } else {
                        Ty::Val(Type::Int)
                    }
                } else if duration_arithmetic(a, b, op) {
                    Ty::Duration
                } else {
                    let help = (a == Ty::Val(Type::String) || b == Ty::Val(Type::String))
                        .then(|| "arithmetic needs numbers; text cannot be added".to_string());
                    bad(self, help);
                    Ty::Unknown
                }
            }
        }
    }

    /// Resolves `view.feature` or `request.field` (or `model.output`).
    pub fn member_ref(
        &mut self,
        owner: &mlp_syntax::ast::Ident,
        member: &mlp_syntax::ast::Ident,
    ) -> Option<InputRef> {
        let kind = self.names.get(owner.name.as_str()).map(|d| d.kind);
        let (members, r): (Vec<String>, InputRef) = match kind {
            Some(DeclKind::Features) => (
                self.views
                    .get(&owner.name)
                    .map(|v| v.features.keys().cloned().collect())
                    .unwrap_or_default(),
                InputRef::Feature {
                    view: owner.name.clone(),
                    feature: member.name.clone(),
                },
            ),
            Some(DeclKind::Request) => (
                self.requests
                    .get(&owner.name)
                    .map(|v| v.keys().cloned().collect())
                    .unwrap_or_default(),
                InputRef::Request {
                    request: owner.name.clone(),
                    field: member.name.clone(),
                },
            ),
            Some(DeclKind::Model) => (
                self.models
                    .get(&owner.name)
                    .map(|m| m.outputs.keys().cloned().collect())
                    .unwrap_or_default(),
                InputRef::ModelOutput {
                    model: owner.name.clone(),
                    output: member.name.clone(),
                },
            ),
            Some(other) => {
                self.diags.push(
                    Diagnostic::new(
                        "E0107",
                        format!(
                            "`{}` is a {}; only feature views, requests and models have members",
                            owner.name,
                            other.describe()
                        ),
                    )
                    .label(owner.span, "has no members"),
                );
                return None;
            }
            None => {
                let cands: Vec<&str> = self
                    .names
                    .iter()
                    .filter(|(_, d)| matches!(d.kind, DeclKind::Features | DeclKind::Request))
                    .map(|(n, _)| *n)
                    .collect();
                self.diags.push(
                    Diagnostic::new(
                        "E0101",
                        format!("unknown feature view or request `{}`", owner.name),
                    )
                    .label(owner.span, "not declared in this project")
                    .maybe_help(suggestion(&owner.name, cands)),
                );
                return None;
            }
        };
        self.used.insert(owner.name.clone());
        if !members.contains(&member.name) {
            let what = match &r {
                InputRef::Feature { .. } => "feature",
                InputRef::Request { .. } => "field",
                InputRef::ModelOutput { .. } => "output",
            };
            self.diags.push(
                Diagnostic::new(
                    "E0109",
                    format!("`{}` has no {what} `{}`", owner.name, member.name),
                )
                .label(member.span, format!("unknown {what}"))
                .maybe_help(suggestion(&member.name, members.iter().map(String::as_str))),
            );
            return None;
        }
        Some(r)
    }

    /// The declared type of a referenced input.
    pub fn input_type(&self, r: &InputRef) -> Option<Ty> {
        match r {
            InputRef::Feature { view, feature } => self
                .views
                .get(view)
                .and_then(|v| v.features.get(feature))
                .map(|t| Ty::Val(*t)),
            InputRef::Request { request, field } => self
                .requests
                .get(request)
                .and_then(|v| v.get(field))
                .map(|t| Ty::Val(*t)),
            InputRef::ModelOutput { model, output } => self
                .models
                .get(model)
                .and_then(|m| m.outputs.get(output))
                .map(|c| Ty::Val(c.ty)),
        }
    }

    /// A call of a built-in: allowed in this scope, its arity and argument types checked
    /// against the stdlib's signature.
    fn call(
        &mut self,
        name: &mlp_syntax::ast::Ident,
        args: &[mlp_syntax::ast::Arg],
        span: Span,
        scope: &Scope<'_>,
        found: &mut Found,
    ) -> (Ty, IrExpr) {
        let allowed: &[Kind] = match scope {
            Scope::Batch { .. } => &[Kind::Aggregate, Kind::Scalar],
            Scope::Monitor { .. } => &[Kind::Metric, Kind::Scalar],
            _ => &[Kind::Scalar],
        };
        let b = allowed.iter().find_map(|k| mlp_stdlib::get(*k, &name.name));
        let Some(b) = b else {
            self.not_allowed_call(name, allowed, scope);
            // The arguments are still checked, except a `*`: its rule depends on the function.
            for a in args
                .iter()
                .filter(|a| !matches!(a.value.kind, ExprKind::Star))
            {
                self.expr(&a.value, scope, found);
            }
            return (
                Ty::Unknown,
                IrExpr::Call {
                    func: name.name.clone(),
                    args: Vec::new(),
                },
            );
        };
        let Some(params) = &b.params else {
            self.diags.push(
                Diagnostic::new("E0204", format!("`{}` takes no arguments", name.name))
                    .label(span, "write it without parentheses"),
            );
            return (
                ret_ty(&b.returns, &[]),
                IrExpr::Call {
                    func: name.name.clone(),
                    args: Vec::new(),
                },
            );
        };
        let is_agg = b.kind == Kind::Aggregate;
        if is_agg {
            if found.depth > 0 {
                self.diags.push(
                    Diagnostic::new("E0206", format!("aggregation `{}` inside another aggregation", name.name))
                        .label(name.span, "nested aggregation")
                        .help("aggregate once per feature; combine several aggregations with arithmetic instead"),
                );
            }
            found.aggregates = true;
            found.depth += 1;
        }
        self.arity(name, b, args.len(), span);
        let mut tys = Vec::new();
        let mut irs = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let (t, ir) = self.argument(name, b, params.get(i), a, scope, found);
            tys.push(t);
            irs.push(ir);
        }
        if is_agg {
            found.depth -= 1;
        }
        (
            ret_ty(&b.returns, &tys),
            IrExpr::Call {
                func: name.name.clone(),
                args: irs,
            },
        )
    }

    /// Why `name` cannot be called here: an aggregation outside a batch view, a metric
    /// outside a monitor, or no such built-in.
    fn not_allowed_call(
        &mut self,
        name: &mlp_syntax::ast::Ident,
        allowed: &[Kind],
        scope: &Scope<'_>,
    ) {
        let elsewhere = [Kind::Aggregate, Kind::Scalar, Kind::Metric]
            .iter()
            .find_map(|k| mlp_stdlib::get(*k, &name.name));
        match elsewhere {
            Some(o) if o.kind == Kind::Aggregate => {
                let why = match scope {
                    Scope::OnDemand => {
                        "on-demand features are computed per request and cannot aggregate"
                    }
                    _ => "aggregations belong in feature views with a source",
                };
                self.diags.push(
                    Diagnostic::new(
                        "E0206",
                        format!("aggregation `{}` is not allowed here", name.name),
                    )
                    .label(name.span, "aggregation")
                    .help(why),
                );
            }
            Some(o) => {
                self.diags.push(
                    Diagnostic::new(
                        "E0203",
                        format!(
                            "`{}` is a {} and cannot be used here",
                            name.name,
                            o.kind.keyword()
                        ),
                    )
                    .label(name.span, "not available in this context")
                    .help("monitor metrics are used in `check` statements"),
                );
            }
            None => {
                let cands: Vec<&str> = allowed.iter().flat_map(|k| mlp_stdlib::names(*k)).collect();
                self.diags.push(
                    Diagnostic::new("E0203", format!("unknown function `{}`", name.name))
                        .label(name.span, "not a built-in")
                        .maybe_help(
                            suggestion(&name.name, cands)
                                .or_else(|| Some("`mlpc stdlib` lists the built-ins".into())),
                        ),
                );
            }
        }
    }

    /// E0204 when `n` arguments do not fit the built-in's signature.
    fn arity(
        &mut self,
        name: &mlp_syntax::ast::Ident,
        b: &mlp_stdlib::Builtin,
        n: usize,
        span: Span,
    ) {
        if n >= b.min_args() && n <= b.max_args() {
            return;
        }
        let takes = if b.min_args() == b.max_args() {
            b.min_args().to_string()
        } else {
            format!("{} to {}", b.min_args(), b.max_args())
        };
        self.diags.push(
            Diagnostic::new(
                "E0204",
                format!(
                    "`{}` takes {takes} argument{}, found {n}",
                    name.name,
                    if takes == "1" { "" } else { "s" },
                ),
            )
            .label(span, "wrong number of arguments")
            .help(format!("signature: {}", b.signature())),
        );
    }

    /// One argument of a call, its type checked against the parameter it fills (`*` only
    /// where the parameter takes it).
    fn argument(
        &mut self,
        name: &mlp_syntax::ast::Ident,
        b: &mlp_stdlib::Builtin,
        param: Option<&mlp_stdlib::Param>,
        a: &mlp_syntax::ast::Arg,
        scope: &Scope<'_>,
        found: &mut Found,
    ) -> (Ty, IrExpr) {
        let (t, ir) = if matches!(a.value.kind, ExprKind::Star) {
            if !param.is_some_and(|p| p.types.iter().any(|t| t == "star")) {
                self.diags.push(
                    Diagnostic::new(
                        "E0205",
                        format!("`*` is not an argument of `{}`", name.name),
                    )
                    .label(a.value.span, "only `count(*)` takes `*`"),
                );
            }
            (Ty::Unknown, IrExpr::Star)
        } else {
            self.expr(&a.value, scope, found)
        };
        if let Some(p) = param {
            if !accepts(&p.types, t) {
                self.diags.push(
                    Diagnostic::new(
                        "E0205",
                        format!(
                            "argument `{}` of `{}` must be {}, found {}",
                            p.name,
                            name.name,
                            p.types.join(" or "),
                            t.name()
                        ),
                    )
                    .label(a.value.span, format!("this is a {}", t.name()))
                    .help(format!("signature: {}", b.signature())),
                );
            }
        }
        (t, ir)
    }
}

fn accepts(types: &[String], t: Ty) -> bool {
    if t == Ty::Unknown || t == Ty::Null {
        return true;
    }
    types.iter().any(|p| match p.as_str() {
        "any" => true,
        "numeric" => t.numeric(),
        "duration" => t == Ty::Duration,
        "rate" => t == Ty::Rate,
        "percent" => t == Ty::Percent,
        "star" => false,
        "float" => t.numeric(),
        other => {
            Ty::Val(parse_type(other).unwrap_or(Type::String)) == t && parse_type(other).is_some()
        }
    })
}

pub(crate) fn ret_ty(ret: &str, args: &[Ty]) -> Ty {
    match ret {
        "T" => args.first().copied().unwrap_or(Ty::Unknown),
        "T2" => args.get(1).copied().unwrap_or(Ty::Unknown),
        "duration" => Ty::Duration,
        "rate" => Ty::Rate,
        "percent" => Ty::Percent,
        other => parse_type(other).map_or(Ty::Unknown, Ty::Val),
    }
}

/// A value type by name.
pub fn parse_type(name: &str) -> Option<Type> {
    Some(match name {
        "int" => Type::Int,
        "float" => Type::Float,
        "bool" => Type::Bool,
        "string" => Type::String,
        "timestamp" => Type::Timestamp,
        _ => return None,
    })
}

/// True when a value of type `t` can be stored in a field declared `declared`.
pub fn assignable(t: Ty, declared: Type) -> bool {
    match t {
        Ty::Unknown | Ty::Null => true,
        Ty::Val(v) => v == declared || (v == Type::Int && declared == Type::Float),
        Ty::Percent => declared == Type::Float,
        _ => false,
    }
}

/// Whether `a op b` is a duration: duration ± duration, duration × or ÷ a number, a number ×
/// a duration, or timestamp − timestamp.
fn duration_arithmetic(a: Ty, b: Ty, op: BinOp) -> bool {
    (a == Ty::Duration && b == Ty::Duration && matches!(op, BinOp::Add | BinOp::Sub))
        || (a == Ty::Duration && b.numeric() && matches!(op, BinOp::Mul | BinOp::Div))
        || (b == Ty::Duration && a.numeric() && op == BinOp::Mul)
        || (a == Ty::Val(Type::Timestamp) && b == Ty::Val(Type::Timestamp) && op == BinOp::Sub)
}
