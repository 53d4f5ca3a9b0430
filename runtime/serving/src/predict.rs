//! `POST /v1/deployments/{name}/predict`: the request checked field by field, online and
//! on-demand features fetched, the rows run through the model's batcher (and its shadow),
//! the answer built and the prediction logged. Framework-free: a status and a JSON body.

use crate::deployment::{input_name, Deployment};
use crate::error::ServingError;
use crate::graph::Env;
use crate::lookup::Lookup;
use crate::predlog::Record;
use crate::server::{Serving, State};
use mlp_ir::{InputRef, LogPolicy, Spec, Type};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Most rows in one request.
pub const MAX_ROWS: usize = 10_000;

fn bad(msg: impl Into<String>) -> (u16, Value) {
    (400, json!({ "error": msg.into() }))
}

/// A failed feature lookup: 503 while the online store is unreachable (the request may be
/// retried as it is), 400 for what the request itself got wrong.
pub(crate) fn store_failed(e: &mlp_features::FeatureError) -> (u16, Value) {
    match e {
        mlp_features::FeatureError::Unavailable(why) => (
            503,
            json!({ "error": format!("the online store is unavailable: {why}") }),
        ),
        e => bad(e.to_string()),
    }
}

/// The status and body of a request that met `e`.
fn refuse(e: ServingError) -> (u16, Value) {
    (e.status(), json!({ "error": e.to_string() }))
}

/// Named columns of JSON values.
type Columns = BTreeMap<String, Vec<Value>>;

/// Columns from `{"k": v}` (one row) or `{"k": [v, ...]}` (a batch), with their row count
/// and whether they came as lists.
fn columns(
    what: &str,
    obj: Option<&Value>,
) -> Result<(Columns, Option<(usize, bool)>), ServingError> {
    let mut out = BTreeMap::new();
    let mut shape: Option<(usize, bool)> = None;
    let Some(obj) = obj else {
        return Ok((out, None));
    };
    let Value::Object(map) = obj else {
        return Err(ServingError::BadRequest(format!(
            "`{what}` must be an object of field names to values"
        )));
    };
    for (k, v) in map {
        let (col, batch) = match v {
            Value::Array(a) => (a.clone(), true),
            other => (vec![other.clone()], false),
        };
        match shape {
            None => shape = Some((col.len(), batch)),
            Some((n, b)) if n != col.len() || b != batch => {
                return Err(ServingError::BadRequest(format!(
                    "`{what}.{k}` has {} value(s) where the other fields have {n}{}",
                    col.len(),
                    if b != batch {
                        " (give every field as a list, or none)"
                    } else {
                        ""
                    }
                )))
            }
            _ => {}
        }
        out.insert(k.clone(), col);
    }
    Ok((out, shape))
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::Int => "an integer",
        Type::Float => "a number",
        Type::Bool => "a boolean",
        Type::String => "a string",
        Type::Timestamp => "a timestamp string",
    }
}

/// Why `v` is not a value of type `t`; `None` when it is one. Integers must fit in 64
/// signed bits (a float, even `1.0`, is no integer); floats take any JSON number (JSON has
/// no NaN or infinity, and numbers past f64's range are invalid JSON); timestamps are text
/// that `ondemand::parse_timestamp` reads (RFC 3339, or naive and taken as UTC).
fn type_error(t: Type, v: &Value) -> Option<String> {
    let ok = match t {
        Type::Int => v.is_i64(),
        Type::Float => v.is_number(),
        Type::Bool => v.is_boolean(),
        Type::String => v.is_string(),
        Type::Timestamp => v
            .as_str()
            .is_some_and(|s| mlp_features::ondemand::parse_timestamp(s).is_some()),
    };
    if ok {
        return None;
    }
    let why = match (t, v) {
        (Type::Int, Value::Number(n)) if n.is_u64() => " (past the 64-bit integer range)",
        (Type::Int, Value::Number(_)) => " (not a whole number)",
        (Type::Timestamp, Value::String(_)) => {
            " (not a timestamp: use RFC 3339, e.g. \"2026-03-01T12:00:00Z\")"
        }
        _ => "",
    };
    let mut shown = v.to_string();
    if shown.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    Some(format!("must be {}, got {shown}{why}", type_name(t)))
}

