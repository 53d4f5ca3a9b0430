//! Pipelines: parameters, schedule and retry policy, steps with their actions, `after`
//! dependencies (cycles are E0302), `${...}` placeholders in run commands, and gates.

use crate::body::{self, Allow, Body};
use crate::consts::Const;
use crate::cycles::find_cycles;
use crate::decls::Checker;
use crate::fast::{HashMap, HashSet};
use crate::hir::{decl_id, feature_id};
use crate::typeck::{Found, Scope, Ty};
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::*;
use mlp_syntax::ast::{self, Decl, DeclKind, ExprKind, StrPart};
use std::collections::BTreeMap;

/// Each step's `after` list: the steps it waits on, with the span that names each.
type Afters = HashMap<String, Vec<(String, Span)>>;

/// What the steps of one pipeline are checked against, and what checking them collects.
struct Pipe {
    /// The pipeline's name.
    name: String,
    /// Its steps' names, in the order written.
    step_names: Vec<String>,
    /// The models some step of the pipeline `registers`.
    registered: HashSet<String>,
    /// The `after` graph.
    afters: Afters,
    /// Whether the `after` graph has a cycle (E0302 said so; ancestors are then unknown).
    cyclic: bool,
    /// The parameters and their defaults.
    params: BTreeMap<String, Literal>,
    /// The pipeline's own `python = ...`, which its run steps inherit.
    python: Option<PythonEnv>,
    /// The parameters some run command reads.
    used_params: HashSet<String>,
    /// The steps whose run command reports metrics (gates may read them).
    metric_steps: HashSet<String>,
    /// The plan edges the steps add: features they train on, views they materialize, models
    /// they register.
    deps: Vec<(String, EdgeKind)>,
}

impl<'a> Checker<'a> {
    pub(crate) fn pipeline(&mut self, d: &'a Decl) {
        let b = body::sort_schema(
            &mut self.diags,
            &d.body,
            "pipeline",
            Allow {
                fields: true,
                steps: true,
                ..Allow::default()
            },
        );
        let Some(pname) = d.name.as_ref().map(|n| n.name.clone()) else {
            return;
        };
        let schedule = b.attr("schedule").and_then(|e| self.schedule(e));
        let catchup = b
            .attr("catchup")
            .and_then(|e| self.choice(e, "catchup", &["none", "latest", "all"]))
            .unwrap_or_else(|| "none".into());
        let retries = b
            .attr("retries")
            .and_then(|e| self.uint(e, "retries", 0))
            .unwrap_or(0);
        let retry_delay_ms = b
            .attr("retry_delay")
            .and_then(|e| self.duration_ms(e, "retry_delay"))
            .unwrap_or(120_000);
        let timeout_ms = b
            .attr("timeout")
            .and_then(|e| self.duration_ms(e, "timeout"));
        let max_active_runs = b
            .attr("max_active_runs")
            .and_then(|e| self.uint(e, "max_active_runs", 1))
            .unwrap_or(1);
        for k in ["owner", "description"] {
            if let Some(e) = b.attr(k) {
                self.string(e, k);
            }
        }
        let (params, param_spans) = self.pipeline_params(&b);
        let python = b.attr("python").and_then(|e| self.python_env(e));
        let step_names: Vec<String> = b.steps.iter().map(|(n, _)| n.name.clone()).collect();
        let afters = self.after_graph(&b, &step_names);
        let cyclic = self.step_cycles(&afters);
        let mut pipe = Pipe {
            name: pname,
            registered: registered_models(&b),
            step_names,
            afters,
            cyclic,
            params,
            python,
            used_params: HashSet::default(),
            metric_steps: HashSet::default(),
            deps: Vec::new(),
        };
        let steps = b
            .steps
            .iter()
            .filter_map(|(n, blk)| self.step(&mut pipe, n, blk))
            .collect();
        for (p, span) in param_spans {
            if !pipe.used_params.contains(&p) {
                self.params_unused.push((p, span));
            }
        }
        let spec = Spec::Pipeline {
            schedule,
            catchup,
            retries,
            retry_delay_ms,
            timeout_ms,
            max_active_runs,
            params: pipe.params,
            steps,
        };
        self.push_decl(d, spec, pipe.deps);
    }

