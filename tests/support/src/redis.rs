//! A real `redis-server` (Debian's; `scripts/test.sh` installs it) on a free loopback port,
//! with its dump file in a folder of its own, so that a test can kill it and start it again
//! with or without its data. Tests that need it skip when `MLP_SKIP_REDIS=1`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the Redis tests are skipped (`MLP_SKIP_REDIS=1`); says so when they are.
pub fn skipped() -> bool {
    let skip = std::env::var("MLP_SKIP_REDIS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("skipped: MLP_SKIP_REDIS=1");
    }
    skip
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one on a free port, its dump file under `dir`.
    pub fn start(dir: &Path) -> RedisServer {
        RedisServer::start_on(free_port(), dir)
    }

    /// Starts one on `port`, loading `dir/dump.rdb` when a [`RedisServer::save`] left one;
    /// returns once it accepts connections.
    pub fn start_on(port: u16, dir: &Path) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server: {e} (scripts/test.sh installs it)"));
        let server = RedisServer {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        // Connected and answering PING: loading a dump file answers LOADING until done.
        while server.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on {port}"
            );
            std::thread::yield_now();
        }
        server
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Sends one command and returns the first line of the answer, or `None` when the server
    /// cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while s.read(&mut byte).ok()? == 1 {
            if byte[0] == b'\n' {
                break;
            }
            got.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&got).trim_end().to_string())
    }

    /// Writes the data set to the dump file (`SAVE`), for a restart that keeps it.
    pub fn save(&self) {
        assert_eq!(self.command(&["SAVE"]).as_deref(), Some("+OK"), "SAVE");
    }

    /// Empties the data set (`FLUSHALL`).
    pub fn flush(&self) {
        assert_eq!(
            self.command(&["FLUSHALL"]).as_deref(),
            Some("+OK"),
            "FLUSHALL"
        );
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill()
                .unwrap_or_else(|e| panic!("kill redis-server: {e}"));
            c.wait().unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Starts it again on the same port, from its dump file if one was saved.
    pub fn restart(&mut self) {
        self.kill();
        *self = RedisServer::start_on(self.port, &self.dir.clone());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if c.kill().is_ok() {
                c.wait().ok();
            }
        }
    }
}
