//! The typed definition of each kind of resource in the plan IR.

use crate::IrExpr;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Value types of features, fields and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Type {
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// UTF-8 text.
    String,
    /// Instant in time (UTC).
    Timestamp,
}

impl Type {
    /// The type's name in the language.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::String => "string",
            Type::Timestamp => "timestamp",
        }
    }
}

/// A named, typed column (entity keys, request fields, model outputs, source schemas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Type (of each element, for a vector).
    #[serde(rename = "type")]
    pub ty: Type,
    /// `Some(k)`: a vector of `k` floats per row (a model output `probs: float32[3]`);
    /// `None`: one value per row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

impl Column {
    /// A column of one value per row.
    pub fn scalar(name: impl Into<String>, ty: Type) -> Column {
        Column {
            name: name.into(),
            ty,
            width: None,
        }
    }

    /// The values it takes in a row: its width, or 1.
    pub fn cells(&self) -> usize {
        self.width.map_or(1, |k| k as usize)
    }

    /// Its type as written: `float`, or `float32[3]` for a vector.
    pub fn type_text(&self) -> String {
        match self.width {
            Some(k) => format!("float32[{k}]"),
            None => self.ty.name().to_string(),
        }
    }
}

/// The values a row of `cols` takes side by side (vectors count their width).
pub fn row_width(cols: &[Column]) -> usize {
    cols.iter().map(Column::cells).sum()
}

/// The outputs a model's `forward` returns, in order: all but the `derived` ones.
pub fn returned_outputs<'a>(
    outputs: &'a [Column],
    derived: &BTreeMap<String, IrExpr>,
) -> Vec<&'a Column> {
    outputs
        .iter()
        .filter(|c| !derived.contains_key(&c.name))
        .collect()
}

/// Where output `name` (element `index` of a vector) sits in a row of `cols`; `None` when
/// there is no such output or element, or when a vector is read without an index.
pub fn cell_of(cols: &[Column], name: &str, index: Option<u32>) -> Option<usize> {
    let mut at = 0;
    for c in cols {
        if c.name == name {
            return match (c.width, index) {
                (None, None) => Some(at),
                (Some(k), Some(i)) if i < k => Some(at + i as usize),
                _ => None,
            };
        }
        at += c.cells();
    }
    None
}

/// A store backend with its arguments (`duckdb("x.duckdb")`, `memory(capacity = 10)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Backend {
    /// Backend name from the stdlib's stores.
    pub kind: String,
    /// Arguments by parameter name.
    pub args: BTreeMap<String, crate::Literal>,
}

/// File format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header.
    Csv,
}

/// How a feature is computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureDef {
    /// A source column as is.
    Column {
        /// The column.
        column: String,
    },
    /// A row-level expression over source columns.
    Expr {
        /// The expression.
        expr: IrExpr,
    },
    /// An aggregation over a time window (unbounded, or the view's TTL, when `window_ms` is null).
    Aggregate {
        /// The expression, containing aggregation calls.
        expr: IrExpr,
        /// Window length in milliseconds.
        window_ms: Option<u64>,
    },
    /// An on-demand expression over request fields and other features.
    OnDemand {
        /// The expression.
        expr: IrExpr,
    },
}

/// A model input or monitored value: a feature or a request field.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputRef {
    /// `view.feature`.
    Feature {
        /// View.
        view: String,
        /// Feature.
        feature: String,
    },
    /// `request.field`.
    Request {
        /// Request block.
        request: String,
        /// Field.
        field: String,
    },
    /// `model.output` of an earlier model in a chain.
    ModelOutput {
        /// Model.
        model: String,
        /// Output.
        output: String,
    },
}

/// Which version of a model: a number or an alias (`latest` included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionSel {
    /// Version number.
    Version(u64),
    /// Alias name.
    Alias(String),
}

/// `model@version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRef {
    /// Model name.
    pub model: String,
    /// Version selector.
    pub version: VersionSel,
}

/// A node of a deployment's serving graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum GraphNode {
    /// One model.
    Model {
        /// Which.
        model: ModelRef,
    },
    /// The graph of another deployment.
    Deployment {
        /// Its name.
        name: String,
    },
    /// Each node's outputs feed the next one's inputs.
    Chain {
        /// In order.
        steps: Vec<GraphNode>,
    },
    /// `by`'s outputs decide: `then` when the condition holds, else `otherwise`.
    Route {
        /// The router.
        by: Box<GraphNode>,
        /// Condition over the router's outputs.
        when: IrExpr,
        /// Branch taken when true.
        then: Box<GraphNode>,
        /// Branch taken when false.
        otherwise: Box<GraphNode>,
    },
    /// Ensemble of nodes with equal outputs.
    Combine {
        /// Combiner name (`mean`, `max`, `min`, `weighted`, `vote`).
        method: String,
        /// Members.
        members: Vec<GraphNode>,
        /// Weights for `weighted`.
        weights: Vec<f64>,
    },
}

