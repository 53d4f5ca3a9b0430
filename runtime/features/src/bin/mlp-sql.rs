//! `mlp-sql FILE [--as-of DATE]`: runs a DuckDB SQL script from the folder that holds it
//! (`mlp_features::script`), as `mlpc sql` does, for scripts and machines without `mlpc`. The
//! examples' seeded data generators are such scripts (`mlp-sql examples/fraud/generate.sql`);
//! they end their timelines at `--as-of`, else when they run.

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "usage: mlp-sql FILE.sql [--as-of DATE]";

/// The script and the `as_of` it is given, from the command line.
fn args() -> Result<(String, Option<String>), String> {
    let mut file = None;
    let mut as_of = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--as-of" => {
                as_of = Some(
                    it.next()
                        .ok_or("`--as-of` needs a date: `--as-of 2026-04-01`")?,
                );
            }
            _ if a.starts_with("--as-of=") => as_of = Some(a["--as-of=".len()..].to_string()),
            _ if a.starts_with('-') => return Err(format!("unknown option `{a}`\n{USAGE}")),
            _ if file.is_none() => file = Some(a),
            _ => return Err(format!("unexpected argument `{a}`\n{USAGE}")),
        }
    }
    Ok((file.ok_or(USAGE)?, as_of))
}

fn main() -> ExitCode {
    let (file, as_of) = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match mlp_features::script::run_file(Path::new(&file), as_of.as_deref()) {
        Ok(()) => {
            eprintln!("ran {file}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
