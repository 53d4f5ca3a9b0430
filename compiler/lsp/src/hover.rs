//! Hover beyond a name's declaration: built-ins (their stdlib signature and doc, and what
//! the runtime does with them), deployments (the serving graph as written, the outputs,
//! the SLA and batching, who consumes and monitors it) and models (each input with its
//! type, the outputs, the deployments that serve it).

use crate::context;
use crate::symbols;
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use mlp_driver::Checked;
use mlp_stdlib::Kind;
use mlp_syntax::ast::{Decl, DeclKind, Expr, ExprKind, StmtKind};

/// The Markdown hover.
pub fn markdown(md: String) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: md,
        }),
        range: None,
    }
}

/// The value of attribute `key` of `d`.
pub fn attr<'a>(d: &'a Decl, key: &str) -> Option<&'a Expr> {
    d.body.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Attr { key: k, value } if k.name == key => Some(value),
        _ => None,
    })
}

/// Calls `f` on `e` and every expression inside it.
pub fn walk<'a>(e: &'a Expr, f: &mut impl FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Call { args, .. } => args.iter().for_each(|a| walk(&a.value, f)),
        ExprKind::List(items) => items.iter().for_each(|x| walk(x, f)),
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => walk(x, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
        _ => {}
    }
}

/// A model's outputs as written: `output = score: float`, `outputs = [a: int, ...]` or
/// `outputs { probs: float32[3]  p: float = probs[1] }`, with their types (`float32[3]`).
pub fn model_outputs(d: &Decl) -> Vec<(String, String)> {
    let typed = |ty: &mlp_syntax::ast::Ident, width: &Option<mlp_syntax::ast::Width>| match width {
        Some(w) => format!("{}[{}]", ty.name, w.n),
        None => ty.name.clone(),
    };
    let mut out = Vec::new();
    for key in ["output", "outputs"] {
        if let Some(e) = attr(d, key) {
            for it in e.items() {
                if let ExprKind::Typed { name, ty, width } = &it.kind {
                    out.push((name.name.clone(), typed(ty, width)));
                }
            }
        }
    }
    for s in &d.body.stmts {
        if let StmtKind::Block { name, body } = &s.kind {
            if name.name != "outputs" {
                continue;
            }
            for f in &body.stmts {
                if let StmtKind::Field {
                    name, ty, width, ..
                } = &f.kind
                {
                    out.push((name.name.clone(), typed(ty, width)));
                }
            }
        }
    }
    out
}

/// What a deployment returns, from its graph as written: a model's outputs, another
/// deployment's, a chain's last step's, a route's `then` branch's, a combination's first
/// member's (`depth` bounds a cycle of deployments).
pub fn deployment_outputs(checked: &Checked, d: &Decl, depth: usize) -> Vec<(String, String)> {
    match attr(d, "model") {
        Some(e) => graph_outputs(checked, e, depth),
        None => Vec::new(),
    }
}

fn graph_outputs(checked: &Checked, e: &Expr, depth: usize) -> Vec<(String, String)> {
    if depth > 16 {
        return Vec::new();
    }
    match &e.kind {
        ExprKind::ModelRef { model, .. } => symbols::decl_named(checked, &model.name)
            .filter(|(_, d)| d.kind == DeclKind::Model)
            .map(|(_, d)| model_outputs(d))
            .unwrap_or_default(),
        ExprKind::Path(p) if p.len() == 1 => symbols::decl_named(checked, &p[0].name)
            .filter(|(_, d)| d.kind == DeclKind::Deployment)
            .map(|(_, d)| deployment_outputs(checked, d, depth + 1))
            .unwrap_or_default(),
        ExprKind::Call { name, args } => {
            let member = match name.name.as_str() {
                "chain" => args.iter().rev().find(|a| a.name.is_none()),
                "route" => args
                    .iter()
                    .find(|a| a.name.as_ref().is_some_and(|n| n.name == "then")),
                _ => args.iter().filter(|a| a.name.is_none()).nth(1),
            };
            member.map_or_else(Vec::new, |a| graph_outputs(checked, &a.value, depth + 1))
        }
        ExprKind::Paren(x) => graph_outputs(checked, x, depth),
        _ => Vec::new(),
    }
}

