//! A light `mlpc`: the binary links no libtorch (nor CUDA), and the commands that run no
//! model work with no venv and no library path at all; `serve` and `score` run the serving
//! binary `mlp-serve` found beside `mlpc` or on `PATH`, and say so plainly when it is
//! missing.

mod common;

use std::process::Command;

#[test]
fn mlpc_links_no_libtorch_and_plans_without_the_venv() {
    let mlpc = env!("CARGO_BIN_EXE_mlpc");
    let ldd = Command::new("ldd")
        .arg(mlpc)
        .output()
        .unwrap_or_else(|e| panic!("ldd: {e}"));
    let libs = String::from_utf8_lossy(&ldd.stdout);
    assert!(ldd.status.success(), "{libs}");
    for lib in ["torch", "c10", "cuda", "nccl", "cudnn"] {
        assert!(!libs.contains(lib), "mlpc links {lib}:\n{libs}");
    }
    // The serving binary is the one that does.
    let serve = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_mlp-serve"))
        .output()
        .unwrap_or_else(|e| panic!("ldd: {e}"));
    assert!(String::from_utf8_lossy(&serve.stdout).contains("libtorch"));

    // check and plan with an empty environment: no MLP_VENV, PATH or LD_LIBRARY_PATH.
    let example = common::root().join("examples/fraud");
    for args in [["check", "."], ["plan", "."]] {
        let out = Command::new(mlpc)
            .args(args)
            .current_dir(&example)
            .env_clear()
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "mlpc {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn serve_without_the_serving_binary_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lone = dir.path().join("mlpc");
    std::fs::copy(env!("CARGO_BIN_EXE_mlpc"), &lone).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(&lone)
        .args(["serve", "."])
        .current_dir(dir.path())
        .env("PATH", "")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("serving binary `mlp-serve`")
            && err.contains("neither beside mlpc nor on PATH"),
        "{err}"
    );
}
