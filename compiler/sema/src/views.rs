//! Feature views (column, expression, aggregation and on-demand features).

use crate::body::{self, Allow, Field};
use crate::decls::{doc_text, hir_decl, Checker};
use crate::fast::IndexMap;
use crate::hir::{decl_id, feature_id, HirDecl};
use crate::typeck::{assignable, Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::{EdgeKind, FeatureDef, InputRef, Spec, Type};
use mlp_syntax::ast::{Decl, DeclKind};

impl<'a> Checker<'a> {
    pub(crate) fn features(&mut self, d: &'a Decl) {
        let b = body::sort_schema(
            &mut self.diags,
            &d.body,
            "feature view",
            Allow {
                fields: true,
                ..Allow::default()
            },
        );
        let Some(vname) = d.name.as_ref().map(|n| n.name.clone()) else {
            return;
        };
        let source = b
            .attr("source")
            .and_then(|e| self.decl_ref(e, DeclKind::Source, "source"));
        let on_demand = b.attr("source").is_none();
        let entity = b
            .attr("entity")
            .and_then(|e| self.decl_ref(e, DeclKind::Entity, "entity"));
        if on_demand {
            for k in ["entity", "ttl"] {
                if let Some((key, _)) = b.attrs.get(k) {
                    self.diags.push(
                        Diagnostic::new("E0316", format!("`{k}` on an on-demand feature view"))
                            .label(
                                key.span,
                                "an on-demand view (no `source`) is computed per request",
                            )
                            .help("remove it, or give the view a `source`"),
                    );
                }
            }
        } else if b.attr("entity").is_none() {
            self.required(&b, d, "entity", "feature view", "entity = user");
        }
        let ttl_ms = b.attr("ttl").and_then(|e| self.duration_ms(e, "ttl"));
        let online = b
            .attr("online")
            .and_then(|e| self.boolean(e, "online"))
            .unwrap_or(true);
        let owner = b.attr("owner").and_then(|e| self.string(e, "owner"));
        if let Some(e) = b.attr("description") {
            self.string(e, "description");
        }
        let schema = source
            .as_ref()
            .and_then(|s| self.sources.get(s).cloned())
            .flatten();
        let source_name = source.clone().unwrap_or_default();
        let mut names = Vec::new();
        for f in &b.fields {
            let Some(ty) = self.value_type(f.ty) else {
                continue;
            };
            let fname = f.name.name.clone();
            let mut deps = vec![(decl_id(DeclKind::Features, &vname), EdgeKind::Contains)];
            let def = if on_demand {
                let Some(def) = self.on_demand_feature(f, ty, &mut deps) else {
                    continue;
                };
                def
            } else {
                self.batch_feature(f, ty, schema.as_ref(), &source_name)
            };
            names.push(fname.clone());
            self.push_feature(f, &vname, ty, def, deps);
        }
        let mut deps = Vec::new();
        if let Some(e) = &entity {
            deps.push((decl_id(DeclKind::Entity, e), EdgeKind::Keys));
        }
        if let Some(s) = &source {
            deps.push((decl_id(DeclKind::Source, s), EdgeKind::Reads));
        }
        let spec = Spec::FeatureView {
            entity,
            source,
            ttl_ms,
            online,
            owner,
            features: names,
        };
        self.insert_view(d, &vname, spec, deps);
    }

    /// Puts the view's own HIR declaration before its features, which were pushed first.
    fn insert_view(&mut self, d: &Decl, vname: &str, spec: Spec, deps: Vec<(String, EdgeKind)>) {
        let Some(h) = hir_decl(d, spec, deps) else {
            return;
        };
        let at = self.out.len()
            - self
                .out
                .iter()
                .rev()
                .take_while(|h| matches!(&h.spec, Spec::Feature { view, .. } if view == vname))
                .count();
        self.out.insert(at, h);
    }

    /// An on-demand feature: an expression over request fields and other features, computed
    /// per request; what it reads becomes its plan edges. `None` without a definition.
    fn on_demand_feature(
        &mut self,
        f: &Field<'_>,
        ty: Type,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<FeatureDef> {
        let fname = &f.name.name;
        let Some(v) = f.value else {
            self.diags.push(
                Diagnostic::new("E0104", format!("on-demand feature `{fname}` has no definition"))
                    .label(f.name.span, "needs `= expression`")
                    .help("on-demand features are computed from request fields and other features: `x: float = checkout.amount * 2`"),
            );
            return None;
        };
        let mut found = Found::default();
        let (t, ir) = self.expr(v, &Scope::OnDemand, &mut found);
        self.expect_type(t, ty, v.span, fname);
        if let Some(w) = f.window {
            self.diags.push(
                Diagnostic::new("E0207", "an on-demand feature has no window")
                    .label(w.span, "remove `over ...`"),
            );
        }
        for (r, _) in &found.refs {
            match r {
                InputRef::Feature { view, feature } => {
                    deps.push((feature_id(view, feature), EdgeKind::Computes))
                }
                InputRef::Request { request, .. } => {
                    deps.push((decl_id(DeclKind::Request, request), EdgeKind::Computes))
                }
                InputRef::ModelOutput { .. } => {}
            }
        }
        Some(FeatureDef::OnDemand { expr: ir })
    }

    /// A feature of a view with a source: a source column of the same name (no `=`), a
    /// row-level expression, or an aggregation over an optional window.
    fn batch_feature(
        &mut self,
        f: &Field<'_>,
        ty: Type,
        schema: Option<&IndexMap<String, Type>>,
        source_name: &str,
    ) -> FeatureDef {
        let fname = &f.name.name;
        let Some(v) = f.value else {
            if let Some(s) = schema {
                match s.get(fname) {
                    None => {
                        self.diags.push(
                            Diagnostic::new(
                                "E0109",
                                format!("source `{source_name}` has no column `{fname}`"),
                            )
                            .label(
                                f.name.span,
                                "a feature without `=` is a source column of the same name",
                            )
                            .maybe_help(suggestion(fname, s.keys().map(String::as_str))),
                        );
                    }
                    Some(t) => self.expect_type(Ty::Val(*t), ty, f.ty.span, fname),
                }
            }
            if let Some(w) = f.window {
                self.diags.push(
                    Diagnostic::new(
                        "E0207",
                        format!("`{fname}` has a window but no aggregation"),
                    )
                    .label(w.span, "nothing to aggregate")
                    .help("write `name: type = avg(column) over 7d`"),
                );
            }
            return FeatureDef::Column {
                column: fname.clone(),
            };
        };
        let scope = Scope::Batch {
            schema,
            source: source_name,
        };
        let mut found = Found::default();
        let errors_before = self.diags.error_count();
        let (t, ir) = self.expr(v, &scope, &mut found);
        let expr_failed = self.diags.error_count() > errors_before;
        self.expect_type(t, ty, v.span, fname);
        let window_ms = f.window.and_then(|w| self.duration_ms(w, "over"));
        if found.aggregates {
            for (col, span) in &found.bare_columns {
                self.diags.push(
                    Diagnostic::new("E0213", format!("column `{col}` is used outside an aggregation"))
                        .label(*span, "not aggregated")
                        .help(format!("an aggregated feature reads columns inside aggregations, e.g. `last({col})`")),
                );
            }
            return FeatureDef::Aggregate {
                expr: ir,
                window_ms,
            };
        }
        if let Some(w) = f.window.filter(|_| !expr_failed) {
            self.diags.push(
                Diagnostic::new("E0207", format!("`{fname}` has a window but no aggregation"))
                    .label(w.span, "nothing to aggregate over this window")
                    .help("wrap the column in an aggregation such as `sum(...)` or `avg(...)`, or remove `over ...`"),
            );
        }
        FeatureDef::Expr { expr: ir }
    }

    /// Adds feature `f` of view `vname` to the HIR, and records the features and request
    /// fields it is computed from.
    fn push_feature(
        &mut self,
        f: &Field<'_>,
        vname: &str,
        ty: Type,
        def: FeatureDef,
        deps: Vec<(String, EdgeKind)>,
    ) {
        let fname = f.name.name.clone();
        let id = feature_id(vname, &fname);
        let upstream: Vec<String> = deps
            .iter()
            .filter(|(d, _)| d.starts_with("feature.") || d.starts_with("request."))
            .map(|(d, _)| d.clone())
            .collect();
        if !upstream.is_empty() {
            self.feature_upstream.insert(id.clone(), upstream);
        }
        self.out.push(HirDecl {
            id,
            name: fname,
            kind: DeclKind::Features,
            span: f.name.span,
            doc: doc_text(&f.stmt.docs),
            spec: Spec::Feature {
                view: vname.to_string(),
                ty,
                def,
            },
            deps,
        });
    }

    pub(crate) fn expect_type(&mut self, t: Ty, declared: Type, span: Span, name: &str) {
        if !assignable(t, declared) {
            let help = match (t, declared) {
                (Ty::Val(Type::Float), Type::Int) => Some(
                    "declare it `float`, or round it: `round(...)` still gives a float".to_string(),
                ),
                _ => Some(format!(
                    "declare `{name}: {}` or change the expression",
                    t.name()
                )),
            };
            self.diags.push(
                Diagnostic::new(
                    "E0202",
                    format!(
                        "`{name}` is declared `{}` but its expression is a {}",
                        declared.name(),
                        t.name()
                    ),
                )
                .label(span, format!("this is a {}", t.name()))
                .maybe_help(help),
            );
        }
    }
}
