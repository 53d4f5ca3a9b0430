//! Diagnostic golden files: every `tests/diagnostics/*.mlp` is a one-file project holding one
//! mistake, with the expected diagnostic written under the bad line as a comment:
//!
//! ```text
//! entity user { key = user_id: in }
//! //                           ^^ E0201
//! ```
//!
//! The carets give the column and length of the primary span on the line above, then the
//! code. Every error must be annotated and every annotation must match; warnings are compared
//! only in files that annotate a warning code.
//!
//! A file `NAME.yaml` next to `NAME.mlp` is the project's environment (checked as
//! `--env golden`); its diagnostics are annotated the same way with `#` comments.

use std::path::Path;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Expect {
    file: String,
    line: usize,
    col: usize,
    len: usize,
    code: String,
}

fn expectations(file: &str, text: &str, comment: &str) -> Vec<Expect> {
    let mut out = Vec::new();
    let mut last_code_line = 0;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let caret = t
            .strip_prefix(comment)
            .map(str::trim_start)
            .filter(|r| r.starts_with('^'));
        match caret {
            Some(rest) => {
                let col = line.find('^').unwrap_or(0);
                let len = rest.chars().take_while(|c| *c == '^').count();
                let code = rest
                    .trim_start_matches('^')
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string();
                out.push(Expect {
                    file: file.to_string(),
                    line: last_code_line,
                    col,
                    len,
                    code,
                });
            }
            None => last_code_line = i + 1,
        }
    }
    out.sort();
    out
}

#[test]
fn golden_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("diagnostics");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|x| x == "mlp"));
    files.sort();
    assert!(files.len() >= 30, "only {} golden files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut sources = vec![(name.clone(), text.clone())];
        if !text.contains("project ") {
            sources.push((
                "zz_prelude.mlp".to_string(),
                "project golden {}\n".to_string(),
            ));
        }
        let yaml = std::fs::read_to_string(path.with_extension("yaml")).ok();
        let checked = mlp_driver::check_sources(&sources, yaml.as_deref().map(|y| ("golden", y)));
        let mut expected = expectations(&name, &text, "//");
        if let Some(y) = &yaml {
            expected.extend(expectations("env/golden.yaml", y, "#"));
            expected.sort();
        }
        if expected.is_empty() {
            failures.push(format!("{name} has no expected diagnostic"));
        }
        let warnings_too = expected.iter().any(|e| {
            mlp_diagnostics::lookup(&e.code)
                .is_some_and(|c| c.severity == mlp_diagnostics::Severity::Warning)
        });
        let mut actual = Vec::new();
        for d in &checked.diagnostics {
            if !d.is_error() && !warnings_too {
                continue;
            }
            let Some(span) = d.primary() else {
                failures.push(format!("{name}: {} has no span: {}", d.code, d.message));
                continue;
            };
            let Some(f) = checked.map.get(span.file) else {
                failures.push(format!("{name}: {} points at no file", d.code));
                continue;
            };
            let lc = f.line_col(span.start as usize);
            let line_start = f.line_start(lc.line);
            let line_end = f.text[line_start..]
                .find('\n')
                .map_or(f.text.len(), |n| line_start + n);
            let end = (span.end as usize).min(line_end).max(span.start as usize);
            let col = f.text[line_start..span.start as usize].chars().count();
            let len = f.text[span.start as usize..end].chars().count();
            actual.push(Expect {
                file: f.name.clone(),
                line: lc.line,
                col,
                len,
                code: d.code.to_string(),
            });
        }
        actual.sort();
        if actual != expected {
            let msgs: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", d.code, d.message))
                .collect();
            failures.push(format!(
                "{name}:\n  expected {expected:?}\n  actual   {actual:?}\n  messages {msgs:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