/// The first value of `col` that is not of type `t` (nulls allowed when `nullable`), as
/// an error naming `what` and the row.
fn check_column(what: &str, t: Type, col: &[Value], nullable: bool) -> Result<(), ServingError> {
    for (row, v) in col.iter().enumerate() {
        if v.is_null() {
            if nullable {
                continue;
            }
            return Err(ServingError::BadRequest(format!(
                "`{what}` at row {row} is null; it must be {}",
                type_name(t)
            )));
        }
        if let Some(e) = type_error(t, v) {
            return Err(ServingError::BadRequest(format!(
                "`{what}` at row {row} {e}"
            )));
        }
    }
    Ok(())
}

/// Every request field the body sends is checked against its declaration: a field that no
/// request block declares is refused, and so is a value of the wrong type. Nulls are
/// allowed (a missing value: on-demand features computed from it are null, as in SQL).
fn check_request_types(serving: &Serving, request: &Columns) -> Result<(), ServingError> {
    for (name, col) in request {
        let Some(t) = serving.request_field_type(name) else {
            return Err(ServingError::BadRequest(format!(
                "unknown request field `request.{name}` (declared: {})",
                serving.request_field_names().join(", ")
            )));
        };
        check_column(&format!("request.{name}"), t, col, true)?;
    }
    Ok(())
}

/// Checks the entity keys and request fields the deployment's inputs need.
fn check_fields(
    state: &Serving,
    d: &Deployment,
    entities: &BTreeMap<String, Vec<Value>>,
    request: &BTreeMap<String, Vec<Value>>,
) -> Result<(), ServingError> {
    for input in &d.inputs {
        match input {
            InputRef::Feature { view, .. } => {
                let Some(Spec::FeatureView { entity, .. }) = state.plan.view(view).map(|r| &r.spec)
                else {
                    continue;
                };
                let Some(entity) = entity else {
                    continue; // an on-demand view: its own inputs are checked by the lookup
                };
                if let Some(Spec::Entity { keys }) = state.plan.entity(entity).map(|r| &r.spec) {
                    for k in keys {
                        let Some(col) = entities.get(&k.name) else {
                            return Err(ServingError::BadRequest(format!(
                                "missing entity key `entities.{}` (view `{view}` needs it)",
                                k.name
                            )));
                        };
                        check_column(&format!("entities.{}", k.name), k.ty, col, false)?;
                    }
                }
            }
            InputRef::Request {
                request: block,
                field,
            } => {
                if !request.contains_key(field) {
                    return Err(ServingError::BadRequest(format!(
                        "missing request field `request.{field}` (of request `{block}`)"
                    )));
                }
            }
            // Produced inside the graph by an earlier model of a chain.
            InputRef::ModelOutput { .. } => {}
        }
    }
    Ok(())
}

/// A lookup deployment's answer: each row's outputs (and the inputs they were computed
/// from) read from the precomputed table by entity key.
type Looked = (Vec<f32>, Vec<String>, Map<String, Value>);

fn from_table(
    d: &Deployment,
    lookup: &Lookup,
    entities: &Columns,
    n: usize,
) -> Result<Looked, (u16, Value)> {
    let Some(table) = lookup.table() else {
        return Err((
            503,
            json!({"error": format!("deployment `{}` is building its lookup table", d.name)}),
        ));
    };
    let keys: Vec<&Vec<Value>> = lookup
        .keys
        .iter()
        .map(|k| {
            entities
                .get(k)
                .ok_or_else(|| bad(format!("missing entity key `entities.{k}`")))
        })
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = d.inputs.iter().map(input_name).collect();
    let mut inputs: Vec<Vec<Value>> = vec![Vec::with_capacity(n); names.len()];
    let mut out = Vec::with_capacity(n * mlp_ir::row_width(&d.outputs));
    for i in 0..n {
        let key = Value::Array(keys.iter().map(|c| c[i].clone()).collect()).to_string();
        let (x, y) = table.get(&key);
        for (col, v) in inputs.iter_mut().zip(x) {
            col.push(json!(v));
        }
        out.extend_from_slice(y);
    }
    let inputs = names
        .into_iter()
        .zip(inputs)
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    Ok((out, table.versions.clone(), inputs))
}

