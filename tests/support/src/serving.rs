//! Helpers for the tests that serve a project: a copy of `examples/fraud` with its data,
//! `mlpc` invocations, a server on a free port, HTTP calls and TorchScript models whose
//! answers are known in closed form.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `mlpc` binary of the build the running test belongs to: `MLPC_BIN` when set, else
/// `mlpc` beside the test's own folder (`target/PROFILE/deps/TEST` -> `target/PROFILE/mlpc`,
/// where cargo puts the binaries of the package under test).
pub fn mlpc_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MLPC_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("the test's own path: {e}"));
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} is not under target/PROFILE/deps", exe.display()));
    let bin = profile.join("mlpc");
    assert!(
        bin.is_file(),
        "{} is missing: build the mlpc package first (or set MLPC_BIN)",
        bin.display()
    );
    bin
}

/// The project venv (`MLP_VENV`, else `.venv` at the root).
pub fn venv() -> PathBuf {
    std::env::var_os("MLP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::fixtures::root().join(".venv"))
}

/// Runs `mlpc ARGS` in `dir`; panics with its output when it fails.
pub fn mlpc(args: &[&str], dir: &Path) {
    mlpc_env(args, dir, &[]);
}

/// [`mlpc`] with the environment `env` added (`MLP_STATE_DIR`).
pub fn mlpc_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) {
    let out = Command::new(mlpc_bin())
        .args(args)
        .current_dir(dir)
        .env("MLP_VENV", venv())
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "mlpc {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The end of the example data's timeline in tests (`generate.sql`'s `as_of`): fixed, so
/// that their data, and what they assert about it, do not change with the day they run.
pub const EXAMPLE_AS_OF: &str = "SET VARIABLE as_of = TIMESTAMP '2026-04-01 00:00:00';";

/// A copy of the example with its data generated inside it, its timeline pinned to end on
/// 2026-04-01 ([`EXAMPLE_AS_OF`]).
pub fn example() -> tempfile::TempDir {
    example_at(Some(EXAMPLE_AS_OF))
}

/// A copy of the example with its data generated inside it, after `pin` (a `SET VARIABLE
/// as_of = ...` statement), or ending now as the demo's does.
pub fn example_at(pin: Option<&str>) -> tempfile::TempDir {
    let src = crate::fixtures::root().join("examples/fraud");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "mlp" || x == "py") {
            std::fs::copy(&p, dir.path().join(entry.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    std::fs::create_dir_all(dir.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    let sql = std::fs::read_to_string(src.join("generate.sql")).unwrap_or_else(|e| panic!("{e}"));
    let sql = pin.unwrap_or_default().to_string()
        + &sql.replace("'data/", &format!("'{}/data/", dir.path().display()));
    duckdb::Connection::open_in_memory()
        .and_then(|c| c.execute_batch(&sql))
        .unwrap_or_else(|e| panic!("generate.sql: {e}"));
    dir
}

/// A running `mlpc serve`.
pub struct Server {
    /// The `mlpc serve` process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What it writes to stderr after the line that says where it listens.
    said: std::sync::mpsc::Receiver<String>,
    /// The lines received so far.
    heard: std::cell::RefCell<Vec<String>>,
}

impl Server {
    /// The first line the server wrote (since it listens) containing `needle`, waiting for
    /// it at most `limit`.
    pub fn wait_for(&self, needle: &str, limit: std::time::Duration) -> Option<String> {
        if let Some(l) = self.heard.borrow().iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.said.recv_timeout(left).ok()?;
            self.heard.borrow_mut().push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// SIGTERM, then waits: the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM failed");
        self.child.wait().ok().and_then(|s| s.code())
    }
}

/// A test that fails midway does not leave its server running.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `mlpc serve` on a free port; returns once it says where it listens.
pub fn serve(dir: &Path) -> Server {
    serve_with(dir, &[])
}

/// [`serve`] with more arguments (`--no-monitors`).
pub fn serve_with(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["serve", ".", "--bind", "127.0.0.1:0", "--no-scheduler"];
    args.extend_from_slice(extra);
    listening(dir, &args, &[])
}

/// Starts `mlpc ARGS` in `dir` with the environment `env` added, and returns once it says
/// where it listens (` on http://ADDR`, the address binding `127.0.0.1:0` picked).
pub fn listening(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    listening_without(dir, args, env, &[])
}

/// [`listening`] with the variables `remove` taken out of the environment too.
pub fn listening_without(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    remove: &[&str],
) -> Server {
    let mut cmd = Command::new(mlpc_bin());
    for var in remove {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let mut base = String::new();
    // What it says before it listens (warnings) counts as heard.
    let mut before = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_else(|e| panic!("the server's stderr: {e}"));
        if let Some(addr) = line.split(" on http://").nth(1) {
            let addr = addr.split_whitespace().next().unwrap_or_default();
            base = format!("http://{}", addr.trim_end_matches("/ui"));
            break;
        }
        before.push(line);
    }
    assert!(
        base.starts_with("http://"),
        "mlpc {args:?} did not start: {}",
        before.join("\n")
    );
    let (tx, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            // The test stopped listening: nothing left to tell.
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Server {
        child,
        base,
        said,
        heard: std::cell::RefCell::new(before),
    }
}

/// `GET url` (redirects not followed): the status and the body as text.
pub fn get_text(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {url}: the body: {e}"));
    (status, text)
}

/// `POST url` with a form body and headers: the status and the `Location` answered, if any.
pub fn post_form(
    url: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .send_form(form.iter().copied())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let location = resp
        .headers()
        .get("location")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    (resp.status().as_u16(), location)
}

/// One HTTP call (a POST without a body sends malformed JSON); the status and the JSON answer.
pub fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = match (method, body) {
        ("POST", Some(b)) => agent
            .post(url)
            .header("X-MLP-Consumer", "checkout_service")
            .send_json(b),
        ("POST", None) => agent.post(url).send("{not json"),
        _ => agent.get(url).call(),
    };
    let mut r = r.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("{method} {url}: the body: {e}"));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Writes a TorchScript `x @ w + b` (with a sigmoid when asked) and registers it.
pub fn register_linear(dir: &Path, model: &str, w: &[f64], b: f64, sigmoid: bool) {
    register_linear_env(dir, model, w, b, sigmoid, &[]);
}

/// [`register_linear`] with the environment `env` added to `mlpc registry register`.
pub fn register_linear_env(
    dir: &Path,
    model: &str,
    w: &[f64],
    b: f64,
    sigmoid: bool,
    env: &[(&str, &str)],
) {
    let file = dir.join(format!("{model}-{b}.pt"));
    let code = format!(
        r#"
import torch
class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.tensor({w:?}, dtype=torch.float32).reshape(-1, 1))
        self.b = {b:?}
        self.sig = {sig}
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.w + self.b
        if self.sig:
            return torch.sigmoid(y)
        return y
torch.jit.save(torch.jit.script(Linear()), {file:?})
"#,
        sig = if sigmoid { "True" } else { "False" },
        file = file.display().to_string(),
    );
    // TorchScript reads the class's source, so the script is a file.
    let script = dir.join("make_model.py");
    std::fs::write(&script, code).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(venv().join("bin/python"))
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    mlpc_env(
        &[
            "registry",
            "register",
            ".",
            model,
            "--artifact",
            &file.display().to_string(),
        ],
        dir,
        env,
    );
}

/// One checkout of the example: `(user_id, amount, country, merchant_id)`.
pub type Checkout = (i64, f64, String, i64);

/// `n` checkouts from the example's labels file (the distribution its models trained on),
/// a seeded sample in a stable order, amounts multiplied by `scale` (1.0 for none).
pub fn labelled_checkouts(dir: &Path, n: usize, seed: u32, scale: f64) -> Vec<Checkout> {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("data/labels.parquet").display().to_string();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT user_id, amount, country, merchant_id FROM read_parquet('{file}') USING SAMPLE {n} ROWS (reservoir, {seed}) ORDER BY ALL"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let got = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, f64>(1)? * scale, r.get(2)?, r.get(3)?))
        })
        .and_then(|m| m.collect::<Result<Vec<_>, _>>());
    got.unwrap_or_else(|e| panic!("{e}"))
}

/// Sends `rows` to the predict URL `url`: the first 40 as single-row requests (service
/// metrics count requests), the rest in batches of 80; every answer must be 200.
pub fn send_checkouts(url: &str, rows: &[Checkout]) {
    let (single, batch) = rows.split_at(rows.len().min(40));
    for (u, a, c, m) in single {
        let body = serde_json::json!({"entities": {"user_id": u}, "request": {"amount": a, "country": c, "merchant_id": m}});
        let (s, v) = call("POST", url, Some(body));
        assert_eq!(s, 200, "{v}");
    }
    for chunk in batch.chunks(80) {
        let body = serde_json::json!({
            "entities": {"user_id": chunk.iter().map(|r| r.0).collect::<Vec<_>>()},
            "request": {
                "amount": chunk.iter().map(|r| r.1).collect::<Vec<_>>(),
                "country": chunk.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
                "merchant_id": chunk.iter().map(|r| r.3).collect::<Vec<_>>(),
            },
        });
        let (s, v) = call("POST", url, Some(body));
        assert_eq!(s, 200, "{v}");
    }
}

/// A loopback URL nothing listens on (a port bound, then released).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(l);
    format!("http://{addr}/hook")
}
