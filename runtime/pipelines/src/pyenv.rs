//! The Python environments of `run` steps. `requirements("requirements.txt")` is a venv that
//! mlp builds with pip, once, under a cache folder shared by every run and project
//! (`MLP_VENV_CACHE`, else `$XDG_CACHE_HOME/mlp/venvs`, else `~/.cache/mlp/venvs`), keyed by
//! the file's content and the interpreter's version. A build holds a lock on its key, so two
//! runs never build one venv at once (the second waits, then reuses it), and a venv is used
//! only once a marker says that pip finished: a build that failed or was killed is built again.
//! `venv("path")` is an existing venv. Either one's identity is part of the step's cache key.

use mlp_ir::PythonEnv;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file whose presence says that a cached venv is complete.
const READY: &str = ".mlp-ready";

/// The interpreter that builds venvs: `MLP_PYTHON`, else `python3` on `PATH`.
fn base_python() -> PathBuf {
    std::env::var_os("MLP_PYTHON")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The folder of built venvs.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MLP_VENV_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("mlp").join("venvs")
}

/// `python --version` of `python`: the interpreter part of a venv's key.
fn version(python: &Path) -> Result<String, String> {
    let out = Command::new(python)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "no Python to build the step's venv with: cannot run `{}` ({e}); install python3 or set MLP_PYTHON",
                python.display()
            )
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "`{} --version` failed: {}",
            python.display(),
            text.trim()
        ));
    }
    Ok(text.trim().to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a requirements venv is keyed by: the file's content and the interpreter's version.
fn requirements_key(project: &Path, path: &str) -> Result<(String, PathBuf), String> {
    let file = project.join(path);
    let content = std::fs::read(&file)
        .map_err(|e| format!("cannot read the requirements file `{path}`: {e}"))?;
    let python = base_python();
    let mut h = Sha256::new();
    h.update(&content);
    h.update(b"\n");
    h.update(version(&python)?.as_bytes());
    Ok((hex(&h.finalize()), file))
}

/// The folder of a `venv("path")` environment.
fn venv_dir(project: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        project.join(p)
    }
}

/// The step's cache key part for `env`: its name (`python:requirements.txt`) and hash (the
/// requirements' content and interpreter, or the venv's folder and `pyvenv.cfg`).
pub fn key_part(env: &PythonEnv, project: &Path) -> Result<(String, String), String> {
    match env {
        PythonEnv::Requirements { path } => {
            let (key, _) = requirements_key(project, path)?;
            Ok((format!("python:{path}"), key))
        }
        PythonEnv::Venv { path } => {
            let dir = venv_dir(project, path);
            let cfg = std::fs::read(dir.join("pyvenv.cfg")).unwrap_or_default();
            let mut h = Sha256::new();
            h.update(dir.display().to_string().as_bytes());
            h.update(b"\n");
            h.update(&cfg);
            Ok((format!("python:{path}"), hex(&h.finalize())))
        }
    }
}

/// The venv of `env` if it is ready now, without building it.
pub fn ready(env: &PythonEnv, project: &Path) -> Option<PathBuf> {
    let dir = match env {
        PythonEnv::Requirements { path } => {
            cache_dir().join(&requirements_key(project, path).ok()?.0[..16])
        }
        PythonEnv::Venv { path } => venv_dir(project, path),
    };
    let complete = match env {
        PythonEnv::Requirements { .. } => dir.join(READY).exists(),
        PythonEnv::Venv { .. } => true,
    };
    (complete && dir.join("bin").join("python").exists()).then_some(dir)
}

/// Appends `text` to the step log at `log`.
fn note(log: &Path, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write the step log `{}`: {e}", log.display()))
}

/// Runs `cmd`, its output appended to `log`; an error with the last `ERROR:` line of its
/// output (pip's message), else its last line.
fn run_logged(cmd: &mut Command, what: &str, log: &Path) -> Result<(), String> {
    let out = cmd
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PYTHONUNBUFFERED", "1")
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    note(log, &text)?;
    if out.status.success() {
        return Ok(());
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let why = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR:"))
        .or(lines.last())
        .map_or("no output", |l| l.trim());
    Err(format!(
        "{what} failed ({}): {why}",
        out.status
            .code()
            .map_or("killed".to_string(), |c| format!("exit code {c}"))
    ))
}

/// The venv for `env`, built first when it is a requirements venv that is not in the cache
/// yet; what it does (and pip's output) goes to the step log `log`.
pub fn prepare(env: &PythonEnv, project: &Path, log: &Path) -> Result<PathBuf, String> {
    let path = match env {
        PythonEnv::Venv { path } => {
            let dir = venv_dir(project, path);
            if !dir.join("bin").join("python").exists() {
                return Err(format!(
                    "`{path}` is not a venv: there is no {}",
                    dir.join("bin/python").display()
                ));
            }
            return Ok(dir);
        }
        PythonEnv::Requirements { path } => path,
    };
    let (key, file) = requirements_key(project, path)?;
    let cache = cache_dir();
    let dir = cache.join(&key[..16]);
    if dir.join(READY).exists() {
        note(
            log,
            &format!("python: reusing the venv for {path} ({})\n", dir.display()),
        )?;
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create the venv cache `{}`: {e}", cache.display()))?;
    let lock_path = cache.join(format!("{}.lock", &key[..16]));
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open `{}`: {e}", lock_path.display()))?;
    // Another run building the same venv holds this until it is done.
    lock.lock()
        .map_err(|e| format!("cannot lock `{}`: {e}", lock_path.display()))?;
    if dir.join(READY).exists() {
        note(
            log,
            &format!(
                "python: reusing the venv for {path}, built meanwhile by another run ({})\n",
                dir.display()
            ),
        )?;
        return Ok(dir);
    }
    note(
        log,
        &format!("python: building a venv for {path} in {}\n", dir.display()),
    )?;
    // What a failed or killed build left.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove the unfinished venv `{}`: {e}", dir.display()))?;
    }
    let built = run_logged(
        Command::new(base_python()).args(["-m", "venv"]).arg(&dir),
        "python3 -m venv",
        log,
    )
    .and_then(|()| {
        run_logged(
            Command::new(dir.join("bin").join("python"))
                .args(["-m", "pip", "install", "--no-input", "-r"])
                .arg(&file)
                .current_dir(project),
            &format!("pip install -r {path}"),
            log,
        )
    });
    if let Err(e) = built {
        // A partial venv is never used; removing it frees the space now.
        if let Err(rm) = std::fs::remove_dir_all(&dir) {
            note(
                log,
                &format!("python: cannot remove {}: {rm}\n", dir.display()),
            )?;
        }
        return Err(e);
    }
    let marker = dir.join(READY);
    std::fs::write(&marker, format!("{path}\n"))
        .map_err(|e| format!("cannot mark the venv ready (`{}`): {e}", marker.display()))?;
    note(log, &format!("python: the venv for {path} is ready\n"))?;
    Ok(dir)
}
