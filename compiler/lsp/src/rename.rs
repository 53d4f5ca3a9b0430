//! Rename (`textDocument/prepareRename`, `textDocument/rename`) of a declaration (entity,
//! source, feature view, request, model, pipeline, deployment, monitor, consumer) or of a
//! feature or request field (`view.feature`), across every `.mlp` file of the project, from
//! the references machinery ([`symbols::references`]). A rename is refused, with a message,
//! when the new name is not an identifier, is reserved or taken, when the project does not
//! parse, when the renamed project would check with new errors, and when it would break
//! what lives outside the project: a registered model version whose recorded inputs name
//! the view or feature (or the model's own versions), and the consumers of a deployment
//! (declared, or seen calling it by the server).

use crate::symbols::{self, Target};
use lsp_types::{Location, Range, TextEdit, Url, WorkspaceEdit};
use mlp_driver::Checked;
use mlp_syntax::ast::DeclKind;
use std::collections::HashMap;
use std::path::Path;

/// Words the grammar keeps for itself, and names the checker reserves (E0111).
const RESERVED: &[&str] = &[
    "check", "require", "step", "over", "and", "or", "not", "true", "false", "null", "env",
    "labels", "latest", "params", "out",
];

/// What a rename renames: the name and what it is.
struct Renamed {
    /// The name as written now.
    old: String,
    /// `view.feature` for a member, else the name.
    id: String,
    /// The declaration, or the declaration of the member.
    kind: DeclKind,
    /// A member (feature, request field) of the declaration `owner`.
    owner: Option<String>,
}

fn what(t: &Target) -> Result<Renamed, String> {
    match t {
        Target::Decl(_, d) => {
            let Some(n) = &d.name else {
                return Err("the `env` block has no name to rename".into());
            };
            if d.kind == DeclKind::Project {
                return Err("the project's name is not referenced; edit it in place".into());
            }
            Ok(Renamed {
                old: n.name.clone(),
                id: n.name.clone(),
                kind: d.kind,
                owner: None,
            })
        }
        Target::Member(_, d, n, _, _) => {
            let owner = d.name.as_ref().map_or("env".into(), |x| x.name.clone());
            if !matches!(d.kind, DeclKind::Features | DeclKind::Request) {
                return Err(format!(
                    "only features and request fields are renamed; `{owner}.{}` is a member of a {} (it may be named inside strings, `${{...}}`)",
                    n.name,
                    d.kind.describe()
                ));
            }
            Ok(Renamed {
                old: n.name.clone(),
                id: format!("{owner}.{}", n.name),
                kind: d.kind,
                owner: Some(owner),
            })
        }
    }
}

