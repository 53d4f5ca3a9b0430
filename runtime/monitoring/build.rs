//! Gives this crate's binaries (tests) an rpath to the prebuilt libduckdb, so they run
//! without LD_LIBRARY_PATH (see DESIGN.md, Build).

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
