//! Models: every model with its versions; one model's versions (metrics, params, tags,
//! artifact and training-set hashes, the run that made each), aliases and where each version
//! is served, moving an alias (with the token), and two versions compared.

use super::resource::heading;
use crate::layout::{self, chip, href, num, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{Plan, Resource, Spec};
use mlp_registry::Version;
use std::collections::BTreeSet;

fn registry_err(e: mlp_registry::RegistryError) -> Problem {
    Problem::internal(&format!("the model registry: {e}"))
}

/// Every model of the plan with its latest version and aliases.
pub fn list(ui: &Ui) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let reg = ui.registry_if_any()?;
    let counts = match &reg {
        Some(reg) => reg.models().map_err(registry_err)?,
        None => Vec::new(),
    };
    let body = html! {
        h1 { "Models" }
        table data-testid="models" {
            thead { tr { th { "Model" } th { "Versions" } th { "Latest" } th { "Aliases" } th { "Doc" } } }
            tbody { @for r in plan.resources().filter(|r| r.kind() == "model") {
                @let c = counts.iter().find(|(m, _, _)| m == &r.name);
                @let aliases = match &reg { Some(reg) => reg.aliases(&r.name).map_err(registry_err)?, None => Default::default() };
                tr {
                    td class="code" { (layout::link(&r.id, &r.name)) }
                    td class="num" { (c.map_or(0, |c| c.1)) }
                    td class="num" { (c.map_or("-".to_string(), |c| c.2.to_string())) }
                    td { @for (a, v) in &aliases { code { (a) "→" (v) } " " } }
                    td { (r.doc) }
                }
            } }
        }
    };
    Ok(shell("Models", "models", body))
}

/// Where each deployment of `plan` that reads model `name` serves it (`deployment: versions`).
fn served_by(ui: &Ui, plan: &Plan, name: &str) -> Vec<(String, String)> {
    let live = ui
        .live
        .as_ref()
        .map(|l| l.deployments())
        .unwrap_or_default();
    let prefix = format!("{name}@");
    plan.resources()
        .filter(|r| r.kind() == "deployment")
        .filter(|r| {
            plan.model(name)
                .and_then(|m| plan.node(&m.id))
                .is_some_and(|m| {
                    plan.node(&r.id)
                        .is_some_and(|d| plan.graph.find_edge(m, d).is_some())
                })
        })
        .map(|r| {
            let now = match live.iter().find(|s| s.name == r.name) {
                Some(s) => match &s.error {
                    None => {
                        let mut v: Vec<&String> = s
                            .versions
                            .iter()
                            .filter(|v| v.starts_with(&prefix))
                            .collect();
                        let shadow = s
                            .shadow
                            .as_deref()
                            .filter(|sh| sh.split(", ").any(|v| v.starts_with(&prefix)));
                        v.dedup();
                        let mut t = v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                        if let Some(sh) = shadow {
                            t.push_str(&format!(" (shadow {sh})"));
                        }
                        t
                    }
                    Some(e) => format!("cannot serve: {e}"),
                },
                None if ui.live.is_some() => "not served".into(),
                None => "`mlpc serve` shows the versions served".into(),
            };
            (r.name.clone(), now)
        })
        .collect()
}

