//! Benchmark: generate a project of 500 files and 20,000 features, then check it from disk
//! (read, parse, resolve, type-check, lint, build the plan) as `mlpc check` does.
//!
//! Run: `cargo bench -p mlp-tests --bench check_large` (env `MLP_BENCH_FILES`,
//! `MLP_BENCH_FEATURES` and `MLP_BENCH_RUNS` change the shape and the number of runs).

use mlp_tests::gen::{env_usize, write, Shape};
use std::time::{Duration, Instant};

fn main() {
    // `cargo test --benches` passes `--bench`-less args; run a single quick pass then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let shape = Shape::from_env();
    let runs = if quick {
        1
    } else {
        env_usize("MLP_BENCH_RUNS", 10)
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary folder: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = write(dir.path(), shape) {
        eprintln!("cannot write the generated project: {e}");
        std::process::exit(1);
    }
    let bytes: u64 = std::fs::read_dir(dir.path())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut resources = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let checked = mlp_driver::check_dir(dir.path(), None);
        times.push(t.elapsed());
        if checked.has_errors() || !checked.diagnostics.is_empty() {
            eprintln!(
                "the generated project has {} diagnostics",
                checked.diagnostics.len()
            );
            std::process::exit(1);
        }
        resources = checked.plan.map_or(0, |p| p.resources().count());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "check_large: {} files, {} features, {:.1} MiB, {} resources",
        shape.files,
        shape.features,
        bytes as f64 / (1024.0 * 1024.0),
        resources
    );
    println!(
        "check_large: runs={} min={:.1} ms median={:.1} ms max={:.1} ms",
        runs,
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}
