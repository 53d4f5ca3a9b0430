//! `mlpc monitor report`: one self-contained HTML file about a monitor, from its history.
//! The latest evaluation's checks and states, each distribution check's baseline and window
//! overlaid, and each check's value over its history with its threshold.
//!
//! Rendered with maud: the page is Rust code checked at compile time, and every value from
//! the spec or the data (check texts, messages, categories, file names) is HTML-escaped by
//! default. The file needs nothing else to open: inline CSS, inline SVG drawn by
//! [`report_charts`](super::report_charts), no script, font, image or link.

use super::evaluate::Outcome;
use super::history::{Alert, AlertState, Entry, History};
use super::report_charts::{
    bar_chart, fmt_num, line_chart, outcome_colour, outcome_word, Bars, Point, BASELINE_COLOUR,
    WINDOW_COLOUR,
};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::BTreeSet;

/// The metrics that compare a column's window with its baseline, whose details hold bins.
const DISTRIBUTION_METRICS: [&str; 6] = ["psi", "js", "wasserstein", "ks", "chi2", "drift"];

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; background: #f5f6f8; color: #1f2328; font-size: 14px; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 0 0 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
.meta dt { color: #57606a; } .meta dd { margin: 0; overflow-wrap: anywhere; }
.summary span { margin-right: 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.check { font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
td.msg { color: #57606a; overflow-wrap: anywhere; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 14px;
  margin-bottom: 14px; }
.card .sub { color: #57606a; font-size: 12px; margin-bottom: 6px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.grid2 .card { margin: 0; min-width: 0; }
.empty { padding: 18px; text-align: center; color: #57606a; background: #f6f8fa; border-radius: 4px; }
footer { margin-top: 28px; color: #8c959f; font-size: 12px; }
"#;

/// The styles of [`sections`]' own markup (state chips, outcomes, legends, charts): the
/// report's page and the web UI's monitor page both include them.
pub const SECTIONS_CSS: &str = r#"
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 600; white-space: nowrap; }
.outcome { font-size: 12px; color: #57606a; margin-left: 4px; white-space: nowrap; }
.novalue { color: #57606a; font-style: italic; }
.legend span { margin-right: 14px; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .tick { font-size: 11px; fill: #57606a; }
svg .threshold { stroke: #c62828; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .threshold-label { fill: #c62828; }
svg .series { fill: none; stroke: #0969da; stroke-width: 1.5; }
"#;

/// Why there is no report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The history could not be read.
    #[error("monitor history: {0}")]
    History(#[from] rusqlite::Error),
    /// The monitor is declared but has no evaluation yet.
    #[error(
        "monitor `{0}` has never been evaluated: run `mlpc monitor run` (or `mlpc serve`) first"
    )]
    NeverEvaluated(String),
    /// Neither the history nor the applied plan knows the monitor.
    #[error("no monitor `{name}`: {}", known_list(.known))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The monitors the history and the plan know.
        known: Vec<String>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "no monitor has been evaluated in this project yet".into()
    } else {
        format!("the history has {}", known.join(", "))
    }
}

/// The report of `monitor` from the history `h`, generated at `generated_at_us`.
/// `declared` are the monitors of the applied plan (empty when there is none): a declared
/// monitor without evaluations is [`ReportError::NeverEvaluated`], any other unknown name
/// [`ReportError::Unknown`] with the monitors the history knows.
pub fn report(
    h: &History,
    monitor: &str,
    declared: &[String],
    generated_at_us: i64,
) -> Result<String, ReportError> {
    let entries = h.entries(Some(monitor), i64::MIN)?;
    if entries.is_empty() {
        if declared.iter().any(|d| d == monitor) {
            return Err(ReportError::NeverEvaluated(monitor.into()));
        }
        let known: BTreeSet<String> = h
            .entries(None, i64::MIN)?
            .into_iter()
            .map(|e| e.monitor)
            .collect();
        return Err(ReportError::Unknown {
            name: monitor.into(),
            known: known.into_iter().collect(),
        });
    }
    let alerts = h.alerts(Some(monitor))?;
    Ok(render(monitor, &entries, &alerts, generated_at_us))
}

/// The page for `entries` (one monitor's, oldest first, at least one) and its `alerts`.
pub fn render(monitor: &str, entries: &[Entry], alerts: &[Alert], generated_at_us: i64) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Monitor " (monitor) " — mlp report" }
                style { (PreEscaped(CSS)) (PreEscaped(SECTIONS_CSS)) }
            }
            body { main {
                h1 { "Monitor " (monitor) }
                (sections(entries, alerts, generated_at_us))
                footer {
                    "Written by mlpc monitor report from .mlp/monitors.sqlite. Self-contained: \
                    no script, font, image or link is loaded. Times are UTC."
                }
            } }
        }
    };
    page.into_string()
}

/// The report's sections for `entries` (one monitor's, oldest first, at least one): the
/// latest window, the checks' states, the distributions and each check's history chart. The
/// web UI's monitor page shows the same sections.
pub fn sections(entries: &[Entry], alerts: &[Alert], generated_at_us: i64) -> Markup {
    let last_end = entries.iter().map(|e| e.window_end_us).max().unwrap_or(0);
    let latest: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.window_end_us == last_end)
        .collect();
    let windows: BTreeSet<i64> = entries.iter().map(|e| e.window_end_us).collect();
    html! {
        (header(&latest, &windows, generated_at_us))
        (summary(&latest))
        h2 { "Checks" }
        (checks_table(&latest, alerts))
        (distributions(&latest))
        h2 id="history" { "History" }
        p { (windows.len()) " evaluation" @if windows.len() != 1 { "s" }
            ", oldest first. Points are coloured by outcome; the dashed line is the \
            threshold; evaluations without a value (no data, error) are hollow squares \
            on the \"no value\" strip, not zeros." }
        div class="grid2" {
            @for e in &latest { (history_card(e, entries)) }
        }
    }
}

/// A time for people: `2026-11-30 12:00:00` (UTC).
fn when(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A state as a coloured label.
fn state_chip(s: AlertState) -> Markup {
    let colour = match s {
        AlertState::Ok => "#2e7d32",
        AlertState::Pending => "#b26a00",
        AlertState::Firing => "#c62828",
        AlertState::Resolved => "#1565c0",
        AlertState::NoData => "#757575",
        AlertState::Error => "#6a1b9a",
    };
    html! { span class="state" style=(format!("background:{colour}")) { (s.name().replace('_', " ")) } }
}

fn header(latest: &[&Entry], windows: &BTreeSet<i64>, generated_at_us: i64) -> Markup {
    let rfc = when;
    let first = latest.first();
    let versions: BTreeSet<&str> = latest
        .iter()
        .filter_map(|e| e.model_version.as_deref())
        .collect();
    let baselines: BTreeSet<&str> = latest.iter().map(|e| e.baseline.as_str()).collect();
    html! {
        dl class="meta" {
            dt { "Deployment" } dd { (first.map_or("", |e| e.deployment.as_str())) }
            dt { "Latest window" }
            dd { @if let Some(e) = first {
                (rfc(e.window_start_us)) " .. " (rfc(e.window_end_us)) " UTC"
                span class="outcome" { " evaluated " (rfc(e.evaluated_at_us)) }
            } }
            dt { "Baseline" } dd { (baselines.into_iter().collect::<Vec<_>>().join(", ")) }
            dt { "Model version" }
            dd { @if versions.is_empty() { span class="novalue" { "none logged" } }
                 @else { (versions.into_iter().collect::<Vec<_>>().join(", ")) } }
            dt { "History" }
            dd { (windows.len()) " windows, ending "
                (windows.first().map_or(String::new(), |t| rfc(*t))) " .. "
                (windows.last().map_or(String::new(), |t| rfc(*t))) }
            dt { "Generated" } dd { (rfc(generated_at_us)) " UTC" }
        }
    }
}

fn summary(latest: &[&Entry]) -> Markup {
    let states = [
        AlertState::Firing,
        AlertState::Pending,
        AlertState::Error,
        AlertState::NoData,
        AlertState::Resolved,
        AlertState::Ok,
    ];
    html! {
        p class="summary" {
            (latest.len()) " checks: "
            @for s in states {
                @let n = latest.iter().filter(|e| e.alert_state == s).count();
                @if n > 0 { span { (state_chip(s)) " " (n) } }
            }
        }
    }
}

/// A value, or what stands in for it: "no data" and "error" are never shown as a number.
fn value_cell(value: Option<f64>, outcome: Outcome) -> Markup {
    match (value, outcome) {
        (Some(v), _) => html! { (fmt_num(v)) },
        (None, Outcome::NoData | Outcome::Error) => {
            html! { span class="novalue" { (outcome_word(outcome)) } }
        }
        (None, _) => html! { span class="novalue" { "not finite" } },
    }
}

fn rows_cell(e: &Entry) -> String {
    let r = &e.result;
    let parts: Vec<String> = [
        ("window", r.window_rows),
        ("baseline", r.baseline_rows),
        ("labelled", r.labelled_rows),
    ]
    .iter()
    .filter_map(|(what, n)| n.map(|n| format!("{what} {n}")))
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn checks_table(latest: &[&Entry], alerts: &[Alert]) -> Markup {
    html! {
        table {
            thead { tr {
                th { "#" } th { "Check" } th { "State" } th { "Value" } th { "Threshold" }
                th { "Rows" } th { "Since" } th { "Message" }
            } }
            tbody { @for e in latest {
                @let r = &e.result;
                @let alert = alerts.iter().find(|a| a.index == r.index && a.check == r.check);
                tr {
                    td class="num" { (r.index + 1) }
                    td class="check" { (r.check) }
                    td { (state_chip(e.alert_state))
                        span class="outcome" style=(format!("color:{}", outcome_colour(r.outcome))) {
                            (outcome_word(r.outcome)) } }
                    td class="num" { (value_cell(r.value, r.outcome)) }
                    td class="num" { (r.threshold.map_or("-".into(), fmt_num)) }
                    td { (rows_cell(e)) }
                    td class="num" { (alert.map_or(String::new(), |a| when(a.since_us))) }
                    td class="msg" {
                        (r.message.as_deref().unwrap_or(""))
                        @if let Some(m) = &r.method { @if r.message.is_some() { "; " } "method " (m) }
                    }
                }
            } }
        }
    }
}

fn is_distribution(e: &Entry) -> bool {
    e.result
        .metric
        .as_deref()
        .is_some_and(|m| DISTRIBUTION_METRICS.contains(&m))
        || !e.result.details["bins"].is_null()
}

fn distributions(latest: &[&Entry]) -> Markup {
    let dist: Vec<&&Entry> = latest.iter().filter(|e| is_distribution(e)).collect();
    html! {
        @if !dist.is_empty() {
            h2 id="distributions" { "Distributions" }
            p class="legend" {
                span { span class="swatch" style=(format!("background:{BASELINE_COLOUR}")) {} "baseline" }
                span { span class="swatch" style=(format!("background:{WINDOW_COLOUR}")) {} "latest window" }
                span { "each side's share of its values in each bin" }
            }
            @for e in dist { (distribution_card(e)) }
        }
    }
}

fn distribution_card(e: &Entry) -> Markup {
    let r = &e.result;
    let bars = Bars::from_details(&r.details);
    html! {
        div class="card" {
            h3 { (r.check) " " (state_chip(e.alert_state)) }
            div class="sub" {
                @if let Some(c) = &r.column { "column " (c) "; " }
                (rows_cell(e))
                @if let Some(b) = &bars { @if b.folded > 0 {
                    "; the " (b.folded) " smallest bins are summed into \"other\"" } }
            }
            @match &bars {
                Some(b) => (bar_chart(b)),
                None => div class="empty" {
                    (outcome_word(r.outcome)) ": "
                    (r.message.as_deref().unwrap_or("no bins were recorded for this evaluation"))
                },
            }
        }
    }
}

fn history_card(e: &Entry, entries: &[Entry]) -> Markup {
    let r = &e.result;
    let points: Vec<Point> = entries
        .iter()
        .filter(|x| x.result.index == r.index && x.result.check == r.check)
        .map(|x| Point {
            t_us: x.window_end_us,
            value: x.result.value,
            outcome: x.result.outcome,
            note: x.result.message.clone().unwrap_or_default(),
        })
        .collect();
    html! {
        div class="card" data-testid=(format!("history-{}", r.index)) {
            h3 { (r.check) }
            div class="sub" {
                (state_chip(e.alert_state)) " "
                (r.metric.as_deref().unwrap_or("value"))
                @if let Some(t) = r.threshold { ", threshold " (fmt_num(t)) }
            }
            (line_chart(&points, r.threshold))
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::monitor::CheckResult;
    use serde_json::json;

    fn entry(index: usize, check: &str, outcome: Outcome, value: Option<f64>) -> Entry {
        Entry {
            monitor: "m".into(),
            deployment: "d<&>".into(),
            window_start_us: 0,
            window_end_us: 3_600_000_000,
            evaluated_at_us: 3_600_000_000,
            baseline: "file:b.parquet".into(),
            model_version: None,
            alert_state: match outcome {
                Outcome::Pass => AlertState::Ok,
                Outcome::Fail => AlertState::Firing,
                Outcome::NoData => AlertState::NoData,
                Outcome::Error => AlertState::Error,
            },
            result: CheckResult {
                index,
                check: check.into(),
                metric: check.split('(').next().map(str::to_string),
                column: None,
                method: None,
                value,
                threshold: Some(0.2),
                outcome,
                message: (value.is_none()).then(|| "column `x` is <missing>".to_string()),
                window_rows: None,
                baseline_rows: None,
                labelled_rows: None,
                details: json!(null),
            },
        }
    }

    #[test]
    fn errors_and_missing_bins_are_said_not_drawn_as_zero() {
        let entries = [
            entry(0, "psi(x) < 0.2", Outcome::Error, None),
            entry(1, "mean(x) < 0.2", Outcome::Fail, None),
            entry(2, "null_share(x) < 0.2", Outcome::NoData, None),
        ];
        let html = render("m", &entries, &[], 0);
        // The distribution check has no bins: its card says why instead of a chart.
        assert!(
            html.contains("error: column `x` is &lt;missing&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"novalue\">error</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"novalue\">no data</span>"),
            "{html}"
        );
        // A fail without a stored value was not finite (∞ is not stored).
        assert!(html.contains("not finite"), "{html}");
        assert!(html.contains("d&lt;&amp;&gt;"), "deployment escaped");
        assert!(html.contains("none logged"), "no model version");
        // One history chart a check, none for the distribution without bins.
        assert_eq!(html.matches("<svg").count(), 3, "{html}");
        assert!(!html.contains("<circle"), "no value is drawn as a point");
    }
}
