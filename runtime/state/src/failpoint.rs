//! Failure injection for crash tests: `MLP_FAILPOINT=NAME=kill` makes the process send
//! itself SIGKILL when it reaches the point NAME (no destructor, no rollback: what a power
//! cut or `kill -9` does); `MLP_FAILPOINT=NAME=pause` prints `mlp-failpoint: paused at NAME`
//! on stderr and waits for a line on stdin, so that a test can act while the process holds
//! what it holds there (the apply lock, an open transaction). Unset, a failpoint costs one
//! environment lookup.
//!
//! Points: `apply.locked` (lock taken), `apply.components` (component actions done, nothing
//! recorded), `record.mid` (inside the state transaction, half the rows written),
//! `record.committed` (state committed, lock still held).

use std::io::{BufRead, Write};

/// Acts on the failpoint `name` when `MLP_FAILPOINT` names it.
pub fn failpoint(name: &str) {
    let Ok(spec) = std::env::var("MLP_FAILPOINT") else {
        return;
    };
    let Some((point, action)) = spec.split_once('=') else {
        return;
    };
    if point != name {
        return;
    }
    match action {
        "kill" => {
            let pid = std::process::id().to_string();
            if std::process::Command::new("kill")
                .args(["-9", &pid])
                .status()
                .is_err()
            {
                // No `kill` program: abort, which also skips every destructor.
                std::process::abort();
            }
            // The signal is delivered before `kill` returns; never go on past this point.
            loop {
                std::thread::park();
            }
        }
        "pause" => {
            eprintln!("mlp-failpoint: paused at {name}");
            // Best effort, as fits a test hook: a closed stdin or stderr just ends the pause.
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).ok();
        }
        _ => {}
    }
}
