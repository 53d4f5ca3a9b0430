//! The UI's routes: one handler under `/ui` that decodes the path into a [`Route`], renders
//! it off the HTTP workers (pages read SQLite, DuckDB and the state) and answers HTML with
//! the render time in a `Server-Timing` header, which `scripts/bench-ui.sh` reads.

use crate::layout::{self, Problem};
use crate::{pages, Ui};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::Markup;
use std::time::Instant;

/// Mounts the UI of `ui` under `/ui`.
pub fn configure(cfg: &mut web::ServiceConfig, ui: web::Data<Ui>) {
    cfg.service(
        web::scope("/ui")
            .app_data(ui)
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .default_service(web::to(dispatch)),
    );
}

/// What a request under `/ui` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The project at a glance.
    Overview,
    /// Whether the source differs from the applied plan (an htmx fragment).
    SourceDrift,
    /// Search across names and docs, of some kinds only when given.
    Search(String, Vec<String>),
    /// The latest predictions of a deployment (an htmx fragment).
    Predictions(String),
    /// One resource by id, on the page of its kind, at a page of its list (a view's features).
    Resource(String, usize),
    /// Histograms of a view's features (an htmx fragment), one page of them.
    Histograms(String, usize),
    /// Upstream and downstream of a resource or feature.
    Lineage(String),
    /// Every model with its versions.
    Models,
    /// Two versions of a model side by side.
    Compare(String, u64, u64),
    /// Moves an alias (POST).
    MoveAlias(String),
    /// Starts a run of a pipeline (POST).
    RunPipeline(String),
    /// Evaluates a monitor now (POST).
    RunMonitor(String),
    /// Pipeline runs, newest first, one page.
    Runs(usize),
    /// One run's DAG.
    Run(String),
    /// One step's log in one run.
    StepLog(String, String),
    /// A deployment's live traffic (an htmx fragment).
    Traffic(String),
    /// An embedded file.
    Asset(String),
}

