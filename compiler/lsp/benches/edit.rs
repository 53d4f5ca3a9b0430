//! Benchmark: the time from a `didChange` to the `publishDiagnostics` of the changed file, on
//! the generated 500-file, 20,000-feature project, through the server's real message loop
//! (in process, over the in-memory connection, with mimalloc as `mlpc` allocates).
//!
//! The edits cycle through what people do while typing in one file of the project: a
//! comment added (nothing to report), a misspelt source (an error, then fixed), a feature
//! renamed that another declaration of the file reads (errors, then fixed), a type changed
//! (an error, then fixed), and, in another file, the entity renamed that every view names
//! (500 files with an error, then fixed).
//!
//! The baseline is what the server did before its checks were incremental: a full
//! `check_dir_with` per edit, on the same texts.
//!
//! Run: `cargo bench -p mlp-lsp --bench edit` (env `MLP_BENCH_FILES`, `MLP_BENCH_FEATURES`,
//! `MLP_BENCH_EDITS`); under `cargo test --benches` it makes one quick pass on a small project.

use mlp_test_support::lsp::{uri, Client};
use mlp_tests::gen::{env_usize, write, Shape};
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One kind of edit: the text after it, and whether the file then has diagnostics.
struct Edit {
    what: &'static str,
    file: usize,
    text: String,
}

/// The edits of one cycle, each followed by the text that undoes it, on file `k`'s text and
/// the first file's.
fn cycle(k: usize, text: &str, first: &str) -> Vec<Edit> {
    let edit = |what, file, text: String| Edit { what, file, text };
    let mut out = vec![
        edit("comment added", 1, format!("{text}// a note\n")),
        edit("comment removed", 1, text.to_string()),
    ];
    let pairs = [
        (
            "source misspelt",
            format!("source = src_{k}\n"),
            format!("source = srx_{k}\n"),
        ),
        (
            "feature renamed",
            format!("f{k}_2: float"),
            format!("f{k}_2x: float"),
        ),
        (
            "type changed",
            format!("f{k}_0: int ="),
            format!("f{k}_0: bool ="),
        ),
    ];
    for (what, from, to) in pairs {
        assert!(text.contains(&from), "the generated file has no `{from}`");
        out.push(edit(what, 1, text.replacen(&from, &to, 1)));
        out.push(edit("fixed", 1, text.to_string()));
    }
    assert!(first.contains("entity user {"));
    out.push(edit(
        "entity renamed (every view breaks)",
        0,
        first.replacen("entity user {", "entity person {", 1),
    ));
    out.push(edit("entity fixed", 0, first.to_string()));
    out
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let shape = if quick {
        Shape {
            files: 20,
            features: 400,
            ..Shape::default()
        }
    } else {
        Shape::from_env()
    };
    let edits = if quick {
        10
    } else {
        env_usize("MLP_BENCH_EDITS", 400)
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary folder: {e}"));
    write(dir.path(), shape).unwrap_or_else(|e| panic!("the generated project: {e}"));
    // A file with a model, so that its view's features are read by another declaration.
    let k = 10 % shape.files.max(1);
    let paths = [
        dir.path().join("gen_0000.mlp"),
        dir.path().join(format!("gen_{k:04}.mlp")),
    ];
    let texts: Vec<String> = paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let uris: Vec<String> = paths.iter().map(|p| uri(p.clone())).collect();
    let plan = cycle(k, &texts[1], &texts[0]);

    let mut c = Client::start(|conn| mlp_lsp::run(&conn));
    let started = Instant::now();
    c.open(&uris[0], &texts[0]);
    c.open(&uris[1], &texts[1]);
    // The first check parses every file; the benchmark measures the edits after it.
    let first = c.diagnostics_for(&uris[1]);
    assert!(
        first.is_empty(),
        "the generated project has errors: {first:?}"
    );
    let opened = started.elapsed();

    let mut all: Vec<Duration> = Vec::with_capacity(edits);
    let mut by_kind: Vec<(&'static str, Vec<Duration>)> = Vec::new();
    let mut version = 1;
    for i in 0..edits {
        let e = &plan[i % plan.len()];
        version += 1;
        let t = Instant::now();
        c.change(&uris[e.file], version, &e.text);
        let ds = c.diagnostics_for(&uris[e.file]);
        let took = t.elapsed();
        // The same check may have published other files' lists after this one's.
        c.sync();
        // The cycle's edits alternate between breaking and fixing: check the server saw it.
        let broken = !matches!(
            e.what,
            "comment added" | "comment removed" | "fixed" | "entity fixed"
        );
        assert_eq!(broken, !ds.is_empty(), "{}: {ds:?}", e.what);
        all.push(took);
        match by_kind.iter_mut().find(|(w, _)| *w == e.what) {
            Some((_, v)) => v.push(took),
            None => by_kind.push((e.what, vec![took])),
        }
    }
    c.shutdown();

    // The baseline: what the server did per edit before checks were incremental, a full
    // `check_dir_with` (read, parse every file, check, build and hash the plan).
    let mut full: Vec<Duration> = Vec::new();
    for e in plan.iter().cycle().take(if quick { 2 } else { 30 }) {
        let overlay = std::collections::BTreeMap::from([(paths[e.file].clone(), e.text.clone())]);
        let t = Instant::now();
        let checked = mlp_driver::check_dir_with(dir.path(), None, &overlay);
        full.push(t.elapsed());
        drop(checked);
    }

    let bytes: u64 = std::fs::read_dir(dir.path())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "lsp edit: {} files, {} features, {:.1} MiB; first check (open) {:.0} ms",
        shape.files,
        shape.features,
        bytes as f64 / 1_048_576.0,
        opened.as_secs_f64() * 1e3
    );
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let ratio = median(&full) / median(&all);
    println!(
        "didChange -> publishDiagnostics of the file: {}",
        summary(&mut all)
    );
    println!(
        "baseline, a full check_dir_with per edit: {}; p50 ratio {ratio:.1}x",
        summary(&mut full)
    );
    for (what, mut v) in by_kind {
        println!("  {what:<36} {}", summary(&mut v));
    }
}

/// `n=… p50=… p99=… max=…` in milliseconds.
fn summary(v: &mut [Duration]) -> String {
    v.sort();
    let at = |q: f64| {
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[i.min(v.len() - 1)].as_secs_f64() * 1e3
    };
    format!(
        "n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}
