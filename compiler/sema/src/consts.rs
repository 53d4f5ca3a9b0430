//! Constant attribute values: literals, environment references (`env.x`) and strings with
//! `${env.x}` interpolation, read as the kind an attribute expects (string, duration, rate,
//! integer, name of a declaration, one of a set of choices).

use crate::decls::Checker;
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::Literal;
use mlp_syntax::ast::{DeclKind, Expr, ExprKind, StrPart, UnOp};
use mlp_syntax::units::{self, UnitKind};

/// A constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Milliseconds.
    Duration(f64),
    /// Per second.
    Rate(f64),
    /// Bytes.
    Size(f64),
    /// Fraction.
    Percent(f64),
}

impl Const {
    /// Description for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Const::Str(_) => "a string",
            Const::Int(_) => "an integer",
            Const::Float(_) => "a number",
            Const::Bool(_) => "a boolean",
            Const::Duration(_) => "a duration",
            Const::Rate(_) => "a rate",
            Const::Size(_) => "a size",
            Const::Percent(_) => "a percentage",
        }
    }
    /// As an IR literal.
    pub fn literal(&self) -> Literal {
        match self {
            Const::Str(s) => Literal::String(s.clone()),
            Const::Int(i) => Literal::Int(*i),
            Const::Float(f) => Literal::Float(*f),
            Const::Bool(b) => Literal::Bool(*b),
            Const::Duration(d) => Literal::DurationMs(*d),
            Const::Rate(r) => Literal::PerSecond(*r),
            Const::Size(s) => Literal::Bytes(*s),
            Const::Percent(p) => Literal::Fraction(*p),
        }
    }
}

