//! Names under the cursor: go to definition, hover (deployments and models in `hover.rs`)
//! and the members after `view.`. A name is
//! resolved on the syntax trees of the whole project (the open buffers over the files on
//! disk), so it works across files and also while another part of the project has errors.

use lsp_types::{
    CompletionItem, CompletionItemKind, Hover, HoverContents, Location, MarkupContent, MarkupKind,
    Position, Url,
};
use mlp_diagnostics::{FileId, SourceMap, Span};
use mlp_driver::Checked;
use mlp_syntax::ast::{Decl, DeclKind, StmtKind};
use std::path::Path;

/// The byte offset of protocol position `pos` (UTF-16 units) in `text`, clamped to the text.
pub fn offset(text: &str, pos: Position) -> usize {
    let mut at = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == pos.line as usize {
            let mut units = 0u32;
            for (b, c) in line.char_indices() {
                if units >= pos.character || c == '\n' {
                    return at + b;
                }
                units += c.len_utf16() as u32;
            }
            return at + line.len();
        }
        at += line.len();
    }
    text.len()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The dotted name around byte `at` (`user_stats.avg_amount_7d`) as its parts, and which
/// part `at` is in; `None` off a name.
pub fn name_at(text: &str, at: usize) -> Option<(Vec<String>, usize)> {
    let at = at.min(text.len());
    let before = &text[..at];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(is_name_char(*c) || *c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[at..]
        .char_indices()
        .find(|(_, c)| !(is_name_char(*c) || *c == '.'))
        .map_or(text.len(), |(i, _)| at + i);
    let word = &text[start..end];
    if word.is_empty() {
        return None;
    }
    let parts: Vec<String> = word.split('.').map(str::to_string).collect();
    let part = text[start..at].matches('.').count();
    Some((parts, part))
}

/// What a name resolves to: a declaration, or a member of one (a feature, a field, a
/// step), with the file it is in.
pub enum Target<'a> {
    /// A top-level declaration.
    Decl(FileId, &'a Decl),
    /// A member of `decl`: its name and the span of its whole statement.
    Member(
        FileId,
        &'a Decl,
        &'a mlp_syntax::ast::Ident,
        Span,
        Vec<String>,
    ),
}

/// The declaration named `name` (`env` for the env block), with its file.
pub fn decl_named<'a>(checked: &'a Checked, name: &str) -> Option<(FileId, &'a Decl)> {
    checked.asts.iter().find_map(|(id, f)| {
        f.decls
            .iter()
            .find(|d| {
                if name == "env" {
                    d.kind == DeclKind::Env
                } else {
                    d.name.as_ref().is_some_and(|n| n.name == name)
                }
            })
            .map(|d| (*id, d))
    })
}

/// The members of `d` that a `d.NAME` reference can name, with their statements' spans
/// and doc comments.
pub fn members(d: &Decl) -> Vec<(&mlp_syntax::ast::Ident, Span, Vec<String>)> {
    d.body
        .stmts
        .iter()
        .filter_map(|s| {
            let name = match &s.kind {
                StmtKind::Field { name, .. } => name,
                StmtKind::Step { name, .. } => name,
                _ => return None,
            };
            let docs = s.docs.iter().map(|d| d.text.clone()).collect();
            Some((name, s.span, docs))
        })
        .collect()
}

/// Resolves `parts[part]` of a dotted name.
pub fn resolve<'a>(checked: &'a Checked, parts: &[String], part: usize) -> Option<Target<'a>> {
    let (id, d) = decl_named(checked, parts.first()?)?;
    if part == 0 {
        return Some(Target::Decl(id, d));
    }
    let member = parts.get(part)?;
    members(d)
        .into_iter()
        .find(|(n, _, _)| &n.name == member)
        .map(|(n, span, docs)| Target::Member(id, d, n, span, docs))
}

/// The file of `checked` read from `path`.
pub fn file_of(checked: &Checked, path: &Path) -> Option<FileId> {
    let name = path.display().to_string();
    checked
        .map
        .files()
        .find(|(_, f)| f.name == name)
        .map(|(id, _)| id)
}

