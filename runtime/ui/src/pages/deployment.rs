//! A deployment: its serving graph (chain, route, combine, shadow), live request rate, p50
//! and p99 against its SLA and errors from the server's own metrics (a fragment htmx
//! refreshes every second), the latest predictions from the log, consumers declared and seen,
//! and its monitors.

use super::resource::{heading, links};
use crate::expr::expr_text;
use crate::layout::{self, chip, href, ms, num, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{GraphNode, ModelRef, Plan, Resource, Spec, VersionSel};

fn model_ref(plan: &Plan, m: &ModelRef) -> Markup {
    let v = match &m.version {
        VersionSel::Version(n) => n.to_string(),
        VersionSel::Alias(a) => a.clone(),
    };
    html! { (layout::link_to(plan.model(&m.model), &m.model)) "@" (v) }
}

/// The serving graph as nested lists, in the order requests flow.
fn graph_node(plan: &Plan, n: &GraphNode) -> Markup {
    match n {
        GraphNode::Model { model } => html! { "model " (model_ref(plan, model)) },
        GraphNode::Deployment { name } => {
            html! { "deployment " (layout::link_to(plan.deployment(name), name)) }
        }
        GraphNode::Chain { steps } => html! {
            "chain: each step's outputs feed the next"
            ol { @for s in steps { li { (graph_node(plan, s)) } } }
        },
        GraphNode::Route {
            by,
            when,
            then,
            otherwise,
        } => html! {
            "route"
            ul {
                li { "by " (graph_node(plan, by)) }
                li { "when " code { (expr_text(when)) } ": " (graph_node(plan, then)) }
                li { "else: " (graph_node(plan, otherwise)) }
            }
        },
        GraphNode::Combine {
            method,
            members,
            weights,
        } => html! {
            "combine with " code { (method) }
            @if !weights.is_empty() { " (weights " (weights.iter().map(|w| num(*w)).collect::<Vec<_>>().join(", ")) ")" }
            ul { @for m in members { li { (graph_node(plan, m)) } } }
        },
    }
}

/// The latest predictions of `deployment` from the prediction log, newest first.
type Prediction = (
    String,
    String,
    String,
    u16,
    f64,
    Option<String>,
    Option<String>,
);

fn latest_predictions(ui: &Ui, deployment: &str, n: usize) -> Result<Vec<Prediction>, String> {
    let dir = mlp_ir::host::state_dir(&ui.project_dir).join("predictions");
    let any = std::fs::read_dir(&dir).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
    });
    if !any {
        return Ok(Vec::new());
    }
    let glob = dir
        .join("*.parquet")
        .display()
        .to_string()
        .replace('\'', "''");
    let conn = duckdb::Connection::open_in_memory().map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST(time AS VARCHAR), request_id, model_version, status, latency_ms, consumer, CAST(coalesce(outputs, error) AS VARCHAR) \
             FROM read_parquet('{glob}', union_by_name = true) WHERE deployment = ? ORDER BY time DESC LIMIT {n}"
        ))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([deployment], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// The page of deployment `r`.
pub fn page(ui: &Ui, plan: &Plan, r: &Resource) -> Result<Markup, Problem> {
    let Spec::Deployment {
        graph,
        shadow,
        sla,
        mode,
        device,
        log,
        ..
    } = &r.spec
    else {
        return Err(Problem::internal("not a deployment"));
    };
    let declared: Vec<&Resource> = plan
        .resources()
        .filter(|c| matches!(&c.spec, Spec::Consumer { uses, .. } if uses.iter().any(|(d, _)| d == &r.name)))
        .collect();
    let seen: Vec<mlp_state::consumers::SeenConsumer> = mlp_state::consumers::seen(&ui.project_dir)
        .map_err(|e| Problem::internal(&format!("the consumers seen: {e}")))?
        .into_iter()
        .filter(|s| s.deployment == r.name)
        .collect();
    let monitors: Vec<String> = plan
        .resources()
        .filter(|m| matches!(&m.spec, Spec::Monitor { on, .. } if on == &r.name))
        .map(|m| m.id.clone())
        .collect();
    let served = ui
        .live
        .as_ref()
        .and_then(|l| l.deployments().into_iter().find(|s| s.name == r.name));
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Serving" } dd data-testid="serving" { @match (&served, &ui.live) {
                (Some(s), _) if s.error.is_none() => { (chip("serving")) " " (s.versions.join(", ")) @if let Some(sh) = &s.shadow { " · shadow " (sh) } },
                (Some(s), _) => { (chip("cannot serve")) " " (s.error.as_deref().unwrap_or("")) },
                (None, Some(_)) => "not served",
                (None, None) => "`mlpc serve` shows what serves",
            } }
            dt { "Mode" } dd { (mode) " on " (device) }
            dt { "Log" } dd { code { (serde_json::to_string(log).unwrap_or_default()) } }
            dt { "SLA" } dd {
                @for (p, t) in &sla.latency_ms { "latency " (p) " < " (ms(*t)) "; " }
                @if let Some(t) = sla.throughput_per_s { "throughput " (num(t)) "/s; " }
                @if let Some(e) = sla.error_rate { "error rate < " (num(e * 100.0)) "%" }
            }
            dt { "Monitors" } dd { (links(&monitors)) }
        }
        h2 { "Graph" }
        div class="card" data-testid="deployment-graph" {
            (graph_node(plan, graph))
            @if let Some(s) = shadow { p { "shadow: " (model_ref(plan, s)) " answers every request too; its answers are logged, never returned" } }
        }
        h2 { "Traffic" }
        div id="traffic" data-testid="traffic" hx-get=(format!("/ui/traffic/{}", layout::seg(&r.name)))
            hx-trigger="load, every 1s" hx-swap="innerHTML" { (traffic_of(ui, r)) }
        h2 { "Consumers" }
        table data-testid="consumers" {
            thead { tr { th { "Consumer" } th { "Declared" } th { "Requests seen" } th { "Last seen" } } }
            tbody {
                @for c in &declared {
                    @let s = seen.iter().find(|s| s.consumer == c.name);
                    tr { td { a href=(href(&c.id)) { (c.name) } } td { (chip("ok")) " declared" }
                         td class="num" { (s.map_or(0, |s| s.requests)) } td { (s.map_or(String::new(), |s| layout::when_us(s.last_us))) } }
                }
                @for s in seen.iter().filter(|s| !declared.iter().any(|c| c.name == s.consumer)) {
                    tr { td { (s.consumer) } td { (chip("undeclared")) " seen, not declared" } td class="num" { (s.requests) } td { (layout::when_us(s.last_us)) } }
                }
            }
        }
        h2 { "Latest predictions" }
        div id="predictions" hx-get=(format!("/ui/predictions/{}", layout::seg(&r.name)))
            hx-trigger="load" hx-swap="innerHTML" { "reading the prediction log…" }
    };
    Ok(shell(&r.name, "", body))
}

