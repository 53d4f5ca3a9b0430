//! Runs one attempt of a `run` step: `sh -c COMMAND` in its own process group, stdout and
//! stderr appended to the step's log file and echoed with a `[step]` prefix, stopped (the
//! whole group: TERM, then KILL after a grace period) on timeout or cancellation.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::{watch, Mutex};

/// How long a stopped step gets between TERM and KILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// One process to run.
#[derive(Debug, Clone)]
pub struct Proc {
    /// The step (the echo prefix).
    pub step: String,
    /// The shell command.
    pub command: String,
    /// Working directory.
    pub workdir: PathBuf,
    /// Environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// Log file (appended to).
    pub log: PathBuf,
    /// Time limit.
    pub timeout: Option<Duration>,
    /// Echo the output to the terminal.
    pub echo: bool,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this code (0 is success).
    Exited(i32),
    /// A signal ended it (the number).
    Signaled(i32),
    /// It ran past its time limit and was stopped.
    TimedOut,
    /// The run was cancelled and the process stopped.
    Cancelled,
}

async fn pump<R: AsyncRead + Unpin>(
    reader: R,
    log: Arc<Mutex<tokio::fs::File>>,
    prefix: String,
    echo: bool,
) {
    let mut lines = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut log_failed = false;
    loop {
        buf.clear();
        match lines.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                {
                    let mut f = log.lock().await;
                    if let Err(e) = f.write_all(&buf).await {
                        // Said once; the step itself goes on.
                        if !std::mem::replace(&mut log_failed, true) {
                            eprintln!("warning: {prefix}the step's log cannot be written: {e}");
                        }
                    }
                }
                if echo {
                    let text = String::from_utf8_lossy(&buf);
                    println!("{prefix}{}", text.trim_end_matches(['\n', '\r']));
                }
            }
        }
    }
}

fn signal_group(pid: Option<u32>, sig: Signal) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // ESRCH (the group has already exited) is the expected failure.
        killpg(Pid::from_raw(pid), sig).ok();
    }
}

/// Runs `p` until it exits, times out or `cancel` turns true.
pub async fn run(p: &Proc, mut cancel: watch::Receiver<bool>) -> std::io::Result<Outcome> {
    if let Some(dir) = p.log.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let log = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p.log)
        .await?;
    let log = Arc::new(Mutex::new(log));
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&p.command)
        .current_dir(&p.workdir)
        .envs(&p.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id();
    let prefix = format!("[{}] ", p.step);
    let out = child
        .stdout
        .take()
        .map(|o| tokio::spawn(pump(o, log.clone(), prefix.clone(), p.echo)));
    let err = child
        .stderr
        .take()
        .map(|e| tokio::spawn(pump(e, log.clone(), prefix.clone(), p.echo)));
    let limit = async {
        match p.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending::<()>().await,
        }
    };
    let cancelled = async {
        loop {
            if *cancel.borrow() {
                return;
            }
            if cancel.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let stopped = tokio::select! {
        status = child.wait() => {
            let status = status?;
            finish(out, err).await;
            use std::os::unix::process::ExitStatusExt;
            return Ok(match (status.code(), status.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(s)) => Outcome::Signaled(s),
                (None, None) => Outcome::Exited(-1),
            });
        }
        () = limit => Outcome::TimedOut,
        () = cancelled => Outcome::Cancelled,
    };
    // Stop the whole group: the shell and whatever it started.
    signal_group(pid, Signal::SIGTERM);
    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
        signal_group(pid, Signal::SIGKILL);
        // Reaps the killed shell; its status no longer matters (the outcome is decided).
        child.wait().await.ok();
    }
    // Anything of the group still alive (a child that ignored TERM) goes too.
    signal_group(pid, Signal::SIGKILL);
    finish(out, err).await;
    let mut f = log.lock().await;
    let note = match stopped {
        Outcome::TimedOut => format!(
            "mlp: stopped after the time limit of {}\n",
            crate::runner::human_duration(p.timeout.unwrap_or_default())
        ),
        _ => "mlp: stopped because the run was cancelled\n".to_string(),
    };
    if let Err(e) = f.write_all(note.as_bytes()).await {
        eprintln!("warning: the step's log cannot be written: {e}");
    }
    Ok(stopped)
}

async fn finish(
    out: Option<tokio::task::JoinHandle<()>>,
    err: Option<tokio::task::JoinHandle<()>>,
) {
    // The pipes close when every process holding them has exited; a grandchild that keeps
    // them open (a daemon) does not hold the step up for ever.
    for h in [out, err].into_iter().flatten() {
        // A timeout (the daemon case) or a copier that ended early: both are fine here.
        tokio::time::timeout(Duration::from_secs(2), h).await.ok();
    }
}
