//! `mlpc fmt` is idempotent and meaning-preserving: on every example and every golden file
//! that parses, `fmt(fmt(x)) == fmt(x)`, and the formatted project gives the same plan
//! (resources, hashes, docs and edges; only source positions move) and the same diagnostic
//! codes. A property test re-indents files at random and demands the same formatted text and
//! the same plan.

use mlp_tests::corpus::{self, Project};
use proptest::prelude::*;

/// Per resource: id, hash, doc and file.
type ResourceKey = (String, String, String, String);

/// What formatting must not change: every resource's id, hash, doc and file, and the edges.
fn plan_fingerprint(p: &Project) -> Option<(Vec<ResourceKey>, Vec<String>)> {
    let plan = p.check().plan?;
    let res = plan
        .resources()
        .map(|r| {
            (
                r.id.clone(),
                r.hash.clone(),
                r.doc.clone(),
                r.origin.file.clone(),
            )
        })
        .collect();
    let edges = plan
        .edges()
        .iter()
        .map(|e| format!("{} -> {} ({:?})", e.from, e.to, e.kind))
        .collect();
    Some((res, edges))
}

fn codes(p: &Project) -> Vec<&'static str> {
    let mut c: Vec<_> = p.check().diagnostics.iter().map(|d| d.code).collect();
    c.sort_unstable();
    c
}

/// The project with every file formatted; `None` when a file does not parse.
fn formatted(p: &Project) -> Option<Project> {
    let mut out = p.clone();
    for (_, text) in &mut out.files {
        *text = mlp_driver::format_source(text)?;
    }
    Some(out)
}

#[test]
fn fmt_is_idempotent_and_keeps_the_plan_on_the_whole_corpus() {
    let mut parsed = 0;
    let mut with_plan = 0;
    for p in corpus::all() {
        let Some(once) = formatted(&p) else { continue };
        parsed += 1;
        let twice =
            formatted(&once).unwrap_or_else(|| panic!("{}: fmt output does not parse", p.name));
        for ((name, a), (_, b)) in once.files.iter().zip(&twice.files) {
            assert_eq!(a, b, "{}/{name}: fmt is not idempotent", p.name);
        }
        let before = plan_fingerprint(&p);
        assert_eq!(
            before,
            plan_fingerprint(&once),
            "{}: fmt changed the plan",
            p.name
        );
        with_plan += usize::from(before.is_some());
        assert_eq!(
            codes(&p),
            codes(&once),
            "{}: fmt changed the diagnostics",
            p.name
        );
    }
    // The examples and most golden files (the semantic ones) parse; the examples plan.
    assert!(parsed >= 40, "only {parsed} projects parse");
    assert!(with_plan >= 1, "no project planned");
}

#[test]
fn the_examples_are_already_formatted() {
    for p in corpus::examples() {
        for (name, text) in &p.files {
            let f =
                mlp_driver::format_source(text).unwrap_or_else(|| panic!("{name} does not parse"));
            assert_eq!(
                &f, text,
                "{}/{name} is not in canonical layout: run `mlpc fmt`",
                p.name
            );
        }
    }
}

/// Replaces the indentation of each line (outside no string: mlp strings are one line) by
/// `indents[i % len]` spaces or tabs.
fn reindent(text: &str, indents: &[(u8, bool)]) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            let (n, tab) = indents[i % indents.len()];
            let pad = if tab { "\t" } else { " " }.repeat(n as usize);
            format!("{pad}{}", line.trim_start_matches([' ', '\t']))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parsing_projects() -> &'static [Project] {
    static P: std::sync::OnceLock<Vec<Project>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        corpus::all()
            .into_iter()
            .filter(|p| formatted(p).is_some())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indentation_never_changes_the_formatted_text_or_the_plan(
        which in any::<usize>(),
        indents in prop::collection::vec((0u8..9, any::<bool>()), 1..12),
    ) {
        let all = parsing_projects();
        let p = &all[which % all.len()];
        let mut messy = p.clone();
        for (_, text) in &mut messy.files {
            *text = reindent(text, &indents);
        }
        let a = formatted(p);
        let b = formatted(&messy);
        prop_assert!(b.is_some(), "re-indented {} does not parse", p.name);
        let (a, b) = (a.map(|x| x.files), b.map(|x| x.files));
        prop_assert_eq!(a, b);
        prop_assert_eq!(plan_fingerprint(p), plan_fingerprint(&messy));
    }
}
