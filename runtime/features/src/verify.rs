//! `mlpc features verify`: training-serving skew check. For every entity key of a view, the
//! online value (read through the online store at the materialization watermark) must equal
//! the offline point-in-time value at that watermark. With `online = redis(URL)`, the
//! values and the watermark are Redis's own, so the check holds wherever it runs.

use crate::historical::{
    historical, key_columns, source_reader, view_of, FeatureError, HistoricalRequest, ViewInfo,
};
use crate::materialize::online_db;
use crate::online::{online_config, to_json, OnlineConfig, OnlineStore};
use crate::redis_online::RedisOnline;
use crate::sql::{ident, string};
use duckdb::{Connection, OptionalExt};
use mlp_ir::{Plan, Spec};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One value that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// The entity key, by column.
    pub key: BTreeMap<String, Value>,
    /// The feature.
    pub feature: String,
    /// Online value.
    pub online: Value,
    /// Offline point-in-time value.
    pub offline: Value,
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The view.
    pub view: String,
    /// The watermark compared at.
    pub watermark: String,
    /// Entity keys compared.
    pub keys: usize,
    /// Values compared.
    pub values: usize,
    /// Every difference.
    pub mismatches: Vec<Mismatch>,
}

/// Whether an online and an offline value agree: equal, or two floats within a relative
/// 1e-12 of each other. A sum or mean of doubles depends on the order it adds them in, and
/// materialization (a join at the watermark) and retrieval (the point-in-time index) add a
/// key's rows in different orders: `2644.7` against `2644.7000000000003` is the same value.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
                _ => a == b,
            }
        }
        _ => a == b,
    }
}

/// Compares the online values of `view` with the offline values at its watermark.
pub fn verify(plan: &Plan, project_dir: &Path, view: &str) -> Result<VerifyReport, FeatureError> {
    let v = view_of(plan, view)?;
    let watermark = watermark_of(plan, project_dir, view)?;
    let keys = key_columns(plan, &v.entity);
    let features: Vec<String> = plan
        .resources()
        .filter_map(|r| match &r.spec {
            Spec::Feature { view: fv, .. } if fv == view => Some(format!("{view}.{}", r.name)),
            _ => None,
        })
        .collect();
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("SET TimeZone = 'UTC';")?;
    let offline = offline_at(&conn, plan, project_dir, &v, &keys, &features, &watermark)?;
    let store = OnlineStore::open(project_dir, plan)?;
    let now_us: i64 = conn.query_row(
        &format!("SELECT epoch_us(CAST({} AS TIMESTAMP))", string(&watermark)),
        [],
        |r| r.get(0),
    )?;
    let mut entity_cols: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for k in &keys {
        entity_cols.insert(
            k.clone(),
            offline
                .iter()
                .map(|row| row.get(k).cloned().unwrap_or(Value::Null))
                .collect(),
        );
    }
    let online = store.lookup(&features, &entity_cols, now_us)?;
    let mut mismatches = Vec::new();
    let mut values = 0;
    for (i, row) in offline.iter().enumerate() {
        for f in &features {
            let col = f.replacen('.', "__", 1);
            let off = row.get(&col).cloned().unwrap_or(Value::Null);
            let on = online
                .get(&col)
                .and_then(|c| c.get(i))
                .cloned()
                .unwrap_or(Value::Null);
            values += 1;
            if !same_value(&off, &on) {
                let key = keys
                    .iter()
                    .map(|k| (k.clone(), row.get(k).cloned().unwrap_or(Value::Null)))
                    .collect();
                mismatches.push(Mismatch {
                    key,
                    feature: f.clone(),
                    online: on,
                    offline: off,
                });
            }
        }
    }
    Ok(VerifyReport {
        view: view.to_string(),
        watermark,
        keys: offline.len(),
        values,
        mismatches,
    })
}

