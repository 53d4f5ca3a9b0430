//! Sorting a declaration's body into attributes, nested blocks, fields, checks, gates and
//! steps, against the schema of what that kind accepts (unknown, duplicate and misplaced
//! statements are reported here, with "did you mean" help).

use crate::fast::IndexMap;
use crate::support::{Rejection, Support};
use mlp_diagnostics::{suggestion, Diagnostic, Diagnostics, Span};
use mlp_syntax::ast::{Block, Expr, Ident, Stmt, StmtKind};

/// What a body may contain besides attributes and blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// `name: type [= expr]`.
    pub fields: bool,
    /// `check expr`.
    pub checks: bool,
    /// `require expr`.
    pub requires: bool,
    /// `step name { }`.
    pub steps: bool,
    /// `name: type in LO..HI` (a model's int64 id inputs).
    pub ids: bool,
    /// Fields may have a width (`probs: float32[3]`, a model's outputs).
    pub widths: bool,
}

/// A field statement.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The statement (for docs and span).
    pub stmt: &'a Stmt,
    /// Name.
    pub name: &'a Ident,
    /// Type name.
    pub ty: &'a Ident,
    /// Definition.
    pub value: Option<&'a Expr>,
    /// Window.
    pub window: Option<&'a Expr>,
    /// `in LO..HI [else D]`.
    pub ids: Option<&'a mlp_syntax::ast::IdRange>,
    /// `[K]` after the type.
    pub width: Option<mlp_syntax::ast::Width>,
}

/// A sorted body.
#[derive(Debug, Default)]
pub struct Body<'a> {
    /// Attributes by key.
    pub attrs: IndexMap<&'a str, (&'a Ident, &'a Expr)>,
    /// Nested blocks by name.
    pub blocks: IndexMap<&'a str, (&'a Ident, &'a Block)>,
    /// Fields in order.
    pub fields: Vec<Field<'a>>,
    /// `check` expressions.
    pub checks: Vec<&'a Expr>,
    /// `require` expressions.
    pub requires: Vec<&'a Expr>,
    /// Steps in order.
    pub steps: Vec<(&'a Ident, &'a Block)>,
}

impl<'a> Body<'a> {
    /// The value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&'a Expr> {
        self.attrs.get(key).map(|(_, e)| *e)
    }
    /// The nested block `name`.
    pub fn block(&self, name: &str) -> Option<&'a Block> {
        self.blocks.get(name).map(|(_, b)| *b)
    }
}

/// Sorts `block` of kind `what` (e.g. "feature view") against its schema in
/// [`crate::support::BLOCKS`], and reports each attribute or nested block given that the
/// schema marks as rejected by this version (E07xx).
pub fn sort_schema<'a>(
    diags: &mut Diagnostics,
    block: &'a Block,
    what: &str,
    allow: Allow,
) -> Body<'a> {
    let schema = crate::support::block(what);
    let names = |list: Option<&[(&'static str, Support)]>| -> Vec<&'static str> {
        list.unwrap_or_default().iter().map(|(n, _)| *n).collect()
    };
    let attrs = names(schema.map(|s| s.attrs));
    let blocks = names(schema.map(|s| s.blocks));
    let body = sort(diags, block, what, &attrs, &blocks, allow);
    let Some(schema) = schema else {
        return body;
    };
    let given = |name: &str| {
        body.attrs
            .get(name)
            .map(|(k, _)| k.span)
            .or_else(|| body.blocks.get(name).map(|(k, _)| k.span))
    };
    for (name, support) in schema.attrs.iter().chain(schema.blocks) {
        if let (Support::Rejected(r), Some(span)) = (support, given(name)) {
            diags.push(rejection(r, span));
        }
    }
    body
}

/// The diagnostic of a construct this version of mlp rejects.
pub fn rejection(r: &Rejection, span: Span) -> Diagnostic {
    Diagnostic::new(r.code, r.message)
        .label(span, "accepted by the language, not run by this version")
        .help(r.help)
}

/// Sorts `block` (of a `what`, e.g. "feature view") into a [`Body`].
pub fn sort<'a>(
    diags: &mut Diagnostics,
    block: &'a Block,
    what: &str,
    attrs: &[&str],
    blocks: &[&str],
    allow: Allow,
) -> Body<'a> {
    let mut sorter = Sorter {
        diags,
        what,
        attrs,
        blocks,
        allow,
        body: Body::default(),
        fields_seen: IndexMap::default(),
    };
    for s in &block.stmts {
        sorter.stmt(s);
    }
    sorter.body
}

/// What [`sort`] sorts one block's statements with, and into.
struct Sorter<'a, 'x> {
    diags: &'x mut Diagnostics,
    what: &'x str,
    attrs: &'x [&'x str],
    blocks: &'x [&'x str],
    allow: Allow,
    body: Body<'a>,
    fields_seen: IndexMap<&'a str, Span>,
}

