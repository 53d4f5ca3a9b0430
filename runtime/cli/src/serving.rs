//! `mlpc serve` and `mlpc score` run the serving binary `mlp-serve` with the same arguments:
//! model execution links libtorch (and with it the CUDA stack), which the other commands do
//! without. The binary is found beside `mlpc` (where `cargo build` and an install put both),
//! else on `PATH`.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// The serving binary's file name.
pub const SERVING_BINARY: &str = "mlp-serve";

/// Where the serving binary is: beside the running `mlpc`, else the first on `PATH`.
pub fn serving_binary() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(SERVING_BINARY)))
        .filter(|p| p.is_file());
    beside.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(SERVING_BINARY))
                .find(|p| p.is_file())
        })
    })
}

/// Replaces this process with the serving binary, given this process's arguments (so that
/// signals reach the server itself); returns only when that fails.
pub fn exec_serving() -> ExitCode {
    let Some(bin) = serving_binary() else {
        return crate::state_cmds::fail(format!(
            "`mlpc serve` and `mlpc score` run the serving binary `{SERVING_BINARY}`, which is neither beside mlpc nor on PATH; build it with `cargo build --release -p mlpc` (it is installed beside mlpc)"
        ));
    };
    let err = std::process::Command::new(&bin)
        .args(std::env::args_os().skip(1))
        .exec();
    crate::state_cmds::fail(format!("cannot run `{}`: {err}", bin.display()))
}
