//! Evaluating a monitor's checks once: read the window, the baseline and the labels, compute
//! each metric with the functions of this crate, and decide each check's state (pass, fail,
//! no data, error) with the value and threshold that decided it.

use super::metric::{Metric, Needs};
use super::reader::Reader;
use super::window::{ColumnRef, LabelMap, ReadError, Requests, Rows, Span, Values};
use mlp_ir::{Baseline, Check, IrExpr, Literal, Plan, Spec, Type};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Fewest values (per side for distributions, labelled rows for quality, requests for
/// service metrics) a metric is computed on; below it the check is "no data", never a
/// verdict from a handful of rows.
pub const MIN_ROWS: usize = 30;

/// The state of one check after one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The condition holds.
    Pass,
    /// The condition does not hold.
    Fail,
    /// Too little data to decide (no log, an empty window, too few rows or labels).
    NoData,
    /// Something the spec names could not be read (a missing column, a bad file).
    Error,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    /// Index of the check in the monitor, from 0.
    pub index: usize,
    /// The check as written.
    pub check: String,
    /// The metric that decided it.
    pub metric: Option<String>,
    /// The column it read, as the spec names it.
    pub column: Option<String>,
    /// The statistical method (for `drift`: `ks`, `wasserstein`, ...).
    pub method: Option<String>,
    /// The metric's value.
    pub value: Option<f64>,
    /// The threshold it was compared with.
    pub threshold: Option<f64>,
    /// The state.
    pub outcome: Outcome,
    /// Why, for no data and errors.
    pub message: Option<String>,
    /// Values in the window the metric used.
    pub window_rows: Option<u64>,
    /// Values in the baseline the metric used.
    pub baseline_rows: Option<u64>,
    /// Labelled rows, for quality metrics.
    pub labelled_rows: Option<u64>,
    /// Bins, proportions, the test used.
    pub details: Value,
}

/// A stop in evaluating a check.
pub(super) enum Stop {
    NoData(String),
    Error(String),
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::NoLog(_) => Stop::NoData(e.to_string()),
            other => Stop::Error(other.to_string()),
        }
    }
}

/// What one metric call gave, for the record.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) metric: Option<String>,
    pub(super) column: Option<String>,
    pub(super) method: Option<String>,
    pub(super) value: Option<f64>,
    pub(super) window_rows: Option<u64>,
    pub(super) baseline_rows: Option<u64>,
    pub(super) labelled_rows: Option<u64>,
    pub(super) details: Value,
}

/// A value of a check expression.
#[derive(Clone, Copy)]
pub(super) enum V {
    Num(f64),
    Bool(bool),
}

/// What a monitor evaluation reads, loaded once and shared by its checks.
pub struct Inputs<'a> {
    project_dir: &'a Path,
    deployment: &'a str,
    span: Span,
    baseline: &'a Baseline,
    labels: Option<PathBuf>,
    reader: &'a mut Reader,
    /// Every request of the window, or why not.
    pub requests: Result<Requests, ReadError>,
    rows: Result<Rows, ReadError>,
    columns: Vec<(ColumnRef, Type)>,
    baselines: HashMap<ColumnRef, Result<Arc<Values>, ReadError>>,
    label_map: Option<Result<Arc<LabelMap>, ReadError>>,
    label_names: Vec<String>,
}

/// The type of column `c` in `plan` (a feature, a request field, an output of `deployment`).
pub fn column_type(plan: &Plan, deployment: &str, c: &ColumnRef) -> Option<Type> {
    match c {
        ColumnRef::Feature { view, feature } => match &plan.feature(view, feature)?.spec {
            Spec::Feature { ty, .. } => Some(*ty),
            _ => None,
        },
        ColumnRef::Request { request, field } => plan
            .request_fields(request)?
            .iter()
            .find(|f| &f.name == field)
            .map(|f| f.ty),
        ColumnRef::Output { name } => match &plan.deployment(deployment)?.spec {
            Spec::Deployment { outputs, .. } => {
                outputs.iter().find(|o| &o.name == name).map(|o| o.ty)
            }
            _ => None,
        },
    }
}

