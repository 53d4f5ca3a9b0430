//! `POST /v2/models/{name}/infer` of the Open Inference Protocol (KServe V2): raw model
//! inputs, no feature fetching. One input of shape `[n]` per model input, named as the model
//! block names them (`user_stats.avg_amount_7d`); or, for a model with an `inputs { }`
//! block, one input per tensor, named as the block names it, of its shape (`[n, k]` or
//! `[n]`); or one input of shape `[n, width]` (any name) holding every input in order. INT64
//! data stays exact. Outputs are FP32, one `[n]` output per declared output.

use crate::deployment::{input_name, Deployment};
use crate::error::ServingError;
use crate::server::State;
use serde_json::{json, Value};

/// The values of an input's `data`, flattened row-major: numbers and booleans, each kept as
/// the JSON it is (an INT64 id stays exact).
fn flat(v: &Value, name: &str) -> Result<Vec<Value>, ServingError> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<Value>, name: &str) -> Result<(), ServingError> {
        match v {
            Value::Array(a) => a.iter().try_for_each(|x| walk(x, out, name)),
            Value::Number(_) | Value::Bool(_) => {
                out.push(v.clone());
                Ok(())
            }
            other => Err(ServingError::BadRequest(format!(
                "input `{name}`: {other} is not a number"
            ))),
        }
    }
    walk(v, &mut out, name)?;
    Ok(out)
}

/// A model input's name and its values, one per row.
type NamedColumn = (String, Vec<Value>);

/// An input of the request: its shape and flattened values.
#[derive(Default)]
struct Given {
    shape: Vec<i64>,
    data: Vec<Value>,
}

/// Splits `given` (of `[n, k]`, or `[n]` when `k` is 1 and `one_d` allows it) into its `k`
/// columns, named `names`; the rows.
fn columns(
    given: Given,
    label: &str,
    names: &[String],
    one_d: bool,
    out: &mut Vec<NamedColumn>,
) -> Result<usize, (u16, String)> {
    let k = names.len();
    let n = match given.shape.as_slice() {
        [n, w] if *w as usize == k && given.data.len() == (*n as usize) * k => *n as usize,
        [n] if one_d && k == 1 && given.data.len() == *n as usize => *n as usize,
        shape => {
            let want = if one_d && k == 1 {
                "[n]".to_string()
            } else {
                format!("[n, {k}]")
            };
            return Err((
                400,
                format!(
                    "input `{label}` of shape {shape:?} with {} values: expected shape {want}",
                    given.data.len()
                ),
            ));
        }
    };
    for (j, name) in names.iter().enumerate() {
        out.push((
            name.clone(),
            (0..n).map(|r| given.data[r * k + j].clone()).collect(),
        ));
    }
    Ok(n)
}

/// Where input `want` is among `given`.
fn position(given: &[(String, Given)], want: &str) -> Option<usize> {
    given.iter().position(|(g, _)| g == want)
}

