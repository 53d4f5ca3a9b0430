//! The page shell every UI page shares (head, navigation, search box, styles), the error
//! page, and small helpers for links and values. Everything interpolated is escaped by maud.

use actix_web::http::StatusCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What goes wrong with a request, shown as a page with its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// One line.
    pub title: String,
    /// What to do about it.
    pub detail: String,
}

impl Problem {
    /// 404: `what` does not exist.
    pub fn not_found(what: &str) -> Problem {
        Problem {
            status: StatusCode::NOT_FOUND,
            title: "Not found".into(),
            detail: format!("There is no {what} in this project. Search for it below."),
        }
    }
    /// 405.
    pub fn method(method: &str, path: &str) -> Problem {
        Problem {
            status: StatusCode::METHOD_NOT_ALLOWED,
            title: "Method not allowed".into(),
            detail: format!("{method} /ui{path} is not something the UI answers."),
        }
    }
    /// 400.
    pub fn bad_request(detail: &str) -> Problem {
        Problem {
            status: StatusCode::BAD_REQUEST,
            title: "Bad request".into(),
            detail: detail.into(),
        }
    }
    /// 403.
    pub fn forbidden(detail: &str) -> Problem {
        Problem {
            status: StatusCode::FORBIDDEN,
            title: "Forbidden".into(),
            detail: detail.into(),
        }
    }
    /// 500: a store could not be read.
    pub fn internal(detail: &str) -> Problem {
        Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something could not be read".into(),
            detail: detail.into(),
        }
    }
    /// 503: nothing is applied yet.
    pub fn nothing_applied() -> Problem {
        Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Nothing is applied yet".into(),
            detail: "Run `mlpc apply` first: the UI shows the applied plan, never the source."
                .into(),
        }
    }
}

/// Characters left as they are in a path segment: ids are `kind.name[.feature]`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'_').remove(b'-');

/// `s` as one path segment.
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The page of resource `id`.
pub fn href(id: &str) -> String {
    format!("/ui/r/{}", seg(id))
}

/// A link to resource `id` showing `text`.
pub fn link(id: &str, text: &str) -> Markup {
    html! { a href=(href(id)) { (text) } }
}

/// A link to `r`'s page showing `text`, or `text` alone when the plan has no such resource
/// (a run of a pipeline removed since, say).
pub fn link_to(r: Option<&mlp_ir::Resource>, text: &str) -> Markup {
    match r {
        Some(r) => link(&r.id, text),
        None => html! { (text) },
    }
}

/// The name part of an id (`features.user_stats` -> `user_stats`).
pub fn short(id: &str) -> &str {
    id.split_once('.').map_or(id, |(_, n)| n)
}

/// The first 12 characters of a hash or id.
pub fn short_hash(h: &str) -> &str {
    h.char_indices().nth(12).map_or(h, |(i, _)| &h[..i])
}

/// A number for people: integers as such, others with up to four significant decimals.
pub fn num(x: f64) -> String {
    mlp_monitoring::monitor::report_charts::fmt_num(x)
}

/// Milliseconds for people.
pub fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{:.2} s", x / 1000.0)
    } else if x >= 10.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.2} ms")
    }
}