impl GraphNode {
    /// The nodes directly under this one, in order (none for a model or a named
    /// deployment, whose graph is in its own resource).
    pub fn children(&self) -> Vec<&GraphNode> {
        match self {
            GraphNode::Model { .. } | GraphNode::Deployment { .. } => Vec::new(),
            GraphNode::Chain { steps } => steps.iter().collect(),
            GraphNode::Route {
                by,
                then,
                otherwise,
                ..
            } => vec![by.as_ref(), then.as_ref(), otherwise.as_ref()],
            GraphNode::Combine { members, .. } => members.iter().collect(),
        }
    }
}

/// Service-level objectives of a deployment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Sla {
    /// Latency objectives by percentile name (`p99`) in milliseconds.
    pub latency_ms: BTreeMap<String, f64>,
    /// Requests per second to sustain.
    pub throughput_per_s: Option<f64>,
    /// Largest acceptable share of failed requests.
    pub error_rate: Option<f64>,
}

/// Prediction logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LogPolicy {
    /// Every request.
    All,
    /// None.
    None,
    /// A share of requests.
    Sample {
        /// Fraction in (0, 1].
        fraction: f64,
    },
}

/// Dynamic batching settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Batching {
    /// Largest batch.
    pub max_batch: u64,
    /// Longest wait for a batch to fill, in ms.
    pub max_delay_ms: f64,
}

/// What one replica of a deployment's server gets and runs with (`resources { }`): the CPU
/// and memory a Kubernetes pod requests (request = limit, `mlpc k8s` and `mlpc suggest
/// --k8s`), and the threads `mlpc serve` runs the deployment with. `mlpc suggest --write`
/// fills it in from measurements.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    /// CPU cores per replica (request = limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Memory per replica in bytes (request = limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// HTTP worker threads of the server (`mlpc serve` takes the largest over its
    /// deployments unless `--workers` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
    /// Inference threads of this deployment: each takes a whole batch off the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    /// libtorch intra-op threads of each inference thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intra_op_threads: Option<u64>,
}

/// A pipeline step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// Name.
    pub name: String,
    /// Steps it runs after.
    pub after: Vec<String>,
    /// What it does.
    pub action: StepAction,
    /// Declared code files hashed into the cache key.
    pub code: Vec<String>,
    /// Model whose new version it registers.
    pub registers: Option<String>,
    /// Retries (overrides the pipeline's).
    pub retries: Option<u64>,
    /// Timeout in ms.
    pub timeout_ms: Option<u64>,
    /// Working directory relative to the project.
    pub workdir: Option<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// The Python environment its command runs in (its own, else the pipeline's); `None`:
    /// the project's venv (`MLP_VENV`, else the nearest `.venv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PythonEnv>,
}

/// The Python environment of a `run` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PythonEnv {
    /// `requirements("requirements.txt")`: a venv mlp builds with pip from the file (relative
    /// to the project), cached by the file's content and the interpreter's version.
    Requirements {
        /// The requirements file.
        path: String,
    },
    /// `venv("path")`: an existing venv (relative to the project, or absolute).
    Venv {
        /// Its folder.
        path: String,
    },
}

impl PythonEnv {
    /// As written in a spec: `requirements("requirements.txt")`.
    pub fn text(&self) -> String {
        match self {
            PythonEnv::Requirements { path } => format!("requirements({path:?})"),
            PythonEnv::Venv { path } => format!("venv({path:?})"),
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepAction {
    /// A shell command with `${...}` placeholders left for the runner.
    Run {
        /// The command template.
        command: String,
    },
    /// Point-in-time training set.
    TrainingSet {
        /// Entity/label file.
        labels: String,
        /// Features.
        features: Vec<InputRef>,
        /// Timestamp column of the label file.
        at: String,
    },
    /// Materialization of views into the online store.
    Materialize {
        /// Views.
        views: Vec<String>,
    },
    /// Quality gate.
    Gate {
        /// Conditions over earlier steps' metrics (`train.metrics.auc >= 0.8`).
        require: Vec<GateCondition>,
        /// Promotion when all hold.
        promote: Option<Promotion>,
    },
}

/// `require step.metrics.NAME OP VALUE`, kept as text and as a tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateCondition {
    /// As written.
    pub text: String,
    /// Resolved.
    pub expr: IrExpr,
}

/// `promote = model -> alias`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Promotion {
    /// Model.
    pub model: String,
    /// Alias.
    pub alias: String,
}

/// A monitor check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// As written.
    pub text: String,
    /// Resolved.
    pub expr: IrExpr,
}

/// What a monitor compares against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Baseline {
    /// The training set of the served model version.
    Training,
    /// The preceding window of this length.
    Previous {
        /// Length in ms.
        window_ms: u64,
    },
    /// A reference file.
    File {
        /// Path.
        path: String,
    },
}

