//! The model backend: a narrow trait (TorchScript is deprecated upstream in favour of
//! `torch.export`, so the rest of serving never touches tch) and its libtorch implementation.

use crate::error::LoadError;
use std::path::Path;

/// A loaded model: rows of `width` float inputs in, rows of `outputs` floats out.
pub trait Backend: Send + Sync {
    /// Runs a batch of `n` rows (`rows.len() == n * width`); answers `n * outputs` values,
    /// row by row.
    fn forward(&self, rows: &[f32], n: usize, width: usize) -> Result<Vec<f32>, String>;
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

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .to_string()
}

impl Backend for TorchModel {
    fn forward(&self, rows: &[f32], n: usize, width: usize) -> Result<Vec<f32>, String> {
        // Built here, on the inference thread: tensors are Send but not Sync.
        let _guard = tch::no_grad_guard();
        let input = tch::Tensor::from_slice(rows)
            .reshape([n as i64, width as i64])
            .to_device(self.device);
        let out = self
            .module
            .forward_ts(&[input])
            .map_err(|e| format!("the model failed: {}", first_line(&e.to_string())))?;
        let size = out.size();
        let ok_shape = match size.as_slice() {
            [rows] => *rows == n as i64,
            [rows, _] => *rows == n as i64,
            _ => false,
        };
        if !ok_shape {
            return Err(format!("the model answered shape {size:?} for {n} rows"));
        }
        let flat = out
            .to_device(tch::Device::Cpu)
            .to_kind(tch::Kind::Float)
            .reshape([-1]);
        Vec::<f32>::try_from(&flat).map_err(|e| format!("cannot read the model's output: {e}"))
    }

    fn device(&self) -> String {
        match self.device {
            tch::Device::Cuda(i) => format!("cuda:{i}"),
            _ => "cpu".into(),
        }
    }
}
