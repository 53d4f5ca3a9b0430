//! Composition graphs at serving time: a deployment's `chain`, `route` and `combine` nodes
//! (and other deployments' graphs, inlined) over models that each run on their own batcher.
//! A request's rows flow through the graph as named columns: the graph's inputs (features
//! and request fields) and, once a model has run, its outputs as `model.output`, which later
//! models of a chain read. A model that several nodes name (a route's router that is also a
//! branch member, say) runs once per row.

use crate::batcher::Batcher;
use crate::deployment::{as_id, as_input, input_name, ref_text};
use crate::error::{LoadError, ServingError};
use crate::model::{TensorData, TensorIn};
pub use crate::rows::{combine, Method};
use crate::rows::{condition, expand_rows};
use mlp_ir::{Column, DType, GraphNode, IdRange, InputRef, IrExpr, ModelRef, Plan, Spec};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

/// Deployments nested deeper than this are refused (the checker already rejects cycles).
const MAX_DEPTH: usize = 32;

/// One distinct model of a graph, with the batcher that runs it.
pub struct GraphModel {
    /// What the graph names (`fraud_scorer@production`).
    pub reference: ModelRef,
    /// Its inference queue.
    pub batcher: Batcher,
    /// Its input tensors, in `forward`'s order.
    tensors: Vec<GraphTensor>,
    /// Its outputs, in order: a row of them is [`mlp_ir::row_width`] values.
    outputs: Vec<Column>,
    /// Where each value `forward` returns goes in a row of `outputs`, in order.
    returned: Vec<usize>,
    /// The derived outputs: where each goes in a row and what computes it.
    derived: Vec<(usize, IrExpr)>,
    /// The columns its one-value outputs become for later models (`model.output`), with
    /// their place in a row.
    output_cols: Vec<(String, usize)>,
}

impl GraphModel {
    /// The values a row of its outputs takes.
    fn width(&self) -> usize {
        mlp_ir::row_width(&self.outputs).max(1)
    }

    /// `forward`'s answer for `n` rows as rows of all its outputs: the returned values in
    /// their places and the derived ones computed from them.
    fn expand(&self, raw: Vec<f32>, n: usize) -> Vec<f32> {
        expand_rows(&self.outputs, &self.returned, &self.derived, raw, n)
    }
}

/// One input tensor of a graph's model: the columns it reads and how.
struct GraphTensor {
    /// Its name in the model block (for errors).
    name: String,
    /// Its element type.
    dtype: DType,
    /// The input columns it holds, in order (`view.feature`).
    cols: Vec<String>,
    /// `[n, k]`, else `[n]`.
    vector: bool,
    /// The valid ids of an int64 tensor.
    ids: Option<IdRange>,
}

enum Node {
    Model(usize),
    Chain(Vec<Node>),
    Route {
        by: Box<Node>,
        by_outputs: Vec<Column>,
        /// The values a row of `by_outputs` takes.
        by_width: usize,
        when: IrExpr,
        then: Box<Node>,
        otherwise: Box<Node>,
    },
    Combine {
        method: Method,
        members: Vec<Node>,
        weights: Vec<f64>,
    },
}

/// A deployment's serving graph with its models loaded.
pub struct Graph {
    root: Node,
    /// The distinct models, in the order the graph first names them.
    pub models: Vec<GraphModel>,
    /// What a request must supply: every model's feature and request-field inputs, in order
    /// of first use (outputs of earlier models are not among them).
    pub inputs: Vec<InputRef>,
    /// The graph's outputs, in order.
    pub outputs: Vec<Column>,
    /// The inputs an int64 tensor reads: a request carries them as exact integers too.
    pub exact: HashSet<String>,
}

/// A request's rows as named columns (`view.feature`, `request.field`), one value per row.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Rows.
    pub n: usize,
    /// Columns by input name, each `n` long, as float32 model inputs.
    pub cols: HashMap<String, Vec<f32>>,
    /// The columns int64 tensors read, as exact integers (`None`: null), each `n` long.
    pub ids: HashMap<String, Vec<Option<i64>>>,
    /// The number of the first row among all (a slice's), for messages that name a row.
    pub offset: usize,
}

