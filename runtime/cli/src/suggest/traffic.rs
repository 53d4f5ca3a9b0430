//! The traffic `mlpc suggest` sends: real-looking predict bodies for one deployment. Entity
//! keys come from the online store, request fields from the rows of a training set's label
//! file; or, once the deployment has logged requests, both from its prediction log.

use duckdb::Connection;
use mlp_ir::{FeatureDef, GraphNode, InputRef, ModelRef, Plan, Spec, StepAction};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bodies built at most.
pub const BODIES: usize = 2000;
/// Logged requests needed before the log is the traffic's source.
const FROM_LOG_AT_LEAST: usize = 200;

/// The bodies and where they came from.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// One JSON predict body each.
    pub bodies: Vec<String>,
    /// Where they came from, for the report.
    pub source: String,
    /// An online-features body for the same entities and the batch-view features the
    /// deployment reads (`None` when it reads none): what features alone cost.
    pub features_body: Option<String>,
}

/// What a request to the deployment must carry.
#[derive(Debug, Default)]
struct Needs {
    /// Batch views read, by entity: (view, entity).
    views: BTreeMap<String, String>,
    /// Request fields read.
    fields: BTreeSet<String>,
    /// Batch-view features read (`view.feature`).
    features: BTreeSet<String>,
}

/// The models deployment `name` serves, its shadow last, each once.
pub fn model_refs(plan: &Plan, name: &str) -> Result<Vec<ModelRef>, String> {
    let Some(Spec::Deployment { graph, shadow, .. }) = plan.deployment(name).map(|r| &r.spec)
    else {
        return Err(format!("no deployment `{name}` in the applied plan"));
    };
    let mut models = Vec::new();
    graph_models(plan, graph, &mut models, 0);
    models.extend(shadow.iter().cloned());
    let mut seen = Vec::new();
    models.retain(|m| {
        let new = !seen.contains(m);
        seen.push(m.clone());
        new
    });
    Ok(models)
}

/// The model references a serving graph runs (another deployment's included).
fn graph_models(plan: &Plan, g: &GraphNode, out: &mut Vec<ModelRef>, depth: usize) {
    if depth > 32 {
        return; // the checker refuses cycles; this only bounds a malformed plan
    }
    match g {
        GraphNode::Model { model } => out.push(model.clone()),
        GraphNode::Deployment { name } => {
            if let Some(Spec::Deployment { graph, .. }) = plan.deployment(name).map(|r| &r.spec) {
                graph_models(plan, graph, out, depth + 1);
            }
        }
        other => other
            .children()
            .into_iter()
            .for_each(|s| graph_models(plan, s, out, depth + 1)),
    }
}

impl Needs {
    fn input(&mut self, plan: &Plan, i: &InputRef, depth: usize) {
        match i {
            InputRef::Feature { view, feature } => self.feature(plan, view, feature, depth),
            InputRef::Request { field, .. } => {
                self.fields.insert(field.clone());
            }
            InputRef::ModelOutput { .. } => {}
        }
    }

    fn feature(&mut self, plan: &Plan, view: &str, feature: &str, depth: usize) {
        if depth > 32 {
            return;
        }
        if let Some(entity) = plan.view_entity(view) {
            self.views.insert(view.to_string(), entity.to_string());
            self.features.insert(format!("{view}.{feature}"));
            return;
        }
        let Some(Spec::Feature {
            def: FeatureDef::OnDemand { expr },
            ..
        }) = plan.feature(view, feature).map(|r| &r.spec)
        else {
            return;
        };
        for leaf in mlp_features::ondemand::leaves(expr) {
            match leaf {
                mlp_ir::IrExpr::Feature { view, feature } => {
                    self.feature(plan, view, feature, depth + 1)
                }
                mlp_ir::IrExpr::Request { field, .. } => {
                    self.fields.insert(field.clone());
                }
                _ => {}
            }
        }
    }

