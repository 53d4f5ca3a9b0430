//! A feature view (schema, features with types, definitions and docs, TTL, source, freshness,
//! the online hit rate, who reads it, and a histogram of each feature's materialized values)
//! and a single feature.

use super::resource::{heading, links, neighbours};
use crate::expr::expr_text;
use crate::layout::{self, href, num, shell, Problem};
use crate::Ui;
use maud::{html, Markup};
use mlp_ir::{FeatureDef, Plan, Resource, Spec};
use petgraph::Direction;

/// Features listed on one page of a view.
const FEATURES_PER_PAGE: usize = 100;
/// Histograms on one page of a view.
const HISTOGRAMS_PER_PAGE: usize = 12;
/// Bins of a histogram.
const BINS: usize = 20;

/// A feature's definition as written.
fn definition(def: &FeatureDef) -> String {
    match def {
        FeatureDef::Column { column } => column.clone(),
        FeatureDef::Expr { expr } | FeatureDef::OnDemand { expr } => expr_text(expr),
        FeatureDef::Aggregate { expr, window_ms } => match window_ms {
            Some(ms) => format!("{} over {}", expr_text(expr), duration(*ms)),
            None => format!("{} (over the view's TTL)", expr_text(expr)),
        },
    }
}

/// Milliseconds as the language writes them (`7d`, `2h`, `90s`).
pub fn duration(ms: u64) -> String {
    for (unit, n) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= n && ms.is_multiple_of(n) {
            return format!("{}{unit}", ms / n);
        }
    }
    format!("{ms}ms")
}

/// The models, deployments, monitors, pipelines and consumers downstream of `id`.
fn readers(plan: &Plan, id: &str) -> Vec<String> {
    mlp_state::lineage::lineage(plan, id, mlp_state::lineage::Walk::Downstream).map_or(
        Vec::new(),
        |l| {
            l.nodes
                .into_iter()
                .filter(|n| n.kind != "feature" && n.kind != "feature_view")
                .map(|n| n.id)
                .collect()
        },
    )
}

/// The view's watermark and when it was materialized, from the online store.
fn freshness(ui: &Ui, view: &str) -> Result<Option<(String, String)>, String> {
    ui.with_online(|conn| {
        let r = conn.query_row(
            "SELECT CAST(watermark AS VARCHAR), CAST(materialized_at AS VARCHAR) FROM watermarks WHERE view = ?",
            [view],
            |r| Ok((r.get(0)?, r.get(1)?)),
        );
        match r {
            Ok(v) => Ok(Some(v)),
            Err(duckdb::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) if e.to_string().contains("does not exist") => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    })
    .map(Option::flatten)
}

fn age(ts: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| layout::ago(t.and_utc().timestamp_micros(), layout::now_us()))
        .unwrap_or_default()
}

/// The page of feature view `r`.
pub fn page(ui: &Ui, plan: &Plan, r: &Resource, page: usize) -> Result<Markup, Problem> {
    let Spec::FeatureView {
        entity,
        source,
        ttl_ms,
        online,
        owner,
        features,
    } = &r.spec
    else {
        return Err(Problem::internal("not a feature view"));
    };
    let fresh = freshness(ui, &r.name);
    let hit_rate = ui.live.as_ref().and_then(|l| l.cache_counts());
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "Entity" } dd { @match entity { Some(e) => (layout::link_to(plan.entity(e), e)), None => "none (on demand)" } }
            dt { "Source" } dd { @match source { Some(s) => (layout::link_to(plan.source(s), s)), None => "request fields and other features" } }
            dt { "TTL" } dd { (ttl_ms.map_or("none".to_string(), duration)) }
            dt { "Online" } dd { (if *online { "served online" } else { "offline only" }) }
            @if let Some(o) = owner { dt { "Owner" } dd { (o) } }
            dt { "Freshness" }
            dd data-testid="freshness" { @match &fresh {
                Ok(Some((w, at))) => { "materialized up to " code { (w) } " (" (age(w)) "), at " (at) },
                Ok(None) => "not materialized",
                Err(e) => { "the online store could not be read: " (e) },
            } }
            dt { "Online hit rate" }
            dd data-testid="hit-rate" { @match hit_rate {
                Some((h, m)) if h + m > 0 => { (num(100.0 * h as f64 / (h + m) as f64)) "% of " (h + m) " reads from the cache (whole store, since the server started)" },
                Some(_) => "no online reads yet",
                None => "shown when `mlpc serve` runs the UI",
            } }
            dt { "Read by" } dd data-testid="readers" { (links(&readers(plan, &r.id))) }
        }
        h2 { "Features" }
        (feature_table(plan, r, features, page))
        h2 { "Distributions" }
        p { "Each numeric feature's materialized values in the online store (the latest per entity)." }
        div id="histograms" hx-get=(format!("/ui/r/{}/histograms", layout::seg(&r.id)))
            hx-trigger="load" hx-swap="innerHTML" { "loading histograms…" }
    };
    Ok(shell(&r.name, "", body))
}