/// A state as a chip: the word is always there, the colour only repeats it.
pub fn chip(word: &str) -> Markup {
    let class = match word {
        "ok" | "succeeded" | "serving" | "cached" | "pass" | "resolved" => "good",
        "firing" | "failed" | "error" | "cannot serve" | "fail" | "interrupted" => "bad",
        "pending" | "running" | "retrying" | "drift" | "differs" => "warn",
        _ => "neutral",
    };
    html! { span class=(format!("chip {class}")) { (word) } }
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; background: #f5f6f8; color: #1f2328; font-size: 14px; line-height: 1.45; }
header.top { background: #1f2328; color: #fff; display: flex; align-items: center; gap: 18px;
  padding: 8px 24px; flex-wrap: wrap; }
header.top a { color: #fff; text-decoration: none; padding: 4px 6px; border-radius: 4px; }
header.top a:hover, header.top a:focus { background: #3d444d; outline: 2px solid #fff; }
header.top .brand { font-weight: 700; font-size: 16px; }
header.top form { margin-left: auto; }
header.top input { padding: 4px 8px; border-radius: 4px; border: 1px solid #8c959f; width: 220px; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 28px 40px; }
a { color: #0550ae; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible {
  outline: 3px solid #0969da; outline-offset: 2px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h1 .kind { font-size: 13px; color: #57606a; font-weight: 400; margin-left: 8px; }
h2 { font-size: 17px; margin: 26px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 0 0 6px; }
p.doc { color: #3d444d; margin: 4px 0 12px; white-space: pre-wrap; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
.meta dt { color: #57606a; } .meta dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { white-space: nowrap; }
code, td.code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
  overflow-wrap: anywhere; }
.chip { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; border: 1px solid; white-space: nowrap; }
.chip.good { color: #1a5e20; background: #e6f4ea; border-color: #1a5e20; }
.chip.bad { color: #a40e26; background: #fde8ea; border-color: #a40e26; }
.chip.warn { color: #7a4500; background: #fff4e0; border-color: #7a4500; }
.chip.neutral { color: #3d444d; background: #eef1f4; border-color: #8c959f; }
.strip { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.strip .card { flex: 1 1 200px; margin: 0; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 14px;
  margin-bottom: 14px; }
.card .big { font-size: 22px; font-weight: 600; }
.card .sub { color: #57606a; font-size: 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
.grid2 .card { margin: 0; min-width: 0; }
.empty { padding: 14px; color: #57606a; background: #f6f8fa; border-radius: 4px; }
.graph { overflow-x: auto; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; }
svg.dag { display: block; }
svg.dag .node rect { fill: #fff; stroke: #57606a; stroke-width: 1.2; rx: 5; }
svg.dag a:focus rect, svg.dag a:hover rect { stroke: #0969da; stroke-width: 2.5; }
svg.dag .node.focus rect { stroke: #0969da; stroke-width: 2.5; fill: #ddf4ff; }
svg.dag .node.good rect { fill: #e6f4ea; } svg.dag .node.bad rect { fill: #fde8ea; }
svg.dag .node.warn rect { fill: #fff4e0; }
svg.dag text { font-size: 12px; fill: #1f2328; }
svg.dag text.sub { font-size: 10px; fill: #57606a; }
svg.dag text.head { font-size: 11px; fill: #57606a; font-weight: 600; }
svg.dag path.edge { fill: none; stroke: #8c959f; stroke-width: 1.2; }
nav.pages { margin: 10px 0; display: flex; gap: 10px; align-items: center; }
form.inline { display: flex; gap: 8px; align-items: end; flex-wrap: wrap; }
form.inline label { display: flex; flex-direction: column; font-size: 12px; color: #57606a; }
form.inline input, form.inline select, button { padding: 4px 8px; font-size: 14px; }
button { background: #0969da; color: #fff; border: 1px solid #0550ae; border-radius: 4px; cursor: pointer; }
pre.log { background: #1f2328; color: #e6edf3; padding: 12px; overflow: auto; max-height: 600px;
  font-size: 12px; }
svg.spark rect { fill: #0969da; }
footer { margin-top: 28px; color: #6e7781; font-size: 12px; }
"#;

/// A whole page: `title`, the section of the navigation it belongs to, and its body.
pub fn shell(title: &str, section: &str, body: Markup) -> Markup {
    let nav = [
        ("overview", "/ui", "Overview"),
        ("models", "/ui/models", "Models"),
        ("runs", "/ui/runs", "Runs"),
    ];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — mlp" }
                link rel="icon" href="data:,";
                style { (PreEscaped(CSS)) (PreEscaped(mlp_monitoring::monitor::report_html::SECTIONS_CSS)) }
                script src="/ui/assets/htmx.min.js" defer {}
            }
            body {
                header class="top" {
                    a class="brand" href="/ui" { "mlp" }
                    nav aria-label="Sections" {
                        @for (key, to, label) in nav {
                            @if key == section {
                                a href=(to) aria-current="page" { strong { (label) } }
                            } @else {
                                a href=(to) { (label) }
                            }
                        }
                    }
                    form method="get" action="/ui/search" role="search" {
                        label for="search-box" class="visually-hidden" style="position:absolute;left:-9999px" { "Search resources" }
                        input id="search-box" data-testid="search" type="search" name="q"
                            placeholder="Search names and docs";
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The page of a [`Problem`].
pub fn problem(p: &Problem) -> Markup {
    shell(
        &p.title,
        "",
        html! {
            h1 data-testid="problem" { (p.status.as_u16()) " " (p.title) }
            p { (p.detail) }
            p { a href="/ui" { "Back to the overview" } }
        },
    )
}

/// Links to the pages of a list of `total` items, `per` on a page, at `page`; `to(n)` is
/// page n's address.
pub fn pager(page: usize, per: usize, total: usize, to: impl Fn(usize) -> String) -> Markup {
    let pages = total.div_ceil(per).max(1);
    html! {
        @if pages > 1 {
            nav class="pages" aria-label="Pages" {
                @if page > 1 { a href=(to(page - 1)) rel="prev" { "← previous" } }
                span { "page " (page) " of " (pages) " (" (total) ")" }
                @if page < pages { a href=(to(page + 1)) rel="next" { "next →" } }
            }
        }
    }
}

/// A time in µs since the epoch for people (UTC).
pub fn when_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || us.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// How long ago `us` was, from `now_us`.
pub fn ago(us: i64, now_us: i64) -> String {
    let s = (now_us - us) / 1_000_000;
    match s {
        s if s < 0 => "in the future".into(),
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// Now, µs since the epoch.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
