//! The compiler fuzzer's parts, shared by the short pass in `tests/tests/fuzz.rs` and the
//! timed run of the `mlp-fuzz` binary: mutations of the corpus (bytes deleted, tokens
//! inserted, slices duplicated, lines swapped, the env YAML edited) and the properties every
//! input must satisfy: no panic, every diagnostic inside its file on character boundaries,
//! both renderers working, a clean plan round-tripping through JSON, and `fmt` idempotent
//! with output that parses.

use crate::corpus::{self, Project};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "=",
    ":",
    ",",
    ".",
    "@",
    "->",
    "/",
    "//",
    "///",
    "\n",
    " ",
    "\"",
    "${",
    "${env.",
    "${params.",
    "}\"",
    "over",
    "7d",
    "0ms",
    "20ms",
    "2000/s",
    "10%",
    "1_000",
    "-1",
    "99999999999999999999999",
    "1e400",
    "0.0",
    "features",
    "entity",
    "source",
    "model",
    "deployment",
    "monitor",
    "consumer",
    "pipeline",
    "step",
    "request",
    "project",
    "env",
    "check",
    "require",
    "promote",
    "after",
    "route(",
    "combine(",
    "chain(",
    "count(*)",
    "avg(",
    "nan",
    "true",
    "null",
    "é",
    "🦀",
    "\t",
    "\r\n",
    "\0",
    "int",
    "float",
    "string",
    "timestamp",
    "bool",
    "user_stats",
    "user_stats.",
    "fraud_scorer@",
    "@latest",
    "@0",
    "sla {",
    "schema {",
    ">=",
    "<",
    "and",
    "not",
    "ttl",
    "inputs",
    "output",
    "key",
    "*",
    "training_set {",
    "materialize {",
    "registers",
    "score",
    "labels.",
    "cron(\"",
    "x: int",
    "a: float = ",
    "- ",
    "key: [",
    "'",
    "&x",
    "!!int",
    "~",
];

/// One edit of a file's text.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Deletes up to `.1` bytes from about offset `.0` (offsets wrap and snap to a character).
    Delete(u32, u8),
    /// Inserts token `TOKENS[.1]` at about offset `.0`.
    Insert(u32, usize),
    /// Copies up to `.1` bytes from about offset `.0` to about offset `.2`.
    Duplicate(u32, u8, u32),
    /// Replaces the character at about offset `.0` with `.1`.
    Replace(u32, char),
    /// Swaps two lines, by their numbers modulo the line count.
    SwapLines(u32, u32),
    /// Cuts the text at about offset `.0`.
    Truncate(u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<u32>(), 1u8..24).prop_map(|(p, n)| Mutation::Delete(p, n)),
        4 => (any::<u32>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        2 => (any::<u32>(), 1u8..80, any::<u32>()).prop_map(|(p, n, q)| Mutation::Duplicate(p, n, q)),
        2 => (any::<u32>(), any::<char>()).prop_map(|(p, c)| Mutation::Replace(p, c)),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => any::<u32>().prop_map(Mutation::Truncate),
    ]
}

/// The char boundary at or before `pos % (len + 1)`.
fn boundary(s: &str, pos: u32) -> usize {
    let mut p = pos as usize % (s.len() + 1);
    while !s.is_char_boundary(p) {
        p -= 1;
    }
    p
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut s = text.to_string();
    match m {
        Mutation::Delete(p, n) => {
            let a = boundary(&s, *p);
            let b = boundary(&s, (a + *n as usize).min(s.len()) as u32);
            s.replace_range(a..b.max(a), "");
        }
        Mutation::Insert(p, t) => {
            let a = boundary(&s, *p);
            s.insert_str(a, TOKENS[*t]);
        }
        Mutation::Duplicate(p, n, q) => {
            let a = boundary(&s, *p);
            let b = boundary(&s, (a + *n as usize).min(s.len()) as u32).max(a);
            let piece = s[a..b].to_string();
            let at = boundary(&s, *q);
            s.insert_str(at, &piece);
        }
        Mutation::Replace(p, c) => {
            let a = boundary(&s, *p);
            if let Some(old) = s[a..].chars().next() {
                s.replace_range(a..a + old.len_utf8(), &c.to_string());
            }
        }
        Mutation::SwapLines(x, y) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let n = lines.len();
            lines.swap(*x as usize % n, *y as usize % n);
            s = lines.join("\n");
        }
        Mutation::Truncate(p) => {
            let a = boundary(&s, *p);
            s.truncate(a);
        }
    }
    s
}

/// The corpus (the examples first, then the golden files) and how many examples lead it.
fn seeds() -> &'static (Vec<Project>, usize) {
    static SEEDS: OnceLock<(Vec<Project>, usize)> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let examples = corpus::examples();
        let n = examples.len();
        let mut all = examples;
        all.extend(corpus::goldens());
        (all, n)
    })
}

