//! Checks of a model artifact before it becomes a registry version: that it is a TorchScript
//! archive, and, when the project's venv has PyTorch, that the module loads and maps a batch
//! of the model block's inputs to a batch of its outputs.

use mlp_ir::Spec;
use std::path::Path;

/// A TorchScript file is a zip archive (`torch.jit.save`) holding `data.pkl` and `code/`.
pub fn check_torchscript(path: &Path) -> Result<(), String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if !is_zip || !has(b"data.pkl") || !has(b"/code/") {
        return Err(format!(
            "`{}` is not a TorchScript archive (save the model with torch.jit.save)",
            path.display()
        ));
    }
    Ok(())
}

/// The model block's interface: input and output names with their types.
pub fn signature(plan: &mlp_ir::Plan, model: &str) -> Option<mlp_registry::Signature> {
    let Some(Spec::Model {
        inputs, outputs, ..
    }) = plan.model(model).map(|r| &r.spec)
    else {
        return None;
    };
    let ty = |id: String| -> String {
        match plan.get(&id).map(|r| &r.spec) {
            Some(Spec::Feature { ty, .. }) => format!("{ty:?}").to_lowercase(),
            _ => "unknown".into(),
        }
    };
    let inputs = inputs
        .iter()
        .map(|i| match i {
            mlp_ir::InputRef::Feature { view, feature } => (
                format!("{view}.{feature}"),
                ty(format!("feature.{view}.{feature}")),
            ),
            mlp_ir::InputRef::Request { request, field } => {
                let t = match plan.request(request).map(|r| &r.spec) {
                    Some(Spec::Request { fields }) => fields
                        .iter()
                        .find(|c| &c.name == field)
                        .map_or("unknown".to_string(), |c| {
                            format!("{:?}", c.ty).to_lowercase()
                        }),
                    _ => "unknown".into(),
                };
                (format!("{request}.{field}"), t)
            }
            mlp_ir::InputRef::ModelOutput { model, output } => {
                (format!("{model}.{output}"), "float".to_string())
            }
        })
        .collect();
    let outputs = outputs
        .iter()
        .map(|c| (c.name.clone(), format!("{:?}", c.ty).to_lowercase()))
        .collect();
    Some(mlp_registry::Signature { inputs, outputs })
}

/// Loads `artifact` with the venv's PyTorch and runs it on a batch of two rows of zeros with
/// as many columns as the signature has inputs: it must answer two rows with as many values
/// as the signature has outputs. A venv without torch skips the check.
pub fn check_with_torch(
    artifact: &Path,
    sig: &mlp_registry::Signature,
    python: &Path,
) -> Result<(), String> {
    if !python.exists() {
        return Ok(());
    }
    const SCRIPT: &str = r#"
import sys
try:
    import torch
except ImportError:
    sys.exit(0)
path, n_in, n_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    m = torch.jit.load(path, map_location="cpu")
except Exception as e:
    print(f"torch.jit.load cannot read it: {e}".splitlines()[0]); sys.exit(3)
m.eval()
try:
    with torch.no_grad():
        y = m(torch.zeros(2, n_in))
except Exception as e:
    lines = [l for l in str(e).splitlines() if l.strip()]
    print(f"it does not take a batch of {n_in} inputs (the model block's): {lines[-1] if lines else e}"); sys.exit(3)
if not isinstance(y, torch.Tensor):
    print(f"it returns {type(y).__name__}, not a tensor"); sys.exit(3)
shape = tuple(y.shape)
if shape not in [(2, n_out)] + ([(2,)] if n_out == 1 else []):
    print(f"for a batch of 2 it returns shape {list(shape)}, not [2, {n_out}] (the model block's outputs)"); sys.exit(3)
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(artifact)
        .arg(sig.inputs.len().to_string())
        .arg(sig.outputs.len().to_string())
        .env("OMP_NUM_THREADS", "1")
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", python.display()))?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(3) => Err(format!(
            "`{}` does not fit the model block: {}",
            artifact.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        )),
        _ => Err(format!(
            "checking `{}` with PyTorch failed: {}",
            artifact.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
    }
}
