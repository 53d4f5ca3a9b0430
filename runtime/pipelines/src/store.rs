//! The content-addressed store of step outputs and the step cache under `.mlp/`.
//!
//! A step writes into `.mlp/tmp/PIPELINE/RUN/STEP/`. Only when it succeeds is that folder
//! hashed and renamed to `.mlp/store/HASH/` (one atomic rename on the same file system), and
//! only then is the cache entry `.mlp/cache/KEY.json` written (through a temporary file and a
//! rename). A run killed at any point leaves either a complete output with its cache entry,
//! a complete output without one (the next run recomputes it and finds the same hash), or a
//! temporary folder that the next run of the pipeline deletes: never half an artifact.

use crate::RunError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a string, hex.
pub fn sha256_str(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RunError {
    let path = path.to_path_buf();
    move |source| RunError::Io {
        action,
        path,
        source,
    }
}

/// sha256 of a file's content, hex.
pub fn sha256_file(path: &Path) -> Result<String, RunError> {
    let mut f = std::fs::File::open(path).map_err(io("read", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io("read", path))?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The hash of a file or of a folder's whole tree: every file's relative path, executable
/// bit and content hash, in sorted order. Symbolic links are refused (an output must hold
/// its own bytes).
pub fn tree_hash(path: &Path) -> Result<String, RunError> {
    let meta = std::fs::symlink_metadata(path).map_err(io("read", path))?;
    if meta.is_file() {
        return sha256_file(path);
    }
    let mut files = Vec::new();
    walk(path, path, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    for (rel, full) in files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(sha256_file(&full)?.as_bytes());
        h.update([if is_executable(&full) { b'x' } else { b'-' }]);
    }
    Ok(hex(&h.finalize()))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), RunError> {
    for entry in std::fs::read_dir(dir).map_err(io("read", dir))? {
        let entry = entry.map_err(io("read", dir))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io("read", &p))?;
        if ft.is_symlink() {
            return Err(RunError::Step(format!(
                "`{}` is a symbolic link; a step's output must hold its own files",
                p.display()
            )));
        } else if ft.is_dir() {
            walk(root, &p, out)?;
        } else {
            // Under `root` by construction; an empty name would hash a different tree.
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .map_err(|_| {
                    RunError::Step(format!(
                        "`{}` is not inside `{}`",
                        p.display(),
                        root.display()
                    ))
                })?;
            out.push((rel, p));
        }
    }
    Ok(())
}

fn set_readonly(path: &Path) {
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.flatten() {
            set_readonly(&e.path());
        }
    }
    if let Ok(m) = std::fs::metadata(path) {
        let mut p = m.permissions();
        if m.is_file() {
            p.set_readonly(true);
            // A guard against steps editing stored outputs, not needed for them to be right.
            std::fs::set_permissions(path, p).ok();
        }
    }
}

/// Makes a folder tree writable again (to delete it).
pub fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if m.is_symlink() {
            return;
        }
        let mut p = m.permissions();
        p.set_mode(p.mode() | 0o200);
        // Best effort: the deletion that follows reports (or tolerates) what stays.
        std::fs::set_permissions(path, p).ok();
        if m.is_dir() {
            if let Ok(rd) = std::fs::read_dir(path) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file next to it, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io("write", &tmp))?;
    f.write_all(bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("write", path))
}

/// A step's cache key and the parts it is made of (each part a hash), so that a changed key
/// can say what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    /// The key: sha256 of the parts.
    pub key: String,
    /// Part name (`definition`, `code:train.py`, `param:lr`, `input:dataset`, `data:…`) to
    /// its hash.
    pub parts: BTreeMap<String, String>,
}

impl CacheKey {
    /// The key of these parts.
    pub fn new(parts: BTreeMap<String, String>) -> CacheKey {
        let text = parts
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>();
        CacheKey {
            key: sha256_str(&text),
            parts,
        }
    }

    /// Why this key differs from `before`, part by part, in words.
    pub fn changes_since(&self, before: &CacheKey) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.parts {
            match before.parts.get(k) {
                None => out.push(format!("{} is new", describe(k))),
                Some(old) if old != v => out.push(format!("{} changed", describe(k))),
                _ => {}
            }
        }
        for k in before.parts.keys() {
            if !self.parts.contains_key(k) {
                out.push(format!("{} was removed", describe(k)));
            }
        }
        out
    }
}

fn describe(part: &str) -> String {
    match part.split_once(':') {
        Some(("code", f)) => format!("code file `{f}`"),
        Some(("param", p)) => format!("parameter `{p}`"),
        Some(("input", s)) => format!("the output of step `{s}`"),
        Some(("data", f)) => format!("data file `{f}`"),
        Some(("python", f)) => format!("the Python environment (`{f}`)"),
        _ => format!("the step's {part}"),
    }
}

/// A cache entry: the output a key produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The key's parts.
    pub key: CacheKey,
    /// The output's hash in the store.
    pub output: String,
    /// The run that produced it.
    pub run_id: String,
}

