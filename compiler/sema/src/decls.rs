//! The checker: collects every declaration of the project into one namespace, then checks
//! each kind (project, env, entity, source, features, request, model) and hands pipelines,
//! deployments and monitors to `graph.rs`.

use crate::body::{self, Allow};
use crate::consts::Const;
use crate::env::EnvValues;
use crate::hir::{decl_id, feature_id, Hir, HirDecl};
use crate::typeck::{assignable, parse_type, Found, Scope, Ty};
use indexmap::IndexMap;
use mlp_diagnostics::{suggestion, Diagnostic, Diagnostics, FileId, SourceMap, Span};
use mlp_ir::{Backend, Column, EdgeKind, FeatureDef, InputRef, SourceFormat, Spec, Type};
use mlp_syntax::ast::{self, Decl, DeclKind, ExprKind};
use std::collections::{HashMap, HashSet};

/// What other declarations need to know about a feature view.
#[derive(Debug, Clone, Default)]
pub struct ViewInfo {
    /// Feature types.
    pub features: IndexMap<String, Type>,
    /// Served online.
    pub online: bool,
    /// No source.
    pub on_demand: bool,
}

/// What other declarations need to know about a model.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// Resolved inputs.
    pub inputs: Vec<InputRef>,
    /// Outputs.
    pub outputs: IndexMap<String, Type>,
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
    pub(crate) project: Option<String>,
    pub(crate) deploy_info: HashMap<String, crate::graph::DeployInfo>,
    pub(crate) deploy_refs: IndexMap<String, Vec<(String, Span)>>,
    pub(crate) params_unused: Vec<(String, Span)>,
}

