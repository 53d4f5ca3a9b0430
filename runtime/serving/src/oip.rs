//! `POST /v2/models/{name}/infer` of the Open Inference Protocol (KServe V2): raw model
//! inputs, no feature fetching. Either one input of shape `[n, width]` (any name), or one
//! input of shape `[n]` per model input, named as the model block names them
//! (`user_stats.avg_amount_7d`). Outputs are FP32, one `[n]` output per declared output.

use crate::deployment::input_name;
use crate::error::ServingError;
use crate::server::State;
use serde_json::{json, Value};

fn numbers(v: &Value, name: &str) -> Result<Vec<f32>, ServingError> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<f32>, name: &str) -> Result<(), ServingError> {
        match v {
            Value::Array(a) => a.iter().try_for_each(|x| walk(x, out, name)),
            Value::Number(n) => {
                out.push(n.as_f64().unwrap_or(0.0) as f32);
                Ok(())
            }
            Value::Bool(b) => {
                out.push(if *b { 1.0 } else { 0.0 });
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
    let width = d.inputs.len();
    let shape_of = |i: &Value| -> Vec<i64> {
        i["shape"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let (rows, n) = if let [one] = inputs.as_slice() {
        let shape = shape_of(one);
        let data = numbers(&one["data"], one["name"].as_str().unwrap_or("input"))
            .map_err(|e| (e.status(), e.to_string()))?;
        match shape.as_slice() {
            [n, w] if *w as usize == width && data.len() == (*n as usize) * width => {
                (data, *n as usize)
            }
            [n] if width == 1 && data.len() == *n as usize => (data, *n as usize),
            _ => {
                return Err((
                    400,
                    format!(
                        "input of shape {shape:?} with {} values: expected shape [n, {width}]",
                        data.len()
                    ),
                ))
            }
        }
    } else {
        let mut cols = Vec::with_capacity(width);
        let mut n = None;
        for i in &d.inputs {
            let iname = input_name(i);
            let given = inputs
                .iter()
                .find(|x| x["name"].as_str() == Some(iname.as_str()))
                .ok_or_else(|| (400, format!("missing input `{iname}`")))?;
            let data = numbers(&given["data"], &iname).map_err(|e| (e.status(), e.to_string()))?;
            match n {
                None => n = Some(data.len()),
                Some(k) if k != data.len() => {
                    return Err((
                        400,
                        format!("input `{iname}` has {} values, the others {k}", data.len()),
                    ))
                }
                _ => {}
            }
            cols.push(data);
        }
        let n = n.unwrap_or(0);
        let mut rows = Vec::with_capacity(n * width);
        for r in 0..n {
            for c in &cols {
                rows.push(c[r]);
            }
        }
        (rows, n)
    };
    if n == 0 || n > crate::predict::MAX_ROWS {
        return Err((
            400,
            format!("{n} rows: give 1 to {}", crate::predict::MAX_ROWS),
        ));
    }
    // Row-major rows into the graph's named input columns.
    let width = d.inputs.len().max(1);
    let cols = d
        .inputs
        .iter()
        .enumerate()
        .map(|(j, i)| {
            (
                crate::deployment::input_name(i),
                (0..n).map(|r| rows[r * width + j]).collect(),
            )
        })
        .collect();
    let outcome = d
        .graph
        .run(crate::graph::Env { n, cols })
        .await
        .map_err(|e| (e.status(), e.to_string()))?;
    let (out, version) = (outcome.outputs, outcome.versions.join(","));
    let k = d.outputs.len().max(1);
    let outputs: Vec<Value> = d
        .outputs
        .iter()
        .enumerate()
        .map(|(j, o)| {
            json!({"name": o.name, "shape": [n], "datatype": "FP32", "data": (0..n).map(|i| out.get(i * k + j).copied().unwrap_or(f32::NAN)).collect::<Vec<f32>>()})
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
