//! The data declarations: `project` (its stores), `entity` (key columns), `source` (path,
//! format, time columns and schema) and `request` (fields sent with a prediction).

use crate::body::{self, Allow};
use crate::consts::Const;
use crate::decls::{doc_text, Checker};
use crate::fast::IndexMap;
use crate::hir::HirDecl;
use mlp_diagnostics::{suggestion, Diagnostic, Span};
use mlp_ir::{Backend, Column, SourceFormat, Spec, Type};
use mlp_syntax::ast::{self, Decl, ExprKind};

/// A diagnostic for a store argument whose type is right and whose value is not: a Redis URL
/// the client cannot use, a negative cache size, an empty key prefix.
fn store_argument(store: &str, param: &str, value: &Const, span: Span) -> Option<Diagnostic> {
    match (store, param, value) {
        ("redis", "url", Const::Str(url)) => {
            let ok = match url.strip_prefix("redis://") {
                // A host is needed: `redis://:6379` and `redis:///0` name none.
                Some(rest) => !rest.is_empty() && !rest.starts_with(['/', ':']),
                None => ["redis+unix://", "unix://"]
                    .iter()
                    .any(|s| url.strip_prefix(s).is_some_and(|path| path.len() > 1)),
            };
            (!ok).then(|| redis_url(url, span))
        }
        ("redis", "near_cache", Const::Int(n)) if *n < 0 => Some(
            Diagnostic::new(
                "E0215",
                format!("`near_cache` must be 0 or more, found {n}"),
            )
            .label(span, "negative")
            .help("the rows the in-process cache in front of Redis holds; 0 for none"),
        ),
        ("redis", "prefix", Const::Str(p)) if p.is_empty() || p.contains(char::is_whitespace) => {
            Some(
                Diagnostic::new(
                    "E0214",
                    "a Redis key prefix must be non-empty, without spaces",
                )
                .label(span, "not a usable prefix")
                .help("e.g. `prefix = \"mlp:fraud\"`; the default is `mlp:PROJECT`"),
            )
        }
        ("spark", "master", Const::Str(m)) if !spark_master(m) => Some(
            Diagnostic::new("E0214", format!("`{m}` is not a Spark master URL"))
                .label(span, "not local[N], spark://HOST:PORT, yarn, k8s://… or mesos://…")
                .help("write e.g. `spark(master = \"local[2]\")` to run on this machine, or the cluster's `spark://HOST:7077`"),
        ),
        ("spark", "staging", Const::Str(p)) if p.trim().is_empty() => Some(
            Diagnostic::new("E0214", "a Spark staging folder must be a path")
                .label(span, "empty")
                .help("a folder every node of the cluster mounts, e.g. `staging = \"/shared/mlp\"`; the default is `.mlp/spark`"),
        ),
        _ => None,
    }
}

/// Whether `m` is a master URL Spark accepts: `local`, `local[N]`, `local[*]`,
/// `local[N,F]`, `spark://HOST[:PORT][,HOST…]`, `yarn`, `k8s://URL`, `mesos://URL`.
fn spark_master(m: &str) -> bool {
    let threads = |t: &str| t == "*" || t.parse::<u32>().is_ok_and(|n| n > 0);
    if m == "local" || m == "yarn" {
        return true;
    }
    if let Some(inner) = m.strip_prefix("local[").and_then(|r| r.strip_suffix(']')) {
        return match inner.split_once(',') {
            Some((n, f)) => threads(n) && f.parse::<u32>().is_ok(),
            None => threads(inner),
        };
    }
    ["spark://", "k8s://", "mesos://"].iter().any(|p| {
        m.strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with([':', '/']))
    })
}

fn redis_url(url: &str, span: Span) -> Diagnostic {
    Diagnostic::new("E0214", format!("`{url}` is not a Redis URL"))
        .label(span, "not redis://HOST[:PORT][/DB]")
        .help("write e.g. `redis(\"redis://127.0.0.1:6379/0\")`, or `unix:///run/redis.sock`")
}

impl<'a> Checker<'a> {
    pub(crate) fn backend(&mut self, e: &ast::Expr, key: &str, kind: &str) -> Option<Backend> {
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
        // A store or sink the language has and this version does not run.
        if let Some(crate::support::Support::Rejected(r)) = crate::support::builtin(kind, &b.name) {
            self.diags.push(body::rejection(&r, name.span));
        }
        // An argument of an implemented store that this version does not use.
        if let Some(r) = crate::support::rejected_arguments(kind, &b.name, args.len()) {
            let span = args.first().map_or(name.span, |a| a.value.span);
            self.diags.push(body::rejection(&r, span));
        }
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
            if let Some(c) = self.backend_argument(b, p, a) {
                out.args.insert(p.name.clone(), c.literal());
            }
        }
        Some(out)
    }

    /// Argument `a` of store or sink `b`, filling parameter `p`: a constant of the
    /// parameter's type (E0205 if not), checked for what that store takes.
    fn backend_argument(
        &mut self,
        b: &mlp_stdlib::Builtin,
        p: &mlp_stdlib::Param,
        a: &ast::Arg,
    ) -> Option<Const> {
        let c = self.konst(&a.value);
        let ok = matches!(
            (&c, p.types.first().map(String::as_str)),
            (Some(Const::Str(_)), Some("string")) | (Some(Const::Int(_)), Some("int"))
        );
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
            return None;
        }
        let c = c?;
        if let Some(d) = store_argument(&b.name, &p.name, &c, a.value.span) {
            self.diags.push(d);
        }
        Some(c)
    }

    pub(crate) fn project_decl(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "project", Allow::default());
        self.project = d.name.as_ref().map(|n| n.name.clone());
        let offline = match b.attr("offline") {
            Some(e) => self.backend(e, "offline", "offline"),
            None => Some(Backend {
                kind: "duckdb".into(),
                args: Default::default(),
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

    pub(crate) fn columns(&mut self, e: &ast::Expr, key: &str) -> Vec<(Column, Span)> {
        let items = e.items();
        let mut out: Vec<(Column, Span)> = Vec::new();
        for it in items {
            match &it.kind {
                ExprKind::Typed { name, ty, width } => {
                    if let Some(w) = width {
                        self.diags.push(crate::outputs::misplaced_width(w.span));
                    }
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
                        out.push((Column::scalar(name.name.clone(), t), ty.span));
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

    pub(crate) fn entity(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "entity", Allow::default());
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

    pub(crate) fn source(&mut self, d: &'a Decl) {
        let b = body::sort_schema(&mut self.diags, &d.body, "source", Allow::default());
        let name = d.name.as_ref().map(|n| n.name.clone()).unwrap_or_default();
        let schema = b.block("schema").map(|blk| {
            let sb = body::sort_schema(
                &mut self.diags,
                blk,
                "schema",
                Allow {
                    fields: true,
                    ..Allow::default()
                },
            );
            let mut m = IndexMap::default();
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
                .map(|(name, ty)| Column::scalar(name, ty))
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

    pub(crate) fn column_name(
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

    pub(crate) fn request(&mut self, d: &'a Decl) {
        let b = body::sort_schema(
            &mut self.diags,
            &d.body,
            "request",
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
                fields.push(Column::scalar(f.name.name.clone(), t));
            }
        }
        self.push_decl(d, Spec::Request { fields }, vec![]);
    }
}
