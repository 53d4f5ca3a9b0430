//! Completion: what fits where the cursor is, read from the text around it
//! ([`crate::context`]) and offered from the checked project and the stdlib:
//!
//! - after `NAME.`, the members of `NAME` (a view's features, a request's fields, a
//!   deployment's outputs);
//! - at the start of a statement, the declaration keywords or the block's attributes;
//! - after `model@`, the model's aliases and registered versions;
//! - after a number, the units that the place takes (durations, sizes, `%`, `/s`);
//! - in a value, the declarations of the kind the attribute names ([`REFS`]), the
//!   built-ins the place accepts (aggregations and scalar functions in a view with a source,
//!   scalars in on-demand features, metrics in `check`, sinks in `alert`, stores in the
//!   project, combiners in `combine(`) and the fixed choices of an attribute.

use crate::context::{self, Context};
use crate::hover;
use crate::symbols;
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, Range, TextEdit,
};
use mlp_diagnostics::SourceFile;
use mlp_driver::Checked;
use mlp_stdlib::{Builtin, Kind};
use mlp_syntax::ast::{Decl, DeclKind};
use mlp_syntax::units::{DURATION_UNITS, RATE_UNITS, SIZE_UNITS};
use std::path::Path;

/// The declaration kinds an attribute of a block names, as the checker resolves them
/// (`decl_ref`/`resolve` in `compiler/sema/src`: views.rs, graph.rs, pipeline.rs); a test
/// checks each entry against the checker.
pub const REFS: &[(&str, &str, &[DeclKind])] = &[
    ("feature view", "entity", &[DeclKind::Entity]),
    ("feature view", "source", &[DeclKind::Source]),
    (
        "model",
        "inputs",
        &[DeclKind::Features, DeclKind::Request, DeclKind::Model],
    ),
    (
        "deployment",
        "model",
        &[DeclKind::Model, DeclKind::Deployment],
    ),
    ("deployment", "shadow", &[DeclKind::Model]),
    ("monitor", "on", &[DeclKind::Deployment]),
    ("consumer", "uses", &[DeclKind::Deployment]),
    ("step", "registers", &[DeclKind::Model]),
    ("step", "promote", &[DeclKind::Model]),
    (
        "training_set",
        "features",
        &[DeclKind::Features, DeclKind::Model],
    ),
    ("materialize", "views", &[DeclKind::Features]),
];

/// The fixed choices of an attribute (the checker's `choice` calls).
const CHOICES: &[(&str, &str, &[&str])] = &[
    ("deployment", "log", &["all", "none", "sample"]),
    ("deployment", "device", &["auto", "cpu", "cuda"]),
    ("deployment", "mode", &["online", "lookup"]),
    ("pipeline", "catchup", &["none", "latest", "all"]),
    ("monitor", "baseline", &["training", "previous"]),
    ("source", "format", &["parquet", "csv"]),
    ("model", "format", &["torchscript"]),
    ("feature view", "online", &["true", "false"]),
];

/// Attributes whose value is a duration (besides the SLA's latencies, from the stdlib).
const DURATION_KEYS: &[&str] = &[
    "ttl",
    "retry_delay",
    "timeout",
    "every",
    "window",
    "max_delay",
];

/// The aliases every registry knows or that the docs use.
const ALIASES: &[&str] = &["production", "staging", "latest"];

/// The serving graphs of a deployment's `model` (`compiler/sema/src/serving.rs`).
const GRAPHS: &[(&str, &str, &str)] = &[
    (
        "chain",
        "chain(a, b, ...)",
        "Each model's outputs are available as inputs to the later ones.",
    ),
    (
        "route",
        "route(by = X, when = CONDITION, then = A, else = B)",
        "`X` runs first; the condition over its outputs picks `A` or `B`.",
    ),
    (
        "combine",
        "combine(METHOD, a, b, ...)",
        "Combines models with the same outputs: `mean`, `max`, `min`, `vote`, or `weighted` with `weights = [...]`.",
    ),
];

/// What units a number takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Units {
    Duration,
    Size,
    Percent,
    Rate,
    Any,
}

