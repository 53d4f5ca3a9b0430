//! The checker: collects every declaration of the project into one namespace, then checks
//! each kind (project, env, entity, source, features, request, model) and hands pipelines,
//! deployments and monitors to `graph.rs`.

use crate::body::{self};
use crate::consts::Const;
use crate::env::EnvValues;
use crate::fast::IndexMap;
use crate::fast::{HashMap, HashSet};
use crate::hir::{decl_id, Hir, HirDecl};
use crate::typeck::parse_type;
use mlp_diagnostics::{suggestion, Diagnostic, Diagnostics, FileId, SourceMap, Span};
use mlp_ir::{Column, EdgeKind, InputRef, Spec, Type};
use mlp_syntax::ast::{self, Decl, DeclKind, ExprKind};

/// What other declarations need to know about a feature view.
#[derive(Debug, Clone, Default)]
pub struct ViewInfo {
    /// Feature types.
    pub features: IndexMap<String, Type>,
    /// Served online.
    pub online: bool,
    /// No source.
    pub on_demand: bool,
    /// The entity it is keyed by, as written.
    pub entity: Option<String>,
}

/// What other declarations need to know about a model.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// Resolved inputs.
    pub inputs: Vec<InputRef>,
    /// Outputs.
    pub outputs: IndexMap<String, Column>,
}

/// The semantic checker's state for one project.
pub struct Checker<'a> {
    pub(crate) files: &'a [(FileId, ast::File)],
    pub(crate) env: &'a EnvValues,
    pub(crate) map: &'a SourceMap,
    pub(crate) diags: Diagnostics,
    pub(crate) names: IndexMap<&'a str, &'a Decl>,
    pub(crate) env_decls: IndexMap<&'a str, (Type, Span)>,
    pub(crate) env_vals: HashMap<String, Option<Const>>,
    pub(crate) used: HashSet<String>,
    pub(crate) used_env: HashSet<String>,
    pub(crate) views: HashMap<String, ViewInfo>,
    pub(crate) requests: HashMap<String, IndexMap<String, Type>>,
    pub(crate) models: HashMap<String, ModelInfo>,
    pub(crate) sources: HashMap<String, Option<IndexMap<String, Type>>>,
    pub(crate) out: Vec<HirDecl>,
    /// Per feature id, the features and requests it reads (`feature.V.F`, `request.R`):
    /// on-demand features only, so that walking a deployment's inputs needs no scan of `out`.
    pub(crate) feature_upstream: HashMap<String, Vec<String>>,
    pub(crate) project: Option<String>,
    pub(crate) deploy_info: HashMap<String, crate::graph::DeployInfo>,
    pub(crate) deploy_refs: IndexMap<String, Vec<(String, Span)>>,
    pub(crate) params_unused: Vec<(String, Span)>,
}