/// The page of model `r`.
pub fn model(ui: &Ui, plan: &Plan, r: &Resource) -> Result<Markup, Problem> {
    let Spec::Model {
        inputs,
        outputs,
        format,
        derived,
        ..
    } = &r.spec
    else {
        return Err(Problem::internal("not a model"));
    };
    let (mut versions, aliases, moves) = match ui.registry_if_any()? {
        Some(reg) => (
            reg.list(Some(&r.name)).map_err(registry_err)?,
            reg.aliases(&r.name).map_err(registry_err)?,
            reg.alias_history(&r.name).map_err(registry_err)?,
        ),
        None => Default::default(),
    };
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    let metric_names: BTreeSet<&String> = versions.iter().flat_map(|v| v.metrics.keys()).collect();
    let served = served_by(ui, plan, &r.name);
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Format" } dd { (format) }
            dt { "Inputs" } dd { code { (inputs.iter().map(input_text).collect::<Vec<_>>().join(", ")) } }
            dt { "Outputs" } dd { code { (outputs.iter().map(|o| match derived.get(&o.name) {
                Some(e) => format!("{}: {} = {}", o.name, o.type_text(), crate::expr::expr_text(e)),
                None => format!("{}: {}", o.name, o.type_text()),
            }).collect::<Vec<_>>().join(", ")) } }
            dt { "Aliases" } dd data-testid="aliases" {
                @if aliases.is_empty() { "none" }
                @for (a, v) in &aliases { code data-testid=(format!("alias-{a}")) { (a) " → " (v) } " " }
            }
            dt { "Served by" } dd data-testid="served-by" {
                @if served.is_empty() { "no deployment" }
                @for (d, v) in &served { div { (layout::link_to(plan.deployment(d), d)) ": " (v) } }
            }
        }
        h2 { "Versions" }
        @if versions.is_empty() {
            p class="empty" { "No version is registered yet: a pipeline step with `registers` adds one." }
        } @else {
            table data-testid="versions" {
                thead { tr {
                    th { "Version" } th { "Aliases" }
                    @for m in &metric_names { th { (m) } }
                    th { "Params" } th { "Tags" } th { "Artifact" } th { "Training set" } th { "Run" } th { "Registered" }
                } }
                tbody { @for v in &versions {
                    tr data-testid=(format!("version-{}", v.version)) {
                        td class="num" { (v.version) }
                        td { @for a in &v.aliases { (chip(a)) " " } }
                        @for m in &metric_names {
                            td class="num" data-testid=(format!("metric-{}-{}", v.version, m)) { (v.metrics.get(*m).map_or("-".to_string(), |x| num(*x))) }
                        }
                        td class="code" { (v.params.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(", ")) }
                        td class="code" { (v.tags.iter().map(|(k, x)| format!("{k}={x}")).collect::<Vec<_>>().join(", ")) }
                        td class="code" { span title=(v.artifact_sha256) { (layout::short_hash(&v.artifact_sha256)) } }
                        td class="code" { @if let Some(t) = &v.training_set { span title=(t.sha256) { (layout::short_hash(&t.sha256)) } } @else { "-" } }
                        td class="code" { @if let Some(run) = &v.origin.run_id { a href=(format!("/ui/runs/{}", layout::seg(run))) { (layout::short_hash(run)) } } @else { "-" } }
                        td { (v.created) }
                    }
                } }
            }
            (forms(&r.name, &versions, &aliases))
        }
        @if !moves.is_empty() {
            h2 { "Alias moves" }
            table { thead { tr { th { "When" } th { "Alias" } th { "From" } th { "To" } th { "Why" } } }
                tbody { @for m in moves.iter().rev().take(20) {
                    tr { td { (m.at) } td { (m.alias) } td class="num" { (m.from.map_or("-".into(), |f| f.to_string())) } td class="num" { (m.to) } td { (m.reason) } }
                } } }
        }
    };
    Ok(shell(&r.name, "models", body))
}

fn input_text(i: &mlp_ir::InputRef) -> String {
    serde_json::to_value(i)
        .ok()
        .and_then(|v| {
            let o = v.as_object()?;
            let parts: Vec<String> = o
                .iter()
                .filter(|(k, _)| *k != "kind")
                .filter_map(|(_, x)| x.as_str().map(str::to_string))
                .collect();
            Some(parts.join("."))
        })
        .unwrap_or_default()
}

