//! Warnings (E06xx) about declarations nothing uses: entities, sources, requests, feature
//! views, environment variables and pipeline parameters.

use crate::decls::Checker;
use mlp_diagnostics::Diagnostic;
use mlp_syntax::ast::DeclKind;

impl Checker<'_> {
    pub(crate) fn lints(&mut self) {
        let mut found = Vec::new();
        for (name, d) in &self.names {
            if self.used.contains(*name) {
                continue;
            }
            let Some(n) = &d.name else { continue };
            let (code, what, help) = match d.kind {
                DeclKind::Entity => (
                    "E0601",
                    "entity",
                    "no feature view is keyed by it; remove it or use it with `entity = ...`",
                ),
                DeclKind::Source => (
                    "E0602",
                    "source",
                    "no feature view reads it; remove it or use it with `source = ...`",
                ),
                DeclKind::Request => (
                    "E0603",
                    "request",
                    "no model or on-demand feature reads its fields",
                ),
                DeclKind::Features => (
                    "E0604",
                    "feature view",
                    "no model, training set, on-demand view or materialization uses it",
                ),
                _ => continue,
            };
            found.push(
                Diagnostic::new(code, format!("{what} `{name}` is never used"))
                    .label(n.span, "unused")
                    .help(help),
            );
        }
        for (name, (_, span)) in &self.env_decls {
            if !self.used_env.contains(*name) {
                found.push(
                    Diagnostic::new(
                        "E0605",
                        format!("environment variable `{name}` is never used"),
                    )
                    .label(*span, "unused")
                    .help(format!(
                        "refer to it as `env.{name}` or `${{env.{name}}}`, or remove it"
                    )),
                );
            }
        }
        for (p, span) in &self.params_unused {
            found.push(
                Diagnostic::new("E0606", format!("pipeline parameter `{p}` is never used"))
                    .label(*span, "unused")
                    .help(format!(
                        "pass it to a step with `${{params.{p}}}`, or remove it"
                    )),
            );
        }
        self.diags.extend(found);
    }
}