/// The logged column an expression names, if it is one.
fn column_of(e: &IrExpr) -> Option<ColumnRef> {
    match e {
        IrExpr::Feature { view, feature } => Some(ColumnRef::Feature {
            view: view.clone(),
            feature: feature.clone(),
        }),
        IrExpr::Request { request, field } => Some(ColumnRef::Request {
            request: request.clone(),
            field: field.clone(),
        }),
        IrExpr::Output { name, .. } => Some(ColumnRef::Output { name: name.clone() }),
        _ => None,
    }
}

/// Walks `e` collecting logged columns and label names.
fn collect(e: &IrExpr, cols: &mut Vec<ColumnRef>, labels: &mut Vec<String>) {
    if let Some(c) = column_of(e) {
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    match e {
        IrExpr::Label { name } if !labels.contains(name) => labels.push(name.clone()),
        IrExpr::Call { args, .. } => args.iter().for_each(|a| collect(a, cols, labels)),
        IrExpr::Unary { expr, .. } => collect(expr, cols, labels),
        IrExpr::Binary { lhs, rhs, .. } => {
            collect(lhs, cols, labels);
            collect(rhs, cols, labels);
        }
        _ => {}
    }
}

impl<'a> Inputs<'a> {
    /// Reads the window's requests and rows for `checks` of a monitor on `deployment`, with
    /// `reader` (which keeps what it read for the next evaluation).
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        reader: &'a mut Reader,
        plan: &'a Plan,
        project_dir: &'a Path,
        deployment: &'a str,
        span: Span,
        baseline: &'a Baseline,
        labels: Option<&str>,
        checks: &[Check],
    ) -> Inputs<'a> {
        let (mut cols, mut label_names) = (Vec::new(), Vec::new());
        for c in checks {
            collect(&c.expr, &mut cols, &mut label_names);
        }
        let columns: Vec<(ColumnRef, Type)> = cols
            .into_iter()
            .map(|c| {
                let ty = column_type(plan, deployment, &c).unwrap_or(Type::Float);
                (c, ty)
            })
            .collect();
        // Request ids only when labels join on them.
        let ids = !label_names.is_empty();
        let (requests, rows) = match reader.window(project_dir, deployment, span, &columns, ids) {
            Ok((q, r)) => (Ok(q), Ok(r)),
            Err(e) => (Err(e.clone()), Err(e)),
        };
        Inputs {
            project_dir,
            deployment,
            span,
            baseline,
            labels: labels.map(|l| project_dir.join(l)),
            reader,
            requests,
            rows,
            columns,
            baselines: HashMap::new(),
            label_map: None,
            label_names,
        }
    }

    /// The identity of the baseline, for the record: `training:<sha256>`, `previous:<ms>`
    /// or `file:<path>`.
    pub fn baseline_id(&self) -> String {
        match self.baseline {
            Baseline::Training => match self.training_set() {
                Ok((sha, _)) => format!("training:{sha}"),
                Err(_) => "training:unknown".into(),
            },
            Baseline::Previous { window_ms } => format!("previous:{window_ms}ms"),
            Baseline::File { path } => format!("file:{path}"),
        }
    }

    /// The model version that answered most of the window's requests.
    pub fn model_version(&self) -> Option<String> {
        self.requests
            .as_ref()
            .ok()
            .and_then(|r| r.model_version.clone())
    }

    /// The training set of the version serving the window: its hash and file.
    fn training_set(&self) -> Result<(String, PathBuf), ReadError> {
        let version = self.model_version().ok_or_else(|| {
            ReadError::NoBaseline("no successful request in the window names a model version, so there is no training set to compare with".into())
        })?;
        // A graph answers with several versions; the first is the one its outputs come from.
        let first = version.split(',').next().unwrap_or_default();
        let (model, v) = mlp_registry::parse_ref(first);
        let bad = |e: String| ReadError::NoBaseline(format!("the training set of `{first}`: {e}"));
        let v: u64 = v
            .parse()
            .map_err(|_| bad("not a registered version".into()))?;
        let reg = mlp_registry::Registry::open(self.project_dir).map_err(|e| bad(e.to_string()))?;
        let version = reg.get(model, v).map_err(|e| bad(e.to_string()))?;
        let ts = version.training_set.ok_or_else(|| {
            bad("the registry records no training set for it (it was not registered by a pipeline with a `training_set` step); use `baseline = \"file.parquet\"` or `previous(7d)`".into())
        })?;
        // The pipeline runner's step store keeps each step's outputs under its cache key.
        let file = mlp_ir::host::state_dir(self.project_dir)
            .join("store")
            .join(&ts.sha256)
            .join("training_set.parquet");
        Ok((ts.sha256, file))
    }

    /// The window's values of column `i`.
    fn window_column(&self, c: &ColumnRef) -> Result<&Values, Stop> {
        let rows = self.rows.as_ref().map_err(|e| Stop::from(e.clone()))?;
        let i = self.columns.iter().position(|(k, _)| k == c).unwrap_or(0);
        if !rows.row.is_empty() && !rows.logged.get(i).copied().unwrap_or(true) {
            return Err(Stop::Error(format!(
                "the prediction log of `{}` has no column {} in this window (a model input, request field or output it does not log)",
                self.deployment,
                c.spec_name()
            )));
        }
        if rows.row.is_empty() {
            return Err(Stop::NoData(format!(
                "no logged row of `{}` in the window",
                self.deployment
            )));
        }
        rows.columns
            .get(i)
            .ok_or_else(|| Stop::Error(format!("column {} was not read", c.spec_name())))
    }

    /// The baseline's values of column `c` (read once).
    fn baseline_column(&mut self, c: &ColumnRef) -> Result<Arc<Values>, Stop> {
        if !self.baselines.contains_key(c) {
            let ty = self
                .columns
                .iter()
                .find(|(k, _)| k == c)
                .map_or(Type::Float, |(_, t)| *t);
            let got = self.read_baseline(c, ty);
            self.baselines.insert(c.clone(), got);
        }
        match self.baselines.get(c) {
            Some(Ok(v)) => Ok(Arc::clone(v)),
            Some(Err(e)) => Err(Stop::from(e.clone())),
            None => Err(Stop::Error("baseline not read".into())),
        }
    }

    fn read_baseline(&mut self, c: &ColumnRef, ty: Type) -> Result<Arc<Values>, ReadError> {
        match self.baseline {
            Baseline::Training => {
                let (sha, file) = self.training_set()?;
                let what = format!(
                    "the training set {} ({})",
                    &sha[..sha.len().min(12)],
                    file.display()
                );
                self.reader.file_column(&file, &what, c, ty)
            }
            Baseline::Previous { window_ms } => {
                let len = i64::try_from(*window_ms)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000);
                let span = Span {
                    start_us: self.span.start_us.saturating_sub(len),
                    end_us: self.span.start_us,
                };
                let cols = [(c.clone(), ty)];
                let (_, rows) =
                    self.reader
                        .window(self.project_dir, self.deployment, span, &cols, false)?;
                Ok(Arc::new(
                    rows.columns
                        .into_iter()
                        .next()
                        .unwrap_or(Values::Numeric(Vec::new())),
                ))
            }
            Baseline::File { path } => {
                let file = self.project_dir.join(path);
                let what = format!("baseline file `{path}`");
                self.reader.file_column(&file, &what, c, ty)
            }
        }
    }

    /// The labels of the window's rows for label `name`, aligned with the rows.
    fn labels_for(&mut self, name: &str) -> Result<Vec<Option<f64>>, Stop> {
        let Some(path) = self.labels.clone() else {
            return Err(Stop::Error("the monitor declares no `labels`".into()));
        };
        if self.label_map.is_none() {
            let names = self.label_names.clone();
            self.label_map = Some(self.reader.labels(&path, &names));
        }
        let j = self.label_names.iter().position(|n| n == name).unwrap_or(0);
        let map = match &self.label_map {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(Stop::from(e.clone())),
            None => return Err(Stop::Error("labels not read".into())),
        };
        let rows = self.rows.as_ref().map_err(|e| Stop::from(e.clone()))?;
        Ok(rows
            .request_id
            .iter()
            .zip(&rows.row)
            .map(|(id, r)| {
                map.get(&(id.clone(), *r))
                    .and_then(|v| v.get(j).copied().flatten())
            })
            .collect())
    }

    /// Evaluates check `index`.
    pub fn evaluate(&mut self, index: usize, check: &Check) -> CheckResult {
        let mut seen = Seen::default();
        // A bare `check drift(x)` reads "x has not drifted".
        let bare_drift = matches!(&check.expr, IrExpr::Call { func, .. } if func == "drift");
        let got = self.eval(&check.expr, &mut seen);
        let threshold = threshold_of(&check.expr).or_else(|| {
            bare_drift
                .then(|| seen.details["threshold"].as_f64())
                .flatten()
        });
        let (outcome, message) = match got {
            Ok(V::Bool(b)) => (
                if b != bare_drift {
                    Outcome::Pass
                } else {
                    Outcome::Fail
                },
                None,
            ),
            Ok(V::Num(_)) => (
                Outcome::Error,
                Some("the check is a number, not a condition".into()),
            ),
            Err(Stop::NoData(m)) => (Outcome::NoData, Some(m)),
            Err(Stop::Error(m)) => (Outcome::Error, Some(m)),
        };
        CheckResult {
            index,
            check: check.text.clone(),
            metric: seen.metric,
            column: seen.column,
            method: seen.method,
            value: seen.value,
            threshold,
            outcome,
            message,
            window_rows: seen.window_rows,
            baseline_rows: seen.baseline_rows,
            labelled_rows: seen.labelled_rows,
            details: seen.details,
        }
    }

    fn eval(&mut self, e: &IrExpr, seen: &mut Seen) -> Result<V, Stop> {
        match e {
            IrExpr::Literal { value } => literal(value),
            IrExpr::Call { func, args } => {
                let m = Metric::from_name(func)
                    .ok_or_else(|| Stop::Error(format!("`{func}` is not a metric")))?;
                let v = self.metric(m, args, seen)?;
                Ok(v)
            }
            IrExpr::Unary { unop, expr } => match (unop.as_str(), self.eval(expr, seen)?) {
                ("not", V::Bool(b)) => Ok(V::Bool(!b)),
                ("neg", V::Num(x)) => Ok(V::Num(-x)),
                (op, _) => Err(Stop::Error(format!("`{op}` does not apply here"))),
            },
            IrExpr::Binary { binop, lhs, rhs } => {
                let l = self.eval(lhs, seen)?;
                // `and`/`or` short-circuit like everywhere else in the language.
                match (binop.as_str(), l) {
                    ("and", V::Bool(false)) => return Ok(V::Bool(false)),
                    ("or", V::Bool(true)) => return Ok(V::Bool(true)),
                    _ => {}
                }
                let r = self.eval(rhs, seen)?;
                binary(binop, l, r)
            }
            other => Err(Stop::Error(format!(
                "a check compares metrics; {other:?} is not one"
            ))),
        }
    }

    fn metric(&mut self, m: Metric, args: &[IrExpr], seen: &mut Seen) -> Result<V, Stop> {
        if seen.metric.is_none() {
            seen.metric = Some(m.name().to_string());
        }
        let value = match m.needs() {
            Needs::Requests => {
                let req = self.requests.as_ref().map_err(|e| Stop::from(e.clone()))?;
                let window_s = (self.span.end_us - self.span.start_us) as f64 / 1e6;
                super::compute::service(m, req, window_s, seen)?
            }
            Needs::Window => {
                let c = args
                    .first()
                    .and_then(column_of)
                    .ok_or_else(|| Stop::Error("no column".into()))?;
                seen.column.get_or_insert_with(|| c.spec_name());
                let w = self.window_column(&c)?;
                super::compute::window(m, w, seen)?
            }
            Needs::Distribution => {
                let c = args
                    .first()
                    .and_then(column_of)
                    .ok_or_else(|| Stop::Error("no column".into()))?;
                seen.column.get_or_insert_with(|| c.spec_name());
                // No window is "no data" whatever the baseline: the window first.
                self.window_column(&c)?;
                let b = self.baseline_column(&c)?;
                let w = self.window_column(&c)?;
                super::compute::distribution(m, &b, w, seen)?
            }
            Needs::Labels => {
                let c = args
                    .first()
                    .and_then(column_of)
                    .ok_or_else(|| Stop::Error("no score column".into()))?;
                let label = match args.get(1) {
                    Some(IrExpr::Label { name }) => name.clone(),
                    _ => {
                        return Err(Stop::Error(
                            "the second argument must be `labels.COLUMN`".into(),
                        ))
                    }
                };
                let threshold = match args.get(2) {
                    Some(IrExpr::Literal { value }) => match literal(value)? {
                        V::Num(t) => t,
                        V::Bool(_) => {
                            return Err(Stop::Error("the threshold must be a number".into()))
                        }
                    },
                    _ => 0.5,
                };
                seen.column
                    .get_or_insert_with(|| format!("{}, labels.{label}", c.spec_name()));
                let scores = match self.window_column(&c)? {
                    Values::Numeric(v) => v.clone(),
                    Values::Categorical(_) => {
                        return Err(Stop::Error(format!("{} is not numeric", c.spec_name())))
                    }
                };
                let labels = self.labels_for(&label)?;
                super::compute::quality(m, &scores, &labels, threshold, seen)?
            }
        };
        if seen.value.is_none() {
            seen.value = match value {
                V::Num(x) => Some(x),
                V::Bool(_) => seen.details["score"].as_f64(),
            };
        }
        Ok(value)
    }
}