impl Env {
    /// Rows `start..end` of it.
    pub fn slice(&self, start: usize, end: usize) -> Env {
        Env {
            n: end - start,
            offset: self.offset + start,
            cols: self
                .cols
                .iter()
                .map(|(k, c)| (k.clone(), c[start..end].to_vec()))
                .collect(),
            ids: self
                .ids
                .iter()
                .map(|(k, c)| (k.clone(), c[start..end].to_vec()))
                .collect(),
        }
    }

    /// `n` rows of the columns `cols` (JSON values by input name; a short column is padded
    /// with nulls): each as float32 inputs, and those named in `exact` also as exact
    /// integers. A value that is neither is an error naming the input.
    pub fn from_json(
        n: usize,
        cols: &[(String, &[Value])],
        exact: &HashSet<String>,
    ) -> Result<Env, ServingError> {
        let mut env = Env {
            n,
            cols: HashMap::with_capacity(cols.len()),
            ids: HashMap::new(),
            offset: 0,
        };
        let bad =
            |name: &str, e: ServingError| ServingError::BadRequest(format!("input `{name}`: {e}"));
        for (name, col) in cols {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                let v = col.get(i).unwrap_or(&Value::Null);
                values.push(as_input(v).map_err(|e| bad(name, e))?);
            }
            env.cols.insert(name.clone(), values);
            if exact.contains(name) {
                let mut ids = Vec::with_capacity(n);
                for i in 0..n {
                    let v = col.get(i).unwrap_or(&Value::Null);
                    ids.push(as_id(v).map_err(|e| bad(name, e))?);
                }
                env.ids.insert(name.clone(), ids);
            }
        }
        Ok(env)
    }
}

/// What the graph answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Row-major, `n * outputs.len()` values.
    pub outputs: Vec<f32>,
    /// Every model version that ran, in order of first use.
    pub versions: Vec<String>,
}

/// A model block's inputs, outputs, declared tensors and derived outputs.
struct Builder<'p, 'l> {
    plan: &'p Plan,
    load: &'l mut dyn FnMut(&ModelRef) -> Result<Batcher, LoadError>,
    models: Vec<GraphModel>,
    inputs: Vec<InputRef>,
    exact: HashSet<String>,
}

