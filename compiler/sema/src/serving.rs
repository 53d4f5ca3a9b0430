//! Serving graphs: lowering a deployment's `model = ...` expression (a model reference, another
//! deployment, `chain`, `route` or `combine`) to a `GraphNode`, with the outputs it returns and
//! the inputs serving it logs.

use crate::decls::Checker;
use crate::fast::HashSet;
use crate::fast::IndexMap;
use crate::hir::{decl_id, feature_id};
use crate::typeck::{Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::*;
use mlp_syntax::ast::{self, DeclKind, ExprKind, VersionRef};

/// A lowered serving graph (or one part of it).
pub(crate) struct Node {
    /// The graph.
    pub(crate) node: GraphNode,
    /// What the graph returns.
    pub(crate) outputs: IndexMap<String, Column>,
    /// What serving the graph logs: its models' inputs, and what on-demand inputs are
    /// computed from.
    pub(crate) inputs: HashSet<InputRef>,
}

impl<'a> Checker<'a> {
    /// `model@version` or `model@alias`; version 0 is E0305.
    pub(crate) fn model_ref(
        &mut self,
        model: &ast::Ident,
        version: &VersionRef,
        vspan: Span,
    ) -> Option<ModelRef> {
        let m = self.resolve(model, DeclKind::Model)?;
        let version = match version {
            VersionRef::Number(0) => {
                self.diags.push(
                    Diagnostic::new("E0305", "model versions start at 1")
                        .label(vspan, "no version 0"),
                );
                return None;
            }
            VersionRef::Number(n) => VersionSel::Version(*n),
            VersionRef::Alias(a) => VersionSel::Alias(a.clone()),
        };
        Some(ModelRef { model: m, version })
    }

    /// Lowers the serving graph `e`. The deployments it names go to `refs` (for the cycle
    /// check) and every model and deployment it serves to `deps`.
    pub(crate) fn node(
        &mut self,
        e: &ast::Expr,
        refs: &mut Vec<(String, Span)>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        match &e.kind {
            ExprKind::ModelRef {
                model,
                version,
                version_span,
            } => self.model_node(model, version, *version_span, deps),
            ExprKind::Path(p) if p.len() == 1 => self.deployment_node(&p[0], refs, deps),
            ExprKind::Call { name, args } => match name.name.as_str() {
                "chain" => self.chain_node(e, args, refs, deps),
                "route" => self.route_node(e, args, refs, deps),
                "combine" | "ensemble" => self.combine_node(e, args, refs, deps),
                other => {
                    self.diags.push(
                        Diagnostic::new("E0203", format!("`{other}` is not a serving graph"))
                            .label(name.span, "unknown")
                            .maybe_help(suggestion(other, ["chain", "route", "combine"]).or_else(|| Some("a deployment serves `model@alias`, `chain(...)`, `route(...)` or `combine(...)`".into()))),
                    );
                    None
                }
            },
            _ => {
                self.diags.push(
                    Diagnostic::new("E0211", format!("a deployment serves a model reference like `model@production`, found {}", e.describe()))
                        .label(e.span, "not a model reference"),
                );
                None
            }
        }
    }

    /// `model@version`: the model's outputs, and its inputs as logged.
    fn model_node(
        &mut self,
        model: &ast::Ident,
        version: &VersionRef,
        version_span: Span,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        let r = self.model_ref(model, version, version_span)?;
        deps.push((decl_id(DeclKind::Model, &r.model), EdgeKind::Serves));
        let info = self.models.get(&r.model).cloned().unwrap_or_default();
        let inputs = self.logged_inputs(&info.inputs);
        Some(Node {
            node: GraphNode::Model { model: r },
            outputs: info.outputs,
            inputs,
        })
    }

    /// A bare name: another deployment (a model named without a version is E0305).
    fn deployment_node(
        &mut self,
        id: &ast::Ident,
        refs: &mut Vec<(String, Span)>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        if self
            .names
            .get(id.name.as_str())
            .is_some_and(|d| d.kind == DeclKind::Model)
        {
            self.diags.push(
                Diagnostic::new(
                    "E0305",
                    format!("model `{}` needs a version or alias", id.name),
                )
                .label(id.span, "which version?")
                .help(format!("write `{}@production` or `{}@3`", id.name, id.name)),
            );
            return None;
        }
        let name = self.resolve(id, DeclKind::Deployment)?;
        refs.push((name.clone(), id.span));
        deps.push((decl_id(DeclKind::Deployment, &name), EdgeKind::Serves));
        let info = self.deploy_info.get(&name).cloned().unwrap_or_default();
        Some(Node {
            node: GraphNode::Deployment { name },
            outputs: info.outputs,
            inputs: info.logged,
        })
    }

    /// `chain(a, b, ...)`: at least two steps (E0204); a model's inputs from another model's
    /// outputs must come from an earlier step (E0308). Returns the last step's outputs.
    fn chain_node(
        &mut self,
        e: &ast::Expr,
        args: &[ast::Arg],
        refs: &mut Vec<(String, Span)>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        if args.len() < 2 {
            self.diags.push(
                Diagnostic::new("E0204", "`chain` needs at least two steps")
                    .label(e.span, "too few steps"),
            );
        }
        let mut steps = Vec::new();
        let mut produced: HashSet<String> = HashSet::default();
        let mut inputs = HashSet::default();
        let mut outputs = IndexMap::default();
        for a in args {
            let n = self.node(&a.value, refs, deps)?;
            if let GraphNode::Model { model } = &n.node {
                let needs: Vec<InputRef> = self
                    .models
                    .get(&model.model)
                    .map(|m| m.inputs.clone())
                    .unwrap_or_default();
                for i in needs {
                    if let InputRef::ModelOutput { model: src, output } = &i {
                        if !produced.contains(src) {
                            self.diags.push(
                                Diagnostic::new("E0308", format!("`{}` reads `{src}.{output}`, which no earlier step of the chain produces", model.model))
                                    .label(a.value.span, "input not available here")
                                    .help(format!("put `{src}@...` before it in the chain")),
                            );
                        }
                    }
                }
            }
            // Every model this step runs (a deployment's graph included)
            // offers its outputs to the later steps.
            produced.extend(self.served_models(&n.node));
            inputs.extend(n.inputs);
            outputs = n.outputs;
            steps.push(n.node);
        }
        Some(Node {
            node: GraphNode::Chain { steps },
            outputs,
            inputs,
        })
    }

    /// `route(by = ..., when = ..., then = ..., else = ...)`: only those named arguments
    /// (E0205), all of them (E0204), a boolean condition over `by`'s outputs (E0212) and
    /// branches with the same outputs (E0309).
    fn route_node(
        &mut self,
        e: &ast::Expr,
        args: &[ast::Arg],
        refs: &mut Vec<(String, Span)>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        let get = |k: &str| {
            args.iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == k))
                .map(|a| &a.value)
        };
        for a in args {
            match &a.name {
                Some(n) if ["by", "when", "then", "else"].contains(&n.name.as_str()) => {}
                _ => {
                    self.diags.push(
                        Diagnostic::new("E0205", "`route` takes the named arguments `by`, `when`, `then` and `else`")
                            .label(a.value.span, "unexpected argument")
                            .help("route(by = m@production, when = score > 0.5, then = big@production, else = m@production)"),
                    );
                    return None;
                }
            }
        }
        let (Some(by), Some(when), Some(then), Some(otherwise)) =
            (get("by"), get("when"), get("then"), get("else"))
        else {
            self.diags.push(
                Diagnostic::new("E0204", "`route` needs `by`, `when`, `then` and `else`")
                    .label(e.span, "incomplete route")
                    .help("route(by = m@production, when = score > 0.5, then = big@production, else = m@production)"),
            );
            return None;
        };
        let by = self.node(by, refs, deps)?;
        let mut found = Found::default();
        let (t, cond) = self.expr(
            when,
            &Scope::Route {
                outputs: &by.outputs,
                of: "the router",
            },
            &mut found,
        );
        if !matches!(t, Ty::Val(Type::Bool) | Ty::Unknown) {
            self.diags.push(
                Diagnostic::new(
                    "E0212",
                    format!("route condition is a {}, not a boolean", t.name()),
                )
                .label(when.span, "expected a condition"),
            );
        }
        let a = self.node(then, refs, deps)?;
        let b = self.node(otherwise, refs, deps)?;
        if !same_outputs(&a.outputs, &b.outputs) {
            self.diags.push(
                Diagnostic::new("E0309", "the branches of a route return different outputs")
                    .label(otherwise.span, "outputs differ from `then`"),
            );
        }
        let mut inputs = by.inputs;
        inputs.extend(a.inputs);
        inputs.extend(b.inputs);
        Some(Node {
            node: GraphNode::Route {
                by: Box::new(by.node),
                when: cond,
                then: Box::new(a.node),
                otherwise: Box::new(b.node),
            },
            outputs: a.outputs,
            inputs,
        })
    }

    /// `combine(method, a, b, ..., weights = [...])` (or `ensemble`): a combiner from the
    /// stdlib, at least two members (E0204) with the same outputs (E0309), and weights as
    /// `combine_weights` checks them.
    fn combine_node(
        &mut self,
        e: &ast::Expr,
        args: &[ast::Arg],
        refs: &mut Vec<(String, Span)>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<Node> {
        let Some(first) = args.first() else {
            self.diags.push(
                Diagnostic::new("E0204", "`combine` needs a method and models")
                    .label(e.span, "empty"),
            );
            return None;
        };
        let combiners: Vec<&str> = mlp_stdlib::names(mlp_stdlib::Kind::Combiner).collect();
        let method = self.choice(&first.value, "combine method", &combiners)?;
        let mut members = Vec::new();
        let mut weights = Vec::new();
        let mut weights_span = None;
        let mut outputs: Option<IndexMap<String, Column>> = None;
        let mut inputs = HashSet::default();
        for a in &args[1..] {
            if a.name.as_ref().is_some_and(|n| n.name == "weights") {
                weights_span = Some(a.value.span);
                if let ExprKind::List(items) = &a.value.kind {
                    for it in items {
                        if let Some(w) = self.number(it, "weights") {
                            weights.push(w);
                        }
                    }
                }
                continue;
            }
            let n = self.node(&a.value, refs, deps)?;
            match &outputs {
                Some(o) if !same_outputs(o, &n.outputs) => {
                    self.diags.push(
                        Diagnostic::new("E0309", "combined models must return the same outputs")
                            .label(a.value.span, "outputs differ from the first model"),
                    );
                }
                None => outputs = Some(n.outputs.clone()),
                _ => {}
            }
            inputs.extend(n.inputs);
            members.push(n.node);
        }
        if members.len() < 2 {
            self.diags.push(
                Diagnostic::new("E0204", "`combine` needs at least two models")
                    .label(e.span, "too few models"),
            );
        }
        self.combine_weights(&method, &weights, weights_span, members.len(), e.span);
        Some(Node {
            node: GraphNode::Combine {
                method,
                members,
                weights,
            },
            outputs: outputs.unwrap_or_default(),
            inputs,
        })
    }

    /// E0310: `weighted` needs one weight per member (`weights_span` is where they were
    /// given, `span` the whole `combine`); every other method takes none.
    fn combine_weights(
        &mut self,
        method: &str,
        weights: &[f64],
        weights_span: Option<Span>,
        members: usize,
        span: Span,
    ) {
        match (method, weights_span) {
            ("weighted", None) => {
                self.diags.push(
                    Diagnostic::new("E0310", "`weighted` needs `weights = [...]`")
                        .label(span, "no weights")
                        .help("one weight per model"),
                );
            }
            ("weighted", Some(s)) if weights.len() != members => {
                self.diags.push(
                    Diagnostic::new(
                        "E0310",
                        format!("{} weights for {} models", weights.len(), members),
                    )
                    .label(s, "one weight per model"),
                );
            }
            (m, Some(s)) if m != "weighted" => {
                self.diags.push(
                    Diagnostic::new("E0310", format!("`{m}` takes no weights"))
                        .label(s, "remove, or use `weighted`"),
                );
            }
            _ => {}
        }
    }

    /// What serving a model with `inputs` logs: the inputs, and what on-demand inputs are
    /// computed from (their features and every field of the requests they read).
    fn logged_inputs(&self, inputs: &[InputRef]) -> HashSet<InputRef> {
        let mut out = HashSet::default();
        let mut stack: Vec<InputRef> = inputs
            .iter()
            .filter(|i| !matches!(i, InputRef::ModelOutput { .. }))
            .cloned()
            .collect();
        while let Some(i) = stack.pop() {
            if !out.insert(i.clone()) {
                continue;
            }
            let InputRef::Feature { view, feature } = &i else {
                continue;
            };
            let id = feature_id(view, feature);
            let Some(deps) = self.feature_upstream.get(&id) else {
                continue;
            };
            for dep in deps {
                if let Some(rest) = dep.strip_prefix("feature.") {
                    if let Some((v, f)) = rest.split_once('.') {
                        stack.push(InputRef::Feature {
                            view: v.to_string(),
                            feature: f.to_string(),
                        });
                    }
                } else if let Some(req) = dep.strip_prefix("request.") {
                    for field in self
                        .requests
                        .get(req)
                        .map(|r| r.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default()
                    {
                        stack.push(InputRef::Request {
                            request: req.to_string(),
                            field,
                        });
                    }
                }
            }
        }
        out
    }

    /// The models a serving graph runs, through the deployments it names.
    pub(crate) fn served_models(&self, g: &GraphNode) -> Vec<String> {
        match g {
            GraphNode::Model { model } => vec![model.model.clone()],
            GraphNode::Deployment { name } => self
                .deploy_info
                .get(name)
                .map(|d| d.models.clone())
                .unwrap_or_default(),
            other => other
                .children()
                .into_iter()
                .flat_map(|s| self.served_models(s))
                .collect(),
        }
    }
}

/// Whether two nodes return the same outputs in the same order (the graph's answers are rows
/// of them side by side, so a branch or member with another order would be misread).
pub(crate) fn same_outputs(a: &IndexMap<String, Column>, b: &IndexMap<String, Column>) -> bool {
    a.len() == b.len() && a.values().zip(b.values()).all(|(x, y)| x == y)
}