fn doc_text(docs: &[ast::Doc]) -> String {
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
            names: IndexMap::new(),
            env_decls: IndexMap::new(),
            env_vals: HashMap::new(),
            used: HashSet::new(),
            used_env: HashSet::new(),
            views: HashMap::new(),
            requests: HashMap::new(),
            models: HashMap::new(),
            sources: HashMap::new(),
            out: Vec::new(),
            project: None,
            deploy_info: HashMap::new(),
            deploy_refs: IndexMap::new(),
            params_unused: Vec::new(),
        }
    }

    fn all_decls(&self) -> impl Iterator<Item = &'a Decl> {
        let files: &'a [(FileId, ast::File)] = self.files;
        files.iter().flat_map(|(_, f)| f.decls.iter())
    }

    /// Runs every check.
    pub fn run(&mut self) {
        self.collect();
        self.check_env();
        self.declare_signatures();
        let decls: Vec<&'a Decl> = self.all_decls().collect();
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
                    .help("add `project NAME { offline = duckdb(\"data/offline.duckdb\")  online = memory() }` to one file"),
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

    fn check_env(&mut self) {
        let decls: Vec<&'a Decl> = self
            .all_decls()
            .filter(|d| d.kind == DeclKind::Env)
            .collect();
        for d in decls {
            let b = body::sort(
                &mut self.diags,
                &d.body,
                "env block",
                &[],
                &[],
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
                let from_file = self.env.values.get(&f.name.name);
                let value = match from_file {
                    Some((v, _, vspan)) => match yaml_const(v, ty) {
                        Some(c) => Some(c),
                        None => {
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
                                .label(*vspan, format!("not {}", article(ty)))
                                .related(f.name.span, "declared here"),
                            );
                            None
                        }
                    },
                    None => match f.value {
                        Some(e) => {
                            let c = self.konst(e);
                            match c {
                                Some(c) if const_fits(&c, ty) => Some(c),
                                _ => {
                                    self.diags.push(
                                        Diagnostic::new(
                                            "E0202",
                                            format!(
                                                "default of `{}` is not {}",
                                                f.name.name,
                                                article(ty)
                                            ),
                                        )
                                        .label(e.span, format!("expected {}", article(ty))),
                                    );
                                    None
                                }
                            }
                        }
                        None => {
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
                                        .help(format!(
                                            "add `{}: ...` to env/{name}.yaml",
                                            f.name.name
                                        ));
                                }
                                _ => {
                                    d = d
                                        .label(f.name.span, "no default and no environment selected")
                                        .help("pass `--env NAME` to read env/NAME.yaml, or give a default: `NAME: type = value`");
                                }
                            }
                            self.diags.push(d);
                            None
                        }
                    },
                };
                self.env_vals.insert(f.name.name.clone(), value);
            }
        }
        if let Some(file) = self.env.file {
            let _ = file;
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
                        Diagnostic::new(
                            "E0405",
                            format!("`{k}` is not declared in the `env` block"),
                        )
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
                    };
                    for s in &d.body.stmts {
                        if let ast::StmtKind::Attr { key, value } = &s.kind {
                            match key.name.as_str() {
                                "source" => info.on_demand = false,
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
                    let mut outputs = IndexMap::new();
                    for s in &d.body.stmts {
                        if let ast::StmtKind::Attr { key, value } = &s.kind {
                            if key.name == "output" || key.name == "outputs" {
                                let items: Vec<&ast::Expr> = match &value.kind {
                                    ExprKind::List(items) => items.iter().collect(),
                                    _ => vec![value],
                                };
                                for it in items {
                                    if let ExprKind::Typed { name, ty } = &it.kind {
                                        if let Some(t) = parse_type(&ty.name) {
                                            outputs.insert(name.name.clone(), t);
                                        }
                                    }
                                }
                            }
                        }
                    }
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

    pub(crate) fn push_decl(&mut self, d: &Decl, spec: Spec, deps: Vec<(String, EdgeKind)>) {
        let Some(n) = &d.name else { return };
        self.out.push(HirDecl {
            id: decl_id(d.kind, &n.name),
            name: n.name.clone(),
            kind: d.kind,
            span: n.span,
            doc: doc_text(&d.docs),
            spec,
            deps,
        });
    }

    fn backend(&mut self, e: &ast::Expr, key: &str, kind: &str) -> Option<Backend> {
        let ExprKind::Call { name, args } = &e.kind else {
            let names: Vec<&str> = mlp_stdlib::all()
                .iter()
                .filter(|b| b.kind == mlp_stdlib::Kind::Store && b.returns == kind)
                .map(|b| b.name.as_str())
                .collect();
            self.diags.push(
                Diagnostic::new(
                    "E0211",
                    format!("`{key}` expects a store such as {}", body::list(&names)),
                )
                .label(e.span, format!("found {}", e.describe()))
                .help(format!(
                    "write e.g. `{key} = {}(...)`",
                    names.first().copied().unwrap_or("memory")
                )),
            );
            return None;
        };
        self.builtin_call(name, args, mlp_stdlib::Kind::Store, Some(kind), key)
    }

    /// Checks a call to a stdlib store or sink and returns its arguments by name.
    pub(crate) fn builtin_call(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Arg],
        kind: mlp_stdlib::Kind,
        returns: Option<&str>,
        key: &str,
    ) -> Option<Backend> {
        let b =
            mlp_stdlib::get(kind, &name.name).filter(|b| returns.is_none_or(|r| b.returns == r));
        let Some(b) = b else {
            let cands: Vec<&str> = mlp_stdlib::all()
                .iter()
                .filter(|x| x.kind == kind && returns.is_none_or(|r| x.returns == r))
                .map(|x| x.name.as_str())
                .collect();
            self.diags.push(
                Diagnostic::new(
                    "E0203",
                    format!("`{}` is not a {} for `{key}`", name.name, kind.keyword()),
                )
                .label(name.span, "unknown here")
                .maybe_help(
                    suggestion(&name.name, cands.iter().copied())
                        .or_else(|| Some(format!("choose one of {}", body::list(&cands)))),
                ),
            );
            return None;
        };
        let params = b.params.clone().unwrap_or_default();
        if args.len() < b.min_args() || args.len() > b.max_args() {
            self.diags.push(
                Diagnostic::new(
                    "E0204",
                    format!(
                        "`{}` takes {} to {} arguments, found {}",
                        name.name,
                        b.min_args(),
                        b.max_args(),
                        args.len()
                    ),
                )
                .label(name.span, "wrong number of arguments")
                .help(format!("signature: {}", b.signature())),
            );
            return None;
        }
        let mut out = Backend {
            kind: b.name.clone(),
            args: Default::default(),
        };
        for (i, a) in args.iter().enumerate() {
            let p = match &a.name {
                Some(n) => match params.iter().find(|p| p.name == n.name) {
                    Some(p) => p,
                    None => {
                        self.diags.push(
                            Diagnostic::new(
                                "E0205",
                                format!("`{}` has no parameter `{}`", b.name, n.name),
                            )
                            .label(n.span, "unknown parameter")
                            .help(format!("signature: {}", b.signature())),
                        );
                        continue;
                    }
                },
                None => match params.get(i) {
                    Some(p) => p,
                    None => continue,
                },
            };
            let c = self.konst(&a.value);
            let ok = match (&c, p.types.first().map(String::as_str)) {
                (Some(Const::Str(_)), Some("string")) | (Some(Const::Int(_)), Some("int")) => true,
                (None, _) => false,
                _ => false,
            };
            if !ok {
                if (c.is_some() || !matches!(a.value.kind, ExprKind::Str { .. }))
                    && !self.already_reported(&a.value)
                {
                    self.diags.push(
                        Diagnostic::new(
                            "E0205",
                            format!(
                                "argument `{}` of `{}` must be {}",
                                p.name,
                                b.name,
                                p.types.join(" or ")
                            ),
                        )
                        .label(
                            a.value.span,
                            format!(
                                "found {}",
                                c.as_ref().map_or(a.value.describe(), Const::describe)
                            ),
                        )
                        .help(format!("signature: {}", b.signature())),
                    );
                }
                continue;
            }
            if let Some(c) = c {
                out.args.insert(p.name.clone(), c.literal());
            }
        }
        Some(out)
    }

    fn project_decl(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "project",
            &["offline", "online", "lineage", "owner", "description"],
            &[],
            Allow::default(),
        );
        self.project = d.name.as_ref().map(|n| n.name.clone());
        let offline = match b.attr("offline") {
            Some(e) => self.backend(e, "offline", "offline"),
            None => Some(Backend {
                kind: "duckdb".into(),
                args: [(
                    "path".to_string(),
                    mlp_ir::Literal::String(".mlp/offline.duckdb".into()),
                )]
                .into(),
            }),
        };
        let online = match b.attr("online") {
            Some(e) => self.backend(e, "online", "online"),
            None => Some(Backend {
                kind: "memory".into(),
                args: Default::default(),
            }),
        };
        let lineage = b
            .attr("lineage")
            .and_then(|e| self.backend(e, "lineage", "lineage"));
        let owner = b.attr("owner").and_then(|e| self.string(e, "owner"));
        if let Some(e) = b.attr("description") {
            self.string(e, "description");
        }
        if let (Some(offline), Some(online), Some(n)) = (offline, online, &d.name) {
            let spec = Spec::Project {
                offline,
                online,
                lineage,
                owner,
            };
            self.out.push(HirDecl {
                id: format!("project.{}", n.name),
                name: n.name.clone(),
                kind: d.kind,
                span: n.span,
                doc: doc_text(&d.docs),
                spec,
                deps: vec![],
            });
        }
    }

    fn columns(&mut self, e: &ast::Expr, key: &str) -> Vec<(Column, Span)> {
        let items: Vec<&ast::Expr> = match &e.kind {
            ExprKind::List(items) => items.iter().collect(),
            _ => vec![e],
        };
        let mut out: Vec<(Column, Span)> = Vec::new();
        for it in items {
            match &it.kind {
                ExprKind::Typed { name, ty } => {
                    if let Some(t) = self.value_type(ty) {
                        if let Some((_, first)) = out.iter().find(|(c, _)| c.name == name.name) {
                            let first = *first;
                            self.diags.push(
                                Diagnostic::new(
                                    "E0105",
                                    format!("`{}` listed twice in `{key}`", name.name),
                                )
                                .label(name.span, "again here")
                                .related(first, "first here"),
                            );
                            continue;
                        }
                        out.push((
                            Column {
                                name: name.name.clone(),
                                ty: t,
                            },
                            ty.span,
                        ));
                    }
                }
                _ => {
                    let help = it
                        .as_ident()
                        .map(|i| format!("give it a type: `{}: int`", i.name));
                    self.diags.push(
                        Diagnostic::new(
                            "E0211",
                            format!("`{key}` expects `name: type`, found {}", it.describe()),
                        )
                        .label(it.span, "expected `name: type`")
                        .maybe_help(help),
                    );
                }
            }
        }
        out
    }

    fn entity(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "entity",
            &["key", "owner", "description"],
            &[],
            Allow::default(),
        );
        let Some(key) = self.required(&b, d, "key", "entity", "key = user_id: int") else {
            return;
        };
        let keys = self.columns(key, "key");
        for (c, span) in &keys {
            if matches!(c.ty, Type::Float | Type::Bool) {
                self.diags.push(
                    Diagnostic::new("E0321", format!("entity key `{}` cannot be a {}", c.name, c.ty.name()))
                        .label(*span, "unsupported key type")
                        .help("keys are int, string or timestamp: floats do not compare exactly and booleans identify nothing"),
                );
            }
        }
        if !keys.is_empty() {
            self.push_decl(
                d,
                Spec::Entity {
                    keys: keys.into_iter().map(|(c, _)| c).collect(),
                },
                vec![],
            );
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

    fn source(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "source",
            &[
                "path",
                "format",
                "timestamp",
                "created",
                "owner",
                "description",
            ],
            &["schema"],
            Allow::default(),
        );
        let name = d.name.as_ref().map(|n| n.name.clone()).unwrap_or_default();
        let schema = b.block("schema").map(|blk| {
            let sb = body::sort(
                &mut self.diags,
                blk,
                "schema",
                &[],
                &[],
                Allow {
                    fields: true,
                    ..Allow::default()
                },
            );
            let mut m = IndexMap::new();
            for f in sb.fields {
                if let Some(t) = self.value_type(f.ty) {
                    m.insert(f.name.name.clone(), t);
                }
            }
            m
        });
        self.sources.insert(name, schema.clone());
        let path = self
            .required(&b, d, "path", "source", "path = \"data/events.parquet\"")
            .and_then(|e| self.string(e, "path"));
        let ts = self
            .required(&b, d, "timestamp", "source", "timestamp = event_ts")
            .and_then(|e| self.column_name(e, "timestamp", schema.as_ref()));
        let created = b
            .attr("created")
            .and_then(|e| self.column_name(e, "created", schema.as_ref()));
        let format = match b.attr("format") {
            Some(e) => self.choice(e, "format", &["parquet", "csv"]).map(|f| {
                if f == "csv" {
                    SourceFormat::Csv
                } else {
                    SourceFormat::Parquet
                }
            }),
            None => path.as_ref().and_then(|p| {
                let lower = p.to_lowercase();
                if lower.ends_with(".parquet") || lower.ends_with(".pq") {
                    Some(SourceFormat::Parquet)
                } else if lower.ends_with(".csv") || lower.ends_with(".csv.gz") {
                    Some(SourceFormat::Csv)
                } else {
                    if let Some(e) = b.attr("path") {
                        self.diags.push(
                            Diagnostic::new("E0320", format!("cannot tell the format of `{p}`"))
                                .label(e.span, "neither .parquet nor .csv")
                                .help("add `format = parquet` or `format = csv`"),
                        );
                    }
                    None
                }
            }),
        };
        for k in ["owner", "description"] {
            if let Some(e) = b.attr(k) {
                self.string(e, k);
            }
        }
        if let (Some(path), Some(timestamp), Some(format)) = (path, ts, format) {
            let schema = schema
                .unwrap_or_default()
                .into_iter()
                .map(|(name, ty)| Column { name, ty })
                .collect();
            self.push_decl(
                d,
                Spec::Source {
                    path,
                    format,
                    timestamp,
                    created,
                    schema,
                },
                vec![],
            );
        }
    }

    fn column_name(
        &mut self,
        e: &ast::Expr,
        key: &str,
        schema: Option<&IndexMap<String, Type>>,
    ) -> Option<String> {
        let Some(id) = e.as_ident() else {
            let help = match &e.kind {
                ExprKind::Str { parts, .. } => match parts.first() {
                    Some(ast::StrPart::Text(t)) => {
                        Some(format!("write the column without quotes: `{key} = {t}`"))
                    }
                    _ => None,
                },
                _ => None,
            };
            self.diags.push(
                Diagnostic::new(
                    "E0211",
                    format!("`{key}` expects a column name, found {}", e.describe()),
                )
                .label(e.span, "expected a column")
                .maybe_help(help),
            );
            return None;
        };
        if let Some(s) = schema {
            match s.get(&id.name) {
                None => {
                    self.diags.push(
                        Diagnostic::new("E0109", format!("the schema has no column `{}`", id.name))
                            .label(id.span, "unknown column")
                            .maybe_help(suggestion(&id.name, s.keys().map(String::as_str))),
                    );
                    return None;
                }
                Some(t) if *t != Type::Timestamp => {
                    self.diags.push(
                        Diagnostic::new(
                            "E0202",
                            format!(
                                "`{key}` column `{}` is a {}, not a timestamp",
                                id.name,
                                t.name()
                            ),
                        )
                        .label(id.span, "must be a timestamp"),
                    );
                    return None;
                }
                Some(_) => {}
            }
        }
        Some(id.name.clone())
    }

    fn request(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "request",
            &["description"],
            &[],
            Allow {
                fields: true,
                ..Allow::default()
            },
        );
        let mut fields = Vec::new();
        for f in &b.fields {
            if let Some(v) = f.value {
                self.diags.push(
                    Diagnostic::new("E0106", "request fields have no definition")
                        .label(v.span, "remove `= ...`")
                        .help("request fields are sent by the caller"),
                );
            }
            if let Some(t) = self.value_type(f.ty) {
                fields.push(Column {
                    name: f.name.name.clone(),
                    ty: t,
                });
            }
        }
        self.push_decl(d, Spec::Request { fields }, vec![]);
    }

    fn features(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "feature view",
            &[
                "entity",
                "source",
                "ttl",
                "owner",
                "online",
                "description",
                "tags",
            ],
            &[],
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
                let Some(v) = f.value else {
                    self.diags.push(
                        Diagnostic::new("E0104", format!("on-demand feature `{fname}` has no definition"))
                            .label(f.name.span, "needs `= expression`")
                            .help("on-demand features are computed from request fields and other features: `x: float = checkout.amount * 2`"),
                    );
                    continue;
                };
                let mut found = Found::default();
                let (t, ir) = self.expr(v, &Scope::OnDemand, &mut found);
                self.expect_type(t, ty, v.span, &fname);
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
                FeatureDef::OnDemand { expr: ir }
            } else {
                let scope = Scope::Batch {
                    schema: schema.as_ref(),
                    source: &source_name,
                };
                match f.value {
                    None => {
                        if let Some(s) = &schema {
                            match s.get(&fname) {
                                None => {
                                    self.diags.push(
                                        Diagnostic::new("E0109", format!("source `{source_name}` has no column `{fname}`"))
                                            .label(f.name.span, "a feature without `=` is a source column of the same name")
                                            .maybe_help(suggestion(&fname, s.keys().map(String::as_str))),
                                    );
                                }
                                Some(t) => self.expect_type(Ty::Val(*t), ty, f.ty.span, &fname),
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
                        FeatureDef::Column {
                            column: fname.clone(),
                        }
                    }
                    Some(v) => {
                        let mut found = Found::default();
                        let errors_before = self.diags.error_count();
                        let (t, ir) = self.expr(v, &scope, &mut found);
                        let expr_failed = self.diags.error_count() > errors_before;
                        self.expect_type(t, ty, v.span, &fname);
                        let window_ms = f.window.and_then(|w| self.duration_ms(w, "over"));
                        if found.aggregates {
                            for (col, span) in &found.bare_columns {
                                self.diags.push(
                                    Diagnostic::new("E0213", format!("column `{col}` is used outside an aggregation"))
                                        .label(*span, "not aggregated")
                                        .help(format!("an aggregated feature reads columns inside aggregations, e.g. `last({col})`")),
                                );
                            }
                            FeatureDef::Aggregate {
                                expr: ir,
                                window_ms,
                            }
                        } else {
                            if let Some(w) = f.window.filter(|_| !expr_failed) {
                                self.diags.push(
                                    Diagnostic::new("E0207", format!("`{fname}` has a window but no aggregation"))
                                        .label(w.span, "nothing to aggregate over this window")
                                        .help("wrap the column in an aggregation such as `sum(...)` or `avg(...)`, or remove `over ...`"),
                                );
                            }
                            FeatureDef::Expr { expr: ir }
                        }
                    }
                }
            };
            names.push(fname.clone());
            self.out.push(HirDecl {
                id: feature_id(&vname, &fname),
                name: fname,
                kind: DeclKind::Features,
                span: f.name.span,
                doc: doc_text(&f.stmt.docs),
                spec: Spec::Feature {
                    view: vname.clone(),
                    ty,
                    def,
                },
                deps,
            });
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
        // The view goes before its features in the HIR.
        let at = self.out.len()
            - self
                .out
                .iter()
                .rev()
                .take_while(|h| matches!(&h.spec, Spec::Feature { view, .. } if *view == vname))
                .count();
        if let Some(n) = &d.name {
            self.out.insert(
                at,
                HirDecl {
                    id: decl_id(d.kind, &n.name),
                    name: n.name.clone(),
                    kind: d.kind,
                    span: n.span,
                    doc: doc_text(&d.docs),
                    spec,
                    deps,
                },
            );
        }
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

    fn model(&mut self, d: &'a Decl) {
        let b = body::sort(
            &mut self.diags,
            &d.body,
            "model",
            &[
                "format",
                "inputs",
                "output",
                "outputs",
                "owner",
                "description",
            ],
            &[],
            Allow::default(),
        );
        let Some(name) = d.name.as_ref().map(|n| n.name.clone()) else {
            return;
        };
        let format = match b.attr("format") {
            Some(e) => self.choice(e, "format", &["torchscript"]),
            None => Some("torchscript".to_string()),
        };
        let outputs_expr = b.attr("output").or(b.attr("outputs"));
        if b.attr("output").is_some() && b.attr("outputs").is_some() {
            if let Some((k, _)) = b.attrs.get("outputs") {
                self.diags.push(
                    Diagnostic::new("E0105", "both `output` and `outputs` given")
                        .label(k.span, "give one of them"),
                );
            }
        }
        let outputs = match outputs_expr {
            Some(e) => self
                .columns(e, "output")
                .into_iter()
                .map(|(c, _)| c)
                .collect(),
            None => {
                self.required(&b, d, "output", "model", "output = score: float");
                Vec::new()
            }
        };
        let mut inputs = Vec::new();
        let mut deps = Vec::new();
        if let Some(e) = self.required(
            &b,
            d,
            "inputs",
            "model",
            "inputs = [view.feature, request.field]",
        ) {
            let items: Vec<&ast::Expr> = match &e.kind {
                ExprKind::List(items) => items.iter().collect(),
                _ => vec![e],
            };
            let mut seen: HashMap<InputRef, Span> = HashMap::new();
            for it in items {
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
                    continue;
                };
                let Some(r) = self.member_ref(&p[0], &p[1]) else {
                    continue;
                };
                if let Some(first) = seen.get(&r) {
                    self.diags.push(
                        Diagnostic::new("E0315", "model input listed twice")
                            .label(it.span, "again here")
                            .related(*first, "first here"),
                    );
                    continue;
                }
                seen.insert(r.clone(), it.span);
                match &r {
                    InputRef::Feature { view, feature } => {
                        if self.views.get(view).is_some_and(|v| !v.online) {
                            self.diags.push(
                                Diagnostic::new("E0304", format!("`{view}.{feature}` is not served online"))
                                    .label(it.span, format!("feature view `{view}` has `online = false`"))
                                    .help("a deployed model needs every input online: remove `online = false` from the view"),
                            );
                        }
                        deps.push((feature_id(view, feature), EdgeKind::Input));
                    }
                    InputRef::Request { request, .. } => {
                        deps.push((decl_id(DeclKind::Request, request), EdgeKind::Input))
                    }
                    InputRef::ModelOutput { model, .. } => {
                        if *model == name {
                            self.diags.push(
                                Diagnostic::new("E0303", "a model cannot read its own output")
                                    .label(it.span, "cycle"),
                            );
                            continue;
                        }
                    }
                }
                inputs.push(r);
            }
        }
        let owner = b.attr("owner").and_then(|e| self.string(e, "owner"));
        if let Some(e) = b.attr("description") {
            self.string(e, "description");
        }
        if let Some(m) = self.models.get_mut(&name) {
            m.inputs = inputs.clone();
        }
        if let Some(format) = format {
            self.push_decl(
                d,
                Spec::Model {
                    format,
                    inputs,
                    outputs,
                    owner,
                },
                deps,
            );
        }
    }
}

fn article(t: Type) -> &'static str {
    match t {
        Type::Int => "an int",
        Type::Float => "a float",
        Type::Bool => "a bool",
        Type::String => "a string",
        Type::Timestamp => "a timestamp",
    }
}

fn const_fits(c: &Const, t: Type) -> bool {
    matches!(
        (c, t),
        (Const::Str(_), Type::String)
            | (Const::Int(_), Type::Int)
            | (Const::Int(_) | Const::Float(_), Type::Float)
            | (Const::Bool(_), Type::Bool)
    )
}

fn yaml_const(v: &serde_yaml::Value, t: Type) -> Option<Const> {
    match (v, t) {
        (serde_yaml::Value::String(s), Type::String) => Some(Const::Str(s.clone())),
        (serde_yaml::Value::Number(n), Type::Int) => n.as_i64().map(Const::Int),
        (serde_yaml::Value::Number(n), Type::Float) => n.as_f64().map(Const::Float),
        (serde_yaml::Value::Bool(b), Type::Bool) => Some(Const::Bool(*b)),
        _ => None,
    }
}
