//! The SQL of a point-in-time retrieval's features (for `historical`): per view, one CTE of
//! the latest visible row's column and expression features and one CTE per aggregation
//! window, each keyed by the entity row; then the on-demand features as SQL over those and
//! the entity file's columns. One generator for both engines: DuckDB's SQL here, Spark SQL
//! for `offline = spark(...)` (spark/), which differ only in spelling ([`Dialect`]) and in
//! that DuckDB also reads the point-in-time and window indexes where Spark joins.

use crate::historical::{reader, require, EntityTable, FeatureError, HistoricalRequest};
use crate::ondemand::{leaves, Kind};
use crate::sql::{aggregate_to_sql_in, expr_to_sql_in, Dialect};
use mlp_ir::{FeatureDef, Plan, Spec, Type};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One requested feature, resolved.
pub(crate) struct Wanted<'p> {
    /// Its view.
    pub(crate) view: String,
    /// Its name in the view.
    pub(crate) name: String,
    /// Its value type.
    pub(crate) ty: Type,
    /// Its definition (a column, an expression or an aggregation).
    pub(crate) def: &'p FeatureDef,
}

/// An on-demand feature to compute from retrieved features and request columns.
pub(crate) struct OnDemand<'p> {
    /// Its view.
    pub(crate) view: String,
    /// Its name in the view.
    pub(crate) name: String,
    /// Its value type.
    pub(crate) ty: Type,
    /// Its expression over features and request fields.
    pub(crate) expr: &'p mlp_ir::IrExpr,
}

/// The CTEs of a retrieval and the SQL of every batch feature over them.
#[derive(Default)]
pub(crate) struct Ctes {
    /// `name AS (...)`, each left-joined to the entity rows on `__mlp_row`.
    pub(crate) ctes: Vec<String>,
    /// `(view, feature, SQL)` of every batch feature, in the order of the CTEs.
    pub(crate) selects: Vec<(String, String, String)>,
    /// Joins straight from the entity rows `e` (the point-in-time indexes), before the
    /// CTEs'.
    pub(crate) joins: Vec<String>,
    /// Positional joins to the entity rows `e` (the merged windows' results, one row per
    /// entity row in row order), before every other join, which would reorder the rows.
    pub(crate) positional: Vec<String>,
    /// The merged windows' results, readable by the joins while these are held.
    pub(crate) keep: Vec<crate::window::Registered>,
    /// The sources a Spark query reads as registered tables.
    pub(crate) tables: Vec<SparkTable>,
}

/// A source the Spark query reads as a registered table.
#[derive(Debug, Clone)]
pub(crate) struct SparkTable {
    /// The table's name in the query.
    pub(crate) name: String,
    /// The source's files (a path or a glob, absolute).
    pub(crate) path: PathBuf,
    /// Its format.
    pub(crate) format: mlp_ir::SourceFormat,
    /// Each column's type as DuckDB reads it, for CSV: Spark reads text and casts it to
    /// these, so that both engines see the same values (types guessed by each would differ).
    pub(crate) types: Vec<(String, String)>,
}

/// A view's source joined to the entity rows, with the SQL its CTEs share.
pub(crate) struct Scan<'a> {
    /// The dialect of the SQL it builds.
    dialect: Dialect,
    /// The view's position among the views (names its CTEs `__v{index}_...`).
    index: usize,
    /// The view's name.
    view: &'a str,
    /// The source's declared columns (for the types of column leaves).
    schema: &'a [mlp_ir::Column],
    /// The view's TTL in milliseconds.
    ttl_ms: Option<u64>,
    /// The source's path, for errors.
    src_path: PathBuf,
    /// The source's columns.
    scols: Vec<String>,
    /// The source row's event time, as a TIMESTAMP.
    ts: String,
    /// The source row's created time, as a TIMESTAMP, when the source declares one.
    cr: Option<String>,
    /// The condition for a source row to be visible at the entity row's time.
    visible: String,
    /// The order of source rows in time (for `first` and `last`).
    order_key: String,
    /// The entity rows joined to the source rows with the same keys.
    base: String,
    /// The entity's key columns.
    keys: Vec<String>,
    /// The table function reading the source's point-in-time index, when the view has
    /// latest-row features and the index is used.
    latest: Option<String>,
    /// The source's name.
    source: &'a str,
    /// The source's declaration.
    info: crate::historical::SourceInfo,
    /// The table function that reads the source (DuckDB's, for the indexes).
    reader: String,
    /// The entity's keys with their declared types.
    key_cols: Vec<mlp_ir::Column>,
    /// The project folder.
    project_dir: PathBuf,
    /// When the retrieval reads (and builds) indexes.
    when: crate::pit::Use,
}

