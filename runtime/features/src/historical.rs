//! Point-in-time correct historical retrieval: for every row of an entity file (keys and a
//! timestamp t), the value each requested feature had at t, computed by DuckDB.
//!
//! The rules (Feast's, plus the leak-free default; see docs/feature-store.md):
//! - a source row is a candidate when its keys match and `event_ts <= t`; when the view has a
//!   TTL, also `event_ts >= t - ttl`; when the source declares `created`, also
//!   `created_ts <= t` (a row that did not exist yet at t cannot leak into training);
//! - column and expression features take the latest candidate (highest `event_ts`, then
//!   highest `created_ts`);
//! - aggregations cover the candidates with `t - window < event_ts <= t` (all candidates
//!   without a window); the TTL does not apply to them; `count` of nothing is 0, every other
//!   aggregation of nothing is null;
//! - timestamps without a time zone are read as UTC;
//! - the output has every entity row exactly once, in input order, with its columns, then one
//!   column per feature named `view__feature`; null where nothing is visible.

use crate::ondemand::{leaves, Kind};
use crate::sql::{aggregate_to_sql, expr_to_sql, ident, string, SqlError};
use duckdb::Connection;
use mlp_ir::{FeatureDef, Plan, SourceFormat, Spec, Type};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors of the feature store, each naming the file and column at fault.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A requested feature is not in the plan.
    #[error("unknown feature `{0}`{1}")]
    UnknownFeature(String, String),
    /// A feature kind this path cannot compute yet.
    #[error("feature `{0}`: {1}")]
    Unsupported(String, String),
    /// A file is missing or unreadable.
    #[error("cannot read `{path}`: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A column is missing from a file.
    #[error("`{path}` has no column `{column}`{hint}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// What it is needed for.
        hint: String,
    },
    /// An output path with an unknown extension.
    #[error("cannot write `{0}`: the output must end in .parquet or .csv")]
    OutputFormat(PathBuf),
    /// An expression that cannot be compiled.
    #[error("feature `{0}`: {1}")]
    Sql(String, SqlError),
    /// DuckDB failed (the message keeps the lines that say where: the line, the column).
    #[error("{0}")]
    Db(String),
}

impl From<duckdb::Error> for FeatureError {
    fn from(e: duckdb::Error) -> Self {
        let text = e.to_string();
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut out: Vec<&str> = lines.next().into_iter().collect();
        out.extend(lines.filter(|l| {
            l.starts_with("Original Line")
                || l.starts_with("Error when converting")
                || l.starts_with("file =")
        }));
        FeatureError::Db(out.join("; "))
    }
}

/// What to retrieve.
#[derive(Debug, Clone)]
pub struct HistoricalRequest {
    /// The project folder (source paths are relative to it).
    pub project_dir: PathBuf,
    /// Parquet or CSV file with the entity keys and the timestamp column.
    pub entities: PathBuf,
    /// Features as `view.feature`.
    pub features: Vec<String>,
    /// The timestamp column of the entity file.
    pub at: String,
    /// Where to write the result (`.parquet` or `.csv`).
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoricalReport {
    /// Rows written (the entity file's rows).
    pub rows: u64,
    /// Output columns added, `view__feature`.
    pub columns: Vec<String>,
}

/// The DuckDB type of a value type.
pub fn sql_type(t: Type) -> &'static str {
    match t {
        Type::Int => "BIGINT",
        Type::Float => "DOUBLE",
        Type::Bool => "BOOLEAN",
        Type::String => "VARCHAR",
        Type::Timestamp => "TIMESTAMP",
    }
}

