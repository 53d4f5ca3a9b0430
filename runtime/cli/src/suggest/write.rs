//! `mlpc suggest --write`: puts a confirmed suggestion into the deployment's spec, as
//! `replicas`, `batching { }` and `resources { }`. Only the values change: an attribute that
//! is there gets its new value in place, one that is not is added at the end of its block,
//! a block that is not there is added at the end of the deployment; then the file goes
//! through the formatter, so every comment stays. The result must check, or nothing is
//! written.

use super::report::Suggestion;
use mlp_diagnostics::FileId;
use mlp_ir::Plan;
use mlp_syntax::ast::{Block, Decl, DeclKind, StmtKind};
use std::path::{Path, PathBuf};

/// One text edit: replace `start..end` with `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Edits that set `key = value` in `block`: in place when it is there, else before its `}`.
fn set_attr(block: &Block, key: &str, value: &str, indent: &str, edits: &mut Vec<Edit>) {
    for s in &block.stmts {
        if let StmtKind::Attr { key: k, value: v } = &s.kind {
            if k.name == key {
                edits.push(Edit {
                    start: v.span.start as usize,
                    end: v.span.end as usize,
                    text: value.to_string(),
                });
                return;
            }
        }
    }
    let at = (block.span.end as usize).saturating_sub(1);
    edits.push(Edit {
        start: at,
        end: at,
        text: format!("{indent}{key} = {value}\n"),
    });
}

/// Edits that set each of `attrs` in the nested block `name` of `body`, adding the block
/// when it is not there.
fn set_block(body: &Block, name: &str, attrs: &[(&str, String)], edits: &mut Vec<Edit>) {
    for s in &body.stmts {
        if let StmtKind::Block { name: n, body: b } = &s.kind {
            if n.name == name {
                for (k, v) in attrs {
                    set_attr(b, k, v, "    ", edits);
                }
                return;
            }
        }
    }
    let at = (body.span.end as usize).saturating_sub(1);
    let mut text = format!("\n  {name} {{\n");
    for (k, v) in attrs {
        text.push_str(&format!("    {k} = {v}\n"));
    }
    text.push_str("  }\n");
    edits.push(Edit {
        start: at,
        end: at,
        text,
    });
}

/// A duration in ms as the language writes it (`2ms`, `0.5ms`).
fn ms_text(ms: f64) -> String {
    let t = format!("{ms}");
    format!("{}ms", t.trim_end_matches(".0"))
}

/// The edits for `s` on deployment `d`.
fn edits_for(d: &Decl, s: &Suggestion) -> Vec<Edit> {
    let mut edits = Vec::new();
    set_attr(
        &d.body,
        "replicas",
        &s.sizing.replicas.to_string(),
        "  ",
        &mut edits,
    );
    set_block(
        &d.body,
        "batching",
        &[
            ("max_batch", s.knobs.max_batch.to_string()),
            ("max_delay", ms_text(s.knobs.max_delay_ms)),
        ],
        &mut edits,
    );
    let cores = s.sizing.cpu_millicores as f64 / 1000.0;
    set_block(
        &d.body,
        "resources",
        &[
            ("cpu", format!("{cores}")),
            ("memory", format!("{}MiB", s.sizing.memory_mib)),
            ("workers", s.knobs.workers.to_string()),
            ("threads", s.knobs.threads.to_string()),
            ("intra_op_threads", s.knobs.intra_op_threads.to_string()),
        ],
        &mut edits,
    );
    edits
}

/// Applies `edits` to `text` (their ranges do not overlap; insertions at one offset keep
/// the order they were made in).
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    // From the end, so that earlier offsets stay valid (the sort is stable: equal offsets
    // stay in the order made).
    edits.sort_by_key(|e| std::cmp::Reverse(e.start));
    let mut out = text.to_string();
    let mut i = 0;
    while i < edits.len() {
        let start = edits[i].start;
        let mut j = i;
        while j + 1 < edits.len() && edits[j + 1].start == start {
            j += 1;
        }
        let end = edits[i..=j].iter().map(|e| e.end).max().unwrap_or(start);
        let joined: String = edits[i..=j].iter().map(|e| e.text.as_str()).collect();
        out.replace_range(start..end, &joined);
        i = j + 1;
    }
    out
}

/// The `.mlp` file of `dir` that declares deployment `name`, with its text.
fn find(dir: &Path, plan: &Plan, name: &str) -> Result<(PathBuf, String), String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(r) = plan.deployment(name) {
        candidates.push(dir.join(&r.origin.file));
    }
    let mut others: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "mlp"))
        .collect();
    others.sort();
    candidates.extend(others);
    for path in candidates {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (ast, _) = mlp_syntax::source_to_ast(FileId(0), &text);
        let declares = ast.is_some_and(|f| {
            f.decls.iter().any(|d| {
                d.kind == DeclKind::Deployment && d.name.as_ref().is_some_and(|n| n.name == name)
            })
        });
        if declares {
            return Ok((path, text));
        }
    }
    Err(format!(
        "no .mlp file in {} declares deployment `{name}`",
        dir.display()
    ))
}

