//! OpenLineage RunEvents for applies and pipeline runs: `START` when an apply or a run
//! begins, then `COMPLETE`, `FAIL` or `ABORT` (pipeline steps are jobs of their own, with the
//! run as their parent), appended as JSON lines to the file the project block
//! names (`lineage = file(".mlp/lineage.jsonl")`), or POSTed as JSON to the endpoint it
//! names (`lineage = http(URL)`). The applied resources are the run's output datasets, in
//! the namespace `mlp://PROJECT`.

use crate::diff::ChangeSet;
use mlp_ir::{Literal, Plan, Spec};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The OpenLineage spec the events follow.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// Where the project sends its events.
#[derive(Debug, Clone, PartialEq)]
pub enum Sink {
    /// JSON lines appended to a file (relative paths are relative to the project folder).
    File(PathBuf),
    /// An HTTP endpoint that accepts OpenLineage events (Marquez: `http://host:5000/api/v1/lineage`).
    Http(String),
}

/// The sink the plan's project block declares, if any.
pub fn sink(plan: &Plan, project_dir: &Path) -> Option<Sink> {
    let project = plan.resources().find(|r| r.kind() == "project")?;
    let Spec::Project {
        lineage: Some(b), ..
    } = &project.spec
    else {
        return None;
    };
    let arg = b.args.values().find_map(|v| match v {
        Literal::String(s) => Some(s.clone()),
        _ => None,
    })?;
    match b.kind.as_str() {
        "file" => {
            let p = PathBuf::from(&arg);
            // `.mlp/...` is the project's state folder, wherever MLP_STATE_DIR puts it.
            Some(Sink::File(if p.is_absolute() {
                p
            } else {
                mlp_ir::host::project_path(project_dir, &arg)
            }))
        }
        "http" => Some(Sink::Http(arg)),
        _ => None,
    }
}

/// One RunEvent of an apply.
pub fn apply_event(
    event_type: &str,
    run_id: &str,
    plan: &Plan,
    changes: &ChangeSet,
    time: &str,
) -> Value {
    let namespace = format!("mlp://{}", plan.project);
    let outputs: Vec<Value> = changes
        .changes
        .iter()
        .map(|c| {
            json!({
                "namespace": namespace,
                "name": c.id,
                "facets": {
                    "mlp_change": {
                        "_producer": producer(),
                        "_schemaURL": "https://mlp.dev/specs/changes.schema.json",
                        "kind": c.kind,
                        "actions": c.actions,
                        "severity": c.severity,
                    }
                }
            })
        })
        .collect();
    json!({
        "eventType": event_type,
        "eventTime": time,
        "run": { "runId": run_id },
        "job": { "namespace": namespace, "name": "mlpc.apply" },
        "inputs": [],
        "outputs": outputs,
        "producer": producer(),
        "schemaURL": SCHEMA_URL,
    })
}

/// A dataset of an event: its name in the project's namespace and its facets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Name (`source.transactions`, `model.fraud_scorer`, `store/HASH`).
    pub name: String,
    /// Facets by name (each an object; `_producer` and `_schemaURL` are added).
    pub facets: serde_json::Map<String, Value>,
}

/// The OpenLineage run id of an mlp run id: a UUID (version 8) made from its sha256, so the
/// same run always has the same lineage id.
pub fn lineage_run_id(run_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(run_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// A run of a job: `pipeline.NAME` or `pipeline.NAME.STEP` of a project.
#[derive(Debug, Clone, Copy)]
pub struct JobRun<'a> {
    /// The project (the namespace is `mlp://PROJECT`).
    pub project: &'a str,
    /// The job's name.
    pub job: &'a str,
    /// The mlp run id.
    pub run_id: &'a str,
    /// The parent run, as `(job, run_id)`.
    pub parent: Option<(&'a str, &'a str)>,
}

/// A RunEvent of `run` with its inputs and outputs.
pub fn job_event(
    event_type: &str,
    run: JobRun<'_>,
    inputs: &[Dataset],
    outputs: &[Dataset],
    time: &str,
) -> Value {
    let JobRun {
        project,
        job,
        run_id,
        parent,
    } = run;
    let namespace = format!("mlp://{project}");
    let datasets = |list: &[Dataset]| -> Vec<Value> {
        list.iter()
            .map(|d| {
                let facets: serde_json::Map<String, Value> = d
                    .facets
                    .iter()
                    .map(|(k, v)| {
                        let mut v = v.clone();
                        if let Value::Object(m) = &mut v {
                            m.insert("_producer".into(), producer().into());
                            m.insert(
                                "_schemaURL".into(),
                                format!("https://mlp.dev/specs/facets/{k}.json").into(),
                            );
                        }
                        (k.clone(), v)
                    })
                    .collect();
                json!({"namespace": namespace, "name": d.name, "facets": facets})
            })
            .collect()
    };
    let mut run = json!({ "runId": lineage_run_id(run_id), "facets": {
        "mlp_run": {
            "_producer": producer(),
            "_schemaURL": "https://mlp.dev/specs/facets/mlp_run.json",
            "runId": run_id,
        }
    }});
    if let Some((pjob, prun)) = parent {
        run["facets"]["parent"] = json!({
            "_producer": producer(),
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
            "run": { "runId": lineage_run_id(prun) },
            "job": { "namespace": namespace, "name": pjob },
        });
    }
    json!({
        "eventType": event_type,
        "eventTime": time,
        "run": run,
        "job": { "namespace": namespace, "name": job },
        "inputs": datasets(inputs),
        "outputs": datasets(outputs),
        "producer": producer(),
        "schemaURL": SCHEMA_URL,
    })
}

fn producer() -> String {
    format!("https://mlp.dev/mlpc/{}", env!("CARGO_PKG_VERSION"))
}

/// Sends `event` to `sink`. Lineage is best effort: a failure is returned for the caller to
/// warn about, never to fail the apply.
pub fn emit(sink: &Sink, event: &Value) -> Result<(), String> {
    match sink {
        Sink::File(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
        }
        Sink::Http(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(std::time::Duration::from_secs(5)))
                .build()
                .into();
            agent
                .post(url)
                .send_json(event)
                .map(|_| ())
                .map_err(|e| format!("POST {url}: {e}"))
        }
    }
}