/// A table function reading `path` (relative to `dir`) as `format`. CSV columns that the
/// source's schema declares are read with the declared types instead of guessed ones (a
/// column of nulls would otherwise be text).
fn reader(dir: &Path, path: &str, format: SourceFormat, schema: &[mlp_ir::Column]) -> String {
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    let full = string(&full.to_string_lossy());
    match format {
        SourceFormat::Parquet => format!("read_parquet({full})"),
        SourceFormat::Csv if schema.is_empty() => {
            format!("read_csv({full}, header = true, auto_detect = true)")
        }
        SourceFormat::Csv => {
            let types = schema
                .iter()
                .map(|c| format!("{}: {}", string(&c.name), string(sql_type(c.ty))))
                .collect::<Vec<_>>()
                .join(", ");
            format!("read_csv({full}, header = true, auto_detect = true, types = {{{types}}})")
        }
    }
}

fn file_reader(path: &Path) -> Result<String, FeatureError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let p = string(&path.to_string_lossy());
    match ext {
        "parquet" => Ok(format!("read_parquet({p})")),
        "csv" => Ok(format!("read_csv({p}, header = true, auto_detect = true)")),
        _ => Err(FeatureError::File {
            path: path.to_path_buf(),
            message: "expected a .parquet or .csv file".into(),
        }),
    }
}

fn columns_of(conn: &Connection, from: &str, path: &Path) -> Result<Vec<String>, FeatureError> {
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {from}"))
        .map_err(|e| FeatureError::File {
            path: path.to_path_buf(),
            message: first_line(&e.to_string()),
        })?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| FeatureError::File {
            path: path.to_path_buf(),
            message: first_line(&e.to_string()),
        })?;
    Ok(names)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

fn require(cols: &[String], path: &Path, column: &str, hint: &str) -> Result<(), FeatureError> {
    if cols.iter().any(|c| c == column) {
        Ok(())
    } else {
        Err(FeatureError::MissingColumn {
            path: path.to_path_buf(),
            column: column.into(),
            hint: hint.into(),
        })
    }
}

/// A source as the plan declares it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// Path or glob, relative to the project.
    pub path: String,
    /// File format.
    pub format: SourceFormat,
    /// Event-time column.
    pub timestamp: String,
    /// Created-time column.
    pub created: Option<String>,
    /// Declared columns.
    pub schema: Vec<mlp_ir::Column>,
}

/// A feature view with its entity and source resolved.
#[derive(Debug, Clone)]
pub struct ViewInfo {
    /// Entity name.
    pub entity: String,
    /// The entity's key columns.
    pub entity_keys: Vec<mlp_ir::Column>,
    /// The source.
    pub source: SourceInfo,
    /// TTL in milliseconds.
    pub ttl_ms: Option<u64>,
}

/// The view `view` of the plan, with its entity and source.
pub fn view_of(plan: &Plan, view: &str) -> Result<ViewInfo, FeatureError> {
    let unsupported = |why: &str| FeatureError::Unsupported(view.to_string(), why.to_string());
    let Some(Spec::FeatureView {
        entity: Some(entity),
        source: Some(source),
        ttl_ms,
        ..
    }) = plan.view(view).map(|r| &r.spec)
    else {
        return Err(unsupported(
            "not a feature view with an entity and a source",
        ));
    };
    let entity_keys = match plan.entity(entity).map(|r| &r.spec) {
        Some(Spec::Entity { keys }) => keys.clone(),
        _ => return Err(unsupported("its entity is not in the plan")),
    };
    let Some(Spec::Source {
        path,
        format,
        timestamp,
        created,
        schema,
    }) = plan.source(source).map(|r| &r.spec)
    else {
        return Err(unsupported("its source is not in the plan"));
    };
    Ok(ViewInfo {
        entity: entity.clone(),
        entity_keys,
        source: SourceInfo {
            path: path.clone(),
            format: *format,
            timestamp: timestamp.clone(),
            created: created.clone(),
            schema: schema.clone(),
        },
        ttl_ms: *ttl_ms,
    })
}

/// The source `name` of the plan.
pub fn source_info(plan: &Plan, name: &str) -> Option<SourceInfo> {
    match plan.source(name).map(|r| &r.spec) {
        Some(Spec::Source {
            path,
            format,
            timestamp,
            created,
            schema,
        }) => Some(SourceInfo {
            path: path.clone(),
            format: *format,
            timestamp: timestamp.clone(),
            created: created.clone(),
            schema: schema.clone(),
        }),
        _ => None,
    }
}

