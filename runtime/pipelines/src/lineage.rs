//! OpenLineage events of pipeline runs, when the project block declares `lineage = ...`:
//! the run is job `pipeline.NAME` (START, then COMPLETE, FAIL or ABORT) and each finished step
//! is job `pipeline.NAME.STEP` with the run as its parent. A step's inputs are the outputs of
//! the steps it reads (and, for a training set, the sources and the labels file); its outputs
//! are its stored output and the model version it registered. Best effort: a sink that fails
//! is warned about and the run goes on.

use crate::history::{now, StepRecord};
use mlp_ir::{Plan, Spec, Step, StepAction};
use mlp_state::openlineage::{emit, job_event, sink, Dataset, JobRun, Sink};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Sends a run's events.
pub(crate) struct Emitter {
    sink: Option<Sink>,
    project: String,
    pipeline: String,
    run_id: String,
}

fn dataset(name: String, facets: &[(&str, serde_json::Value)]) -> Dataset {
    Dataset {
        name,
        facets: facets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

impl Emitter {
    /// The emitter of a run (silent when the project declares no lineage sink).
    pub fn new(plan: &Plan, project_dir: &Path, pipeline: &str, run_id: &str) -> Emitter {
        Emitter {
            sink: sink(plan, project_dir),
            project: plan.project.clone(),
            pipeline: pipeline.to_string(),
            run_id: run_id.to_string(),
        }
    }

    fn send(&self, event: serde_json::Value) {
        if let Some(s) = &self.sink {
            if let Err(e) = emit(s, &event) {
                eprintln!("warning: lineage event not sent: {e}");
            }
        }
    }

    /// The run's own event: `START`, `COMPLETE`, `FAIL` or `ABORT`.
    pub fn run(&self, event_type: &str) {
        if self.sink.is_none() {
            return;
        }
        let job = format!("pipeline.{}", self.pipeline);
        let run = JobRun {
            project: &self.project,
            job: &job,
            run_id: &self.run_id,
            parent: None,
        };
        self.send(job_event(event_type, run, &[], &[], &now()));
    }

    /// A finished step's event, with what it read and wrote.
    pub fn step(
        &self,
        plan: &Plan,
        step: &Step,
        rec: &StepRecord,
        inputs: &BTreeMap<String, String>,
    ) {
        if self.sink.is_none() {
            return;
        }
        let event_type = match rec.status.as_str() {
            "succeeded" | "cached" => "COMPLETE",
            "failed" => "FAIL",
            "cancelled" => "ABORT",
            _ => return,
        };
        let mut ins: Vec<Dataset> = inputs
            .iter()
            .map(|(s, h)| {
                dataset(
                    format!("store/{h}"),
                    &[("mlp_step_output", json!({"step": s}))],
                )
            })
            .collect();
        if let StepAction::TrainingSet {
            labels, features, ..
        } = &step.action
        {
            ins.push(dataset(format!("file/{labels}"), &[]));
            let mut sources = std::collections::BTreeSet::new();
            for f in crate::keys::training_features(features) {
                let view = f.split('.').next().unwrap_or_default();
                if let Some(Spec::FeatureView {
                    source: Some(src), ..
                }) = plan.view(view).map(|r| &r.spec)
                {
                    sources.insert(src.clone());
                }
            }
            ins.extend(
                sources
                    .into_iter()
                    .map(|s| dataset(format!("source.{s}"), &[])),
            );
        }
        let mut outs = Vec::new();
        if let Some(h) = &rec.output {
            outs.push(dataset(
                format!("store/{h}"),
                &[(
                    "mlp_step_output",
                    json!({"step": step.name, "cached": rec.cached}),
                )],
            ));
        }
        if let Some(r) = &rec.registered {
            let (model, version) = r.split_once('@').unwrap_or((r, ""));
            outs.push(dataset(
                format!("model.{model}"),
                &[("version", json!({"datasetVersion": version}))],
            ));
        }
        let job = format!("pipeline.{}.{}", self.pipeline, step.name);
        let parent_job = format!("pipeline.{}", self.pipeline);
        let step_run = format!("{}/{}", self.run_id, step.name);
        let run = JobRun {
            project: &self.project,
            job: &job,
            run_id: &step_run,
            parent: Some((&parent_job, &self.run_id)),
        };
        self.send(job_event(event_type, run, &ins, &outs, &now()));
    }
}
