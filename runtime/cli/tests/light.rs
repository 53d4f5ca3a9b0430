//! A light `mlpc`: the binary links no libtorch (nor CUDA), and the commands that run no
//! model work with no venv and no library path at all; `serve` and `score` run the serving
//! binary `mlp-serve` found beside `mlpc` or on `PATH`, and say so plainly when it is
//! missing.

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
    // The libraries' names only: a load address such as 0x7f3e083c1000 holds "c10".
    let names: Vec<&str> = libs
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for lib in ["libtorch", "libc10", "libcuda", "libnccl", "libcudnn"] {
        assert!(
            !names.iter().any(|n| n.contains(lib)),
            "mlpc links {lib}:\n{libs}"
        );
    }
    // The serving binary is the one that does.
    let serve = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_mlp-serve"))
        .output()
        .unwrap_or_else(|e| panic!("ldd: {e}"));
    assert!(String::from_utf8_lossy(&serve.stdout).contains("libtorch"));

    // check and plan with an empty environment: no MLP_VENV, PATH or LD_LIBRARY_PATH.
    let example = mlp_test_support::root().join("examples/fraud");
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
    // A hard link in a folder beside the binary, not a copy: a copy is a file open for
    // writing, which a child forked meanwhile by another test thread holds until it execs,
    // and executing it then fails with "Text file busy" (ETXTBSY).
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mlpc"));
    let dir = tempfile::tempdir_in(bin.parent().unwrap_or_else(|| panic!("{}", bin.display())))
        .unwrap_or_else(|e| panic!("{e}"));
    let lone = dir.path().join("mlpc");
    std::fs::hard_link(bin, &lone).unwrap_or_else(|e| panic!("{e}"));
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

/// A project whose deployments run on `devices`, with a registered one-input model.
fn served_project(devices: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut src = String::from(
        "project devices {}\n\nrequest r {\n  x: float\n}\n\nmodel m {\n  inputs = [r.x]\n  output = y: float\n}\n",
    );
    for (i, d) in devices.iter().enumerate() {
        src.push_str(&format!(
            "\ndeployment d{i} {{\n  model  = m@1\n  device = {d}\n}}\n"
        ));
    }
    std::fs::write(dir.path().join("p.mlp"), src).unwrap_or_else(|e| panic!("{e}"));
    mlp_test_support::serving::mlpc(&["apply", ".", "--auto-approve"], dir.path());
    mlp_test_support::serving::register_linear(dir.path(), "m", &[2.0], 1.0, false);
    dir
}

/// Whether the process `pid` has a library whose file name starts with `name` mapped.
fn maps_library(pid: u32, name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/maps: {e}"))
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .any(|p| p.rsplit('/').next().is_some_and(|f| f.starts_with(name)))
}

#[test]
fn the_cuda_libraries_load_only_when_a_deployment_asks_for_cuda() {
    let gpu = std::path::Path::new("/proc/driver/nvidia/version").exists()
        || std::path::Path::new("/dev/nvidiactl").exists();
    // On the CPU (and with `auto` on a machine without a GPU): no libtorch_cuda, no cuBLAS.
    let cpu = served_project(&["cpu", if gpu { "cpu" } else { "auto" }]);
    let mut server = mlp_test_support::serving::serve(cpu.path());
    let pid = server.child.id();
    assert!(
        maps_library(pid, "libtorch_cpu"),
        "the server runs libtorch"
    );
    for lib in ["libtorch_cuda", "libcublas", "libcudnn", "libnccl"] {
        assert!(
            !maps_library(pid, lib),
            "{lib} is loaded by a CPU-only server"
        );
    }
    let (status, answer) = mlp_test_support::serving::call(
        "POST",
        &format!("{}/v1/deployments/d0/predict", server.base),
        Some(serde_json::json!({"request": {"x": 3.0}})),
    );
    assert_eq!(
        (status, answer["outputs"]["y"].as_f64()),
        (200, Some(7.0)),
        "{answer}"
    );
    assert_eq!(server.terminate(), Some(0));

    // A deployment on CUDA: the server starts itself again with libtorch's CUDA backend.
    // Without a GPU that deployment cannot load and says why; the CPU one serves.
    let cuda = served_project(&["cpu", "cuda"]);
    let mut server = mlp_test_support::serving::serve(cuda.path());
    let pid = server.child.id();
    assert!(
        maps_library(pid, "libtorch_cuda"),
        "CUDA was asked for and not loaded"
    );
    let (_, ready) =
        mlp_test_support::serving::call("GET", &format!("{}/readyz", server.base), None);
    assert_eq!(ready["deployments"]["d0"]["ready"], true, "{ready}");
    if !gpu {
        assert_eq!(ready["deployments"]["d1"]["ready"], false, "{ready}");
        let why = ready["deployments"]["d1"]["error"]
            .as_str()
            .unwrap_or_default();
        assert!(why.to_lowercase().contains("cuda"), "{why}");
    }
    assert_eq!(server.terminate(), Some(0));
}