/// The watermark `view` was materialized up to: Redis's own with `online = redis(...)`, the
/// local online database's otherwise.
fn watermark_of(plan: &Plan, project_dir: &Path, view: &str) -> Result<String, FeatureError> {
    let not_materialized = || {
        FeatureError::Db(format!(
            "view `{view}` is not materialized: run `mlpc materialize`"
        ))
    };
    if let OnlineConfig::Redis { url, prefix, .. } = online_config(plan) {
        return RedisOnline::new(&url, &prefix)
            .watermark(view)?
            .ok_or_else(not_materialized);
    }
    let path = online_db(project_dir);
    if !path.exists() {
        return Err(not_materialized());
    }
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
    let conn = Connection::open_with_flags(&path, config)?;
    // A database materialized nothing into has no watermarks table yet.
    let has_table: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'watermarks'",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Err(not_materialized());
    }
    conn.query_row(
        "SELECT CAST(watermark AS VARCHAR) FROM watermarks WHERE view = ?",
        [view],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(not_materialized)
}

/// The offline values of `features` for every key the source knows at `watermark`, by
/// point-in-time retrieval at that time; one map per key, by column.
fn offline_at(
    conn: &Connection,
    plan: &Plan,
    project_dir: &Path,
    v: &ViewInfo,
    keys: &[String],
    features: &[String],
    watermark: &str,
) -> Result<Vec<BTreeMap<String, Value>>, FeatureError> {
    let tmp = mlp_ir::host::state_dir(project_dir).join(format!("verify-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| FeatureError::File {
        path: tmp.clone(),
        message: e.to_string(),
    })?;
    let result = (|| {
        // Every key the source knows at the watermark, as an entity file at that time.
        let key_list = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
        let at = format!("CAST({} AS TIMESTAMP)", string(watermark));
        let entities = tmp.join("keys.parquet");
        conn.execute(
            &format!(
                "COPY (SELECT DISTINCT {key_list}, {at} AS __mlp_at_wm FROM {} WHERE CAST({} AS TIMESTAMP) <= {at} ORDER BY ALL) TO {} (FORMAT parquet)",
                source_reader(project_dir, &v.source),
                ident(&v.source.timestamp),
                string(&entities.to_string_lossy())
            ),
            [],
        )?;
        let out = tmp.join("offline.parquet");
        let req = HistoricalRequest {
            project_dir: project_dir.to_path_buf(),
            entities,
            features: features.to_vec(),
            at: "__mlp_at_wm".into(),
            out: out.clone(),
        };
        historical(plan, &req)?;
        let mut stmt = conn.prepare(&format!(
            "SELECT * EXCLUDE (__mlp_at_wm) FROM read_parquet({})",
            string(&out.to_string_lossy())
        ))?;
        let mut rows = stmt.query([])?;
        let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let mut offline: Vec<BTreeMap<String, Value>> = Vec::new();
        while let Some(r) = rows.next()? {
            let mut m = BTreeMap::new();
            for (i, n) in names.iter().enumerate() {
                m.insert(n.clone(), to_json(r.get(i)?));
            }
            offline.push(m);
        }
        Ok::<_, FeatureError>(offline)
    })();
    // Best effort: the comparison's result matters, not a leftover scratch folder.
    std::fs::remove_dir_all(&tmp).ok();
    result
}

#[cfg(test)]
mod unit {
    use super::same_value;
    use serde_json::json;

    #[test]
    fn floats_agree_up_to_the_order_of_their_sums_and_nothing_else_does() {
        assert!(same_value(&json!(2644.7), &json!(2_644.700_000_000_000_3)));
        assert!(same_value(&json!(3), &json!(3.0)));
        assert!(!same_value(&json!(2644.7), &json!(2644.71)));
        assert!(!same_value(&json!(1e-20), &json!(1.0)));
        assert!(!same_value(&json!(null), &json!(0.0)));
        assert!(!same_value(&json!("1"), &json!(1)));
        assert!(!same_value(&json!(3), &json!(4)));
    }
}
