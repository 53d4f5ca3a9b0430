//! The one diagnostic model shared by every phase of mlp: a code, a severity, a message,
//! labelled spans, help and related notes; rendered for people through miette and for
//! editors as JSON (`specs/diagnostics.schema.json`).

mod codes;
mod render;
mod source;

pub use codes::{explain, lookup, CodeInfo, Phase, CODES};
pub use render::{render_human, render_json, JsonReport};
pub use source::{FileId, LineCol, SourceFile, SourceMap, Span};

use serde::Serialize;

/// How serious a diagnostic is. Errors make `mlpc check` exit 1; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something the user may want to fix; does not fail the check.
    Warning,
    /// The project cannot be planned until this is fixed.
    Error,
}

/// A message attached to a span of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where the label points.
    pub span: Span,
    /// What the label says at that place (may be empty).
    pub message: String,
}

/// One finding of the compiler, with a stable code (`E0101`) documented in `docs/errors/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code such as `E0101`; see [`CODES`].
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line summary, lower case, no trailing period.
    pub message: String,
    /// The first label is the primary one: it gives the diagnostic its file, line and column.
    pub labels: Vec<Label>,
    /// A suggestion on how to fix it.
    pub help: Option<String>,
    /// Further places that explain the problem (the first definition of a duplicate, ...).
    pub related: Vec<Label>,
}

impl Diagnostic {
    /// An error with `code` and `message`; the severity comes from the code's table entry.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let severity = lookup(code).map_or(Severity::Error, |c| c.severity);
        Diagnostic {
            code,
            severity,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds a label at `span` (the first one added is the primary label).
    pub fn label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help text when there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Adds a related note pointing elsewhere (often in another file).
    pub fn related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// The primary span, if any label was given.
    pub fn primary(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collects the diagnostics of a run: every phase pushes here and keeps going, so that one
/// run reports all problems, not only the first.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    /// Adds all of `other`.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }
    /// True when at least one error was reported.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }
    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }
    /// The diagnostics in a stable order: by file, then position, then code.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| {
            let s = d.primary().unwrap_or_default();
            (s.file, s.start, s.end, d.code)
        });
        self.items.dedup();
        self.items
    }
    /// The diagnostics as pushed.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Edit distance suggestion: the candidate closest to `name`, if it is close enough to be a
/// plausible typo ("did you mean ...?").
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(&str, usize)> = None;
    for c in candidates {
        let d = strsim::levenshtein(&name.to_lowercase(), &c.to_lowercase());
        let limit = (name.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((c, d));
        }
    }
    best.map(|(c, _)| c)
}

/// `did you mean `x`?` for the closest candidate, as help text.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let c = ["user_stats", "merchant_profile", "checkout"];
        assert_eq!(did_you_mean("user_stat", c), Some("user_stats"));
        assert_eq!(did_you_mean("chekout", c), Some("checkout"));
        assert_eq!(did_you_mean("zzz", c), None);
    }
}
