//! `source_to_ast`: runs the pest grammar over one file and builds the spanned AST, turning
//! pest's errors into diagnostics (E00xx) that say what was expected in the user's words.

use crate::ast::*;
use crate::comments;
use crate::syntax_error::{syntax_error, unterminated_string};
use crate::units;
use mlp_diagnostics::{did_you_mean, Diagnostic, FileId, Span};
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::sync::LazyLock;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct MlpParser;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
});

/// Parses one file. Returns the AST when the file is syntactically valid (it may still carry
/// diagnostics such as an unknown unit, which do not stop parsing), and every diagnostic found.
pub fn source_to_ast(file: FileId, text: &str) -> (Option<File>, Vec<Diagnostic>) {
    if let Some(d) = unterminated_string(file, text) {
        return (None, vec![d]);
    }
    match MlpParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let comments = comments::scan(file, text);
            let comment_ends = comments
                .iter()
                .map(|c| (c.span.end as usize, c.span.start as usize))
                .collect();
            let mut b = Builder {
                file,
                text,
                comment_ends,
                diags: Vec::new(),
            };
            let decls = pairs
                .next()
                .map(|f| {
                    f.into_inner()
                        .filter(|p| p.as_rule() == Rule::decl)
                        .map(|p| b.decl(p))
                        .collect()
                })
                .unwrap_or_default();
            (Some(File { decls, comments }), b.diags)
        }
        Err(e) => (None, vec![syntax_error(file, text, &e)]),
    }
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    /// End offset -> start offset of every `//` comment.
    comment_ends: std::collections::HashMap<usize, usize>,
    diags: Vec<Diagnostic>,
}