    /// `schedule = cron("...")`: five crontab fields (day of week 0-7 from Sunday), checked in
    /// the form the scheduler will run.
    fn schedule(&mut self, e: &ast::Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Call { name, args } if name.name == "cron" && args.len() == 1 => {
                let text = self.string(&args[0].value, "cron")?;
                let valid = mlp_ir::cron::to_seven_fields(&text)
                    .is_some_and(|full| full.parse::<::cron::Schedule>().is_ok());
                if !valid {
                    self.diags.push(
                        Diagnostic::new("E0306", format!("invalid cron schedule `{text}`"))
                            .label(args[0].value.span, "not a five-field cron expression")
                            .help("minute hour day-of-month month day-of-week, e.g. `cron(\"0 2 * * *\")` for 02:00 daily, or `@daily`"),
                    );
                    return None;
                }
                Some(text)
            }
            _ => {
                self.diags.push(
                    Diagnostic::new(
                        "E0211",
                        format!("`schedule` expects `cron(\"...\")`, found {}", e.describe()),
                    )
                    .label(e.span, "not a schedule")
                    .help("write `schedule = cron(\"0 2 * * *\")`"),
                );
                None
            }
        }
    }

    /// The pipeline's typed parameters with their constant defaults, and where each is named
    /// (for the lint on parameters no command reads).
    fn pipeline_params(
        &mut self,
        b: &Body<'_>,
    ) -> (BTreeMap<String, Literal>, Vec<(String, Span)>) {
        let mut params = BTreeMap::new();
        let mut param_spans: Vec<(String, Span)> = Vec::new();
        for f in &b.fields {
            let Some(ty) = self.value_type(f.ty) else {
                continue;
            };
            let Some(v) = f.value else {
                self.diags.push(
                    Diagnostic::new(
                        "E0104",
                        format!("pipeline parameter `{}` has no default", f.name.name),
                    )
                    .label(f.name.span, "needs `= value`")
                    .help("parameters have defaults; `mlpc run --param name=value` overrides them"),
                );
                continue;
            };
            let c = self.konst(v);
            let ok = matches!(
                (&c, ty),
                (Some(Const::Str(_)), Type::String)
                    | (Some(Const::Int(_)), Type::Int)
                    | (Some(Const::Int(_) | Const::Float(_)), Type::Float)
                    | (Some(Const::Bool(_)), Type::Bool)
            );
            match c {
                Some(c) if ok => {
                    params.insert(f.name.name.clone(), c.literal());
                    param_spans.push((f.name.name.clone(), f.name.span));
                }
                _ => self.diags.push(
                    Diagnostic::new(
                        "E0202",
                        format!(
                            "default of parameter `{}` is not a constant {}",
                            f.name.name,
                            ty.name()
                        ),
                    )
                    .label(v.span, format!("expected a {} constant", ty.name())),
                ),
            }
        }
        (params, param_spans)
    }

    /// Each step's `after` list, its names checked against the pipeline's steps.
    fn after_graph(&mut self, b: &Body<'_>, step_names: &[String]) -> Afters {
        let mut afters = Afters::default();
        for (n, blk) in &b.steps {
            let mut list = Vec::new();
            for s in &blk.stmts {
                let ast::StmtKind::Attr { key, value } = &s.kind else {
                    continue;
                };
                if key.name != "after" {
                    continue;
                }
                for it in value.items() {
                    match it.as_ident() {
                        Some(id) if step_names.contains(&id.name) => {
                            list.push((id.name.clone(), id.span))
                        }
                        Some(id) => self.diags.push(
                            Diagnostic::new("E0101", format!("unknown step `{}`", id.name))
                                .label(id.span, "no such step in this pipeline")
                                .maybe_help(suggestion(
                                    &id.name,
                                    step_names.iter().map(String::as_str),
                                )),
                        ),
                        None => self.diags.push(
                            Diagnostic::new(
                                "E0211",
                                format!("`after` lists step names, found {}", it.describe()),
                            )
                            .label(it.span, "not a step name"),
                        ),
                    }
                }
            }
            afters.insert(n.name.clone(), list);
        }
        afters
    }

    /// One step: its single action, what it registers, its policy, environment and Python.
    /// `None` when it has no valid action (a diagnostic says why).
    fn step(&mut self, pipe: &mut Pipe, n: &ast::Ident, blk: &ast::Block) -> Option<Step> {
        let sb = body::sort_schema(
            &mut self.diags,
            blk,
            "step",
            Allow {
                requires: true,
                ..Allow::default()
            },
        );
        let ancestors = if pipe.cyclic {
            HashSet::default()
        } else {
            ancestors(&pipe.afters, &n.name)
        };
        let mut actions: Vec<(StepAction, Span)> = Vec::new();
        if let Some(e) = sb.attr("run") {
            if let Some(command) = self.run_command(pipe, n, e, &ancestors) {
                actions.push((StepAction::Run { command }, e.span));
            }
        }
        if let Some(blk) = sb.block("training_set") {
            if let Some(action) = self.training_set(pipe, n, blk) {
                actions.push((action, blk.span));
            }
        }
        if let Some(blk) = sb.block("materialize") {
            actions.push((self.materialize_views(pipe, blk), blk.span));
        }
        let promote = sb.attr("promote").and_then(|e| self.promotion(pipe, e));
        if !sb.requires.is_empty() || sb.attr("promote").is_some() {
            let require = self.gate_conditions(pipe, &sb.requires, &ancestors);
            actions.push((StepAction::Gate { require, promote }, n.span));
        }
        self.one_action(n, &actions);
        let registers = sb
            .attr("registers")
            .and_then(|e| self.decl_ref(e, DeclKind::Model, "registers"));
        if let Some(m) = &registers {
            pipe.deps
                .push((decl_id(DeclKind::Model, m), EdgeKind::Registers));
        }
        let code = sb
            .attr("code")
            .map(|e| {
                e.items()
                    .into_iter()
                    .filter_map(|i| self.string(i, "code"))
                    .collect()
            })
            .unwrap_or_default();
        let retries = sb.attr("retries").and_then(|e| self.uint(e, "retries", 0));
        let timeout_ms = sb
            .attr("timeout")
            .and_then(|e| self.duration_ms(e, "timeout"));
        let workdir = sb.attr("workdir").and_then(|e| self.string(e, "workdir"));
        let runs = matches!(actions.first(), Some((StepAction::Run { .. }, _)));
        let own_python = sb.attr("python").and_then(|e| {
            let env = self.python_env(e);
            if !runs {
                self.python_not_run(e.span);
            }
            env
        });
        let python = match runs {
            true => own_python.or_else(|| pipe.python.clone()),
            false => None,
        };
        let env = sb
            .block("env")
            .map(|eb| self.step_env(eb))
            .unwrap_or_default();
        let after = pipe
            .afters
            .get(&n.name)
            .map(|l| l.iter().map(|(s, _)| s.clone()).collect())
            .unwrap_or_default();
        let (action, _) = actions.into_iter().next()?;
        Some(Step {
            name: n.name.clone(),
            after,
            action,
            code,
            registers,
            retries,
            timeout_ms,
            workdir,
            env,
            python,
        })
    }

    /// `run = "..."`: the command, its `${...}` placeholders checked against the step's
    /// ancestors and the pipeline's parameters.
    fn run_command(
        &mut self,
        pipe: &mut Pipe,
        n: &ast::Ident,
        e: &ast::Expr,
        ancestors: &HashSet<String>,
    ) -> Option<String> {
        let mut roots: Vec<&str> = vec!["out", "params", "run"];
        roots.extend(pipe.step_names.iter().map(String::as_str));
        let cmd = self.string_with(e, "run", &roots)?;
        if let ExprKind::Str { parts, .. } = &e.kind {
            for p in parts {
                if let StrPart::Interp { path, span } = p {
                    self.check_placeholder(
                        path,
                        *span,
                        &n.name,
                        ancestors,
                        &pipe.params,
                        &mut pipe.used_params,
                    );
                }
            }
        }
        pipe.metric_steps.insert(n.name.clone());
        Some(cmd)
    }

    /// `training_set { labels, features, at }`; its features are plan edges.
    fn training_set(
        &mut self,
        pipe: &mut Pipe,
        n: &ast::Ident,
        blk: &ast::Block,
    ) -> Option<StepAction> {
        let tb = body::sort_schema(&mut self.diags, blk, "training_set", Allow::default());
        let labels = tb.attr("labels").and_then(|e| self.string(e, "labels"));
        if tb.attr("labels").is_none() {
            self.diags.push(
                Diagnostic::new("E0104", "training_set has no `labels`")
                    .label(n.span, "`labels` is required")
                    .help("add `labels = \"data/labels.parquet\"`"),
            );
        }
        let mut features = Vec::new();
        if let Some(e) = tb.attr("features") {
            features = self.feature_list(e);
        } else {
            self.diags.push(
                Diagnostic::new("E0104", "training_set has no `features`")
                    .label(n.span, "`features` is required")
                    .help("add `features = my_model.inputs`"),
            );
        }
        for f in &features {
            if let InputRef::Feature { view, feature } = f {
                pipe.deps
                    .push((feature_id(view, feature), EdgeKind::Trains));
            }
        }
        let at = tb
            .attr("at")
            .and_then(|e| e.as_ident().map(|i| i.name.clone()))
            .unwrap_or_else(|| "event_timestamp".into());
        Some(StepAction::TrainingSet {
            labels: labels?,
            features,
            at,
        })
    }

    /// `materialize { views = [...] }`; each view is a plan edge.
    fn materialize_views(&mut self, pipe: &mut Pipe, blk: &ast::Block) -> StepAction {
        let mb = body::sort_schema(&mut self.diags, blk, "materialize", Allow::default());
        let mut views = Vec::new();
        if let Some(e) = mb.attr("views") {
            for it in e.items() {
                if let Some(v) = self.decl_ref(it, DeclKind::Features, "views") {
                    pipe.deps
                        .push((decl_id(DeclKind::Features, &v), EdgeKind::Trains));
                    views.push(v);
                }
            }
        }
        StepAction::Materialize { views }
    }

    /// `promote = model -> alias`: `latest` is reserved, and some step must register the model.
    fn promotion(&mut self, pipe: &Pipe, e: &ast::Expr) -> Option<Promotion> {
        let ExprKind::Arrow { from, to } = &e.kind else {
            self.diags.push(
                Diagnostic::new(
                    "E0211",
                    format!("`promote` expects `model -> alias`, found {}", e.describe()),
                )
                .label(e.span, "not a promotion"),
            );
            return None;
        };
        let m = self.resolve(from, DeclKind::Model)?;
        if to.name == "latest" {
            self.diags.push(
                Diagnostic::new("E0305", "`latest` is reserved and cannot be assigned")
                    .label(to.span, "reserved alias")
                    .help("`model@latest` always means the newest version; promote to `staging` or `production`"),
            );
            return None;
        }
        if !pipe.registered.contains(&m) {
            let pname = &pipe.name;
            self.diags.push(
                Diagnostic::new(
                    "E0318",
                    format!("pipeline `{pname}` promotes `{m}` but no step registers it"),
                )
                .label(from.span, "never registered here")
                .help(format!("add `registers = {m}` to the step that trains it")),
            );
        }
        Some(Promotion {
            model: m,
            alias: to.name.clone(),
        })
    }

    /// A gate's `require` conditions, typed against the metrics of the steps before it.
    fn gate_conditions(
        &mut self,
        pipe: &Pipe,
        requires: &[&ast::Expr],
        ancestors: &HashSet<String>,
    ) -> Vec<GateCondition> {
        let mut require = Vec::new();
        for r in requires {
            let mut found = Found::default();
            let scope = Scope::Gate {
                metric_steps: &pipe.metric_steps,
                ancestors,
                all_steps: &pipe.step_names,
            };
            let (t, ir) = self.expr(r, &scope, &mut found);
            if !matches!(t, Ty::Val(Type::Bool) | Ty::Unknown) {
                self.diags.push(
                    Diagnostic::new(
                        "E0212",
                        format!("`require` needs a condition, this is a {}", t.name()),
                    )
                    .label(r.span, "not a boolean"),
                );
            }
            require.push(GateCondition {
                text: self.map.slice(r.span).to_string(),
                expr: ir,
            });
        }
        require
    }

    /// E0313 unless the step has exactly one action.
    fn one_action(&mut self, n: &ast::Ident, actions: &[(StepAction, Span)]) {
        if actions.len() == 1 {
            return;
        }
        let msg = if actions.is_empty() {
            format!("step `{}` does nothing", n.name)
        } else {
            format!("step `{}` has {} actions", n.name, actions.len())
        };
        let mut dg = Diagnostic::new("E0313", msg).label(n.span, "a step does exactly one thing").help(
            "a step has one of: `run = \"...\"`, `training_set { }`, `materialize { }`, or gates (`require ...` / `promote = m -> alias`)",
        );
        for (_, s) in actions.iter().skip(1) {
            dg = dg.related(*s, "another action");
        }
        self.diags.push(dg);
    }

    /// A step's `env { NAME = "value" }` block.
    fn step_env(&mut self, eb: &ast::Block) -> BTreeMap<String, String> {
        let keys: Vec<String> = eb
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                ast::StmtKind::Attr { key, .. } => Some(key.name.clone()),
                _ => None,
            })
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let envb = body::sort(&mut self.diags, eb, "env", &keys, &[], Allow::default());
        let mut env = BTreeMap::new();
        for (k, (_, v)) in envb.attrs {
            if let Some(s) = self.string(v, k) {
                env.insert(k.to_string(), s);
            }
        }
        env
    }

    fn check_placeholder(
        &mut self,
        path: &[String],
        span: Span,
        step: &str,
        ancestors: &HashSet<String>,
        params: &BTreeMap<String, Literal>,
        used: &mut HashSet<String>,
    ) {
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["out"] | ["run", "id"] => {}
            ["params", p] => {
                used.insert(p.to_string());
                if !params.contains_key(*p) {
                    self.diags.push(
                        Diagnostic::new("E0314", format!("unknown parameter `{p}`"))
                            .label(span, "not a parameter of this pipeline")
                            .maybe_help(suggestion(p, params.keys().map(String::as_str))),
                    );
                }
            }
            [s, "output"] => {
                if *s == step || !ancestors.contains(*s) {
                    self.diags.push(
                        Diagnostic::new(
                            "E0307",
                            format!(
                                "step `{step}` uses the output of `{s}` but does not run after it"
                            ),
                        )
                        .label(span, "output not ready when this step runs")
                        .help(format!("add `{s}` to this step's `after`")),
                    );
                }
            }
            _ => {
                self.diags.push(
                    Diagnostic::new("E0314", format!("unknown placeholder `${{{}}}`", path.join(".")))
                        .label(span, "cannot be filled in")
                        .help("run commands know `${out}`, `${STEP.output}`, `${params.NAME}`, `${run.id}` and `${env.NAME}`"),
                );
            }
        }
    }

    /// `model.inputs` or a list of `view.feature`.
    fn feature_list(&mut self, e: &ast::Expr) -> Vec<InputRef> {
        if let Some(p) = e.as_path() {
            if p.len() == 2 && p[1].name == "inputs" {
                if let Some(m) = self.resolve(&p[0], DeclKind::Model) {
                    // The model's inputs are resolved when the model is checked; read them from its AST.
                    let inputs = self.model_inputs_from_ast(&m);
                    return inputs;
                }
                return Vec::new();
            }
        }
        let items = e.items();
        let mut out = Vec::new();
        for it in items {
            match it.as_path() {
                Some([v, f]) => {
                    if let Some(r) = self.member_ref(v, f) {
                        out.push(r);
                    }
                }
                _ => self.diags.push(
                    Diagnostic::new(
                        "E0211",
                        format!("`features` lists `view.feature`, found {}", it.describe()),
                    )
                    .label(it.span, "not a feature"),
                ),
            }
        }
        out
    }

    fn model_inputs_from_ast(&mut self, model: &str) -> Vec<InputRef> {
        if let Some(m) = self.models.get(model) {
            if !m.inputs.is_empty() {
                return m.inputs.clone();
            }
        }
        let Some(d) = self.names.get(model).copied() else {
            return Vec::new();
        };
        // `inputs = [...]`, or each tensor's inputs of an `inputs { }` block, in order.
        let mut items: Vec<&ast::Expr> = Vec::new();
        for s in &d.body.stmts {
            match &s.kind {
                ast::StmtKind::Attr { key, value } if key.name == "inputs" => {
                    if let ExprKind::List(list) = &value.kind {
                        items.extend(list.iter());
                    }
                }
                ast::StmtKind::Block { name, body } if name.name == "inputs" => {
                    for t in &body.stmts {
                        if let ast::StmtKind::Field { value: Some(v), .. } = &t.kind {
                            items.extend(v.items());
                        }
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for it in items {
            if let Some([v, f]) = it.as_path() {
                let r = match self.names.get(v.name.as_str()).map(|d| d.kind) {
                    Some(DeclKind::Features) => InputRef::Feature {
                        view: v.name.clone(),
                        feature: f.name.clone(),
                    },
                    Some(DeclKind::Request) => InputRef::Request {
                        request: v.name.clone(),
                        field: f.name.clone(),
                    },
                    _ => continue,
                };
                self.used.insert(v.name.clone());
                out.push(r);
            }
        }
        out
    }

    fn step_cycles(&mut self, afters: &Afters) -> bool {
        let edges = afters.iter().flat_map(|(to, list)| {
            list.iter()
                .map(move |(from, span)| (from.clone(), to.clone(), *span))
        });
        let cycles = find_cycles(afters.keys().cloned(), edges);
        for c in &cycles {
            let Some(first) = c.edges.iter().map(|(_, _, s)| *s).min() else {
                continue;
            };
            let names: Vec<String> = c.members.iter().map(|m| format!("`{m}`")).collect();
            self.diags.push(
                Diagnostic::new(
                    "E0302",
                    format!(
                        "pipeline steps wait on each other in a cycle: {}",
                        names.join(", ")
                    ),
                )
                .label(first, "part of the cycle")
                .help("remove one of the `after` entries so that the steps form a DAG"),
            );
        }
        !cycles.is_empty()
    }
}

fn ancestors(afters: &Afters, step: &str) -> HashSet<String> {
    let mut seen = HashSet::default();
    let mut stack = vec![step.to_string()];
    while let Some(s) = stack.pop() {
        for (a, _) in afters.get(&s).into_iter().flatten() {
            if seen.insert(a.clone()) {
                stack.push(a.clone());
            }
        }
    }
    seen
}

/// The models some step of the pipeline names in `registers = model`.
fn registered_models(b: &Body<'_>) -> HashSet<String> {
    let mut out = HashSet::default();
    for (_, blk) in &b.steps {
        for s in &blk.stmts {
            if let ast::StmtKind::Attr { key, value } = &s.kind {
                if key.name == "registers" {
                    if let Some(i) = value.as_ident() {
                        out.insert(i.name.clone());
                    }
                }
            }
        }
    }
    out
}