impl Builder<'_, '_> {
    /// The node for `g`, with its outputs.
    fn node(&mut self, g: &GraphNode, depth: usize) -> Result<(Node, Vec<Column>), LoadError> {
        if depth > MAX_DEPTH {
            return Err(LoadError::Graph(format!(
                "deployments nest more than {MAX_DEPTH} deep (is there a cycle?)"
            )));
        }
        match g {
            GraphNode::Model { model } => self.model_node(model),
            GraphNode::Deployment { name } => match self.plan.deployment(name).map(|r| &r.spec) {
                Some(Spec::Deployment { graph, .. }) => self.node(graph, depth + 1),
                _ => Err(LoadError::UnknownDeployment(name.clone())),
            },
            GraphNode::Chain { steps } => {
                let mut nodes = Vec::with_capacity(steps.len());
                let mut outputs = Vec::new();
                for s in steps {
                    let (n, o) = self.node(s, depth + 1)?;
                    nodes.push(n);
                    outputs = o;
                }
                Ok((Node::Chain(nodes), outputs))
            }
            GraphNode::Route {
                by,
                when,
                then,
                otherwise,
            } => {
                let (by, by_outputs) = self.node(by, depth + 1)?;
                let (then, outputs) = self.node(then, depth + 1)?;
                let (otherwise, other) = self.node(otherwise, depth + 1)?;
                if other != outputs {
                    return Err(LoadError::Graph(
                        "the branches of a route return different outputs".into(),
                    ));
                }
                Ok((
                    Node::Route {
                        by: Box::new(by),
                        by_width: mlp_ir::row_width(&by_outputs).max(1),
                        by_outputs,
                        when: when.clone(),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                    outputs,
                ))
            }
            GraphNode::Combine {
                method,
                members,
                weights,
            } => self.combine_node(method, members, weights, depth),
        }
    }

    /// A model's node: loaded once however often the graph names it, with its tensors, the
    /// cells its `forward` returns and its derived outputs.
    fn model_node(&mut self, model: &ModelRef) -> Result<(Node, Vec<Column>), LoadError> {
        let key = ref_text(model);
        let block = self
            .plan
            .model_block(&model.model)
            .ok_or_else(|| LoadError::UndeclaredModel(model.model.clone()))?;
        let (inputs, outputs, tensors, derived) =
            (block.inputs, block.outputs, block.tensors, block.derived);
        if let Some(i) = self
            .models
            .iter()
            .position(|m| ref_text(&m.reference) == key)
        {
            return Ok((Node::Model(i), outputs.to_vec()));
        }
        for i in inputs {
            if !matches!(i, InputRef::ModelOutput { .. }) && !self.inputs.contains(i) {
                self.inputs.push(i.clone());
            }
        }
        let batcher = (self.load)(model)?;
        let tensors: Vec<GraphTensor> = mlp_ir::input_tensors(inputs, tensors)
            .into_iter()
            .map(|t| GraphTensor {
                cols: t.inputs.iter().map(input_name).collect(),
                name: t.name,
                dtype: t.dtype,
                vector: t.vector,
                ids: t.ids,
            })
            .collect();
        for t in tensors.iter().filter(|t| t.dtype == DType::Int64) {
            self.exact.extend(t.cols.iter().cloned());
        }
        let place = |c: &Column| mlp_ir::cell_of(outputs, &c.name, c.width.map(|_| 0)).unwrap_or(0);
        let returned = mlp_ir::returned_outputs(outputs, derived)
            .into_iter()
            .flat_map(|c| (0..c.cells()).map(move |j| place(c) + j))
            .collect();
        let derived = outputs
            .iter()
            .filter_map(|c| Some((place(c), derived.get(&c.name)?.clone())))
            .collect();
        let output_cols = outputs
            .iter()
            .filter(|c| c.width.is_none())
            .map(|c| (format!("{}.{}", model.model, c.name), place(c)))
            .collect();
        self.models.push(GraphModel {
            reference: model.clone(),
            batcher,
            tensors,
            outputs: outputs.to_vec(),
            returned,
            derived,
            output_cols,
        });
        Ok((Node::Model(self.models.len() - 1), outputs.to_vec()))
    }

    /// `combine(method, members, weights)`: the members must return the same outputs, and a
    /// weighted combination takes one weight per member.
    fn combine_node(
        &mut self,
        method: &str,
        members: &[GraphNode],
        weights: &[f64],
        depth: usize,
    ) -> Result<(Node, Vec<Column>), LoadError> {
        let method = Method::parse(method)?;
        let mut nodes = Vec::with_capacity(members.len());
        let mut outputs: Option<Vec<Column>> = None;
        for m in members {
            let (n, o) = self.node(m, depth + 1)?;
            if outputs.as_ref().is_some_and(|x| *x != o) {
                return Err(LoadError::Graph(
                    "combined models return different outputs".into(),
                ));
            }
            outputs.get_or_insert(o);
            nodes.push(n);
        }
        if method == Method::Weighted && weights.len() != nodes.len() {
            return Err(LoadError::Graph(format!(
                "{} weights for {} models",
                weights.len(),
                nodes.len()
            )));
        }
        Ok((
            Node::Combine {
                method,
                members: nodes,
                weights: weights.to_vec(),
            },
            outputs.unwrap_or_default(),
        ))
    }
}

/// Per-request evaluation state: the columns so far and each model's answers by row.
struct Run {
    cols: HashMap<String, Vec<f32>>,
    ids: HashMap<String, Vec<Option<i64>>>,
    /// The first row's number among all (see [`Env::offset`]).
    offset: usize,
    /// Per model: its outputs for all `n` rows (row-major) and which rows are filled.
    memo: Vec<Option<(Vec<f32>, Vec<bool>)>>,
    versions: Vec<String>,
    n: usize,
}

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<Vec<f32>, ServingError>> + Send + 'a>>;

impl Graph {
    /// Builds the graph of `g`, loading each distinct model once through `load`.
    pub fn build(
        plan: &Plan,
        g: &GraphNode,
        load: &mut dyn FnMut(&ModelRef) -> Result<Batcher, LoadError>,
    ) -> Result<Graph, LoadError> {
        let mut b = Builder {
            plan,
            load,
            models: Vec::new(),
            inputs: Vec::new(),
            exact: HashSet::new(),
        };
        let (root, outputs) = b.node(g, 0)?;
        Ok(Graph {
            root,
            models: b.models,
            inputs: b.inputs,
            outputs,
            exact: b.exact,
        })
    }

