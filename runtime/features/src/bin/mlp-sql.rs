//! `mlp-sql FILE`: runs a DuckDB SQL script from the folder that holds it, so that relative
//! paths in it land next to it. The examples' seeded data generators are such scripts
//! (`mlp-sql examples/fraud/generate.sql`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: mlp-sql FILE.sql");
        return ExitCode::from(1);
    };
    let path = Path::new(&file);
    let sql = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read `{file}`: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("error: cannot enter `{}`: {e}", dir.display());
            return ExitCode::from(1);
        }
    }
    let result = duckdb::Connection::open_in_memory().and_then(|c| c.execute_batch(&sql));
    match result {
        Ok(()) => {
            eprintln!("ran {file}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {file}: {e}");
            ExitCode::from(1)
        }
    }
}
