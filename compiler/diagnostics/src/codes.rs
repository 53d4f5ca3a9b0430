//! The table of diagnostic codes, grouped by phase, generated from `codes.txt`; each code's
//! long explanation is `docs/errors/CODE.md`, shown by `mlpc explain CODE`.

use crate::Severity;
use serde::Serialize;

/// The compiler phase a code belongs to; the code's hundreds digit says the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// E00xx: reading files and parsing.
    Syntax,
    /// E01xx: declarations, attributes and name resolution.
    Names,
    /// E02xx: types and units.
    Types,
    /// E03xx: the graph of models, pipelines and deployments.
    Graph,
    /// E04xx: environment values from YAML.
    Env,
    /// E06xx: warnings about unused or unreachable declarations.
    Lint,
    /// E07xx: accepted by the language, not run by this version of the runtime.
    Runtime,
}

/// One entry of the code table.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    /// `E0101`.
    pub code: &'static str,
    /// Severity every diagnostic with this code has.
    pub severity: Severity,
    /// Phase that reports it.
    pub phase: Phase,
    /// Short title.
    pub title: &'static str,
    /// Markdown explanation (`docs/errors/CODE.md`).
    pub doc: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/codes_table.rs"));

/// The table entry of `code` (case-insensitive), if it exists.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// The explanation of `code` for `mlpc explain`.
pub fn explain(code: &str) -> Option<&'static str> {
    lookup(code).map(|c| c.doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_with_an_explanation_and_a_fix() {
        assert!(CODES.len() >= 60);
        for c in CODES {
            let head = format!("# {}: {}\n", c.code, c.title);
            assert!(
                c.doc.starts_with(&head),
                "{}: doc must start with {head:?}",
                c.code
            );
            assert!(
                c.doc.contains("## How to fix"),
                "{}: no `## How to fix`",
                c.code
            );
            assert!(
                c.doc.len() > head.len() + 120,
                "{}: explanation too short",
                c.code
            );
        }
    }

    #[test]
    fn codes_are_unique_and_grouped_by_phase() {
        let mut seen = std::collections::HashSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "{} twice", c.code);
            let group = match c.phase {
                Phase::Syntax => "E00",
                Phase::Names => "E01",
                Phase::Types => "E02",
                Phase::Graph => "E03",
                Phase::Env => "E04",
                Phase::Lint => "E06",
                Phase::Runtime => "E07",
            };
            assert!(c.code.starts_with(group), "{} is not in {group}xx", c.code);
            assert_eq!(
                c.severity == Severity::Warning,
                c.phase == Phase::Lint || c.code == "E0405"
            );
        }
        assert_eq!(lookup("e0101").map(|c| c.code), Some("E0101"));
        assert!(lookup("E9999").is_none());
    }
}
