//! Models: their inputs (which must exist and be served online), grouped into typed input
//! tensors by an `inputs { }` block or one float32 tensor for a plain list, and their outputs.

use crate::body::{self, Allow, Field};
use crate::decls::Checker;
use crate::fast::HashMap;
use crate::hir::{decl_id, feature_id};
use mlp_diagnostics::{Diagnostic, Span};
use mlp_ir::{DType, EdgeKind, IdRange, InputRef, Spec, TensorInput, Type};
use mlp_syntax::ast::{self, Decl, DeclKind};

/// The inputs of a model being checked: each one once, with the graph edges they make.
#[derive(Default)]
struct Inputs {
    /// In order.
    list: Vec<InputRef>,
    /// Where each was first given.
    seen: HashMap<InputRef, Span>,
    /// Edges to the features and requests read.
    deps: Vec<(String, EdgeKind)>,
}

impl<'a> Checker<'a> {
    pub(crate) fn model(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "model", Allow::default());
        let Some(name) = d.name.as_ref().map(|n| n.name.clone()) else {
            return;
        };
        let format = match b.attr("format") {
            Some(e) => self.choice(e, "format", &["torchscript"]),
            None => Some("torchscript".to_string()),
        };
        let (outputs, derived) = self.model_outputs(&b, d);
        let mut inputs = Inputs::default();
        let mut tensors = Vec::new();
        match (b.attr("inputs"), b.blocks.get("inputs")) {
            (Some(_), Some((k, _))) => {
                self.diags.push(
                    Diagnostic::new("E0105", "both `inputs = [...]` and `inputs { }` given")
                        .label(k.span, "give one of them"),
                );
            }
            (Some(e), None) => {
                for it in e.items() {
                    if let Some(r) = self.model_input(it, &name, &mut inputs) {
                        self.fits(&r, it, "inputs", DType::Float32);
                        inputs.list.push(r);
                    }
                }
            }
            (None, Some((_, blk))) => tensors = self.input_tensors(blk, &name, &mut inputs),
            (None, None) => {
                self.required(
                    &b,
                    d,
                    "inputs",
                    "model",
                    "inputs = [view.feature, request.field]",
                );
            }
        }
        let owner = b.attr("owner").and_then(|e| self.string(e, "owner"));
        if let Some(e) = b.attr("description") {
            self.string(e, "description");
        }
        if let Some(m) = self.models.get_mut(&name) {
            m.inputs = inputs.list.clone();
        }
        if let Some(format) = format {
            self.push_decl(
                d,
                Spec::Model {
                    format,
                    inputs: inputs.list,
                    outputs,
                    owner,
                    tensors,
                    derived,
                },
                inputs.deps,
            );
        }
    }

    /// The tensors of an `inputs { name: dtype [in LO..HI [else D]] = inputs }` block, in
    /// order; their inputs are added to `inputs`.
    fn input_tensors(
        &mut self,
        blk: &'a ast::Block,
        model: &str,
        inputs: &mut Inputs,
    ) -> Vec<TensorInput> {
        let tb = body::sort_schema(
            &mut self.diags,
            blk,
            "model inputs",
            Allow {
                fields: true,
                ids: true,
                ..Allow::default()
            },
        );
        let mut tensors = Vec::new();
        for f in &tb.fields {
            if let Some(t) = self.input_tensor(f, model, inputs) {
                tensors.push(t);
            }
        }
        if tensors.is_empty() && tb.fields.is_empty() {
            self.diags.push(
                Diagnostic::new("E0104", format!("model `{model}` has no inputs"))
                    .label(blk.span, "an empty `inputs` block")
                    .help("name each tensor: `dense: float32 = [view.a, view.b]`"),
            );
        }
        tensors
    }

    /// One tensor of an `inputs` block: its dtype, its inputs (each of a type the dtype
    /// holds without loss) and its id range.
    fn input_tensor(
        &mut self,
        f: &Field<'a>,
        model: &str,
        inputs: &mut Inputs,
    ) -> Option<TensorInput> {
        let Some(dtype) = DType::parse(&f.ty.name) else {
            let names: Vec<&str> = DType::ALL.iter().map(|t| t.name()).collect();
            self.diags.push(
                Diagnostic::new("E0201", format!("unknown tensor type `{}`", f.ty.name))
                    .label(f.ty.span, "not a tensor element type")
                    .help(format!(
                        "a model input tensor is one of: {}",
                        names.join(", ")
                    )),
            );
            return None;
        };
        let Some(value) = f.value else {
            self.diags.push(
                Diagnostic::new(
                    "E0211",
                    format!("input tensor `{}` lists no inputs", f.name.name),
                )
                .label(f.name.span, "no `= ...`")
                .help(format!(
                    "write `{}: {} = [view.feature, request.field]`",
                    f.name.name,
                    dtype.name()
                )),
            );
            return None;
        };
        if let Some(w) = f.window {
            self.diags.push(
                Diagnostic::new("E0207", "a model input has no window")
                    .label(w.span, "not allowed here"),
            );
        }
        let vector = matches!(value.kind, ast::ExprKind::List(_));
        let mut refs = Vec::new();
        for it in value.items() {
            let Some(r) = self.model_input(it, model, inputs) else {
                continue;
            };
            self.fits(&r, it, &f.name.name, dtype);
            refs.push(r.clone());
            inputs.list.push(r);
        }
        let ids = f.ids.and_then(|r| self.id_range(r, dtype));
        Some(TensorInput {
            name: f.name.name.clone(),
            dtype,
            inputs: refs,
            vector,
            ids,
        })
    }

    /// An id range, checked: on an int64 tensor, not empty, its default inside it.
    fn id_range(&mut self, r: &ast::IdRange, dtype: DType) -> Option<IdRange> {
        let problem = if dtype != DType::Int64 {
            Some(format!("an id range on a {} tensor", dtype.name()))
        } else if r.lo >= r.hi {
            Some(format!("`{}..{}` holds no id", r.lo, r.hi))
        } else if r.lo < 0 {
            Some(format!(
                "`{}..{}` starts below 0, where ids are not valid",
                r.lo, r.hi
            ))
        } else {
            r.default
                .filter(|d| *d < r.lo || *d >= r.hi)
                .map(|d| format!("the default id {d} is outside `{}..{}`", r.lo, r.hi))
        };
        if let Some(p) = problem {
            self.diags.push(
                Diagnostic::new("E0218", p)
                    .label(r.span, "invalid id range")
                    .help("write `int64 in LO..HI` with 0 <= LO < HI (HI excluded), and `else D` with D in the range to map negative or missing ids to D"),
            );
            return None;
        }
        Some(IdRange {
            lo: r.lo,
            hi: r.hi,
            default: r.default,
        })
    }

    /// Reports input `r` (written at `it`) when its type does not fit tensor `tensor` of
    /// `dtype` without loss (E0217).
    fn fits(&mut self, r: &InputRef, it: &ast::Expr, tensor: &str, dtype: DType) {
        let Some(crate::typeck::Ty::Val(ty)) = self.input_type(r) else {
            return;
        };
        if let Some(why) = lossy(ty, dtype) {
            self.diags.push(
                Diagnostic::new(
                    "E0217",
                    format!(
                        "a {} does not fit `{tensor}`, a {} tensor",
                        ty.name(),
                        dtype.name()
                    ),
                )
                .label(it.span, format!("a {}", ty.name()))
                .help(why),
            );
        }
    }

    /// One model input (`view.feature`, `request.field`, `model.output`), resolved and
    /// checked: given once, served online, not the model's own output.
    fn model_input(
        &mut self,
        it: &ast::Expr,
        model: &str,
        inputs: &mut Inputs,
    ) -> Option<InputRef> {
        let Some(p) = it.as_path().filter(|p| p.len() == 2) else {
            self.diags.push(
                Diagnostic::new(
                    "E0211",
                    format!(
                        "a model input is `view.feature` or `request.field`, found {}",
                        it.describe()
                    ),
                )
                .label(it.span, "not an input"),
            );
            return None;
        };
        let r = self.member_ref(&p[0], &p[1])?;
        if let Some(first) = inputs.seen.get(&r) {
            self.diags.push(
                Diagnostic::new("E0315", "model input listed twice")
                    .label(it.span, "again here")
                    .related(*first, "first here"),
            );
            return None;
        }
        inputs.seen.insert(r.clone(), it.span);
        match &r {
            InputRef::Feature { view, feature } => {
                if self.views.get(view).is_some_and(|v| !v.online) {
                    self.diags.push(
                        Diagnostic::new("E0304", format!("`{view}.{feature}` is not served online"))
                            .label(it.span, format!("feature view `{view}` has `online = false`"))
                            .help("a deployed model needs every input online: remove `online = false` from the view"),
                    );
                }
                inputs
                    .deps
                    .push((feature_id(view, feature), EdgeKind::Input));
            }
            InputRef::Request { request, .. } => inputs
                .deps
                .push((decl_id(DeclKind::Request, request), EdgeKind::Input)),
            InputRef::ModelOutput { model: m, .. } => {
                if m == model {
                    self.diags.push(
                        Diagnostic::new("E0303", "a model cannot read its own output")
                            .label(it.span, "cycle"),
                    );
                    return None;
                }
                if let Some(k) = self
                    .models
                    .get(m)
                    .and_then(|i| i.outputs.get(&p[1].name))
                    .and_then(|c| c.width)
                {
                    self.diags.push(
                        Diagnostic::new("E0219", format!("`{m}.{}` is a vector of {k} values; a model input is one value per row", p[1].name))
                            .label(it.span, "a vector")
                            .help(format!("name one element in `{m}`'s outputs, `p: float = {}[1]`, and read `{m}.p`", p[1].name)),
                    );
                    return None;
                }
            }
        }
        Some(r)
    }
}

/// Why a value of type `ty` does not fit a `dtype` tensor without loss; `None` when it does.
fn lossy(ty: Type, dtype: DType) -> Option<String> {
    match (dtype, ty) {
        (DType::Float32, Type::Int | Type::Float | Type::Bool) => None,
        (DType::Int64, Type::Int | Type::Bool) => None,
        (DType::Int64, Type::Float) => Some(
            "an id tensor holds integers exactly: make the feature an `int`, or put it in a float32 tensor".into(),
        ),
        (_, Type::String) => Some(
            "text reaches a model only through an explicit lookup: write an `int` feature that maps it to an id (for example a feature over a source that holds the id)".into(),
        ),
        (_, Type::Timestamp) => Some(
            "a timestamp is not a model input: derive a number from it (`hour(ts)`, an age in seconds)".into(),
        ),
    }
}
