//! `ast_to_source`: prints a file in the canonical layout (two-space indent, one statement a
//! line, `=` aligned in runs of attributes, one blank line between declarations) keeping every
//! comment. Printing its own output again gives the same text.

use crate::ast::*;

/// Formats `file` (parsed from `src`) canonically.
pub fn ast_to_source(file: &File, src: &str) -> String {
    let mut p = Printer {
        src,
        out: String::new(),
        comments: &file.comments,
        next: 0,
    };
    for (i, d) in file.decls.iter().enumerate() {
        if i > 0 {
            p.out.push('\n');
        }
        p.leading_comments(d.span.start as usize, 0, true);
        p.decl(d);
        let limit = file
            .decls
            .get(i + 1)
            .map_or(usize::MAX, |n| n.span.start as usize);
        p.trailing_comment(d.span.end as usize, limit);
        p.out.push('\n');
    }
    p.leading_comments(src.len() + 1, 0, file.decls.is_empty());
    p.out
}

struct Printer<'a> {
    src: &'a str,
    out: String,
    comments: &'a [Comment],
    next: usize,
}

const INDENT: &str = "  ";
const MAX_WIDTH: usize = 100;

impl Printer<'_> {
    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str(INDENT);
        }
    }

    fn blank_between(&self, a: usize, b: usize) -> bool {
        self.src
            .get(a.min(b)..b)
            .is_some_and(|s| s.matches('\n').count() >= 2)
    }

    /// Emits every comment starting before `pos` on lines of its own.
    fn leading_comments(&mut self, pos: usize, level: usize, first_in_block: bool) {
        let mut prev_end: Option<usize> = None;
        while let Some(c) = self.comments.get(self.next) {
            let start = c.span.start as usize;
            if start >= pos {
                break;
            }
            let blank = prev_end.map_or(!first_in_block && self.blank_before(start), |e| {
                self.blank_between(e, start)
            });
            if blank && !self.out.ends_with("\n\n") && !self.out.is_empty() {
                self.out.push('\n');
            }
            self.indent(level);
            self.out.push_str(&c.text);
            self.out.push('\n');
            prev_end = Some(c.span.end as usize);
            self.next += 1;
        }
        if let Some(e) = prev_end {
            if self.blank_between(e, pos.min(self.src.len())) {
                self.out.push('\n');
            }
        }
    }

    fn blank_before(&self, start: usize) -> bool {
        let before = &self.src[..start.min(self.src.len())];
        let trimmed = before.trim_end_matches([' ', '\t']);
        trimmed.ends_with("\n\n") || trimmed.ends_with("\n\r\n")
    }

    /// Appends a comment that starts on the same line after `end`.
    fn trailing_comment(&mut self, end: usize, limit: usize) {
        if let Some(c) = self.comments.get(self.next) {
            let start = c.span.start as usize;
            if start >= end
                && start < limit
                && !self.src.get(end..start).unwrap_or("\n").contains('\n')
            {
                self.out.push(' ');
                self.out.push_str(&c.text);
                self.next += 1;
            }
        }
    }

    fn docs(&mut self, docs: &[Doc], level: usize) {
        for d in docs {
            self.indent(level);
            if d.text.is_empty() {
                self.out.push_str("///\n");
            } else {
                self.out.push_str("/// ");
                self.out.push_str(&d.text);
                self.out.push('\n');
            }
        }
    }

    fn decl(&mut self, d: &Decl) {
        self.docs(&d.docs, 0);
        self.out.push_str(d.kind.keyword());
        if let Some(n) = &d.name {
            self.out.push(' ');
            self.out.push_str(&n.name);
        }
        self.out.push(' ');
        self.block(&d.body, 0);
    }

    fn block(&mut self, b: &Block, level: usize) {
        let has_comments = self
            .comments
            .get(self.next)
            .is_some_and(|c| c.span.start < b.span.end);
        if b.stmts.is_empty() && !has_comments {
            self.out.push_str("{}");
            return;
        }
        self.out.push('{');
        let open_end = b.span.start as usize + 1;
        let first = b
            .stmts
            .first()
            .map_or(usize::MAX, |s| s.span.start as usize);
        self.trailing_comment(open_end, first);
        self.out.push('\n');
        let widths = attr_runs(&b.stmts, self.src, self.comments);
        let mut prev_end = open_end;
        for (i, s) in b.stmts.iter().enumerate() {
            let start = s.span.start as usize;
            let had_comment = self
                .comments
                .get(self.next)
                .is_some_and(|c| (c.span.start as usize) < start);
            if had_comment {
                self.leading_comments(
                    start,
                    level + 1,
                    i == 0 && !self.blank_between(prev_end, self.comment_start()),
                );
            } else if i > 0 && self.blank_between(prev_end, start) {
                self.out.push('\n');
            }
            // Comments inside an expression cannot stay there; they go above the statement.
            let leaf = !matches!(s.kind, StmtKind::Block { .. } | StmtKind::Step { .. });
            if leaf && self.comment_start() < s.span.end as usize {
                self.hoisted_comments(s.span.end as usize, level + 1);
            }
            self.stmt(s, level + 1, widths[i]);
            let limit = b
                .stmts
                .get(i + 1)
                .map_or(b.span.end as usize, |n| n.span.start as usize);
            self.trailing_comment(s.span.end as usize, limit);
            self.out.push('\n');
            prev_end = s.span.end as usize;
        }
        let close = (b.span.end as usize).saturating_sub(1);
        self.leading_comments(close, level + 1, b.stmts.is_empty());
        self.indent(level);
        self.out.push('}');
    }

    /// Emits every comment starting before `end` on lines of its own, without blank lines.
    fn hoisted_comments(&mut self, end: usize, level: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start as usize >= end {
                break;
            }
            self.indent(level);
            self.out.push_str(&c.text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    fn comment_start(&self) -> usize {
        self.comments
            .get(self.next)
            .map_or(self.src.len(), |c| c.span.start as usize)
    }

    fn stmt(&mut self, s: &Stmt, level: usize, key_width: usize) {
        self.docs(&s.docs, level);
        self.indent(level);
        match &s.kind {
            StmtKind::Attr { key, value } => {
                self.out.push_str(&key.name);
                for _ in key.name.len()..key_width {
                    self.out.push(' ');
                }
                self.out.push_str(" = ");
                let col = level * INDENT.len() + key_width.max(key.name.len()) + 3;
                self.expr_at(value, col, level);
            }
            StmtKind::Field {
                name,
                ty,
                width,
                ids,
                value,
                window,
            } => {
                self.out.push_str(&name.name);
                self.out.push_str(": ");
                self.out.push_str(&ty.name);
                if let Some(w) = width {
                    self.out.push_str(&format!("[{}]", w.n));
                }
                if let Some(r) = ids {
                    self.out.push_str(&format!(" in {}..{}", r.lo, r.hi));
                    if let Some(d) = r.default {
                        self.out.push_str(&format!(" else {d}"));
                    }
                }
                if let Some(v) = value {
                    self.out.push_str(" = ");
                    self.out.push_str(&expr_text(v));
                }
                if let Some(w) = window {
                    self.out.push_str(" over ");
                    self.out.push_str(&expr_text(w));
                }
            }
            StmtKind::Block { name, body } => {
                self.out.push_str(&name.name);
                self.out.push(' ');
                self.block(body, level);
            }
            StmtKind::Step { name, body } => {
                self.out.push_str("step ");
                self.out.push_str(&name.name);
                self.out.push(' ');
                self.block(body, level);
            }
            StmtKind::Check(e) => {
                self.out.push_str("check ");
                self.out.push_str(&expr_text(e));
            }
            StmtKind::Require(e) => {
                self.out.push_str("require ");
                self.out.push_str(&expr_text(e));
            }
        }
    }

    /// Prints a value starting at column `col`; a list or call that would pass the width
    /// limit breaks one item a line (with a trailing comma), and so on inside the items.
    fn expr_at(&mut self, e: &Expr, col: usize, level: usize) {
        let text = expr_text(e);
        if col + text.len() <= MAX_WIDTH {
            self.out.push_str(&text);
            return;
        }
        let inner = (level + 1) * INDENT.len();
        match &e.kind {
            ExprKind::List(items) if !items.is_empty() => {
                self.out.push_str("[\n");
                for it in items {
                    self.indent(level + 1);
                    self.expr_at(it, inner, level + 1);
                    self.out.push_str(",\n");
                }
                self.indent(level);
                self.out.push(']');
            }
            ExprKind::Call { name, args } if !args.is_empty() => {
                self.out.push_str(&name.name);
                self.out.push_str("(\n");
                for a in args {
                    self.indent(level + 1);
                    let mut col = inner;
                    if let Some(n) = &a.name {
                        self.out.push_str(&n.name);
                        self.out.push_str(" = ");
                        col += n.name.len() + 3;
                    }
                    self.expr_at(&a.value, col, level + 1);
                    self.out.push_str(",\n");
                }
                self.indent(level);
                self.out.push(')');
            }
            _ => self.out.push_str(&text),
        }
    }
}

/// For each statement, the width its attribute key is padded to: the longest key of the run
/// of consecutive attributes it belongs to (0 for other statements).
fn attr_runs(stmts: &[Stmt], src: &str, comments: &[Comment]) -> Vec<usize> {
    let mut widths = vec![0; stmts.len()];
    let mut i = 0;
    while i < stmts.len() {
        if !is_simple_attr(&stmts[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < stmts.len()
            && is_simple_attr(&stmts[j])
            && !breaks_run(src, comments, &stmts[j - 1], &stmts[j])
        {
            j += 1;
        }
        let w = stmts[i..j]
            .iter()
            .filter_map(attr_key_len)
            .max()
            .unwrap_or(0);
        for k in widths.iter_mut().take(j).skip(i) {
            *k = w;
        }
        i = j;
    }
    widths
}

/// Whether the alignment run ends between `a` and the next statement `b`: a blank line
/// between them, or a comment that will be printed on a line of its own between them (one
/// after `a` that is not on `a`'s last line, or one inside `b`, which goes above `b`). The
/// output has the same blank lines and comment lines, so formatting it again finds the same
/// runs.
fn breaks_run(src: &str, comments: &[Comment], a: &Stmt, b: &Stmt) -> bool {
    let (a_end, b_start, b_end) = (
        a.span.end as usize,
        b.span.start as usize,
        b.span.end as usize,
    );
    let gap = src.get(a_end..b_start.max(a_end)).unwrap_or("");
    if gap.matches('\n').count() >= 2 {
        return true;
    }
    comments.iter().any(|c| {
        let start = c.span.start as usize;
        (a_end..b_end).contains(&start) && src.get(a_end..start).is_none_or(|t| t.contains('\n'))
    })
}

fn is_simple_attr(s: &Stmt) -> bool {
    matches!(&s.kind, StmtKind::Attr { .. }) && s.docs.is_empty()
}

fn attr_key_len(s: &Stmt) -> Option<usize> {
    match &s.kind {
        StmtKind::Attr { key, .. } => Some(key.name.len()),
        _ => None,
    }
}

/// The canonical one-line text of an expression.
pub fn expr_text(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e);
    s
}

fn write_expr(s: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Int { text, .. } | ExprKind::Float { text, .. } => s.push_str(text),
        ExprKind::Quantity { text, unit, .. } => {
            s.push_str(text);
            s.push_str(unit);
        }
        ExprKind::Rate { text, unit, .. } => {
            s.push_str(text);
            s.push('/');
            s.push_str(unit);
        }
        ExprKind::Str { raw, .. } => s.push_str(raw),
        ExprKind::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        ExprKind::Null => s.push_str("null"),
        ExprKind::Star => s.push('*'),
        ExprKind::Path(p) => {
            for (i, id) in p.iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(&id.name);
            }
        }
        ExprKind::ModelRef { model, version, .. } => {
            s.push_str(&model.name);
            s.push('@');
            match version {
                VersionRef::Number(n) => s.push_str(&n.to_string()),
                VersionRef::Alias(a) => s.push_str(a),
            }
        }
        ExprKind::Call { name, args } => {
            s.push_str(&name.name);
            s.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                if let Some(n) = &a.name {
                    s.push_str(&n.name);
                    s.push_str(" = ");
                }
                write_expr(s, &a.value);
            }
            s.push(')');
        }
        ExprKind::List(items) => {
            s.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_expr(s, it);
            }
            s.push(']');
        }
        ExprKind::Paren(inner) => {
            s.push('(');
            write_expr(s, inner);
            s.push(')');
        }
        ExprKind::Unary { op, expr } => {
            s.push_str(match op {
                UnOp::Not => "not ",
                UnOp::Neg => "-",
            });
            write_expr(s, expr);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write_expr(s, lhs);
            s.push(' ');
            s.push_str(op.symbol());
            s.push(' ');
            write_expr(s, rhs);
        }
        ExprKind::Arrow { from, to } => {
            s.push_str(&from.name);
            s.push_str(" -> ");
            s.push_str(&to.name);
        }
        ExprKind::Typed { name, ty, width } => {
            s.push_str(&name.name);
            s.push_str(": ");
            s.push_str(&ty.name);
            if let Some(w) = width {
                s.push_str(&format!("[{}]", w.n));
            }
        }
        ExprKind::Index { path, index, .. } => {
            let names: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
            s.push_str(&format!("{}[{index}]", names.join(".")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_diagnostics::FileId;

    fn fmt(src: &str) -> String {
        let (f, d) = crate::source_to_ast(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        ast_to_source(&f.unwrap_or_else(|| panic!("parse")), src)
    }

    #[test]
    fn canonical_layout_keeps_comments_and_is_idempotent() {
        let src = "// head\nsource s {  path = \"a.parquet\" timestamp=ts // the time\n\n  // created\n created = c }\nentity e{key=id:int}";
        let once = fmt(src);
        assert_eq!(
            once,
            "// head\nsource s {\n  path      = \"a.parquet\"\n  timestamp = ts // the time\n\n  // created\n  created = c\n}\n\nentity e {\n  key = id: int\n}\n"
        );
        assert_eq!(fmt(&once), once);
    }

    #[test]
    fn vector_outputs_and_elements_keep_their_brackets() {
        let src = "model m {\n  outputs {\n    probs: float32[3]\n    p: float = probs[1]\n  }\n}\n\nmodel n {\n  outputs = [head: float32[2], s: float]\n}\n\ndeployment d {\n  model = route(by = m@1, when = probs[1] > 0.5, then = m@1, else = m@1)\n}\n";
        assert_eq!(fmt(src), src);
        // A space before `[` is not an element read.
        let (_, d) = crate::source_to_ast(FileId(0), "model m {\n  x = probs [1]\n}\n");
        assert!(!d.is_empty());
    }

    #[test]
    fn a_comment_line_ends_an_alignment_run_in_both_passes() {
        // Found by the fuzzer: the second pass aligned across the comment, the first did not.
        let once = fmt("deployment d {\n  latency_p99 = 20\n  //\n  model = m@production\n}\n");
        assert_eq!(
            once,
            "deployment d {\n  latency_p99 = 20\n  //\n  model = m@production\n}\n"
        );
        assert_eq!(fmt(&once), once);
        let trailing =
            fmt("deployment d {\n  latency_p99 = 20 // p99\n  model = m@production\n}\n");
        assert_eq!(
            trailing,
            "deployment d {\n  latency_p99 = 20 // p99\n  model       = m@production\n}\n"
        );
    }

    #[test]
    fn a_comment_with_trailing_blanks_still_ends_a_run() {
        // Found by the fuzzer: `//` followed by spaces was not seen as a comment line.
        let once = fmt("source tx {\n  path = \"t\"\n  format = json\n//   \n  timestamp = ts\n}");
        assert_eq!(
            once,
            "source tx {\n  path   = \"t\"\n  format = json\n  //\n  timestamp = ts\n}\n"
        );
        assert_eq!(fmt(&once), once);
        let crlf = fmt("source tx {\r\n  path = \"t\" // p\r\n  timestamp = ts\r\n}\r\n");
        assert_eq!(fmt(&crlf), crlf);
    }

    #[test]
    fn long_calls_break_one_argument_a_line_and_nest() {
        let src = "deployment d {\n  model = route(by = a@1, when = score > 0.3 and score < 0.7, then = combine(weighted, a@production, b@3, c@4, weights = [0.2, 0.3, 0.5]), else = a@1)\n}\n";
        let once = fmt(src);
        assert_eq!(
            once,
            "deployment d {\n  model = route(\n    by = a@1,\n    when = score > 0.3 and score < 0.7,\n    then = combine(weighted, a@production, b@3, c@4, weights = [0.2, 0.3, 0.5]),\n    else = a@1,\n  )\n}\n"
        );
        assert_eq!(fmt(&once), once);
        // Short calls stay on one line.
        let short = "deployment d {\n  model = chain(a@1, b@2)\n}\n";
        assert_eq!(fmt(short), short);
    }

    #[test]
    fn comments_inside_an_expression_move_above_the_statement() {
        let once = fmt(
            "model m {\n  inputs = [\n    a.b, // first\n    c.d,\n  ]\n  output = y: float\n}\n",
        );
        assert_eq!(
            once,
            "model m {\n  // first\n  inputs = [a.b, c.d]\n  output = y: float\n}\n"
        );
        assert_eq!(fmt(&once), once);
        // Found by the fuzzer: an expression that spans a comment line ends the run.
        let src = "source s {\n  path = \"q.parquet\" <\n//  note\n  t\n  mestamp = ts\n}\n";
        let once = fmt(src);
        assert_eq!(fmt(&once), once);
    }

    #[test]
    fn unary_minus_on_a_negative_operand_stays_parsable() {
        let once = fmt("features f { a: int = - -1 }");
        assert_eq!(fmt(&once), once);
    }
}