/// Completion at byte `at` of `text`, the document `path` of the project in `dir`.
pub fn completion(
    checked: &Checked,
    dir: &Path,
    path: &Path,
    text: &str,
    at: usize,
) -> Vec<CompletionItem> {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let cx = context::at(text, at);
    if cx.in_string || cx.in_comment {
        return Vec::new();
    }
    let before = &text[..at];
    let file = SourceFile::new(path.display().to_string(), text);
    let range = |from: usize| {
        Range::new(
            crate::workspace::position(&file, from),
            crate::workspace::position(&file, at),
        )
    };
    if let Some((start, units)) = number_before(before, &cx) {
        return unit_items(units, range(start));
    }
    let word = context::trailing_word(before);
    let lead = &before[..before.len() - word.len()];
    if let Some(model_path) = lead.strip_suffix('@') {
        let model = context::trailing_word(model_path);
        return alias_items(checked, dir, model);
    }
    if let Some(owner_path) = lead.strip_suffix('.') {
        let owner = context::trailing_word(owner_path);
        let ahead = &owner_path[..owner_path.len() - owner.len()];
        // Only `NAME.`: a deeper path (`a.b.`) has no members to offer.
        if owner.is_empty() || ahead.ends_with('.') {
            return Vec::new();
        }
        return member_items(checked, owner, &reparsed(checked, path, text, &cx, at));
    }
    if cx.stmt.trim() == word {
        // A word at the start of a statement: keywords, attributes, blocks. Without the
        // word being typed, so that the document parses.
        let start = at - word.len();
        let rest = format!("{}{}", &text[..start], &text[at..]);
        return symbols::keyword_completions(&rest, start);
    }
    values(checked, dir, text, &cx)
}

/// After a number (`7`, `7m`, `2000/`): where its unit starts and what units fit.
fn number_before(before: &str, cx: &Context) -> Option<(usize, Units)> {
    let unit_len = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '%' || *c == '/')
        .count();
    let unit_start = before.len() - unit_len; // ASCII only: a byte each
    let number = &before[..unit_start];
    let num_len = number
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == '_' || *c == '.')
        .count();
    let digits = &number[number.len() - num_len..];
    let ahead = &number[..number.len() - num_len];
    let starts_name = ahead.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if !digits.starts_with(|c: char| c.is_ascii_digit()) || starts_name {
        return None;
    }
    let unit = &before[unit_start..];
    // A `/` only as the first character of a rate.
    if unit.get(1..).is_some_and(|u| u.contains('/')) {
        return None;
    }
    let units = if unit.starts_with('/') {
        Units::Rate
    } else {
        expected_units(cx)
    };
    Some((unit_start, units))
}

/// The units the place of the cursor takes.
fn expected_units(cx: &Context) -> Units {
    let metric_units = |name: &str| {
        mlp_stdlib::get(Kind::Metric, name).and_then(|m| match m.returns.as_str() {
            "duration" => Some(Units::Duration),
            "percent" => Some(Units::Percent),
            "rate" => Some(Units::Rate),
            _ => None,
        })
    };
    if cx.in_window() {
        return Units::Duration;
    }
    match cx.call().map(|o| o.name.as_str()) {
        Some("previous") => return Units::Duration,
        Some("sample") => return Units::Percent,
        _ => {}
    }
    if cx.first_word() == "check" {
        // The metric compared: `check latency_p99 < 20`.
        return cx
            .stmt
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find_map(metric_units)
            .unwrap_or(Units::Any);
    }
    match cx.key() {
        Some(k) if DURATION_KEYS.contains(&k) => Units::Duration,
        Some("memory") => Units::Size,
        Some(k) => metric_units(k).unwrap_or(Units::Any),
        None => Units::Any,
    }
}

fn unit_items(units: Units, range: Range) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    let mut add = |label: String, detail: String| {
        let n = out.len();
        out.push(CompletionItem {
            label: label.clone(),
            kind: Some(CompletionItemKind::UNIT),
            detail: Some(detail),
            sort_text: Some(format!("{n:03}")),
            filter_text: Some(label.clone()),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, label))),
            ..Default::default()
        });
    };
    if matches!(units, Units::Duration | Units::Any) {
        for (u, ms) in DURATION_UNITS {
            add(u.to_string(), format!("duration: 1{u} = {ms} ms"));
        }
    }
    if matches!(units, Units::Size | Units::Any) {
        for (u, bytes) in SIZE_UNITS {
            add(u.to_string(), format!("size: 1{u} = {bytes} bytes"));
        }
    }
    if matches!(units, Units::Percent | Units::Any) {
        add("%".into(), "percentage: 10% = 0.1".into());
    }
    if matches!(units, Units::Rate) {
        for (u, secs) in RATE_UNITS {
            add(format!("/{u}"), format!("rate: events per {secs} s"));
        }
    }
    out
}