/// Mutates file `file` of seed `seed` (the env YAML when `file` points past the files). Half
/// the seeds are the examples, whole projects that check clean, and half are spread over the
/// whole corpus: with one example among 80 golden files, mutations of a clean project would
/// otherwise be rare, and so would mutations that leave it clean.
pub fn mutate(seed: usize, file: usize, muts: &[Mutation]) -> Project {
    let (seeds, examples) = seeds();
    let index = if seed.is_multiple_of(2) && *examples > 0 {
        (seed / 2) % examples
    } else {
        seed % seeds.len()
    };
    let mut p = seeds[index].clone();
    let slots = p.files.len() + usize::from(p.env.is_some());
    let which = file % slots;
    let text = match p.files.get_mut(which) {
        Some((_, t)) => t,
        None => match &mut p.env {
            Some((_, t)) => t,
            None => return p,
        },
    };
    for m in muts {
        *text = apply(text, m);
    }
    p
}

/// The same mutations as [`mutate`], as a stream of edits, as an editor sends them: the
/// unmutated seed project, the file edited (an index into its files, or `None` for the env
/// YAML), and that file's text after each mutation in turn.
pub fn edit_stream(
    seed: usize,
    file: usize,
    muts: &[Mutation],
) -> (Project, Option<usize>, Vec<String>) {
    let unmutated = mutate(seed, file, &[]);
    let slots = unmutated.files.len() + usize::from(unmutated.env.is_some());
    let which = file % slots.max(1);
    let (edited, mut text) = match unmutated.files.get(which) {
        Some((_, t)) => (Some(which), t.clone()),
        None => (
            None,
            unmutated
                .env
                .as_ref()
                .map(|(_, t)| t.clone())
                .unwrap_or_default(),
        ),
    };
    let mut texts = Vec::with_capacity(muts.len());
    for m in muts {
        text = apply(&text, m);
        texts.push(text.clone());
    }
    (unmutated, edited, texts)
}

/// The properties every input must satisfy; returns whether the project checked clean.
pub fn check_invariants(p: &Project) -> Result<bool, TestCaseError> {
    let checked = p.check();
    for d in &checked.diagnostics {
        for l in d.labels.iter().chain(&d.related) {
            let f = checked.map.get(l.span.file);
            prop_assert!(f.is_some(), "{} points at an unknown file", d.code);
            if let Some(f) = f {
                let (a, b) = (l.span.start as usize, l.span.end as usize);
                prop_assert!(
                    a <= b && b <= f.text.len(),
                    "{} span {a}..{b} outside {}",
                    d.code,
                    f.name
                );
                prop_assert!(
                    f.text.is_char_boundary(a) && f.text.is_char_boundary(b),
                    "{} span {a}..{b} splits a character in {}",
                    d.code,
                    f.name
                );
            }
        }
        prop_assert!(
            mlp_diagnostics::lookup(d.code).is_some(),
            "undocumented code {}",
            d.code
        );
    }
    let human = mlp_diagnostics::render_human(&checked.diagnostics, &checked.map, false);
    prop_assert_eq!(human.is_empty(), checked.diagnostics.is_empty());
    let json = mlp_diagnostics::render_json(&checked.diagnostics, &checked.map);
    // The JSON report reads back with every diagnostic and the error count.
    let text = serde_json::to_string(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        back["diagnostics"].as_array().map(Vec::len),
        Some(checked.diagnostics.len())
    );
    prop_assert_eq!(
        back["errors"].as_u64(),
        Some(checked.diagnostics.iter().filter(|d| d.is_error()).count() as u64)
    );
    if let Some(plan) = &checked.plan {
        let text = plan.to_json();
        let back = mlp_ir::Plan::from_json(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back.to_json(), text);
    }
    for (_, text) in &p.files {
        if let Some(once) = mlp_driver::format_source(text) {
            let twice = mlp_driver::format_source(&once);
            prop_assert!(twice.is_some(), "fmt output does not parse:\n{once}");
            prop_assert_eq!(
                twice.as_deref(),
                Some(once.as_str()),
                "fmt is not idempotent"
            );
        }
    }
    Ok(!checked.has_errors())
}

/// A fuzz case: which seed project, which of its files, and one to five mutations of it.
pub fn strategy() -> impl Strategy<Value = (usize, usize, Vec<Mutation>)> {
    (
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec(mutation(), 1..6),
    )
}

/// Runs fresh random cases for `secs` seconds, printing progress; the first failure (shrunk)
/// is returned as an error.
pub fn run_for(secs: u64) -> Result<u64, String> {
    let start = Instant::now();
    let mut cases = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let config = Config {
            cases: 2_000,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        runner
            .run(&strategy(), |(seed, file, muts)| {
                check_invariants(&mutate(seed, file, &muts)).map(|_| ())
            })
            .map_err(|e| format!("after {cases} cases: {e}"))?;
        cases += 2_000;
        println!(
            "fuzz: {cases} cases, {:.0} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(cases)
}
