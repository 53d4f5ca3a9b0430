//! Code actions beyond "did you mean": adding a missing `owner` to a declaration whose
//! block accepts one (the checker's support table), as the block's first attribute line
//! with the block's indentation. The value is the project's own `owner` when the project
//! declares one, else the placeholder `"TEAM"`.

use lsp_types::{CodeAction, CodeActionKind, Range, TextEdit, Url, WorkspaceEdit};
use mlp_diagnostics::{SourceFile, Span};
use mlp_driver::Checked;
use mlp_syntax::ast::{Decl, DeclKind, StmtKind};
use std::collections::HashMap;
use std::path::Path;

/// The placeholder owner when the project declares none.
pub const PLACEHOLDER: &str = "\"TEAM\"";

/// Whether declarations of `kind` accept `owner` (and the runtime does not reject it).
fn takes_owner(kind: DeclKind) -> bool {
    let schema = match kind {
        DeclKind::Env => "env block",
        DeclKind::Features => "feature view",
        other => other.keyword(),
    };
    mlp_sema::support::block(schema).is_some_and(|b| {
        b.attrs
            .iter()
            .any(|(a, s)| *a == "owner" && !matches!(s, mlp_sema::support::Support::Rejected(_)))
    })
}

fn has_owner(d: &Decl) -> bool {
    d.body
        .stmts
        .iter()
        .any(|s| matches!(&s.kind, StmtKind::Attr { key, .. } if key.name == "owner"))
}

/// The project's `owner` as written (a string literal), if it declares one.
fn project_owner(checked: &Checked) -> Option<String> {
    checked
        .asts
        .iter()
        .flat_map(|(_, f)| f.decls.iter())
        .filter(|d| d.kind == DeclKind::Project)
        .find_map(|d| crate::hover::attr(d, "owner"))
        .map(|e| checked.map.slice(e.span).to_string())
        .filter(|s| s.starts_with('"'))
}

/// The edit that inserts `owner = VALUE` as the first attribute of `d`, in `text`.
fn insertion(text: &str, d: &Decl, value: &str) -> Option<(usize, String)> {
    let open = d.body.span.range().start;
    let line_of = |at: usize| text.get(..at).map_or(0, |t| t.matches('\n').count());
    let first = d.body.stmts.first().map(|s| s.span.range().start);
    match first {
        Some(at) if line_of(at) > line_of(open) => {
            let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
            let indent: String = text
                .get(line_start..at)?
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            Some((line_start, format!("{indent}owner = {value}\n")))
        }
        // A block on one line (`{ uses = a.b }`) or an empty one.
        _ => {
            let after = open + 1;
            text.get(..after)?;
            let decl_line = text.get(..open)?.rfind('\n').map_or(0, |i| i + 1);
            let indent: String = text
                .get(decl_line..open)?
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            Some((after, format!("\n{indent}  owner = {value}\n{indent}")))
        }
    }
    .filter(|_| text.is_char_boundary(open))
}

/// "Add `owner`" for each declaration of the file `path` (whose text is `text`) whose
/// header (from its keyword to its `{`) meets `range`, that takes an owner and has none.
pub fn add_owner(checked: &Checked, path: &Path, text: &str, range: Range) -> Vec<CodeAction> {
    let Ok(uri) = Url::from_file_path(path) else {
        return Vec::new();
    };
    let name = path.display().to_string();
    let Some((id, file)) = checked
        .asts
        .iter()
        .find(|(id, _)| checked.map.get(*id).is_some_and(|f| f.name == name))
    else {
        return Vec::new();
    };
    // The tree must be of this very text (a request may come before the check).
    if checked.map.get(*id).is_none_or(|f| {
        let t: &str = &f.text;
        t != text
    }) {
        return Vec::new();
    }
    let source = SourceFile::new(name.clone(), text);
    let start = crate::symbols::offset(text, range.start);
    let end = crate::symbols::offset(text, range.end);
    let value = project_owner(checked).unwrap_or_else(|| PLACEHOLDER.to_string());
    let mut out = Vec::new();
    for d in &file.decls {
        let r = d.span.range();
        // Offered on the declaration's header: from its keyword to its `{`.
        let (head, open) = (d.kind_span.range().start, d.body.span.range().start);
        if end < head || open < start || !takes_owner(d.kind) || has_owner(d) {
            continue;
        }
        let Some((at, insert)) = insertion(text, d, &value) else {
            continue;
        };
        let pos = crate::workspace::position(&source, at);
        let edit = TextEdit::new(Range::new(pos, pos), insert);
        let mut changes = HashMap::new();
        changes.insert(uri.clone(), vec![edit]);
        let dname = d.name.as_ref().map_or(String::new(), |n| n.name.clone());
        // Diagnostics about the missing owner, if the checker has any, are what it fixes.
        let about: Vec<lsp_types::Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|x| x.message.contains("owner"))
            .filter(|x| {
                x.primary()
                    .is_some_and(|s: Span| s.file == *id && r.contains(&s.range().start))
            })
            .filter_map(|x| {
                crate::workspace::to_lsp(x, &checked.map, path.parent()?).map(|(_, l)| l)
            })
            .collect();
        out.push(CodeAction {
            title: format!("add `owner = {value}` to {} `{dname}`", d.kind.describe()),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: (!about.is_empty()).then_some(about),
            edit: Some(WorkspaceEdit {
                changes: Some(changes),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    out
}