/// Decodes one path segment (`%3C` to `<`); `None` when it is not UTF-8.
fn decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The value of `key` in a query string.
fn query(q: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The highest page number asked for (past the last page, a list is empty).
const MAX_PAGE: usize = 1_000_000;

fn page_number(q: &str) -> usize {
    query(q, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE)
}

/// The route of `method path?query` (`path` without `/ui`), or the problem with it.
pub fn route(method: &Method, path: &str, q: &str) -> Result<Route, Problem> {
    let segments: Option<Vec<String>> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let Some(segments) = segments else {
        return Err(Problem::not_found("a path that is not UTF-8"));
    };
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let post = method == Method::POST;
    let writes = matches!(
        s.as_slice(),
        ["models", _, "alias"] | ["pipelines", _, "run"] | ["monitors", _, "run"]
    );
    if !(post || method == Method::GET || method == Method::HEAD) || post != writes {
        return Err(Problem::method(method.as_str(), path));
    }
    let num = |v: &str| v.parse::<u64>().ok();
    let r = match s.as_slice() {
        [] => Route::Overview,
        ["source-drift"] => Route::SourceDrift,
        ["search"] => Route::Search(
            query(q, "q").unwrap_or_default(),
            query(q, "kinds")
                .map(|k| k.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        ),
        ["predictions", d] => Route::Predictions((*d).to_string()),
        ["r", id] => Route::Resource((*id).to_string(), page_number(q)),
        ["r", id, "histograms"] => Route::Histograms((*id).to_string(), page_number(q)),
        ["lineage", id] => Route::Lineage((*id).to_string()),
        ["models"] => Route::Models,
        ["models", m, "compare"] => {
            let (a, b) = (query(q, "a"), query(q, "b"));
            match (a.as_deref().and_then(num), b.as_deref().and_then(num)) {
                (Some(a), Some(b)) => Route::Compare((*m).to_string(), a, b),
                _ => {
                    return Err(Problem::bad_request(
                        "compare two versions: ?a=VERSION&b=VERSION",
                    ))
                }
            }
        }
        ["models", m, "alias"] => Route::MoveAlias((*m).to_string()),
        ["pipelines", p, "run"] => Route::RunPipeline((*p).to_string()),
        ["monitors", m, "run"] => Route::RunMonitor((*m).to_string()),
        ["runs"] => Route::Runs(page_number(q)),
        ["runs", id] => Route::Run((*id).to_string()),
        ["runs", id, "logs", step] => Route::StepLog((*id).to_string(), (*step).to_string()),
        ["traffic", d] => Route::Traffic((*d).to_string()),
        ["assets", f] => Route::Asset((*f).to_string()),
        _ => return Err(Problem::not_found(&format!("the page `/ui{path}`"))),
    };
    Ok(r)
}

/// What a route renders to.
pub enum Answer {
    /// A whole page or a fragment.
    Html(StatusCode, Markup),
    /// An embedded file.
    Asset(&'static str, &'static [u8]),
    /// Go there (after a form).
    SeeOther(String),
}

async fn dispatch(
    ui: web::Data<Ui>,
    req: HttpRequest,
    form: Result<web::Form<Vec<(String, String)>>, actix_web::Error>,
) -> HttpResponse {
    let start = Instant::now();
    let path = req.path().strip_prefix("/ui").unwrap_or("").to_string();
    let method = req.method().clone();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let r = match route(&method, &path, req.query_string()) {
        Ok(r) => r,
        Err(p) => return respond(Answer::Html(p.status, layout::problem(&p)), start),
    };
    let form = match form {
        Ok(f) => f.into_inner(),
        // A page has no form; a write's form must be readable.
        Err(_) if method != Method::POST => Vec::new(),
        Err(e) => {
            let p = Problem::bad_request(&format!("the form could not be read: {e}"));
            return respond(Answer::Html(p.status, layout::problem(&p)), start);
        }
    };
    let answer = web::block(move || {
        pages::render(&ui, r, &form, bearer.as_deref())
            .unwrap_or_else(|p| Answer::Html(p.status, layout::problem(&p)))
    })
    .await;
    match answer {
        Ok(a) => respond(a, start),
        Err(e) => {
            let p = Problem::internal(&e.to_string());
            respond(Answer::Html(p.status, layout::problem(&p)), start)
        }
    }
}

fn respond(a: Answer, start: Instant) -> HttpResponse {
    let timing = format!("render;dur={:.3}", start.elapsed().as_secs_f64() * 1000.0);
    match a {
        Answer::Html(status, m) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::ALLOW, "GET, HEAD, POST"))
            .insert_header(("Server-Timing", timing))
            .insert_header(("Cache-Control", "no-store"))
            .body(m.into_string()),
        Answer::Asset(ct, bytes) => HttpResponse::Ok()
            .content_type(ct)
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .body(bytes),
        Answer::SeeOther(to) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .finish(),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn paths_decode_into_routes() {
        let get = Method::GET;
        assert_eq!(route(&get, "", ""), Ok(Route::Overview));
        assert_eq!(route(&get, "/", ""), Ok(Route::Overview));
        assert_eq!(
            route(&get, "/r/%3Cscript%3E", "page=2"),
            Ok(Route::Resource("<script>".into(), 2))
        );
        assert_eq!(
            route(&get, "/models/m/compare", "a=1&b=2"),
            Ok(Route::Compare("m".into(), 1, 2))
        );
        assert_eq!(route(&get, "/runs", "page=0"), Ok(Route::Runs(1)));
        assert_eq!(
            route(&get, "/search", "q=a+b%22&kinds=source,request"),
            Ok(Route::Search(
                "a b\"".into(),
                vec!["source".into(), "request".into()]
            ))
        );
        assert_eq!(
            route(&get, "/runs", "page=99999999999999999999"),
            Ok(Route::Runs(1))
        );
        assert_eq!(
            route(&get, "/runs", "page=5000000"),
            Ok(Route::Runs(MAX_PAGE))
        );
        assert_eq!(
            route(&Method::PUT, "/models", "").map_err(|p| p.status),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            route(&get, "/nope/x", "").map_err(|p| p.status),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            route(&Method::POST, "/models/m/alias", ""),
            Ok(Route::MoveAlias("m".into()))
        );
        assert_eq!(
            route(&Method::POST, "/pipelines/p/run", ""),
            Ok(Route::RunPipeline("p".into()))
        );
        assert_eq!(
            route(&get, "/monitors/m/run", "").map_err(|p| p.status),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            route(&Method::POST, "/models", "").map_err(|p| p.status),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            route(&get, "/models/m/alias", "").map_err(|p| p.status),
            Err(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            route(&get, "/models/m/compare", "a=1").map_err(|p| p.status),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
