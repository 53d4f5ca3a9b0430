//! The compiler driver: loads a project folder (every `*.mlp` in it, and `env/NAME.yaml`
//! for `--env NAME`), runs `source_to_ast`, `ast_to_hir` and `hir_to_plan`, and returns the
//! diagnostics and, when there are no errors, the plan.

use mlp_diagnostics::{Diagnostic, Diagnostics, FileId, SourceMap};
use mlp_ir::Plan;
use mlp_sema::EnvValues;
use mlp_syntax::ast;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod incremental;
pub use incremental::Incremental;

/// The result of checking a project.
#[derive(Debug, Default)]
pub struct Checked {
    /// Every file read (`.mlp` files, then the env YAML).
    pub map: SourceMap,
    /// Diagnostics sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The plan, when there is no error.
    pub plan: Option<Plan>,
    /// Every project file read, in name order.
    pub files: Vec<(FileId, PathBuf)>,
    /// The syntax trees of the files that parsed.
    pub asts: Vec<(FileId, ast::File)>,
}

impl Checked {
    /// True when any error was reported.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The `.mlp` files of a project folder, sorted by name.
pub fn project_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            // The entry's type comes with the listing; only a link needs a `stat`.
            let path = e.path();
            path.extension().is_some_and(|x| x == "mlp")
                && e.file_type()
                    .is_ok_and(|t| t.is_file() || (t.is_symlink() && path.is_file()))
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Checks the project in `dir`, with values from `env/ENV.yaml` when `env` is given.
pub fn check_dir(dir: &Path, env: Option<&str>) -> Checked {
    check_dir_with(dir, env, &BTreeMap::new())
}

/// Checks the project in `dir` as [`check_dir`] does, with the texts of `overlay` in place
/// of the files at those paths (an editor's open buffers, which may not be saved or may not
/// exist on disk yet). Paths are compared as given: pass them as `dir.join(NAME)`.
pub fn check_dir_with(
    dir: &Path,
    env: Option<&str>,
    overlay: &BTreeMap<PathBuf, String>,
) -> Checked {
    let loaded = load_dir(dir, env, overlay, &mut |p: &Path| {
        std::fs::read_to_string(p).map(Arc::from)
    });
    let root = dir.display().to_string();
    check_loaded(loaded, &root)
}

/// A project's files read into a [`SourceMap`], before parsing.
pub(crate) struct Loaded {
    pub(crate) map: SourceMap,
    /// The `.mlp` files read, in name order.
    pub(crate) sources: Vec<(FileId, PathBuf)>,
    pub(crate) env: EnvValues,
    /// Problems found while reading (no files, unreadable files, the env YAML).
    pub(crate) early: Vec<Diagnostic>,
}

/// The texts a project is checked with: `overlay` (open buffers) over the files `read`
/// gives, for `dir`'s `.mlp` files and, with `env`, `env/ENV.yaml`.
pub(crate) fn load_dir(
    dir: &Path,
    env: Option<&str>,
    overlay: &BTreeMap<PathBuf, String>,
    read: &mut dyn FnMut(&Path) -> std::io::Result<Arc<str>>,
) -> Loaded {
    let mut map = SourceMap::new();
    let mut early = Vec::new();
    let mut sources: Vec<(FileId, PathBuf)> = Vec::new();
    let mut text_of = |path: &Path| match overlay.get(path) {
        Some(t) => Ok(Arc::from(t.as_str())),
        None => read(path),
    };
    let listed = project_files(dir).map(|mut files| {
        for p in overlay.keys() {
            let here = p.parent() == Some(dir) && p.extension().is_some_and(|x| x == "mlp");
            if here && !files.contains(p) {
                files.push(p.clone());
            }
        }
        files.sort();
        files
    });
    match listed {
        Ok(files) if files.is_empty() => early.push(
            Diagnostic::new("E0009", format!("no .mlp files in `{}`", dir.display()))
                .help("a project is a folder of `*.mlp` files; pass its path"),
        ),
        Ok(files) => {
            for path in files {
                match text_of(&path) {
                    Ok(text) => sources.push((map.add(path.display().to_string(), text), path)),
                    Err(e) => early.push(
                        Diagnostic::new("E0008", format!("cannot read `{}`: {e}", path.display()))
                            .help("project files must be readable UTF-8 text"),
                    ),
                }
            }
        }
        Err(e) => early.push(Diagnostic::new(
            "E0009",
            format!("cannot read project folder `{}`: {e}", dir.display()),
        )),
    }
    let mut envv = EnvValues::default();
    if let Some(name) = env {
        let path = dir.join("env").join(format!("{name}.yaml"));
        match text_of(&path) {
            Ok(text) => {
                let id = map.add(path.display().to_string(), text);
                let (values, d) = mlp_sema::load_env_file(&map, id, name);
                envv = values;
                early.extend(d);
            }
            Err(e) => {
                early.push(env_not_found(dir, name, &path, &e));
                envv.name = Some(name.to_string());
            }
        }
    }
    Loaded {
        map,
        sources,
        env: envv,
        early,
    }
}

/// E0401: `env/NAME.yaml` cannot be read; suggests a close environment name.
fn env_not_found(dir: &Path, name: &str, path: &Path, e: &std::io::Error) -> Diagnostic {
    // Only for a suggestion: an unreadable folder offers none.
    let known = std::fs::read_dir(dir.join("env"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    e.path()
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Diagnostic::new(
        "E0401",
        format!(
            "environment `{name}` not found: cannot read `{}`: {e}",
            path.display()
        ),
    )
    .maybe_help(
        mlp_diagnostics::suggestion(name, known.iter().map(String::as_str)).or_else(|| {
            Some(format!(
                "create env/{name}.yaml with the values of the project's `env` block"
            ))
        }),
    )
}

/// Checks in-memory sources (`(name, text)` pairs) with an optional env YAML `(name, text)`.
pub fn check_sources(files: &[(String, String)], env: Option<(&str, &str)>) -> Checked {
    let mut map = SourceMap::new();
    let sources: Vec<(FileId, PathBuf)> = files
        .iter()
        .map(|(n, t)| (map.add(n.clone(), t.as_str()), PathBuf::from(n)))
        .collect();
    let mut early = Vec::new();
    let mut envv = EnvValues::default();
    if let Some((name, text)) = env {
        let id = map.add(format!("env/{name}.yaml"), text);
        let (v, d) = mlp_sema::load_env_file(&map, id, name);
        envv = v;
        early.extend(d);
    }
    let loaded = Loaded {
        map,
        sources,
        env: envv,
        early,
    };
    check_loaded(loaded, "")
}

/// Parses every file (one per core), then checks and, without errors, builds the plan.
fn check_loaded(loaded: Loaded, root: &str) -> Checked {
    let Loaded {
        map,
        sources,
        env,
        early,
    } = loaded;
    let parsed = parse_sources(&map, sources, &mut |_, _, _| None);
    let (mut checked, hir) = check_parsed(map, parsed, &env, early);
    if let Some(hir) = hir.filter(|_| !checked.has_errors()) {
        checked.plan = Some(mlp_sema::hir_to_plan(&hir, &checked.map, root));
    }
    checked
}

/// One file after parsing: its id, path, syntax tree (none when it does not parse) and
/// syntax diagnostics.
pub(crate) type ParsedFile = (FileId, PathBuf, Option<ast::File>, Vec<Diagnostic>);

/// A file's syntax tree (none when it did not parse) and syntax diagnostics from an earlier
/// parse of the same text.
pub(crate) type Reused = (Option<ast::File>, Vec<Diagnostic>);

/// What answers, for a file (id, path, text), its [`Reused`] parse, if any.
pub(crate) type Reuse<'a> = dyn FnMut(FileId, &Path, &Arc<str>) -> Option<Reused> + 'a;

/// Parses `sources`, one file per core, in file order; `reuse` may give a file's tree and
/// syntax diagnostics from an earlier parse of the same text instead.
pub(crate) fn parse_sources(
    map: &SourceMap,
    sources: Vec<(FileId, PathBuf)>,
    reuse: &mut Reuse<'_>,
) -> Vec<ParsedFile> {
    let mut out: Vec<Option<ParsedFile>> = Vec::with_capacity(sources.len());
    let mut todo = Vec::new();
    for (i, (id, path)) in sources.into_iter().enumerate() {
        let text = map
            .get(id)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| Arc::from(""));
        match reuse(id, &path, &text) {
            Some((ast, d)) => out.push(Some((id, path, ast, d))),
            None => {
                out.push(None);
                todo.push((i, id, path, text));
            }
        }
    }
    let fresh: Vec<(usize, ParsedFile)> = todo
        .into_par_iter()
        .map(|(i, id, path, text)| {
            let (ast, d) = mlp_syntax::source_to_ast(id, &text);
            (i, (id, path, ast, d))
        })
        .collect();
    for (i, p) in fresh {
        out[i] = Some(p);
    }
    out.into_iter().flatten().collect()
}

/// Checks parsed files: answers the [`Checked`] (without its plan) and, when every file
/// parsed, the HIR (to build the plan from when there is no error).
pub(crate) fn check_parsed(
    map: SourceMap,
    parsed: Vec<ParsedFile>,
    env: &EnvValues,
    early: Vec<Diagnostic>,
) -> (Checked, Option<mlp_sema::hir::Hir>) {
    let mut diags = Diagnostics::new();
    diags.extend(early);
    let mut files = Vec::with_capacity(parsed.len());
    let mut asts = Vec::with_capacity(parsed.len());
    for (id, path, ast, d) in parsed {
        diags.extend(d);
        files.push((id, path));
        asts.extend(ast.map(|a| (id, a)));
    }
    let syntax_ok = asts.len() == files.len();
    let mut hir = None;
    if syntax_ok {
        let (h, d) = mlp_sema::ast_to_hir(&asts, env, &map);
        diags.extend(d.sorted());
        hir = Some(h);
    }
    let checked = Checked {
        map,
        diagnostics: diags.sorted(),
        plan: None,
        files,
        asts,
    };
    (checked, hir)
}

/// Drops `value` on another thread: freeing a large project's HIR takes milliseconds that
/// the caller need not wait for.
pub(crate) fn drop_elsewhere<T: Send + 'static>(value: T) {
    // When no thread can start, `spawn` drops the closure, and the value in it, right here:
    // nothing is lost but the time.
    std::thread::Builder::new()
        .name("mlp-drop".into())
        .spawn(move || drop(value))
        .ok();
}

/// Formats one file's text canonically; `None` when it does not parse.
pub fn format_source(text: &str) -> Option<String> {
    let (ast, _) = mlp_syntax::source_to_ast(FileId(0), text);
    ast.map(|a| mlp_syntax::ast_to_source(&a, text))
}