/// The range of the name at the cursor and the name, when it can be renamed.
pub fn prepare(checked: &Checked, dir: &Path, t: &Target) -> Result<(Location, String), String> {
    let r = what(t)?;
    let def = symbols::definition(checked, dir, t).ok_or("no declaration found")?;
    Ok((def, r.old))
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `new` may replace the name: an identifier, not reserved, not taken.
fn check_name(checked: &Checked, t: &Target, r: &Renamed, new: &str) -> Result<(), String> {
    if !valid_identifier(new) {
        return Err(format!(
            "`{new}` is not a valid name: a name is a letter or `_`, then letters, digits or `_`"
        ));
    }
    if RESERVED.contains(&new) || DeclKind::from_keyword(new).is_some() {
        return Err(format!("`{new}` is a reserved word of the language"));
    }
    match t {
        Target::Decl(..) => {
            if let Some((_, d)) = symbols::decl_named(checked, new) {
                return Err(format!(
                    "`{new}` is already the name of a {} in this project",
                    d.kind.describe()
                ));
            }
        }
        Target::Member(_, d, ..) => {
            if symbols::members(d).iter().any(|(n, _, _)| n.name == new) {
                return Err(format!(
                    "{} `{}` already has a member `{new}`",
                    d.kind.describe(),
                    r.owner.as_deref().unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

/// What outside the project depends on the name: registered versions and consumers.
fn check_outside(checked: &Checked, dir: &Path, r: &Renamed) -> Result<(), String> {
    let registered = crate::registry::recorded_inputs(dir).map_err(|e| {
        format!(
            "cannot tell whether the registry depends on `{}`: {e}",
            r.id
        )
    })?;
    let mut users: Vec<String> = Vec::new();
    for v in &registered {
        let names = match (&r.owner, r.kind) {
            (Some(_), _) => v.inputs.contains(&r.id),
            (None, DeclKind::Features | DeclKind::Request) => v
                .inputs
                .iter()
                .any(|i| i.split('.').next() == Some(r.id.as_str())),
            (None, DeclKind::Model) => v.model == r.id,
            _ => false,
        };
        let tag = format!("`{}` version {}", v.model, v.version);
        if names && !users.contains(&tag) {
            users.push(tag);
        }
    }
    if !users.is_empty() {
        let why = if r.kind == DeclKind::Model && r.owner.is_none() {
            "is registered in the model registry"
        } else {
            "is a recorded input of registered models"
        };
        return Err(format!(
            "`{}` {why} ({}); renaming it would detach them from the project",
            r.id,
            users.join(", ")
        ));
    }
    if r.kind == DeclKind::Deployment && r.owner.is_none() {
        let declared: Vec<String> = checked
            .asts
            .iter()
            .flat_map(|(_, f)| f.decls.iter())
            .filter(|d| d.kind == DeclKind::Consumer)
            .filter(|d| {
                crate::hover::attr(d, "uses").is_some_and(|e| {
                    e.items().iter().any(|it| {
                        it.as_path()
                            .and_then(|p| p.first())
                            .is_some_and(|p| p.name == r.id)
                    })
                })
            })
            .filter_map(|d| d.name.as_ref().map(|n| format!("`{}`", n.name)))
            .collect();
        if !declared.is_empty() {
            return Err(format!(
                "deployment `{}` has consumers ({}) that call its endpoint `/v1/deployments/{}/predict`; renaming it would break them",
                r.id,
                declared.join(", "),
                r.id
            ));
        }
        let seen = crate::registry::seen_consumers(dir, &r.id)?;
        if !seen.is_empty() {
            return Err(format!(
                "the server has seen consumers calling deployment `{}` ({}); renaming it would break them",
                r.id,
                seen.join(", ")
            ));
        }
    }
    Ok(())
}

/// The edits that rename the target to `new`, or why not.
pub fn rename(
    checked: &Checked,
    dir: &Path,
    t: &Target,
    new: &str,
) -> Result<WorkspaceEdit, String> {
    let r = what(t)?;
    if let Some((_, path)) = checked
        .files
        .iter()
        .find(|(id, _)| !checked.asts.iter().any(|(a, _)| a == id))
    {
        return Err(format!(
            "{} does not parse; fix its syntax errors before renaming",
            path.display()
        ));
    }
    check_name(checked, t, &r, new)?;
    check_outside(checked, dir, &r)?;
    let def = symbols::definition(checked, dir, t).ok_or("no declaration found")?;
    let locations = symbols::references(checked, dir, &def, true);
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for l in locations {
        changes
            .entry(l.uri)
            .or_default()
            .push(TextEdit::new(l.range, new.to_string()));
    }
    check_after(checked, dir, &changes, &r, new)?;
    Ok(WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    })
}

/// Applies `edits` (ranges in protocol positions) to `text`.
pub fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                symbols::offset(text, e.range.start),
                symbols::offset(text, e.range.end),
                e.new_text.as_str(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (start, end, new) in spans {
        if start <= end && end <= out.len() {
            out.replace_range(start..end, new);
        }
    }
    out
}

/// Refuses a rename after which the project checks with errors it did not have.
fn check_after(
    checked: &Checked,
    dir: &Path,
    changes: &HashMap<Url, Vec<TextEdit>>,
    r: &Renamed,
    new: &str,
) -> Result<(), String> {
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (_, f) in checked.map.files() {
        if !f.name.ends_with(".mlp") {
            continue;
        }
        let p = std::path::PathBuf::from(&f.name);
        let p = if p.is_absolute() { p } else { dir.join(p) };
        let text: &str = &f.text;
        let edited = Url::from_file_path(&p)
            .ok()
            .and_then(|u| changes.get(&u))
            .map_or_else(|| text.to_string(), |e| apply(text, e));
        before.push((f.name.clone(), text.to_string()));
        after.push((f.name.clone(), edited));
    }
    let errors = |c: &Checked| -> Vec<(String, String)> {
        c.diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.code.to_string(), d.message.clone()))
            .collect()
    };
    let was = errors(&mlp_driver::check_sources(&before, None));
    let now = errors(&mlp_driver::check_sources(&after, None));
    let fresh: Vec<String> = now
        .iter()
        .filter(|(code, msg)| {
            !was.iter()
                .any(|(c, m)| c == code && m.replace(&r.old, new) == *msg)
        })
        .map(|(code, msg)| format!("{code}: {msg}"))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    Err(format!(
        "renaming `{}` to `{new}` would not check: {}",
        r.id,
        fresh.into_iter().take(3).collect::<Vec<_>>().join("; ")
    ))
}

/// The range a rename of the name at the cursor replaces there.
pub fn range_at(text: &str, offset: usize) -> Option<Range> {
    let file = mlp_diagnostics::SourceFile::new("", text);
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..offset]
        .char_indices()
        .rev()
        .find(|(_, c)| !is_name(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[offset..]
        .find(|c: char| !is_name(c))
        .map_or(text.len(), |i| offset + i);
    (start < end).then(|| {
        Range::new(
            crate::workspace::position(&file, start),
            crate::workspace::position(&file, end),
        )
    })
}