/// Resolves `parts[part]` within the pipeline around byte `at` of `file`: a step named by
/// another (`after = [dataset]`, `${dataset.output}`, `require train.metrics.auc ...`) or a
/// parameter (`${params.epochs}`), which only mean something inside their pipeline.
pub fn resolve_scoped<'a>(
    checked: &'a Checked,
    file: FileId,
    at: usize,
    parts: &[String],
    part: usize,
) -> Option<Target<'a>> {
    let (_, ast) = checked.asts.iter().find(|(id, _)| *id == file)?;
    let d = ast
        .decls
        .iter()
        .find(|d| d.kind == DeclKind::Pipeline && d.span.range().contains(&at))?;
    let (name, param) = match (parts.first()?.as_str(), part) {
        ("params", 1) => (parts.get(1)?.as_str(), true),
        (first, 0) => (first, false),
        _ => return None,
    };
    d.body.stmts.iter().find_map(|s| {
        let (n, is_param) = match &s.kind {
            StmtKind::Step { name, .. } => (name, false),
            StmtKind::Field { name, .. } => (name, true),
            _ => return None,
        };
        (n.name == name && is_param == param).then(|| {
            let docs = s.docs.iter().map(|d| d.text.clone()).collect();
            Target::Member(file, d, n, s.span, docs)
        })
    })
}

/// The member whose own name (where it is declared) covers byte `at` of the file `path`.
pub fn member_declared_at<'a>(checked: &'a Checked, path: &Path, at: usize) -> Option<Target<'a>> {
    let name = path.display().to_string();
    let (id, file) = checked
        .asts
        .iter()
        .find(|(id, _)| checked.map.get(*id).is_some_and(|f| f.name == name))?;
    file.decls.iter().find_map(|d| {
        members(d).into_iter().find_map(|(n, span, docs)| {
            let r = n.span.range();
            (r.start <= at && at <= r.end).then_some(Target::Member(*id, d, n, span, docs))
        })
    })
}

fn uri(map: &SourceMap, id: FileId, dir: &Path) -> Option<Url> {
    let file = map.get(id)?;
    let p = std::path::PathBuf::from(&file.name);
    Url::from_file_path(if p.is_absolute() { p } else { dir.join(p) }).ok()
}

fn location(map: &SourceMap, span: Span, dir: &Path) -> Option<Location> {
    let file = map.get(span.file)?;
    let r = span.range();
    Some(Location::new(
        uri(map, span.file, dir)?,
        lsp_types::Range::new(
            crate::workspace::position(file, r.start),
            crate::workspace::position(file, r.end),
        ),
    ))
}

/// Where the name is declared.
pub fn definition(checked: &Checked, dir: &Path, t: &Target) -> Option<Location> {
    match t {
        Target::Decl(_, d) => {
            let span = d.name.as_ref().map_or(d.kind_span, |n| n.span);
            location(&checked.map, span, dir)
        }
        Target::Member(_, _, n, _, _) => location(&checked.map, n.span, dir),
    }
}

/// The source text of an attribute of `d`, if it has one.
fn attr_text(checked: &Checked, d: &Decl, key: &str) -> Option<String> {
    d.body.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Attr { key: k, value } if k.name == key => {
            Some(checked.map.slice(value.span).to_string())
        }
        _ => None,
    })
}

