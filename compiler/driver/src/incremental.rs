//! Checking one project again and again, as an editor does after each edit: the syntax tree
//! of every file whose text has not changed since the last check is kept, so that a check
//! parses only the edited files; a check with no text changed answers the last result. A
//! file on disk whose size and modification time are unchanged is not read again. The
//! semantic check itself runs over the whole project each time (it is global: one name
//! table, cross-file references), without building the plan or hashing resources.

use crate::{check_parsed, drop_elsewhere, load_dir, parse_sources, Checked, Loaded};
use mlp_diagnostics::{Diagnostic, FileId, SourceMap};
use mlp_syntax::ast;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// A project checked repeatedly, keeping what the last check parsed.
#[derive(Debug, Default)]
pub struct Incremental {
    /// The last check without an environment (empty before the first).
    last: Checked,
    /// Whether `last` is a check (rather than the empty value before any) that read every
    /// file without a problem: only such a check can be answered again unchanged.
    reusable: bool,
    /// Whether `last` is a check at all.
    checked: bool,
    /// The syntax diagnostics of each file of the last check (its tree, when it parsed, is in
    /// `last`).
    syntax: HashMap<PathBuf, Vec<Diagnostic>>,
    /// How many files the last check parsed (the others were reused): for tests and the
    /// benchmark.
    parsed: usize,
    /// The size and modification time of each file read from disk by the last check: a file
    /// whose stamp is unchanged is not read again (its text is the last check's).
    stamps: HashMap<PathBuf, Stamp>,
}

/// A file's size and modification time (nanoseconds on Linux file systems).
type Stamp = (u64, SystemTime);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl Incremental {
    /// Nothing checked yet.
    pub fn new() -> Incremental {
        Incremental::default()
    }

    /// How many files the last [`Incremental::check`] parsed; the others' trees were kept.
    pub fn parsed_last_time(&self) -> usize {
        self.parsed
    }

    /// The last result (empty before any check).
    pub fn last(&self) -> &Checked {
        &self.last
    }

    /// Checks the project in `dir` (without an environment) with `overlay` over the files on
    /// disk, as [`crate::check_dir_with`] does but without the plan: the same diagnostics.
    /// Files whose text is unchanged since the last check are not parsed again; when no text
    /// changed at all, the last result is answered as it is.
    pub fn check(&mut self, dir: &Path, overlay: &BTreeMap<PathBuf, String>) -> &Checked {
        let known: HashMap<&Path, &Arc<str>> = self
            .last
            .files
            .iter()
            .filter_map(|(id, p)| Some((p.as_path(), &self.last.map.get(*id)?.text)))
            .collect();
        let mut stamps = HashMap::new();
        let loaded = load_dir(dir, None, overlay, &mut |p: &Path| {
            let now = stamp(p);
            if let Some(now) = now {
                stamps.insert(p.to_path_buf(), now);
                if let (Some(before), Some(text)) = (self.stamps.get(p), known.get(p)) {
                    if *before == now {
                        return Ok(Arc::clone(text));
                    }
                }
            }
            std::fs::read_to_string(p).map(Arc::from)
        });
        drop(known);
        self.stamps = stamps;
        if self.reusable && same_texts(&self.last.map, &loaded) {
            self.parsed = 0;
        } else {
            self.recheck(loaded);
        }
        &self.last
    }

    /// Checks `loaded`, parsing only the files whose text is not the last check's.
    fn recheck(&mut self, loaded: Loaded) {
        let mut previous = self.take_trees();
        let mut parsed = 0;
        let Loaded {
            map,
            sources,
            env,
            early,
        } = loaded;
        let read_cleanly = early.is_empty();
        let files = parse_sources(&map, sources, &mut |id, path, text| {
            let reused = previous
                .remove(path)
                .filter(|p| p.id == id && (Arc::ptr_eq(&p.text, text) || p.text == *text))
                .map(|p| (p.tree, p.syntax));
            if reused.is_none() {
                parsed += 1;
            }
            reused
        });
        self.syntax = files
            .iter()
            .map(|(_, path, _, d)| (path.clone(), d.clone()))
            .collect();
        let (checked, hir) = check_parsed(map, files, &env, early);
        if let Some(hir) = hir {
            drop_elsewhere(hir);
        }
        drop_elsewhere(previous);
        self.parsed = parsed;
        self.last = checked;
        self.reusable = read_cleanly;
        self.checked = true;
    }

    /// The diagnostics of checking the last-checked project with `env/NAME.yaml` (its text
    /// from `yaml`), with the map they point into (the project's files, then the YAML). Uses
    /// the trees of the last [`Incremental::check`]; `None` before any.
    pub fn check_env(&self, name: &str, path: &Path, yaml: &str) -> Option<EnvChecked> {
        let last = Some(&self.last).filter(|_| self.checked)?;
        let mut map = last.map.clone();
        let id = map.add(path.display().to_string(), yaml);
        let (env, mut diagnostics) = mlp_sema::load_env_file(&map, id, name);
        if last.asts.len() == last.files.len() {
            let (hir, d) = mlp_sema::ast_to_hir(&last.asts, &env, &map);
            drop_elsewhere(hir);
            diagnostics.extend(d.sorted());
        }
        Some(EnvChecked {
            map,
            file: id,
            diagnostics,
        })
    }

    /// The trees of the last check by path, moved out of it.
    fn take_trees(&mut self) -> HashMap<PathBuf, Previous> {
        let last = std::mem::take(&mut self.last);
        let mut trees: HashMap<FileId, ast::File> = last.asts.into_iter().collect();
        let mut out = HashMap::new();
        for (id, path) in last.files {
            let (Some(file), Some(syntax)) = (last.map.get(id), self.syntax.remove(&path)) else {
                continue;
            };
            let previous = Previous {
                id,
                text: file.text.clone(),
                tree: trees.remove(&id),
                syntax,
            };
            out.insert(path, previous);
        }
        drop_elsewhere(last.diagnostics);
        out
    }
}

/// What checking with one environment found.
#[derive(Debug)]
pub struct EnvChecked {
    /// The project's files, then the environment's YAML.
    pub map: SourceMap,
    /// The YAML file in `map`.
    pub file: FileId,
    /// Every diagnostic of the check with this environment (the YAML's own, and the
    /// project's with these values).
    pub diagnostics: Vec<Diagnostic>,
}

/// A file's tree from the last check, with the text it was parsed from.
#[derive(Debug)]
struct Previous {
    id: FileId,
    text: Arc<str>,
    tree: Option<ast::File>,
    syntax: Vec<Diagnostic>,
}

/// True when `loaded` read the same files, with the same texts, in the same order as `map`
/// holds, and found no problem reading them.
fn same_texts(map: &SourceMap, loaded: &Loaded) -> bool {
    loaded.early.is_empty()
        && map.files().count() == loaded.map.files().count()
        && map
            .files()
            .zip(loaded.map.files())
            .all(|((_, a), (_, b))| a.name == b.name && a.text == b.text)
}