/// The traffic fragment of deployment `name`.
pub fn traffic(ui: &Ui, name: &str) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let r = plan
        .deployment(name)
        .ok_or_else(|| Problem::not_found(&format!("deployment `{name}`")))?;
    Ok(traffic_of(ui, r))
}

fn traffic_of(ui: &Ui, r: &Resource) -> Markup {
    let Some(live) = &ui.live else {
        return html! { p class="empty" { "Live traffic shows when `mlpc serve` runs the UI; `mlpc ui` alone has no server." } };
    };
    let Spec::Deployment { sla, .. } = &r.spec else {
        return html! {};
    };
    let t = live.traffic(&r.name);
    let total: u32 = t.per_second.iter().sum();
    let target = |p: &str| sla.latency_ms.get(p).copied();
    let vs = |v: Option<f64>, p: &str| -> Markup {
        match (v, target(p)) {
            (Some(v), Some(t)) if v * 1000.0 <= t => {
                html! { (ms(v * 1000.0)) " " (chip("ok")) " target " (ms(t)) }
            }
            (Some(v), Some(t)) => html! { (ms(v * 1000.0)) " " (chip("fail")) " target " (ms(t)) },
            (Some(v), None) => html! { (ms(v * 1000.0)) },
            (None, _) => html! { span class="novalue" { "no requests" } },
        }
    };
    html! {
        div class="strip" {
            div class="card" { div class="sub" { "Request rate (last 10 s)" } div class="big" data-testid="request-rate" { (num(t.rate())) } div class="sub" { "requests/s; " (total) " in the last minute" } }
            div class="card" { div class="sub" { "p50 (last minute)" } div class="big" data-testid="p50" { (vs(t.p50, "p50")) } }
            div class="card" { div class="sub" { "p99 (last minute)" } div class="big" data-testid="p99" { (vs(t.p99, "p99")) } }
            div class="card" { div class="sub" { "Errors (last minute)" } div class="big" data-testid="errors" { (t.errors) }
                div class="sub" { @if total > 0 { (num(100.0 * t.errors as f64 / f64::from(total))) "% of requests" } } }
        }
        (sparkline(&t.per_second))
    }
}

/// Requests per second over the last minute, one bar a second.
fn sparkline(per_second: &[u32]) -> Markup {
    let top = per_second.iter().copied().max().unwrap_or(0).max(1);
    let (w, h) = (1100.0, 60.0);
    let bw = w / per_second.len().max(1) as f64;
    html! {
        svg class="chart spark" viewBox=(format!("0 0 {w} {}", h + 14.0)) role="img"
            aria-label="Requests per second over the last minute" {
            @for (i, n) in per_second.iter().enumerate() {
                @let bh = h * f64::from(*n) / f64::from(top);
                rect x=(format!("{:.1}", i as f64 * bw)) y=(format!("{:.1}", h - bh)) width=(format!("{:.1}", (bw - 1.0).max(0.5))) height=(format!("{bh:.1}")) { title { (n) " requests" } }
            }
            text class="tick" x="0" y=(h + 12.0) { "60 s ago" }
            text class="tick" x=(w) y=(h + 12.0) text-anchor="end" { "now (peak " (top) "/s)" }
        }
    }
}

/// The latest predictions fragment of deployment `name`.
pub fn predictions(ui: &Ui, name: &str) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    if plan.deployment(name).is_none() {
        return Err(Problem::not_found(&format!("deployment `{name}`")));
    }
    Ok(match latest_predictions(ui, name, 20) {
        Ok(p) if p.is_empty() => html! { p class="empty" { "No prediction logged yet." } },
        Ok(p) => html! {
            table data-testid="predictions" {
                thead { tr { th { "Time (UTC)" } th { "Request" } th { "Version" } th { "Status" } th { "Latency" } th { "Consumer" } th { "Outputs or error" } } }
                tbody { @for (t, id, v, s, l, c, o) in &p {
                    tr { td { (t) } td class="code" { (id) } td { (v) } td class="num" { (s) } td class="num" { (ms(*l)) } td { (c.as_deref().unwrap_or("")) } td class="code" { (o.as_deref().unwrap_or("")) } }
                } }
            }
        },
        Err(e) => html! { p class="empty" { "The prediction log could not be read: " (e) } },
    })
}