/// What hovering the name shows: its definition as written, where it belongs, and its doc.
pub fn hover(checked: &Checked, t: &Target) -> Hover {
    let mut md = String::new();
    match t {
        Target::Member(_, d, n, span, docs) => {
            let owner = d
                .name
                .as_ref()
                .map_or("env".to_string(), |x| x.name.clone());
            // The statement from its name on (without its doc comments).
            let from = Span::new(span.file, n.span.start as usize, span.end as usize);
            md.push_str(&format!(
                "```mlp\n{}.{}\n```\n",
                owner,
                checked.map.slice(from).trim()
            ));
            let mut facts = vec![format!("{} `{owner}`", d.kind.keyword())];
            for key in ["entity", "source", "ttl"] {
                if let Some(v) = attr_text(checked, d, key) {
                    facts.push(format!("{key} `{v}`"));
                }
            }
            md.push_str(&facts.join(" · "));
            if !docs.is_empty() {
                md.push_str("\n\n");
                md.push_str(&docs.join("\n"));
            }
        }
        Target::Decl(_, d) if d.kind == DeclKind::Deployment => {
            md = crate::hover::deployment(checked, d);
        }
        Target::Decl(_, d) if d.kind == DeclKind::Model => {
            md = crate::hover::model(checked, d);
        }
        Target::Decl(_, d) => {
            let name = d.name.as_ref().map_or(String::new(), |n| n.name.clone());
            md.push_str(&format!("```mlp\n{} {name}\n```\n", d.kind.keyword()));
            let keys: &[&str] = match d.kind {
                DeclKind::Features => &["entity", "source", "ttl"],
                DeclKind::Source => &["path", "timestamp"],
                DeclKind::Entity => &["key"],
                _ => &[],
            };
            let facts: Vec<String> = keys
                .iter()
                .filter_map(|k| attr_text(checked, d, k).map(|v| format!("{k} = {v}")))
                .collect();
            if !facts.is_empty() {
                md.push_str(&format!("```mlp\n{}\n```\n", facts.join("\n")));
            }
            let members: Vec<String> = members(d).iter().map(|(n, _, _)| n.name.clone()).collect();
            if !members.is_empty() {
                md.push_str(&format!("members: {}\n", members.join(", ")));
            }
            if !d.docs.is_empty() {
                md.push('\n');
                md.push_str(
                    &d.docs
                        .iter()
                        .map(|x| x.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
        }
    }
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: md,
        }),
        range: None,
    }
}

/// After `NAME.`: the members of the declaration `NAME`, in declaration order, with their
/// types.
pub fn member_completions(checked: &Checked, owner: &str) -> Vec<CompletionItem> {
    match decl_named(checked, owner) {
        Some((_, d)) => decl_member_completions(d),
        None => Vec::new(),
    }
}

