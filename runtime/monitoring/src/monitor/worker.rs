//! A long-lived evaluator: `mlpc monitor worker DIR` reads one [`Request`] a line on its
//! input and answers each with one [`Reply`] line on its output, keeping its [`Reader`]
//! between requests, so that an evaluation reads only the log files written since the last.
//! The server's monitor loop starts one and sends it each evaluation that falls due.

use super::reader::Reader;
use super::run::{run_monitor, MonitorRun};
use mlp_ir::Plan;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

/// Evaluate `monitor` over the window ending at `at_us` (µs since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Monitor of the applied plan.
    pub monitor: String,
    /// The window's end.
    pub at_us: i64,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The evaluation, stored in history and notified like `mlpc monitor run`.
    Run(Box<MonitorRun>),
    /// Why the monitor could not be evaluated (a bad request, no applied plan, no such
    /// monitor, the history not writable).
    Error(String),
}

/// Answers the requests of `input` on `output`, one line each, until the input ends. `plan`
/// gives the applied plan for each request (it may keep it while the state is unchanged).
pub fn serve(
    input: impl BufRead,
    mut output: impl Write,
    project_dir: &Path,
    reader: &mut Reader,
    plan: &mut dyn FnMut() -> Result<Arc<Plan>, String>,
) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::Error(format!("not a request ({e}): {line}")),
            Ok(req) => match plan() {
                Err(e) => Reply::Error(e),
                Ok(p) => evaluate(reader, &p, project_dir, &req),
            },
        };
        let text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
        output.write_all(text.as_bytes())?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

/// One evaluation; a panic is an error reply, never the end of the worker.
fn evaluate(reader: &mut Reader, plan: &Plan, project_dir: &Path, req: &Request) -> Reply {
    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_monitor(reader, plan, project_dir, &req.monitor, req.at_us)
    }));
    match got {
        Ok(Ok(run)) => Reply::Run(Box::new(run)),
        Ok(Err(e)) => Reply::Error(e.to_string()),
        Err(_) => Reply::Error("the evaluation panicked".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each line gets one reply line, in order: a bad line, a plan that cannot be read and an
    /// unknown monitor are errors, and the worker answers on after each.
    #[test]
    fn every_request_gets_one_reply_and_errors_do_not_end_the_worker() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut reader = Reader::new(1).unwrap_or_else(|e| panic!("{e}"));
        let input = "not json\n\n{\"monitor\": \"m\", \"at_us\": 5}\n{\"monitor\": \"nope\", \"at_us\": 5}\n";
        let mut calls = 0;
        let mut plan = || {
            calls += 1;
            if calls == 1 {
                Err("nothing is applied".to_string())
            } else {
                Ok(Arc::new(Plan::new("p", None)))
            }
        };
        let mut out = Vec::new();
        serve(
            input.as_bytes(),
            &mut out,
            dir.path(),
            &mut reader,
            &mut plan,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let replies: Vec<Reply> = String::from_utf8_lossy(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        let errors: Vec<String> = replies
            .iter()
            .map(|r| match r {
                Reply::Error(e) => e.clone(),
                Reply::Run(run) => panic!("a run: {run:?}"),
            })
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("not a request"), "{errors:?}");
        assert_eq!(errors[1], "nothing is applied");
        assert!(errors[2].contains("no monitor `nope`"), "{errors:?}");
    }
}
