//! Batch scoring (`mlpc score`): a deployment's graph over every row of an entity file.
//! The features are the point-in-time values at each row's timestamp, from historical
//! retrieval: the same definitions online serving computes, as they were at that time, as
//! training saw them. Request fields are read from the file's columns of the same names.
//! Output: the file's columns, the model's inputs (`view__feature`), then its outputs, in
//! input order; Parquet or CSV.

use crate::batcher::{BatchPolicy, Batcher};
use crate::deployment::{as_id, as_input, input_name, load_model};
use crate::error::{LoadError, ScoreError};
use crate::graph::{Env, Graph};
use crate::model::DeviceChoice;
use mlp_ir::{InputRef, Plan, Spec};
use std::path::{Path, PathBuf};

/// Rows per forward.
pub const CHUNK: usize = 4096;

/// What to score.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// The project folder.
    pub project_dir: PathBuf,
    /// The deployment whose model scores.
    pub deployment: String,
    /// Parquet or CSV with the entity keys, the timestamp and the request fields.
    pub entities: PathBuf,
    /// The timestamp column.
    pub at: String,
    /// Where to write (`.parquet` or `.csv`).
    pub out: PathBuf,
}

/// What was scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreReport {
    /// Rows written.
    pub rows: u64,
    /// The model versions that scored them (comma-separated, for a graph of several).
    pub model_version: String,
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Scores every row of the entity file.
pub fn score(plan: &Plan, req: &ScoreRequest) -> Result<ScoreReport, ScoreError> {
    let Some(Spec::Deployment { graph, outputs, .. }) =
        plan.deployment(&req.deployment).map(|r| &r.spec)
    else {
        return Err(LoadError::UnknownDeployment(req.deployment.clone()).into());
    };
    let fmt = match req.out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => "FORMAT parquet",
        Some("csv") => "FORMAT csv, HEADER true",
        _ => return Err(ScoreError::OutputFormat(req.out.clone())),
    };
    // Each model of the graph on its own inference thread, a chunk per forward.
    let policy = BatchPolicy {
        max_batch: CHUNK,
        max_delay: std::time::Duration::ZERO,
        queue: 16,
        threads: 1,
        intra_op_threads: None,
    };
    let mut load = |r: &mlp_ir::ModelRef| -> Result<Batcher, LoadError> {
        let loaded = load_model(&req.project_dir, r, plan, DeviceChoice::Cpu)?;
        Batcher::start(&format!("score-{}", r.model), loaded, policy)
    };
    let graph = Graph::build(plan, graph, &mut load)?;
    // The temporary feature file lives until the inputs are read from it.
    let tmp = tempfile::Builder::new()
        .suffix(".parquet")
        .tempfile()
        .map_err(|source| ScoreError::Io {
            action: "create a temporary file",
            source,
        })?;
    let conn = inputs_to_table(plan, req, &graph.inputs, tmp.path())?;
    let env = table_to_env(&conn, &graph.inputs, &graph.exact)?;
    let n = env.n;
    let (scores, versions) = env_to_scores(&graph, &env)?;
    if scores.len() != n * mlp_ir::row_width(outputs).max(1) {
        return Err(ScoreError::OutputCount {
            got: scores.len(),
            rows: n,
            declared: mlp_ir::row_width(outputs),
        });
    }
    scores_to_file(&conn, outputs, &scores, n, &req.out, fmt)?;
    Ok(ScoreReport {
        rows: n as u64,
        model_version: versions.join(","),
    })
}

/// The entity file with the point-in-time features the graph reads (written to `tmp` first)
/// as table `src` of an in-memory DuckDB, with a row number.
fn inputs_to_table(
    plan: &Plan,
    req: &ScoreRequest,
    inputs: &[InputRef],
    tmp: &Path,
) -> Result<duckdb::Connection, ScoreError> {
    let features: Vec<String> = inputs
        .iter()
        .filter_map(|i| match i {
            InputRef::Feature { view, feature } => Some(format!("{view}.{feature}")),
            _ => None,
        })
        .collect();
    let source = if features.is_empty() {
        reader(&req.entities)?
    } else {
        mlp_features::historical(
            plan,
            &mlp_features::HistoricalRequest {
                project_dir: req.project_dir.clone(),
                entities: req.entities.clone(),
                features,
                at: req.at.clone(),
                out: tmp.to_path_buf(),
            },
        )?;
        format!("read_parquet({})", q(&tmp.to_string_lossy()))
    };
    let conn = duckdb::Connection::open_in_memory()?;
    conn.execute_batch(&format!(
        "SET TimeZone = 'UTC'; CREATE TABLE src AS SELECT *, (row_number() OVER ()) - 1 AS __mlp_row FROM {source};"
    ))?;
    Ok(conn)
}

