//! A model's outputs: the scalars and vectors (`probs: float32[3]`) its `forward` returns
//! side by side, the outputs derived from them once it has run (`p_fraud: float =
//! probs[1]`), and the element reads (`probs[1]`) that route conditions and derived outputs
//! make. Vector misuse is E0219.

use crate::body::{self, Allow, Body};
use crate::decls::Checker;
use crate::fast::IndexMap;
use crate::typeck::{Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::{Column, IrExpr, Literal, Type};
use mlp_syntax::ast::{self, Decl, ExprKind, Ident, Width};
use std::collections::BTreeMap;

/// The most elements a vector output may have.
const MAX_WIDTH: u64 = 1 << 16;

/// E0219 for `[K]` after a type anywhere but a model's outputs.
pub(crate) fn misplaced_width(span: Span) -> Diagnostic {
    Diagnostic::new("E0219", "only a model's outputs can be vectors")
        .label(span, "not allowed here")
        .help("a vector output is declared in a model: `outputs { probs: float32[3] }`")
}

/// A model's outputs and, by name, the expressions of the derived ones.
pub(crate) type Outputs = (Vec<Column>, BTreeMap<String, IrExpr>);

impl<'a> Checker<'a> {
    /// `output = name: type`, `outputs = [...]` or `outputs { ... }` (one of them, required).
    pub(crate) fn model_outputs(&mut self, b: &Body<'a>, d: &'a Decl) -> Outputs {
        let attr = b.attr("output").or(b.attr("outputs"));
        if b.attr("output").is_some() && b.attr("outputs").is_some() {
            if let Some((k, _)) = b.attrs.get("outputs") {
                self.diags.push(
                    Diagnostic::new("E0105", "both `output` and `outputs` given")
                        .label(k.span, "give one of them"),
                );
            }
        }
        let block = b.blocks.get("outputs");
        if let (Some(_), Some((k, _))) = (attr, block) {
            self.diags.push(
                Diagnostic::new("E0105", "both `outputs = [...]` and `outputs { }` given")
                    .label(k.span, "give one of them"),
            );
        }
        match (attr, block) {
            (Some(e), _) => (self.output_list(e), BTreeMap::new()),
            (None, Some((k, blk))) => self.output_block(blk, k.span),
            (None, None) => {
                self.required(b, d, "output", "model", "output = score: float");
                (Vec::new(), BTreeMap::new())
            }
        }
    }

    /// `outputs = [a: float, probs: float32[3]]`: every output returned by `forward`.
    fn output_list(&mut self, e: &'a ast::Expr) -> Vec<Column> {
        let mut out: Vec<(Column, Span)> = Vec::new();
        for it in e.items() {
            match &it.kind {
                ExprKind::Typed { name, ty, width } => {
                    if let Some(c) = self.output_column(name, ty, *width) {
                        if self.first_output(&out, name) {
                            out.push((c, name.span));
                        }
                    }
                }
                _ => {
                    let help = it
                        .as_ident()
                        .map(|i| format!("give it a type: `{}: float`", i.name));
                    self.diags.push(
                        Diagnostic::new(
                            "E0211",
                            format!("`outputs` expects `name: type`, found {}", it.describe()),
                        )
                        .label(it.span, "expected `name: type`")
                        .maybe_help(help),
                    );
                }
            }
        }
        out.into_iter().map(|(c, _)| c).collect()
    }

    /// Whether `name` is not among `out` yet (E0105 when it is).
    fn first_output(&mut self, out: &[(Column, Span)], name: &Ident) -> bool {
        match out.iter().find(|(c, _)| c.name == name.name) {
            Some((_, first)) => {
                self.diags.push(
                    Diagnostic::new("E0105", format!("output `{}` declared twice", name.name))
                        .label(name.span, "again here")
                        .related(*first, "first here"),
                );
                false
            }
            None => true,
        }
    }

    /// `outputs { probs: float32[3]  p: float = probs[1] }`: the outputs `forward` returns
    /// (those without `=`), in order, and the ones derived from them.
    fn output_block(&mut self, blk: &'a ast::Block, at: Span) -> Outputs {
        let tb = body::sort_schema(
            &mut self.diags,
            blk,
            "model outputs",
            Allow {
                fields: true,
                widths: true,
                ..Allow::default()
            },
        );
        let mut out: Vec<(Column, Span)> = Vec::new();
        let mut defs = Vec::new();
        for f in &tb.fields {
            if let Some(w) = f.window {
                self.diags.push(
                    Diagnostic::new("E0106", "an output has no window")
                        .label(w.span, "remove `over ...`"),
                );
            }
            let Some(c) = self.output_column(f.name, f.ty, f.width) else {
                continue;
            };
            if let (Some(_), Some(w)) = (f.value, f.width) {
                self.diags.push(
                    Diagnostic::new("E0219", "a derived output is one value per row")
                        .label(w.span, "not a vector")
                        .help("derive one element of a vector: `p: float = probs[1]`"),
                );
                continue;
            }
            if !self.first_output(&out, f.name) {
                continue;
            }
            if let Some(v) = f.value {
                defs.push((c.name.clone(), c.ty, v));
            }
            out.push((c, f.name.span));
        }
        let returned: IndexMap<String, Column> = out
            .iter()
            .filter(|(c, _)| !defs.iter().any(|(n, _, _)| n == &c.name))
            .map(|(c, _)| (c.name.clone(), c.clone()))
            .collect();
        if returned.is_empty() && !out.is_empty() {
            self.diags.push(
                Diagnostic::new("E0219", "every output is derived: the model returns none")
                    .label(at, "no output without `=`")
                    .help("declare what `forward` returns: `outputs { probs: float32[3]  p: float = probs[1] }`"),
            );
        }
        let mut derived = BTreeMap::new();
        for (name, ty, v) in defs {
            let scope = Scope::Route {
                outputs: &returned,
                of: "the model",
            };
            let (t, ir) = self.expr(v, &scope, &mut Found::default());
            self.expect_type(t, ty, v.span, &name);
            derived.insert(name, ir);
        }
        (out.into_iter().map(|(c, _)| c).collect(), derived)
    }

    /// One output `name: type[K]`: `float32` is `float`; a vector holds 1 to 65,536 floats.
    fn output_column(&mut self, name: &Ident, ty: &Ident, width: Option<Width>) -> Option<Column> {
        let t = if ty.name == "float32" {
            Type::Float
        } else {
            self.value_type(ty)?
        };
        let Some(w) = width else {
            return Some(Column::scalar(name.name.clone(), t));
        };
        if t != Type::Float {
            self.diags.push(
                Diagnostic::new(
                    "E0219",
                    format!("a vector output holds floats, not {}", t.name()),
                )
                .label(ty.span, "not float32")
                .help(format!("declare `{}: float32[{}]`", name.name, w.n)),
            );
            return None;
        }
        if w.n == 0 || w.n > MAX_WIDTH {
            self.diags.push(
                Diagnostic::new(
                    "E0219",
                    format!("a vector output has 1 to {MAX_WIDTH} elements, not {}", w.n),
                )
                .label(w.span, "bad width"),
            );
            return None;
        }
        Some(Column {
            name: name.name.clone(),
            ty: t,
            width: u32::try_from(w.n).ok(),
        })
    }

    /// `path[index]`: one element of a vector output, in a route condition or a derived
    /// output; anywhere else E0219.
    pub(crate) fn element(
        &mut self,
        path: &[Ident],
        index: u64,
        index_span: Span,
        span: Span,
        scope: &Scope<'_>,
    ) -> (Ty, IrExpr) {
        let unknown = (
            Ty::Unknown,
            IrExpr::Literal {
                value: Literal::Null,
            },
        );
        let name = path
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let (outputs, of) = match scope {
            Scope::Route { outputs, of } => (*outputs, *of),
            Scope::Monitor { .. } => {
                self.diags.push(
                    Diagnostic::new("E0219", "a monitor reads one value per row, not an element of a vector")
                        .label(span, "not here")
                        .help(format!("name the element in the model, `p: float = {name}[{index}]`, and check `p`")),
                );
                return unknown;
            }
            _ => {
                self.diags.push(
                    Diagnostic::new("E0219", format!("`{name}[{index}]` reads an element of a model's vector output"))
                        .label(span, "not a vector output here")
                        .help("elements are read in route conditions (`when = probs[1] > 0.5`) and a model's derived outputs (`p: float = probs[1]`)"),
                );
                return unknown;
            }
        };
        let Some(c) = outputs.get(&name) else {
            self.diags.push(
                Diagnostic::new("E0109", format!("{of} has no output `{name}`"))
                    .label(span, "unknown output")
                    .maybe_help(suggestion(&name, outputs.keys().map(String::as_str))),
            );
            return unknown;
        };
        match c.width {
            None => {
                self.diags.push(
                    Diagnostic::new(
                        "E0219",
                        format!("`{name}` is one value per row, not a vector"),
                    )
                    .label(index_span, "remove the index")
                    .help(format!("read it as `{name}`")),
                );
                unknown
            }
            Some(k) if index >= u64::from(k) => {
                self.diags.push(
                    Diagnostic::new(
                        "E0219",
                        format!("`{name}` has {k} elements; `[{index}]` is past the last"),
                    )
                    .label(index_span, format!("0 to {} here", k - 1)),
                );
                unknown
            }
            Some(_) => (
                Ty::Val(c.ty),
                IrExpr::Output {
                    name,
                    index: u32::try_from(index).ok(),
                },
            ),
        }
    }

    /// E0219 when output `c`, read whole in an expression, is a vector.
    pub(crate) fn whole_vector(&mut self, c: &Column, span: Span, scope: &Scope<'_>) -> bool {
        let Some(k) = c.width else { return false };
        let help = match scope {
            Scope::Monitor { .. } => format!(
                "name an element in the model, `p: float = {}[1]`, and check `p`",
                c.name
            ),
            _ => format!(
                "read one element: `{}[0]` to `{}[{}]`",
                c.name,
                c.name,
                k.saturating_sub(1)
            ),
        };
        self.diags.push(
            Diagnostic::new(
                "E0219",
                format!("`{}` is a vector of {k} values, not one value", c.name),
            )
            .label(span, "a vector")
            .help(help),
        );
        true
    }
}
