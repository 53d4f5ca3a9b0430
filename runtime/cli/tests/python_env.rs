//! Steps with their own Python environment (`python = requirements("requirements.txt")`),
//! without `MLP_VENV`: the venv is built once under the cache folder and reused by a second
//! run and a second project; changing a requirement re-runs the step and says why; two runs
//! started at once build it once; a requirement that does not exist fails the step with pip's
//! message in `mlpc logs`, and the fixed file builds cleanly; `mlpc check` refuses a missing
//! requirements file (E0324).

use mlp_test_support::serving::mlpc_bin;
use std::path::Path;
use std::process::{Command, Output};

const SPEC: &str = r#"project py {}

pipeline prep {
  python = requirements("requirements.txt")

  step probe {
    run = "python -c 'import six, sys; print(six.__version__); print(sys.prefix)' > ${out}/v.txt"
  }
}
"#;

/// `mlpc ARGS` in `dir` with the venv cache `cache` and no project venv.
fn mlpc(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(mlpc_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MLP_VENV")
        .env("MLP_VENV_CACHE", cache)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

/// A project with the spec and `requirements`, applied.
fn project(root: &Path, name: &str, requirements: &str, cache: &Path) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("requirements.txt"), requirements).unwrap_or_else(|e| panic!("{e}"));
    ok(&mlpc(&dir, cache, &["apply", ".", "--auto-approve"]));
    dir
}

/// The last run's log of step `probe`.
fn log(dir: &Path, cache: &Path) -> String {
    ok(&mlpc(dir, cache, &["logs", ".", "last", "probe"]))
}

/// The texts of every `v.txt` the steps stored under `dir`.
fn outputs(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(outputs(&p));
        } else if p.file_name().is_some_and(|n| n == "v.txt") {
            found.push(std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    found
}

/// How many venvs the cache holds (complete or not).
fn venvs(cache: &Path) -> usize {
    std::fs::read_dir(cache)
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

#[test]
fn a_steps_venv_is_built_once_reused_and_rebuilt_when_a_requirement_changes() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cache = root.path().join("cache");
    let a = project(root.path(), "a", "six==1.16.0\n", &cache);

    // First run: built, and the step ran in it.
    let out = ok(&mlpc(&a, &cache, &["run", ".", "prep"]));
    assert!(out.contains("ran: no earlier successful run"), "{out}");
    assert!(log(&a, &cache).contains("python: building a venv for requirements.txt"));
    assert_eq!(venvs(&cache), 1);
    // The command ran with the venv's Python and package.
    let v = outputs(&a.join(".mlp/store"));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("1.16.0\n"), "{v:?}");
    assert!(v[0].contains(&cache.display().to_string()), "{v:?}");

    // Second run: the step is cached; a second project with the same file reuses the venv.
    let out = ok(&mlpc(&a, &cache, &["run", ".", "prep"]));
    assert!(out.contains("cached"), "{out}");
    let b = project(root.path(), "b", "six==1.16.0\n", &cache);
    ok(&mlpc(&b, &cache, &["run", ".", "prep"]));
    let said = log(&b, &cache);
    assert!(said.contains("python: reusing the venv"), "{said}");
    assert!(!said.contains("building"), "{said}");
    assert_eq!(venvs(&cache), 1);

    // A changed requirement: the step runs again, saying why, in a new venv.
    std::fs::write(a.join("requirements.txt"), "six==1.17.0\n").unwrap_or_else(|e| panic!("{e}"));
    let out = ok(&mlpc(&a, &cache, &["run", ".", "prep"]));
    assert!(
        out.contains("ran: the Python environment (`requirements.txt`) changed"),
        "{out}"
    );
    assert!(log(&a, &cache).contains("python: building a venv"));
    assert_eq!(venvs(&cache), 2);
}

#[test]
fn two_runs_at_once_build_one_venv() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cache = root.path().join("cache");
    let c = project(root.path(), "c", "six==1.16.0\n", &cache);
    let d = project(root.path(), "d", "six==1.16.0\n", &cache);
    let start = |dir: &Path| {
        Command::new(mlpc_bin())
            .args(["run", ".", "prep"])
            .current_dir(dir)
            .env_remove("MLP_VENV")
            .env("MLP_VENV_CACHE", &cache)
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (pc, pd) = (start(&c), start(&d));
    for p in [pc, pd] {
        ok(&p.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    }
    let logs = [log(&c, &cache), log(&d, &cache)];
    let built = logs
        .iter()
        .filter(|l| l.contains("python: building a venv"))
        .count();
    assert_eq!(built, 1, "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("python: reusing the venv")));
    assert_eq!(venvs(&cache), 1);
}

#[test]
fn a_requirement_that_does_not_exist_fails_with_pips_message_and_a_fix_builds() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cache = root.path().join("cache");
    let e = project(root.path(), "e", "mlp-no-such-package-zz3==1.0\n", &cache);
    let out = mlpc(&e, &cache, &["run", ".", "prep"]);
    assert!(!out.status.success());
    let said = log(&e, &cache);
    assert!(
        said.contains("pip install -r requirements.txt failed"),
        "{said}"
    );
    assert!(said.contains("mlp-no-such-package-zz3"), "{said}");
    // Nothing half-built is left to be used.
    assert_eq!(venvs(&cache), 0);
    std::fs::write(e.join("requirements.txt"), "six==1.16.0\n").unwrap_or_else(|e| panic!("{e}"));
    let out = ok(&mlpc(&e, &cache, &["run", ".", "prep"]));
    assert!(out.contains("succeeded"), "{out}");
    let said = log(&e, &cache);
    assert!(
        said.contains("the venv for requirements.txt is ready"),
        "{said}"
    );
}

#[test]
fn check_refuses_a_missing_requirements_file() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = root.path();
    std::fs::write(dir.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let out = mlpc(dir, &dir.join("cache"), &["check", "."]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("E0324"), "{err}");
    assert!(
        err.contains("requirements file `requirements.txt` does not exist"),
        "{err}"
    );
}