/// The members of `d`, in declaration order, with their types.
pub fn decl_member_completions(d: &Decl) -> Vec<CompletionItem> {
    d.body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Field { name, ty, .. } => Some(CompletionItem {
                label: name.name.clone(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(ty.name.clone()),
                documentation: (!s.docs.is_empty()).then(|| {
                    lsp_types::Documentation::String(
                        s.docs
                            .iter()
                            .map(|x| x.text.as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                }),
                ..Default::default()
            }),
            StmtKind::Step { name, .. } => Some(CompletionItem {
                label: name.name.clone(),
                kind: Some(CompletionItemKind::FUNCTION),
                detail: Some("step".into()),
                ..Default::default()
            }),
            _ => None,
        })
        .collect()
}

/// The symbol kind a declaration shows as in outlines.
fn symbol_kind(k: DeclKind) -> lsp_types::SymbolKind {
    use lsp_types::SymbolKind as S;
    match k {
        DeclKind::Project => S::MODULE,
        DeclKind::Env => S::NAMESPACE,
        DeclKind::Entity => S::STRUCT,
        DeclKind::Source => S::FILE,
        DeclKind::Features | DeclKind::Request => S::CLASS,
        DeclKind::Model => S::INTERFACE,
        DeclKind::Pipeline => S::FUNCTION,
        DeclKind::Deployment => S::OBJECT,
        DeclKind::Monitor => S::EVENT,
        DeclKind::Consumer => S::PACKAGE,
    }
}

fn range_of(map: &SourceMap, span: Span) -> Option<lsp_types::Range> {
    let file = map.get(span.file)?;
    let r = span.range();
    Some(lsp_types::Range::new(
        crate::workspace::position(file, r.start),
        crate::workspace::position(file, r.end),
    ))
}

/// The outline of the file `path`: each declaration with its members (features, fields,
/// steps) as children.
#[allow(deprecated)] // `DocumentSymbol::deprecated` has no replacement field to leave out
pub fn document_symbols(checked: &Checked, path: &Path) -> Vec<lsp_types::DocumentSymbol> {
    let name = path.display().to_string();
    let Some((_, file)) = checked
        .asts
        .iter()
        .find(|(id, _)| checked.map.get(*id).is_some_and(|f| f.name == name))
    else {
        return Vec::new();
    };
    file.decls
        .iter()
        .filter_map(|d| {
            let name_span = d.name.as_ref().map_or(d.kind_span, |n| n.span);
            let children: Vec<lsp_types::DocumentSymbol> = members(d)
                .into_iter()
                .filter_map(|(n, span, _)| {
                    Some(lsp_types::DocumentSymbol {
                        name: n.name.clone(),
                        detail: None,
                        kind: lsp_types::SymbolKind::FIELD,
                        tags: None,
                        deprecated: None,
                        range: range_of(&checked.map, span)?,
                        selection_range: range_of(&checked.map, n.span)?,
                        children: None,
                    })
                })
                .collect();
            Some(lsp_types::DocumentSymbol {
                name: d.name.as_ref().map_or("env".into(), |n| n.name.clone()),
                detail: Some(d.kind.keyword().to_string()),
                kind: symbol_kind(d.kind),
                tags: None,
                deprecated: None,
                range: range_of(&checked.map, d.span)?,
                selection_range: range_of(&checked.map, name_span)?,
                children: (!children.is_empty()).then_some(children),
            })
        })
        .collect()
}

/// Every declaration and member of the project whose name contains `query` (case
/// insensitive; all with an empty query).
#[allow(deprecated)] // `SymbolInformation::deprecated` has no replacement field to leave out
pub fn workspace_symbols(
    checked: &Checked,
    dir: &Path,
    query: &str,
) -> Vec<lsp_types::SymbolInformation> {
    let q = query.to_lowercase();
    let mut out = Vec::new();
    for (_, file) in &checked.asts {
        for d in &file.decls {
            let owner = d
                .name
                .as_ref()
                .map_or("env".to_string(), |n| n.name.clone());
            let span = d.name.as_ref().map_or(d.kind_span, |n| n.span);
            let mut push = |name: String, kind, span: Span, container: Option<String>| {
                if name.to_lowercase().contains(&q) {
                    if let Some(location) = location(&checked.map, span, dir) {
                        out.push(lsp_types::SymbolInformation {
                            name,
                            kind,
                            tags: None,
                            deprecated: None,
                            location,
                            container_name: container,
                        });
                    }
                }
            };
            push(owner.clone(), symbol_kind(d.kind), span, None);
            for (n, _, _) in members(d) {
                push(
                    format!("{owner}.{}", n.name),
                    lsp_types::SymbolKind::FIELD,
                    n.span,
                    Some(owner.clone()),
                );
            }
        }
    }
    out
}

/// Every place in the project's `.mlp` files where a dotted name resolves to the
/// definition at `def` (outside comments and strings); with `include_declaration`, the
/// definition too.
pub fn references(
    checked: &Checked,
    dir: &Path,
    def: &Location,
    include_declaration: bool,
) -> Vec<Location> {
    let mut out = Vec::new();
    for (id, file) in checked.map.files() {
        if !file.name.ends_with(".mlp") {
            continue;
        }
        let text: &str = &file.text;
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            // Code ends where a comment starts (outside a string).
            let mut in_str = false;
            let mut code_end = line.len();
            let bytes = line.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'"' => in_str = !in_str,
                    b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => {
                        code_end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let code = &line[..code_end];
            let mut i = 0;
            let mut quoted = false;
            // Inside `${...}` of a string: names again.
            let mut interpolated = false;
            while i < code.len() {
                let c = code[i..].chars().next().unwrap_or(' ');
                if c == '"' && !interpolated {
                    quoted = !quoted;
                } else if quoted && code[i..].starts_with("${") {
                    interpolated = true;
                } else if interpolated && c == '}' {
                    interpolated = false;
                }
                let starts = (!quoted || interpolated)
                    && is_name_char(c)
                    && !c.is_ascii_digit()
                    && (i == 0 || !code[..i].ends_with(|p: char| is_name_char(p) || p == '.'));
                if !starts {
                    i += c.len_utf8();
                    continue;
                }
                let end = code[i..]
                    .find(|p: char| !(is_name_char(p) || p == '.'))
                    .map_or(code.len(), |e| i + e);
                let parts: Vec<String> = code[i..end].split('.').map(str::to_string).collect();
                let mut at = i;
                for (k, part) in parts.iter().enumerate() {
                    let found = resolve(checked, &parts, k)
                        .or_else(|| resolve_scoped(checked, id, line_start + i, &parts, k))
                        .and_then(|t| definition(checked, dir, &t))
                        .is_some_and(|l| &l == def);
                    if found && !part.is_empty() {
                        let span = Span::new(id, line_start + at, line_start + at + part.len());
                        out.extend(location(&checked.map, span, dir));
                    }
                    at += part.len() + 1;
                }
                i = end;
            }
            line_start += line.len();
        }
    }
    if include_declaration && !out.contains(def) {
        out.insert(0, def.clone());
    }
    if !include_declaration {
        out.retain(|l| l != def);
    }
    out
}

/// The name of a declaration kind's block in the checker's schema table.
fn schema_name(kind: DeclKind) -> &'static str {
    match kind {
        DeclKind::Env => "env block",
        DeclKind::Features => "feature view",
        other => other.keyword(),
    }
}