/// The shadow's run, answered after the primary's.
type ShadowTask = tokio::task::JoinHandle<Result<crate::graph::Outcome, ServingError>>;

/// An online deployment's answer: features looked up, the graph run (and its shadow
/// started); the outputs, versions, the inputs by name and the shadow's task.
async fn from_graph(
    serving: &Serving,
    d: &Deployment,
    entities: &Columns,
    request: &Columns,
    n: usize,
    now_us: i64,
) -> Result<
    (
        Vec<f32>,
        Vec<String>,
        Map<String, Value>,
        Option<ShadowTask>,
    ),
    (u16, Value),
> {
    // Online and on-demand features, with the request fields as columns of the same names.
    let features: Vec<String> = d
        .inputs
        .iter()
        .filter_map(|i| match i {
            InputRef::Feature { view, feature } => Some(format!("{view}.{feature}")),
            _ => None,
        })
        .collect();
    let mut looked = BTreeMap::new();
    if !features.is_empty() {
        let Some(store) = &serving.store else {
            return Err((
                503,
                json!({"error": "nothing is materialized yet: run `mlpc materialize` first"}),
            ));
        };
        let mut cols = entities.clone();
        for (k, v) in request {
            cols.entry(k.clone()).or_insert_with(|| v.clone());
        }
        looked = store
            .lookup(&features, &cols, now_us)
            .map_err(|e| store_failed(&e))?;
    }
    // Each input's column, looked up once; the rows are read from these.
    let cols: Vec<(String, &[Value])> = d
        .inputs
        .iter()
        .map(|input| {
            let col: &[Value] = match input {
                InputRef::Feature { view, feature } => looked
                    .get(&format!("{view}__{feature}"))
                    .map_or(&[][..], Vec::as_slice),
                InputRef::Request { field, .. } => {
                    request.get(field).map_or(&[][..], Vec::as_slice)
                }
                InputRef::ModelOutput { .. } => &[],
            };
            (input_name(input), col)
        })
        .collect();
    let env = Env::from_json(n, &cols, &d.exact).map_err(|e| bad(e.to_string()))?;
    let inputs_json: Map<String, Value> = cols
        .iter()
        .map(|(name, col)| (name.clone(), Value::Array(col.to_vec())))
        .collect();
    let shadow = d.shadow.as_ref().map(|s| {
        let graph = s.clone();
        let env = env.clone();
        tokio::spawn(async move { graph.run(env).await })
    });
    let outcome = d.graph.run(env).await.map_err(|e| {
        (
            e.status(),
            json!({ "error": e.to_string(), "deployment": d.name }),
        )
    })?;
    Ok((outcome.outputs, outcome.versions, inputs_json, shadow))
}