impl<'a> Sorter<'a, '_> {
    /// Sorts one statement into the body, or says why it does not belong.
    fn stmt(&mut self, s: &'a Stmt) {
        let what = self.what;
        match &s.kind {
            StmtKind::Attr { key, value } => self.attr(key, value),
            StmtKind::Block { name, body: b } => self.block(name, b),
            StmtKind::Field { .. } => self.field(s),
            StmtKind::Check(e) => {
                if self.allow.checks {
                    self.body.checks.push(e);
                } else {
                    self.diags.push(misplaced(
                        "check",
                        what,
                        s.span,
                        "checks belong in a `monitor`",
                    ));
                }
            }
            StmtKind::Require(e) => {
                if self.allow.requires {
                    self.body.requires.push(e);
                } else {
                    self.diags.push(misplaced(
                        "require",
                        what,
                        s.span,
                        "`require` gates belong in a pipeline `step`",
                    ));
                }
            }
            StmtKind::Step { name, body: b } => self.step(name, b),
        }
    }

    /// `key = value`: a known attribute, given once.
    fn attr(&mut self, key: &'a Ident, value: &'a Expr) {
        let (what, attrs, blocks) = (self.what, self.attrs, self.blocks);
        if !attrs.contains(&key.name.as_str()) {
            let cands = attrs.iter().chain(blocks).copied();
            let mut d = Diagnostic::new(
                "E0103",
                format!("unknown attribute `{}` in {what}", key.name),
            )
            .label(key.span, "not an attribute of this declaration");
            d = d.maybe_help(
                suggestion(&key.name, cands)
                    .or_else(|| Some(format!("a {what} accepts: {}", list(attrs)))),
            );
            if blocks.contains(&key.name.as_str()) {
                d = d.help(format!(
                    "`{}` is a block: write `{} {{ ... }}`",
                    key.name, key.name
                ));
            }
            self.diags.push(d);
        } else if let Some((first, _)) = self.body.attrs.get(key.name.as_str()) {
            self.diags.push(
                Diagnostic::new("E0105", format!("attribute `{}` given twice", key.name))
                    .label(key.span, "given again here")
                    .related(first.span, "first given here")
                    .help("remove one of them"),
            );
        } else {
            self.body.attrs.insert(key.name.as_str(), (key, value));
        }
    }

    /// `name { ... }`: a known block, given once.
    fn block(&mut self, name: &'a Ident, b: &'a Block) {
        let (what, attrs, blocks) = (self.what, self.attrs, self.blocks);
        if !blocks.contains(&name.name.as_str()) {
            let mut d =
                Diagnostic::new("E0103", format!("unknown block `{}` in {what}", name.name))
                    .label(name.span, "not a block of this declaration");
            d = d.maybe_help(suggestion(&name.name, blocks.iter().chain(attrs).copied()));
            if attrs.contains(&name.name.as_str()) {
                d = d.help(format!(
                    "`{}` is an attribute: write `{} = ...`",
                    name.name, name.name
                ));
            }
            self.diags.push(d);
        } else if let Some((first, _)) = self.body.blocks.get(name.name.as_str()) {
            self.diags.push(
                Diagnostic::new("E0105", format!("block `{}` given twice", name.name))
                    .label(name.span, "given again here")
                    .related(first.span, "first given here"),
            );
        } else {
            self.body.blocks.insert(name.name.as_str(), (name, b));
        }
    }

    /// `name: type [= value]`: where fields are allowed, each declared once; a width or an
    /// id range only where the declaration takes them.
    fn field(&mut self, s: &'a Stmt) {
        let StmtKind::Field {
            name,
            ty,
            width,
            ids,
            value,
            window,
        } = &s.kind
        else {
            return;
        };
        let (what, allow) = (self.what, self.allow);
        if let (Some(w), false) = (width, allow.widths) {
            self.diags.push(crate::outputs::misplaced_width(w.span));
        }
        if let (Some(r), false) = (ids, allow.ids) {
            self.diags.push(
                Diagnostic::new("E0218", "an id range is only for a model's int64 input")
                    .label(r.span, "not allowed here")
                    .help("`in LO..HI` goes in a model's `inputs { }` block, after `int64`: `cat: int64 in 0..6 = view.category_id`"),
            );
        }
        if !allow.fields {
            self.diags.push(
                Diagnostic::new("E0106", format!("a {what} has no fields"))
                    .label(name.span, "field not allowed here")
                    .help(format!(
                        "a {what} accepts attributes: {}; write `{} = ...` for an attribute",
                        list(self.attrs),
                        name.name
                    )),
            );
        } else if let Some(first) = self.fields_seen.get(name.name.as_str()) {
            self.diags.push(
                Diagnostic::new("E0105", format!("field `{}` declared twice", name.name))
                    .label(name.span, "declared again here")
                    .related(*first, "first declared here"),
            );
        } else {
            self.fields_seen.insert(name.name.as_str(), name.span);
            self.body.fields.push(Field {
                stmt: s,
                name,
                ty,
                value: value.as_ref(),
                window: window.as_deref(),
                ids: ids.as_ref(),
                width: *width,
            });
        }
    }

    /// `step name { ... }`: in a pipeline, each declared once.
    fn step(&mut self, name: &'a Ident, b: &'a Block) {
        if !self.allow.steps {
            self.diags.push(misplaced(
                "step",
                self.what,
                name.span,
                "steps belong in a `pipeline`",
            ));
        } else if let Some((first, _)) = self.body.steps.iter().find(|(n, _)| n.name == name.name) {
            self.diags.push(
                Diagnostic::new("E0105", format!("step `{}` declared twice", name.name))
                    .label(name.span, "declared again here")
                    .related(first.span, "first declared here"),
            );
        } else {
            self.body.steps.push((name, b));
        }
    }
}

fn misplaced(stmt: &str, what: &str, span: Span, help: &str) -> Diagnostic {
    Diagnostic::new("E0106", format!("`{stmt}` is not allowed in a {what}"))
        .label(span, "not allowed here")
        .help(help)
}

/// `a, b, c` with backticks.
pub fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
