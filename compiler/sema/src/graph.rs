//! Deployments (their SLA, logging, shadow, batching and lookup mode; the serving graph itself
//! is lowered in `serving.rs`), monitors and consumers: the declarations that connect
//! the others, with the cycle checks over deployment graphs and on-demand features.

use crate::body::{self, Allow};
use crate::cycles::find_cycles;
use crate::decls::Checker;
use crate::fast::IndexMap;
use crate::fast::{HashMap, HashSet};
use crate::hir::{decl_id, feature_id};
use crate::serving::Node;
use crate::typeck::{Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::*;
use mlp_syntax::ast::{self, Decl, DeclKind, ExprKind};
use std::collections::BTreeMap;

/// What monitors and consumers need to know about a deployment.
#[derive(Debug, Clone, Default)]
pub struct DeployInfo {
    /// Outputs.
    pub outputs: IndexMap<String, Column>,
    /// Logged features and request fields.
    pub logged: HashSet<InputRef>,
    /// Logging off.
    pub log_none: bool,
    /// The models its graph runs (their outputs are available to later steps of a chain).
    pub models: Vec<String>,
}

impl<'a> Checker<'a> {
    /// A deployment: the serving graph under `model`, its SLA, logging, shadow, batching,
    /// device, mode and replicas; records what monitors, consumers and other deployments
    /// see of it in `deploy_info`.
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
        let sla = b.block("sla").map(|blk| self.sla(blk)).unwrap_or_default();
        let log = self.log_policy(b.attr("log"));
        let shadow = b
            .attr("shadow")
            .and_then(|e| self.shadow(e, node.as_ref(), &mut deps));
        let batching = b.block("batching").map(|blk| self.batching(blk));
        let resources = b
            .block("resources")
            .map(|blk| Box::new(self.resources(blk)));
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
            HashSet::default()
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
        let outputs = n.outputs.values().cloned().collect();
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
            resources,
        };
        self.push_decl(d, spec, deps);
    }

    /// A deployment's `sla { }` block: latency percentiles, throughput and error rate.
    fn sla(&mut self, blk: &ast::Block) -> Sla {
        let mut sla = Sla::default();
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
        sla
    }

    /// A deployment's `log`: `all` (also when absent), `none` or `sample(fraction)`.
    fn log_policy(&mut self, e: Option<&ast::Expr>) -> LogPolicy {
        match e {
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
        }
    }

    /// A deployment's `shadow = model@version` (E0211 when it is not a model reference), with
    /// its span; it must return the served graph `node`'s outputs (E0322).
    fn shadow(
        &mut self,
        e: &ast::Expr,
        node: Option<&Node>,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Option<(ModelRef, Span)> {
        let shadow = match &e.kind {
            ExprKind::ModelRef {
                model,
                version,
                version_span,
            } => {
                let r = self.model_ref(model, version, *version_span)?;
                deps.push((decl_id(DeclKind::Model, &r.model), EdgeKind::Serves));
                (r, e.span)
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
                return None;
            }
        };
        if let Some(n) = node {
            let (s, span) = &shadow;
            let so = self
                .models
                .get(&s.model)
                .map(|m| m.outputs.clone())
                .unwrap_or_default();
            if !crate::serving::same_outputs(&so, &n.outputs) {
                self.diags.push(
                    Diagnostic::new("E0322", format!("shadow model `{}` returns different outputs than the served graph", s.model))
                        .label(*span, "outputs differ")
                        .help("a shadow runs on the same requests and is compared with the served outputs"),
                );
            }
        }
        Some(shadow)
    }

    /// A deployment's `batching { }` block: `max_batch` (64 by default) and `max_delay`
    /// (2 ms by default).
    fn batching(&mut self, blk: &ast::Block) -> Batching {
        let bb = body::sort_schema(&mut self.diags, blk, "batching", Allow::default());
        let mb = bb
            .attr("max_batch")
            .and_then(|e| self.uint(e, "max_batch", 1));
        // `0ms`: run what is queued without waiting for more.
        let md = bb.attr("max_delay").and_then(|e| match &e.kind {
            ExprKind::Quantity { value, unit, .. }
                if *value == 0.0
                    && mlp_syntax::units::classify(unit)
                        == Some(mlp_syntax::units::UnitKind::Duration) =>
            {
                Some(0.0)
            }
            _ => self.duration(e, "max_delay"),
        });
        Batching {
            max_batch: mb.unwrap_or(64),
            max_delay_ms: md.unwrap_or(2.0),
        }
    }

    /// A deployment's `resources { }`: CPU cores (a positive number) and memory (a size) per
    /// replica, and the server's HTTP workers, inference threads and intra-op threads.
    fn resources(&mut self, blk: &ast::Block) -> Resources {
        let rb = body::sort_schema(&mut self.diags, blk, "resources", Allow::default());
        let cpu = rb.attr("cpu").and_then(|e| {
            let v = self.number(e, "cpu")?;
            if v > 0.0 && v.is_finite() {
                Some(v)
            } else {
                self.out_of_range(e, "cpu", "a positive number of cores, like `1.5`");
                None
            }
        });
        let memory_bytes = rb.attr("memory").and_then(|e| self.size(e, "memory"));
        let mut threads = |k: &str| rb.attr(k).and_then(|e| self.uint(e, k, 1));
        Resources {
            cpu,
            memory_bytes,
            workers: threads("workers"),
            threads: threads("threads"),
            intra_op_threads: threads("intra_op_threads"),
        }
    }

    /// `mode = lookup` precomputes one answer per entity key: every input the graph's
    /// models read must be a materialized feature, all of views on one entity (E0323).
    fn lookup_inputs(&mut self, g: &GraphNode, span: Span) {
        fn models(g: &GraphNode, out: &mut Vec<String>) {
            match g {
                GraphNode::Model { model } => out.push(model.model.clone()),
                other => other.children().into_iter().for_each(|s| models(s, out)),
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

    /// A monitor: the deployment it watches, its schedule, window, baseline, labels, checks
    /// and alerts (run by `mlp-monitoring`).
    pub(crate) fn monitor(&mut self, d: &'a Decl) {
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
        let baseline = self.baseline(b.attr("baseline"), window_ms);
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
        let mut deps = vec![(decl_id(DeclKind::Deployment, &on), EdgeKind::Monitors)];
        let checks = self.monitor_checks(&b.checks, &info, labels.is_some(), &on, &mut deps);
        let alerts = self.alerts(b.attr("alert"));
        // Failing evaluations in a row before an alert fires (Prometheus' `for`).
        let for_evaluations = b
            .attr("for")
            .and_then(|e| self.uint(e, "for", 1))
            .unwrap_or(1);
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
                for_evaluations,
            },
            deps,
        );
    }

    /// A monitor's `baseline`: `training` (also when absent), a file path, or
    /// `previous(duration)` (`window_ms` when the duration is wrong).
    fn baseline(&mut self, e: Option<&ast::Expr>, window_ms: u64) -> Baseline {
        match e {
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
        }
    }

    /// A monitor's `check` expressions over the deployment `on` (`info`): each must be a
    /// condition (E0212); the features they read go to `deps`.
    fn monitor_checks(
        &mut self,
        exprs: &[&ast::Expr],
        info: &DeployInfo,
        labels: bool,
        on: &str,
        deps: &mut Vec<(String, EdgeKind)>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        for c in exprs {
            let mut found = Found::default();
            let scope = Scope::Monitor {
                outputs: &info.outputs,
                logged: &info.logged,
                labels,
                deployment: on,
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
            if let Some(name) = bare_value(&ir) {
                self.diags.push(
                    Diagnostic::new(
                        "E0216",
                        format!("`{name}` is a value of each logged row; a check compares metrics of the window"),
                    )
                    .label(c.span, "a logged value outside a metric")
                    .help(format!("wrap it in a metric, e.g. `mean({name})`, `null_share({name})` or `psi({name})`")),
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
        checks
    }

    /// A monitor's `alert`: sinks such as `webhook("...")`, or `log` (E0211 otherwise).
    fn alerts(&mut self, e: Option<&ast::Expr>) -> Vec<Backend> {
        let mut alerts = Vec::new();
        if let Some(e) = e {
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
        alerts
    }

    /// A consumer: the deployment outputs it `uses` (E0109 for an unknown one), its owner
    /// and contact.
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

/// The source text under `span`, its whitespace collapsed to single spaces.
fn mlp_syntax_text(map: &mlp_diagnostics::SourceMap, span: Span) -> String {
    map.slice(span)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first logged value (feature, request field, output, label) a check uses outside a
/// metric call, as written; metrics' arguments are not looked into.
fn bare_value(e: &IrExpr) -> Option<String> {
    match e {
        IrExpr::Feature { view, feature } => Some(format!("{view}.{feature}")),
        IrExpr::Request { request, field } => Some(format!("{request}.{field}")),
        IrExpr::Output { name, index: None } => Some(name.clone()),
        IrExpr::Label { name } => Some(format!("labels.{name}")),
        IrExpr::Unary { expr, .. } => bare_value(expr),
        IrExpr::Binary { lhs, rhs, .. } => bare_value(lhs).or_else(|| bare_value(rhs)),
        _ => None,
    }
}
