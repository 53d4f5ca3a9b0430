//! Deployments: each `deployment` of the plan with its model loaded from the registry
//! (warmed up before it counts as ready), its input assembly (online features, on-demand
//! features and request fields in the model block's order), an optional shadow model, and
//! alias moves picked up without a restart.

use crate::batcher::{BatchPolicy, Batcher, Loaded};
use crate::error::{LoadError, ServingError};
use crate::graph::{Graph, GraphModel};
use crate::lookup::Lookup;
use crate::model::{Backend, DeviceChoice, TensorData, TensorIn, TorchModel};
use mlp_ir::{Column, GraphNode, InputRef, LogPolicy, ModelRef, Plan, Spec, VersionSel};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Forwards run on a fresh model before it serves (the first ones are slow: JIT warm-up).
pub const WARM_UP: usize = 20;

/// A model reference as text (`fraud_scorer@production`).
pub fn ref_text(r: &ModelRef) -> String {
    match &r.version {
        VersionSel::Version(v) => format!("{}@{v}", r.model),
        VersionSel::Alias(a) => format!("{}@{a}", r.model),
    }
}

fn reference(r: &ModelRef) -> String {
    match &r.version {
        VersionSel::Version(v) => v.to_string(),
        VersionSel::Alias(a) => a.clone(),
    }
}

/// A deployment ready to answer.
pub struct Deployment {
    /// Its name.
    pub name: String,
    /// What a request supplies: the features and request fields the graph's models read.
    pub inputs: Vec<InputRef>,
    /// The outputs, in order.
    pub outputs: Vec<Column>,
    /// Its serving graph (one model, or a chain, route or combine of them).
    pub graph: Arc<Graph>,
    /// The shadow model, run on the same rows, logged, never returned.
    pub shadow: Option<Arc<Graph>>,
    /// What to log.
    pub log: LogPolicy,
    /// Where its models run.
    pub device: DeviceChoice,
    /// With `mode = lookup`: the precomputed answers.
    pub lookup: Option<Lookup>,
    /// The declared input tensors of its one model (see [`Deployment::input_tensors`]).
    pub tensors: Option<Vec<mlp_ir::TensorInput>>,
    /// The inputs its graph's and its shadow's int64 tensors read, which requests carry as
    /// exact integers too (computed once, at load).
    pub exact: std::collections::HashSet<String>,
}

impl Deployment {
    /// Every model this deployment serves, shadow last.
    pub fn models(&self) -> impl Iterator<Item = &GraphModel> {
        self.graph
            .models
            .iter()
            .chain(self.shadow.iter().flat_map(|s| s.models.iter()))
    }

    /// The input tensors of the one model it serves, when its graph is one model whose
    /// block names its tensors (`inputs { }`); `None` otherwise.
    pub fn input_tensors(&self) -> Option<&[mlp_ir::TensorInput]> {
        self.tensors.as_deref()
    }
}

/// The model block a graph of one model (directly, or through named deployments) serves.
fn graph_node_model<'p>(plan: &'p Plan, g: &'p GraphNode) -> Option<&'p Spec> {
    let mut g = g;
    for _ in 0..32 {
        match g {
            GraphNode::Model { model } => return plan.model(&model.model).map(|r| &r.spec),
            GraphNode::Deployment { name } => match plan.deployment(name).map(|r| &r.spec) {
                Some(Spec::Deployment { graph, .. }) => g = graph,
                _ => return None,
            },
            _ => return None,
        }
    }
    None
}

/// Loads `r` from the registry and warms it up.
pub fn load_model(
    project_dir: &Path,
    r: &ModelRef,
    plan: &Plan,
    device: DeviceChoice,
) -> Result<Loaded, LoadError> {
    let reg = mlp_registry::Registry::open(project_dir)?;
    let v = reg.resolve(&r.model, &reference(r))?;
    let Some(block) = plan.model_block(&r.model) else {
        return Err(LoadError::UndeclaredModel(r.model.clone()));
    };
    // What `forward` returns per row: the outputs that are not derived, side by side.
    let returned: usize = block.returned().iter().map(|c| c.cells()).sum();
    let model = TorchModel::load(&reg.artifact_path(&v), device)?;
    let tensors = mlp_ir::input_tensors(block.inputs, block.tensors);
    let layout: Vec<(mlp_ir::DType, Option<usize>)> = tensors
        .iter()
        .map(|t| (t.dtype, t.vector.then_some(t.inputs.len())))
        .collect();
    // One row of zeros (the smallest valid id for an id tensor).
    let row: Vec<TensorIn> = tensors
        .iter()
        .map(|t| {
            let k = if t.vector { t.inputs.len() } else { 1 };
            TensorIn {
                data: match t.dtype {
                    mlp_ir::DType::Float32 => TensorData::F32(vec![0.0; k]),
                    mlp_ir::DType::Int64 => TensorData::I64(vec![t.ids.map_or(0, |r| r.lo); k]),
                },
                width: t.vector.then_some(t.inputs.len()),
            }
        })
        .collect();
    for _ in 0..WARM_UP {
        let out = model.forward(&row, 1).map_err(LoadError::WarmUp)?;
        if out.len() != returned {
            return Err(LoadError::OutputCount {
                version: format!("{}@{}", r.model, v.version),
                got: out.len(),
                declared: returned,
            });
        }
    }
    Ok(Loaded {
        model: Box::new(model),
        version: format!("{}@{}", r.model, v.version),
        layout,
        outputs: returned,
    })
}

