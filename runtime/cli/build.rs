//! Link set-up of the two binaries of this package. Both get an rpath to the prebuilt
//! libduckdb. Only `mlp-serve` links the venv's libtorch (through tch) and gets its rpath;
//! libtorch_cuda is left out at link time and preloaded at start only when a deployment asks
//! for CUDA (src/bin/mlp-serve/cuda.rs); `mlpc` links no libtorch and starts without it.
//! Test binaries get the libtorch rpath too, for the tests that call the serving crate.

#[path = "../serving/torch_lib.rs"]
mod torch_lib;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    match torch_lib::torch_lib_dir() {
        Some(dir) => {
            // No `--no-as-needed -ltorch`: libtorch_cuda (and cuBLAS, cuDNN, NCCL...) is not
            // loaded at start; `mlp-serve` preloads it when a deployment asks for CUDA
            // (src/bin/mlp-serve/cuda.rs).
            println!("cargo:rustc-link-arg-bin=mlp-serve=-Wl,-rpath,{dir}");
            // Tests that call into the serving crate (the conformance test) load libtorch.
            println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        }
        None => println!("cargo:warning=no torch in MLP_VENV: mlp-serve may not find libtorch"),
    }
}
