//! `mlpc init` outside the repository, as a new user starts: each template is written into a
//! temporary folder, and the commands of its README's shell block are run there in order,
//! with no `MLP_VENV` (the pipeline's `python = requirements(...)` environment is used), up
//! to a served prediction whose inputs (`return_inputs`) are not all null.

use mlp_test_support::serving::{call, listening_without, mlpc_bin};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The commands of the README's ```sh block: comments dropped, continued lines joined.
fn readme_commands(readme: &str) -> Vec<String> {
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap_or_else(|| panic!("no ```sh block in the README"));
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// `mlpc ARGS` in `dir` without `MLP_VENV`; its output.
fn mlpc(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(mlpc_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MLP_VENV")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mlpc {args:?}: {text}");
    text
}

/// Writes `template` into a new folder and runs its README; the prediction's answer.
fn start_project(template: &str, expected: &[&str]) -> Value {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    mlpc(root.path(), &["init", "proj", "--template", template]);
    let dir = root.path().join("proj");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    let commands = readme_commands(&readme);
    let heads: Vec<String> = commands
        .iter()
        .map(|c| c.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(heads, expected, "{template}: the README's commands");
    let mut server = None;
    let mut answer = Value::Null;
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["mlpc", "serve", ..] => {
                // The README's port may be taken here: any free one.
                server = Some(listening_without(
                    &dir,
                    &["serve", "--bind", "127.0.0.1:0", "--no-scheduler"],
                    &[],
                    &["MLP_VENV"],
                ));
            }
            ["curl", ..] => {
                let body = command
                    .split("-d '")
                    .nth(1)
                    .and_then(|b| b.split('\'').next())
                    .unwrap_or_else(|| panic!("no body in {command}"));
                let path = command
                    .split("http://127.0.0.1:8080")
                    .nth(1)
                    .unwrap_or_else(|| panic!("no URL in {command}"))
                    .trim();
                let base = server
                    .as_ref()
                    .map(|s| s.base.clone())
                    .unwrap_or_else(|| panic!("curl before mlpc serve"));
                let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}"));
                let (status, a) = call("POST", &format!("{base}{path}"), Some(body));
                assert_eq!(status, 200, "{template}: {a}");
                answer = a;
            }
            ["mlpc", args @ ..] => {
                mlpc(&dir, args);
            }
            _ => panic!("{template}: unexpected README command {command}"),
        }
    }
    answer
}

/// The inputs of `answer` that are not null.
fn known_inputs(answer: &Value) -> Vec<String> {
    answer["inputs"]
        .as_object()
        .unwrap_or_else(|| panic!("no inputs: {answer}"))
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn a_minimal_project_from_init_serves_a_prediction_from_real_features() {
    let answer = start_project(
        "minimal",
        &[
            "mlpc sql",
            "mlpc check",
            "mlpc apply",
            "mlpc materialize",
            "mlpc run",
            "mlpc serve",
            "curl -s",
        ],
    );
    assert!(answer["outputs"]["score"].is_number(), "{answer}");
    let known = known_inputs(&answer);
    assert_eq!(known.len(), 2, "{answer}");
}

#[test]
fn the_fraud_project_from_init_serves_a_prediction_from_real_features() {
    let answer = start_project(
        "fraud",
        &[
            "mlpc sql",
            "mlpc check",
            "mlpc apply",
            "mlpc materialize",
            "mlpc run",
            "mlpc registry",
            "mlpc serve",
            "curl -s",
        ],
    );
    assert!(answer["outputs"]["score"].is_number(), "{answer}");
    let known = known_inputs(&answer);
    for input in ["user_stats.txn_count_7d", "user_stats.avg_amount_7d"] {
        assert!(
            known.iter().any(|k| k == input),
            "{input} is null: {answer}"
        );
    }
}
