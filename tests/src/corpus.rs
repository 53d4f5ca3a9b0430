//! The test corpus: every example project and every golden diagnostic file, loaded as
//! in-memory projects that `mlp_driver::check_sources` accepts.

use std::path::{Path, PathBuf};

/// One project held in memory: its files as `(name, text)` and an optional env YAML.
#[derive(Debug, Clone)]
pub struct Project {
    /// A name for messages: the example folder or golden file.
    pub name: String,
    /// The `.mlp` files, `(file name, text)`.
    pub files: Vec<(String, String)>,
    /// `(env name, YAML text)` when the project is checked with `--env`.
    pub env: Option<(String, String)>,
}

impl Project {
    /// Checks the project with the compiler driver.
    pub fn check(&self) -> mlp_driver::Checked {
        mlp_driver::check_sources(
            &self.files,
            self.env.as_ref().map(|(n, t)| (n.as_str(), t.as_str())),
        )
    }
}

/// The repository root (the parent of the `tests` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The prelude added to a golden file that declares no project.
pub const GOLDEN_PRELUDE: (&str, &str) = ("zz_prelude.mlp", "project golden {}\n");

// The corpus is what the tests check: a folder or file that cannot be read fails them (a
// panic, as in a test) rather than leave them passing on nothing.

fn read_sorted(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", dir.display()));
    out.sort();
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read `{}`: {e}", p.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Every folder under `examples/` as a project, with `env/dev.yaml` when it exists.
pub fn examples() -> Vec<Project> {
    let root = repo_root().join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", root.display()));
    dirs.sort();
    dirs.iter()
        .map(|dir| {
            let files = read_sorted(dir, "mlp")
                .iter()
                .map(|p| (file_name(p), read(p)))
                .collect();
            let env = std::fs::read_to_string(dir.join("env").join("dev.yaml"))
                .ok()
                .map(|t| ("dev".to_string(), t));
            Project {
                name: file_name(dir),
                files,
                env,
            }
        })
        .collect()
}

/// The golden diagnostic files under `tests/diagnostics/`, each a one-file project (plus the
/// prelude when it declares no project).
pub fn goldens() -> Vec<Project> {
    read_sorted(&repo_root().join("tests").join("diagnostics"), "mlp")
        .iter()
        .map(|p| {
            let name = file_name(p);
            let text = read(p);
            let mut files = vec![(name.clone(), text.clone())];
            if !text.contains("project ") {
                files.push((GOLDEN_PRELUDE.0.to_string(), GOLDEN_PRELUDE.1.to_string()));
            }
            Project {
                name,
                files,
                env: None,
            }
        })
        .collect()
}

/// Examples and golden files together.
pub fn all() -> Vec<Project> {
    let mut v = examples();
    v.extend(goldens());
    v
}
