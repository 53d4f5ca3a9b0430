//! Rendering diagnostics: for people through miette's graphical handler, for editors and
//! tools as JSON following `specs/diagnostics.schema.json`.

use crate::{Diagnostic, Label, Severity, SourceMap};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// A diagnostic in the shape miette renders: one source file, its labels, related notes.
#[derive(Debug)]
struct Human {
    message: String,
    code: Option<&'static str>,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Human>,
}

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Human {}

impl miette::Diagnostic for Human {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn to_human(d: &Diagnostic, map: &SourceMap) -> Human {
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let file = d
        .primary()
        .and_then(|s| map.get(s.file).map(|f| (s.file, f)));
    let mut labels = Vec::new();
    let mut related = Vec::new();
    for (i, l) in d.labels.iter().enumerate() {
        if file.is_some_and(|(id, _)| id == l.span.file) {
            let msg = (!l.message.is_empty()).then(|| l.message.clone());
            let span = (l.span.start as usize, (l.span.end - l.span.start) as usize);
            labels.push(if i == 0 {
                LabeledSpan::new_primary_with_span(msg, span)
            } else {
                LabeledSpan::new_with_span(msg, span)
            });
        } else {
            related.push(note(l, map, severity));
        }
    }
    related.extend(
        d.related
            .iter()
            .map(|l| note(l, map, miette::Severity::Advice)),
    );
    Human {
        message: d.message.clone(),
        code: Some(d.code),
        severity,
        help: d.help.clone(),
        source: file.map(|(_, f)| NamedSource::new(f.name.clone(), f.text.clone())),
        labels,
        related,
    }
}

fn note(l: &Label, map: &SourceMap, severity: miette::Severity) -> Human {
    let source = map
        .get(l.span.file)
        .map(|f| NamedSource::new(f.name.clone(), f.text.clone()));
    let span = (l.span.start as usize, (l.span.end - l.span.start) as usize);
    Human {
        message: if l.message.is_empty() {
            "related".into()
        } else {
            l.message.clone()
        },
        code: None,
        severity,
        help: None,
        source,
        labels: vec![LabeledSpan::new_primary_with_span(None, span)],
        related: Vec::new(),
    }
}

/// Renders for a terminal or a log: miette's graphical report, coloured when `color`.
pub fn render_human(diags: &[Diagnostic], map: &SourceMap, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for d in diags {
        let h = to_human(d, map);
        if handler.render_report(&mut out, &h).is_err() {
            out.push_str(&format!(
                "{}[{}]: {}\n",
                if d.is_error() { "error" } else { "warning" },
                d.code,
                d.message
            ));
        }
        out.push('\n');
    }
    out
}

/// A position range in the JSON output: 1-based lines and columns, end exclusive.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonRange {
    /// File as named on the command line's project.
    pub file: String,
    /// 1-based first line.
    pub line: usize,
    /// 1-based first column (Unicode scalar values).
    pub column: usize,
    /// 1-based last line.
    pub end_line: usize,
    /// 1-based column just past the end.
    pub end_column: usize,
}

/// A label in the JSON output.
#[derive(Debug, Serialize)]
pub struct JsonLabel {
    /// Where.
    #[serde(flatten)]
    pub range: JsonRange,
    /// What it says.
    pub message: String,
}

/// One diagnostic in the JSON output.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    /// Stable code.
    pub code: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Summary.
    pub message: String,
    /// The primary position.
    #[serde(flatten)]
    pub range: JsonRange,
    /// Every label, primary first.
    pub labels: Vec<JsonLabel>,
    /// Suggestion, or null.
    pub help: Option<String>,
    /// Related places.
    pub related: Vec<JsonLabel>,
}

/// The whole JSON document printed by `mlpc check --format json`.
#[derive(Debug, Serialize)]
pub struct JsonReport {
    /// Schema version of this document.
    pub version: u32,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<JsonDiagnostic>,
    /// Number of errors.
    pub errors: usize,
    /// Number of warnings.
    pub warnings: usize,
}

fn range(span: crate::Span, map: &SourceMap) -> JsonRange {
    match map.get(span.file) {
        Some(f) => {
            let a = f.line_col(span.start as usize);
            let b = f.line_col(span.end as usize);
            JsonRange {
                file: f.name.clone(),
                line: a.line,
                column: a.column,
                end_line: b.line,
                end_column: b.column,
            }
        }
        None => JsonRange {
            file: String::new(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        },
    }
}

fn json_label(l: &Label, map: &SourceMap) -> JsonLabel {
    JsonLabel {
        range: range(l.span, map),
        message: l.message.clone(),
    }
}

/// Builds the JSON report (see [`JsonReport`]).
pub fn render_json(diags: &[Diagnostic], map: &SourceMap) -> JsonReport {
    let diagnostics = diags
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            range: range(d.primary().unwrap_or_default(), map),
            labels: d.labels.iter().map(|l| json_label(l, map)).collect(),
            help: d.help.clone(),
            related: d.related.iter().map(|l| json_label(l, map)).collect(),
        })
        .collect();
    let errors = diags.iter().filter(|d| d.is_error()).count();
    JsonReport {
        version: 1,
        diagnostics,
        errors,
        warnings: diags.len() - errors,
    }
}