/// The key column names of entity `entity`.
pub fn key_columns(plan: &Plan, entity: &str) -> Vec<String> {
    match plan.entity(entity).map(|r| &r.spec) {
        Some(Spec::Entity { keys }) => keys.iter().map(|k| k.name.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The table function that reads a source.
pub fn source_reader(project_dir: &Path, s: &SourceInfo) -> String {
    reader(project_dir, &s.path, s.format, &s.schema)
}

/// The files a source's path (a file or a glob, relative to the project) names now, sorted:
/// the files a retrieval would read, by DuckDB's own glob rules.
pub fn source_files(project_dir: &Path, s: &SourceInfo) -> Result<Vec<PathBuf>, FeatureError> {
    let p = Path::new(&s.path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        project_dir.join(p)
    };
    let conn = Connection::open_in_memory()?;
    let mut stmt = conn.prepare("SELECT file FROM glob(?) ORDER BY file")?;
    let files = stmt
        .query_map([full.to_string_lossy().to_string()], |r| {
            r.get::<_, String>(0)
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())?;
    if files.is_empty() {
        return Err(FeatureError::File {
            path: full,
            message: "no such file (or no file matches the pattern)".into(),
        });
    }
    Ok(files.into_iter().map(PathBuf::from).collect())
}

/// One requested feature, resolved.
struct Wanted<'p> {
    view: String,
    name: String,
    ty: Type,
    def: &'p FeatureDef,
}

/// An on-demand feature to compute from retrieved features and request columns.
struct OnDemand<'p> {
    view: String,
    name: String,
    ty: Type,
    expr: &'p mlp_ir::IrExpr,
}

/// Adds a feature to the retrieval: batch features to their view, on-demand ones after the
/// features they read (each once).
fn want<'p>(
    plan: &'p Plan,
    views: &mut BTreeMap<String, Vec<Wanted<'p>>>,
    ondemand: &mut Vec<OnDemand<'p>>,
    view: &str,
    name: &str,
    ty: Type,
    def: &'p FeatureDef,
) {
    match def {
        FeatureDef::OnDemand { expr } => {
            if ondemand.iter().any(|o| o.view == view && o.name == name) {
                return;
            }
            let deps: Vec<(String, String)> = leaves(expr)
                .into_iter()
                .filter_map(|l| match l {
                    mlp_ir::IrExpr::Feature { view, feature } => {
                        Some((view.clone(), feature.clone()))
                    }
                    _ => None,
                })
                .collect();
            for (v, n) in deps {
                if let Some(Spec::Feature { ty, def, .. }) = plan.feature(&v, &n).map(|r| &r.spec) {
                    want(plan, views, ondemand, &v, &n, *ty, def);
                }
            }
            ondemand.push(OnDemand {
                view: view.to_string(),
                name: name.to_string(),
                ty,
                expr,
            });
        }
        _ => {
            let list = views.entry(view.to_string()).or_default();
            if !list.iter().any(|w| w.name == name) {
                list.push(Wanted {
                    view: view.to_string(),
                    name: name.to_string(),
                    ty,
                    def,
                });
            }
        }
    }
}

/// Runs a point-in-time retrieval and writes its output.
pub fn historical(plan: &Plan, req: &HistoricalRequest) -> Result<HistoricalReport, FeatureError> {
    // Resolve the features, grouped by view, in the order asked; on-demand features bring the
    // features they read (not written unless asked for), in dependency order.
    let mut views: BTreeMap<String, Vec<Wanted<'_>>> = BTreeMap::new();
    let mut ondemand: Vec<OnDemand<'_>> = Vec::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for r in &req.features {
        let id = format!("feature.{r}");
        let Some(res) = plan.get(&id) else {
            let known: Vec<String> = plan
                .resources()
                .filter(|x| x.kind() == "feature")
                .map(|x| x.id.trim_start_matches("feature.").to_string())
                .collect();
            let hint = known
                .iter()
                .find(|k| k.ends_with(&format!(".{}", r.rsplit('.').next().unwrap_or(r))))
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            return Err(FeatureError::UnknownFeature(r.clone(), hint));
        };
        let Spec::Feature { view, ty, def } = &res.spec else {
            return Err(FeatureError::UnknownFeature(r.clone(), String::new()));
        };
        order.push((view.clone(), res.name.clone()));
        want(plan, &mut views, &mut ondemand, view, &res.name, *ty, def);
    }
    if views.is_empty() && ondemand.is_empty() {
        return Err(FeatureError::UnknownFeature(
            String::new(),
            " (no feature asked for)".into(),
        ));
    }

    let conn = Connection::open_in_memory()?;
    // Naive timestamps are UTC; TIMESTAMPTZ values are converted to UTC.
    conn.execute_batch("SET TimeZone = 'UTC';")?;
    let entities = file_reader(&req.entities)?;
    let ecols = columns_of(&conn, &entities, &req.entities)?;
    require(
        &ecols,
        &req.entities,
        &req.at,
        " (the entity timestamp; pass --at to name another)",
    )?;
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE __e AS SELECT *, CAST({} AS TIMESTAMP) AS __mlp_at, (row_number() OVER ()) - 1 AS __mlp_row FROM {entities};",
        ident(&req.at)
    ))
    .map_err(|e| FeatureError::File { path: req.entities.clone(), message: first_line(&e.to_string()) })?;
    // The row numbers fix the output order from here on; DuckDB may reorder freely.
    conn.execute_batch("SET preserve_insertion_order = false;")?;

    let mut ctes = Vec::new();
    let mut selects: Vec<(String, String, String)> = Vec::new(); // (view, feature, SQL)
    for (vi, (view, wanted)) in views.iter().enumerate() {
        let vres = plan.view(view);
        let Some(Spec::FeatureView {
            entity: Some(entity),
            source: Some(source),
            ttl_ms,
            ..
        }) = vres.map(|r| &r.spec)
        else {
            return Err(FeatureError::Unsupported(
                view.clone(),
                "not a feature view with an entity and a source".into(),
            ));
        };
        let keys: Vec<String> = match plan.entity(entity).map(|r| &r.spec) {
            Some(Spec::Entity { keys }) => keys.iter().map(|k| k.name.clone()).collect(),
            _ => Vec::new(),
        };
        let Some(Spec::Source {
            path,
            format,
            timestamp,
            created,
            schema,
        }) = plan.source(source).map(|r| &r.spec)
        else {
            return Err(FeatureError::Unsupported(
                view.clone(),
                format!("source `{source}` is not in the plan"),
            ));
        };
        let src = reader(&req.project_dir, path, *format, schema);
        let src_path = req.project_dir.join(path);
        let scols = columns_of(&conn, &src, &src_path)?;
        for k in &keys {
            require(
                &ecols,
                &req.entities,
                k,
                &format!(" (a key of entity `{entity}`)"),
            )?;
            require(
                &scols,
                &src_path,
                k,
                &format!(" (a key of entity `{entity}`)"),
            )?;
        }
        require(&scols, &src_path, timestamp, " (the source's `timestamp`)")?;
        if let Some(c) = created {
            require(&scols, &src_path, c, " (the source's `created`)")?;
        }
        let col = |name: &str| format!("s.{}", ident(name));
        // Column types from the declared schema, for integer overflow checks.
        let kind = |e: &mlp_ir::IrExpr| match e {
            mlp_ir::IrExpr::Column { name } => schema
                .iter()
                .find(|c| &c.name == name)
                .map_or(Kind::Null, |c| Kind::of(c.ty)),
            _ => Kind::Null,
        };
        let join = keys
            .iter()
            .map(|k| format!("s.{0} = e.{0}", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let join = if join.is_empty() {
            "TRUE".to_string()
        } else {
            join
        };
        let ts = format!("CAST(s.{} AS TIMESTAMP)", ident(timestamp));
        let cr = created
            .as_ref()
            .map(|c| format!("CAST(s.{} AS TIMESTAMP)", ident(c)));
        let mut visible = format!("{ts} <= e.__mlp_at");
        if let Some(cr) = &cr {
            visible.push_str(&format!(" AND {cr} <= e.__mlp_at"));
        }
        let order_key = match &cr {
            Some(cr) => format!("struct_pack(t := {ts}, c := {cr})"),
            None => ts.clone(),
        };
        let base = format!("__e e JOIN {src} s ON {join}");

        // Latest-row features.
        let latest: Vec<&Wanted<'_>> = wanted
            .iter()
            .filter(|w| !matches!(w.def, FeatureDef::Aggregate { .. }))
            .collect();
        if !latest.is_empty() {
            let mut exprs = Vec::new();
            for w in &latest {
                let sql = match w.def {
                    FeatureDef::Column { column } => {
                        require(
                            &scols,
                            &src_path,
                            column,
                            &format!(" (feature `{}.{}`)", w.view, w.name),
                        )?;
                        col(column)
                    }
                    FeatureDef::Expr { expr } => expr_to_sql(expr, &col, &kind)
                        .map_err(|e| FeatureError::Sql(format!("{}.{}", w.view, w.name), e))?,
                    _ => continue,
                };
                exprs.push((w.name.clone(), sql));
            }
            let mut filter = visible.clone();
            if let Some(ttl) = ttl_ms {
                filter.push_str(&format!(
                    " AND {ts} >= e.__mlp_at - to_milliseconds({ttl}::BIGINT)"
                ));
            }
            let values = exprs
                .iter()
                .map(|(n, s)| format!("{s} AS {}", ident(n)))
                .collect::<Vec<_>>()
                .join(", ");
            // Ties on (event, created) time are broken by the values themselves, so that the
            // output does not depend on the order DuckDB reads the files in.
            let tie = exprs
                .iter()
                .map(|(_, s)| format!("{s} DESC NULLS LAST"))
                .collect::<Vec<_>>()
                .join(", ");
            let cr_order = cr
                .as_ref()
                .map(|c| format!(", {c} DESC"))
                .unwrap_or_default();
            let name = format!("__v{vi}_latest");
            ctes.push(format!(
                "{name} AS (SELECT * EXCLUDE (__rn) FROM (SELECT e.__mlp_row, {values}, row_number() OVER (PARTITION BY e.__mlp_row ORDER BY {ts} DESC{cr_order}, {tie}) AS __rn FROM {base} WHERE {filter}) WHERE __rn = 1)"
            ));
            for (n, _) in &exprs {
                selects.push((view.clone(), n.clone(), format!("{name}.{}", ident(n))));
            }
        }

        // Aggregations, one CTE per window.
        let mut windows: BTreeMap<Option<u64>, Vec<&Wanted<'_>>> = BTreeMap::new();
        for w in wanted {
            if let FeatureDef::Aggregate { window_ms, .. } = w.def {
                windows.entry(*window_ms).or_default().push(w);
            }
        }
        for (wi, (window, ws)) in windows.iter().enumerate() {
            let mut filter = visible.clone();
            if let Some(ms) = window {
                filter.push_str(&format!(
                    " AND {ts} > e.__mlp_at - to_milliseconds({ms}::BIGINT)"
                ));
            }
            let mut values = Vec::new();
            for w in ws {
                let FeatureDef::Aggregate { expr, .. } = w.def else {
                    continue;
                };
                let agg = aggregate_to_sql(expr, &col, &kind, &order_key)
                    .map_err(|e| FeatureError::Sql(format!("{}.{}", w.view, w.name), e))?;
                values.push(format!("{agg} AS {}", ident(&w.name)));
            }
            let name = format!("__v{vi}_agg{wi}");
            ctes.push(format!(
                "{name} AS (SELECT e.__mlp_row, {} FROM {base} WHERE {filter} GROUP BY e.__mlp_row)",
                values.join(", ")
            ));
            for w in ws {
                let is_count = matches!(w.def, FeatureDef::Aggregate { expr: mlp_ir::IrExpr::Call { func, .. }, .. } if func == "count" || func == "count_distinct");
                let v = format!("{name}.{}", ident(&w.name));
                selects.push((
                    view.clone(),
                    w.name.clone(),
                    if is_count {
                        format!("coalesce({v}, 0)")
                    } else {
                        v
                    },
                ));
            }
        }
    }

    // Final select: the entity columns in input order, then the features as asked.
    let mut joins = String::new();
    for c in &ctes {
        let name = c.split(' ').next().unwrap_or("");
        joins.push_str(&format!(" LEFT JOIN {name} USING (__mlp_row)"));
    }
    // Every retrieved feature as SQL over the joined CTEs, then the on-demand ones over those
    // and the entity file's columns (request fields are read from columns of the same name).
    let mut by_name: BTreeMap<String, (String, Type)> = BTreeMap::new();
    for (view, name, sql) in &selects {
        let ty = views
            .get(view)
            .and_then(|ws| ws.iter().find(|w| &w.name == name))
            .map_or(Type::String, |w| w.ty);
        by_name.insert(
            format!("{view}__{name}"),
            (format!("CAST({sql} AS {})", sql_type(ty)), ty),
        );
    }
    for od in &ondemand {
        let fields = leaves(od.expr).into_iter().filter_map(|l| match l {
            mlp_ir::IrExpr::Request { field, .. } => Some(field),
            _ => None,
        });
        for f in fields {
            require(
                &ecols,
                &req.entities,
                f,
                &format!(
                    " (a request field of on-demand feature `{}.{}`)",
                    od.view, od.name
                ),
            )?;
        }
        let kind = |e: &mlp_ir::IrExpr| match e {
            mlp_ir::IrExpr::Feature { view, feature } => by_name
                .get(&format!("{view}__{feature}"))
                .map_or(Kind::Null, |(_, t)| Kind::of(*t)),
            mlp_ir::IrExpr::Request { request, field } => {
                match plan.request(request).map(|r| &r.spec) {
                    Some(Spec::Request { fields }) => fields
                        .iter()
                        .find(|c| &c.name == field)
                        .map_or(Kind::Null, |c| Kind::of(c.ty)),
                    _ => Kind::Null,
                }
            }
            _ => Kind::Null,
        };
        let col = |n: &str| match by_name.get(n) {
            Some((sql, _)) => format!("({sql})"),
            None => format!("e.{}", ident(n.split_once("__").map_or(n, |(_, f)| f))),
        };
        let sql = expr_to_sql(od.expr, &col, &kind)
            .map_err(|e| FeatureError::Sql(format!("{}.{}", od.view, od.name), e))?;
        let typed = format!("CAST({sql} AS {})", sql_type(od.ty));
        by_name.insert(format!("{}__{}", od.view, od.name), (typed, od.ty));
    }
    let mut out_cols = Vec::new();
    let mut projection = vec!["e.* EXCLUDE (__mlp_row, __mlp_at)".to_string()];
    for (view, name) in &order {
        let col = format!("{view}__{name}");
        let Some((sql, _)) = by_name.get(&col) else {
            continue;
        };
        projection.push(format!("{sql} AS {}", ident(&col)));
        out_cols.push(col);
    }
    let with = if ctes.is_empty() {
        String::new()
    } else {
        format!("WITH {} ", ctes.join(", "))
    };
    let query = format!(
        "{with}SELECT {} FROM __e e{joins} ORDER BY e.__mlp_row",
        projection.join(", ")
    );
    let target = string(&req.out.to_string_lossy());
    let fmt = match req.out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => "FORMAT parquet",
        Some("csv") => "FORMAT csv, HEADER true",
        _ => return Err(FeatureError::OutputFormat(req.out.clone())),
    };
    let rows = conn.execute(&format!("COPY ({query}) TO {target} ({fmt})"), [])?;
    Ok(HistoricalReport {
        rows: rows as u64,
        columns: out_cols,
    })
}
