//! The incremental check against the full one, its independent reference: the compiler
//! fuzzer's mutations, replayed as a stream of edits of one file (or of the env YAML) over a
//! project on disk, give after each edit exactly the diagnostics of `check_dir_with` on the
//! same texts, while parsing only the edited file.

use mlp_driver::{check_dir_with, Incremental};
use mlp_tests::fuzz::{edit_stream, strategy};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sorted(ds: &[mlp_diagnostics::Diagnostic]) -> Vec<String> {
    let mut v: Vec<String> = ds.iter().map(|d| format!("{d:?}")).collect();
    v.sort();
    v
}

/// Writes the project's files (and env YAML) into `dir`; answers the YAML's path.
fn write(dir: &Path, p: &mlp_tests::corpus::Project) -> Option<PathBuf> {
    for (name, text) in &p.files {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }
    p.env.as_ref().map(|(name, text)| {
        let path = dir.join("env").join(format!("{name}.yaml"));
        std::fs::create_dir_all(dir.join("env")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    })
}

/// One edit of a `.mlp` file: the incremental check equals the full one and parsed one file.
fn edit_of_a_file(
    inc: &mut Incremental,
    dir: &Path,
    path: PathBuf,
    text: &str,
) -> Result<(), String> {
    let overlay = BTreeMap::from([(path, text.to_string())]);
    let got = sorted(&inc.check(dir, &overlay).diagnostics);
    let want = sorted(&check_dir_with(dir, None, &overlay).diagnostics);
    if got != want {
        return Err(format!("{got:#?}\nagainst the full check: {want:#?}"));
    }
    if inc.parsed_last_time() > 1 {
        return Err(format!("{} files parsed", inc.parsed_last_time()));
    }
    Ok(())
}

/// One edit of the env YAML: checking with it equals `check_dir_with(--env)` (when every
/// file parses, as the YAML is then read by the checker).
fn edit_of_the_env(
    inc: &Incremental,
    dir: &Path,
    name: &str,
    path: &Path,
    text: &str,
) -> Result<(), String> {
    let last = inc.last();
    if last.asts.len() != last.files.len() {
        return Ok(());
    }
    let overlay = BTreeMap::from([(path.to_path_buf(), text.to_string())]);
    let got = inc
        .check_env(name, path, text)
        .map(|e| sorted(&e.diagnostics))
        .ok_or("no check before")?;
    let want = sorted(&check_dir_with(dir, Some(name), &overlay).diagnostics);
    if got != want {
        return Err(format!("{got:#?}\nagainst the full check: {want:#?}"));
    }
    Ok(())
}

#[test]
fn after_each_edit_the_incremental_check_is_the_full_check_and_parses_one_file() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let result = runner.run(&strategy(), |(seed, file, muts)| {
        let (project, edited, texts) = edit_stream(seed, file, &muts);
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        let yaml = write(dir, &project);
        let mut inc = Incremental::new();
        let none = BTreeMap::new();
        let first = sorted(&inc.check(dir, &none).diagnostics);
        if first != sorted(&check_dir_with(dir, None, &none).diagnostics) {
            return Err(TestCaseError::fail(format!(
                "{}: first check differs",
                project.name
            )));
        }
        for (i, text) in texts.iter().enumerate() {
            let outcome = match (edited, &yaml, &project.env) {
                (Some(k), _, _) => {
                    edit_of_a_file(&mut inc, dir, dir.join(&project.files[k].0), text)
                }
                (None, Some(path), Some((name, _))) => edit_of_the_env(&inc, dir, name, path, text),
                _ => Ok(()),
            };
            outcome.map_err(|e| TestCaseError::fail(format!("{} edit {i}: {e}", project.name)))?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
