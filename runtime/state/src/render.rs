//! Printing a change set the way Terraform users read plans: one block per change with its
//! symbol (`+`, `~`, `-/+`, `-`), the attributes that differ, what it reaches downstream and
//! why it is breaking, then `Plan: A to add, C to change, D to destroy.`

use crate::diff::{Action, ChangeSet, Severity};
use std::fmt::Write as _;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

fn colour(action: Action) -> &'static str {
    match action {
        Action::Create => "\x1b[32m",
        Action::Update => "\x1b[33m",
        Action::Replace => "\x1b[35m",
        Action::Delete => "\x1b[31m",
    }
}

fn phrase(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
    }
}

fn value(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map_or_else(|| "(none)".into(), |v| v.to_string())
}

/// The human form of a change set; ANSI colours when `color`.
pub fn render_changes(cs: &ChangeSet, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    if cs.is_empty() {
        out.push_str("No changes. The specs match the state.\n");
        return out;
    }
    out.push_str("mlpc will perform the following actions:\n");
    for c in &cs.changes {
        out.push('\n');
        let _ = writeln!(out, "  # {} {}", paint(BOLD, &c.id), phrase(c.action));
        for r in &c.reasons {
            let tag = if c.severity == Severity::Breaking {
                "breaking"
            } else {
                "note"
            };
            let _ = writeln!(out, "  # {}: {r}", paint("\x1b[31m", tag));
        }
        let _ = writeln!(
            out,
            "{} {}",
            paint(colour(c.action), &format!("{:>3}", c.action.symbol())),
            c.id
        );
        for d in &c.diffs {
            let sym = match (&d.before, &d.after) {
                (None, Some(_)) => "+",
                (Some(_), None) => "-",
                _ => "~",
            };
            let _ = writeln!(
                out,
                "      {sym} {}: {} -> {}",
                d.path,
                value(&d.before),
                value(&d.after)
            );
        }
        if !c.reaches.is_empty() {
            let _ = writeln!(out, "      reaches: {}", c.reaches.join(", "));
        }
    }
    let s = &cs.summary;
    out.push('\n');
    let _ = write!(
        out,
        "{}",
        paint(
            BOLD,
            &format!(
                "Plan: {} to add, {} to change, {} to destroy.",
                s.add, s.change, s.destroy
            )
        )
    );
    if s.breaking > 0 {
        let _ = write!(
            out,
            " {}",
            paint(
                "\x1b[31m",
                &format!(
                    "{} breaking change{}.",
                    s.breaking,
                    if s.breaking == 1 { "" } else { "s" }
                )
            )
        );
    }
    out.push('\n');
    out
}