/// The request's inputs, each with its name, shape and flattened data.
fn given_inputs(inputs: &[Value]) -> Result<Vec<(String, Given)>, (u16, String)> {
    let mut given: Vec<(String, Given)> = Vec::with_capacity(inputs.len());
    for i in inputs {
        let iname = i["name"].as_str().unwrap_or("input").to_string();
        let data = flat(&i["data"], &iname).map_err(|e| (e.status(), e.to_string()))?;
        let shape = i["shape"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        given.push((iname, Given { shape, data }));
    }
    Ok(given)
}

/// The model's input columns from the request's inputs, given in one of three layouts: one
/// `[n]` input per model input, one input per tensor of its `inputs { }` block, or one
/// `[n, width]` input with every model input in order. Returns the columns and the rows
/// (`None` when no input was given).
fn input_columns(
    d: &Deployment,
    mut given: Vec<(String, Given)>,
) -> Result<(Vec<NamedColumn>, Option<usize>), (u16, String)> {
    let names: Vec<String> = d.inputs.iter().map(input_name).collect();
    let tensors = d.input_tensors();
    let mut cols: Vec<NamedColumn> = Vec::with_capacity(names.len());
    let mut rows: Option<usize> = None;
    let mut agree = |n: usize, label: &str| match rows {
        Some(k) if k != n => Err((400, format!("input `{label}` has {n} rows, the others {k}"))),
        _ => {
            rows = Some(n);
            Ok(())
        }
    };
    if names.iter().all(|n| position(&given, n).is_some()) {
        // One `[n]` input per model input, by its name.
        for name in &names {
            let Some(at) = position(&given, name) else {
                continue;
            };
            let g = std::mem::take(&mut given[at].1);
            let n = columns(g, name, std::slice::from_ref(name), true, &mut cols)?;
            agree(n, name)?;
        }
    } else if let Some(tensors) =
        tensors.filter(|t| t.iter().all(|t| position(&given, &t.name).is_some()))
    {
        // One input per tensor of the model's `inputs { }` block, by its name and shape.
        for t in tensors {
            let Some(at) = position(&given, &t.name) else {
                continue;
            };
            let g = std::mem::take(&mut given[at].1);
            let cnames: Vec<String> = t.inputs.iter().map(input_name).collect();
            let n = columns(g, &t.name, &cnames, !t.vector, &mut cols)?;
            agree(n, &t.name)?;
        }
    } else if given.len() == 1 {
        // One `[n, width]` input (any name) holding every model input in order.
        let (label, g) = given.remove(0);
        let n = columns(g, &label, &names, true, &mut cols)?;
        agree(n, &label)?;
    } else {
        return Err((
            400,
            format!(
                "give one input per model input ({}), one per input tensor, or one [n, {}] input",
                names.join(", "),
                names.len()
            ),
        ));
    }
    Ok((cols, rows))
}

/// Runs an infer request; answers the response body and the version that computed it.
pub async fn infer(
    state: &State,
    name: &str,
    body: &[u8],
) -> Result<(Value, String), (u16, String)> {
    let d = state
        .now()
        .deployments
        .get(name)
        .cloned()
        .ok_or_else(|| (404, format!("no ready model `{name}`")))?;
    let req: Value =
        serde_json::from_slice(body).map_err(|e| (400, format!("invalid JSON: {e}")))?;
    let inputs = req["inputs"].as_array().ok_or_else(|| {
        (
            400,
            "`inputs` must be a list of {name, shape, datatype, data}".to_string(),
        )
    })?;
    let given = given_inputs(inputs)?;
    let (cols, rows) = input_columns(&d, given)?;
    let n = rows.unwrap_or(0);
    if n > crate::predict::MAX_ROWS {
        return Err((
            400,
            format!("{n} rows: give at most {}", crate::predict::MAX_ROWS),
        ));
    }
    let (out, version) = if n == 0 {
        // No rows, no model run: an empty output of shape [0] each.
        (Vec::new(), d.graph.versions().join(","))
    } else {
        let views: Vec<(String, &[Value])> = cols
            .iter()
            .map(|(k, v)| (k.clone(), v.as_slice()))
            .collect();
        let env = crate::graph::Env::from_json(n, &views, &d.exact)
            .map_err(|e| (e.status(), e.to_string()))?;
        let outcome = d
            .graph
            .run(env)
            .await
            .map_err(|e| (e.status(), e.to_string()))?;
        (outcome.outputs, outcome.versions.join(","))
    };
    let outputs: Vec<Value> = d
        .outputs
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "shape": crate::outputs::oip_shape(o, n as i64),
                "datatype": "FP32",
                "data": crate::outputs::oip_data(&d.outputs, o, &out, n),
            })
        })
        .collect();
    let id = req["id"]
        .as_str()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
    Ok((
        json!({"model_name": name, "model_version": version, "id": id, "outputs": outputs}),
        version,
    ))
}
