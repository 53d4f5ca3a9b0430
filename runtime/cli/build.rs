//! Link set-up of the two binaries of this package. Both get an rpath to the prebuilt
//! libduckdb. Only `mlp-serve` gets the venv's libtorch: an rpath and `-ltorch` with
//! `--no-as-needed`, so that libtorch_cuda is kept and CUDA is seen where there is one
//! (DESIGN.md, Build); `mlpc` links no libtorch and starts without it. Test binaries get
//! the libtorch rpath too, for the tests that call the serving crate.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=MLP_VENV");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    let python = std::env::var("MLP_VENV")
        .map(|v| format!("{v}/bin/python"))
        .unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            for arg in [
                format!("-Wl,-rpath,{dir}"),
                "-Wl,--no-as-needed".into(),
                format!("-L{dir}"),
                "-ltorch".into(),
                "-Wl,--as-needed".into(),
            ] {
                println!("cargo:rustc-link-arg-bin=mlp-serve={arg}");
            }
            // Tests that call into the serving crate (the conformance test) load libtorch.
            println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        }
        _ => println!("cargo:warning=no torch in MLP_VENV: mlp-serve may not find libtorch"),
    }
}
