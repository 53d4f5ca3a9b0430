//! `mlp-fuzz SECS`: the timed fuzz run of the compiler (600 s by default); exits 1 with the
//! shrunk failing input on the first failure. See `mlp_tests::fuzz`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    match mlp_tests::fuzz::run_for(secs) {
        Ok(cases) => {
            println!("fuzz: done, {cases} cases in {secs} s, no failure");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz: FAILED {e}");
            ExitCode::from(1)
        }
    }
}
