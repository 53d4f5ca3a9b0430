//! `mlp-load --bodies`: against a small HTTP/1.1 server on loopback that records what it
//! gets, the requests take the file's bodies in turn, and a bad file is refused with its
//! line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Answers `{}` to every request of one keep-alive connection, keeping each body.
fn answer(stream: TcpStream, got: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        got.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(String::from_utf8_lossy(&body).to_string());
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        )?;
    }
}

/// A server on a free loopback port: its URL and what it got.
fn server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/predict",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let got = Arc::clone(&kept);
            std::thread::spawn(move || answer(stream, &got));
        }
    });
    (url, got)
}

fn load(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlp-load"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn requests_take_the_bodies_in_turn() {
    let (url, got) = server();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("bodies.jsonl");
    let bodies = [r#"{"a": 1}"#, r#"{"a": 2}"#, r#"{"a": 3}"#];
    std::fs::write(
        &file,
        format!("{}\n\n{}\n{}\n", bodies[0], bodies[1], bodies[2]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = load(&[
        "--url",
        &url,
        "--bodies",
        &file.display().to_string(),
        "--clients",
        "1",
        "--rate",
        "300",
        "--seconds",
        "0.5",
        "--warmup",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["errors"], 0, "{report}");
    let got = got
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(got.len() >= 30, "{} requests", got.len());
    // One client: exactly the file's order, over and over.
    for (i, body) in got.iter().enumerate() {
        assert_eq!(body, bodies[i % 3], "request {i}");
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for b in &got {
        *counts.entry(b.as_str()).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
}

#[test]
fn a_file_that_is_not_json_lines_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("bodies.jsonl");
    std::fs::write(&file, "{\"a\": 1}\n{not json\n").unwrap_or_else(|e| panic!("{e}"));
    let out = load(&[
        "--url",
        "http://127.0.0.1:9/x",
        "--bodies",
        &file.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: not JSON"), "{err}");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap_or_else(|e| panic!("{e}"));
    let out = load(&[
        "--url",
        "http://127.0.0.1:9/x",
        "--bodies",
        &empty.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no body in it"));
}