    /// Runs the graph over `env`'s rows.
    pub async fn run(&self, env: Env) -> Result<Outcome, ServingError> {
        let mut run = Run {
            cols: env.cols,
            ids: env.ids,
            offset: env.offset,
            memo: self.models.iter().map(|_| None).collect(),
            versions: Vec::new(),
            n: env.n,
        };
        let rows: Vec<usize> = (0..env.n).collect();
        let outputs = self.eval(&self.root, rows, &mut run).await?;
        Ok(Outcome {
            outputs,
            versions: run.versions,
        })
    }

    /// The versions in service now, one per distinct model.
    pub fn versions(&self) -> Vec<String> {
        self.models.iter().map(|m| m.batcher.version()).collect()
    }

    fn eval<'a>(&'a self, node: &'a Node, rows: Vec<usize>, run: &'a mut Run) -> Boxed<'a> {
        Box::pin(async move {
            match node {
                Node::Model(m) => {
                    if let Some(out) = self.remembered(*m, &rows, run) {
                        return Ok(out);
                    }
                    let input = self.gather(*m, &rows, run)?;
                    let answer = self.models[*m].batcher.infer(input, rows.len()).await?;
                    Ok(self.remember(*m, &rows, answer, run))
                }
                Node::Chain(steps) => {
                    let mut out = Vec::new();
                    for s in steps {
                        out = self.eval(s, rows.clone(), run).await?;
                    }
                    Ok(out)
                }
                Node::Route {
                    by,
                    by_outputs,
                    by_width,
                    when,
                    then,
                    otherwise,
                } => {
                    let routed = self.eval(by, rows.clone(), run).await?;
                    let kb = *by_width;
                    let mut yes = Vec::new();
                    let mut no = Vec::new();
                    for (i, &row) in rows.iter().enumerate() {
                        if condition(when, by_outputs, &routed[i * kb..(i + 1) * kb]) {
                            yes.push(row);
                        } else {
                            no.push(row);
                        }
                    }
                    let a = if yes.is_empty() {
                        Vec::new()
                    } else {
                        self.eval(then, yes.clone(), run).await?
                    };
                    let b = if no.is_empty() {
                        Vec::new()
                    } else {
                        self.eval(otherwise, no.clone(), run).await?
                    };
                    // Back into the rows' order.
                    let k = if yes.is_empty() {
                        b.len() / no.len().max(1)
                    } else {
                        a.len() / yes.len()
                    };
                    let mut out = Vec::with_capacity(rows.len() * k);
                    let (mut ia, mut ib) = (0, 0);
                    for row in &rows {
                        if yes.get(ia) == Some(row) {
                            out.extend_from_slice(&a[ia * k..(ia + 1) * k]);
                            ia += 1;
                        } else {
                            out.extend_from_slice(&b[ib * k..(ib + 1) * k]);
                            ib += 1;
                        }
                    }
                    Ok(out)
                }
                Node::Combine {
                    method,
                    members,
                    weights,
                } => {
                    // Members that are plain models go to their batchers at once, so that
                    // their inference threads work side by side.
                    let mut pending = Vec::with_capacity(members.len());
                    for member in members {
                        pending.push(match member {
                            Node::Model(m) if self.remembered(*m, &rows, run).is_none() => {
                                let input = self.gather(*m, &rows, run)?;
                                let batcher = self.models[*m].batcher.clone();
                                let n = rows.len();
                                Some(tokio::spawn(async move { batcher.infer(input, n).await }))
                            }
                            _ => None,
                        });
                    }
                    let mut results = Vec::with_capacity(members.len());
                    for (member, task) in members.iter().zip(pending) {
                        results.push(match (member, task) {
                            (Node::Model(m), Some(task)) => {
                                let answer = task.await.map_err(|e| {
                                    ServingError::Model(format!("inference task failed: {e}"))
                                })??;
                                self.remember(*m, &rows, answer, run)
                            }
                            _ => self.eval(member, rows.clone(), run).await?,
                        });
                    }
                    combine(*method, weights, &results)
                }
            }
        })
    }

    /// `m`'s outputs for `rows` if it already ran on all of them.
    fn remembered(&self, m: usize, rows: &[usize], run: &Run) -> Option<Vec<f32>> {
        let (out, filled) = run.memo.get(m)?.as_ref()?;
        if !rows.iter().all(|&r| filled[r]) {
            return None;
        }
        let k = self.models[m].width();
        let mut got = Vec::with_capacity(rows.len() * k);
        for &r in rows {
            got.extend_from_slice(&out[r * k..(r + 1) * k]);
        }
        Some(got)
    }

    /// Model `m`'s input tensors for `rows`, each row-major; an id outside its tensor's
    /// range is a 400 naming the tensor, the input and the row.
    fn gather(&self, m: usize, rows: &[usize], run: &Run) -> Result<Vec<TensorIn>, ServingError> {
        let model = &self.models[m];
        let missing = |name: &str| {
            ServingError::Graph(format!(
                "{} reads `{name}`, which nothing before it in the graph produces",
                ref_text(&model.reference)
            ))
        };
        let mut out = Vec::with_capacity(model.tensors.len());
        for t in &model.tensors {
            let k = t.cols.len();
            let width = t.vector.then_some(k);
            let data = match t.dtype {
                DType::Float32 => {
                    let cols = t
                        .cols
                        .iter()
                        .map(|name| run.cols.get(name).ok_or_else(|| missing(name)))
                        .collect::<Result<Vec<_>, ServingError>>()?;
                    let mut input = Vec::with_capacity(rows.len() * k);
                    for &r in rows {
                        for c in &cols {
                            input.push(c[r]);
                        }
                    }
                    TensorData::F32(input)
                }
                DType::Int64 => {
                    let mut input = Vec::with_capacity(rows.len() * k);
                    for &r in rows {
                        for name in &t.cols {
                            let v = match run.ids.get(name) {
                                Some(c) => c[r],
                                // An earlier model's output: a float, rounded.
                                None => {
                                    let c = run.cols.get(name).ok_or_else(|| missing(name))?;
                                    c[r].is_finite().then(|| c[r].round() as i64)
                                }
                            };
                            input.push(checked_id(t, name, run.offset + r, v)?);
                        }
                    }
                    TensorData::I64(input)
                }
            };
            out.push(TensorIn { data, width });
        }
        Ok(out)
    }

    /// Records `m`'s answer for `rows` (as `forward` returned it): as rows of all its
    /// outputs in its memo, as `model.output` columns for later models, and its version;
    /// returns the rows.
    fn remember(
        &self,
        m: usize,
        rows: &[usize],
        (raw, version): (Vec<f32>, String),
        run: &mut Run,
    ) -> Vec<f32> {
        let model = &self.models[m];
        let out = model.expand(raw, rows.len());
        let k = model.width();
        let n = run.n;
        let (memo, filled) = run.memo[m].get_or_insert_with(|| (vec![0.0; n * k], vec![false; n]));
        for (i, &r) in rows.iter().enumerate() {
            memo[r * k..(r + 1) * k].copy_from_slice(&out[i * k..(i + 1) * k]);
            filled[r] = true;
        }
        for (name, j) in &model.output_cols {
            let col = match run.cols.get_mut(name) {
                Some(c) => c,
                None => run.cols.entry(name.clone()).or_insert_with(|| vec![0.0; n]),
            };
            for (i, &r) in rows.iter().enumerate() {
                col[r] = out[i * k + j];
            }
        }
        if !run.versions.contains(&version) {
            run.versions.push(version);
        }
        out
    }
}

