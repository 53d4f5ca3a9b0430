//! The language server under bad input, in process: the compiler fuzzer's mutations
//! replayed as streams of `didChange` edits, with requests at positions in and past the
//! text after each edit; a file of the project that is not UTF-8; a file outside any
//! project and a document that is not a file; a deleted file that is still open, and a
//! deleted project folder. After each, no panic (the server's thread ends cleanly at
//! `shutdown`), no hang (every request is answered within the client's minute), and the
//! server still answers.

use mlp_test_support::lsp::{uri, Client};
use mlp_tests::fuzz::{edit_stream, strategy};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::PathBuf;

fn start() -> Client {
    Client::start(|conn| mlp_lsp::run(&conn))
}

/// A copy of examples/fraud's `.mlp` files.
fn example() -> tempfile::TempDir {
    mlp_test_support::fixtures::example_specs("fraud")
}

/// Sends every kind of request the server answers at `line`/`character` of `doc`, and
/// checks each gets an answer (a result or an error).
fn ask_everything(c: &mut Client, doc: &str, line: u32, character: u32) {
    let at =
        json!({"textDocument": {"uri": doc}, "position": {"line": line, "character": character}});
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": line, "character": character}});
    let requests = [
        ("textDocument/hover", at.clone()),
        ("textDocument/definition", at.clone()),
        ("textDocument/completion", at.clone()),
        (
            "textDocument/references",
            json!({"textDocument": {"uri": doc}, "position": {"line": line, "character": character}, "context": {"includeDeclaration": true}}),
        ),
        ("textDocument/prepareRename", at.clone()),
        (
            "textDocument/rename",
            json!({"textDocument": {"uri": doc}, "position": {"line": line, "character": character}, "newName": "renamed_x"}),
        ),
        (
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": doc}}),
        ),
        (
            "textDocument/formatting",
            json!({"textDocument": {"uri": doc}, "options": {"tabSize": 2, "insertSpaces": true}}),
        ),
        (
            "textDocument/codeAction",
            json!({"textDocument": {"uri": doc}, "range": whole, "context": {"diagnostics": []}}),
        ),
        ("workspace/symbol", json!({"query": "user"})),
    ];
    for (method, params) in requests {
        let r = c.respond(method, params);
        assert!(
            r.result.is_some() || r.error.is_some(),
            "{method}: no answer: {r:?}"
        );
    }
}

/// Positions to ask at after the `i`th edit of `text`: on a line of it, past the end of a
/// line, and past the end of the text.
fn positions(text: &str, i: usize) -> [(u32, u32); 3] {
    let lines: Vec<&str> = text.split('\n').collect();
    let line = (i * 7) % lines.len().max(1);
    let len = lines.get(line).map_or(0, |l| l.encode_utf16().count());
    let column = if len == 0 { 0 } else { (i * 13) % (len + 1) };
    [
        (line as u32, column as u32),
        (line as u32, len as u32 + 40),
        (lines.len() as u32 + 5, 3),
    ]
}

