//! What the language server knows and answers, without any transport: the open buffers
//! (which override the files on disk), the projects they belong to (a `.mlp` file's folder,
//! as `mlpc check` reads it), and each project's diagnostics in the protocol's terms, from the
//! same `Diagnostic` model and text as the command line.

use lsp_types::{
    CodeDescription, Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, DiagnosticSeverity,
    Location, NumberOrString, Position, Range, Url,
};
use mlp_diagnostics::{Diagnostic, Severity, SourceFile, SourceMap, Span};
use mlp_driver::{Checked, Incremental};
use std::cell::{Ref, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// Where each code's page is published (`docs/errors/E0101.md` in the repository).
pub const ERRORS_URL: &str = "https://mlp.dev/docs/errors/";

/// The open buffers, each project's last check (kept, so that a check after an edit parses
/// only the edited files) and what was last published for each project.
#[derive(Debug, Default)]
pub struct Workspace {
    /// Open documents by path, with their text.
    open: BTreeMap<PathBuf, String>,
    /// Per project folder (and per project's `env` folder), the documents that were given
    /// diagnostics last time (so that a file whose problems are gone gets an empty list).
    published: BTreeMap<PathBuf, BTreeSet<Url>>,
    /// Per project folder, its checks so far. Requests check through a shared reference.
    projects: RefCell<BTreeMap<PathBuf, Incremental>>,
}

/// The diagnostics of one document, as `textDocument/publishDiagnostics` carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDiagnostics {
    /// The document.
    pub uri: Url,
    /// Its diagnostics (empty: none any more).
    pub diagnostics: Vec<LspDiagnostic>,
}

/// What a project that cannot be checked looks like: nothing.
static NOTHING: LazyLock<Checked> = LazyLock::new(Checked::default);

impl Workspace {
    /// A workspace with nothing open.
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// A document was opened or changed: its text replaces the file's.
    pub fn set(&mut self, path: PathBuf, text: String) {
        self.open.insert(path, text);
    }

    /// The text of `path`: the open buffer, else the file on disk.
    pub fn text(&self, path: &Path) -> std::io::Result<String> {
        match self.open.get(path) {
            Some(t) => Ok(t.clone()),
            None => std::fs::read_to_string(path),
        }
    }

    /// A document was closed: the file on disk counts again.
    pub fn close(&mut self, path: &Path) {
        self.open.remove(path);
    }