fn forms(
    model: &str,
    versions: &[Version],
    aliases: &std::collections::BTreeMap<String, u64>,
) -> Markup {
    let seg = layout::seg(model);
    let (newest, older) = (
        versions.first().map(|v| v.version),
        versions.get(1).map(|v| v.version),
    );
    html! {
        h2 { "Compare two versions" }
        form class="inline" method="get" action=(format!("/ui/models/{seg}/compare")) {
            label { "Version A" select name="a" data-testid="compare-a" { @for v in versions { option value=(v.version) selected[Some(v.version) == older] { (v.version) } } } }
            label { "Version B" select name="b" data-testid="compare-b" { @for v in versions { option value=(v.version) selected[Some(v.version) == newest] { (v.version) } } } }
            button type="submit" data-testid="compare" { "Compare" }
        }
        h2 { "Move an alias" }
        p class="sub" { "Needs the server's token (MLP_TOKEN). Deployments that name the alias serve the new version within a second." }
        form class="inline" method="post" action=(format!("/ui/models/{seg}/alias")) data-testid="alias-form" {
            label { "Alias" input name="alias" required list="known-aliases" data-testid="alias-name"; }
            datalist id="known-aliases" { @for a in aliases.keys() { option value=(a) {} } }
            label { "Version" select name="version" data-testid="alias-version" { @for v in versions { option value=(v.version) { (v.version) } } } }
            label { "Token" input type="password" name="token" autocomplete="off" data-testid="alias-token"; }
            button type="submit" data-testid="alias-move" { "Move" }
        }
    }
}

/// Moves the alias a form names; where to go next.
pub fn move_alias(ui: &Ui, model: &str, form: &[(String, String)]) -> Result<String, Problem> {
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let alias = field("alias")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Problem::bad_request("name the alias to move"))?;
    let version = field("version")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| Problem::bad_request("choose the version the alias should point at"))?;
    let mut reg = ui.registry()?;
    reg.set_alias(model, &alias, version, "moved from the web UI")
        .map_err(|e| Problem::bad_request(&e.to_string()))?;
    let plan = ui.plan()?;
    Ok(plan
        .model(model)
        .map_or_else(|| "/ui/models".into(), |r| href(&r.id)))
}

/// Versions `a` and `b` of `model` side by side: metrics with their difference, params, tags.
pub fn compare(ui: &Ui, model: &str, a: u64, b: u64) -> Result<Markup, Problem> {
    let missing = |v: u64| Problem::not_found(&format!("version {v} of model `{model}`"));
    let reg = ui.registry_if_any()?.ok_or_else(|| missing(a))?;
    let get = |v: u64| match reg.get(model, v) {
        Ok(x) => Ok(x),
        Err(
            mlp_registry::RegistryError::UnknownRef { .. }
            | mlp_registry::RegistryError::UnknownModel(_),
        ) => Err(missing(v)),
        Err(e) => Err(registry_err(e)),
    };
    let (va, vb) = (get(a)?, get(b)?);
    let metrics: BTreeSet<&String> = va.metrics.keys().chain(vb.metrics.keys()).collect();
    let params: BTreeSet<&String> = va.params.keys().chain(vb.params.keys()).collect();
    let body = html! {
        h1 { (model) ": version " (a) " against " (b) }
        p { (layout::link_to(ui.plan()?.model(model), "All versions")) }
        table data-testid="comparison" {
            thead { tr { th { "" } th { "Version " (a) } th { "Version " (b) } th { "B − A" } } }
            tbody {
                @for m in &metrics {
                    @let (x, y) = (va.metrics.get(*m), vb.metrics.get(*m));
                    tr { td { "metric " code { (m) } } td class="num" { (x.map_or("-".into(), |v| num(*v))) }
                        td class="num" { (y.map_or("-".into(), |v| num(*v))) }
                        td class="num" { @if let (Some(x), Some(y)) = (x, y) { (num(y - x)) } } }
                }
                @for p in &params {
                    tr { td { "param " code { (p) } } td class="code" { (va.params.get(*p).map_or("-".into(), |v| v.to_string())) }
                        td class="code" { (vb.params.get(*p).map_or("-".into(), |v| v.to_string())) } td {} }
                }
                tr { td { "artifact" } td class="code" { (layout::short_hash(&va.artifact_sha256)) } td class="code" { (layout::short_hash(&vb.artifact_sha256)) }
                    td { (if va.artifact_sha256 == vb.artifact_sha256 { "same" } else { "differs" }) } }
                tr { td { "training set" } td class="code" { (va.training_set.as_ref().map_or("-", |t| layout::short_hash(&t.sha256))) }
                    td class="code" { (vb.training_set.as_ref().map_or("-", |t| layout::short_hash(&t.sha256))) } td {} }
                tr { td { "registered" } td { (va.created) } td { (vb.created) } td {} }
            }
        }
    };
    Ok(shell(&format!("{model} {a} against {b}"), "models", body))
}
