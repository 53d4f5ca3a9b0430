//! Small helpers the runtime crates share, so that each exists once: waiting for the signals
//! that stop a long-running command, whether a bind address is loopback, and opening a
//! project's SQLite metadata database (the registry, the run history, the consumers seen)
//! the same way everywhere.

use std::path::Path;
use std::time::Duration;

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM. If SIGTERM cannot be watched (no signal
/// handling in this process), only Ctrl-C counts.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

/// SIGINT and SIGTERM watched from the moment this is made, to be waited for later: a
/// signal that comes in between is kept, instead of the default action killing the process
/// (a server that has said where it listens must stop cleanly on a SIGTERM sent at once).
pub struct ShutdownWatch {
    rt: tokio::runtime::Runtime,
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl ShutdownWatch {
    /// Installs the handlers (on a runtime of its own); the error if no runtime can be built.
    /// A signal that cannot be watched is left to its default action.
    pub fn install() -> std::io::Result<ShutdownWatch> {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (term, int) = rt.block_on(async {
            (
                signal(SignalKind::terminate()).ok(),
                signal(SignalKind::interrupt()).ok(),
            )
        });
        Ok(ShutdownWatch { rt, term, int })
    }

    /// Blocks the calling thread until SIGINT or SIGTERM, counting those since
    /// [`ShutdownWatch::install`].
    pub fn wait(mut self) {
        let (term, int) = (self.term.take(), self.int.take());
        self.rt.block_on(async move {
            let first = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = first(term) => {},
                () = first(int) => {},
            }
        });
    }
}

/// Blocks the calling thread until SIGINT or SIGTERM (on a runtime of its own); returns at
/// once with the error if no runtime can be built.
pub fn block_until_shutdown_signal() -> std::io::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(shutdown_signal()))
}

/// Opens (creating when missing) the SQLite database at `path` for metadata that several
/// processes write at once: writers wait up to `busy` for each other instead of failing,
/// and `schema` (which should set `PRAGMA journal_mode = WAL` and create its tables with
/// `IF NOT EXISTS`) runs first.
pub fn open_sqlite(
    path: &Path,
    busy: Duration,
    schema: &str,
) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(busy)?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// Whether `bind` is a loopback address.
pub fn is_loopback(bind: &str) -> bool {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SIGTERM that comes after the watch is installed and before anyone waits is kept
    /// (without the watch, its default action would kill this test process).
    #[test]
    fn a_signal_sent_before_the_wait_is_kept() {
        let watch = ShutdownWatch::install().unwrap_or_else(|e| panic!("{e}"));
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM failed");
        watch.wait();
    }

    #[test]
    fn a_database_opens_in_wal_mode_with_its_schema() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("m.sqlite");
        let schema = "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (x INTEGER);";
        let conn =
            open_sqlite(&path, Duration::from_secs(1), schema).unwrap_or_else(|e| panic!("{e}"));
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode, "wal");
        // Opening again keeps what is there.
        conn.execute("INSERT INTO t VALUES (1)", [])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let again =
            open_sqlite(&path, Duration::from_secs(1), schema).unwrap_or_else(|e| panic!("{e}"));
        let n: i64 = again
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 1);
        assert!(open_sqlite(&path, Duration::from_secs(1), "NOT SQL").is_err());
    }
}
