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

/// The result of checking a project.
#[derive(Debug)]
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
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mlp") && p.is_file())
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
    let mut map = SourceMap::new();
    let mut early = Vec::new();
    let mut sources: Vec<(FileId, PathBuf)> = Vec::new();
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
                let text = match overlay.get(&path) {
                    Some(t) => Ok(t.clone()),
                    None => std::fs::read_to_string(&path),
                };
                match text {
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
    let env_file = env.map(|name| {
        let path = dir.join("env").join(format!("{name}.yaml"));
        (
            name.to_string(),
            overlay
                .get(&path)
                .map(|t| Ok(t.clone()))
                .unwrap_or_else(|| std::fs::read_to_string(&path))
                .map(|t| (path.display().to_string(), t))
                .map_err(|e| (path, e)),
        )
    });
    let mut envv = EnvValues::default();
    if let Some((name, res)) = env_file {
        match res {
            Ok((path, text)) => {
                let id = map.add(path, text);
                let (values, d) = mlp_sema::load_env_file(&map, id, &name);
                envv = values;
                early.extend(d);
            }
            Err((path, e)) => {
                // Only for a suggestion in the error below: an unreadable folder offers none.
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
                early.push(
                    Diagnostic::new("E0401", format!("environment `{name}` not found: cannot read `{}`: {e}", path.display())).maybe_help(
                        mlp_diagnostics::suggestion(&name, known.iter().map(String::as_str))
                            .or_else(|| Some(format!("create env/{name}.yaml with the values of the project's `env` block"))),
                    ),
                );
                envv.name = Some(name);
            }
        }
    }
    let root = dir.display().to_string();
    check_loaded(map, sources, envv, early, &root)
}

/// Checks in-memory sources (`(name, text)` pairs) with an optional env YAML `(name, text)`.
pub fn check_sources(files: &[(String, String)], env: Option<(&str, &str)>) -> Checked {
    let mut map = SourceMap::new();
    let sources: Vec<(FileId, PathBuf)> = files
        .iter()
        .map(|(n, t)| (map.add(n.clone(), t.clone()), PathBuf::from(n)))
        .collect();
    let mut early = Vec::new();
    let mut envv = EnvValues::default();
    if let Some((name, text)) = env {
        let id = map.add(format!("env/{name}.yaml"), text.to_string());
        let (v, d) = mlp_sema::load_env_file(&map, id, name);
        envv = v;
        early.extend(d);
    }
    check_loaded(map, sources, envv, early, "")
}

fn check_loaded(
    map: SourceMap,
    sources: Vec<(FileId, PathBuf)>,
    env: EnvValues,
    early: Vec<Diagnostic>,
    root: &str,
) -> Checked {
    let mut diags = Diagnostics::new();
    diags.extend(early);
    // Files parse independently: one per core, results kept in file order.
    let results: Vec<_> = sources
        .into_par_iter()
        .map(|(id, path)| {
            let text = map.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let (ast, d) = mlp_syntax::source_to_ast(id, &text);
            (id, path, ast, d)
        })
        .collect();
    let mut files = Vec::with_capacity(results.len());
    let mut asts = Vec::with_capacity(results.len());
    for (id, path, ast, d) in results {
        diags.extend(d);
        files.push((id, path));
        asts.extend(ast.map(|a| (id, a)));
    }
    let syntax_ok = asts.len() == files.len();
    let mut plan = None;
    if syntax_ok {
        let (hir, d) = mlp_sema::ast_to_hir(&asts, &env, &map);
        let failed = d.has_errors();
        diags.extend(d.sorted());
        if !failed && !diags.has_errors() {
            plan = Some(mlp_sema::hir_to_plan(&hir, &map, root));
        }
    }
    Checked {
        map,
        diagnostics: diags.sorted(),
        plan,
        files,
        asts,
    }
}

/// Formats one file's text canonically; `None` when it does not parse.
pub fn format_source(text: &str) -> Option<String> {
    let (ast, _) = mlp_syntax::source_to_ast(FileId(0), text);
    ast.map(|a| mlp_syntax::ast_to_source(&a, text))
}
