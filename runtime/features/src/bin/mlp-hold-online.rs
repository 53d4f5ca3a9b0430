//! A test helper, a second process for `tests/online.rs`: opens a project's online store read-only, reads
//! through it, says `open`, and keeps the connection until its stdin closes. DuckDB's file
//! locks are per process, so only another process can show what a reader holds up.

use std::io::BufRead;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(view)) = (args.next(), args.next()) else {
        eprintln!("usage: mlp-hold-online PROJECT_DIR VIEW");
        std::process::exit(2);
    };
    let conn = match mlp_features::online::open_read_only(
        &mlp_features::materialize::online_db(std::path::Path::new(&dir)),
        std::time::Duration::from_secs(5),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mlp-hold-online: {e}");
            std::process::exit(1);
        }
    };
    let rows: Result<i64, _> =
        conn.query_row(&format!("SELECT count(*) FROM online__{view}"), [], |r| {
            r.get(0)
        });
    match rows {
        Ok(n) => println!("open {n}"),
        Err(e) => {
            eprintln!("mlp-hold-online: {e}");
            std::process::exit(1);
        }
    }
    // Hold the connection until the parent closes stdin.
    for _ in std::io::stdin().lock().lines() {}
    drop(conn);
}
