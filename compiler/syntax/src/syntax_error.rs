//! Syntax errors in the user's words: pest's errors turned into diagnostics (E00xx) that say
//! what was expected and what was found, and unterminated strings and blocks found before
//! pest runs.

use crate::ast::DeclKind;
use crate::parse::Rule;
use mlp_diagnostics::{did_you_mean, Diagnostic, FileId, Span};

/// The diagnostic for a string opened and never closed, found before pest runs (pest would
/// report it far from where it starts).
pub(crate) fn unterminated_string(file: FileId, text: &str) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut open: Option<usize> = None;
    while i < bytes.len() {
        match (open, bytes[i]) {
            (None, b'/') if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(text.len(), |n| i + n);
                continue;
            }
            (None, b'"') => open = Some(i),
            (Some(_), b'\\') => i += 1,
            (Some(_), b'"') => open = None,
            (Some(start), b'\n') => return Some(unterminated(file, start, i)),
            _ => {}
        }
        i += 1;
    }
    open.map(|start| unterminated(file, start, text.len()))
}

fn unterminated(file: FileId, start: usize, end: usize) -> Diagnostic {
    Diagnostic::new("E0002", "unterminated string")
        .label(Span::new(file, start, end), "this string is never closed")
        .help("close it with `\"` on the same line; write `\\n` for a newline inside a string")
}

fn rule_name(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::decl_kind => "a declaration (`entity`, `source`, `features`, `model`, ...)",
        Rule::ident | Rule::type_name => "a name",
        Rule::block => "`{`",
        Rule::stmt
        | Rule::check_stmt
        | Rule::require_stmt
        | Rule::step_stmt
        | Rule::field_stmt
        | Rule::attr_stmt
        | Rule::block_stmt => "a statement (`name = value`, `name: type`, `name { ... }`) or `}`",
        Rule::expr
        | Rule::paren
        | Rule::list
        | Rule::number
        | Rule::string
        | Rule::call
        | Rule::path
        | Rule::quantity
        | Rule::rate => "a value",
        Rule::arrow => "`->`",
        Rule::window | Rule::kw_over => "`over`",
        Rule::EOI => "end of file",
        Rule::doc => "a doc comment",
        Rule::arg | Rule::named_arg => "an argument",
        Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div => "an operator",
        _ => return None,
    })
}

fn found_token(text: &str, pos: usize) -> (String, usize) {
    let rest = &text[pos.min(text.len())..];
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (format!("`{}`", &rest[..len]), len)
    } else {
        (format!("`{c}`"), c.len_utf8())
    }
}

/// Turns pest's error into a diagnostic in the user's words: what was found, what was
/// expected there, and a hint where the cause is known (an unclosed block, a keyword).
pub(crate) fn syntax_error(file: FileId, text: &str, e: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let (found, len) = found_token(text, pos);
    let span = Span::new(file, pos, pos + len);
    let positives: Vec<Rule> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    // The last meaningful line before the error, skipping blank lines and plain comments.
    let mut prev_line: Option<(usize, &str)> = None;
    let mut offset = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let mut current = text[offset..pos].trim();
    loop {
        let plain_comment = current.starts_with("//") && !current.starts_with("///");
        if !current.is_empty() && !plain_comment {
            prev_line = Some((offset, current));
            break;
        }
        if offset == 0 {
            break;
        }
        let end = offset - 1;
        offset = text[..end].rfind('\n').map_or(0, |i| i + 1);
        current = text[offset..end].trim();
    }
    if let Some((start, line)) = prev_line {
        if line.starts_with("///") && !line.starts_with("////") {
            let lead = text[start..].len() - text[start..].trim_start().len();
            return Diagnostic::new("E0006", "doc comment that documents nothing")
                .label(Span::new(file, start + lead, start + lead + line.len()), "this doc comment is not followed by a declaration or field")
                .help("write `//` for a plain comment, or move the doc comment above what it documents");
        }
    }
    let decl_start = prev_line.is_none_or(|(_, l)| l.ends_with('}'));
    let top_level = brace_depth(&text[..pos]) == 0;
    if top_level
        && decl_start
        && text[pos..].starts_with(|c: char| c.is_ascii_alphabetic())
        && DeclKind::from_keyword(found.trim_matches('`')).is_none()
    {
        let word = found.trim_matches('`');
        let kinds = DeclKind::ALL.map(DeclKind::keyword);
        let help = match did_you_mean(word, kinds) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("a file holds declarations: {}", kinds.join(", ")),
        };
        return Diagnostic::new("E0007", format!("unknown declaration keyword {found}"))
            .label(span, "expected a declaration here")
            .help(help);
    }
    let mut names: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
    if top_level && (positives.is_empty() || positives == [Rule::file]) {
        names = vec![if decl_start {
            rule_name(Rule::decl_kind).unwrap_or("a declaration")
        } else {
            "`{`"
        }];
    }
    names.dedup();
    names.sort_unstable();
    names.dedup();
    let expected = match names.len() {
        0 => "something else".to_string(),
        1 => names[0].to_string(),
        _ => {
            let (last, rest) = names.split_last().map_or(("", &[][..]), |(l, r)| (*l, r));
            format!("{} or {}", rest.join(", "), last)
        }
    };
    let mut d = Diagnostic::new("E0001", format!("expected {expected}, found {found}"))
        .label(span, format!("unexpected {found}"));
    if found == "`:`" {
        d = d.help("a field is written `name: type`; an attribute `name = value`");
    } else if found == "`=`" && positives.contains(&Rule::block) {
        d = d.help("a declaration is written `kind name { ... }`");
    } else if crate::KEYWORDS.contains(&found.trim_matches('`')) {
        d = d.help(format!(
            "{found} is a reserved word and cannot be used as a name"
        ));
    }
    d
}

/// How many `{` are open at the end of `text` (strings and comments skipped).
fn brace_depth(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut in_str = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_str, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => in_str = false,
            (false, '"') => in_str = true,
            (false, '/') if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            (false, '{') => depth += 1,
            (false, '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}