/// The hover of a built-in named at byte `at` of `text`, where the context allows it (a
/// call, a bare metric in `check`, a sink, a store, a combiner); `None` otherwise.
pub fn builtin(checked: &Checked, text: &str, at: usize) -> Option<Hover> {
    let (parts, _) = symbols::name_at(text, at)?;
    let [name] = parts.as_slice() else {
        return None;
    };
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let end = text[at..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(text.len(), |i| at + i);
    let called = text[end..].trim_start().starts_with('(');
    let cx = context::at(text, at);
    if cx.in_string || cx.in_comment {
        return None;
    }
    if cx.block().as_deref() == Some("deployment") && cx.key() == Some("model") && called {
        if let Some(md) = graph_doc(name) {
            return Some(markdown(md));
        }
    }
    let mut kinds = crate::complete::builtin_kinds(&cx, text);
    if kinds.is_empty() && called {
        kinds = vec![
            Kind::Scalar,
            Kind::Aggregate,
            Kind::Metric,
            Kind::Sink,
            Kind::Store,
        ];
    }
    let b = kinds.iter().find_map(|k| mlp_stdlib::get(*k, name))?;
    // A declaration of the same name wins unless the name is called.
    if !called && symbols::decl_named(checked, name).is_some() {
        return None;
    }
    let mut md = format!(
        "```mlp\n{} {}\n```\n{}",
        b.kind.keyword(),
        b.signature(),
        b.doc
    );
    match mlp_sema::support::builtin(b.kind, &b.name) {
        Some(mlp_sema::support::Support::Rejected(r)) => {
            md.push_str(&format!(
                "\n\n**Rejected by this version** ({}): {}",
                r.code, r.message
            ));
        }
        Some(mlp_sema::support::Support::Runtime(by)) => {
            md.push_str(&format!("\n\nRun by: {by}"));
        }
        _ => {}
    }
    Some(markdown(md))
}

fn graph_doc(name: &str) -> Option<String> {
    let doc = match name {
        "chain" => "`chain(a, b, ...)`: each model's outputs are available as inputs to the later ones.",
        "route" => "`route(by = X, when = CONDITION, then = A, else = B)`: `X` runs first; the condition over its outputs picks `A` or `B`.",
        "combine" => "`combine(METHOD, a, b, ...)`: `mean`, `max`, `min`, `vote`, or `weighted` with `weights = [...]`; the models must have the same outputs.",
        _ => return None,
    };
    Some(format!("serving graph\n\n{doc}"))
}

fn doc_of(d: &Decl) -> String {
    d.docs
        .iter()
        .map(|x| x.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn name_of(d: &Decl) -> String {
    d.name.as_ref().map_or(String::new(), |n| n.name.clone())
}

/// Every declaration of the project of `kind`.
fn all_of(checked: &Checked, kind: DeclKind) -> impl Iterator<Item = &Decl> {
    checked
        .asts
        .iter()
        .flat_map(|(_, f)| f.decls.iter())
        .filter(move |d| d.kind == kind)
}

/// The names an expression mentions first in each path (`fraud_api` in `fraud_api.score`)
/// and the models it references (`m` in `m@production`).
fn mentions(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    walk(e, &mut |x| match &x.kind {
        ExprKind::Path(p) => out.extend(p.first().map(|i| i.name.clone())),
        ExprKind::ModelRef { model, .. } => out.push(model.name.clone()),
        _ => {}
    });
    out
}

fn text_of(checked: &Checked, e: &Expr) -> String {
    checked.map.slice(e.span).to_string()
}

/// A deployment: its graph and shadow as written, what it returns, its SLA and batching,
/// and the consumers and monitors that name it.
pub fn deployment(checked: &Checked, d: &Decl) -> String {
    let name = name_of(d);
    let mut md = format!("```mlp\ndeployment {name}\n");
    for key in ["model", "shadow", "log", "mode", "device", "replicas"] {
        if let Some(e) = attr(d, key) {
            md.push_str(&format!("{key} = {}\n", text_of(checked, e)));
        }
    }
    md.push_str("```\n");
    let outs = deployment_outputs(checked, d, 0);
    if !outs.is_empty() {
        let list: Vec<String> = outs.iter().map(|(n, t)| format!("`{n}: {t}`")).collect();
        md.push_str(&format!("\n**outputs**: {}\n", list.join(", ")));
    }
    let block = |b: &str| {
        d.body.stmts.iter().find_map(|s| match &s.kind {
            StmtKind::Block { name, body } if name.name == b => Some(body),
            _ => None,
        })
    };
    for b in ["sla", "batching", "resources"] {
        let Some(body) = block(b) else {
            if b == "sla" {
                md.push_str("\n**sla**: none declared\n");
            }
            continue;
        };
        let items: Vec<String> = body
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Attr { key, value } => {
                    Some(format!("`{} = {}`", key.name, text_of(checked, value)))
                }
                _ => None,
            })
            .collect();
        md.push_str(&format!("\n**{b}**: {}\n", items.join(", ")));
    }
    let named_by = |kind: DeclKind, key: &str| -> Vec<String> {
        all_of(checked, kind)
            .filter(|x| attr(x, key).is_some_and(|e| mentions(e).contains(&name)))
            .map(name_of)
            .map(|n| format!("`{n}`"))
            .collect()
    };
    for (kind, key, what) in [
        (DeclKind::Consumer, "uses", "consumers"),
        (DeclKind::Monitor, "on", "monitors"),
    ] {
        let list = named_by(kind, key);
        if !list.is_empty() {
            md.push_str(&format!("\n**{what}**: {}\n", list.join(", ")));
        }
    }
    let doc = doc_of(d);
    if !doc.is_empty() {
        md.push_str(&format!("\n{doc}\n"));
    }
    md
}

/// The type of an input `view.feature`, `request.field` or `model.output`.
fn input_type(checked: &Checked, e: &Expr) -> Option<String> {
    let p = e.as_path()?;
    let [owner, member] = p else { return None };
    let (_, d) = symbols::decl_named(checked, &owner.name)?;
    if d.kind == DeclKind::Model {
        return model_outputs(d)
            .into_iter()
            .find(|(n, _)| *n == member.name)
            .map(|(_, t)| t);
    }
    d.body.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Field { name, ty, .. } if name.name == member.name => Some(ty.name.clone()),
        _ => None,
    })
}

