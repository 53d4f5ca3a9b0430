//! Where the cursor is, read from the text alone (it is being typed, so it rarely parses):
//! the blocks around it, the statement it is in up to the cursor, the attribute that
//! statement assigns and the calls left open. Strings and `//` comments are skipped; every
//! step is a whole `char`, so no offset falls inside one.

use mlp_syntax::ast::DeclKind;

/// A block around the cursor: the words before its `{` (`["features", "user_stats"]`,
/// `["sla"]`, `["step", "train"]`) and the byte offset of the `{`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The words of the statement that opened the block.
    pub head: Vec<String>,
    /// Byte offset of its `{`.
    pub open: usize,
}

/// A call or list left open before the cursor, with how many `,` it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The name written just before `(` (empty for a parenthesis or a list `[`).
    pub name: String,
    /// `(` or `[`.
    pub bracket: char,
    /// The index of the argument the cursor is in.
    pub arg: usize,
    /// The text of the current argument up to the cursor.
    pub arg_text: String,
}

/// What surrounds byte `at` of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The blocks around the cursor, outermost first.
    pub frames: Vec<Frame>,
    /// The statement from its start to the cursor (comments left out).
    pub stmt: String,
    /// The calls and lists left open in the statement, outermost first.
    pub open: Vec<Open>,
    /// The cursor is inside a string literal.
    pub in_string: bool,
    /// The cursor is inside a `//` comment.
    pub in_comment: bool,
    /// Byte offset where the statement starts (the cursor when none has started).
    pub stmt_start: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier that `s` ends with (possibly empty).
pub fn trailing_word(s: &str) -> &str {
    let start = s
        .char_indices()
        .rev()
        .find(|(_, c)| !is_name_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    s.get(start..).unwrap_or("")
}

/// Reads `text` up to byte `at` (clamped, and moved back to a character boundary).
pub fn at(text: &str, at: usize) -> Context {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let mut cx = Context::default();
    let mut chars = text[..at].char_indices().peekable();
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if cx.stmt.is_empty() {
            cx.stmt_start = i;
        }
        if cx.in_comment {
            if c == '\n' {
                cx.in_comment = false;
                cx.newline();
            }
            continue;
        }
        if cx.in_string {
            cx.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                cx.in_string = false;
            }
            continue;
        }
        match c {
            '/' if chars.peek().is_some_and(|(_, n)| *n == '/') => cx.in_comment = true,
            '"' => {
                cx.in_string = true;
                cx.push(c);
            }
            '{' => {
                let head = cx.stmt.split_whitespace().map(str::to_string).collect();
                cx.frames.push(Frame { head, open: i });
                cx.reset();
            }
            '}' => {
                cx.frames.pop();
                cx.reset();
            }
            '\n' => cx.newline(),
            '(' | '[' => {
                let name = trailing_word(cx.stmt.trim_end()).to_string();
                let name = if c == '[' { String::new() } else { name };
                cx.push(c);
                cx.open.push(Open {
                    name,
                    bracket: c,
                    arg: 0,
                    arg_text: String::new(),
                });
            }
            ')' | ']' => {
                cx.open.pop();
                cx.push(c);
            }
            ',' => {
                cx.push(c);
                if let Some(o) = cx.open.last_mut() {
                    o.arg += 1;
                    o.arg_text.clear();
                }
            }
            _ => cx.push(c),
        }
    }
    if cx.stmt.is_empty() {
        cx.stmt_start = at;
    }
    cx
}

impl Context {
    fn push(&mut self, c: char) {
        self.stmt.push(c);
        if let Some(o) = self.open.last_mut() {
            o.arg_text.push(c);
        }
    }

    fn reset(&mut self) {
        self.stmt.clear();
        self.open.clear();
    }

    /// A line ends a statement unless a call or list is open.
    fn newline(&mut self) {
        if self.open.is_empty() {
            self.reset();
        } else {
            self.push(' ');
        }
    }

    /// The declaration the cursor is in, with its name.
    pub fn decl(&self) -> Option<(DeclKind, Option<&str>)> {
        let f = self.frames.first()?;
        let kind = DeclKind::from_keyword(f.head.first()?)?;
        Some((kind, f.head.get(1).map(String::as_str)))
    }

    /// The checker's schema name of the innermost block (`feature view`, `sla`, `step`);
    /// `None` at the top level.
    pub fn block(&self) -> Option<String> {
        let (kind, _) = self.decl()?;
        let inner = self.frames.last()?;
        if self.frames.len() == 1 {
            return Some(match kind {
                DeclKind::Env => "env block".into(),
                DeclKind::Features => "feature view".into(),
                other => other.keyword().into(),
            });
        }
        inner.head.first().cloned()
    }

    /// The attribute the statement assigns (`entity` in `entity = us`).
    pub fn key(&self) -> Option<&str> {
        let (key, rest) = self.stmt.split_once('=')?;
        let key = key.trim();
        let ok = !key.is_empty()
            && key.chars().all(is_name_char)
            && !key.starts_with(|c: char| c.is_ascii_digit());
        // `a == b` is a comparison, not an attribute.
        (ok && !rest.starts_with('=')).then_some(key)
    }

