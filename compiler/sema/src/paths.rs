//! Name resolution inside expressions: what a dotted path (`col`, `view.feature`,
//! `labels.col`, an output, `step.metrics.name`) means in each expression scope, with its type
//! and IR.

use crate::decls::Checker;
use crate::fast::{HashSet, IndexMap};
use crate::typeck::{ret_ty, Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::{Column, InputRef, IrExpr, Literal, Type};
use mlp_stdlib::Kind;
use mlp_syntax::ast::Ident;

/// A path that resolves to nothing (a diagnostic says why).
fn unknown() -> (Ty, IrExpr) {
    (
        Ty::Unknown,
        IrExpr::Literal {
            value: Literal::Null,
        },
    )
}

/// `name` read as one of the outputs (not an element of a vector output).
fn output(name: &str) -> IrExpr {
    IrExpr::Output {
        name: name.to_string(),
        index: None,
    }
}

impl Checker<'_> {
    /// Resolves the path `p` in `scope`.
    pub(crate) fn path(
        &mut self,
        p: &[Ident],
        span: Span,
        scope: &Scope<'_>,
        found: &mut Found,
    ) -> (Ty, IrExpr) {
        let names: Vec<&str> = p.iter().map(|i| i.name.as_str()).collect();
        if names.first() == Some(&"env") {
            self.diags.push(
                Diagnostic::new(
                    "E0407",
                    "environment variables cannot be used in expressions",
                )
                .label(
                    span,
                    "an environment value here would make features differ between environments",
                )
                .help("use `env.NAME` in attribute values (paths, URLs, capacities) only"),
            );
            return unknown();
        }
        match (scope, names.as_slice()) {
            (Scope::Batch { schema, source }, [col]) => {
                self.batch_column(*schema, source, col, span, found)
            }
            (Scope::Batch { .. }, _) => {
                self.diags.push(
                    Diagnostic::new("E0101", format!("unknown column `{}`", names.join(".")))
                        .label(span, "a feature view with a source computes features from its columns")
                        .help("refer to a column by its bare name; features of other views are used in on-demand views"),
                );
                unknown()
            }
            (Scope::OnDemand, [_, _]) | (Scope::Monitor { .. }, [_, _])
                if names[0] != "labels" || matches!(scope, Scope::OnDemand) =>
            {
                self.member_path(&p[0], &p[1], span, scope, found)
            }
            (Scope::Monitor { labels, .. }, ["labels", col]) => {
                self.label_column(*labels, col, span)
            }
            (
                Scope::Monitor {
                    outputs,
                    deployment,
                    ..
                },
                [name],
            ) => self.monitor_name(outputs, deployment, name, span, scope),
            (Scope::Route { outputs, of }, [name]) => {
                self.route_output(outputs, of, name, span, scope)
            }
            (
                Scope::Gate {
                    metric_steps,
                    ancestors,
                    all_steps,
                },
                [_, "metrics", metric],
            ) => self.gate_metric(metric_steps, ancestors, all_steps, &p[0], metric),
            _ => {
                let help = match scope {
                    Scope::OnDemand => "on-demand features refer to `request.field` and `view.feature`",
                    Scope::Gate { .. } => "a gate reads `step.metrics.NAME` of a step it runs after",
                    Scope::Monitor { .. } => "a check reads outputs, `view.feature`, `request.field`, `labels.column` and metrics",
                    _ => "",
                };
                self.diags.push(
                    Diagnostic::new("E0101", format!("unknown name `{}`", names.join(".")))
                        .label(span, "cannot be resolved here")
                        .help(help),
                );
                unknown()
            }
        }
    }

    /// A bare column of a batch source, checked against its declared schema if it has one.
    fn batch_column(
        &mut self,
        schema: Option<&IndexMap<String, Type>>,
        source: &str,
        col: &str,
        span: Span,
        found: &mut Found,
    ) -> (Ty, IrExpr) {
        if let Some(schema) = schema {
            if !schema.contains_key(col) {
                self.diags.push(
                    Diagnostic::new("E0109", format!("source `{source}` has no column `{col}`"))
                        .label(span, "not in the source's schema")
                        .maybe_help(suggestion(col, schema.keys().map(String::as_str))),
                );
                return unknown();
            }
        }
        if found.depth == 0 {
            found.bare_columns.push((col.to_string(), span));
        }
        let t = schema
            .and_then(|s| s.get(col))
            .map_or(Ty::Unknown, |t| Ty::Val(*t));
        (
            t,
            IrExpr::Column {
                name: col.to_string(),
            },
        )
    }

    /// `view.feature` or `request.field` (or `model.output`) in an on-demand feature or a
    /// monitor check; a monitor may only read what its deployment logs.
    fn member_path(
        &mut self,
        owner: &Ident,
        member: &Ident,
        span: Span,
        scope: &Scope<'_>,
        found: &mut Found,
    ) -> (Ty, IrExpr) {
        let Some(r) = self.member_ref(owner, member) else {
            return unknown();
        };
        let t = self.input_type(&r).unwrap_or(Ty::Unknown);
        if let Scope::Monitor {
            logged, deployment, ..
        } = scope
        {
            if !logged.contains(&r) {
                let (view, member) = (&owner.name, &member.name);
                self.diags.push(
                    Diagnostic::new("E0311", format!("`{view}.{member}` is not logged by deployment `{deployment}`"))
                        .label(span, "the deployment's models do not read it")
                        .help("a monitor can check the inputs of the deployment's models, its request fields and its outputs"),
                );
            }
        }
        found.refs.push((r.clone(), span));
        let ir = match r {
            InputRef::Feature { view, feature } => IrExpr::Feature { view, feature },
            InputRef::Request { request, field } => IrExpr::Request { request, field },
            InputRef::ModelOutput { .. } => output(&member.name),
        };
        (t, ir)
    }

    /// `labels.col` in a monitor check: the monitor must declare its labels.
    fn label_column(&mut self, labels: bool, col: &str, span: Span) -> (Ty, IrExpr) {
        if !labels {
            self.diags.push(
                Diagnostic::new(
                    "E0312",
                    format!("`labels.{col}` used but the monitor declares no labels"),
                )
                .label(span, "no label source")
                .help("add `labels = \"path/to/labels.parquet\"` to the monitor"),
            );
        }
        (
            Ty::Unknown,
            IrExpr::Label {
                name: col.to_string(),
            },
        )
    }

    /// A bare name in a monitor check: one of the deployment's outputs, or a metric that
    /// takes no parameters.
    fn monitor_name(
        &mut self,
        outputs: &IndexMap<String, Column>,
        deployment: &str,
        name: &str,
        span: Span,
        scope: &Scope<'_>,
    ) -> (Ty, IrExpr) {
        if let Some(c) = outputs.get(name) {
            if self.whole_vector(c, span, scope) {
                return unknown();
            }
            return (Ty::Val(c.ty), output(name));
        }
        if let Some(m) = mlp_stdlib::get(Kind::Metric, name).filter(|m| m.params.is_none()) {
            return (
                ret_ty(&m.returns, &[]),
                IrExpr::Call {
                    func: name.to_string(),
                    args: Vec::new(),
                },
            );
        }
        let cands: Vec<String> = outputs
            .keys()
            .cloned()
            .chain(mlp_stdlib::names(Kind::Metric).map(str::to_string))
            .collect();
        self.diags.push(
            Diagnostic::new(
                "E0109",
                format!("`{name}` is neither an output of `{deployment}` nor a metric"),
            )
            .label(span, "unknown here")
            .maybe_help(suggestion(name, cands.iter().map(String::as_str))),
        );
        unknown()
    }

    /// A bare name in a route condition or a derived output: one of the outputs it reads.
    fn route_output(
        &mut self,
        outputs: &IndexMap<String, Column>,
        of: &str,
        name: &str,
        span: Span,
        scope: &Scope<'_>,
    ) -> (Ty, IrExpr) {
        match outputs.get(name) {
            Some(c) if self.whole_vector(c, span, scope) => unknown(),
            Some(c) => (Ty::Val(c.ty), output(name)),
            None => {
                self.diags.push(
                    Diagnostic::new("E0109", format!("{of} has no output `{name}`"))
                        .label(span, "unknown output")
                        .maybe_help(suggestion(name, outputs.keys().map(String::as_str)).or_else(|| {
                            (of == "the model").then(|| "a derived output reads the outputs the model returns (those without `=`)".to_string())
                        })),
                );
                unknown()
            }
        }
    }

    /// `step.metrics.name` in a gate: the step must exist, run before the gate, and write
    /// metrics.
    fn gate_metric(
        &mut self,
        metric_steps: &HashSet<String>,
        ancestors: &HashSet<String>,
        all_steps: &[String],
        step_ident: &Ident,
        metric: &str,
    ) -> (Ty, IrExpr) {
        let step = step_ident.name.as_str();
        let at = step_ident.span;
        if !all_steps.iter().any(|s| s == step) {
            self.diags.push(
                Diagnostic::new("E0101", format!("unknown step `{step}`"))
                    .label(at, "no such step in this pipeline")
                    .maybe_help(suggestion(step, all_steps.iter().map(String::as_str))),
            );
        } else if !ancestors.contains(step) {
            self.diags.push(
                Diagnostic::new(
                    "E0307",
                    format!("this step reads the metrics of `{step}` but does not run after it"),
                )
                .label(at, "not among the steps this one runs after")
                .help(format!("add `{step}` to `after`")),
            );
        } else if !metric_steps.contains(step) {
            self.diags.push(
                Diagnostic::new("E0317", format!("step `{step}` produces no metrics"))
                    .label(at, "only `run` steps write metrics.json")
                    .help("gate on the metrics of the step that trains the model"),
            );
        }
        (
            Ty::Val(Type::Float),
            IrExpr::Feature {
                view: format!("{step}.metrics"),
                feature: metric.to_string(),
            },
        )
    }
}