/// A declaration as an item: its name, kind and doc.
fn decl_item(kind: DeclKind, name: &str, docs: &[String]) -> CompletionItem {
    CompletionItem {
        label: name.to_string(),
        kind: Some(match kind {
            DeclKind::Entity => CompletionItemKind::STRUCT,
            DeclKind::Source => CompletionItemKind::FILE,
            DeclKind::Features | DeclKind::Request => CompletionItemKind::CLASS,
            DeclKind::Model => CompletionItemKind::INTERFACE,
            DeclKind::Deployment => CompletionItemKind::MODULE,
            _ => CompletionItemKind::REFERENCE,
        }),
        detail: Some(kind.describe().to_string()),
        documentation: (!docs.is_empty()).then(|| Documentation::String(docs.join("\n"))),
        ..Default::default()
    }
}

/// The declarations of the project (and of the edited text, which may not parse), each
/// once: kind, name and doc lines.
fn declarations(checked: &Checked, text: &str) -> Vec<(DeclKind, String, Vec<String>)> {
    let mut out: Vec<(DeclKind, String, Vec<String>)> = Vec::new();
    for (_, f) in &checked.asts {
        for d in &f.decls {
            if let Some(n) = &d.name {
                if !out.iter().any(|(_, x, _)| *x == n.name) {
                    let docs = d.docs.iter().map(|x| x.text.clone()).collect();
                    out.push((d.kind, n.name.clone(), docs));
                }
            }
        }
    }
    // Files that do not parse (the edited one among them): their declarations as written.
    let unparsed = checked
        .map
        .files()
        .filter(|(id, f)| f.name.ends_with(".mlp") && !checked.asts.iter().any(|(a, _)| a == id))
        .map(|(_, f)| f.text.to_string());
    for t in std::iter::once(text.to_string()).chain(unparsed) {
        for (k, n) in context::declared(&t) {
            if !out.iter().any(|(_, x, _)| *x == n) {
                out.push((k, n, Vec::new()));
            }
        }
    }
    out
}

/// A built-in as an item: its signature as the detail, its doc as documentation.
pub fn builtin_item(b: &Builtin) -> CompletionItem {
    CompletionItem {
        label: b.name.clone(),
        kind: Some(if b.params.is_some() {
            CompletionItemKind::FUNCTION
        } else {
            CompletionItemKind::CONSTANT
        }),
        detail: Some(b.signature()),
        documentation: Some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!("{} · {}", b.kind.keyword(), b.doc),
        })),
        ..Default::default()
    }
}

/// The built-ins of `kind` that the runtime does not reject.
fn builtins(kind: Kind, returns: Option<&str>) -> Vec<CompletionItem> {
    mlp_stdlib::all()
        .iter()
        .filter(move |b| b.kind == kind && returns.is_none_or(|r| b.returns == r))
        .filter(|b| {
            !matches!(
                mlp_sema::support::builtin(b.kind, &b.name),
                Some(mlp_sema::support::Support::Rejected(_)) | None
            )
        })
        .map(builtin_item)
        .collect()
}

fn word_item(label: &str, kind: CompletionItemKind, detail: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..Default::default()
    }
}

/// The built-in kinds a call in the place of the cursor may name, as the checker allows
/// them (`typeck.rs`, `Checker::call`); empty where no call is checked as an expression.
pub fn builtin_kinds(cx: &Context, text: &str) -> Vec<Kind> {
    let block = cx.block().unwrap_or_default();
    let key = cx.key();
    match (block.as_str(), key) {
        ("monitor", Some("alert")) => vec![Kind::Sink],
        ("project", Some("offline" | "online" | "lineage")) => vec![Kind::Store],
        ("deployment", Some("model")) => match cx.call() {
            Some(o) if o.name == "combine" && o.arg == 0 => vec![Kind::Combiner],
            Some(o) if o.arg_text.trim_start().starts_with("when") => vec![Kind::Scalar],
            _ => Vec::new(),
        },
        ("monitor", _) if cx.first_word() == "check" => vec![Kind::Metric, Kind::Scalar],
        ("feature view", _) if cx.in_field_value() => {
            let with_source = cx.frames.first().is_some_and(|f| {
                context::block_keys(text, f.open)
                    .iter()
                    .any(|k| k == "source")
            });
            if with_source {
                vec![Kind::Aggregate, Kind::Scalar]
            } else {
                vec![Kind::Scalar]
            }
        }
        ("step", _) if cx.first_word() == "require" => vec![Kind::Scalar],
        _ => Vec::new(),
    }
}

