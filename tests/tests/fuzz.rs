//! Fuzzing the compiler with proptest (the parts are in `mlp_tests::fuzz`): a short pass of
//! mutated examples, golden files and env YAML through the whole checker
//! (`cargo test -p mlp-tests --test fuzz`, PROPTEST_CASES cases, 256 by default). The long,
//! timed run is a binary:
//!
//! ```text
//! cargo run --release -p mlp-tests --bin mlp-fuzz -- 600
//! ```

use mlp_tests::fuzz::{check_invariants, mutate, strategy};
use proptest::test_runner::{Config, TestRunner};

#[test]
fn mutated_inputs_never_break_the_checker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (clean, broken) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config::default());
    let result = runner.run(&strategy(), |(seed, file, muts)| {
        let ok = check_invariants(&mutate(seed, file, &muts))?;
        if ok { &clean } else { &broken }.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations must reach both outcomes, or the fuzzer tests nothing.
    let (clean, broken) = (clean.into_inner(), broken.into_inner());
    assert!(clean > 0 && broken > 0, "clean {clean}, broken {broken}");
}