/// Input `name`'s id `v` at request row `row` for tensor `t`, checked against its range: a
/// negative or missing id becomes the declared default or is refused; one past the range is
/// refused. Without a range, any id passes and a missing one is refused.
fn checked_id(
    t: &GraphTensor,
    name: &str,
    row: usize,
    v: Option<i64>,
) -> Result<i64, ServingError> {
    let refuse = |why: String| {
        ServingError::BadRequest(format!(
            "input tensor `{}`, input `{name}`, row {row}: {why}",
            t.name
        ))
    };
    let Some(r) = t.ids else {
        return v.ok_or_else(|| {
            refuse("no id (null); declare `in LO..HI else D` to map a missing id to D".into())
        });
    };
    match v {
        None | Some(i64::MIN..=-1) => match r.default {
            Some(d) => Ok(d),
            None => Err(refuse(match v {
                Some(x) => format!("id {x} is negative; valid ids are {}..{}", r.lo, r.hi),
                None => format!("no id (null); valid ids are {}..{}", r.lo, r.hi),
            })),
        },
        Some(x) if x < r.lo || x >= r.hi => Err(refuse(format!(
            "id {x} is outside {}..{} (the model's table has no row for it)",
            r.lo, r.hi
        ))),
        Some(x) => Ok(x),
    }
}