impl Scan<'_> {
    /// The static type of a leaf: column types from the declared schema, for integer
    /// overflow checks.
    pub(crate) fn kind(&self, e: &mlp_ir::IrExpr) -> Kind {
        match e {
            mlp_ir::IrExpr::Column { name } => self
                .schema
                .iter()
                .find(|c| &c.name == name)
                .map_or(Kind::Null, |c| Kind::of(c.ty)),
            _ => Kind::Null,
        }
    }
}

impl<'a> Scan<'a> {
    /// The view's position among the views.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// A column of the source row.
    pub(crate) fn source_col(&self, name: &str) -> String {
        format!("s.{}", self.dialect.ident(name))
    }

    /// The view's name.
    pub(crate) fn view(&self) -> &'a str {
        self.view
    }

    /// The source's declared columns.
    pub(crate) fn schema(&self) -> &'a [mlp_ir::Column] {
        self.schema
    }

    /// The entity's keys with their declared types.
    pub(crate) fn key_columns(&self) -> &[mlp_ir::Column] {
        &self.key_cols
    }

    /// The source row's event time, as a TIMESTAMP.
    pub(crate) fn ts(&self) -> &str {
        &self.ts
    }

    /// The source row's created time, as a TIMESTAMP, when the source declares one.
    pub(crate) fn cr(&self) -> Option<&str> {
        self.cr.as_deref()
    }

    /// The tie-break's columns after event and created time, in file order.
    pub(crate) fn tie_columns(&self) -> impl Iterator<Item = &String> {
        let created = self.info.created.as_ref();
        self.scols.iter().filter(move |c| {
            !self.keys.contains(c) && **c != self.info.timestamp && created != Some(*c)
        })
    }

    /// The table function that reads the source.
    pub(crate) fn reader(&self) -> &str {
        &self.reader
    }

    /// When the retrieval reads (and builds) indexes.
    pub(crate) fn when(&self) -> crate::pit::Use {
        self.when
    }

    /// What the source's indexes are built from.
    pub(crate) fn index_input(&self) -> crate::pit::IndexInput<'_> {
        crate::pit::IndexInput {
            project_dir: &self.project_dir,
            name: self.source,
            source: &self.info,
            reader: &self.reader,
            keys: &self.keys,
            columns: &self.scols,
        }
    }
}