impl Builder<'_> {
    /// The span of a pair without the whitespace and comments pest's implicit skipping
    /// leaves at its end.
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        let start = s.start();
        let mut end = s.end();
        loop {
            let trimmed = self.text[start..end].trim_end().len() + start;
            end = trimmed;
            match self.comment_ends.get(&end) {
                Some(&cs) if cs >= start => end = cs,
                _ => break,
            }
        }
        Span::new(self.file, start, end)
    }

    fn ident(&self, p: Pair<'_, Rule>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p),
        }
    }

    fn doc(&self, p: Pair<'_, Rule>) -> Doc {
        let t = p.as_str().trim_start_matches("///");
        Doc {
            span: self.span(&p),
            text: t.strip_prefix(' ').unwrap_or(t).trim_end().to_string(),
        }
    }

    fn decl(&mut self, p: Pair<'_, Rule>) -> Decl {
        let span = self.span(&p);
        let mut docs = Vec::new();
        let mut kind = DeclKind::Project;
        let mut kind_span = span;
        let mut name = None;
        let mut body = Block {
            stmts: Vec::new(),
            span,
        };
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::doc => docs.push(self.doc(c)),
                Rule::decl_kind => {
                    kind_span = self.span(&c);
                    kind = DeclKind::from_keyword(c.as_str()).unwrap_or(DeclKind::Project);
                }
                Rule::ident => name = Some(self.ident(c)),
                Rule::block => body = self.block(c),
                _ => {}
            }
        }
        Decl {
            docs,
            kind,
            kind_span,
            name,
            body,
            span,
        }
    }

    fn block(&mut self, p: Pair<'_, Rule>) -> Block {
        let span = self.span(&p);
        let stmts = p
            .into_inner()
            .filter(|c| c.as_rule() == Rule::stmt)
            .map(|c| self.stmt(c))
            .collect();
        Block { stmts, span }
    }

    fn stmt(&mut self, p: Pair<'_, Rule>) -> Stmt {
        let span = self.span(&p);
        let mut docs = Vec::new();
        let mut kind = StmtKind::Check(Expr {
            kind: ExprKind::Null,
            span,
        });
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::doc => docs.push(self.doc(c)),
                Rule::check_stmt => kind = StmtKind::Check(self.last_expr(c, span)),
                Rule::require_stmt => kind = StmtKind::Require(self.last_expr(c, span)),
                Rule::step_stmt | Rule::block_stmt => {
                    let is_step = c.as_rule() == Rule::step_stmt;
                    let mut name = None;
                    let mut body = Block {
                        stmts: Vec::new(),
                        span,
                    };
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::ident => name = Some(self.ident(x)),
                            Rule::block => body = self.block(x),
                            _ => {}
                        }
                    }
                    let name = name.unwrap_or(Ident {
                        name: String::new(),
                        span,
                    });
                    kind = if is_step {
                        StmtKind::Step { name, body }
                    } else {
                        StmtKind::Block { name, body }
                    };
                }
                Rule::attr_stmt => {
                    let mut it = c.into_inner();
                    let key = it.next().map(|k| self.ident(k));
                    let value = it.next().map(|v| self.value(v));
                    if let (Some(key), Some(value)) = (key, value) {
                        kind = StmtKind::Attr { key, value };
                    }
                }
                Rule::field_stmt => {
                    let mut name = None;
                    let mut ty = None;
                    let mut value = None;
                    let mut window = None;
                    let mut ids = None;
                    let mut width = None;
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::ident => name = Some(self.ident(x)),
                            Rule::type_name => (ty, width) = self.type_name(x),
                            Rule::id_range => ids = self.id_range(x),
                            Rule::expr => value = Some(self.expr(x)),
                            Rule::window => window = Some(Box::new(self.last_expr(x, span))),
                            _ => {}
                        }
                    }
                    if let (Some(name), Some(ty)) = (name, ty) {
                        kind = StmtKind::Field {
                            name,
                            ty,
                            width,
                            ids,
                            value,
                            window,
                        };
                    }
                }
                _ => {}
            }
        }
        Stmt { docs, kind, span }
    }

    /// A type and its `[K]`; a `K` past 64 bits is an E0001 at it.
    fn type_name(&mut self, p: Pair<'_, Rule>) -> (Option<Ident>, Option<Width>) {
        let mut ty = None;
        let mut width = None;
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::ident => ty = Some(self.ident(x)),
                Rule::type_shape => {
                    let span = self.span(&x);
                    let digits = x.into_inner().next().map_or("", |d| d.as_str());
                    width = self.whole(digits, span).map(|n| Width { n, span });
                }
                _ => {}
            }
        }
        (ty, width)
    }

    /// A non-negative integer as written (`1_000`); past 64 bits, an E0001 at `span`.
    fn whole(&mut self, digits: &str, span: Span) -> Option<u64> {
        match digits.replace('_', "").parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.diags.push(
                    Diagnostic::new("E0001", format!("`{digits}` is not a 64-bit integer"))
                        .label(span, "too large"),
                );
                None
            }
        }
    }

    /// `in LO..HI [else DEFAULT]`; a number past 64 bits is an E0001 at it.
    fn id_range(&mut self, p: Pair<'_, Rule>) -> Option<IdRange> {
        let span = self.span(&p);
        let mut nums = Vec::new();
        for x in p.into_inner().filter(|x| x.as_rule() == Rule::int_lit) {
            let text = x.as_str().replace('_', "");
            match text.parse::<i64>() {
                Ok(n) => nums.push(n),
                Err(_) => {
                    let at = self.span(&x);
                    self.diags.push(
                        Diagnostic::new(
                            "E0001",
                            format!("`{}` is not a 64-bit integer", x.as_str()),
                        )
                        .label(at, "too large"),
                    );
                    return None;
                }
            }
        }
        match nums.as_slice() {
            [lo, hi] => Some(IdRange {
                lo: *lo,
                hi: *hi,
                default: None,
                span,
            }),
            [lo, hi, d] => Some(IdRange {
                lo: *lo,
                hi: *hi,
                default: Some(*d),
                span,
            }),
            _ => None,
        }
    }

    fn last_expr(&mut self, p: Pair<'_, Rule>, fallback: Span) -> Expr {
        match p.into_inner().filter(|x| x.as_rule() == Rule::expr).last() {
            Some(e) => self.expr(e),
            None => Expr {
                kind: ExprKind::Null,
                span: fallback,
            },
        }
    }

    fn value(&mut self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::arrow => {
                let mut it = p.into_inner().map(|i| self.ident(i));
                match (it.next(), it.next()) {
                    (Some(from), Some(to)) => Expr {
                        kind: ExprKind::Arrow { from, to },
                        span,
                    },
                    _ => Expr {
                        kind: ExprKind::Null,
                        span,
                    },
                }
            }
            Rule::typed => self.typed(p),
            _ => self.expr(p),
        }
    }

    fn typed(&mut self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = it.next().map(|i| self.ident(i));
        let (ty, width) = match it.next() {
            Some(t) => self.type_name(t),
            None => (None, None),
        };
        match (name, ty) {
            (Some(name), Some(ty)) => Expr {
                kind: ExprKind::Typed { name, ty, width },
                span,
            },
            _ => Expr {
                kind: ExprKind::Null,
                span,
            },
        }
    }

    fn expr(&mut self, p: Pair<'_, Rule>) -> Expr {
        let file = self.file;
        PRATT
            .map_primary(|x| self.primary(x))
            .map_prefix(move |op, rhs| {
                let span = Span::new(file, op.as_span().start(), rhs.span.end as usize);
                let op = if op.as_rule() == Rule::op_not {
                    UnOp::Not
                } else {
                    UnOp::Neg
                };
                Expr {
                    kind: ExprKind::Unary {
                        op,
                        expr: Box::new(rhs),
                    },
                    span,
                }
            })
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::op_or => BinOp::Or,
                    Rule::op_and => BinOp::And,
                    Rule::op_eq => BinOp::Eq,
                    Rule::op_ne => BinOp::Ne,
                    Rule::op_lt => BinOp::Lt,
                    Rule::op_le => BinOp::Le,
                    Rule::op_gt => BinOp::Gt,
                    Rule::op_ge => BinOp::Ge,
                    Rule::op_add => BinOp::Add,
                    Rule::op_sub => BinOp::Sub,
                    Rule::op_mul => BinOp::Mul,
                    _ => BinOp::Div,
                };
                let span = lhs.span.to(rhs.span);
                Expr {
                    kind: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                    span,
                }
            })
            .parse(p.into_inner())
    }

    fn number(&mut self, p: &Pair<'_, Rule>) -> ExprKind {
        let text = p.as_str().to_string();
        let clean = text.replace('_', "");
        if clean.contains(['.', 'e', 'E']) {
            ExprKind::Float {
                value: clean.parse().unwrap_or(f64::NAN),
                text,
            }
        } else {
            match clean.parse::<i64>() {
                Ok(value) => ExprKind::Int { value, text },
                Err(_) => {
                    self.diags.push(
                        Diagnostic::new("E0005", "integer literal out of range")
                            .label(self.span(p), "larger than 9223372036854775807")
                            .help("write it as a decimal number (`1.0e20`) if a float is meant"),
                    );
                    ExprKind::Int {
                        value: i64::MAX,
                        text,
                    }
                }
            }
        }
    }

    fn unit_check(&mut self, unit: &str, span: Span, rate: bool) {
        let ok = if rate {
            units::per_second(1.0, unit).is_some()
        } else {
            units::classify(unit).is_some()
        };
        if !ok {
            let cands: Vec<&str> = if rate {
                units::RATE_UNITS.iter().map(|(u, _)| *u).collect()
            } else {
                units::all_units().collect()
            };
            let help = match did_you_mean(unit, cands.iter().copied()) {
                Some(u) => format!("did you mean `{u}`?"),
                None if rate => "a rate is written like `2000/s`, `50/m`, `3/h` or `1/d`".to_string(),
                None => "durations use ns, us, ms, s, m, h, d, w; sizes B, KB, MB, GB, KiB, MiB, GiB; shares %".to_string(),
            };
            self.diags.push(
                Diagnostic::new("E0004", format!("unknown unit `{unit}`"))
                    .label(span, "not a unit mlp knows")
                    .help(help),
            );
        }
    }

    fn primary(&mut self, p: Pair<'_, Rule>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::paren => ExprKind::Paren(Box::new(self.last_expr(p, span))),
            Rule::list => ExprKind::List(
                p.into_inner()
                    .map(|x| {
                        if x.as_rule() == Rule::typed {
                            self.typed(x)
                        } else {
                            self.expr(x)
                        }
                    })
                    .collect(),
            ),
            Rule::number => self.number(&p),
            Rule::quantity | Rule::rate => self.quantity(p),
            Rule::string => self.string(p),
            Rule::bool_lit => ExprKind::Bool(p.as_str() == "true"),
            Rule::null_lit => ExprKind::Null,
            Rule::star => ExprKind::Star,
            Rule::call => self.call(p, span),
            Rule::model_ref => self.model_ref(p, span),
            Rule::path => ExprKind::Path(p.into_inner().map(|i| self.ident(i)).collect()),
            Rule::index => self.index(p),
            Rule::expr => return self.expr(p),
            _ => ExprKind::Null,
        };
        Expr { kind, span }
    }

    /// `7d`, `10ms` (a quantity) or `100/s` (a rate), its unit checked.
    fn quantity(&mut self, p: Pair<'_, Rule>) -> ExprKind {
        let is_rate = p.as_rule() == Rule::rate;
        let mut it = p.into_inner();
        let (Some(n), Some(u)) = (it.next(), it.next()) else {
            return ExprKind::Null;
        };
        let text = n.as_str().to_string();
        let value = text.replace('_', "").parse().unwrap_or(f64::NAN);
        let unit = u.as_str().to_string();
        let unit_span = self.span(&u);
        self.unit_check(&unit, unit_span, is_rate);
        if is_rate {
            ExprKind::Rate {
                value,
                text,
                unit,
                unit_span,
            }
        } else {
            ExprKind::Quantity {
                value,
                text,
                unit,
                unit_span,
            }
        }
    }

    /// `name(arg, key = arg, ...)`.
    fn call(&mut self, p: Pair<'_, Rule>, span: Span) -> ExprKind {
        let null = || Expr {
            kind: ExprKind::Null,
            span,
        };
        let mut it = p.into_inner();
        let name = it.next().map(|n| self.ident(n)).unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let args = it
            .map(|a| match a.into_inner().next() {
                Some(x) if x.as_rule() == Rule::named_arg => {
                    let mut xi = x.into_inner();
                    let n = xi.next().map(|n| self.ident(n));
                    let v = xi.next().map(|v| self.expr(v)).unwrap_or_else(null);
                    Arg { name: n, value: v }
                }
                Some(x) => Arg {
                    name: None,
                    value: self.expr(x),
                },
                None => Arg {
                    name: None,
                    value: null(),
                },
            })
            .collect();
        ExprKind::Call { name, args }
    }

    /// `model@3` or `model@alias`.
    fn model_ref(&mut self, p: Pair<'_, Rule>, span: Span) -> ExprKind {
        let mut it = p.into_inner();
        let model = it.next().map(|n| self.ident(n)).unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let v = it.next();
        let version_span = v.as_ref().map_or(span, |v| self.span(v));
        let version = match v {
            Some(v) if v.as_rule() == Rule::digits => match v.as_str().replace('_', "").parse() {
                Ok(n) => VersionRef::Number(n),
                Err(_) => {
                    self.diags.push(
                        Diagnostic::new("E0005", "version number out of range")
                            .label(version_span, "too large"),
                    );
                    VersionRef::Number(u64::MAX)
                }
            },
            Some(v) => VersionRef::Alias(v.as_str().to_string()),
            None => VersionRef::Alias(String::new()),
        };
        ExprKind::ModelRef {
            model,
            version,
            version_span,
        }
    }

    /// `path[i]`: one element of a vector output.
    fn index(&mut self, p: Pair<'_, Rule>) -> ExprKind {
        let mut path = Vec::new();
        let mut index = None;
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::path => path = x.into_inner().map(|i| self.ident(i)).collect(),
                Rule::digits => {
                    let at = self.span(&x);
                    index = self.whole(x.as_str(), at).map(|i| (i, at));
                }
                _ => {}
            }
        }
        match index {
            Some((index, index_span)) => ExprKind::Index {
                path,
                index,
                index_span,
            },
            None => ExprKind::Null,
        }
    }

    fn string(&mut self, p: Pair<'_, Rule>) -> ExprKind {
        let raw = p.as_str().to_string();
        let mut parts: Vec<StrPart> = Vec::new();
        let push_text = |parts: &mut Vec<StrPart>, s: &str| match parts.last_mut() {
            Some(StrPart::Text(t)) => t.push_str(s),
            _ => parts.push(StrPart::Text(s.to_string())),
        };
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::str_text => push_text(&mut parts, x.as_str()),
                Rule::escape => {
                    let c = match &x.as_str()[1..] {
                        "n" => "\n",
                        "t" => "\t",
                        "r" => "\r",
                        "\\" => "\\",
                        "\"" => "\"",
                        "$" => "$",
                        other => {
                            self.diags.push(
                                Diagnostic::new("E0003", format!("invalid escape `\\{other}`"))
                                    .label(self.span(&x), "not a known escape")
                                    .help("strings know `\\n`, `\\t`, `\\r`, `\\\\`, `\\\"` and `\\$`"),
                            );
                            ""
                        }
                    };
                    push_text(&mut parts, c);
                }
                Rule::interp => {
                    let span = self.span(&x);
                    let path = x
                        .into_inner()
                        .next()
                        .map(|p| p.as_str().split('.').map(str::to_string).collect())
                        .unwrap_or_default();
                    parts.push(StrPart::Interp { path, span });
                }
                _ => {}
            }
        }
        ExprKind::Str { parts, raw }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> File {
        let (f, d) = source_to_ast(FileId(0), src);
        assert!(d.is_empty(), "{d:?}");
        f.unwrap_or_else(|| panic!("no ast"))
    }

    #[test]
    fn parses_the_design_sketch_shapes() {
        let f = parse_ok(
            r#"
/// Spending.
features user_stats {
  entity = user
  ttl    = 2d
  txn_count_7d : int    = count(*)    over 7d
  avg: float = avg(amount) over 7d
}
model m { inputs = [a.b, c.d]  output = score: float }
pipeline p { step gate { after = [train] require train.metrics.auc >= 0.80  promote = m -> staging } }
deployment d { model = m@production  sla { latency_p99 = 20ms  throughput = 2000/s } }
"#,
        );
        assert_eq!(f.decls.len(), 4);
        assert_eq!(f.decls[0].docs[0].text, "Spending.");
        let StmtKind::Field { window, .. } = &f.decls[0].body.stmts[2].kind else {
            panic!("field")
        };
        assert!(
            matches!(window.as_ref().map(|w| &w.kind), Some(ExprKind::Quantity { unit, .. }) if unit == "d")
        );
    }

    #[test]
    fn precedence_is_arithmetic_then_comparison_then_logic() {
        let f = parse_ok("monitor m { check a + b * 2 < 3 and not c }");
        let StmtKind::Check(e) = &f.decls[0].body.stmts[0].kind else {
            panic!("check")
        };
        let ExprKind::Binary {
            op: BinOp::And,
            lhs,
            ..
        } = &e.kind
        else {
            panic!("and at top: {e:?}")
        };
        assert!(matches!(lhs.kind, ExprKind::Binary { op: BinOp::Lt, .. }));
    }

    #[test]
    fn errors_have_codes_and_positions() {
        let (_, d) = source_to_ast(FileId(0), "entiy user { key = id: int }");
        assert_eq!(d[0].code, "E0007");
        let (_, d) = source_to_ast(FileId(0), "source s { path = \"abc }");
        assert_eq!(d[0].code, "E0002");
        let (_, d) = source_to_ast(FileId(0), "model m { x = 5parsecs }");
        assert_eq!(d[0].code, "E0004");
    }
}