impl Checker<'_> {
    /// Evaluates a constant; `interp` lists the extra `${name}` roots allowed in strings.
    pub fn konst_with(&mut self, e: &Expr, interp: &[&str]) -> Option<Const> {
        match &e.kind {
            ExprKind::Int { value, .. } => Some(Const::Int(*value)),
            ExprKind::Float { value, .. } => Some(Const::Float(*value)),
            ExprKind::Bool(b) => Some(Const::Bool(*b)),
            ExprKind::Quantity { value, unit, .. } => {
                let v = units::canonical(*value, unit)?;
                Some(match units::classify(unit)? {
                    UnitKind::Duration => Const::Duration(v),
                    UnitKind::Size => Const::Size(v),
                    UnitKind::Percent => Const::Percent(v),
                })
            }
            ExprKind::Rate { value, unit, .. } => units::per_second(*value, unit).map(Const::Rate),
            ExprKind::Str { parts, .. } => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        StrPart::Text(t) => out.push_str(t),
                        StrPart::Interp { path, span } => {
                            if path.first().is_some_and(|r| r == "env") && path.len() == 2 {
                                match self.env_value(&path[1], *span) {
                                    Some(Const::Str(s)) => out.push_str(&s),
                                    Some(Const::Int(i)) => out.push_str(&i.to_string()),
                                    Some(Const::Float(f)) => out.push_str(&f.to_string()),
                                    Some(Const::Bool(b)) => out.push_str(&b.to_string()),
                                    Some(_) | None => {}
                                }
                            } else if path.first().is_some_and(|r| interp.contains(&r.as_str())) {
                                out.push_str("${");
                                out.push_str(&path.join("."));
                                out.push('}');
                            } else {
                                let help = if interp.is_empty() {
                                    "only `${env.NAME}` can be interpolated here".to_string()
                                } else {
                                    format!(
                                        "this string can interpolate `${{env.NAME}}` and {}",
                                        interp
                                            .iter()
                                            .map(|i| format!("`${{{i}...}}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                };
                                self.diags.push(
                                    Diagnostic::new(
                                        "E0314",
                                        format!("unknown interpolation `${{{}}}`", path.join(".")),
                                    )
                                    .label(*span, "cannot be resolved here")
                                    .help(help),
                                );
                                return None;
                            }
                        }
                    }
                }
                Some(Const::Str(out))
            }
            ExprKind::Unary {
                op: UnOp::Neg,
                expr,
            } => match self.konst_with(expr, interp)? {
                Const::Int(i) => Some(Const::Int(-i)),
                Const::Float(f) => Some(Const::Float(-f)),
                Const::Duration(d) => Some(Const::Duration(-d)),
                other => Some(other),
            },
            ExprKind::Paren(inner) => self.konst_with(inner, interp),
            ExprKind::Path(p) if p.len() == 2 && p[0].name == "env" => {
                self.env_value(&p[1].name, p[1].span)
            }
            _ => None,
        }
    }

    /// Evaluates a constant (strings may interpolate `${env.x}` only).
    pub fn konst(&mut self, e: &Expr) -> Option<Const> {
        self.konst_with(e, &[])
    }

    /// True when `e` already carries an error (unknown unit, unknown or missing env value),
    /// so that a second error about its kind would only repeat it.
    pub fn already_reported(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Quantity { unit, .. } => units::classify(unit).is_none(),
            ExprKind::Rate { unit, .. } => units::per_second(1.0, unit).is_none(),
            ExprKind::Path(p) if p.len() == 2 && p[0].name == "env" => {
                !matches!(self.env_vals.get(&p[1].name), Some(Some(_)))
            }
            ExprKind::Unary { expr, .. } | ExprKind::Paren(expr) => self.already_reported(expr),
            _ => false,
        }
    }

    fn wrong_kind(
        &mut self,
        e: &Expr,
        key: &str,
        expected: &str,
        found: &str,
        code: &'static str,
        help: Option<String>,
    ) {
        if self.already_reported(e) {
            return;
        }
        self.diags.push(
            Diagnostic::new(code, format!("`{key}` expects {expected}, found {found}"))
                .label(e.span, format!("expected {expected}"))
                .maybe_help(help),
        );
    }

    fn found(&mut self, e: &Expr, c: &Option<Const>) -> &'static str {
        match c {
            Some(c) => c.describe(),
            None => e.describe(),
        }
    }

    /// A string value.
    pub fn string(&mut self, e: &Expr, key: &str) -> Option<String> {
        self.string_with(e, key, &[])
    }

    /// A string value that may interpolate the given roots.
    pub fn string_with(&mut self, e: &Expr, key: &str, interp: &[&str]) -> Option<String> {
        if matches!(e.kind, ExprKind::Str { .. }) {
            return match self.konst_with(e, interp) {
                Some(Const::Str(s)) => Some(s),
                _ => None,
            };
        }
        let c = self.konst(e);
        match c {
            Some(Const::Str(s)) => Some(s),
            _ => {
                let f = self.found(e, &c);
                let help = e.as_path().map(|p| {
                    format!(
                        "write it in quotes: `\"{}\"`",
                        p.iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(".")
                    )
                });
                self.wrong_kind(e, key, "a string", f, "E0211", help);
                None
            }
        }
    }

    /// A duration in ms, which must be positive.
    pub fn duration(&mut self, e: &Expr, key: &str) -> Option<f64> {
        let c = self.konst(e);
        match c {
            Some(Const::Duration(d)) if d > 0.0 => Some(d),
            Some(Const::Duration(_)) => {
                self.out_of_range(e, key, "a positive duration");
                None
            }
            _ => {
                let f = self.found(e, &c);
                let help = match c {
                    Some(Const::Int(i)) => Some(format!(
                        "add a unit: `{i}ms`, `{i}s`, `{i}m`, `{i}h` or `{i}d`"
                    )),
                    _ => {
                        Some("durations are written with a unit: `20ms`, `30s`, `1h`, `7d`".into())
                    }
                };
                self.wrong_kind(e, key, "a duration", f, "E0208", help);
                None
            }
        }
    }

    /// Whole milliseconds of a positive duration.
    pub fn duration_ms(&mut self, e: &Expr, key: &str) -> Option<u64> {
        self.duration(e, key).map(|d| d.round().max(1.0) as u64)
    }

    /// A rate in events per second.
    pub fn rate(&mut self, e: &Expr, key: &str) -> Option<f64> {
        let c = self.konst(e);
        match c {
            Some(Const::Rate(r)) if r > 0.0 => Some(r),
            Some(Const::Rate(_)) => {
                self.out_of_range(e, key, "a positive rate");
                None
            }
            _ => {
                let f = self.found(e, &c);
                let help = match c {
                    Some(Const::Int(i)) => {
                        Some(format!("write `{i}/s` for {i} requests per second"))
                    }
                    _ => Some("a rate is written like `2000/s`".into()),
                };
                self.wrong_kind(e, key, "a rate", f, "E0209", help);
                None
            }
        }
    }

    /// A non-negative integer (or at least `min`).
    pub fn uint(&mut self, e: &Expr, key: &str, min: u64) -> Option<u64> {
        let c = self.konst(e);
        match c {
            Some(Const::Int(i)) if i >= 0 && i as u64 >= min => Some(i as u64),
            Some(Const::Int(_)) => {
                self.out_of_range(e, key, &format!("an integer of at least {min}"));
                None
            }
            _ => {
                let f = self.found(e, &c);
                self.wrong_kind(e, key, "an integer", f, "E0211", None);
                None
            }
        }
    }

    /// A positive size in bytes (`512MiB`).
    pub fn size(&mut self, e: &Expr, key: &str) -> Option<u64> {
        let c = self.konst(e);
        match c {
            Some(Const::Size(b)) if b >= 1.0 => Some(b.round() as u64),
            Some(Const::Size(_)) => {
                self.out_of_range(e, key, "a positive size");
                None
            }
            _ => {
                let f = self.found(e, &c);
                let help = match c {
                    Some(Const::Int(i)) => Some(format!("add a unit: `{i}MiB` or `{i}GiB`")),
                    _ => Some("a size is written with a unit: `512MiB`, `2GiB`".into()),
                };
                self.wrong_kind(e, key, "a size", f, "E0211", help);
                None
            }
        }
    }

    /// A number (int or float).
    pub fn number(&mut self, e: &Expr, key: &str) -> Option<f64> {
        let c = self.konst(e);
        match c {
            Some(Const::Int(i)) => Some(i as f64),
            Some(Const::Float(f)) => Some(f),
            _ => {
                let f = self.found(e, &c);
                self.wrong_kind(e, key, "a number", f, "E0211", None);
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, e: &Expr, key: &str) -> Option<bool> {
        let c = self.konst(e);
        match c {
            Some(Const::Bool(b)) => Some(b),
            _ => {
                let f = self.found(e, &c);
                self.wrong_kind(e, key, "`true` or `false`", f, "E0211", None);
                None
            }
        }
    }

    /// A share in (0, 1], written as a percentage or a fraction.
    pub fn fraction(&mut self, e: &Expr, key: &str) -> Option<f64> {
        let c = self.konst(e);
        let v = match c {
            Some(Const::Percent(p)) | Some(Const::Float(p)) => p,
            _ => {
                let f = self.found(e, &c);
                self.wrong_kind(
                    e,
                    key,
                    "a percentage",
                    f,
                    "E0211",
                    Some("write a share like `10%`".into()),
                );
                return None;
            }
        };
        if v <= 0.0 || v > 1.0 {
            self.out_of_range(e, key, "a share between 0% (excluded) and 100%");
            return None;
        }
        Some(v)
    }

    pub(crate) fn out_of_range(&mut self, e: &Expr, key: &str, expected: &str) {
        self.diags.push(
            Diagnostic::new("E0215", format!("`{key}` must be {expected}"))
                .label(e.span, "out of range"),
        );
    }

    /// One of `choices`, written as a bare word.
    pub fn choice(&mut self, e: &Expr, key: &str, choices: &[&str]) -> Option<String> {
        let word = e.as_ident().map(|i| i.name.clone());
        match word {
            Some(w) if choices.contains(&w.as_str()) => Some(w),
            _ => {
                let shown = mlp_syntax::ast::Expr::describe(e);
                let text = e
                    .as_ident()
                    .map_or(shown.to_string(), |i| format!("`{}`", i.name));
                let help = e
                    .as_ident()
                    .and_then(|i| suggestion(&i.name, choices.iter().copied()));
                self.diags.push(
                    Diagnostic::new(
                        "E0214",
                        format!(
                            "`{key}` must be one of {}, found {text}",
                            crate::body::list(choices)
                        ),
                    )
                    .label(e.span, "not an allowed value")
                    .maybe_help(help),
                );
                None
            }
        }
    }

    /// The name of a declaration of `kind` (records the use for lints).
    pub fn decl_ref(&mut self, e: &Expr, kind: DeclKind, key: &str) -> Option<String> {
        let Some(id) = e.as_ident() else {
            let found = e.describe();
            self.wrong_kind(
                e,
                key,
                &format!("the name of a {}", kind.describe()),
                found,
                "E0211",
                None,
            );
            return None;
        };
        self.resolve(id, kind)
    }

    /// Resolves a name that must be a declaration of `kind`.
    pub fn resolve(&mut self, id: &mlp_syntax::ast::Ident, kind: DeclKind) -> Option<String> {
        match self.names.get(id.name.as_str()) {
            Some(d) if d.kind == kind => {
                self.used.insert(id.name.clone());
                Some(id.name.clone())
            }
            Some(d) => {
                let (dk, dspan) = (d.kind, d.name.as_ref().map_or(d.span, |n| n.span));
                self.diags.push(
                    Diagnostic::new(
                        "E0107",
                        format!(
                            "`{}` is a {}, not a {}",
                            id.name,
                            dk.describe(),
                            kind.describe()
                        ),
                    )
                    .label(id.span, format!("expected a {}", kind.describe()))
                    .related(dspan, format!("`{}` is declared here", id.name)),
                );
                None
            }
            None => {
                let cands: Vec<&str> = self
                    .names
                    .iter()
                    .filter(|(_, d)| d.kind == kind)
                    .map(|(n, _)| *n)
                    .collect();
                self.diags.push(
                    Diagnostic::new(
                        "E0101",
                        format!("unknown {} `{}`", kind.describe(), id.name),
                    )
                    .label(id.span, "not declared in this project")
                    .maybe_help(suggestion(&id.name, cands)),
                );
                None
            }
        }
    }

    /// The value of environment variable `name` (E0406 when not declared).
    pub fn env_value(&mut self, name: &str, span: Span) -> Option<Const> {
        self.used_env.insert(name.to_string());
        if let Some(v) = self.env_vals.get(name) {
            return v.clone();
        }
        let cands: Vec<&str> = self.env_decls.keys().copied().collect();
        self.diags.push(
            Diagnostic::new("E0406", format!("unknown environment variable `{name}`"))
                .label(span, "not declared in the `env` block")
                .maybe_help(
                    suggestion(name, cands)
                        .or_else(|| Some(format!("declare it: `env {{ {name}: string }}`"))),
                ),
        );
        self.env_vals.insert(name.to_string(), None);
        None
    }
}