    /// Checks the project in `dir` with the open buffers over the files on disk (as
    /// `mlpc check` does, without an environment). Only files whose text changed since the
    /// last check are parsed again; with nothing changed, the last result is answered.
    pub fn load(&self, dir: &Path) -> Ref<'_, Checked> {
        let overlay: BTreeMap<PathBuf, String> = self
            .open
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect();
        self.projects
            .borrow_mut()
            .entry(dir.to_path_buf())
            .or_default()
            .check(dir, &overlay);
        Ref::map(self.projects.borrow(), |p| {
            p.get(dir).map_or(&*NOTHING, Incremental::last)
        })
    }

    /// How many files the last check of `dir` parsed (the others' trees were kept).
    pub fn parsed_last_time(&self, dir: &Path) -> Option<usize> {
        self.projects
            .borrow()
            .get(dir)
            .map(Incremental::parsed_last_time)
    }

    /// The open `.mlp` documents of the project in `dir`.
    fn open_in(&self, dir: &Path) -> Vec<Url> {
        self.open
            .keys()
            .filter(|p| p.parent() == Some(dir) && env_name(p).is_none())
            .filter_map(|p| Url::from_file_path(p).ok())
            .collect()
    }

    /// The projects of the open documents, each once.
    pub fn projects(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for p in self.open.keys().filter_map(|p| Workspace::project_of(p)) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// The project a document belongs to: its folder, or for an environment's values
    /// (`env/NAME.yaml`) the folder above.
    pub fn project_of(path: &Path) -> Option<PathBuf> {
        let parent = path.parent()?;
        if env_name(path).is_some() {
            return parent.parent().map(Path::to_path_buf);
        }
        Some(parent.to_path_buf())
    }

    /// Checks the project in `dir` with the open buffers over the files on disk; answers the
    /// diagnostics of every file that has some, and an empty list for each file that had
    /// some last time and has none now.
    pub fn check(&mut self, dir: &Path) -> Vec<FileDiagnostics> {
        let mut by_file: BTreeMap<Url, Vec<LspDiagnostic>> = BTreeMap::new();
        {
            let checked = self.load(dir);
            for d in &checked.diagnostics {
                if let Some((uri, lsp)) = to_lsp(d, &checked.map, dir) {
                    by_file.entry(uri).or_default().push(lsp);
                } else if d.primary().is_none() {
                    // Of no place (a file that cannot be read, a folder gone): shown at the
                    // start of each open document of the project.
                    for uri in self.open_in(dir) {
                        let lsp = lsp_diagnostic(d, &checked.map, dir, Range::default());
                        by_file.entry(uri).or_default().push(lsp);
                    }
                }
            }
        }
        self.published_now(dir.to_path_buf(), by_file)
    }

    /// Checks the project in `dir` with each of its environments (`env/*.yaml`, open
    /// buffers first), after [`Workspace::check`]: answers the diagnostics of each YAML file,
    /// as `mlpc check --env NAME` reports them. A problem such a check finds in a `.mlp`
    /// file, which the check without environment does not, is shown in the YAML file too
    /// (at its first line, pointing at the place).
    pub fn check_envs(&mut self, dir: &Path) -> Vec<FileDiagnostics> {
        let env_dir = dir.join("env");
        let mut yamls: BTreeSet<PathBuf> = std::fs::read_dir(&env_dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| env_name(p).is_some())
                    .collect()
            })
            .unwrap_or_default();
        yamls.extend(
            self.open
                .keys()
                .filter(|p| p.parent() == Some(env_dir.as_path()) && env_name(p).is_some())
                .cloned(),
        );
        let mut by_file: BTreeMap<Url, Vec<LspDiagnostic>> = BTreeMap::new();
        let projects = self.projects.borrow();
        let Some(project) = projects.get(dir) else {
            return Vec::new();
        };
        let base = project.last();
        for path in yamls {
            let (Some(name), Ok(text), Ok(uri)) = (
                env_name(&path),
                self.text(&path),
                Url::from_file_path(&path),
            ) else {
                continue;
            };
            let Some(env) = project.check_env(name, &path, &text) else {
                continue;
            };
            let list = by_file.entry(uri.clone()).or_default();
            let yaml = env.map.get(env.file);
            for d in &env.diagnostics {
                let here = d.primary().is_some_and(|s| s.file == env.file);
                if !here && base.diagnostics.contains(d) {
                    continue;
                }
                let Some((at, mut lsp)) = to_lsp(d, &env.map, dir) else {
                    continue;
                };
                if at != uri {
                    // Shown in the YAML file, at its first line, pointing at the place.
                    let place = Location::new(at, lsp.range);
                    lsp.message = format!("with env/{name}.yaml: {}", lsp.message);
                    lsp.range = yaml.map_or_else(Range::default, |f| {
                        Range::new(Position::new(0, 0), position(f, first_line_end(f)))
                    });
                    let mut related = lsp.related_information.take().unwrap_or_default();
                    related.insert(
                        0,
                        DiagnosticRelatedInformation {
                            location: place,
                            message: "here".into(),
                        },
                    );
                    lsp.related_information = Some(related);
                }
                list.push(lsp);
            }
        }
        drop(projects);
        self.published_now(env_dir, by_file)
    }

    /// Records what is published for `key` now, and adds an empty list for each document
    /// that had diagnostics last time and has none now.
    fn published_now(
        &mut self,
        key: PathBuf,
        mut by_file: BTreeMap<Url, Vec<LspDiagnostic>>,
    ) -> Vec<FileDiagnostics> {
        by_file.retain(|_, list| !list.is_empty());
        let now: BTreeSet<Url> = by_file.keys().cloned().collect();
        let before = self.published.insert(key, now.clone());
        for gone in before.unwrap_or_default().difference(&now) {
            by_file.insert(gone.clone(), Vec::new());
        }
        by_file
            .into_iter()
            .map(|(uri, diagnostics)| FileDiagnostics { uri, diagnostics })
            .collect()
    }
}

/// The environment an `env/NAME.yaml` path holds values for: `NAME`.
pub fn env_name(path: &Path) -> Option<&str> {
    let in_env = path.parent()?.file_name()? == "env";
    let yaml = path.extension()? == "yaml";
    (in_env && yaml).then_some(path.file_stem()?.to_str()?)
}

/// The byte offset of the end of `file`'s first line.
fn first_line_end(file: &SourceFile) -> usize {
    file.text.find('\n').unwrap_or(file.text.len())
}

/// The name a "did you mean `X`?" help suggests.
fn suggested(help: &str) -> Option<&str> {
    let rest = help.split_once("did you mean `")?.1;
    rest.split_once('`').map(|(x, _)| x)
}