/// The store and cache of one project.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store of the project in `project_dir`.
    pub fn new(project_dir: &Path) -> Store {
        Store {
            root: mlp_ir::host::state_dir(project_dir),
        }
    }

    /// Where the output with this hash lives.
    pub fn output_path(&self, hash: &str) -> PathBuf {
        self.root.join("store").join(hash)
    }

    /// The temporary output folder of a step in a run.
    pub fn tmp_path(&self, pipeline: &str, run_id: &str, step: &str) -> PathBuf {
        self.root.join("tmp").join(pipeline).join(run_id).join(step)
    }

    /// Deletes what earlier runs of `pipeline` left in `.mlp/tmp` (the caller holds the
    /// pipeline's run lock, so no live run of it owns them), except `keep`'s.
    pub fn clean_tmp(&self, pipeline: &str, keep: &str) {
        let dir = self.root.join("tmp").join(pipeline);
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy() != keep {
                    make_writable(&e.path());
                    // Best effort: a leftover only takes space, and the next run tries again.
                    std::fs::remove_dir_all(e.path()).ok();
                }
            }
        }
    }

    /// Moves a finished step's folder into the store; returns its hash. When the store
    /// already has that output, the folder is deleted instead.
    pub fn commit(&self, tmp: &Path) -> Result<String, RunError> {
        let hash = tree_hash(tmp)?;
        let target = self.output_path(&hash);
        if target.exists() {
            make_writable(tmp);
            // Best effort: the store has the output; a leftover copy under `.mlp/tmp` only
            // takes space (`clean_tmp` clears it later).
            std::fs::remove_dir_all(tmp).ok();
            return Ok(hash);
        }
        let parent = self.root.join("store");
        std::fs::create_dir_all(&parent).map_err(io("create", &parent))?;
        set_readonly(tmp);
        if let Err(e) = std::fs::rename(tmp, &target) {
            // Another run stored the same output meanwhile: keep theirs.
            if target.exists() {
                make_writable(tmp);
                // Best effort, as above.
                std::fs::remove_dir_all(tmp).ok();
                return Ok(hash);
            }
            return Err(io("move into the store", tmp)(e));
        }
        Ok(hash)
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.root.join("cache").join(format!("{key}.json"))
    }

    fn last_path(&self, pipeline: &str, step: &str) -> PathBuf {
        self.root
            .join("cache")
            .join("last")
            .join(format!("{pipeline}.{step}.json"))
    }

    /// The cache entry for `key`, when its output is still in the store.
    pub fn lookup(&self, key: &str) -> Option<CacheEntry> {
        let text = std::fs::read_to_string(self.entry_path(key)).ok()?;
        let entry: CacheEntry = serde_json::from_str(&text).ok()?;
        self.output_path(&entry.output).exists().then_some(entry)
    }

    /// The key the step had when it last ran, for explaining a re-run.
    pub fn last_key(&self, pipeline: &str, step: &str) -> Option<CacheKey> {
        let text = std::fs::read_to_string(self.last_path(pipeline, step)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records that `key` produced `output` (after the output is in the store).
    pub fn record(&self, pipeline: &str, step: &str, entry: &CacheEntry) -> Result<(), RunError> {
        write_atomic(&self.entry_path(&entry.key.key), to_json(entry)?.as_bytes())?;
        write_atomic(
            &self.last_path(pipeline, step),
            to_json(&entry.key)?.as_bytes(),
        )
    }
}

/// JSON text of a cache record (never an empty file in its place).
fn to_json<T: Serialize>(v: &T) -> Result<String, RunError> {
    serde_json::to_string_pretty(v)
        .map_err(|e| RunError::Step(format!("cannot write a cache record as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_hash_depends_on_names_and_contents_only() {
        let a = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for d in [a.path(), b.path()] {
            std::fs::create_dir_all(d.join("sub")).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(d.join("sub/x.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(d.join("y.txt"), "y").unwrap_or_else(|e| panic!("{e}"));
        }
        let ha = tree_hash(a.path()).unwrap_or_default();
        assert_eq!(ha, tree_hash(b.path()).unwrap_or_default());
        std::fs::write(b.path().join("y.txt"), "z").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(ha, tree_hash(b.path()).unwrap_or_default());
        std::fs::write(b.path().join("y.txt"), "y").unwrap_or_else(|e| panic!("{e}"));
        std::fs::rename(b.path().join("y.txt"), b.path().join("w.txt"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(ha, tree_hash(b.path()).unwrap_or_default());
    }

    #[test]
    fn a_changed_key_says_which_part_changed() {
        let before = CacheKey::new(
            [
                ("definition", "1"),
                ("code:train.py", "a"),
                ("param:lr", "x"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        let after = CacheKey::new(
            [
                ("definition", "1"),
                ("code:train.py", "b"),
                ("input:data", "y"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
        );
        assert_ne!(before.key, after.key);
        assert_eq!(
            after.changes_since(&before),
            vec![
                "code file `train.py` changed".to_string(),
                "the output of step `data` is new".to_string(),
                "parameter `lr` was removed".to_string()
            ]
        );
        assert!(after.changes_since(&after).is_empty());
    }
}
