//! `mlpc features verify`: training-serving skew check. For every entity key of a view, the
//! online value (read through the online store at the materialization watermark) must equal
//! the offline point-in-time value at that watermark.

use crate::historical::{
    historical, key_columns, source_reader, view_of, FeatureError, HistoricalRequest,
};
use crate::materialize::online_db;
use crate::online::{to_json, OnlineStore};
use crate::sql::{ident, string};
use duckdb::Connection;
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

/// Compares the online values of `view` with the offline values at its watermark.
pub fn verify(plan: &Plan, project_dir: &Path, view: &str) -> Result<VerifyReport, FeatureError> {
    let v = view_of(plan, view)?;
    let watermark: String = {
        let path = online_db(project_dir);
        if !path.exists() {
            return Err(FeatureError::Db(format!(
                "view `{view}` is not materialized: run `mlpc materialize`"
            )));
        }
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        let conn = Connection::open_with_flags(&path, config)?;
        conn.query_row(
            "SELECT CAST(watermark AS VARCHAR) FROM watermarks WHERE view = ?",
            [view],
            |r| r.get(0),
        )
        .map_err(|_| {
            FeatureError::Db(format!(
                "view `{view}` is not materialized: run `mlpc materialize`"
            ))
        })?
    };
    let keys = key_columns(plan, &v.entity);
    let features: Vec<String> = plan
        .resources()
        .filter_map(|r| match &r.spec {
            Spec::Feature { view: fv, .. } if fv == view => Some(format!("{view}.{}", r.name)),
            _ => None,
        })
        .collect();
    // Every key the source knows at the watermark, as an entity file at that time.
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("SET TimeZone = 'UTC';")?;
    let tmp = project_dir
        .join(".mlp")
        .join(format!("verify-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| FeatureError::File {
        path: tmp.clone(),
        message: e.to_string(),
    })?;
    let result = (|| {
        let key_list = keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ");
        let at = format!("CAST({} AS TIMESTAMP)", string(&watermark));
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
            features: features.clone(),
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
    let offline = result?;
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
            if off != on {
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