fn contains(span: Span, at: usize) -> bool {
    let r = span.range();
    r.start < at && at < r.end
}

/// The schema name of the innermost block around byte `at` of `file`: `None` at the top
/// level, `Some("")` in a block without a schema.
fn block_at(file: &mlp_syntax::ast::File, at: usize) -> Option<String> {
    let d = file.decls.iter().find(|d| contains(d.body.span, at))?;
    let mut name = schema_name(d.kind).to_string();
    let mut body = &d.body;
    'down: loop {
        for s in &body.stmts {
            let (n, b) = match &s.kind {
                StmtKind::Block { name, body } => (name.name.as_str(), body),
                StmtKind::Step { body, .. } => ("step", body),
                _ => continue,
            };
            if contains(b.span, at) {
                name = n.to_string();
                body = b;
                continue 'down;
            }
        }
        return Some(name);
    }
}

/// Completion of a word at the start of a statement, at byte `at` of `text` (the document
/// without the word being typed, so that it parses): declaration keywords at the top level;
/// inside a block, the attributes and nested blocks it accepts (those `mlpc check` rejects
/// left out).
pub fn keyword_completions(text: &str, at: usize) -> Vec<CompletionItem> {
    let (Some(file), _) = mlp_syntax::source_to_ast(FileId(0), text) else {
        return Vec::new();
    };
    let file = &file;
    let keyword = |label: &str, kind, insert: String| CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        insert_text: Some(insert),
        ..Default::default()
    };
    match block_at(file, at) {
        None => DeclKind::ALL
            .iter()
            .map(|k| {
                let kw = k.keyword();
                keyword(kw, CompletionItemKind::KEYWORD, format!("{kw} "))
            })
            .collect(),
        Some(block) => {
            let Some(schema) = mlp_sema::support::block(&block) else {
                return Vec::new();
            };
            let accepted = |s: &mlp_sema::support::Support| {
                !matches!(s, mlp_sema::support::Support::Rejected(_))
            };
            schema
                .attrs
                .iter()
                .filter(|(_, s)| accepted(s))
                .map(|(a, _)| keyword(a, CompletionItemKind::PROPERTY, format!("{a} = ")))
                .chain(
                    schema
                        .blocks
                        .iter()
                        .filter(|(_, s)| accepted(s))
                        .map(|(b, _)| keyword(b, CompletionItemKind::MODULE, format!("{b} {{"))),
                )
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_names() {
        let text = "a\n  x = user_stats.avg_amount_7d + 1\n";
        let at = offset(text, Position::new(1, 17));
        assert_eq!(&text[at..at + 3], "avg");
        assert_eq!(
            name_at(text, at),
            Some((
                vec!["user_stats".to_string(), "avg_amount_7d".to_string()],
                1
            ))
        );
        let at = offset(text, Position::new(1, 8));
        assert_eq!(name_at(text, at).map(|(_, p)| p), Some(0));
        // Past the end of a line: its end.
        assert_eq!(offset(text, Position::new(0, 99)), 1);
        assert_eq!(name_at(text, offset(text, Position::new(1, 5))), None);
    }
}