/// Answers a predict request for deployment `name`. `request_id` is the caller's
/// `X-Request-Id` (already checked by [`request_id`]) or `None` for a fresh UUID. Every
/// request to a deployment is recorded in the prediction log: in full when the `log` policy
/// samples it and it succeeded, as a compact record (status, latency, version) otherwise.
pub async fn predict(
    state: &State,
    name: &str,
    body: &[u8],
    consumer: Option<String>,
    request_id: Option<String>,
    now_us: i64,
) -> (u16, Value, String) {
    let start = Instant::now();
    let serving = state.now();
    let request_id = request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let Some(d) = serving.deployments.get(name) else {
        let why = serving.failed.get(name).map_or_else(
            || {
                format!(
                    "no deployment `{name}` (deployments: {})",
                    serving
                        .deployments
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            |e| format!("deployment `{name}` is not serving: {e}"),
        );
        if serving.failed.contains_key(name) {
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let r = Record::compact(
                request_id.clone(),
                now_us,
                name.into(),
                503,
                Some(why.clone()),
                ms,
            );
            state.log.log(r);
            return (
                503,
                json!({ "error": why, "request_id": request_id }),
                String::new(),
            );
        }
        return (404, json!({ "error": why }), String::new());
    };
    let id = request_id.clone();
    match predict_inner(
        state,
        &serving,
        d,
        body,
        consumer.clone(),
        id,
        now_us,
        start,
    )
    .await
    {
        Ok((v, logged)) => {
            let version = v["model_version"].as_str().unwrap_or_default().to_string();
            if !logged {
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                let mut r = Record::compact(request_id, now_us, d.name.clone(), 200, None, ms);
                r.model_version.clone_from(&version);
                r.consumer = consumer;
                r.rows = Some(rows_of(&v));
                state.log.log(r);
            }
            (200, v, version)
        }
        Err((status, mut v)) => {
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let error = v["error"].as_str().map(str::to_string);
            let mut r = Record::compact(
                request_id.clone(),
                now_us,
                d.name.clone(),
                status,
                error,
                ms,
            );
            r.model_version = d.graph.versions().join(",");
            r.consumer = consumer;
            state.log.log(r);
            v["request_id"] = json!(request_id);
            (status, v, String::new())
        }
    }
}

/// The number of rows an answer holds (its first output's length, 1 for a single row).
fn rows_of(answer: &Value) -> u32 {
    answer["outputs"]
        .as_object()
        .and_then(|o| o.values().next())
        .map_or(1, |v| {
            v.as_array()
                .map_or(1, |a| u32::try_from(a.len()).unwrap_or(u32::MAX))
        })
}

/// Checks a caller's `X-Request-Id`: 1 to 128 visible ASCII characters, so that it can key
/// labels and be printed safely.
pub fn request_id(header: &str) -> Result<String, String> {
    if header.is_empty() || header.len() > 128 || !header.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "X-Request-Id must be 1 to 128 visible ASCII characters, got {:?}",
            header.chars().take(40).collect::<String>()
        ));
    }
    Ok(header.to_string())
}

/// Whether the `log` policy samples this request: by a hash of its id (FNV-1a, then
/// MurmurHash3's 64-bit finaliser so that ids differing in their last characters, such as
/// `order-1` and `order-2`, spread over the whole range), so that a caller's retries with the
/// same id get the same answer.
fn sampled(policy: &LogPolicy, request_id: &str) -> bool {
    match policy {
        LogPolicy::All => true,
        LogPolicy::None => false,
        LogPolicy::Sample { fraction } => {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in request_id.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h ^= h >> 33;
            h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
            h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
            h ^= h >> 33;
            // The top 53 bits as a uniform number in [0, 1).
            ((h >> 11) as f64) / ((1u64 << 53) as f64) < *fraction
        }
    }
}

/// A predict request's body, read and checked against the deployment.
struct PredictBody {
    /// Entity keys by name, a list of rows each.
    entities: Columns,
    /// Request fields by name, a list of rows each.
    request: Columns,
    /// How many rows.
    n: usize,
    /// Whether the rows came as lists (then the outputs are lists too).
    batch: bool,
    /// `"return_inputs": true`.
    return_inputs: bool,
}

/// Reads a predict body: `entities`, `request` and `return_inputs`, with the same number of
/// rows, at most `MAX_ROWS`, each field of the type the deployment declares.
fn predict_body(
    serving: &Serving,
    d: &Deployment,
    body: &[u8],
) -> Result<PredictBody, (u16, Value)> {
    let req: Value = serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let Value::Object(top) = &req else {
        return Err(bad(
            "the body must be an object with `entities` and `request`",
        ));
    };
    for k in top.keys() {
        if !matches!(k.as_str(), "entities" | "request" | "return_inputs") {
            return Err(bad(format!(
                "unknown field `{k}` (use `entities`, `request` and `return_inputs`)"
            )));
        }
    }
    let (entities, es) = columns("entities", top.get("entities")).map_err(refuse)?;
    let (request, rs) = columns("request", top.get("request")).map_err(refuse)?;
    let (n, batch) = match (es, rs) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad(
                "`entities` and `request` must have the same number of rows",
            ))
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => (1, false),
    };
    if n > MAX_ROWS {
        return Err(bad(format!("{n} rows in one request; at most {MAX_ROWS}")));
    }
    check_request_types(serving, &request).map_err(refuse)?;
    check_fields(serving, d, &entities, &request).map_err(refuse)?;
    Ok(PredictBody {
        entities,
        request,
        n,
        batch,
        return_inputs: top.get("return_inputs") == Some(&Value::Bool(true)),
    })
}