pub(crate) fn doc_text(docs: &[ast::Doc]) -> String {
    docs.iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

impl<'a> Checker<'a> {
    /// A checker over `files`.
    pub fn new(files: &'a [(FileId, ast::File)], env: &'a EnvValues, map: &'a SourceMap) -> Self {
        Checker {
            files,
            env,
            map,
            diags: Diagnostics::new(),
            names: IndexMap::default(),
            env_decls: IndexMap::default(),
            env_vals: HashMap::default(),
            used: HashSet::default(),
            used_env: HashSet::default(),
            views: HashMap::default(),
            requests: HashMap::default(),
            models: HashMap::default(),
            sources: HashMap::default(),
            out: Vec::new(),
            feature_upstream: HashMap::default(),
            project: None,
            deploy_info: HashMap::default(),
            deploy_refs: IndexMap::default(),
            params_unused: Vec::new(),
        }
    }

    pub(crate) fn all_decls(&self) -> impl Iterator<Item = &'a Decl> {
        let files: &'a [(FileId, ast::File)] = self.files;
        files.iter().flat_map(|(_, f)| f.decls.iter())
    }

    /// Runs every check.
    pub fn run(&mut self) {
        self.collect();
        self.check_env();
        self.declare_signatures();
        let decls: Vec<&'a Decl> = deployments_after_what_they_name(self.all_decls().collect());
        let mut project_seen: Option<Span> = None;
        for d in &decls {
            match d.kind {
                DeclKind::Project => {
                    if let Some(first) = project_seen {
                        self.diags.push(
                            Diagnostic::new("E0102", "a project has exactly one `project` block")
                                .label(d.kind_span, "second `project` block")
                                .related(first, "first one here"),
                        );
                        continue;
                    }
                    project_seen = Some(d.kind_span);
                    self.project_decl(d);
                }
                DeclKind::Env => {}
                DeclKind::Entity => self.entity(d),
                DeclKind::Source => self.source(d),
                DeclKind::Features => self.features(d),
                DeclKind::Request => self.request(d),
                DeclKind::Model => self.model(d),
                DeclKind::Pipeline => self.pipeline(d),
                DeclKind::Deployment => self.deployment(d),
                DeclKind::Monitor | DeclKind::Consumer => {}
            }
        }
        // Monitors and consumers read what deployments produce, wherever those are declared.
        for d in &decls {
            match d.kind {
                DeclKind::Monitor => self.monitor(d),
                DeclKind::Consumer => self.consumer(d),
                _ => {}
            }
        }
        if project_seen.is_none() && !decls.is_empty() {
            let first = decls
                .iter()
                .find_map(|d| d.name.as_ref().map(|n| n.span))
                .unwrap_or(decls[0].kind_span);
            self.diags.push(
                Diagnostic::new("E0110", "the project has no `project` block")
                    .label(first, "in this project")
                    .help("add `project NAME { online = memory() }` to one file"),
            );
        }
        self.deployment_cycles();
        self.on_demand_cycles();
        // Unused-declaration warnings only on a project without errors: a misspelt reference
        // would otherwise also report its target as unused.
        if !self.diags.has_errors() {
            self.lints();
        }
    }

    /// The HIR and diagnostics.
    pub fn finish(self) -> (Hir, Diagnostics) {
        let hir = Hir {
            project: self.project.unwrap_or_default(),
            env: self.env.name.clone(),
            decls: self.out,
        };
        (hir, self.diags)
    }

    fn collect(&mut self) {
        let decls: Vec<&'a Decl> = self.all_decls().collect();
        for d in decls {
            match (&d.name, d.kind) {
                (Some(n), DeclKind::Env) => {
                    self.diags.push(
                        Diagnostic::new("E0108", "the `env` block has no name")
                            .label(n.span, "remove this name")
                            .help("write `env { NAME: type = default }`"),
                    );
                }
                (None, DeclKind::Env) => {}
                (None, k) => {
                    self.diags.push(
                        Diagnostic::new("E0108", format!("this {} has no name", k.describe()))
                            .label(d.kind_span, "name missing")
                            .help(format!("write `{} NAME {{ ... }}`", k.keyword())),
                    );
                }
                (Some(n), k) => {
                    if k == DeclKind::Project {
                        continue;
                    }
                    if matches!(
                        n.name.as_str(),
                        "env" | "labels" | "latest" | "params" | "out"
                    ) {
                        self.diags.push(
                            Diagnostic::new("E0111", format!("`{}` is a reserved name", n.name))
                                .label(n.span, "reserved")
                                .help("`env`, `labels`, `params`, `out` and `latest` have a meaning of their own; choose another name"),
                        );
                        continue;
                    }
                    if let Some(first) = self.names.get(n.name.as_str()) {
                        let fspan = first.name.as_ref().map_or(first.span, |x| x.span);
                        self.diags.push(
                            Diagnostic::new("E0102", format!("`{}` is declared twice", n.name))
                                .label(n.span, format!("second declaration, a {}", k.describe()))
                                .related(fspan, format!("first declared here, a {}", first.kind.describe()))
                                .help("names are shared by every kind of declaration in a project; rename one"),
                        );
                    } else {
                        self.names.insert(n.name.as_str(), d);
                    }
                }
            }
        }
    }

    /// A declared value type.
    pub fn value_type(&mut self, ty: &ast::Ident) -> Option<Type> {
        let t = parse_type(&ty.name);
        if t.is_none() {
            let names = ["int", "float", "bool", "string", "timestamp"];
            self.diags.push(
                Diagnostic::new("E0201", format!("unknown type `{}`", ty.name))
                    .label(ty.span, "not a type")
                    .maybe_help(suggestion(&ty.name, names).or_else(|| {
                        Some("types are int, float, bool, string and timestamp".into())
                    })),
            );
        }
        t
    }

    /// First pass over views, requests and models: their declared member types.
    fn declare_signatures(&mut self) {
        let decls: Vec<&'a Decl> = self.all_decls().collect();
        for d in decls {
            let Some(name) = &d.name else { continue };
            let typed_fields = |d: &Decl| -> IndexMap<String, Type> {
                d.body
                    .stmts
                    .iter()
                    .filter_map(|s| match &s.kind {
                        ast::StmtKind::Field { name, ty, .. } => {
                            parse_type(&ty.name).map(|t| (name.name.clone(), t))
                        }
                        _ => None,
                    })
                    .collect()
            };
            match d.kind {
                DeclKind::Features => {
                    let mut info = ViewInfo {
                        features: typed_fields(d),
                        online: true,
                        on_demand: true,
                        entity: None,
                    };
                    for s in &d.body.stmts {
                        if let ast::StmtKind::Attr { key, value } = &s.kind {
                            match key.name.as_str() {
                                "source" => info.on_demand = false,
                                "entity" => {
                                    if let ExprKind::Path(p) = &value.kind {
                                        info.entity = p.first().map(|i| i.name.clone());
                                    }
                                }
                                "online" => {
                                    info.online = !matches!(value.kind, ExprKind::Bool(false))
                                }
                                _ => {}
                            }
                        }
                    }
                    self.views.insert(name.name.clone(), info);
                }
                DeclKind::Request => {
                    self.requests.insert(name.name.clone(), typed_fields(d));
                }
                DeclKind::Model => {
                    let outputs = declared_outputs(d);
                    self.models.insert(
                        name.name.clone(),
                        ModelInfo {
                            inputs: Vec::new(),
                            outputs,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// Adds declaration `d`, checked into `spec` with its plan edges, to the HIR.
    pub(crate) fn push_decl(&mut self, d: &Decl, spec: Spec, deps: Vec<(String, EdgeKind)>) {
        if let Some(h) = hir_decl(d, spec, deps) {
            self.out.push(h);
        }
    }

    pub(crate) fn required(
        &mut self,
        b: &body::Body<'a>,
        d: &Decl,
        key: &str,
        what: &str,
        example: &str,
    ) -> Option<&'a ast::Expr> {
        let v = b.attr(key);
        if v.is_none() {
            let span = d.name.as_ref().map_or(d.kind_span, |n| n.span);
            self.diags.push(
                Diagnostic::new(
                    "E0104",
                    format!(
                        "{what} `{}` has no `{key}`",
                        d.name.as_ref().map_or("", |n| n.name.as_str())
                    ),
                )
                .label(span, format!("`{key}` is required"))
                .help(format!("add `{example}`")),
            );
        }
        v
    }
}

/// The declarations with each deployment moved after the deployments its graph names (in
/// declaration order otherwise), so that checking a graph sees what the deployments it reuses
/// produce, wherever they are declared. With a cycle among them the order stays as declared
/// (E0303 reports the cycle).
fn deployments_after_what_they_name(decls: Vec<&Decl>) -> Vec<&Decl> {
    fn names<'e>(e: &'e ast::Expr, out: &mut Vec<&'e str>) {
        match &e.kind {
            ExprKind::Path(p) if p.len() == 1 => out.push(p[0].name.as_str()),
            ExprKind::Call { args, .. } => args.iter().for_each(|a| names(&a.value, out)),
            ExprKind::List(items) => items.iter().for_each(|i| names(i, out)),
            ExprKind::Paren(x) => names(x, out),
            _ => {}
        }
    }
    let deployments: HashMap<&str, &Decl> = decls
        .iter()
        .filter(|d| d.kind == DeclKind::Deployment)
        .filter_map(|d| Some((d.name.as_ref()?.name.as_str(), *d)))
        .collect();
    fn visit<'d>(
        d: &'d Decl,
        deployments: &HashMap<&str, &'d Decl>,
        state: &mut HashMap<*const Decl, bool>,
        out: &mut Vec<&'d Decl>,
    ) -> bool {
        if let Some(done) = state.get(&(d as *const Decl)) {
            // Done: acyclic; still in progress: a cycle.
            return *done;
        }
        state.insert(d as *const Decl, false);
        let mut named = Vec::new();
        for s in &d.body.stmts {
            if let ast::StmtKind::Attr { key, value } = &s.kind {
                if key.name == "model" {
                    names(value, &mut named);
                }
            }
        }
        let mut acyclic = true;
        for n in named {
            if let Some(dep) = deployments.get(n) {
                acyclic &= visit(dep, deployments, state, out);
            }
        }
        state.insert(d as *const Decl, true);
        out.push(d);
        acyclic
    }
    let mut out = Vec::with_capacity(decls.len());
    let mut state = HashMap::default();
    let mut acyclic = true;
    for d in &decls {
        if d.kind == DeclKind::Deployment {
            acyclic &= visit(d, &deployments, &mut state, &mut out);
        } else {
            out.push(d);
        }
    }
    // A cycle keeps the declaration order, in which E0303 reports it.
    if acyclic {
        out
    } else {
        decls
    }
}

/// A model's outputs as declared (before they are checked), by name: for other declarations
/// to read while the models are checked in turn.
fn declared_outputs(d: &Decl) -> IndexMap<String, Column> {
    let column = |name: &ast::Ident, ty: &ast::Ident, width: Option<ast::Width>| {
        let t = match ty.name.as_str() {
            "float32" => Some(Type::Float),
            other => parse_type(other),
        }?;
        Some(Column {
            name: name.name.clone(),
            ty: t,
            width: width.and_then(|w| u32::try_from(w.n).ok()),
        })
    };
    let mut outputs = IndexMap::default();
    for s in &d.body.stmts {
        match &s.kind {
            ast::StmtKind::Attr { key, value } if key.name == "output" || key.name == "outputs" => {
                for it in value.items() {
                    if let ExprKind::Typed { name, ty, width } = &it.kind {
                        if let Some(c) = column(name, ty, *width) {
                            outputs.insert(c.name.clone(), c);
                        }
                    }
                }
            }
            ast::StmtKind::Block { name, body } if name.name == "outputs" => {
                for f in &body.stmts {
                    if let ast::StmtKind::Field {
                        name,
                        ty,
                        width,
                        value,
                        ..
                    } = &f.kind
                    {
                        let width = if value.is_some() { None } else { *width };
                        if let Some(c) = column(name, ty, width) {
                            outputs.insert(c.name.clone(), c);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    outputs
}

/// The HIR declaration of `d`, checked into `spec` with its plan edges (none when `d` has
/// no name: the parser said why).
pub(crate) fn hir_decl(d: &Decl, spec: Spec, deps: Vec<(String, EdgeKind)>) -> Option<HirDecl> {
    let n = d.name.as_ref()?;
    Some(HirDecl {
        id: decl_id(d.kind, &n.name),
        name: n.name.clone(),
        kind: d.kind,
        span: n.span,
        doc: doc_text(&d.docs),
        spec,
        deps,
    })
}