    /// The statement's first word (`check`, `require`, an attribute or a field name).
    pub fn first_word(&self) -> &str {
        let s = self.stmt.trim_start();
        let end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
        &s[..end]
    }

    /// A field being defined: `name: type = ` (the value is being typed).
    pub fn in_field_value(&self) -> bool {
        let Some((before, _)) = self.stmt.split_once('=') else {
            return false;
        };
        match before.split_once(':') {
            Some((name, ty)) => {
                let name = name.trim();
                let ty = ty.trim();
                !name.is_empty()
                    && name.chars().all(is_name_char)
                    && !ty.is_empty()
                    && ty.chars().all(is_name_char)
            }
            None => false,
        }
    }

    /// The statement is past `over` in a field (`... over 7`).
    pub fn in_window(&self) -> bool {
        self.in_field_value()
            && self
                .stmt
                .split(|c: char| !is_name_char(c))
                .any(|w| w == "over")
    }

    /// The innermost open call.
    pub fn call(&self) -> Option<&Open> {
        self.open.iter().rev().find(|o| o.bracket == '(')
    }
}

/// The attribute keys written directly in the block whose `{` is at byte `open` of `text`
/// (`source` in a feature view), to the block's `}` or the end of the text.
pub fn block_keys(text: &str, open: usize) -> Vec<String> {
    let Some(body) = text.get(open + 1..) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut parens = 0usize;
    let mut line = String::new();
    let mut in_string = false;
    let mut in_comment = false;
    let mut chars = body.chars().peekable();
    let flush = |line: &mut String, keys: &mut Vec<String>| {
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            if !v.starts_with('=') && !k.is_empty() && k.chars().all(is_name_char) {
                keys.push(k.to_string());
            }
        }
        line.clear();
    };
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
                if parens == 0 {
                    flush(&mut line, &mut keys);
                }
            }
            continue;
        }
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => in_comment = true,
            '"' => in_string = true,
            '{' => {
                depth += 1;
                line.clear();
            }
            '}' if depth == 0 => break,
            '}' => {
                depth -= 1;
                line.clear();
            }
            '(' | '[' => parens += 1,
            ')' | ']' => parens = parens.saturating_sub(1),
            '\n' if parens == 0 => {
                if depth == 0 {
                    flush(&mut line, &mut keys);
                }
                line.clear();
            }
            _ if depth == 0 && parens == 0 => line.push(c),
            _ => {}
        }
    }
    if depth == 0 {
        flush(&mut line, &mut keys);
    }
    keys
}

/// The declarations written at the top level of `text` (`features user_stats {`), for a
/// document that does not parse.
pub fn declared(text: &str) -> Vec<(DeclKind, String)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut stmt = String::new();
    let mut in_string = false;
    let mut in_comment = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => in_comment = true,
            '"' => in_string = true,
            '{' => {
                if depth == 0 {
                    let words: Vec<&str> = stmt.split_whitespace().collect();
                    if let [kw, name] = words.as_slice() {
                        if let Some(k) = DeclKind::from_keyword(kw) {
                            out.push((k, name.to_string()));
                        }
                    }
                }
                depth += 1;
                stmt.clear();
            }
            '}' => {
                depth = depth.saturating_sub(1);
                stmt.clear();
            }
            '\n' if depth == 0 => stmt.clear(),
            _ if depth == 0 => stmt.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_statements_and_calls() {
        let text = "features v {\n  source = tx // a comment {\n  n: int = count(*) over 7";
        let cx = at(text, text.len());
        assert_eq!(cx.block().as_deref(), Some("feature view"));
        assert_eq!(cx.decl(), Some((DeclKind::Features, Some("v"))));
        assert!(cx.in_field_value() && cx.in_window());
        assert!(cx.open.is_empty());
        assert_eq!(
            block_keys(text, text.find('{').unwrap_or(0)),
            vec!["source"]
        );

        let text = "deployment d {\n  sla {\n    latency_p99 = 2";
        let cx = at(text, text.len());
        assert_eq!(cx.block().as_deref(), Some("sla"));
        assert_eq!(cx.key(), Some("latency_p99"));

        let text = "deployment d {\n  model = route(\n    by = m@production,\n    then = combine(";
        let cx = at(text, text.len());
        assert_eq!(cx.key(), Some("model"));
        assert_eq!(
            cx.call().map(|o| (o.name.as_str(), o.arg)),
            Some(("combine", 0))
        );
        assert_eq!(cx.open.len(), 2);

        let cx = at("monitor m {\n  labels = \"a b", 24);
        assert!(cx.in_string);
        // Not on a character boundary: moved back, no panic.
        let cx = at("é", 1);
        assert!(cx.frames.is_empty());
        assert_eq!(
            declared("entity u {\n key = id: int\n}\nfeatures v {\n"),
            vec![
                (DeclKind::Entity, "u".to_string()),
                (DeclKind::Features, "v".to_string())
            ]
        );
    }
}