fn one() -> u64 {
    1
}

/// The typed definition of one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Spec {
    /// Project settings.
    Project {
        /// Offline store.
        offline: Backend,
        /// Online store.
        online: Backend,
        /// OpenLineage sink.
        lineage: Option<Backend>,
        /// Owner.
        owner: Option<String>,
    },
    /// An entity and its key columns.
    Entity {
        /// One or several keys.
        keys: Vec<Column>,
    },
    /// A data source.
    Source {
        /// Path or glob.
        path: String,
        /// Format.
        format: SourceFormat,
        /// Event-time column.
        timestamp: String,
        /// Creation-time column (leak-free visibility).
        created: Option<String>,
        /// Declared columns, if any.
        schema: Vec<Column>,
    },
    /// A feature view.
    FeatureView {
        /// Entity (batch views).
        entity: Option<String>,
        /// Source (batch views); none for on-demand views.
        source: Option<String>,
        /// Time to live in ms.
        ttl_ms: Option<u64>,
        /// Served online.
        online: bool,
        /// Owner.
        owner: Option<String>,
        /// Feature names in declaration order.
        features: Vec<String>,
    },
    /// One feature.
    Feature {
        /// Its view.
        view: String,
        /// Type.
        #[serde(rename = "type")]
        ty: Type,
        /// Definition.
        def: FeatureDef,
    },
    /// Request-time fields.
    Request {
        /// Fields.
        fields: Vec<Column>,
    },
    /// A model's interface.
    Model {
        /// Artifact format (`torchscript`).
        format: String,
        /// Inputs in order (every tensor's, in tensor order).
        inputs: Vec<InputRef>,
        /// Outputs, in order: those `forward` returns, side by side, and those in `derived`.
        outputs: Vec<Column>,
        /// Owner.
        owner: Option<String>,
        /// The named input tensors of an `inputs { ... }` block; empty for a plain list,
        /// which is one float32 tensor ([`crate::input_tensors`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tensors: Vec<crate::TensorInput>,
        /// Outputs computed from the others after `forward` runs (`p = probs[1]`), by name;
        /// `forward` returns the outputs not named here.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        derived: BTreeMap<String, IrExpr>,
    },
    /// A pipeline.
    Pipeline {
        /// Cron expression (five fields or `@daily`-style).
        schedule: Option<String>,
        /// Catch-up policy: `none`, `latest` or `all`.
        catchup: String,
        /// Default retries per step.
        retries: u64,
        /// Delay before the first retry, in ms (doubles each retry).
        retry_delay_ms: u64,
        /// Default step timeout in ms.
        timeout_ms: Option<u64>,
        /// Runs of this pipeline allowed at once.
        max_active_runs: u64,
        /// Parameters with their defaults.
        params: BTreeMap<String, crate::Literal>,
        /// Steps in declaration order.
        steps: Vec<Step>,
    },
    /// A deployment.
    Deployment {
        /// The serving graph.
        graph: GraphNode,
        /// Outputs the graph returns.
        outputs: Vec<Column>,
        /// Objectives.
        sla: Sla,
        /// Logging.
        log: LogPolicy,
        /// Shadow model.
        shadow: Option<ModelRef>,
        /// Dynamic batching.
        batching: Option<Batching>,
        /// `cpu`, `cuda` or `auto`.
        device: String,
        /// `online` or `lookup` (precomputed table).
        mode: String,
        /// Fixed replica count, if set.
        replicas: Option<u64>,
        /// CPU, memory and threads per replica, if set (boxed: the variant stays small).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resources: Option<Box<Resources>>,
    },
    /// A monitor.
    Monitor {
        /// Deployment watched.
        on: String,
        /// Evaluation period in ms.
        every_ms: u64,
        /// Window in ms.
        window_ms: u64,
        /// Baseline.
        baseline: Baseline,
        /// Label file.
        labels: Option<String>,
        /// Checks.
        checks: Vec<Check>,
        /// Alert sinks.
        alerts: Vec<Backend>,
        /// Failing evaluations in a row before an alert fires (`for`, 1 when absent).
        #[serde(default = "one")]
        for_evaluations: u64,
    },
    /// A downstream consumer.
    Consumer {
        /// `deployment.output` pairs.
        uses: Vec<(String, String)>,
        /// Owner.
        owner: Option<String>,
    },
}

impl Spec {
    /// The kind's name as in the JSON `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Spec::Project { .. } => "project",
            Spec::Entity { .. } => "entity",
            Spec::Source { .. } => "source",
            Spec::FeatureView { .. } => "feature_view",
            Spec::Feature { .. } => "feature",
            Spec::Request { .. } => "request",
            Spec::Model { .. } => "model",
            Spec::Pipeline { .. } => "pipeline",
            Spec::Deployment { .. } => "deployment",
            Spec::Monitor { .. } => "monitor",
            Spec::Consumer { .. } => "consumer",
        }
    }
}
