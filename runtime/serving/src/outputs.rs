//! A deployment's outputs as answers show them. The graph answers rows of values, each
//! output's side by side (a vector output `probs: float32[3]` takes 3); answers give each
//! output by name with one value per row, or a list per row for a vector.

use mlp_ir::Column;
use serde_json::{json, Value};

/// Each output of `outputs` over the `n` rows of `flat` (row-major, [`mlp_ir::row_width`]
/// values a row): its name and its value per row, a list for a vector; a value that is not
/// a number (or is missing) is null.
pub fn by_name(outputs: &[Column], flat: &[f32], n: usize) -> Vec<(String, Vec<Value>)> {
    let k = mlp_ir::row_width(outputs).max(1);
    let mut at = 0;
    let mut cols = Vec::with_capacity(outputs.len());
    for c in outputs {
        let cell = |i: usize, j: usize| flat.get(i * k + at + j).map_or(Value::Null, |v| json!(v));
        let values = (0..n)
            .map(|i| match c.width {
                None => cell(i, 0),
                Some(w) => Value::Array((0..w as usize).map(|j| cell(i, j)).collect()),
            })
            .collect();
        cols.push((c.name.clone(), values));
        at += c.cells();
    }
    cols
}

/// Output `c`'s shape in the Open Inference Protocol for `n` rows: `[n]`, or `[n, k]`.
pub fn oip_shape(c: &Column, n: i64) -> Value {
    match c.width {
        None => json!([n]),
        Some(k) => json!([n, k]),
    }
}

/// Output `c`'s values over the `n` rows of `flat`, flattened row-major as the Open
/// Inference Protocol sends a tensor's data (NaN for a missing value).
pub fn oip_data(outputs: &[Column], c: &Column, flat: &[f32], n: usize) -> Vec<f32> {
    let k = mlp_ir::row_width(outputs).max(1);
    let at = mlp_ir::cell_of(outputs, &c.name, c.width.map(|_| 0)).unwrap_or(0);
    let w = c.cells();
    (0..n)
        .flat_map(|i| (0..w).map(move |j| i * k + at + j))
        .map(|x| flat.get(x).copied().unwrap_or(f32::NAN))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlp_ir::Type;

    #[test]
    fn vectors_are_lists_per_row_and_scalars_values() {
        let outputs = vec![
            Column::scalar("p", Type::Float),
            Column {
                name: "probs".into(),
                ty: Type::Float,
                width: Some(3),
            },
            Column::scalar("flag", Type::Bool),
        ];
        // Two rows of 1 + 3 + 1 values.
        let flat = [
            0.5,
            0.125,
            0.5,
            0.375,
            1.0,
            0.25,
            0.625,
            0.25,
            0.125,
            f32::NAN,
        ];
        let cols = by_name(&outputs, &flat, 2);
        assert_eq!(cols[0], ("p".into(), vec![json!(0.5), json!(0.25)]));
        assert_eq!(
            cols[1],
            (
                "probs".into(),
                vec![json!([0.125, 0.5, 0.375]), json!([0.625, 0.25, 0.125])]
            )
        );
        assert_eq!(cols[2], ("flag".into(), vec![json!(1.0), Value::Null]));
        assert_eq!(
            oip_data(&outputs, &outputs[1], &flat, 2),
            vec![0.125, 0.5, 0.375, 0.625, 0.25, 0.125]
        );
        assert_eq!(oip_shape(&outputs[1], 2), json!([2, 3]));
        assert_eq!(oip_shape(&outputs[0], 2), json!([2]));
    }
}
