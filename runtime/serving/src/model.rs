//! The model backend: a narrow trait (TorchScript is deprecated upstream in favour of
//! `torch.export`, so the rest of serving never touches tch) and its libtorch implementation.

use crate::error::LoadError;
use std::path::Path;

/// One input tensor's values for a batch of rows, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// float32 values.
    F32(Vec<f32>),
    /// int64 values, exact.
    I64(Vec<i64>),
}

impl TensorData {
    /// How many values it holds.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its element type.
    pub fn dtype(&self) -> mlp_ir::DType {
        match self {
            TensorData::F32(_) => mlp_ir::DType::Float32,
            TensorData::I64(_) => mlp_ir::DType::Int64,
        }
    }

    /// Appends `other`'s values (of the same type; another type is refused).
    pub fn extend(&mut self, other: &TensorData) -> Result<(), String> {
        match (self, other) {
            (TensorData::F32(a), TensorData::F32(b)) => a.extend_from_slice(b),
            (TensorData::I64(a), TensorData::I64(b)) => a.extend_from_slice(b),
            (a, b) => {
                return Err(format!(
                    "a {} tensor cannot take {} values",
                    a.dtype().name(),
                    b.dtype().name()
                ))
            }
        }
        Ok(())
    }
}

/// One input tensor of a batch: its values and its shape, `[n, width]` or, without a width,
/// `[n]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorIn {
    /// Row-major values, `n * width` (or `n`).
    pub data: TensorData,
    /// Values per row; `None`: one per row, as a `[n]` tensor.
    pub width: Option<usize>,
}

/// A loaded model: a batch of `n` rows as its typed input tensors in, rows of `outputs`
/// floats out.
pub trait Backend: Send + Sync {
    /// Runs a batch of `n` rows, its input tensors in `forward`'s order; answers `n * outputs`
    /// values, row by row.
    fn forward(&self, inputs: &[TensorIn], n: usize) -> Result<Vec<f32>, String>;
    /// The device it runs on (`cpu`, `cuda:0`).
    fn device(&self) -> String;
}

/// Which device to load on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA when available, else CPU.
    Auto,
    /// CPU.
    Cpu,
    /// CUDA (an error when unavailable).
    Cuda,
}

impl DeviceChoice {
    /// From the deployment's `device` (`auto` for anything unknown).
    pub fn parse(s: &str) -> DeviceChoice {
        match s {
            "cpu" => DeviceChoice::Cpu,
            "cuda" => DeviceChoice::Cuda,
            _ => DeviceChoice::Auto,
        }
    }
}

/// Whether CUDA is usable.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// A TorchScript module on libtorch.
pub struct TorchModel {
    module: tch::CModule,
    device: tch::Device,
}

impl TorchModel {
    /// Loads `path` on the chosen device, in eval mode.
    pub fn load(path: &Path, choice: DeviceChoice) -> Result<TorchModel, LoadError> {
        let device = match choice {
            DeviceChoice::Cpu => tch::Device::Cpu,
            DeviceChoice::Auto if cuda_available() => tch::Device::Cuda(0),
            DeviceChoice::Auto => tch::Device::Cpu,
            DeviceChoice::Cuda if cuda_available() => tch::Device::Cuda(0),
            DeviceChoice::Cuda => return Err(LoadError::NoCuda),
        };
        let mut module =
            tch::CModule::load_on_device(path, device).map_err(|e| LoadError::TorchScript {
                path: path.to_path_buf(),
                message: first_line(&e.to_string()),
            })?;
        module.set_eval();
        Ok(TorchModel { module, device })
    }
}

/// What kind of value an `IValue` is, for messages.
fn ivalue_kind(v: &tch::IValue) -> &'static str {
    match v {
        tch::IValue::None => "None",
        tch::IValue::Bool(_) => "a bool",
        tch::IValue::Int(_) => "an int",
        tch::IValue::Double(_) => "a float",
        tch::IValue::String(_) => "a string",
        tch::IValue::Tuple(_) => "a tuple",
        tch::IValue::GenericDict(_) => "a dict",
        _ => "a value that is not a tensor",
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .to_string()
}

impl Backend for TorchModel {
    fn forward(&self, inputs: &[TensorIn], n: usize) -> Result<Vec<f32>, String> {
        // Built here, on the inference thread: tensors are Send but not Sync.
        let _guard = tch::no_grad_guard();
        let tensors: Vec<tch::Tensor> = inputs
            .iter()
            .map(|t| {
                let shape: Vec<i64> = match t.width {
                    Some(w) => vec![n as i64, w as i64],
                    None => vec![n as i64],
                };
                let x = match &t.data {
                    TensorData::F32(v) => tch::Tensor::from_slice(v),
                    TensorData::I64(v) => tch::Tensor::from_slice(v),
                };
                x.reshape(shape).to_device(self.device)
            })
            .collect();
        let inputs: Vec<tch::IValue> = tensors.into_iter().map(tch::IValue::Tensor).collect();
        let out = self
            .module
            .forward_is(&inputs)
            .map_err(|e| format!("the model failed: {}", first_line(&e.to_string())))?;
        // One tensor, or a tuple (or list) of them whose elements map to the outputs in
        // order: each `[n]` or `[n, k]`, side by side as the rows' columns.
        let parts: Vec<tch::Tensor> = match out {
            tch::IValue::Tensor(t) => vec![t],
            tch::IValue::Tuple(items) | tch::IValue::GenericList(items) => items
                .into_iter()
                .map(|v| match v {
                    tch::IValue::Tensor(t) => Ok(t),
                    other => Err(format!(
                        "the model answered a tuple holding {}, not only tensors",
                        ivalue_kind(&other)
                    )),
                })
                .collect::<Result<_, _>>()?,
            tch::IValue::TensorList(ts) => ts,
            other => {
                return Err(format!(
                    "the model answered {}, not a tensor or a tuple of tensors",
                    ivalue_kind(&other)
                ))
            }
        };
        let mut columns = Vec::with_capacity(parts.len());
        for t in &parts {
            let size = t.size();
            match size.as_slice() {
                [rows] | [rows, _] if *rows == n as i64 => {}
                _ => return Err(format!("the model answered shape {size:?} for {n} rows")),
            }
            columns.push(
                t.to_device(tch::Device::Cpu)
                    .to_kind(tch::Kind::Float)
                    .reshape([n as i64, -1]),
            );
        }
        let flat = match columns.as_slice() {
            [one] => one.reshape([-1]),
            _ => tch::Tensor::cat(&columns, 1).reshape([-1]),
        };
        Vec::<f32>::try_from(&flat).map_err(|e| format!("cannot read the model's output: {e}"))
    }

    fn device(&self) -> String {
        match self.device {
            tch::Device::Cuda(i) => format!("cuda:{i}"),
            _ => "cpu".into(),
        }
    }
}
