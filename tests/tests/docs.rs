//! The reference documents stay true: every `mlp` example in the language reference parses,
//! the generated stdlib page and the error-code index match the code, and every code has its
//! page in `docs/errors/`.

use mlp_tests::corpus::repo_root;

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The fenced code blocks of `lang` in a markdown text, with their starting lines.
fn code_blocks(md: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in md.lines().enumerate() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some((i + 2, String::new())),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn every_example_in_the_language_reference_parses() {
    let md = read("specs/language.md");
    let blocks = code_blocks(&md, "mlp");
    assert!(blocks.len() >= 12, "only {} examples", blocks.len());
    for (line, text) in &blocks {
        let (ast, diags) = mlp_syntax::source_to_ast(mlp_diagnostics::FileId(0), text);
        assert!(
            ast.is_some() && diags.is_empty(),
            "specs/language.md:{line}: example does not parse: {:?}",
            diags.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
    }
    // Every declaration keyword has an example.
    for kw in [
        "project",
        "env",
        "entity",
        "source",
        "features",
        "request",
        "model",
        "pipeline",
        "deployment",
        "monitor",
        "consumer",
    ] {
        assert!(
            blocks
                .iter()
                .any(|(_, t)| t.lines().any(|l| l.starts_with(&format!("{kw} ")))),
            "no example of `{kw}`"
        );
    }
}

#[test]
fn stdlib_page_is_generated_from_the_stdlib() {
    assert_eq!(
        read("docs/stdlib.md"),
        mlp_stdlib::markdown(),
        "docs/stdlib.md is stale: run `mlpc stdlib > docs/stdlib.md`"
    );
}

#[test]
fn error_code_index_and_pages_cover_every_code() {
    let index = read("specs/error-codes.md");
    let mut pages: Vec<String> = std::fs::read_dir(repo_root().join("docs/errors"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .trim_end_matches(".md")
                .to_string()
        })
        .collect();
    pages.sort();
    let mut codes: Vec<String> = Vec::new();
    for c in mlp_diagnostics::CODES {
        let row = format!(
            "| [{0}](../docs/errors/{0}.md) | {1} | {2} |",
            c.code,
            if c.severity == mlp_diagnostics::Severity::Error {
                "error"
            } else {
                "warning"
            },
            c.title
        );
        assert!(
            index.contains(&row),
            "specs/error-codes.md lacks the row {row}"
        );
        codes.push(c.code.to_string());
    }
    codes.sort();
    assert_eq!(
        pages, codes,
        "docs/errors/ must hold exactly one page per code"
    );
}
