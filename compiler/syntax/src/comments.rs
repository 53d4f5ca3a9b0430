//! Finds the plain `//` comments of a file (the grammar skips them) so that the formatter can
//! put them back. Strings are skipped so that `"http://x"` is not a comment.

use crate::ast::Comment;
use mlp_diagnostics::{FileId, Span};

/// Every `//` comment (not `///` doc comments) in `text`, in order.
pub fn scan(file: FileId, text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            let is_doc = text[i..].starts_with("///") && !text[i..].starts_with("////");
            if !is_doc {
                // The span stops at the last visible character (trailing blanks and a `\r`
                // excluded), where the parser's trimmed statement spans look for it.
                let text = text[i..end].trim_end();
                out.push(Comment {
                    span: Span::new(file, i, i + text.len()),
                    text: text.to_string(),
                });
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_but_not_docs_or_strings() {
        let c = scan(FileId(0), "/// doc\na = \"http://x\" // yes\n//// also\n");
        let texts: Vec<_> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["// yes", "//// also"]);
    }
}