/// The answer to a batch of no rows: no lookup, no model, nothing logged; an empty list per
/// output (and per input when asked).
fn empty_answer(d: &Deployment, request_id: String, start: Instant, return_inputs: bool) -> Value {
    let outputs: Map<String, Value> = d
        .outputs
        .iter()
        .map(|c| (c.name.clone(), Value::Array(Vec::new())))
        .collect();
    let versions = d.graph.versions();
    let mut answer = json!({
        "outputs": outputs,
        "model_version": versions.join(","),
        "model_versions": versions,
        "request_id": request_id,
        "latency_ms": start.elapsed().as_secs_f64() * 1000.0,
    });
    if return_inputs {
        answer["inputs"] = d
            .inputs
            .iter()
            .map(|i| (input_name(i), Value::Array(Vec::new())))
            .collect::<Map<String, Value>>()
            .into();
    }
    answer
}

/// Answers one request; logs its full record when the policy samples it (the `bool`).
#[allow(clippy::too_many_arguments)]
async fn predict_inner(
    state: &State,
    serving: &Serving,
    d: &Deployment,
    body: &[u8],
    consumer: Option<String>,
    request_id: String,
    now_us: i64,
    start: Instant,
) -> Result<(Value, bool), (u16, Value)> {
    let PredictBody {
        entities,
        request,
        n,
        batch,
        return_inputs,
    } = predict_body(serving, d, body)?;
    if n == 0 {
        return Ok((empty_answer(d, request_id, start, return_inputs), false));
    }
    let (out, versions, inputs_json, shadow) = match &d.lookup {
        Some(lookup) => {
            let (out, versions, inputs) = from_table(d, lookup, &entities, n)?;
            (out, versions, inputs, None)
        }
        None => from_graph(serving, d, &entities, &request, n, now_us).await?,
    };
    let version = versions.join(",");
    let outputs: Map<String, Value> = crate::outputs::by_name(&d.outputs, &out, n)
        .into_iter()
        .map(|(name, col)| {
            let v = if batch {
                Value::Array(col)
            } else {
                col.into_iter().next().unwrap_or(Value::Null)
            };
            (name, v)
        })
        .collect();
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut answer = json!({
        "outputs": outputs,
        "model_version": version,
        "model_versions": versions,
        "request_id": request_id,
        "latency_ms": latency_ms,
    });
    if return_inputs {
        answer["inputs"] = Value::Object(inputs_json.clone());
    }
    let logged = sampled(&d.log, &request_id);
    if logged {
        // The log keeps every output as a list of rows, whether the request was a batch.
        let outputs: Map<String, Value> = if batch {
            outputs
        } else {
            outputs
                .into_iter()
                .map(|(k, one)| (k, Value::Array(vec![one])))
                .collect()
        };
        let as_rows = |cols: Columns| {
            Value::Object(
                cols.into_iter()
                    .map(|(k, v)| (k, Value::Array(v)))
                    .collect(),
            )
            .to_string()
        };
        let record = Record {
            request_id,
            time_us: now_us,
            deployment: d.name.clone(),
            model_version: version,
            shadow_version: None,
            consumer,
            status: 200,
            error: None,
            rows: Some(u32::try_from(n).unwrap_or(u32::MAX)),
            sampled: true,
            entities: Some(as_rows(entities)),
            request: Some(as_rows(request)),
            features: Some(Value::Object(inputs_json).to_string()),
            outputs: Some(Value::Object(outputs).to_string()),
            shadow_outputs: None,
            latency_ms,
        };
        log_record(state, d, record, shadow, n);
    }
    Ok((answer, logged))
}

