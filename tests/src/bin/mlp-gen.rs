//! `mlp-gen DIR [FILES] [FEATURES]`: writes a generated project (default 500 files, 20,000
//! features) into DIR, for benchmarking `mlpc` end to end and for scale tests.

use mlp_tests::gen::{write, Shape};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: mlp-gen DIR [FILES] [FEATURES]");
        return ExitCode::from(1);
    };
    let num = |i: usize, default: usize| -> Result<usize, String> {
        args.get(i).map_or(Ok(default), |v| {
            v.parse().map_err(|_| format!("not a number: {v}"))
        })
    };
    let shape = match (num(1, 500), num(2, 20_000)) {
        (Ok(files), Ok(features)) if files > 0 => Shape {
            files,
            features,
            ..Shape::default()
        },
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
        _ => {
            eprintln!("error: FILES must be at least 1");
            return ExitCode::from(1);
        }
    };
    match write(std::path::Path::new(dir), shape) {
        Ok(()) => {
            println!(
                "wrote {} files with {} features to {dir}",
                shape.files, shape.features
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {dir}: {e}");
            ExitCode::from(1)
        }
    }
}
