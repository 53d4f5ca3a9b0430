//! A pipeline's or a step's Python environment: `python = requirements("requirements.txt")`
//! (a venv mlp builds and caches) or `python = venv("path")` (an existing one). The file or
//! folder must exist, relative to the project; only `run` steps run Python. Problems are
//! E0324.

use crate::decls::Checker;
use mlp_diagnostics::{Diagnostic, Span};
use mlp_ir::PythonEnv;
use mlp_syntax::ast::{Expr, ExprKind};
use std::path::PathBuf;

const FORMS: &str =
    "write `python = requirements(\"requirements.txt\")` or `python = venv(\".venv\")`";

impl Checker<'_> {
    /// The environment `e` names, its path checked to exist next to the spec that names it.
    pub(crate) fn python_env(&mut self, e: &Expr) -> Option<PythonEnv> {
        let ExprKind::Call { name, args } = &e.kind else {
            self.diags.push(
                Diagnostic::new(
                    "E0324",
                    format!("`python` takes an environment, not {}", e.describe()),
                )
                .label(e.span, "not an environment")
                .help(FORMS),
            );
            return None;
        };
        let [arg] = args.as_slice() else {
            self.diags.push(
                Diagnostic::new("E0324", format!("`{}` takes one path", name.name))
                    .label(e.span, "one string argument")
                    .help(FORMS),
            );
            return None;
        };
        if !matches!(name.name.as_str(), "requirements" | "venv") || arg.name.is_some() {
            self.diags.push(
                Diagnostic::new(
                    "E0324",
                    format!("`{}` is not a Python environment", name.name),
                )
                .label(name.span, "unknown environment")
                .help(FORMS),
            );
            return None;
        }
        let path = self.string(&arg.value, &name.name)?;
        let env = if name.name == "requirements" {
            PythonEnv::Requirements { path: path.clone() }
        } else {
            PythonEnv::Venv { path: path.clone() }
        };
        let found = self.beside(arg.value.span, &path);
        match (&env, found) {
            (PythonEnv::Requirements { .. }, Some(p)) if !p.is_file() => {
                self.diags.push(
                    Diagnostic::new("E0324", format!("requirements file `{path}` does not exist"))
                        .label(arg.value.span, format!("no file at {}", p.display()))
                        .help("the path is relative to the project folder; pip reads it to build the step's venv"),
                );
            }
            (PythonEnv::Venv { .. }, Some(p)) if !p.join("bin").join("python").exists() => {
                self.diags.push(
                    Diagnostic::new("E0324", format!("`{path}` is not a venv"))
                        .label(arg.value.span, format!("no {}", p.join("bin/python").display()))
                        .help("create it with `python3 -m venv PATH`, or let mlp build one: `python = requirements(\"requirements.txt\")`"),
                );
            }
            _ => {}
        }
        Some(env)
    }

    /// `path` relative to the folder of the file that `at` is in; `None` when the file has no
    /// folder on disk (a buffer not saved yet).
    fn beside(&self, at: Span, path: &str) -> Option<PathBuf> {
        let file = self.map.get(at.file)?;
        let dir = PathBuf::from(&file.name).parent()?.to_path_buf();
        Some(dir.join(path))
    }

    /// E0324 for `python` on a step that runs no command.
    pub(crate) fn python_not_run(&mut self, at: Span) {
        self.diags.push(
            Diagnostic::new("E0324", "only a `run` step runs in a Python environment")
                .label(at, "this step has no `run` command")
                .help("move `python = ...` to the `run` step, or to the pipeline for all of its `run` steps"),
        );
    }
}
