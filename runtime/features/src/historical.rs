//! Point-in-time correct historical retrieval: for every row of an entity file (keys and a
//! timestamp t), the value each requested feature had at t, computed by DuckDB (or, with
//! `offline = spark(...)`, by a Spark job from the same generated SQL: spark/).
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

use crate::feature_sql::{
    latest_row_cte, ondemand_to_sql, selects_to_typed, view_to_scan, window_ctes, Ctes, OnDemand,
    Wanted,
};
use crate::ondemand::leaves;
use crate::spark::OfflineConfig;
use crate::sql::{ident, string, Dialect, SqlError};
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
    /// A remote online store cannot be reached or refused a command (Redis): a server
    /// answers 503 with this reason and tries again on the next request.
    #[error("the online store is unavailable: {0}")]
    Unavailable(String),
    /// The offline engine (a Spark job) could not run or failed: its own reason.
    #[error("{0}")]
    Engine(String),
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
pub(crate) fn reader(
    dir: &Path,
    path: &str,
    format: SourceFormat,
    schema: &[mlp_ir::Column],
) -> String {
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

/// The column names of `from` (a table function reading `path`); an unreadable file is a
/// `File` error naming `path`.
pub(crate) fn columns_of(
    conn: &Connection,
    from: &str,
    path: &Path,
) -> Result<Vec<String>, FeatureError> {
    Ok(typed_columns_of(conn, from, path)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// The columns of `from` (a table function reading `path`) with their DuckDB types.
pub(crate) fn typed_columns_of(
    conn: &Connection,
    from: &str,
    path: &Path,
) -> Result<Vec<(String, String)>, FeatureError> {
    let mut stmt = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {from}"))
        .map_err(|e| FeatureError::File {
            path: path.to_path_buf(),
            message: first_line(&e.to_string()),
        })?;
    let names = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
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

/// Fails with `MissingColumn` (naming `path`, `column` and `hint`) unless `cols` has `column`.
pub(crate) fn require(
    cols: &[String],
    path: &Path,
    column: &str,
    hint: &str,
) -> Result<(), FeatureError> {
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
    source_files_in(&Connection::open_in_memory()?, project_dir, s)
}

/// As [`source_files`], globbing with `conn` (opening a database costs about 10 ms).
pub(crate) fn source_files_in(
    conn: &Connection,
    project_dir: &Path,
    s: &SourceInfo,
) -> Result<Vec<PathBuf>, FeatureError> {
    let p = Path::new(&s.path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        project_dir.join(p)
    };
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

/// The requested features resolved against the plan.
struct Resolved<'p> {
    /// Batch features grouped by view (the views in name order, which numbers their CTEs).
    views: BTreeMap<String, Vec<Wanted<'p>>>,
    /// On-demand features, each after the features it reads.
    ondemand: Vec<OnDemand<'p>>,
    /// The output columns as asked, `(view, feature)`.
    order: Vec<(String, String)>,
}

/// The entity file loaded into DuckDB as `__e`.
pub(crate) struct EntityTable {
    /// The in-memory database holding `__e`.
    pub(crate) conn: Connection,
    /// The entity file's own columns.
    pub(crate) cols: Vec<String>,
}

/// Runs a point-in-time retrieval and writes its output, in phases: the requested features
/// resolved, the entity file loaded, per view the CTEs of its latest-row features and of its
/// aggregations, the on-demand features over those, then the final select copied to the output.
pub fn historical(plan: &Plan, req: &HistoricalRequest) -> Result<HistoricalReport, FeatureError> {
    retrieve(plan, req, crate::pit::Use::Build)
}

/// As [`historical`], reading a source's point-in-time index only when a current one is
/// there (never building one): for materialization.
pub(crate) fn historical_if_indexed(
    plan: &Plan,
    req: &HistoricalRequest,
) -> Result<HistoricalReport, FeatureError> {
    retrieve(plan, req, crate::pit::Use::IfFresh)
}

/// The retrieval, on the project's offline engine (DuckDB, reading the sources' indexes
/// `when` (see [`crate::pit::Use`]), or Spark).
fn retrieve(
    plan: &Plan,
    req: &HistoricalRequest,
    when: crate::pit::Use,
) -> Result<HistoricalReport, FeatureError> {
    let engine = crate::spark::offline_config(plan);
    let d = match engine {
        OfflineConfig::DuckDb => Dialect::DuckDb,
        OfflineConfig::Spark(_) => Dialect::Spark,
    };
    let wanted = features_to_wanted(plan, &req.features)?;
    let table = entities_to_table(req)?;
    let mut ctes = Ctes::default();
    let mut read = Vec::new();
    for (vi, (view, ws)) in wanted.views.iter().enumerate() {
        let scan = view_to_scan(plan, req, &table, (vi, view), ws, when, d, &mut ctes)?;
        read.extend(scan.key_columns().iter().map(|k| k.name.clone()));
        latest_row_cte(&scan, ws, &mut ctes)?;
        window_ctes(&scan, ws, &table.conn, &mut ctes)?;
    }
    let mut by_name = selects_to_typed(d, &wanted.views, &ctes.selects);
    ondemand_to_sql(d, plan, req, &table, &wanted.ondemand, &mut by_name)?;
    match engine {
        OfflineConfig::DuckDb => select_to_copy(&table.conn, req, &ctes, &by_name, &wanted.order),
        OfflineConfig::Spark(cfg) => {
            read.extend(wanted.ondemand.iter().flat_map(|od| {
                leaves(od.expr).into_iter().filter_map(|l| match l {
                    mlp_ir::IrExpr::Request { field, .. } => Some(field.clone()),
                    _ => None,
                })
            }));
            let query = Query {
                ctes: &ctes,
                by_name: &by_name,
                order: &wanted.order,
                read,
            };
            crate::spark::retrieval_to_copy(&cfg, &table, req, &query)
        }
    }
}

/// A retrieval's compiled query, for an engine to run.
pub(crate) struct Query<'q> {
    /// Its CTEs and joins.
    pub(crate) ctes: &'q Ctes,
    /// Each feature's SQL and type by output column.
    pub(crate) by_name: &'q BTreeMap<String, (String, Type)>,
    /// The output columns as asked.
    pub(crate) order: &'q [(String, String)],
    /// The entity file's columns the query reads (keys, request fields).
    pub(crate) read: Vec<String>,
}

/// Writes `query`'s rows to `out` as Parquet or CSV (by its extension); the rows written.
pub(crate) fn copy_to(conn: &Connection, query: &str, out: &Path) -> Result<u64, FeatureError> {
    let target = string(&out.to_string_lossy());
    let fmt = match out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => "FORMAT parquet",
        Some("csv") => "FORMAT csv, HEADER true",
        _ => return Err(FeatureError::OutputFormat(out.to_path_buf())),
    };
    let rows = conn.execute(&format!("COPY ({query}) TO {target} ({fmt})"), [])?;
    Ok(rows as u64)
}

/// Resolves the requested `view.feature` names: grouped by view, in the order asked;
/// on-demand features bring the features they read (not written unless asked for), in
/// dependency order. Fails on an unknown name or when nothing is asked for.
fn features_to_wanted<'p>(
    plan: &'p Plan,
    features: &[String],
) -> Result<Resolved<'p>, FeatureError> {
    let mut views: BTreeMap<String, Vec<Wanted<'_>>> = BTreeMap::new();
    let mut ondemand: Vec<OnDemand<'_>> = Vec::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for r in features {
        let id = format!("feature.{r}");
        let Some(res) = plan.get(&id) else {
            return Err(unknown_feature(plan, r));
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
    Ok(Resolved {
        views,
        ondemand,
        order,
    })
}

/// The error for a feature name not in the plan, with a feature of the same name in another
/// view as a hint.
fn unknown_feature(plan: &Plan, r: &str) -> FeatureError {
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
    FeatureError::UnknownFeature(r.to_string(), hint)
}

/// Loads the entity file into a fresh in-memory DuckDB as `__e`: its columns, the request
/// time `__mlp_at` (as a UTC TIMESTAMP) and the row number `__mlp_row`, which fixes the output
/// order. Fails when the file cannot be read or lacks the timestamp column.
fn entities_to_table(req: &HistoricalRequest) -> Result<EntityTable, FeatureError> {
    let conn = Connection::open_in_memory()?;
    // Naive timestamps are UTC; TIMESTAMPTZ values are converted to UTC.
    conn.execute_batch("SET TimeZone = 'UTC';")?;
    crate::window::register_table_function(&conn)?;
    let entities = file_reader(&req.entities)?;
    let cols = columns_of(&conn, &entities, &req.entities)?;
    require(
        &cols,
        &req.entities,
        &req.at,
        " (the entity timestamp; pass --at to name another)",
    )?;
    // The row number: one Parquet file's own (read in parallel), else a window over the
    // scan. Either way the table holds the rows in that order (insertion order is kept here),
    // which positional joins rely on.
    let at = ident(&req.at);
    let one_parquet = req.entities.extension().is_some_and(|e| e == "parquet")
        && req.entities.is_file()
        && !req.entities.to_string_lossy().contains(['*', '?', '['])
        && !cols.iter().any(|c| c == "file_row_number");
    let create = if one_parquet {
        format!(
            "CREATE TEMP TABLE __e AS SELECT * EXCLUDE (file_row_number), CAST({at} AS TIMESTAMP) AS __mlp_at, file_row_number AS __mlp_row FROM read_parquet({}, file_row_number = true);",
            string(&req.entities.to_string_lossy())
        )
    } else {
        format!(
            "CREATE TEMP TABLE __e AS SELECT *, CAST({at} AS TIMESTAMP) AS __mlp_at, (row_number() OVER ()) - 1 AS __mlp_row FROM {entities};"
        )
    };
    conn.execute_batch(&create)
        .map_err(|e| FeatureError::File {
            path: req.entities.clone(),
            message: first_line(&e.to_string()),
        })?;
    // The row numbers fix the output order from here on; DuckDB may reorder freely.
    conn.execute_batch("SET preserve_insertion_order = false;")?;
    Ok(EntityTable { conn, cols })
}

/// The final select (the entity columns in input order, then the features as asked, over
/// the CTEs joined to the entity rows), written to `req.out` by a COPY as Parquet or CSV.
fn select_to_copy(
    conn: &Connection,
    req: &HistoricalRequest,
    all: &Ctes,
    by_name: &BTreeMap<String, (String, Type)>,
    order: &[(String, String)],
) -> Result<HistoricalReport, FeatureError> {
    let ctes = &all.ctes;
    let mut joins = String::new();
    for j in all.positional.iter().chain(&all.joins) {
        joins.push(' ');
        joins.push_str(j);
    }
    for c in ctes {
        let name = c.split(' ').next().unwrap_or("");
        joins.push_str(&format!(" LEFT JOIN {name} USING (__mlp_row)"));
    }
    let mut out_cols = Vec::new();
    let mut projection = vec!["e.* EXCLUDE (__mlp_row, __mlp_at)".to_string()];
    for (view, name) in order {
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
    // Positional joins keep the entity rows' order (the table's, which is the row numbers'):
    // with nothing else joined, the rows need no sort, only the order kept.
    let positional = ctes.is_empty() && all.joins.is_empty();
    let order = if positional {
        conn.execute_batch("SET preserve_insertion_order = true;")?;
        ""
    } else {
        " ORDER BY e.__mlp_row"
    };
    let query = format!(
        "{with}SELECT {} FROM __e e{joins}{order}",
        projection.join(", ")
    );
    let rows = copy_to(conn, &query, &req.out)?;
    Ok(HistoricalReport {
        rows,
        columns: out_cols,
    })
}