    /// What deployment `name` reads, its shadow included.
    fn of(plan: &Plan, name: &str) -> Result<Needs, String> {
        let mut needs = Needs::default();
        for m in model_refs(plan, name)? {
            if let Some(Spec::Model { inputs, .. }) = plan.model(&m.model).map(|r| &r.spec) {
                for i in inputs {
                    needs.input(plan, i, 0);
                }
            }
        }
        Ok(needs)
    }
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Up to [`BODIES`] bodies of `deployment`'s logged requests that were answered, newest
/// first; `None` when fewer than [`FROM_LOG_AT_LEAST`] are logged.
fn from_log(conn: &Connection, dir: &Path, deployment: &str) -> Result<Option<Traffic>, String> {
    let logs = mlp_ir::host::state_dir(dir).join("predictions");
    let any = std::fs::read_dir(&logs)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        })
        .unwrap_or(false);
    if !any {
        return Ok(None);
    }
    let glob = logs.join("*.parquet");
    let sql = format!(
        "SELECT entities::VARCHAR, request::VARCHAR FROM read_parquet({}, union_by_name = true)
         WHERE deployment = {} AND status = 200 AND sampled
           AND entities IS NOT NULL AND request IS NOT NULL
         ORDER BY \"time\" DESC, request_id LIMIT {BODIES}",
        sql_text(&glob.to_string_lossy()),
        sql_text(deployment)
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| format!("cannot read the prediction log in {}: {e}", logs.display()))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| format!("cannot read the prediction log: {e}"))?;
    let mut bodies = Vec::new();
    for row in rows {
        let (entities, request) =
            row.map_err(|e| format!("cannot read the prediction log: {e}"))?;
        let e: Value = serde_json::from_str(&entities)
            .map_err(|x| format!("a logged `entities` is not JSON: {x}"))?;
        let r: Value = serde_json::from_str(&request)
            .map_err(|x| format!("a logged `request` is not JSON: {x}"))?;
        bodies.push(serde_json::json!({"entities": e, "request": r}).to_string());
    }
    if bodies.len() < FROM_LOG_AT_LEAST {
        return Ok(None);
    }
    Ok(Some(Traffic {
        features_body: None,
        source: format!(
            "{} logged requests of `{deployment}` (.mlp/predictions)",
            bodies.len()
        ),
        bodies,
    }))
}

/// The label files of the plan's training sets, in plan order.
fn label_files(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for r in plan.resources() {
        if let Spec::Pipeline { steps, .. } = &r.spec {
            for s in steps {
                if let StepAction::TrainingSet { labels, .. } = &s.action {
                    if !out.contains(labels) {
                        out.push(labels.clone());
                    }
                }
            }
        }
    }
    out
}