/// Resolves view `view` (the `vi`-th) to its source joined to the entity rows: checks that
/// the entity file and the source have the entity's keys and the source its timestamps, and
/// builds the visibility condition and the time order its CTEs share, in dialect `d`. Spark
/// reads the source as table `__src{vi}` (added to `out.tables`); DuckDB by a table function,
/// and through the source's point-in-time index where one is `when` to be read.
#[allow(clippy::too_many_arguments)]
pub(crate) fn view_to_scan<'a>(
    plan: &'a Plan,
    req: &HistoricalRequest,
    table: &EntityTable,
    (vi, view): (usize, &'a str),
    wanted: &[Wanted<'_>],
    when: crate::pit::Use,
    d: Dialect,
    out: &mut Ctes,
) -> Result<Scan<'a>, FeatureError> {
    let Some(Spec::FeatureView {
        entity: Some(entity),
        source: Some(source),
        ttl_ms,
        ..
    }) = plan.view(view).map(|r| &r.spec)
    else {
        return Err(FeatureError::Unsupported(
            view.to_string(),
            "not a feature view with an entity and a source".into(),
        ));
    };
    let key_cols: Vec<mlp_ir::Column> = match plan.entity(entity).map(|r| &r.spec) {
        Some(Spec::Entity { keys }) => keys.clone(),
        _ => Vec::new(),
    };
    let keys: Vec<String> = key_cols.iter().map(|k| k.name.clone()).collect();
    let Some(Spec::Source {
        path,
        format,
        timestamp,
        created,
        schema,
    }) = plan.source(source).map(|r| &r.spec)
    else {
        return Err(FeatureError::Unsupported(
            view.to_string(),
            format!("source `{source}` is not in the plan"),
        ));
    };
    let src = reader(&req.project_dir, path, *format, schema);
    let src_path = req.project_dir.join(path);
    let typed = crate::historical::typed_columns_of(&table.conn, &src, &src_path)?;
    let scols: Vec<String> = typed.iter().map(|(n, _)| n.clone()).collect();
    for k in &keys {
        let hint = format!(" (a key of entity `{entity}`)");
        require(&table.cols, &req.entities, k, &hint)?;
        require(&scols, &src_path, k, &hint)?;
    }
    require(&scols, &src_path, timestamp, " (the source's `timestamp`)")?;
    if let Some(c) = created {
        require(&scols, &src_path, c, " (the source's `created`)")?;
    }
    let (join, ts, cr, visible) = scan_conditions(d, &keys, timestamp, created.as_deref());
    let info = crate::historical::source_info(plan, source).ok_or_else(|| {
        FeatureError::Unsupported(
            view.to_string(),
            format!("source `{source}` is not in the plan"),
        )
    })?;
    let from = match d {
        Dialect::DuckDb => src.clone(),
        Dialect::Spark => {
            let name = format!("__src{vi}");
            out.tables.push(SparkTable {
                name: name.clone(),
                path: src_path.clone(),
                format: *format,
                types: typed,
            });
            name
        }
    };
    let mut scan = Scan {
        dialect: d,
        keys,
        latest: None,
        cr,
        index: vi,
        view,
        schema,
        ttl_ms: *ttl_ms,
        src_path,
        scols,
        ts,
        visible,
        order_key: String::new(),
        base: format!("__e e JOIN {from} s ON {join}"),
        source,
        info,
        reader: src,
        key_cols,
        project_dir: req.project_dir.clone(),
        when,
    };
    let ties: Vec<String> = scan.tie_columns().map(|c| scan.source_col(c)).collect();
    scan.order_key = d.row_order(&scan.ts, scan.cr.as_deref(), &ties);
    // Latest-row features read the source's point-in-time index (pit.rs), on DuckDB.
    let needs_latest = d == Dialect::DuckDb
        && crate::pit::enabled()
        && wanted
            .iter()
            .any(|w| !matches!(w.def, FeatureDef::Aggregate { .. }));
    if needs_latest {
        let pit = crate::pit::index(&table.conn, &scan.index_input(), when)?;
        scan.latest = pit.map(|pit| {
            format!(
                "read_parquet({})",
                crate::sql::string(&pit.path.to_string_lossy())
            )
        });
    }
    Ok(scan)
}

/// The conditions a view's scan shares, in dialect `d`: the join of source rows `s` to
/// entity rows `e` on the keys, the source's event time and created time as TIMESTAMPs, and
/// the visibility of a source row at an entity row's time.
fn scan_conditions(
    d: Dialect,
    keys: &[String],
    timestamp: &str,
    created: Option<&str>,
) -> (String, String, Option<String>, String) {
    let ident = |n: &str| d.ident(n);
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
    let cr = created.map(|c| format!("CAST(s.{} AS TIMESTAMP)", ident(c)));
    let mut visible = format!("{ts} <= e.__mlp_at");
    if let Some(cr) = &cr {
        visible.push_str(&format!(" AND {cr} <= e.__mlp_at"));
    }
    (join, ts, cr, visible)
}

