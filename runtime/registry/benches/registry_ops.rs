//! Benchmark: the registry with many versions. Registers N versions (10,000 with `--bench`,
//! 200 otherwise) of one model, each a distinct artifact with metrics, params and tags, then
//! times listing, searching by tag, resolving an alias and reading one version.
//!
//! Run: `cargo bench -p mlp-registry --bench registry_ops`.

use mlp_registry::{NewVersion, Origin, Registry};
use std::time::Instant;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("registry_ops: {msg}");
    std::process::exit(1);
}

fn quantiles(mut t: Vec<f64>) -> String {
    t.sort_by(f64::total_cmp);
    let q = |f: f64| t[((t.len() as f64 * f) as usize).min(t.len() - 1)];
    format!("p50={:.3} ms p99={:.3} ms", q(0.5), q(0.99))
}

fn timed<T>(label: &str, runs: usize, mut f: impl FnMut() -> T) -> T {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{label}: n={runs} {}", quantiles(times));
    match last {
        Some(v) => v,
        None => fail("no run"),
    }
}

fn main() {
    let n: u64 = if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        200
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| fail(e));
    let artifact = dir.path().join("model.pt");
    let mut times = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        // A distinct artifact per version, as a training run would produce.
        if let Err(e) = std::fs::write(&artifact, format!("model bytes {i}").repeat(64)) {
            fail(e);
        }
        let v = NewVersion {
            model: "fraud".into(),
            artifact: artifact.clone(),
            metrics: [("auc".to_string(), 0.8 + (i % 100) as f64 / 1000.0)].into(),
            params: [("seed".to_string(), serde_json::json!(i))].into(),
            tags: [
                ("team".to_string(), format!("t{}", i % 10)),
                ("data".to_string(), format!("d{}", i % 1000)),
            ]
            .into(),
            origin: Origin {
                pipeline: Some("train".into()),
                run_id: Some(format!("run{i}")),
                step: Some("fit".into()),
            },
            training_set: None,
            signature: None,
        };
        let t = Instant::now();
        if let Err(e) = reg.register(&v) {
            fail(e);
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "register {n} versions: {:.2} s total, {}",
        start.elapsed().as_secs_f64(),
        quantiles(times)
    );
    if let Err(e) = reg.set_alias("fraud", "production", n / 2, "bench") {
        fail(e);
    }
    let all = timed("list all versions", 20, || {
        reg.list(Some("fraud")).unwrap_or_else(|e| fail(e))
    });
    if all.len() as u64 != n {
        fail(format!("listed {} of {n}", all.len()));
    }
    let team = timed("search team=t3 (1/10 of versions)", 20, || {
        reg.search(Some("fraud"), &[("team".into(), "t3".into())])
            .unwrap_or_else(|e| fail(e))
    });
    let one = timed("search team=t3 data=d3 (1/1000)", 200, || {
        reg.search(
            Some("fraud"),
            &[("team".into(), "t3".into()), ("data".into(), "d3".into())],
        )
        .unwrap_or_else(|e| fail(e))
    });
    let prod = timed("resolve fraud@production", 200, || {
        reg.resolve("fraud", "production")
            .unwrap_or_else(|e| fail(e))
    });
    timed("resolve fraud@latest", 200, || {
        reg.resolve("fraud", "latest").unwrap_or_else(|e| fail(e))
    });
    timed("open the registry", 50, || {
        Registry::open(dir.path()).unwrap_or_else(|e| fail(e))
    });
    println!(
        "found: {} with team=t3, {} with team=t3 data=d3, production is version {}",
        team.len(),
        one.len(),
        prod.version
    );
}
