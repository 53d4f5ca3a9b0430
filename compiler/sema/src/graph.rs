//! Pipelines, deployments (serving graphs), monitors and consumers: the declarations that
//! connect the others, with the cycle checks over steps, deployment graphs and on-demand
//! features.

use crate::body::{self, Allow};
use crate::cycles::find_cycles;
use crate::decls::Checker;
use crate::hir::{decl_id, feature_id};
use crate::typeck::{Found, Scope, Ty};
use indexmap::IndexMap;
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::*;
use mlp_syntax::ast::{self, Decl, DeclKind, ExprKind, VersionRef};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What monitors and consumers need to know about a deployment.
#[derive(Debug, Clone, Default)]
pub struct DeployInfo {
    /// Outputs.
    pub outputs: IndexMap<String, Type>,
    /// Logged features and request fields.
    pub logged: HashSet<InputRef>,
    /// Logging off.
    pub log_none: bool,
    /// The models its graph runs (their outputs are available to later steps of a chain).
    pub models: Vec<String>,
}

struct Node {
    node: GraphNode,
    outputs: IndexMap<String, Type>,
    inputs: HashSet<InputRef>,
}

impl<'a> Checker<'a> {
    fn model_ref(
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

    fn node(
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
            } => {
                let r = self.model_ref(model, version, *version_span)?;
                deps.push((decl_id(DeclKind::Model, &r.model), EdgeKind::Serves));
                let info = self.models.get(&r.model).cloned().unwrap_or_default();
                let inputs = self.logged_inputs(&info.inputs);
                Some(Node {
                    node: GraphNode::Model { model: r },
                    outputs: info.outputs,
                    inputs,
                })
            }
            ExprKind::Path(p) if p.len() == 1 => {
                let id = &p[0];
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
            ExprKind::Call { name, args } => match name.name.as_str() {
                "chain" => {
                    if args.len() < 2 {
                        self.diags.push(
                            Diagnostic::new("E0204", "`chain` needs at least two steps")
                                .label(e.span, "too few steps"),
                        );
                    }
                    let mut steps = Vec::new();
                    let mut produced: HashSet<String> = HashSet::new();
                    let mut inputs = HashSet::new();
                    let mut outputs = IndexMap::new();
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
                "route" => {
                    let get = |k: &str| {
                        args.iter()
                            .find(|a| a.name.as_ref().is_some_and(|n| n.name == k))
                            .map(|a| &a.value)
                    };
                    for a in args {
                        match &a.name {
                            Some(n)
                                if ["by", "when", "then", "else"].contains(&n.name.as_str()) => {}
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
                    if a.outputs != b.outputs {
                        self.diags.push(
                            Diagnostic::new(
                                "E0309",
                                "the branches of a route return different outputs",
                            )
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
                "combine" | "ensemble" => {
                    let Some(first) = args.first() else {
                        self.diags.push(
                            Diagnostic::new("E0204", "`combine` needs a method and models")
                                .label(e.span, "empty"),
                        );
                        return None;
                    };
                    let combiners: Vec<&str> =
                        mlp_stdlib::names(mlp_stdlib::Kind::Combiner).collect();
                    let method = self.choice(&first.value, "combine method", &combiners)?;
                    let mut members = Vec::new();
                    let mut weights = Vec::new();
                    let mut weights_span = None;
                    let mut outputs: Option<IndexMap<String, Type>> = None;
                    let mut inputs = HashSet::new();
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
                            Some(o) if *o != n.outputs => {
                                self.diags.push(
                                    Diagnostic::new(
                                        "E0309",
                                        "combined models must return the same outputs",
                                    )
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
                    match (method.as_str(), weights_span) {
                        ("weighted", None) => {
                            self.diags.push(
                                Diagnostic::new("E0310", "`weighted` needs `weights = [...]`")
                                    .label(e.span, "no weights")
                                    .help("one weight per model"),
                            );
                        }
                        ("weighted", Some(s)) if weights.len() != members.len() => {
                            self.diags.push(
                                Diagnostic::new(
                                    "E0310",
                                    format!(
                                        "{} weights for {} models",
                                        weights.len(),
                                        members.len()
                                    ),
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

    /// What serving a model with `inputs` logs: the inputs, and what on-demand inputs are
    /// computed from (their features and every field of the requests they read).
    fn logged_inputs(&self, inputs: &[InputRef]) -> HashSet<InputRef> {
        let mut out = HashSet::new();
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
            let Some(h) = self.out.iter().find(|h| h.id == id) else {
                continue;
            };
            for (dep, _) in &h.deps {
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

    pub(crate) fn deployment(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "deployment", Allow::default());
        let Some(name) = d.name.as_ref().map(|n| n.name.clone()) else {
            return;
        };
        let mut refs = Vec::new();
        let mut deps = Vec::new();
        let node = self
            .required(&b, d, "model", "deployment", "model = my_model@production")
            .and_then(|e| self.node(e, &mut refs, &mut deps));
        self.deploy_refs.insert(name.clone(), refs);
        let mut sla = Sla::default();
        if let Some(blk) = b.block("sla") {
            let keys = [
                "latency_p50",
                "latency_p90",
                "latency_p95",
                "latency_p99",
                "latency_p999",
                "throughput",
                "error_rate",
            ];
            let sb = body::sort(&mut self.diags, blk, "sla", &keys, &[], Allow::default());
            for (k, (_, v)) in &sb.attrs {
                if let Some(p) = k.strip_prefix("latency_") {
                    if let Some(ms) = self.duration(v, k) {
                        sla.latency_ms.insert(p.to_string(), ms);
                    }
                } else if *k == "throughput" {
                    sla.throughput_per_s = self.rate(v, k);
                } else {
                    sla.error_rate = self.fraction(v, k);
                }
            }
        }
        let log = match b.attr("log") {
            None => LogPolicy::All,
            Some(e) => match &e.kind {
                ExprKind::Call { name: n, args } if n.name == "sample" && args.len() == 1 => {
                    match self.fraction(&args[0].value, "sample") {
                        Some(f) => LogPolicy::Sample { fraction: f },
                        None => LogPolicy::All,
                    }
                }
                _ => match self.choice(e, "log", &["all", "none", "sample"]).as_deref() {
                    Some("none") => LogPolicy::None,
                    _ => LogPolicy::All,
                },
            },
        };
        let shadow = b.attr("shadow").and_then(|e| match &e.kind {
            ExprKind::ModelRef {
                model,
                version,
                version_span,
            } => {
                let r = self.model_ref(model, version, *version_span)?;
                deps.push((decl_id(DeclKind::Model, &r.model), EdgeKind::Serves));
                Some((r, e.span))
            }
            _ => {
                self.diags.push(
                    Diagnostic::new(
                        "E0211",
                        format!(
                            "`shadow` expects a model reference like `model@staging`, found {}",
                            e.describe()
                        ),
                    )
                    .label(e.span, "not a model reference"),
                );
                None
            }
        });
        if let (Some((s, span)), Some(n)) = (&shadow, &node) {
            let so = self
                .models
                .get(&s.model)
                .map(|m| m.outputs.clone())
                .unwrap_or_default();
            if so != n.outputs {
                self.diags.push(
                    Diagnostic::new("E0322", format!("shadow model `{}` returns different outputs than the served graph", s.model))
                        .label(*span, "outputs differ")
                        .help("a shadow runs on the same requests and is compared with the served outputs"),
                );
            }
        }
        let batching = b.block("batching").map(|blk| {
            let bb = body::sort_schema(&mut self.diags, blk, "batching", Allow::default());
            let mb = bb
                .attr("max_batch")
                .and_then(|e| self.uint(e, "max_batch", 1));
            let md = bb
                .attr("max_delay")
                .and_then(|e| self.duration(e, "max_delay"));
            Batching {
                max_batch: mb.unwrap_or(64),
                max_delay_ms: md.unwrap_or(2.0),
            }
        });
        let device = b
            .attr("device")
            .and_then(|e| self.choice(e, "device", &["cpu", "cuda", "auto"]))
            .unwrap_or_else(|| "auto".into());
        let mode = b
            .attr("mode")
            .and_then(|e| self.choice(e, "mode", &["online", "lookup"]))
            .unwrap_or_else(|| "online".into());
        let replicas = b.attr("replicas").and_then(|e| self.uint(e, "replicas", 1));
        for k in ["owner", "description"] {
            if let Some(e) = b.attr(k) {
                self.string(e, k);
            }
        }
        let Some(n) = node else { return };
        if mode == "lookup" {
            if let Some(e) = b.attr("mode") {
                self.lookup_inputs(&n.node, e.span);
            }
        }
        let logged = if matches!(log, LogPolicy::None) {
            HashSet::new()
        } else {
            n.inputs.clone()
        };
        self.deploy_info.insert(
            name,
            DeployInfo {
                outputs: n.outputs.clone(),
                logged,
                log_none: matches!(log, LogPolicy::None),
                models: self.served_models(&n.node),
            },
        );
        let outputs = n
            .outputs
            .iter()
            .map(|(k, t)| Column {
                name: k.clone(),
                ty: *t,
            })
            .collect();
        let spec = Spec::Deployment {
            graph: n.node,
            outputs,
            sla,
            log,
            shadow: shadow.map(|(s, _)| s),
            batching,
            device,
            mode,
            replicas,
        };
        self.push_decl(d, spec, deps);
    }

    /// The models a serving graph runs, through the deployments it names.
    fn served_models(&self, g: &GraphNode) -> Vec<String> {
        match g {
            GraphNode::Model { model } => vec![model.model.clone()],
            GraphNode::Deployment { name } => self
                .deploy_info
                .get(name)
                .map(|d| d.models.clone())
                .unwrap_or_default(),
            GraphNode::Chain { steps } => {
                steps.iter().flat_map(|s| self.served_models(s)).collect()
            }
            GraphNode::Route {
                by,
                then,
                otherwise,
                ..
            } => [by, then, otherwise]
                .iter()
                .flat_map(|s| self.served_models(s))
                .collect(),
            GraphNode::Combine { members, .. } => {
                members.iter().flat_map(|s| self.served_models(s)).collect()
            }
        }
    }

    /// `mode = lookup` precomputes one answer per entity key: every input the graph's
    /// models read must be a materialized feature, all of views on one entity (E0323).
    fn lookup_inputs(&mut self, g: &GraphNode, span: Span) {
        fn models(g: &GraphNode, out: &mut Vec<String>) {
            match g {
                GraphNode::Model { model } => out.push(model.model.clone()),
                GraphNode::Deployment { .. } => {}
                GraphNode::Chain { steps } => steps.iter().for_each(|s| models(s, out)),
                GraphNode::Route {
                    by,
                    then,
                    otherwise,
                    ..
                } => [by, then, otherwise].iter().for_each(|s| models(s, out)),
                GraphNode::Combine { members, .. } => members.iter().for_each(|s| models(s, out)),
            }
        }
        let mut names = Vec::new();
        models(g, &mut names);
        let mut entity: Option<(String, String)> = None;
        for m in names {
            let inputs = self
                .models
                .get(&m)
                .map(|i| i.inputs.clone())
                .unwrap_or_default();
            for i in inputs {
                let why = match &i {
                    InputRef::ModelOutput { .. } => continue,
                    InputRef::Request { request, field } => {
                        format!("`{m}` reads the request field `{request}.{field}`")
                    }
                    InputRef::Feature { view, feature } => {
                        let info = self.views.get(view);
                        match info.and_then(|v| v.entity.clone()) {
                            Some(e) if info.is_some_and(|v| !v.on_demand) => {
                                match &entity {
                                    Some((first, at)) if *first != e => format!(
                                        "`{m}` reads `{view}.{feature}`, a `{e}` feature, and `{at}` is a `{first}` feature"
                                    ),
                                    Some(_) => continue,
                                    None => {
                                        entity = Some((e, format!("{view}.{feature}")));
                                        continue;
                                    }
                                }
                            }
                            _ => format!("`{m}` reads `{view}.{feature}`, an on-demand feature"),
                        }
                    }
                };
                self.diags.push(
                    Diagnostic::new("E0323", "a lookup deployment's inputs are not one entity's features")
                        .label(span, why)
                        .help("mode = lookup precomputes one answer per entity key of the online store; serve this graph with mode = online"),
                );
                return;
            }
        }
    }

    pub(crate) fn monitor(&mut self, d: &'a Decl) {
        // Checked in full (so that a monitor written now is right when monitors run), and
        // rejected: nothing evaluates it yet.
        self.diags.push(body::rejection(
            &crate::support::MONITORS,
            d.name.as_ref().map_or(d.kind_span, |n| n.span),
        ));
        let b = body::sort_schema(
            &mut self.diags,
            &d.body,
            "monitor",
            Allow {
                checks: true,
                ..Allow::default()
            },
        );
        let Some(on) = self
            .required(&b, d, "on", "monitor", "on = my_deployment")
            .and_then(|e| self.decl_ref(e, DeclKind::Deployment, "on"))
        else {
            return;
        };
        let every_ms = b
            .attr("every")
            .and_then(|e| self.duration_ms(e, "every"))
            .unwrap_or(3_600_000);
        let window_ms = b
            .attr("window")
            .and_then(|e| self.duration_ms(e, "window"))
            .unwrap_or(86_400_000);
        let baseline = match b.attr("baseline") {
            None => Baseline::Training,
            Some(e) => match &e.kind {
                ExprKind::Str { .. } => self
                    .string(e, "baseline")
                    .map_or(Baseline::Training, |path| Baseline::File { path }),
                ExprKind::Call { name, args } if name.name == "previous" && args.len() == 1 => {
                    Baseline::Previous {
                        window_ms: self
                            .duration_ms(&args[0].value, "previous")
                            .unwrap_or(window_ms),
                    }
                }
                _ => {
                    self.choice(e, "baseline", &["training"]);
                    Baseline::Training
                }
            },
        };
        let labels = b.attr("labels").and_then(|e| self.string(e, "labels"));
        let info = self.deploy_info.get(&on).cloned().unwrap_or_default();
        if info.log_none && !b.checks.is_empty() {
            if let Some((k, _)) = b.attrs.get("on") {
                self.diags.push(
                    Diagnostic::new(
                        "E0319",
                        format!(
                            "deployment `{on}` logs nothing, so this monitor has nothing to check"
                        ),
                    )
                    .label(k.span, "on a deployment with `log = none`")
                    .help("set `log = all` or `log = sample(10%)` on the deployment"),
                );
            }
        }
        let mut checks = Vec::new();
        let mut deps = vec![(decl_id(DeclKind::Deployment, &on), EdgeKind::Monitors)];
        for c in &b.checks {
            let mut found = Found::default();
            let scope = Scope::Monitor {
                outputs: &info.outputs,
                logged: &info.logged,
                labels: labels.is_some(),
                deployment: &on,
            };
            let (t, ir) = self.expr(c, &scope, &mut found);
            if !matches!(t, Ty::Val(Type::Bool) | Ty::Unknown) {
                self.diags.push(
                    Diagnostic::new(
                        "E0212",
                        format!("a check must be a condition, this is a {}", t.name()),
                    )
                    .label(c.span, "not a boolean")
                    .help("compare it with a threshold, e.g. `check psi(view.feature) < 0.2`"),
                );
            }
            for (r, _) in found.refs {
                if let InputRef::Feature { view, feature } = r {
                    deps.push((feature_id(&view, &feature), EdgeKind::Monitors));
                }
            }
            checks.push(Check {
                text: mlp_syntax_text(self.map, c.span),
                expr: ir,
            });
        }
        let mut alerts = Vec::new();
        if let Some(e) = b.attr("alert") {
            let items = e.items();
            for it in items {
                match &it.kind {
                    ExprKind::Call { name, args } => {
                        if let Some(s) =
                            self.builtin_call(name, args, mlp_stdlib::Kind::Sink, None, "alert")
                        {
                            alerts.push(s);
                        }
                    }
                    ExprKind::Path(p) if p.len() == 1 && p[0].name == "log" => {
                        alerts.push(Backend {
                            kind: "log".into(),
                            args: BTreeMap::new(),
                        })
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::new(
                                "E0211",
                                format!(
                                    "`alert` expects a sink such as `webhook(\"...\")`, found {}",
                                    it.describe()
                                ),
                            )
                            .label(it.span, "not a sink"),
                        );
                    }
                }
            }
        }
        for k in ["owner", "description"] {
            if let Some(e) = b.attr(k) {
                self.string(e, k);
            }
        }
        self.push_decl(
            d,
            Spec::Monitor {
                on,
                every_ms,
                window_ms,
                baseline,
                labels,
                checks,
                alerts,
            },
            deps,
        );
    }

    pub(crate) fn consumer(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "consumer", Allow::default());
        let mut uses = Vec::new();
        let mut deps = Vec::new();
        if let Some(e) = self.required(&b, d, "uses", "consumer", "uses = my_deployment.score") {
            let items = e.items();
            for it in items {
                let Some(p) = it.as_path().filter(|p| p.len() == 2 || p.len() == 1) else {
                    self.diags.push(
                        Diagnostic::new(
                            "E0211",
                            format!(
                                "`uses` expects `deployment.output`, found {}",
                                it.describe()
                            ),
                        )
                        .label(it.span, "not an output"),
                    );
                    continue;
                };
                let Some(dep) = self.resolve(&p[0], DeclKind::Deployment) else {
                    continue;
                };
                let outs = self
                    .deploy_info
                    .get(&dep)
                    .map(|i| i.outputs.clone())
                    .unwrap_or_default();
                let selected: Vec<String> = match p.get(1) {
                    Some(o) if outs.contains_key(&o.name) || outs.is_empty() => {
                        vec![o.name.clone()]
                    }
                    Some(o) => {
                        self.diags.push(
                            Diagnostic::new(
                                "E0109",
                                format!("deployment `{dep}` has no output `{}`", o.name),
                            )
                            .label(o.span, "unknown output")
                            .maybe_help(suggestion(&o.name, outs.keys().map(String::as_str))),
                        );
                        continue;
                    }
                    None => outs.keys().cloned().collect(),
                };
                for o in selected {
                    uses.push((dep.clone(), o));
                }
                deps.push((decl_id(DeclKind::Deployment, &dep), EdgeKind::Consumes));
            }
        }
        let owner = b.attr("owner").and_then(|e| self.string(e, "owner"));
        for k in ["contact", "description"] {
            if let Some(e) = b.attr(k) {
                self.string(e, k);
            }
        }
        self.push_decl(d, Spec::Consumer { uses, owner }, deps);
    }

    /// E0303: deployments whose graphs reach themselves.
    pub(crate) fn deployment_cycles(&mut self) {
        let edges = self.deploy_refs.iter().flat_map(|(from, refs)| {
            refs.iter()
                .map(move |(to, span)| (from.clone(), to.clone(), *span))
        });
        let cycles = find_cycles(self.deploy_refs.keys().cloned(), edges);
        for c in cycles {
            let Some((from, to, span)) = c.edges.first() else {
                continue;
            };
            let path: Vec<String> = c.members.iter().map(|m| format!("`{m}`")).collect();
            self.diags.push(
                Diagnostic::new(
                    "E0303",
                    format!(
                        "deployments serve each other in a cycle: {}",
                        path.join(" -> ")
                    ),
                )
                .label(*span, format!("`{from}` serves `{to}` here"))
                .help("a serving graph must end in models; break the cycle"),
            );
        }
    }

    /// E0301: on-demand features that depend on themselves.
    pub(crate) fn on_demand_cycles(&mut self) {
        let on_demand: HashMap<&str, usize> = self
            .out
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                matches!(
                    &h.spec,
                    Spec::Feature {
                        def: FeatureDef::OnDemand { .. },
                        ..
                    }
                )
            })
            .map(|(i, h)| (h.id.as_str(), i))
            .collect();
        let od = &on_demand;
        let edges = self.out.iter().flat_map(|h| {
            let to = od.get(h.id.as_str()).copied();
            h.deps
                .iter()
                .filter_map(move |(dep, _)| Some((*od.get(dep.as_str())?, to?, ())))
        });
        let cycles = find_cycles(on_demand.values().copied(), edges);
        for c in cycles {
            let names: Vec<String> = c
                .members
                .iter()
                .map(|i| self.out[*i].id.trim_start_matches("feature.").to_string())
                .collect();
            let first = self.out[c.members[0]].span;
            self.diags.push(
                Diagnostic::new(
                    "E0301",
                    format!(
                        "on-demand features depend on each other in a cycle: {}",
                        names.join(" -> ")
                    ),
                )
                .label(first, "part of the cycle")
                .help("compute one of them from request fields or batch features only"),
            );
        }
    }
}

fn mlp_syntax_text(map: &mlp_diagnostics::SourceMap, span: Span) -> String {
    map.slice(span)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