/// Rows of request fields from the first label file that has them all, in file order.
fn request_rows(
    conn: &Connection,
    dir: &Path,
    plan: &Plan,
    fields: &BTreeSet<String>,
) -> Result<(Vec<Map<String, Value>>, String), String> {
    let files = label_files(plan);
    let mut tried = Vec::new();
    for f in &files {
        let path = dir.join(f);
        if !path.is_file() {
            tried.push(format!("{f} (missing)"));
            continue;
        }
        let obj = fields
            .iter()
            .map(|k| format!("{}, {}", sql_text(k), ident(k)))
            .collect::<Vec<_>>()
            .join(", ");
        let not_null = fields
            .iter()
            .map(|k| format!("{} IS NOT NULL", ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT json_object({obj})::VARCHAR FROM {} WHERE {not_null} LIMIT {BODIES}",
            if f.ends_with(".csv") {
                format!("read_csv({})", sql_text(&path.to_string_lossy()))
            } else {
                sql_text(&path.to_string_lossy())
            }
        );
        let rows = conn.prepare(&sql).and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
        match rows {
            Ok(rows) if !rows.is_empty() => {
                let mut out = Vec::new();
                for r in rows {
                    match serde_json::from_str::<Value>(&r) {
                        Ok(Value::Object(m)) => out.push(m),
                        _ => return Err(format!("{f}: a row did not read as a JSON object")),
                    }
                }
                return Ok((out, f.clone()));
            }
            Ok(_) => tried.push(format!("{f} (no row with every field set)")),
            Err(e) => tried.push(format!(
                "{f} ({})",
                e.to_string().lines().next().unwrap_or("")
            )),
        }
    }
    Err(format!(
        "no label file has the request fields {} to build traffic from (tried: {}); serve some requests first, so that the prediction log has them",
        fields.iter().cloned().collect::<Vec<_>>().join(", "),
        if tried.is_empty() { "none declared".into() } else { tried.join("; ") }
    ))
}

/// Builds `deployment`'s traffic from the project in `dir` under the applied `plan`.
pub fn build(dir: &Path, plan: &Plan, deployment: &str) -> Result<Traffic, String> {
    let needs = Needs::of(plan, deployment)?;
    let conn = Connection::open_in_memory().map_err(|e| format!("DuckDB: {e}"))?;
    if let Some(mut t) = from_log(&conn, dir, deployment)? {
        t.features_body = features_body(&needs, t.bodies.first());
        return Ok(t);
    }
    // Entity keys from the online store, each entity's from the first of its views.
    let mut keys: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if !needs.views.is_empty() {
        let store = mlp_features::OnlineStore::open(dir, plan).map_err(|e| {
            format!("cannot open the online store: {e}; run `mlpc materialize` first")
        })?;
        for (view, entity) in &needs.views {
            let cols = mlp_features::historical::key_columns(plan, entity);
            if cols.iter().all(|c| keys.contains_key(c)) {
                continue;
            }
            let mut rows = store.keys(view).map_err(|e| e.to_string())?;
            if rows.is_empty() {
                return Err(format!(
                    "the online store holds no key of view `{view}`: run `mlpc materialize` first"
                ));
            }
            // A fixed order, then spread: the n-th body takes key (n * 7919) mod count, so
            // consecutive requests hit keys far apart, as real traffic does.
            rows.sort_by_key(|r| Value::Array(r.clone()).to_string());
            let count = rows.len();
            let picked: Vec<&Vec<Value>> = (0..BODIES.min(count.max(1) * 4))
                .map(|n| &rows[(n * 7919) % count])
                .collect();
            for (i, c) in cols.iter().enumerate() {
                keys.insert(
                    c.clone(),
                    picked
                        .iter()
                        .map(|r| r.get(i).cloned().unwrap_or(Value::Null))
                        .collect(),
                );
            }
        }
    }
    let (requests, file) = if needs.fields.is_empty() {
        (vec![Map::new()], String::new())
    } else {
        request_rows(&conn, dir, plan, &needs.fields)?
    };
    let n = keys
        .values()
        .map(Vec::len)
        .chain([requests.len()])
        .max()
        .unwrap_or(1)
        .min(BODIES);
    let bodies: Vec<String> = (0..n)
        .map(|i| {
            let entities: Map<String, Value> = keys
                .iter()
                .map(|(k, v)| (k.clone(), v[i % v.len()].clone()))
                .collect();
            let request = requests[i % requests.len()].clone();
            serde_json::json!({"entities": entities, "request": request}).to_string()
        })
        .collect();
    let mut source = Vec::new();
    if !keys.is_empty() {
        source.push(format!(
            "entity keys {} from the online store",
            keys.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !file.is_empty() {
        source.push(format!("request fields from {file}"));
    }
    let features_body = features_body(&needs, bodies.first());
    Ok(Traffic {
        bodies,
        source: source.join("; "),
        features_body,
    })
}

/// `POST /v1/features/online`'s body for the deployment's batch-view features and the
/// entities of `predict` (a predict body).
fn features_body(needs: &Needs, predict: Option<&String>) -> Option<String> {
    if needs.features.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(predict?).ok()?;
    let entities: Map<String, Value> = v["entities"]
        .as_object()?
        .iter()
        .map(|(k, x)| {
            let first = match x {
                Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            (k.clone(), Value::Array(vec![first]))
        })
        .collect();
    Some(serde_json::json!({"features": needs.features, "entities": entities}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `n` logged requests of deployment `d` (and one of another, one failed, one not
    /// sampled) as the server's log writer lays them out.
    fn log(dir: &Path, n: usize) {
        let logs = mlp_ir::host::state_dir(dir).join("predictions");
        std::fs::create_dir_all(&logs).unwrap_or_else(|e| panic!("{e}"));
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let mut sql = String::from(
            "CREATE TABLE p (request_id VARCHAR, time TIMESTAMP, deployment VARCHAR, model_version VARCHAR, shadow_version VARCHAR, consumer VARCHAR, status USMALLINT, error VARCHAR, rows UINTEGER, sampled BOOLEAN, entities JSON, request JSON, features JSON, outputs JSON, shadow_outputs JSON, latency_ms DOUBLE);",
        );
        for i in 0..n {
            sql.push_str(&format!(
                "INSERT INTO p VALUES ('r{i:04}', TIMESTAMP '2026-11-30 10:00:00' + INTERVAL {i} SECOND, 'd', 'm@1', NULL, NULL, 200, NULL, 1, true, '{{\"user_id\": [{i}]}}', '{{\"amount\": [{i}.5]}}', NULL, NULL, NULL, 1.0);"
            ));
        }
        sql.push_str("INSERT INTO p VALUES ('x1', TIMESTAMP '2026-11-30 11:00:00', 'other', 'm@1', NULL, NULL, 200, NULL, 1, true, '{\"user_id\": [1]}', '{}', NULL, NULL, NULL, 1.0);");
        sql.push_str("INSERT INTO p VALUES ('x2', TIMESTAMP '2026-11-30 11:00:00', 'd', 'm@1', NULL, NULL, 400, 'bad', 1, true, '{\"user_id\": [1]}', '{}', NULL, NULL, NULL, 1.0);");
        sql.push_str("INSERT INTO p VALUES ('x3', TIMESTAMP '2026-11-30 11:00:00', 'd', 'm@1', NULL, NULL, 200, NULL, 1, false, NULL, NULL, NULL, NULL, NULL, 1.0);");
        sql.push_str(&format!(
            "COPY p TO '{}' (FORMAT parquet);",
            logs.join("1.parquet").display()
        ));
        conn.execute_batch(&sql).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn logged_requests_become_the_traffic_newest_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        log(dir.path(), 250);
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let t = from_log(&conn, dir.path(), "d")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no traffic from the log"));
        // Only `d`'s answered, sampled requests.
        assert_eq!(t.bodies.len(), 250);
        let first: Value = serde_json::from_str(&t.bodies[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first["entities"]["user_id"], serde_json::json!([249]));
        assert_eq!(first["request"]["amount"], serde_json::json!([249.5]));
        assert!(t.source.contains("250 logged requests"), "{}", t.source);
    }

    #[test]
    fn a_short_log_is_not_the_traffic() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        log(dir.path(), FROM_LOG_AT_LEAST - 1);
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        assert!(from_log(&conn, dir.path(), "d")
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
        // No log at all: none either.
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(from_log(&conn, empty.path(), "d")
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
    }
}