fn feature_table(plan: &Plan, r: &Resource, features: &[String], page: usize) -> Markup {
    let view = r.name.as_str();
    let start = (page - 1) * FEATURES_PER_PAGE;
    html! {
        table data-testid="features" {
            thead { tr { th { "Feature" } th { "Type" } th { "Definition" } th { "Doc" } th { "Lineage" } } }
            tbody {
                @for f in features.iter().skip(start).take(FEATURES_PER_PAGE) {
                    @if let Some(fr) = plan.feature(view, f) {
                        @let id = &fr.id;
                        @if let Spec::Feature { ty, def, .. } = &fr.spec {
                            tr {
                                td class="code" { a href=(href(id)) data-testid=(format!("feature-{f}")) { (f) } }
                                td { (ty.name()) }
                                td class="code" { (definition(def)) }
                                td { (fr.doc) }
                                td { a href=(format!("/ui/lineage/{}", layout::seg(id))) data-testid=(format!("lineage-{f}")) { "lineage" } }
                            }
                        }
                    }
                }
            }
        }
        (layout::pager(page, FEATURES_PER_PAGE, features.len(), |n| format!("{}?page={n}", href(&r.id))))
    }
}

/// The page of feature `r`.
pub fn feature(plan: &Plan, r: &Resource) -> Result<Markup, Problem> {
    let Spec::Feature { view, ty, def } = &r.spec else {
        return Err(Problem::internal("not a feature"));
    };
    let body = html! {
        (heading(r))
        dl class="meta" {
            dt { "View" } dd { (layout::link_to(plan.view(view), view)) }
            dt { "Type" } dd { (ty.name()) }
            dt { "Definition" } dd { code { (definition(def)) } }
            dt { "Reads" } dd { (links(&neighbours(plan, r, Direction::Incoming))) }
            dt { "Read by" } dd { (links(&readers(plan, &r.id))) }
        }
    };
    Ok(shell(&r.name, "", body))
}

/// One histogram: equal-width bins between the smallest and largest value.
struct Histogram {
    lo: f64,
    hi: f64,
    counts: Vec<u64>,
    nulls: u64,
}

fn histogram(conn: &duckdb::Connection, table: &str, col: &str) -> Result<Histogram, String> {
    let c = mlp_features::sql::ident(col);
    let (lo, hi, nulls): (Option<f64>, Option<f64>, i64) = conn
        .query_row(
            &format!("SELECT min(CAST({c} AS DOUBLE)), max(CAST({c} AS DOUBLE)), count(*) - count({c}) FROM {table}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| e.to_string())?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(Histogram {
            lo: 0.0,
            hi: 0.0,
            counts: Vec::new(),
            nulls: nulls as u64,
        });
    };
    let width = if hi > lo {
        (hi - lo) / BINS as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; BINS];
    let mut stmt = conn
        .prepare(&format!(
            "SELECT least(CAST(floor((CAST({c} AS DOUBLE) - ?) / ?) AS BIGINT), {}) AS b, count(*) FROM {table} WHERE {c} IS NOT NULL GROUP BY b",
            BINS - 1
        ))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(duckdb::params![lo, width], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (b, n) = row.map_err(|e| e.to_string())?;
        counts[b.clamp(0, BINS as i64 - 1) as usize] += n as u64;
    }
    Ok(Histogram {
        lo,
        hi,
        counts,
        nulls: nulls as u64,
    })
}