/// Names, built-ins and choices for the value being typed.
fn values(checked: &Checked, dir: &Path, text: &str, cx: &Context) -> Vec<CompletionItem> {
    let block = cx.block().unwrap_or_default();
    let key = cx.key();
    let mut out: Vec<CompletionItem> = Vec::new();
    let decls = declarations(checked, text);
    let of_kinds = |kinds: &[DeclKind], out: &mut Vec<CompletionItem>| {
        for (k, n, docs) in &decls {
            if kinds.contains(k) {
                out.push(decl_item(*k, n, docs));
            }
        }
    };
    for kind in builtin_kinds(cx, text) {
        let returns = match (kind, key) {
            (Kind::Store, Some(k)) => Some(k),
            _ => None,
        };
        out.extend(builtins(kind, returns));
    }
    if block == "feature view" && cx.in_field_value() && !cx.in_window() {
        if builtin_kinds(cx, text) == [Kind::Scalar] {
            // On demand: other views' features and request fields.
            of_kinds(&[DeclKind::Features, DeclKind::Request], &mut out);
        }
        return out;
    }
    if block == "monitor" && cx.first_word() == "check" {
        return out;
    }
    let Some(key) = key else {
        return out;
    };
    if let Some((_, _, choices)) = CHOICES.iter().find(|(b, k, _)| *b == block && *k == key) {
        for c in *choices {
            out.push(word_item(c, CompletionItemKind::ENUM_MEMBER, key));
        }
    }
    if block == "deployment" && (key == "model" || key == "shadow") {
        let named_when = cx
            .call()
            .is_some_and(|o| o.arg_text.trim_start().starts_with("when"));
        let combine_method = cx.call().is_some_and(|o| o.name == "combine" && o.arg == 0);
        if named_when || combine_method {
            return out;
        }
        out.extend(model_refs(checked, dir, &decls));
        if key == "model" {
            let this = cx.decl().and_then(|(_, n)| n);
            for (k, n, docs) in &decls {
                if *k == DeclKind::Deployment && Some(n.as_str()) != this {
                    out.push(decl_item(*k, n, docs));
                }
            }
            for (name, sig, doc) in GRAPHS {
                let mut item = word_item(name, CompletionItemKind::FUNCTION, sig);
                item.documentation = Some(Documentation::String(doc.to_string()));
                out.push(item);
            }
        }
        return out;
    }
    if block == "step" && key == "after" {
        if let Some(f) = cx.frames.first() {
            for s in step_names(text, f.open) {
                out.push(word_item(&s, CompletionItemKind::FUNCTION, "step"));
            }
        }
        return out;
    }
    if block == "step" && key == "promote" && cx.stmt.contains("->") {
        for a in ALIASES.iter().filter(|a| **a != "latest") {
            out.push(word_item(a, CompletionItemKind::ENUM_MEMBER, "alias"));
        }
        return out;
    }
    if let Some((_, _, kinds)) = REFS.iter().find(|(b, k, _)| *b == block && *k == key) {
        of_kinds(kinds, &mut out);
    }
    out
}

/// `model@alias` for each model, its aliases from the registry, the project and the usual
/// ones.
fn model_refs(
    checked: &Checked,
    dir: &Path,
    decls: &[(DeclKind, String, Vec<String>)],
) -> Vec<CompletionItem> {
    let used = used_aliases(checked);
    let mut out = Vec::new();
    for (k, n, docs) in decls.iter().filter(|(k, _, _)| *k == DeclKind::Model) {
        for (alias, detail) in aliases(dir, n, &used) {
            let mut item = decl_item(*k, &format!("{n}@{alias}"), docs);
            item.detail = Some(format!("model · {detail}"));
            out.push(item);
        }
    }
    out
}