/// The model inputs of every row of `src`, one column per input, as the model takes them
/// (those in `exact` also as exact integers, for int64 tensors).
fn table_to_env(
    conn: &duckdb::Connection,
    inputs: &[InputRef],
    exact: &std::collections::HashSet<String>,
) -> Result<Env, ScoreError> {
    let names: Vec<String> = inputs.iter().map(input_name).collect();
    let columns: Vec<String> = inputs
        .iter()
        .map(|i| match i {
            InputRef::Feature { view, feature } => format!("{view}__{feature}"),
            InputRef::Request { field, .. } => field.clone(),
            InputRef::ModelOutput { model, output } => format!("{model}__{output}"),
        })
        .collect();
    let select = columns
        .iter()
        .map(|c| format!("to_json({})", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare(&format!("SELECT {select} FROM src ORDER BY __mlp_row"))
        .map_err(ScoreError::MissingInput)?;
    let mut cols: Vec<Vec<f32>> = vec![Vec::new(); columns.len()];
    let mut ids: Vec<Option<Vec<Option<i64>>>> = names
        .iter()
        .map(|n| exact.contains(n).then(Vec::new))
        .collect();
    let mut n = 0usize;
    let mut query = stmt.query([])?;
    while let Some(r) = query.next()? {
        for (j, c) in columns.iter().enumerate() {
            let text: Option<String> = r.get(j)?;
            let v: serde_json::Value = text
                .as_deref()
                .map_or(Ok(serde_json::Value::Null), serde_json::from_str)?;
            let bad = |source| ScoreError::BadValue {
                row: n,
                column: c.clone(),
                source,
            };
            cols[j].push(as_input(&v).map_err(bad)?);
            if let Some(col) = &mut ids[j] {
                col.push(as_id(&v).map_err(bad)?);
            }
        }
        n += 1;
    }
    let mut env = Env {
        n,
        ..Env::default()
    };
    for ((name, col), id) in names.into_iter().zip(cols).zip(ids) {
        if let Some(id) = id {
            env.ids.insert(name.clone(), id);
        }
        env.cols.insert(name, col);
    }
    Ok(env)
}

/// Runs the graph over the rows of `all`, a chunk at a time: the outputs row-major, and
/// every model version that answered. An id outside its range fails the run, naming the row
/// of the file.
fn env_to_scores(graph: &Graph, all: &Env) -> Result<(Vec<f32>, Vec<String>), ScoreError> {
    let n = all.n;
    let mut scores = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|source| ScoreError::Io {
            action: "start the scoring runtime",
            source,
        })?;
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let env = all.slice(start, end);
        let outcome = rt.block_on(graph.run(env))?;
        for v in outcome.versions {
            if !versions.contains(&v) {
                versions.push(v);
            }
        }
        scores.extend(outcome.outputs);
    }
    Ok((scores, versions))
}

/// The outputs into a table keyed by row, joined back onto `src` in input order and
/// written to `out` in `fmt`.
fn scores_to_file(
    conn: &duckdb::Connection,
    outputs: &[mlp_ir::Column],
    scores: &[f32],
    n: usize,
    out: &Path,
    fmt: &str,
) -> Result<(), ScoreError> {
    // One column per value of a row (the appender takes no arrays); a vector output's
    // values are gathered into a `FLOAT[k]` column as the file is written.
    let k = mlp_ir::row_width(outputs).max(1);
    let cols = (0..k)
        .map(|j| format!("__mlp_v{j} DOUBLE"))
        .collect::<Vec<_>>()
        .join(", ");
    conn.execute_batch(&format!("CREATE TABLE scored (__mlp_row BIGINT, {cols});"))?;
    {
        let mut app = conn.appender("scored")?;
        for i in 0..n {
            let mut values: Vec<duckdb::types::Value> =
                vec![duckdb::types::Value::BigInt(i as i64)];
            values
                .extend((0..k).map(|j| duckdb::types::Value::Double(f64::from(scores[i * k + j]))));
            app.append_row(duckdb::appender_params_from_iter(values))?;
        }
    }
    let mut at = 0;
    let mut select = Vec::with_capacity(outputs.len());
    for o in outputs {
        select.push(match o.width {
            None => format!("__mlp_v{at} AS {}", ident(&o.name)),
            Some(w) => format!(
                "[{}]::FLOAT[{w}] AS {}",
                (at..at + w as usize)
                    .map(|j| format!("__mlp_v{j}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ident(&o.name)
            ),
        });
        at += o.cells();
    }
    let out = out.to_string_lossy().to_string();
    conn.execute_batch(&format!(
        "COPY (SELECT src.* EXCLUDE (__mlp_row), {} FROM src JOIN scored USING (__mlp_row) ORDER BY __mlp_row) TO {} ({fmt})",
        select.join(", "),
        q(&out)
    ))?;
    Ok(())
}

fn reader(path: &Path) -> Result<String, ScoreError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => Ok(format!("read_parquet({})", q(&path.to_string_lossy()))),
        Some("csv") => Ok(format!(
            "read_csv({}, header = true, auto_detect = true)",
            q(&path.to_string_lossy())
        )),
        _ => Err(ScoreError::InputFormat(path.to_path_buf())),
    }
}
