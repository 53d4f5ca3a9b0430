//! `mlp-serve`, the serving binary: `mlpc serve` and `mlpc score` run it (found beside
//! `mlpc`, else on `PATH`), with the same arguments. It is the only binary of mlp that links
//! libtorch, so that `mlpc check`, `plan`, `apply` and the rest start without it; and it
//! loads libtorch's CUDA backend only when a deployment asks for it (`cuda.rs`).

mod cuda;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc: the server allocates per request on several threads, where glibc's malloc
/// spent a fifth of the server's time (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The serving commands of mlpc (`mlpc serve`, `mlpc score`).
#[derive(Parser, Debug)]
#[command(name = "mlpc", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the deployments, online features, registry and metrics over HTTP.
    Serve(mlpc_shared::ServeArgs),
    /// Score every row of a file with a deployment's model (batch scoring).
    Score(mlpc_shared::ScoreArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if let Err(io) = e.print() {
                eprintln!("error: {io}");
            }
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Serve(args) => serve::serve(&args),
        Command::Score(args) => serve::score(&args),
    }
}