fn literal(l: &Literal) -> Result<V, Stop> {
    Ok(match l {
        Literal::Int(i) => V::Num(*i as f64),
        Literal::Float(x)
        | Literal::DurationMs(x)
        | Literal::PerSecond(x)
        | Literal::Bytes(x)
        | Literal::Fraction(x) => V::Num(*x),
        Literal::Bool(b) => V::Bool(*b),
        Literal::String(_) | Literal::Null => {
            return Err(Stop::Error("a check compares numbers".into()))
        }
    })
}

fn binary(op: &str, l: V, r: V) -> Result<V, Stop> {
    Ok(match (op, l, r) {
        ("and", V::Bool(a), V::Bool(b)) => V::Bool(a && b),
        ("or", V::Bool(a), V::Bool(b)) => V::Bool(a || b),
        ("==", V::Bool(a), V::Bool(b)) => V::Bool(a == b),
        ("!=", V::Bool(a), V::Bool(b)) => V::Bool(a != b),
        (_, V::Num(a), V::Num(b)) => match op {
            "<" => V::Bool(a < b),
            "<=" => V::Bool(a <= b),
            ">" => V::Bool(a > b),
            ">=" => V::Bool(a >= b),
            "==" => V::Bool(a == b),
            "!=" => V::Bool(a != b),
            "+" => V::Num(a + b),
            "-" => V::Num(a - b),
            "*" => V::Num(a * b),
            "/" => V::Num(a / b),
            _ => return Err(Stop::Error(format!("`{op}` does not apply to numbers"))),
        },
        _ => {
            return Err(Stop::Error(format!(
                "`{op}` does not apply to these values"
            )))
        }
    })
}

/// The threshold of a `metric OP constant` check (either side), if it has that shape.
fn threshold_of(e: &IrExpr) -> Option<f64> {
    let IrExpr::Binary { binop, lhs, rhs } = e else {
        return None;
    };
    if !matches!(binop.as_str(), "<" | "<=" | ">" | ">=" | "==" | "!=") {
        return None;
    }
    let num = |e: &IrExpr| match e {
        IrExpr::Literal { value } => match literal(value) {
            Ok(V::Num(x)) => Some(x),
            _ => None,
        },
        IrExpr::Unary { unop, expr } if unop == "neg" => match expr.as_ref() {
            IrExpr::Literal { value } => match literal(value) {
                Ok(V::Num(x)) => Some(-x),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    num(rhs).or_else(|| num(lhs))
}

/// The rows and columns read, for the evaluation record.
pub fn window_summary(inputs: &Inputs<'_>) -> Value {
    json!({
        "requests": inputs.requests.as_ref().map(|r| r.latency_ms.len()).ok(),
        "rows": inputs.rows.as_ref().map(|r| r.row.len()).ok(),
    })
}