fn histogram_svg(h: &Histogram) -> Markup {
    let top = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (w, ht) = (300.0, 90.0);
    let bw = w / BINS as f64;
    html! {
        svg class="chart spark" viewBox=(format!("0 0 {w} {}", ht + 16.0)) role="img"
            aria-label=(format!("histogram from {} to {}", num(h.lo), num(h.hi))) {
            @for (i, n) in h.counts.iter().enumerate() {
                @let bh = ht * *n as f64 / top;
                rect x=(format!("{:.1}", i as f64 * bw + 1.0)) y=(format!("{:.1}", ht - bh))
                    width=(format!("{:.1}", bw - 2.0)) height=(format!("{bh:.1}")) {
                    title { (n) " values" }
                }
            }
            text class="tick" x="0" y=(ht + 14.0) { (num(h.lo)) }
            text class="tick" x=(w) y=(ht + 14.0) text-anchor="end" { (num(h.hi)) }
        }
    }
}

/// The histograms fragment of view `id`, page `page`.
pub fn histograms(ui: &Ui, id: &str, page: usize) -> Result<Markup, Problem> {
    let plan = ui.plan()?;
    let r = super::resource::find(&plan, id)?;
    let Spec::FeatureView { features, .. } = &r.spec else {
        return Err(Problem::not_found(&format!("feature view `{id}`")));
    };
    let table = mlp_features::materialize::online_table(&r.name);
    let numeric: Vec<(&String, mlp_ir::Type)> = features
        .iter()
        .filter_map(|f| match plan.feature(&r.name, f).map(|x| &x.spec) {
            Some(Spec::Feature { ty, def, .. })
                if !matches!(def, FeatureDef::OnDemand { .. })
                    && matches!(
                        ty,
                        mlp_ir::Type::Int | mlp_ir::Type::Float | mlp_ir::Type::Bool
                    ) =>
            {
                Some((f, *ty))
            }
            _ => None,
        })
        .collect();
    let start = (page - 1) * HISTOGRAMS_PER_PAGE;
    let shown =
        &numeric[start.min(numeric.len())..(start + HISTOGRAMS_PER_PAGE).min(numeric.len())];
    let read = ui.with_online(|conn| {
        Ok(shown
            .iter()
            .map(|(f, _)| histogram(conn, &table, f))
            .collect::<Vec<_>>())
    });
    let hists = match read {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Ok(
                html! { p class="empty" { "Nothing is materialized yet: `mlpc materialize` fills the online store." } },
            )
        }
        Err(e) => return Err(Problem::internal(&format!("the online store: {e}"))),
    };
    let seg = layout::seg(&r.id);
    Ok(html! {
        div class="grid2" {
            @for ((f, ty), h) in shown.iter().zip(&hists) {
                div class="card" data-testid=(format!("histogram-{f}")) {
                    h3 { (f) " " span class="sub" { (ty.name()) } }
                    @match h {
                        Ok(h) if h.counts.is_empty() => p class="empty" { "no values (" (h.nulls) " null)" },
                        Ok(h) => { (histogram_svg(h)) div class="sub" { (h.counts.iter().sum::<u64>()) " values, " (h.nulls) " null" } },
                        Err(e) if e.contains("does not exist") => p class="empty" { "not materialized" },
                        Err(e) => p class="empty" { "could not be read: " (e) },
                    }
                }
            }
        }
        @if numeric.len() > HISTOGRAMS_PER_PAGE {
            nav class="pages" aria-label="Histogram pages" {
                @if page > 1 { a href="#" hx-get=(format!("/ui/r/{seg}/histograms?page={}", page - 1)) hx-target="#histograms" { "← previous" } }
                span { "page " (page) " of " (numeric.len().div_ceil(HISTOGRAMS_PER_PAGE)) }
                @if start + HISTOGRAMS_PER_PAGE < numeric.len() { a href="#" hx-get=(format!("/ui/r/{seg}/histograms?page={}", page + 1)) hx-target="#histograms" { "next →" } }
            }
        }
    })
}