impl Workspace {
    /// Quick fixes for the diagnostics of `path` whose primary range meets `range`: each
    /// "did you mean `X`?" becomes an edit that writes `X` in place of the misspelled name
    /// (the part of a dotted name closest to `X`).
    pub fn quick_fixes(&self, path: &Path, range: Range) -> Vec<lsp_types::CodeAction> {
        let Some(dir) = Workspace::project_of(path) else {
            return Vec::new();
        };
        let Ok(uri) = Url::from_file_path(path) else {
            return Vec::new();
        };
        let checked = self.load(&dir);
        let mut out = Vec::new();
        for d in &checked.diagnostics {
            let (Some(span), Some(fix)) = (d.primary(), d.help.as_deref().and_then(suggested))
            else {
                continue;
            };
            let Some((file, r)) = span_range(&checked.map, span) else {
                continue;
            };
            if uri_of(file, &dir).as_ref() != Some(&uri)
                || r.end < range.start
                || range.end < r.start
            {
                continue;
            }
            // The part of the span's text to replace: the whole, or the closest part of a
            // dotted name.
            let written = checked.map.slice(span);
            let mut at = span.range().start;
            let mut target = None;
            for part in written.split('.') {
                if mlp_diagnostics::did_you_mean(part, [fix]).is_some() && part != fix {
                    target = Some((at, at + part.len(), part));
                    break;
                }
                at += part.len() + 1;
            }
            let Some((start, end, part)) = target else {
                continue;
            };
            let edit = lsp_types::TextEdit::new(
                Range::new(position(file, start), position(file, end)),
                fix.to_string(),
            );
            let mut changes = std::collections::HashMap::new();
            changes.insert(uri.clone(), vec![edit]);
            out.push(lsp_types::CodeAction {
                title: format!("replace `{part}` with `{fix}`"),
                kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                diagnostics: to_lsp(d, &checked.map, &dir).map(|(_, x)| vec![x]),
                edit: Some(lsp_types::WorkspaceEdit {
                    changes: Some(changes),
                    ..Default::default()
                }),
                is_preferred: Some(true),
                ..Default::default()
            });
        }
        out
    }
}

/// The protocol's position (0-based line, UTF-16 code units) of byte `offset` in `file`.
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let text: &str = &file.text;
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let lc = file.line_col(offset);
    let line = lc.line.saturating_sub(1);
    let start = file.line_start(line + 1).min(offset);
    let character: usize = text
        .get(start..offset)
        .map_or(0, |s| s.chars().map(char::len_utf16).sum());
    Position::new(line as u32, character as u32)
}

fn span_range(map: &SourceMap, span: Span) -> Option<(&SourceFile, Range)> {
    let file = map.get(span.file)?;
    let r = span.range();
    Some((
        file,
        Range::new(position(file, r.start), position(file, r.end)),
    ))
}

fn uri_of(file: &SourceFile, dir: &Path) -> Option<Url> {
    let p = PathBuf::from(&file.name);
    let p = if p.is_absolute() { p } else { dir.join(p) };
    Url::from_file_path(p).ok()
}

/// One diagnostic of the command line in the protocol's terms: the primary label's range
/// (the start of its file when it has none), the code with a link to its page, the message
/// with the label's text, the related places, and the help as a hint.
pub fn to_lsp(d: &Diagnostic, map: &SourceMap, dir: &Path) -> Option<(Url, LspDiagnostic)> {
    let (uri, range) = match d.primary() {
        Some(span) => {
            let (file, r) = span_range(map, span)?;
            (uri_of(file, dir)?, r)
        }
        // A diagnostic of no file (no .mlp files at all) belongs to none.
        None => return None,
    };
    Some((uri, lsp_diagnostic(d, map, dir, range)))
}

/// `d` in the protocol's terms, at `range`.
fn lsp_diagnostic(d: &Diagnostic, map: &SourceMap, dir: &Path, range: Range) -> LspDiagnostic {
    let mut message = d.message.clone();
    if let Some(l) = d.labels.first().filter(|l| !l.message.is_empty()) {
        message.push_str(&format!(" ({})", l.message));
    }
    if let Some(h) = &d.help {
        message.push_str(&format!("\nhelp: {h}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .related
        .iter()
        .chain(d.labels.iter().skip(1))
        .filter_map(|l| {
            let (file, r) = span_range(map, l.span)?;
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri_of(file, dir)?, r),
                message: if l.message.is_empty() {
                    "here".into()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    LspDiagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description: Url::parse(&format!("{ERRORS_URL}{}.md", d.code))
            .ok()
            .map(|href| CodeDescription { href }),
        source: Some("mlp".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_from_the_line_start() {
        let f = SourceFile::new("a.mlp", "ab\n// é😀x\n");
        assert_eq!(position(&f, 0), Position::new(0, 0));
        assert_eq!(position(&f, 2), Position::new(0, 2));
        assert_eq!(position(&f, 3), Position::new(1, 0));
        // `// ` is 3 units, `é` 1, `😀` 2 (4 bytes in UTF-8): `x` is at 6.
        let x = "ab\n// é😀".len();
        assert_eq!(position(&f, x), Position::new(1, 6));
        // Past the end: the end.
        assert_eq!(position(&f, 999), position(&f, f.text.len()));
    }
}