/// A model: its inputs with their types, its outputs and format, and the deployments
/// whose graphs serve it.
pub fn model(checked: &Checked, d: &Decl) -> String {
    let name = name_of(d);
    let mut md = format!("```mlp\nmodel {name}\n```\n");
    if let Some(e) = attr(d, "inputs") {
        md.push_str("\n**inputs**:\n");
        for it in e.items() {
            let ty = input_type(checked, it).unwrap_or_else(|| "?".into());
            md.push_str(&format!("- `{}: {ty}`\n", text_of(checked, it)));
        }
    }
    // An `inputs { }` block: each tensor with its type and the inputs it holds.
    let tensors = d.body.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Block { name, body } if name.name == "inputs" => Some(body),
        _ => None,
    });
    if let Some(body) = tensors {
        md.push_str("\n**input tensors**, in `forward`'s order:\n");
        for s in &body.stmts {
            let StmtKind::Field {
                name,
                ty,
                ids,
                value: Some(v),
                ..
            } = &s.kind
            else {
                continue;
            };
            let range = ids
                .as_ref()
                .map(|r| format!(" in {}..{}", r.lo, r.hi))
                .unwrap_or_default();
            let items: Vec<String> = v
                .items()
                .iter()
                .map(|it| {
                    let t = input_type(checked, it).unwrap_or_else(|| "?".into());
                    format!("`{}: {t}`", text_of(checked, it))
                })
                .collect();
            md.push_str(&format!(
                "- `{}: {}{range}`: {}\n",
                name.name,
                ty.name,
                items.join(", ")
            ));
        }
    }
    let outs = model_outputs(d);
    if !outs.is_empty() {
        let list: Vec<String> = outs.iter().map(|(n, t)| format!("`{n}: {t}`")).collect();
        md.push_str(&format!("\n**outputs**: {}\n", list.join(", ")));
    }
    if let Some(e) = attr(d, "format") {
        md.push_str(&format!("\n**format**: `{}`\n", text_of(checked, e)));
    }
    let served: Vec<String> = all_of(checked, DeclKind::Deployment)
        .filter(|x| {
            ["model", "shadow"]
                .iter()
                .any(|k| attr(x, k).is_some_and(|e| mentions(e).contains(&name)))
        })
        .map(|x| format!("`{}`", name_of(x)))
        .collect();
    if !served.is_empty() {
        md.push_str(&format!("\n**served by**: {}\n", served.join(", ")));
    }
    let doc = doc_of(d);
    if !doc.is_empty() {
        md.push_str(&format!("\n{doc}\n"));
    }
    md
}
