//! The dependency rule of DESIGN.md: the compiler crates (and everything they pull in, dev
//! dependencies included) never reach duckdb, tch, tokio or actix. Read from `Cargo.lock`, so
//! the rule holds for the exact versions resolved.

use mlp_tests::corpus::repo_root;
use std::collections::{BTreeMap, BTreeSet};

/// package name -> names of its dependencies, from `Cargo.lock`.
fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let text =
        std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap_or_else(|e| panic!("{e}"));
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut name = String::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            in_deps = false;
        } else if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"').to_string();
            graph.entry(name.clone()).or_default();
        } else if line.starts_with("dependencies = [") {
            in_deps = true;
        } else if in_deps && line == "]" {
            in_deps = false;
        } else if in_deps {
            let dep = line
                .trim_matches(|c| c == '"' || c == ',')
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string();
            graph.entry(name.clone()).or_default().insert(dep);
        }
    }
    graph
}

#[test]
fn compiler_crates_never_reach_the_runtime_stack() {
    let graph = lock_graph();
    let forbidden = [
        "duckdb",
        "libduckdb-sys",
        "tch",
        "torch-sys",
        "tokio",
        "actix-web",
        "actix-rt",
    ];
    for root in [
        "mlp-diagnostics",
        "mlp-syntax",
        "mlp-sema",
        "mlp-ir",
        "mlp-driver",
        "mlp-stdlib",
    ] {
        assert!(graph.contains_key(root), "{root} not in Cargo.lock");
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.to_string()];
        while let Some(p) = stack.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            assert!(!forbidden.contains(&p.as_str()), "{root} depends on {p}");
            stack.extend(graph.get(&p).into_iter().flatten().cloned());
        }
        assert!(
            seen.len() > 1,
            "{root} has no dependencies in the lock file?"
        );
    }
}
