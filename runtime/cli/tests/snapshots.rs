//! Snapshots (insta) of what people and tools read from mlpc: the help of every command,
//! human and JSON diagnostics, explain, graph output in both formats, fmt --check and
//! argument errors. Review changes with `cargo insta review` (or INSTA_UPDATE=always).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs mlpc in `cwd` without colour; returns "exit: N", stdout and stderr as one text.
fn run_in(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap_or_else(|e| panic!("mlpc: {e}"));
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(args: &[&str]) -> String {
    run_in(&root(), args)
}

/// A project with three mistakes in two files, in a temporary folder as `proj/`.
fn bad_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        proj.join("a.mlp"),
        "project p {}\n\nentity user {\n  key = user_id: int\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        proj.join("b.mlp"),
        "source tx {\n  path      = \"t.parquet\"\n  timestamp = ts\n\n  schema {\n    user_id: int\n    amount: float\n    ts: timestamp\n  }\n}\n\nfeatures stats {\n  entity = usr\n  source = tx\n  ttl    = 500/s\n\n  total: float = sum(amout) over 7d\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn help_of_every_command() {
    insta::assert_snapshot!("help", run(&["--help"]));
    for cmd in [
        "check",
        "fmt",
        "graph",
        "ir",
        "plan",
        "apply",
        "explain",
        "stdlib",
        "run",
        "runs",
        "logs",
        "schedules",
        "scheduler",
        "serve",
        "score",
        "ui",
    ] {
        insta::assert_snapshot!(format!("help_{cmd}"), run(&[cmd, "--help"]));
    }
    for sub in ["list", "show", "alias", "register", "search"] {
        insta::assert_snapshot!(
            format!("help_registry_{sub}"),
            run(&["registry", sub, "--help"])
        );
    }
}

#[test]
fn argument_errors_exit_1() {
    insta::assert_snapshot!("bad_flag", run(&["check", "--bogus"]));
    insta::assert_snapshot!("bad_format", run(&["check", "--format", "xml"]));
    insta::assert_snapshot!("no_command", run(&[]));
    insta::assert_snapshot!("unknown_code", run(&["explain", "E9999"]));
    insta::assert_snapshot!("missing_folder", run(&["check", "no/such/folder"]));
}

#[test]
fn diagnostics_for_people_and_for_editors() {
    let dir = bad_project();
    insta::assert_snapshot!("check_human", run_in(dir.path(), &["check", "proj"]));
    insta::assert_snapshot!(
        "check_json",
        run_in(dir.path(), &["check", "proj", "--format", "json"])
    );
}

#[test]
fn clean_example_and_its_graphs() {
    insta::assert_snapshot!("check_fraud", run(&["check", "examples/fraud"]));
    insta::assert_snapshot!(
        "graph_fraud_mermaid",
        run(&["graph", "examples/fraud", "--format", "mermaid"])
    );
    insta::assert_snapshot!("graph_fraud_dot", run(&["graph", "examples/fraud"]));
}

#[test]
fn explain_and_fmt_check() {
    insta::assert_snapshot!("explain_e0101", run(&["explain", "e0101"]));
    let dir = bad_project();
    std::fs::write(
        dir.path().join("proj/c.mlp"),
        "entity   merchant{key=merchant_id:int}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("fmt_check", run_in(dir.path(), &["fmt", "--check", "proj"]));
    insta::assert_snapshot!(
        "fmt_check_clean",
        run(&["fmt", "--check", "examples/fraud"])
    );
}

#[test]
fn help_of_the_feature_store_commands() {
    for sub in ["historical", "online", "verify"] {
        insta::assert_snapshot!(
            format!("help_features_{sub}"),
            run(&["features", sub, "--help"])
        );
    }
}
