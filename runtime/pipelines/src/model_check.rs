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

/// The model block's interface: input and output names with their types, and its input
/// tensors when the block names them.
pub fn signature(plan: &mlp_ir::Plan, model: &str) -> Option<mlp_registry::Signature> {
    let mlp_ir::ModelBlock {
        inputs,
        outputs,
        tensors,
        ..
    } = plan.model_block(model)?;
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
                let t = plan
                    .request_fields(request)
                    .and_then(|fields| fields.iter().find(|c| &c.name == field))
                    .map_or("unknown".to_string(), |c| {
                        format!("{:?}", c.ty).to_lowercase()
                    });
                (format!("{request}.{field}"), t)
            }
            mlp_ir::InputRef::ModelOutput { model, output } => {
                (format!("{model}.{output}"), "float".to_string())
            }
        })
        .collect();
    let outputs = outputs
        .iter()
        .map(|c| (c.name.clone(), c.type_text()))
        .collect();
    let tensors = tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                format!("{}{}", t.dtype.name(), t.shape_text()),
            )
        })
        .collect();
    Some(mlp_registry::Signature {
        inputs,
        outputs,
        tensors,
    })
}

/// `forward(x: float32[batch, 4], cat: int64[batch]) -> (score: float)`: the interface the
/// model block declares, as messages show it.
pub fn declared_forward(plan: &mlp_ir::Plan, model: &str) -> Option<String> {
    let block = plan.model_block(model)?;
    let (inputs, outputs, tensors) = (block.inputs, block.returned(), block.tensors);
    let args: Vec<String> = mlp_ir::input_tensors(inputs, tensors)
        .iter()
        .map(mlp_ir::TensorInput::signature)
        .collect();
    let outs: Vec<String> = outputs
        .iter()
        .map(|c| format!("{}: {}", c.name, c.type_text()))
        .collect();
    Some(format!(
        "forward({}) -> ({})",
        args.join(", "),
        outs.join(", ")
    ))
}

/// Loads `artifact` with the venv's PyTorch and checks it against model `model`'s block:
/// `forward` takes as many tensors as the block declares, and a batch of two rows of them
/// (zeros; the smallest valid id for an id tensor) of the declared dtypes and shapes answers
/// two rows with as many values as the block has outputs: one tensor, or a tuple of them
/// whose `[2]` and `[2, k]` elements give the outputs in order. A refusal shows the declared
/// signature and the artifact's own. A venv without torch skips the check.
pub fn check_with_torch(
    artifact: &Path,
    plan: &mlp_ir::Plan,
    model: &str,
    python: &Path,
) -> Result<(), String> {
    if !python.exists() {
        return Ok(());
    }
    let Some(block) = plan.model_block(model) else {
        return Err(format!("model `{model}` is not declared"));
    };
    let (inputs, outputs, tensors) = (block.inputs, block.returned(), block.tensors);
    let layout: Vec<serde_json::Value> = mlp_ir::input_tensors(inputs, tensors)
        .iter()
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "dtype": t.dtype.name(),
                "width": t.vector.then_some(t.inputs.len()),
                "fill": t.ids.map_or(0, |r| r.lo),
            })
        })
        .collect();
    let expected = declared_forward(plan, model).unwrap_or_default();
    const SCRIPT: &str = r#"
import json, sys
try:
    import torch
except ImportError:
    sys.exit(0)
path, layout, outs, expected = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
n_out = sum(w for _, w in outs)
try:
    m = torch.jit.load(path, map_location="cpu")
except Exception as e:
    print(f"torch.jit.load cannot read it: {e}".splitlines()[0]); sys.exit(3)
m.eval()
try:
    schema = m.forward.schema
    args = [a for a in schema.arguments[1:]]
    actual = "forward(" + ", ".join(f"{a.name}: {a.type}" for a in args) + ") -> " + ", ".join(str(r.type) for r in schema.returns)
    required = [a for a in args if not a.has_default_value()]
except Exception:
    args, required, actual = None, None, "forward(?)"
def refuse(why):
    print(f"{why}; the block declares {expected}, the artifact has {actual}"); sys.exit(3)
if args is not None and not (len(required) <= len(layout) <= len(args)):
    refuse(f"it takes {len(required)} tensors, the model block gives {len(layout)}")
dtypes = {"float32": torch.float32, "int64": torch.int64}
xs = []
for t in layout:
    shape = (2, t["width"]) if t["width"] is not None else (2,)
    xs.append(torch.full(shape, t["fill"], dtype=dtypes[t["dtype"]]))
try:
    with torch.no_grad():
        y = m(*xs)
except Exception as e:
    lines = [l for l in str(e).splitlines() if l.strip()]
    refuse(f"it fails on a batch of the declared tensors: {lines[-1] if lines else e}")
ys = list(y) if isinstance(y, (tuple, list)) else [y]
if not ys or not all(isinstance(t, torch.Tensor) for t in ys):
    refuse(f"it returns {type(y).__name__}, not a tensor or a tuple of tensors")
columns = 0
for t in ys:
    if t.dim() not in (1, 2) or t.shape[0] != 2:
        refuse(f"for a batch of 2 it returns shape {list(t.shape)}, not [2] or [2, k]")
    if t.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        refuse(f"it returns {t.dtype} values, not floats")
    columns += 1 if t.dim() == 1 else t.shape[1]
if columns != n_out:
    shapes = ", ".join(str(list(t.shape)) for t in ys)
    refuse(f"for a batch of 2 it returns {shapes}: {columns} values per row, not {n_out} (the block's outputs)")
if len(ys) > 1 and len(ys) == len(outs):
    for t, (name, w) in zip(ys, outs):
        got = 1 if t.dim() == 1 else t.shape[1]
        if got != w:
            refuse(f"its tuple gives {got} values per row where output `{name}` takes {w}")
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(artifact)
        .arg(serde_json::Value::Array(layout).to_string())
        .arg(
            serde_json::Value::Array(
                outputs
                    .iter()
                    .map(|c| serde_json::json!([c.name, c.cells()]))
                    .collect(),
            )
            .to_string(),
        )
        .arg(&expected)
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
