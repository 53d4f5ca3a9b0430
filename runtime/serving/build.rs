//! Gives the binaries (`mlp-load`) and tests of mlp-serving rpaths to the prebuilt libduckdb and to the venv's
//! libtorch, and links libtorch with `--no-as-needed` so that libtorch_cuda is kept and CUDA
//! is seen where there is one (see DESIGN.md, Build).

#[path = "torch_lib.rs"]
mod torch_lib;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    if let Some(dir) = torch_lib::torch_lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{dir}");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