/// The aliases the project's files use, by model: `model@alias` and
/// `promote = model -> alias`, with what each is.
fn used_aliases(checked: &Checked) -> Vec<(String, String, &'static str)> {
    let mut out: Vec<(String, String, &'static str)> = Vec::new();
    let name_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    for (_, f) in checked.map.files() {
        let t: &str = &f.text;
        for (i, _) in t.match_indices('@') {
            let model = context::trailing_word(&t[..i]);
            let after = &t[i + 1..];
            let a = &after[..name_end(after)];
            if !model.is_empty() && !a.is_empty() && !a.starts_with(|c: char| c.is_ascii_digit()) {
                out.push((model.into(), a.into(), "alias used in the project"));
            }
        }
        for (i, _) in t.match_indices("->") {
            let line_start = t[..i].rfind('\n').map_or(0, |x| x + 1);
            let model = context::trailing_word(t[line_start..i].trim_end());
            let after = t[i + 2..].trim_start();
            let a = &after[..name_end(after)];
            if !model.is_empty() && !a.is_empty() {
                out.push((model.into(), a.into(), "alias promoted by a pipeline"));
            }
        }
    }
    out
}

/// The aliases of `model` with what each is: registered ones with their versions first,
/// then those `used` in the project, then the usual ones.
fn aliases(
    dir: &Path,
    model: &str,
    used: &[(String, String, &'static str)],
) -> Vec<(String, String)> {
    let (registered, _) = crate::registry::aliases_and_versions(dir, model);
    let mut out: Vec<(String, String)> = registered
        .into_iter()
        .map(|(a, v)| (a, format!("alias of version {v}")))
        .collect();
    let mut add = |a: &str, detail: &str| {
        if !out.iter().any(|(x, _)| x == a) {
            out.push((a.to_string(), detail.to_string()));
        }
    };
    for (_, a, detail) in used.iter().filter(|(m, _, _)| m == model) {
        add(a, detail);
    }
    for a in ALIASES {
        let detail = if *a == "latest" {
            "the newest version"
        } else {
            "alias"
        };
        add(a, detail);
    }
    out
}

/// After `model@`: the model's aliases, then its registered versions.
fn alias_items(checked: &Checked, dir: &Path, model: &str) -> Vec<CompletionItem> {
    if !checked.asts.iter().any(|(_, f)| {
        f.decls
            .iter()
            .any(|d| d.kind == DeclKind::Model && d.name.as_ref().is_some_and(|n| n.name == model))
    }) {
        return Vec::new();
    }
    let mut out: Vec<CompletionItem> = aliases(dir, model, &used_aliases(checked))
        .into_iter()
        .map(|(a, detail)| word_item(&a, CompletionItemKind::ENUM_MEMBER, &detail))
        .collect();
    let (_, versions) = crate::registry::aliases_and_versions(dir, model);
    for v in versions {
        out.push(word_item(
            &v.to_string(),
            CompletionItemKind::VALUE,
            "registered version",
        ));
    }
    out
}

/// The declarations of the edited document when the check has no tree of it (it does not
/// parse while being typed): the document parsed with the statement being typed blanked
/// out (offsets kept), and the blocks left open closed.
fn reparsed(checked: &Checked, path: &Path, text: &str, cx: &Context, at: usize) -> Vec<Decl> {
    let name = path.display().to_string();
    let parsed = checked
        .asts
        .iter()
        .any(|(id, _)| checked.map.get(*id).is_some_and(|f| f.name == name));
    if parsed {
        return Vec::new();
    }
    // The statement's line(s): from the start of its first line to the end of the line.
    let start = cx.stmt_start.min(at);
    let from = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let blank: String = text[from..to]
        .chars()
        .map(|c| if c == '\n' { c } else { ' ' })
        .collect();
    let patched = format!("{}{blank}{}", &text[..from], &text[to..]);
    let closed = format!("{patched}\n{}", "}".repeat(cx.frames.len()));
    for candidate in [patched, closed] {
        if let (Some(f), _) = mlp_syntax::source_to_ast(mlp_diagnostics::FileId(0), &candidate) {
            return f.decls;
        }
    }
    Vec::new()
}

/// After `NAME.`: the members of a view or request, a deployment's outputs, a model's
/// outputs and `inputs`; `extra` holds the edited document's declarations when the check
/// has none.
fn member_items(checked: &Checked, owner: &str, extra: &[Decl]) -> Vec<CompletionItem> {
    let found = symbols::decl_named(checked, owner)
        .map(|(_, d)| d)
        .or_else(|| {
            extra
                .iter()
                .find(|d| d.name.as_ref().is_some_and(|n| n.name == owner))
        });
    let Some(d) = found else {
        return Vec::new();
    };
    let mut out = symbols::decl_member_completions(d);
    let outputs = match d.kind {
        DeclKind::Deployment => hover::deployment_outputs(checked, d, 0),
        DeclKind::Model => hover::model_outputs(d),
        _ => return out,
    };
    for (name, ty) in outputs {
        out.push(word_item(&name, CompletionItemKind::FIELD, &ty));
    }
    if d.kind == DeclKind::Model {
        out.push(word_item(
            "inputs",
            CompletionItemKind::PROPERTY,
            "the model's inputs (a training set's features)",
        ));
    }
    out
}

/// The step names of the pipeline whose `{` is at byte `open`.
fn step_names(text: &str, open: usize) -> Vec<String> {
    let Some(body) = text.get(open..) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in body.lines().skip(1) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["step", name, ..] = words.as_slice() {
            let name = name.trim_end_matches('{');
            if !name.is_empty() && !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        if line.starts_with('}') {
            break;
        }
    }
    out
}