/// Loads deployment `name` of `plan`; the error says why it cannot serve.
pub fn load(project_dir: &Path, plan: &Plan, name: &str) -> Result<Deployment, LoadError> {
    let Some(Spec::Deployment {
        graph,
        outputs,
        log,
        shadow,
        batching,
        device,
        mode,
        resources,
        ..
    }) = plan.deployment(name).map(|r| &r.spec)
    else {
        return Err(LoadError::UnknownDeployment(name.to_string()));
    };
    let graph_spec = graph;
    let device = DeviceChoice::parse(device);
    let policy = BatchPolicy {
        max_batch: batching.as_ref().map_or(1, |b| b.max_batch.max(1) as usize),
        max_delay: batching.as_ref().map_or(Duration::ZERO, |b| {
            Duration::from_secs_f64(b.max_delay_ms / 1000.0)
        }),
        queue: 4096,
        threads: resources
            .as_ref()
            .and_then(|r| r.threads)
            .map_or(1, |t| t.max(1) as usize),
        intra_op_threads: resources
            .as_ref()
            .and_then(|r| r.intra_op_threads)
            .map(|t| t as usize),
    };
    let mut load = |r: &ModelRef| -> Result<Batcher, LoadError> {
        let loaded = load_model(project_dir, r, plan, device).map_err(|e| LoadError::Model {
            reference: ref_text(r),
            source: Box::new(e),
        })?;
        Batcher::start(&format!("{name}-{}", r.model), loaded, policy)
    };
    let graph = Graph::build(plan, graph, &mut load)?;
    let shadow = match shadow {
        Some(s) => Some(
            Graph::build(plan, &GraphNode::Model { model: s.clone() }, &mut load)
                .map_err(|e| LoadError::Shadow(Box::new(e)))?,
        ),
        None => None,
    };
    if graph.outputs != *outputs {
        let text = |c: &[mlp_ir::Column]| {
            c.iter()
                .map(|c| format!("{}: {}", c.name, c.type_text()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(LoadError::Graph(format!(
            "the graph returns ({}); the deployment declares ({})",
            text(&graph.outputs),
            text(outputs)
        )));
    }
    let lookup = match mode.as_str() {
        "lookup" => Some(crate::lookup::plan_lookup(plan, &graph.inputs)?),
        _ => None,
    };
    let tensors = match graph_node_model(plan, graph_spec) {
        Some(Spec::Model { tensors, .. }) if !tensors.is_empty() => Some(tensors.clone()),
        _ => None,
    };
    let mut exact = graph.exact.clone();
    if let Some(s) = &shadow {
        exact.extend(s.exact.iter().cloned());
    }
    Ok(Deployment {
        tensors,
        exact,
        name: name.to_string(),
        inputs: graph.inputs.clone(),
        outputs: outputs.clone(),
        graph: Arc::new(graph),
        shadow: shadow.map(Arc::new),
        log: log.clone(),
        device,
        lookup,
    })
}

/// The name an input has in requests, responses and logs (`user_stats.avg_amount_7d`).
pub fn input_name(i: &InputRef) -> String {
    match i {
        InputRef::Feature { view, feature } => format!("{view}.{feature}"),
        InputRef::Request { request, field } => format!("{request}.{field}"),
        InputRef::ModelOutput { model, output } => format!("{model}.{output}"),
    }
}

/// A JSON value as a model input: numbers as they are, booleans as 1 and 0, a missing
/// value (nothing visible online, a null field) as 0, as `train.py` fills them.
pub fn as_input(v: &Value) -> Result<f32, ServingError> {
    match v {
        Value::Null => Ok(0.0),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().map(|f| f as f32).ok_or_else(|| {
            ServingError::BadRequest(format!("{n} is not a number a model can take"))
        }),
        other => Err(ServingError::BadRequest(format!(
            "{other} is not a number or a boolean"
        ))),
    }
}

/// A JSON value as an int64 model input, exactly: integers as they are (any of 64 bits),
/// booleans as 1 and 0, a number with no fraction as that integer, null as `None` (the
/// tensor's missing-id rule decides); anything else is a 400.
pub fn as_id(v: &Value) -> Result<Option<i64>, ServingError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(i64::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(Some(i));
            }
            match n.as_f64() {
                // Within ±2^53 a double is an exact integer; past it, the id is ambiguous.
                Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                    Ok(Some(f as i64))
                }
                _ => Err(ServingError::BadRequest(format!(
                    "{n} is not an id: an int64 input takes integers (up to 64 bits)"
                ))),
            }
        }
        other => Err(ServingError::BadRequest(format!(
            "{other} is not an id: an int64 input takes integers"
        ))),
    }
}

/// Points every served model that follows an alias (or `latest`) at the version the alias
/// names now: a new version is loaded and warmed up beside the old one, then swapped in;
/// requests in flight finish on the version they started with. Returns the swaps made.
pub fn follow_aliases(
    project_dir: &Path,
    plan: &Plan,
    deployments: &BTreeMap<String, Arc<Deployment>>,
) -> Vec<String> {
    let mut swaps = Vec::new();
    let Ok(reg) = mlp_registry::Registry::open(project_dir) else {
        return swaps;
    };
    for d in deployments.values() {
        for served in d.models() {
            if matches!(served.reference.version, VersionSel::Version(_)) {
                continue;
            }
            let Ok(v) = reg.resolve(&served.reference.model, &reference(&served.reference)) else {
                continue;
            };
            let now = format!("{}@{}", served.reference.model, v.version);
            if served.batcher.version() == now {
                continue;
            }
            match load_model(project_dir, &served.reference, plan, d.device) {
                Ok(loaded) => {
                    if let Ok(mut cur) = served.batcher.current.write() {
                        *cur = std::sync::Arc::new(loaded);
                        swaps.push(format!(
                            "{}: {} -> {now}",
                            d.name,
                            ref_text(&served.reference)
                        ));
                    }
                }
                Err(e) => eprintln!("serve: {}: cannot load {now}: {e}", d.name),
            }
        }
    }
    swaps
}