/// The file's text with `s` written into deployment `name`, formatted.
pub fn rewrite(text: &str, name: &str, s: &Suggestion) -> Result<String, String> {
    let (ast, diags) = mlp_syntax::source_to_ast(FileId(0), text);
    let Some(file) = ast else {
        return Err(format!(
            "the file does not parse ({} error(s)); fix it first",
            diags.len()
        ));
    };
    let Some(d) = file.decls.iter().find(|d| {
        d.kind == DeclKind::Deployment && d.name.as_ref().is_some_and(|n| n.name == name)
    }) else {
        return Err(format!("the file does not declare deployment `{name}`"));
    };
    let edited = apply(text, edits_for(d, s));
    mlp_driver::format_source(&edited)
        .ok_or_else(|| "the edited file does not parse (a bug in `suggest --write`)".to_string())
}

/// Writes `s` into deployment `name`'s file in `dir`; the project must still check
/// afterwards, else the file is put back. Answers the file written.
pub fn write_suggestion(
    dir: &Path,
    plan: &Plan,
    name: &str,
    s: &Suggestion,
) -> Result<PathBuf, String> {
    let (path, text) = find(dir, plan, name)?;
    let new = rewrite(&text, name, s)?;
    let write = |t: &str| {
        let tmp = path.with_extension("mlp.tmp");
        std::fs::write(&tmp, t)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&new)?;
    let checked = mlp_driver::check_dir(dir, plan.env.as_deref());
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    if !errors.is_empty() {
        write(&text)?;
        return Err(format!(
            "the written spec did not check, so {} is unchanged: {}",
            path.display(),
            errors.join("; ")
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suggest::report::GpuChoice;
    use crate::suggest::search::{Knobs, Sizing};

    fn suggestion(max_batch: u64, delay: f64) -> Suggestion {
        Suggestion {
            knobs: Knobs {
                workers: 2,
                threads: 1,
                intra_op_threads: 1,
                max_batch,
                max_delay_ms: delay,
                device: "cpu".into(),
            },
            capacity_per_s: 3000.0,
            sizing: Sizing {
                replicas: 3,
                cpu_millicores: 700,
                memory_mib: 432,
                total_cores: 2.1,
                cores_needed: 1.9,
            },
            gpu: GpuChoice {
                use_gpu: false,
                reason: "no GPU".into(),
            },
            why: String::new(),
        }
    }

    const SPEC: &str = "project p {}\n\nrequest r { x: float }\n\nmodel m {\n  inputs = [r.x]\n  output = score: float\n}\n\n// the API\ndeployment d {\n  model = m@1 // pinned\n\n  // batching as measured last spring\n  batching {\n    max_batch = 64 // rows\n    max_delay = 2ms\n  }\n}\n";

    #[test]
    fn values_change_in_place_and_comments_stay() {
        let out = rewrite(SPEC, "d", &suggestion(8, 0.5)).unwrap_or_else(|e| panic!("{e}"));
        for c in [
            "// the API",
            "// pinned",
            "// batching as measured last spring",
            "// rows",
        ] {
            assert!(out.contains(c), "lost {c:?}:\n{out}");
        }
        assert!(out.contains("max_batch = 8"), "{out}");
        assert!(out.contains("max_delay = 0.5ms"), "{out}");
        assert!(out.contains("replicas = 3"), "{out}");
        assert!(out.contains("cpu              = 0.7"), "{out}");
        assert!(out.contains("memory           = 432MiB"), "{out}");
        // Formatted: formatting again changes nothing.
        assert_eq!(
            mlp_driver::format_source(&out).as_deref(),
            Some(out.as_str())
        );
        // It checks, and the plan holds the values.
        let checked = mlp_driver::check_sources(&[("p.mlp".into(), out.clone())], None);
        let plan = checked
            .plan
            .unwrap_or_else(|| panic!("{:?}\n{out}", checked.diagnostics));
        match plan.deployment("d").map(|r| &r.spec) {
            Some(mlp_ir::Spec::Deployment {
                batching: Some(b),
                resources: Some(r),
                replicas,
                ..
            }) => {
                assert_eq!((b.max_batch, b.max_delay_ms), (8, 0.5));
                assert_eq!(*replicas, Some(3));
                assert_eq!(r.cpu, Some(0.7));
                assert_eq!(r.memory_bytes, Some(432 * 1_048_576));
                assert_eq!(
                    (r.workers, r.threads, r.intra_op_threads),
                    (Some(2), Some(1), Some(1))
                );
            }
            other => panic!("{other:?}"),
        }
        // Written twice, the same.
        let again = rewrite(&out, "d", &suggestion(8, 0.5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, out);
    }

    #[test]
    fn no_batching_writes_a_zero_delay_that_checks() {
        let out = rewrite(SPEC, "d", &suggestion(1, 0.0)).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("max_delay = 0ms"), "{out}");
        let checked = mlp_driver::check_sources(&[("p.mlp".into(), out.clone())], None);
        assert!(checked.plan.is_some(), "{:?}", checked.diagnostics);
    }

    #[test]
    fn another_deployment_is_refused() {
        let e = rewrite(SPEC, "nope", &suggestion(8, 0.5)).err();
        assert!(e.is_some_and(|e| e.contains("`nope`")));
    }
}
