//! The server `mlpc suggest` measures: the serving binary `mlp-serve` (the same code as
//! `mlpc serve`) as a child on a free loopback port, serving the applied plan with one
//! deployment's settings replaced (`--tune`), its prediction log kept apart, no scheduler and
//! no monitor loop; with its CPU time and peak memory read from `/proc`.

use mlpc_shared::Tuning;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a child may take to listen and load its deployments.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Linux reports process CPU times in clock ticks of `USER_HZ`, which is 100 on every
/// architecture's user-space ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// A running child server.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _log_dir: tempfile::TempDir,
}

/// The serving binary beside this `mlpc`, else on `PATH`.
pub fn serving_binary() -> Result<PathBuf, String> {
    crate::serving::serving_binary().ok_or_else(|| {
        format!(
            "`mlpc suggest` runs the serving binary `{}`, which is neither beside mlpc nor on PATH; build it with `cargo build --release -p mlpc`",
            crate::serving::SERVING_BINARY
        )
    })
}

impl ChildServer {
    /// Starts `mlp-serve serve DIR` with `workers` HTTP workers and `tuning`, and waits until
    /// the deployment is ready.
    pub fn start(dir: &Path, workers: usize, tuning: &Tuning) -> Result<ChildServer, String> {
        let bin = serving_binary()?;
        let log_dir = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
        let tune = serde_json::to_string(tuning).map_err(|e| e.to_string())?;
        let mut child = Command::new(&bin)
            .arg("serve")
            .arg(dir)
            .args(["--bind", "127.0.0.1:0", "--no-scheduler", "--no-monitors"])
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--tune")
            .arg(&tune)
            .arg("--log-dir")
            .arg(log_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", bin.display()))?;
        let Some(stderr) = child.stderr.take() else {
            return Err("the child server's stderr is not piped".into());
        };
        // The server says where it listens on stderr; the rest is passed on when it fails.
        let (tx, rx) = std::sync::mpsc::channel::<Result<String, String>>();
        std::thread::spawn(move || {
            let mut said = Vec::new();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.rsplit_once(" on http://").map(|(_, a)| a.to_string())
                    {
                        sent = true;
                        if tx.send(Ok(addr)).is_err() {
                            return;
                        }
                        continue;
                    }
                    said.push(line);
                }
            }
            if !sent {
                // The receiver may be gone already (timed out); nothing else to tell.
                tx.send(Err(said.join("\n"))).ok();
            }
        });
        let mut server = ChildServer {
            child,
            base: String::new(),
            _log_dir: log_dir,
        };
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(a)) => a,
            Ok(Err(said)) => return Err(format!("the server did not start:\n{said}")),
            Err(_) => return Err("the server did not say where it listens in 120 s".into()),
        };
        server.base = format!("http://{addr}");
        server.wait_ready(&tuning.deployment)?;
        Ok(server)
    }

    fn wait_ready(&mut self, deployment: &str) -> Result<(), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let start = Instant::now();
        let url = format!("{}/readyz", self.base);
        let mut last = String::new();
        while start.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the server exited ({status}) before it was ready"));
            }
            match agent.get(&url).call() {
                Ok(mut r) => {
                    if r.status().as_u16() == 200 {
                        return Ok(());
                    }
                    match r.body_mut().read_to_string() {
                        Ok(body) => {
                            // Ready except for another deployment: this one serving is enough.
                            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
                                let d = &v["deployments"][deployment];
                                if d["ready"] == serde_json::Value::Bool(true) {
                                    return Ok(());
                                }
                                if let Some(e) = d["error"].as_str() {
                                    return Err(format!("`{deployment}` cannot serve: {e}"));
                                }
                            }
                            last = body;
                        }
                        Err(e) => last = format!("/readyz answered an unreadable body: {e}"),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            // The server loads its models in the background; /readyz is the only signal.
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("`{deployment}` was not ready in 120 s: {last}"))
    }

    /// CPU seconds the server has used so far (user and system, all threads).
    pub fn cpu_seconds(&self) -> Result<f64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map_err(|e| format!("cannot read the server's CPU time: {e}"))?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .ok_or("unexpected /proc/PID/stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| -> Result<f64, String> {
            f.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| "unexpected /proc/PID/stat".to_string())
        };
        // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the name.
        Ok((tick(11)? + tick(12)?) / TICKS_PER_SECOND)
    }

    /// The server's peak resident memory so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| format!("cannot read the server's memory: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| "no VmHWM in /proc/PID/status".into())
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let sent = rustix::process::Pid::from_raw(self.child.id() as i32).is_some_and(|pid| {
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
        });
        if sent {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Err(e) = self.child.kill() {
            eprintln!("suggest: cannot stop the server: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("suggest: cannot wait for the server: {e}");
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}