/// Logs a sampled request's record; with a shadow, once the shadow has answered (its
/// outputs beside the live ones).
fn log_record(state: &State, d: &Deployment, record: Record, shadow: Option<ShadowTask>, n: usize) {
    let log = state.log.clone();
    let Some(task) = shadow else {
        log.log(record);
        return;
    };
    let outputs_of = d.outputs.clone();
    tokio::spawn(async move {
        let mut record = record;
        // A failed shadow never touches the live answer; its record has no shadow outputs,
        // and the server's log says why.
        match task.await {
            Ok(Ok(shadow)) => {
                let (s, v) = (shadow.outputs, shadow.versions.join(","));
                let cols: Map<String, Value> = crate::outputs::by_name(&outputs_of, &s, n)
                    .into_iter()
                    .map(|(name, col)| (name, Value::Array(col)))
                    .collect();
                record.shadow_version = Some(v);
                record.shadow_outputs = Some(Value::Object(cols).to_string());
            }
            Ok(Err(e)) => eprintln!(
                "serve: {}: the shadow failed on request {}: {e}",
                record.deployment, record.request_id
            ),
            Err(e) => eprintln!(
                "serve: {}: the shadow's task ended on request {}: {e}",
                record.deployment, record.request_id
            ),
        }
        log.log(record);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_by_the_request_id_keeps_its_fraction_and_is_repeatable() {
        for fraction in [0.01, 0.1, 0.5, 0.9] {
            let policy = LogPolicy::Sample { fraction };
            let n = 20_000;
            // Random ids as the server makes them, and callers' sequential ones.
            let random: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
            let sequential: Vec<String> = (0..n).map(|i| format!("order-{i}")).collect();
            for ids in [&random, &sequential] {
                let share = ids.iter().filter(|id| sampled(&policy, id)).count() as f64 / n as f64;
                // 5 standard deviations of a binomial share.
                let tol = 5.0 * (fraction * (1.0 - fraction) / n as f64).sqrt();
                assert!(
                    (share - fraction).abs() < tol,
                    "{fraction}: {share} ({})",
                    ids[0]
                );
            }
            assert!(random
                .iter()
                .all(|id| sampled(&policy, id) == sampled(&policy, id)));
        }
        assert!(sampled(&LogPolicy::All, "x") && !sampled(&LogPolicy::None, "x"));
    }

    #[test]
    fn a_request_id_is_one_to_128_visible_ascii_characters() {
        assert_eq!(request_id("order-42").as_deref(), Ok("order-42"));
        for bad in ["", "has space", "tab\t", "é", &"x".repeat(129)] {
            assert!(request_id(bad).is_err(), "{bad:?}");
        }
        assert!(request_id(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn each_type_takes_its_values_and_names_what_is_wrong_with_others() {
        let cases: [(Type, Value, Option<&str>); 14] = [
            (Type::Int, json!(-3), None),
            (Type::Int, json!(i64::MAX), None),
            (
                Type::Int,
                json!(u64::MAX),
                Some("past the 64-bit integer range"),
            ),
            (Type::Int, json!(2.0), Some("not a whole number")),
            (Type::Int, json!("1"), Some("must be an integer, got \"1\"")),
            (Type::Float, json!(1), None),
            (Type::Float, json!(u64::MAX), None),
            (Type::Float, json!(true), Some("must be a number, got true")),
            (Type::Bool, json!(0), Some("must be a boolean")),
            (
                Type::String,
                json!(["a"]),
                Some("must be a string, got [\"a\"]"),
            ),
            (Type::Timestamp, json!("2026-03-29T01:30:00+02:00"), None),
            (Type::Timestamp, json!("2026-03-29 01:30:00"), None),
            (
                Type::Timestamp,
                json!("29/03/2026"),
                Some("not a timestamp"),
            ),
            (
                Type::Timestamp,
                json!(1_775_000_000),
                Some("must be a timestamp string"),
            ),
        ];
        for (t, v, want) in cases {
            let got = type_error(t, &v);
            match want {
                None => assert_eq!(got, None, "{t:?} {v}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{t:?} {v}: {got:?}"
                ),
            }
        }
        let long = json!("x".repeat(500));
        let e = type_error(Type::Int, &long).unwrap_or_default();
        assert!(e.len() < 140 && e.contains("..."), "{e}");
    }
}
