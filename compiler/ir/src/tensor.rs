//! A model's input tensors: how its inputs are grouped into the typed tensors its `forward`
//! takes, in order. A model block's plain list (`inputs = [a, b]`) is one float32 tensor
//! `[batch, n]`; an `inputs { ... }` block names each tensor with its element type and, for
//! int64 ids, their valid range.

use crate::InputRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The element type of an input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// 32-bit floats: numbers, booleans as 0/1, nulls as 0.
    Float32,
    /// 64-bit integers, exact: ids and counts; booleans as 0/1.
    Int64,
}

impl DType {
    /// The name written in a model block (`float32`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Int64 => "int64",
        }
    }

    /// The dtype a model block names; `None` for another word.
    pub fn parse(s: &str) -> Option<DType> {
        match s {
            "float32" => Some(DType::Float32),
            "int64" => Some(DType::Int64),
            _ => None,
        }
    }

    /// Every dtype, for messages.
    pub const ALL: [DType; 2] = [DType::Float32, DType::Int64];

    /// Open Inference Protocol's name for it (`FP32`, `INT64`).
    pub fn oip(self) -> &'static str {
        match self {
            DType::Float32 => "FP32",
            DType::Int64 => "INT64",
        }
    }
}

/// The valid ids of an int64 tensor: `lo <= id < hi`; a negative or missing id becomes
/// `default`, or the row is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct IdRange {
    /// The smallest valid id.
    pub lo: i64,
    /// One past the largest valid id.
    pub hi: i64,
    /// What a negative or missing id becomes; `None`: the row is refused (400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<i64>,
}

/// One named input tensor of a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct TensorInput {
    /// Its name (the `forward` argument it is passed as, by position).
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// The inputs it holds, in order: its columns.
    pub inputs: Vec<InputRef>,
    /// `[batch, k]` when its inputs are written as a list, `[batch]` when one input is
    /// written alone.
    pub vector: bool,
    /// The valid ids (int64 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<IdRange>,
}

impl TensorInput {
    /// The shape it is passed in, with `batch` for the rows: `[batch, 4]`, `[batch]`.
    pub fn shape_text(&self) -> String {
        if self.vector {
            format!("[batch, {}]", self.inputs.len())
        } else {
            "[batch]".to_string()
        }
    }

    /// `name: dtype[batch, k]`, as signatures show it.
    pub fn signature(&self) -> String {
        format!("{}: {}{}", self.name, self.dtype.name(), self.shape_text())
    }
}

/// The tensors a model with `inputs` and declared `tensors` takes: the declared ones, or,
/// for a plain list, one float32 tensor `x` of `[batch, n]`.
pub fn input_tensors(inputs: &[InputRef], tensors: &[TensorInput]) -> Vec<TensorInput> {
    if tensors.is_empty() {
        vec![TensorInput {
            name: "x".into(),
            dtype: DType::Float32,
            inputs: inputs.to_vec(),
            vector: true,
            ids: None,
        }]
    } else {
        tensors.to_vec()
    }
}
