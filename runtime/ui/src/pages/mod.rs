//! The pages: each route rendered from the plan and the stores, and the write action.

mod deployment;
mod lineage;
mod models;
mod monitor;
mod overview;
mod pipeline;
mod resource;
mod runs;
mod view;

use crate::layout::Problem;
use crate::route::{Answer, Route};
use crate::Ui;
use actix_web::http::StatusCode;
use maud::Markup;

/// The token a write sends: the form's `token` field, else the bearer header's.
fn token<'a>(form: &'a [(String, String)], bearer: Option<&'a str>) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .filter(|t| !t.is_empty())
        .or(bearer)
}

/// The form of a write action: a token field and a button (`testid` names both).
pub fn action_form(to: &str, label: &str, testid: &str) -> Markup {
    maud::html! {
        form class="inline" method="post" action=(to) data-testid=(testid) {
            label { "Token" input type="password" name="token" autocomplete="off" data-testid=(format!("{testid}-token")); }
            button type="submit" data-testid=(format!("{testid}-submit")) { (label) }
        }
    }
}

/// Renders `route`; `form` is a POST's fields, `bearer` the `Authorization` header's token.
pub fn render(
    ui: &Ui,
    route: Route,
    form: &[(String, String)],
    bearer: Option<&str>,
) -> Result<Answer, Problem> {
    let ok = |m: Markup| Ok(Answer::Html(StatusCode::OK, m));
    match route {
        Route::Asset(name) => crate::assets::asset(&name)
            .map(|(ct, bytes)| Answer::Asset(ct, bytes))
            .ok_or_else(|| Problem::not_found(&format!("asset `{name}`"))),
        Route::Overview => ok(overview::page(ui)?),
        Route::SourceDrift => ok(overview::source_drift(ui)?),
        Route::Search(q, kinds) => ok(overview::search(ui, &q, &kinds)?),
        Route::Predictions(d) => ok(deployment::predictions(ui, &d)?),
        Route::Resource(id, page) => ok(resource::page_of(ui, &id, page)?),
        Route::Histograms(id, page) => ok(view::histograms(ui, &id, page)?),
        Route::Lineage(id) => ok(lineage::page_of(ui, &id)?),
        Route::Models => ok(models::list(ui)?),
        Route::Compare(m, a, b) => ok(models::compare(ui, &m, a, b)?),
        Route::MoveAlias(m) => {
            ui.authorize(token(form, bearer))?;
            models::move_alias(ui, &m, form).map(Answer::SeeOther)
        }
        Route::RunPipeline(p) => {
            ui.authorize(token(form, bearer))?;
            pipeline::start_run(ui, &p).map(Answer::SeeOther)
        }
        Route::RunMonitor(m) => {
            ui.authorize(token(form, bearer))?;
            monitor::evaluate_now(ui, &m).map(Answer::SeeOther)
        }
        Route::Runs(page) => ok(runs::list(ui, page)?),
        Route::Run(id) => ok(runs::run(ui, &id)?),
        Route::StepLog(id, step) => ok(runs::log(ui, &id, &step)?),
        Route::Traffic(d) => ok(deployment::traffic(ui, &d)?),
    }
}
