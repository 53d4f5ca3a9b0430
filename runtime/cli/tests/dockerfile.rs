//! The Dockerfile checked against the build without Docker: the binaries it copies are the
//! ones this package builds, the paths it copies libduckdb and the venv from are the ones
//! `scripts/env.sh` gives the build (so the binaries' rpaths hold in the image), its Rust is
//! at least the workspace's, the context leaves out the local build folders, and what it
//! runs (`mlpc serve` on the port it exposes, as `mlp-serve:latest`) is what `mlpc k8s`
//! writes into the manifests. `hadolint` lints it where it is installed.

use mlp_test_support::fixtures::root;
use mlp_test_support::serving::{example, mlpc};
use std::process::Command;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Dockerfile's instructions with their arguments, continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace)?;
            Some((op.to_uppercase(), rest.trim().to_string()))
        })
        .collect()
}

/// The `[[bin]]` names of runtime/cli/Cargo.toml.
fn binaries() -> Vec<String> {
    read("runtime/cli/Cargo.toml")
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            let line = b.lines().find(|l| l.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_string())
        })
        .collect()
}

#[test]
fn the_dockerfile_copies_what_the_build_makes_and_runs_what_the_manifests_ask() {
    let docker = read("Dockerfile");
    let ins = instructions(&docker);
    the_build_stage_is_rust_at_least_the_workspaces(&ins);
    the_build_makes_both_binaries_where_the_image_expects_them(&docker, &ins);
    each_copy_out_of_the_build_is_a_path_the_build_made(&ins);
    what_it_runs_is_what_the_manifests_ask(&docker, &ins);
    the_context_leaves_out_the_local_build_folders();
    hadolint_passes_where_it_is_installed();
}

/// Two stages, a build stage and the image; the build stage's Rust is at least the
/// workspace's `rust-version`.
fn the_build_stage_is_rust_at_least_the_workspaces(ins: &[(String, String)]) {
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and the image: {froms:?}");
    let rust = froms[0]
        .strip_prefix("rust:")
        .and_then(|t| t.split(['-', ' ']).next())
        .unwrap_or_else(|| panic!("the build stage is not a rust image: {}", froms[0]));
    let workspace = read("Cargo.toml");
    let wanted = workspace
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("no rust-version in Cargo.toml"));
    let version = |v: &str| -> Vec<u32> { v.split('.').filter_map(|x| x.parse().ok()).collect() };
    assert!(version(rust) >= version(wanted), "rust {rust} < {wanted}");
    assert!(froms[0].ends_with(" AS build"), "{}", froms[0]);
}

/// The build runs the bootstrap and builds both binaries, locked, where the image
/// expects them.
fn the_build_makes_both_binaries_where_the_image_expects_them(
    docker: &str,
    ins: &[(String, String)],
) {
    let run = ins
        .iter()
        .filter(|(op, _)| op == "RUN")
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(run.contains("bash scripts/bootstrap.sh"), "{run}");
    assert!(
        run.contains("cargo build --release --locked -p mlpc"),
        "{run}"
    );
    let workdir = ins
        .iter()
        .find(|(op, _)| op == "WORKDIR")
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    assert_eq!(workdir, "/opt/mlp", "the build's MLP_ROOT");
    let env_sh = read("scripts/env.sh");
    assert!(env_sh.contains("MLP_VENV=\"${MLP_VENV:-$MLP_ROOT/.venv}\""));
    assert!(env_sh.contains("DUCKDB_LIB_DIR=\"${DUCKDB_LIB_DIR:-$MLP_ROOT/.deps/duckdb}\""));
    assert!(docker.contains("MLP_VENV=/opt/mlp/.venv"));
    assert!(docker.contains("CARGO_TARGET_DIR=/opt/mlp/target"));
}

/// Each copy out of the build is a path the build made, at the same path in the image
/// where an rpath points at it.
fn each_copy_out_of_the_build_is_a_path_the_build_made(ins: &[(String, String)]) {
    let bins = binaries();
    assert_eq!(bins, ["mlpc", "mlp-serve"], "runtime/cli's binaries");
    let copies: Vec<Vec<&str>> = ins
        .iter()
        .filter(|(op, a)| op == "COPY" && a.starts_with("--from=build"))
        .map(|(_, a)| a.split_whitespace().skip(1).collect())
        .collect();
    let mut copied_bins = Vec::new();
    for c in &copies {
        let (dest, sources) = c.split_last().unwrap_or_else(|| panic!("{c:?}"));
        for s in sources {
            if let Some(b) = s.strip_prefix("/opt/mlp/target/release/") {
                copied_bins.push(b.to_string());
                assert_eq!(*dest, "/usr/local/bin/");
            } else {
                assert!(
                    ["/opt/mlp/.venv", "/opt/mlp/.deps/duckdb/libduckdb.so"].contains(s),
                    "{s} is not something the build makes"
                );
                assert_eq!(
                    dest, s,
                    "{s} must keep its path: the binaries' rpaths name it"
                );
            }
        }
    }
    assert_eq!(copied_bins, bins);
}

/// What it runs is what the manifests ask of it: `mlpc serve`, as `mlp-serve:latest`, on
/// the port it exposes.
fn what_it_runs_is_what_the_manifests_ask(docker: &str, ins: &[(String, String)]) {
    assert!(
        docker.contains("ENTRYPOINT [\"mlpc\"]"),
        "the entry point is mlpc"
    );
    assert!(docker.contains("docker build -t mlp-serve:latest ."));
    let exposed = ins
        .iter()
        .find(|(op, _)| op == "EXPOSE")
        .map(|(_, a)| a.clone())
        .unwrap_or_default();
    let dir = example();
    let p = dir.path();
    // The resources `mlpc suggest --write` would write, which `mlpc k8s` needs.
    let serving = std::fs::read_to_string(p.join("serving.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let sized = serving.replacen(
        "deployment fraud_api {\n",
        "deployment fraud_api {\n  resources {\n    cpu    = 1\n    memory = 512MiB\n  }\n",
        1,
    );
    assert_ne!(sized, serving);
    std::fs::write(p.join("serving.mlp"), sized).unwrap_or_else(|e| panic!("{e}"));
    // Replicas share an online store they all reach.
    let project = std::fs::read_to_string(p.join("project.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let shared = project.replacen(
        "online  = memory(capacity = env.online_capacity)",
        "online  = redis(\"redis://redis:6379/0\")",
        1,
    );
    assert_ne!(shared, project);
    std::fs::write(p.join("project.mlp"), shared).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["k8s", ".", "fraud_api", "--out", "k8s.yaml"], p);
    let yaml = std::fs::read_to_string(p.join("k8s.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("image: mlp-serve:latest"), "{yaml}");
    assert!(
        yaml.contains(&format!("containerPort: {exposed}")),
        "{yaml}"
    );
    assert!(
        yaml.contains("- serve\n") && yaml.contains("- /project\n"),
        "{yaml}"
    );
}

/// The context leaves out the local build's folders.
fn the_context_leaves_out_the_local_build_folders() {
    let ignore = read(".dockerignore");
    for folder in ["target", ".venv", ".deps"] {
        assert!(
            ignore.lines().any(|l| l.trim() == folder),
            "{folder} in .dockerignore"
        );
    }
}

/// hadolint where it is installed.
fn hadolint_passes_where_it_is_installed() {
    if let Ok(out) = Command::new("hadolint")
        .arg(root().join("Dockerfile"))
        .output()
    {
        assert!(
            out.status.success(),
            "hadolint: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