#[test]
fn the_fuzzers_mutations_as_edit_streams_never_break_the_server() {
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    let result = runner.run(&strategy(), |(seed, file, muts)| {
        let (project, edited, texts) = edit_stream(seed, file, &muts);
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        for (name, text) in &project.files {
            std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
        }
        let path: PathBuf = match (edited, &project.env) {
            (Some(k), _) => dir.join(&project.files[k].0),
            (None, Some((name, text))) => {
                std::fs::create_dir_all(dir.join("env")).unwrap_or_else(|e| panic!("{e}"));
                let p = dir.join("env").join(format!("{name}.yaml"));
                std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
                p
            }
            (None, None) => return Ok(()),
        };
        let before = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let doc = uri(path);
        let mut c = start();
        c.open(&doc, &before);
        for (i, text) in texts.iter().enumerate() {
            c.change(&doc, i as i32 + 2, text);
            for (line, character) in positions(text, i) {
                ask_everything(&mut c, &doc, line, character);
            }
        }
        // Still answering, with the diagnostics of the last text.
        c.sync();
        c.close(&doc);
        c.shutdown();
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The diagnostics published for `doc` next, as (code, line, message).
fn published(c: &Client, doc: &str) -> Vec<(String, u64, String)> {
    c.diagnostics_for(doc)
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX),
                d["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_project_file_that_is_not_utf8_is_reported_at_the_start_of_the_open_documents() {
    let dir = example();
    std::fs::write(dir.path().join("broken.mlp"), b"entity \xff\xfe {\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let models = dir.path().join("models.mlp");
    let text = std::fs::read_to_string(&models).unwrap_or_else(|e| panic!("{e}"));
    let doc = uri(models);
    let mut c = start();
    c.open(&doc, &text);
    let ds = published(&c, &doc);
    assert!(
        ds.iter()
            .any(|(code, line, m)| code == "E0008" && *line == 0 && m.contains("broken.mlp")),
        "{ds:#?}"
    );
    ask_everything(&mut c, &doc, 3, 4);
    // Removed: the project checks clean again.
    std::fs::remove_file(dir.path().join("broken.mlp")).unwrap_or_else(|e| panic!("{e}"));
    c.change(&doc, 2, &text);
    assert_eq!(published(&c, &doc), Vec::new());
    c.shutdown();
}

#[test]
fn a_file_outside_any_project_and_a_document_that_is_not_a_file_are_answered() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let loose = dir.path().join("loose.mlp");
    let text = "features v {\n  x: float = 1.0\n}\n";
    let doc = uri(loose);
    let mut c = start();
    // Not on disk, no project block, no entity: diagnostics, and answers.
    c.open(&doc, text);
    let ds = published(&c, &doc);
    assert!(!ds.is_empty(), "a lone view is not a project");
    ask_everything(&mut c, &doc, 1, 3);
    // An editor's unsaved buffer: nothing published, requests answered.
    let untitled = "untitled:Untitled-1";
    c.open(untitled, "project p {}\n");
    c.change(untitled, 2, "project p {\n");
    ask_everything(&mut c, untitled, 0, 3);
    c.close(untitled);
    c.close(&doc);
    c.shutdown();
}

#[test]
fn a_deleted_file_still_open_and_a_deleted_project_folder_are_answered() {
    let dir = example();
    let features = dir.path().join("features.mlp");
    let models = dir.path().join("models.mlp");
    let text = std::fs::read_to_string(&features).unwrap_or_else(|e| panic!("{e}"));
    let (f, m) = (uri(features.clone()), uri(models.clone()));
    let mut c = start();
    c.open(&f, &text);
    assert_eq!(published(&c, &f), Vec::new());
    // Deleted on disk, still open: the buffer counts, its errors are shown.
    std::fs::remove_file(&features).unwrap_or_else(|e| panic!("{e}"));
    let broken = text.replacen("entity = user", "entity = usr", 1);
    c.change(&f, 2, &broken);
    let ds = published(&c, &f);
    assert!(ds.iter().any(|(code, _, _)| code == "E0101"), "{ds:#?}");
    ask_everything(&mut c, &f, 5, 2);
    // Closed: the file is gone from the project, its list emptied, and models.mlp's
    // references to its views break.
    c.close(&f);
    let mut cleared = false;
    let mut models_broke = false;
    while !(cleared && models_broke) {
        if let lsp_server::Message::Notification(n) = c.recv() {
            if n.method != "textDocument/publishDiagnostics" {
                continue;
            }
            let list = n.params["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if n.params["uri"] == f.as_str() {
                assert!(list.is_empty(), "{list:#?}");
                cleared = true;
            } else if n.params["uri"] == m.as_str() {
                assert!(list.iter().any(|d| d["code"] == "E0101"), "{list:#?}");
                models_broke = true;
            }
        }
    }
    // The whole folder deleted while a document is open: its buffer is still checked.
    let text = std::fs::read_to_string(&models).unwrap_or_else(|e| panic!("{e}"));
    c.open(&m, &text);
    c.sync();
    std::fs::remove_dir_all(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    c.change(&m, 2, &text);
    let ds: Vec<Value> = c.diagnostics_for(&m);
    assert!(!ds.is_empty(), "the project lost its other files");
    ask_everything(&mut c, &m, 2, 2);
    c.shutdown();
}