/// Adds the CTE `__v{i}_latest` of a view's column and expression features: for every entity
/// row, the values of the latest visible source row within the TTL (none when the view has no
/// such feature).
pub(crate) fn latest_row_cte(
    scan: &Scan<'_>,
    wanted: &[Wanted<'_>],
    out: &mut Ctes,
) -> Result<(), FeatureError> {
    let latest: Vec<&Wanted<'_>> = wanted
        .iter()
        .filter(|w| !matches!(w.def, FeatureDef::Aggregate { .. }))
        .collect();
    if latest.is_empty() {
        return Ok(());
    }
    let d = scan.dialect;
    let ident = |n: &str| d.ident(n);
    let name = format!("__v{}_latest", scan.index);
    // With the index, its entry is joined to the entity rows under the name `name`, and the
    // features read the best row's columns from it; without, they read `s.`, the source.
    let indexed = |c: &str| format!("{name}.{}", ident(c));
    let source = |c: &str| scan.source_col(c);
    let col: &dyn Fn(&str) -> String = if scan.latest.is_some() {
        &indexed
    } else {
        &source
    };
    let mut exprs = Vec::new();
    for w in &latest {
        let sql = match w.def {
            FeatureDef::Column { column } => {
                require(
                    &scan.scols,
                    &scan.src_path,
                    column,
                    &format!(" (feature `{}.{}`)", w.view, w.name),
                )?;
                col(column)
            }
            FeatureDef::Expr { expr } => expr_to_sql_in(d, expr, col, &|e| scan.kind(e))
                .map_err(|e| FeatureError::Sql(format!("{}.{}", w.view, w.name), e))?,
            _ => continue,
        };
        exprs.push((w.name.clone(), sql));
    }
    match &scan.latest {
        // The key's entry whose span holds the entity row's time holds the best visible row:
        // one left join straight from the entity rows. The TTL is tested on that row's event
        // time (exact: no visible row is later).
        Some(index) => {
            let on = scan
                .keys
                .iter()
                .map(|k| format!("{name}.{0} = e.{0} AND ", ident(k)))
                .collect::<String>();
            out.joins.push(format!(
                "LEFT JOIN {index} {name} ON {on}e.__mlp_at >= {name}.__mlp_vis AND e.__mlp_at < {name}.__mlp_next"
            ));
            for (n, sql) in &exprs {
                let value = match scan.ttl_ms {
                    Some(ttl) => format!(
                        "CASE WHEN {name}.__mlp_ts >= e.__mlp_at - {} THEN ({sql}) END",
                        d.millis(ttl)
                    ),
                    None => sql.clone(),
                };
                out.selects.push((scan.view.to_string(), n.clone(), value));
            }
        }
        None => {
            let values = exprs
                .iter()
                .map(|(n, s)| format!("{s} AS {}", ident(n)))
                .collect::<Vec<_>>()
                .join(", ");
            let names: Vec<String> = exprs.iter().map(|(n, _)| n.clone()).collect();
            out.ctes.push(fanout_latest(scan, &name, &values, &names));
            for (n, _) in &exprs {
                out.selects.push((
                    scan.view.to_string(),
                    n.clone(),
                    format!("{name}.{}", ident(n)),
                ));
            }
        }
    }
    Ok(())
}

/// The latest visible row without the index (for a materialization when no index is current,
/// and with `MLP_PIT_INDEX=off`, the plan before the index, as the benchmark's baseline):
/// every entity row joined to every source row of its key, ranked, the first kept. The same
/// rules and tie-break as the index.
fn fanout_latest(scan: &Scan<'_>, name: &str, values: &str, names: &[String]) -> String {
    let ts = &scan.ts;
    let mut filter = scan.visible.clone();
    if let Some(ttl) = scan.ttl_ms {
        filter.push_str(&format!(
            " AND {ts} >= e.__mlp_at - {}",
            scan.dialect.millis(ttl)
        ));
    }
    let mut order = vec![format!("{ts} DESC")];
    order.extend(scan.cr.iter().map(|c| format!("{c} DESC")));
    // The tie-break: each best when largest, nulls last (pit.rs documents it).
    order.extend(
        scan.tie_columns()
            .map(|c| format!("{} DESC NULLS LAST", scan.source_col(c))),
    );
    let kept = names
        .iter()
        .map(|n| format!(", {}", scan.dialect.ident(n)))
        .collect::<String>();
    format!(
        "{name} AS (SELECT __mlp_row{kept} FROM (SELECT e.__mlp_row, {values}, row_number() OVER (PARTITION BY e.__mlp_row ORDER BY {}) AS __rn FROM {} WHERE {filter}) __ranked WHERE __rn = 1)",
        order.join(", "),
        scan.base
    )
}

/// Adds a view's aggregations: for every entity row, the aggregations over the visible source
/// rows within the window (the TTL does not apply); `count`s of nothing are 0. By the merge
/// against the view's window index where it can (window/), else as the CTEs `__v{i}_agg{j}`
/// of the join plan, one per window (in window order).
pub(crate) fn window_ctes(
    scan: &Scan<'_>,
    wanted: &[Wanted<'_>],
    conn: &duckdb::Connection,
    out: &mut Ctes,
) -> Result<(), FeatureError> {
    let d = scan.dialect;
    if d == Dialect::DuckDb && crate::window::windows_by_merge(scan, wanted, conn, out)? {
        return Ok(());
    }
    let mut windows: BTreeMap<Option<u64>, Vec<&Wanted<'_>>> = BTreeMap::new();
    for w in wanted {
        if let FeatureDef::Aggregate { window_ms, .. } = w.def {
            windows.entry(*window_ms).or_default().push(w);
        }
    }
    let ts = &scan.ts;
    for (wi, (window, ws)) in windows.iter().enumerate() {
        let mut filter = scan.visible.clone();
        if let Some(ms) = window {
            filter.push_str(&format!(" AND {ts} > e.__mlp_at - {}", d.millis(*ms)));
        }
        let mut values = Vec::new();
        for w in ws {
            let FeatureDef::Aggregate { expr, .. } = w.def else {
                continue;
            };
            let col = |c: &str| scan.source_col(c);
            let agg = aggregate_to_sql_in(d, expr, &col, &|e| scan.kind(e), &scan.order_key)
                .map_err(|e| FeatureError::Sql(format!("{}.{}", w.view, w.name), e))?;
            values.push(format!("{agg} AS {}", d.ident(&w.name)));
        }
        let name = format!("__v{}_agg{wi}", scan.index);
        out.ctes.push(format!(
            "{name} AS (SELECT e.__mlp_row, {} FROM {} WHERE {filter} GROUP BY e.__mlp_row)",
            values.join(", "),
            scan.base
        ));
        for w in ws {
            let is_count = matches!(w.def, FeatureDef::Aggregate { expr: mlp_ir::IrExpr::Call { func, .. }, .. } if func == "count" || func == "count_distinct");
            let v = format!("{name}.{}", d.ident(&w.name));
            out.selects.push((
                scan.view.to_string(),
                w.name.clone(),
                if is_count {
                    format!("coalesce({v}, 0)")
                } else {
                    v
                },
            ));
        }
    }
    Ok(())
}

/// Every retrieved feature as typed SQL over the joined CTEs, keyed by its output column
/// `view__feature`, with its type, in dialect `d`.
pub(crate) fn selects_to_typed(
    d: Dialect,
    views: &BTreeMap<String, Vec<Wanted<'_>>>,
    selects: &[(String, String, String)],
) -> BTreeMap<String, (String, Type)> {
    let mut by_name: BTreeMap<String, (String, Type)> = BTreeMap::new();
    for (view, name, sql) in selects {
        let ty = views
            .get(view)
            .and_then(|ws| ws.iter().find(|w| &w.name == name))
            .map_or(Type::String, |w| w.ty);
        by_name.insert(
            format!("{view}__{name}"),
            (format!("CAST({sql} AS {})", d.type_name(ty)), ty),
        );
    }
    by_name
}

/// Adds the on-demand features to `by_name`, in dependency order, as typed SQL over the
/// features before them and the entity file's columns (request fields are read from columns
/// of the same name, which must exist), in dialect `d`.
pub(crate) fn ondemand_to_sql(
    d: Dialect,
    plan: &Plan,
    req: &HistoricalRequest,
    table: &EntityTable,
    ondemand: &[OnDemand<'_>],
    by_name: &mut BTreeMap<String, (String, Type)>,
) -> Result<(), FeatureError> {
    for od in ondemand {
        let fields = leaves(od.expr).into_iter().filter_map(|l| match l {
            mlp_ir::IrExpr::Request { field, .. } => Some(field),
            _ => None,
        });
        for f in fields {
            require(
                &table.cols,
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
            None => format!("e.{}", d.ident(n.split_once("__").map_or(n, |(_, f)| f))),
        };
        let sql = expr_to_sql_in(d, od.expr, &col, &kind)
            .map_err(|e| FeatureError::Sql(format!("{}.{}", od.view, od.name), e))?;
        let typed = format!("CAST({sql} AS {})", d.type_name(od.ty));
        by_name.insert(format!("{}__{}", od.view, od.name), (typed, od.ty));
    }
    Ok(())
}
