//! The `env` block: declared variables matched against the values of `env/NAME.yaml`
//! (missing, mistyped and unknown values are reported in the YAML file).

use crate::body::{self, Allow, Field};
use crate::consts::Const;
use crate::decls::Checker;
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::Type;
use mlp_syntax::ast::{Decl, DeclKind, Expr};

impl<'a> Checker<'a> {
    /// Checks every `env { }` block: each variable declared once and given a value of its
    /// type, by env/NAME.yaml or its default; keys of the YAML file nothing declares.
    pub(crate) fn check_env(&mut self) {
        let decls: Vec<&'a Decl> = self
            .all_decls()
            .filter(|d| d.kind == DeclKind::Env)
            .collect();
        for d in decls {
            let b = body::sort_schema(
                &mut self.diags,
                &d.body,
                "env block",
                Allow {
                    fields: true,
                    ..Allow::default()
                },
            );
            for f in b.fields {
                let Some(ty) = self.value_type(f.ty) else {
                    continue;
                };
                if let Some((_, first)) = self.env_decls.get(f.name.name.as_str()) {
                    self.diags.push(
                        Diagnostic::new(
                            "E0105",
                            format!("environment variable `{}` declared twice", f.name.name),
                        )
                        .label(f.name.span, "declared again")
                        .related(*first, "first declared here"),
                    );
                    continue;
                }
                self.env_decls
                    .insert(f.name.name.as_str(), (ty, f.name.span));
                let from_file = self
                    .env
                    .values
                    .get(&f.name.name)
                    .map(|(v, _, vspan)| (yaml_const(v, ty), *vspan));
                let value = match from_file {
                    Some((c, vspan)) => self.env_file_value(&f, ty, c, vspan),
                    None => match f.value {
                        Some(e) => self.env_default(&f, ty, e),
                        None => {
                            self.no_env_value(&f);
                            None
                        }
                    },
                };
                self.env_vals.insert(f.name.name.clone(), value);
            }
        }
        if self.env.file.is_some() {
            self.undeclared_env_keys();
        }
    }

    /// The value env/NAME.yaml gives variable `f` (`c`, read as type `ty`; E0404 when it is
    /// not of that type).
    fn env_file_value(
        &mut self,
        f: &Field<'_>,
        ty: Type,
        c: Option<Const>,
        vspan: Span,
    ) -> Option<Const> {
        if c.is_none() {
            self.diags.push(
                Diagnostic::new(
                    "E0404",
                    format!(
                        "`{}` must be {} (declared `{}`)",
                        f.name.name,
                        article(ty),
                        ty.name()
                    ),
                )
                .label(vspan, format!("not {}", article(ty)))
                .related(f.name.span, "declared here"),
            );
        }
        c
    }

    /// Variable `f`'s default `e`, if it is a constant of type `ty` (E0202 if not).
    fn env_default(&mut self, f: &Field<'_>, ty: Type, e: &Expr) -> Option<Const> {
        match self.konst(e) {
            Some(c) if const_fits(&c, ty) => Some(c),
            _ => {
                self.diags.push(
                    Diagnostic::new(
                        "E0202",
                        format!("default of `{}` is not {}", f.name.name, article(ty)),
                    )
                    .label(e.span, format!("expected {}", article(ty))),
                );
                None
            }
        }
    }

    /// E0403: variable `f` has no default, and no env/NAME.yaml gives it a value.
    fn no_env_value(&mut self, f: &Field<'_>) {
        let mut d = Diagnostic::new(
            "E0403",
            format!("no value for environment variable `{}`", f.name.name),
        );
        match (self.env.file, &self.env.name) {
            (Some(file), Some(name)) => {
                let end = self
                    .map
                    .get(file)
                    .map_or(0, |f| f.text.find('\n').unwrap_or(f.text.len()));
                d = d
                    .label(
                        Span::new(file, 0, end),
                        format!("env/{name}.yaml has no `{}`", f.name.name),
                    )
                    .related(f.name.span, "declared here without a default")
                    .help(format!("add `{}: ...` to env/{name}.yaml", f.name.name));
            }
            _ => {
                d = d
                    .label(f.name.span, "no default and no environment selected")
                    .help("pass `--env NAME` to read env/NAME.yaml, or give a default: `NAME: type = value`");
            }
        }
        self.diags.push(d);
    }

    /// E0405 for each key of env/NAME.yaml that no `env` block declares.
    fn undeclared_env_keys(&mut self) {
        let keys: Vec<(String, Span)> = self
            .env
            .values
            .iter()
            .map(|(k, (_, ks, _))| (k.clone(), *ks))
            .collect();
        for (k, span) in keys {
            if !self.env_decls.contains_key(k.as_str()) {
                let cands: Vec<&str> = self.env_decls.keys().copied().collect();
                self.diags.push(
                    Diagnostic::new("E0405", format!("`{k}` is not declared in the `env` block"))
                        .label(span, "unknown key, ignored")
                        .maybe_help(
                            suggestion(&k, cands)
                                .or_else(|| Some(format!("declare it: `env {{ {k}: string }}`"))),
                        ),
                );
            }
        }
    }
}

pub(crate) fn article(t: Type) -> &'static str {
    match t {
        Type::Int => "an int",
        Type::Float => "a float",
        Type::Bool => "a bool",
        Type::String => "a string",
        Type::Timestamp => "a timestamp",
    }
}

pub(crate) fn const_fits(c: &Const, t: Type) -> bool {
    matches!(
        (c, t),
        (Const::Str(_), Type::String)
            | (Const::Int(_), Type::Int)
            | (Const::Int(_) | Const::Float(_), Type::Float)
            | (Const::Bool(_), Type::Bool)
    )
}

pub(crate) fn yaml_const(v: &serde_yaml::Value, t: Type) -> Option<Const> {
    match (v, t) {
        (serde_yaml::Value::String(s), Type::String) => Some(Const::Str(s.clone())),
        (serde_yaml::Value::Number(n), Type::Int) => n.as_i64().map(Const::Int),
        (serde_yaml::Value::Number(n), Type::Float) => n.as_f64().map(Const::Float),
        (serde_yaml::Value::Bool(b), Type::Bool) => Some(Const::Bool(*b)),
        _ => None,
    }
}
