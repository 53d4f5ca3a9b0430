//! The real `mlpc lsp` binary over stdio: the initialize handshake, diagnostics for a file
//! opened with an error, then `shutdown` and `exit`, after which it exits 0; and bytes on
//! the wire that are not UTF-8 or not JSON, after which it still answers.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

fn send(stdin: &mut impl Write, msg: &Value) {
    let body = msg.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
}

fn recv(out: &mut impl BufRead) -> Value {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 0, "the server closed its output");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse().unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let mut body = vec![0; length];
    out.read_exact(&mut body).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"))
}

/// `mlpc lsp` started with its stderr to `stderr`, after the `initialize` handshake: the
/// child, its stdin, its stdout, and the answer to `initialize`.
fn started(stderr: Stdio) -> (Child, ChildStdin, BufReader<ChildStdout>, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlpc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let mut out = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout")));
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": null, "rootUri": null}}),
    );
    let init = recv(&mut out);
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    );
    (child, stdin, out, init)
}

#[test]
fn mlpc_lsp_over_stdio_publishes_diagnostics_and_exits_0() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("p.mlp");
    let text =
        "project p {}\n\nentity user {\n  key = user_id: int\n}\n\nrequest r {\n  x: flaot\n}\n";
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let uri = format!("file://{}", file.display());
    let (mut child, mut stdin, mut out, init) = started(Stdio::inherit());
    assert_eq!(init["id"], 1, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "mlpc lsp", "{init}");
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "mlp", "version": 1, "text": text}}}),
    );
    let d = recv(&mut out);
    assert_eq!(d["method"], "textDocument/publishDiagnostics", "{d}");
    assert_eq!(d["params"]["uri"], uri.as_str());
    let ds = d["params"]["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(ds.len(), 1, "{ds:#?}");
    // `flaot` on line 8 (0-based 7), column 5: an unknown type, with `float` suggested.
    assert_eq!(ds[0]["code"], "E0201", "{ds:#?}");
    assert_eq!(ds[0]["range"]["start"], json!({"line": 7, "character": 5}));
    assert!(
        ds[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("float")),
        "{ds:#?}"
    );

    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}),
    );
    let bye = recv(&mut out);
    assert_eq!(bye["id"], 2, "{bye}");
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "exit", "params": null}),
    );
    drop(stdin);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0));
}

/// One message with a raw body (which need not be UTF-8 or JSON).
fn send_raw(stdin: &mut impl Write, body: &[u8]) {
    write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap_or_else(|e| panic!("{e}"));
    stdin.write_all(body).unwrap_or_else(|e| panic!("{e}"));
    stdin.flush().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bytes_that_are_not_utf8_or_not_json_on_the_wire_do_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("p.mlp");
    let text = "project p {}\n\nentity user {\n  key = user_id: int\n}\n";
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let uri = format!("file://{}", file.display());
    let (child, mut stdin, mut out, init) = started(Stdio::piped());
    assert_eq!(init["id"], 1, "{init}");
    // An open document whose text holds bytes that are not UTF-8 (a comment): read lossily,
    // checked, and published.
    let mut body = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{{"textDocument":{{"uri":"{uri}","languageId":"mlp","version":1,"text":"// "#
    )
    .into_bytes();
    body.extend_from_slice(
        b"\xff\xfe comment\\nproject p {}\\nentity user {\\n  key = user_id: int\\n}\\n\"}}}",
    );
    send_raw(&mut stdin, &body);
    let d = recv(&mut out);
    assert_eq!(d["method"], "textDocument/publishDiagnostics", "{d}");
    // A body that is not JSON at all: skipped.
    send_raw(&mut stdin, b"\xff\xff{ not json");
    // Still answering.
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/documentSymbol", "params": {"textDocument": {"uri": uri}}}),
    );
    let symbols = recv(&mut out);
    assert_eq!(symbols["id"], 2, "{symbols}");
    assert!(
        symbols["result"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["name"] == "user")),
        "{symbols}"
    );
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": null}),
    );
    assert_eq!(recv(&mut out)["id"], 3);
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "exit", "params": null}),
    );
    drop(stdin);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not JSON-RPC"), "{stderr}");
}
