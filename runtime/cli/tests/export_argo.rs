//! `mlpc export argo` on the fraud example's training pipeline: the Workflow and CronWorkflow
//! pass Argo's API models strictly (`scripts/argo-validate.sh`, hera from PyPI) and broken
//! copies do not; running the workflow's step containers' commands in order, locally, on one
//! shared state folder (`MLP_STATE_DIR`, the volume the pods mount), registers the same model
//! (training set, metrics and every weight) as `mlpc run` does with the project's own state; a step whose
//! inputs have not run is refused, and a repeated step is a cache hit.

use mlp_test_support::serving::{example, mlpc_bin, venv};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs `mlpc ARGS` in `dir` with `MLP_STATE_DIR=state` (when given): (exit code, stdout,
/// stderr).
fn mlpc(dir: &Path, state: Option<&Path>, args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = Command::new(mlpc_bin());
    c.args(args).current_dir(dir).env("MLP_VENV", venv());
    match state {
        Some(s) => c.env("MLP_STATE_DIR", s),
        None => c.env_remove("MLP_STATE_DIR"),
    };
    let out = c.output().unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, state: Option<&Path>, args: &[&str]) -> String {
    let (code, out, err) = mlpc(dir, state, args);
    assert_eq!(code, Some(0), "mlpc {args:?}: {out}{err}");
    out
}

/// `scripts/argo-validate.sh FILE`: (passed, what it said).
fn validate(file: &Path) -> (bool, String) {
    let out = Command::new("bash")
        .arg(mlp_test_support::fixtures::root().join("scripts/argo-validate.sh"))
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The registered version's artifact and training set hashes, and its metrics.
fn registered(dir: &Path, state: Option<&Path>) -> (String, String, Value) {
    let v: Value = serde_json::from_str(&ok(
        dir,
        state,
        &[
            "registry",
            "show",
            ".",
            "fraud_scorer@1",
            "--format",
            "json",
        ],
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    (
        v["artifact_sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["training_set"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        v["metrics"].clone(),
    )
}

/// Asserts that two TorchScript files hold the same parameters, bit for bit. The files
/// themselves differ from one process to another (a `serialization_id`, the order of the
/// mangled class code), so their hashes do not say it.
fn same_weights(a: &Path, b: &Path) {
    let script = [
        "import sys, torch",
        "a = torch.jit.load(sys.argv[1]).state_dict()",
        "b = torch.jit.load(sys.argv[2]).state_dict()",
        "assert a.keys() == b.keys(), (list(a), list(b))",
        "assert len(a) > 0",
        "for k in a:",
        "    assert torch.equal(a[k], b[k]), k",
    ]
    .join("\n");
    let out = Command::new(venv().join("bin/python"))
        .args(["-c", &script])
        .arg(a)
        .arg(b)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "the models differ: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_exported_workflow_validates_and_its_steps_register_what_mlpc_run_does() {
    let dir = example();
    let p = dir.path();
    // The local runner first, on the project's own state (TorchScript files record their
    // source's path: both runs are in one folder).
    ok(p, None, &["run", ".", "train_fraud", "--quiet"]);
    let local = registered(p, None);
    let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Some(state.path());
    ok(p, s, &["apply", ".", "--auto-approve"]);
    let file = p.join("train.yaml");
    let (text, docs) = the_export_validates_as_a_workflow_and_a_cron_workflow(p, s, &file);
    broken_copies_fail(p, &text);

    // The workflow's step commands, in its order, as the pods run them: on one state folder.
    let (params, templates, order) = the_workflows_steps(&docs[0]["spec"]);
    let command = |t: &str| step_command(&templates, &params, t);
    the_steps_in_order_run_the_workflow(p, s, &order, &command);
    a_repeated_step_is_a_cache_hit(p, s, &command);
    the_same_model_as_the_local_runners(p, state.path(), &local);
}

/// A registered version: (artifact hash, training set hash, metrics), as `registered` gives.
type Registered = (String, String, Value);

/// `mlpc export argo` writes a Workflow and a CronWorkflow that pass Argo's API models, with
/// the example's schedule. Returns the file's text and its documents.
fn the_export_validates_as_a_workflow_and_a_cron_workflow(
    p: &Path,
    s: Option<&Path>,
    file: &Path,
) -> (String, Vec<Value>) {
    ok(
        p,
        s,
        &[
            "export",
            "argo",
            ".",
            "train_fraud",
            "--image",
            "registry.example/fraud:1",
            "--out",
        ]
        .iter()
        .copied()
        .chain([file.to_str().unwrap_or_default()])
        .collect::<Vec<_>>(),
    );
    let (valid, said) = validate(file);
    assert!(valid, "{said}");
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Workflow", "CronWorkflow"]);
    // The example: cron("0 2 * * *"), catchup = latest, one run at a time, retries = 1.
    let cron = &docs[1]["spec"];
    assert_eq!(cron["schedules"][0], "0 2 * * *");
    assert_eq!(cron["concurrencyPolicy"], "Forbid");
    assert_eq!(cron["startingDeadlineSeconds"], 86_400);
    (text, docs)
}

/// Broken copies fail: an unknown field, a step naming no template, a wrong type.
fn broken_copies_fail(p: &Path, text: &str) {
    for (from, to) in [
        (
            "retryPolicy: OnFailure",
            "retryPolicy: OnFailure\n      retryPolicyy: Always",
        ),
        ("template: step-gate", "template: step-gatee"),
        (
            "startingDeadlineSeconds: 86400",
            "startingDeadlineSeconds: [1]",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let broken = p.join("broken.yaml");
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap_or_else(|e| panic!("{e}"));
        let (valid, said) = validate(&broken);
        assert!(!valid, "{to} passed: {said}");
    }
}

/// The workflow's steps run the example's five templates, in the pipeline's order. Returns
/// the workflow's parameters, its templates and that order.
fn the_workflows_steps(spec: &Value) -> (Vec<(String, String)>, Vec<Value>, Vec<String>) {
    let params: Vec<(String, String)> = spec["arguments"]["parameters"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let name = x["name"].as_str().unwrap_or_default().to_string();
                    (name, x["value"].as_str().unwrap_or_default().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let templates = spec["templates"].as_array().cloned().unwrap_or_default();
    let order: Vec<String> = templates[0]["steps"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .map(|g| g[0]["template"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        order,
        [
            "step-dataset",
            "step-history",
            "step-train",
            "step-gate",
            "step-refresh"
        ]
    );
    (params, templates, order)
}

/// Template `t`'s container command as a pod runs it (on the `/state` volume), with the
/// project in `.` and the workflow's name and parameters filled in.
fn step_command(templates: &[Value], params: &[(String, String)], t: &str) -> Vec<String> {
    let tpl = templates
        .iter()
        .find(|x| x["name"] == t)
        .unwrap_or_else(|| panic!("no template {t}"));
    assert_eq!(tpl["container"]["env"][0]["value"], "/state");
    tpl["container"]["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let mut s = x.as_str().unwrap_or_default().replace("/project", ".");
                    s = s.replace("{{workflow.name}}", "fraud-train-fraud-x7k2p");
                    for (k, v) in params {
                        s = s.replace(&format!("{{{{workflow.parameters.{k}}}}}"), v);
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The train step before its inputs is refused, saying which step to run first; the steps in
/// the workflow's order then run it, as the workflow's only run on the shared state.
fn the_steps_in_order_run_the_workflow(
    p: &Path,
    s: Option<&Path>,
    order: &[String],
    command: &dyn Fn(&str) -> Vec<String>,
) {
    // The train step before its inputs: refused, saying which step to run first.
    let train = command("step-train");
    let args: Vec<&str> = train.iter().map(String::as_str).collect();
    let (code, _, err) = mlpc(p, s, &args);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("needs `dataset`") && err.contains("--step dataset"),
        "{err}"
    );
    for t in order {
        let args = command(t);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(p, s, &args);
    }
    let runs: Value = serde_json::from_str(&ok(p, s, &["runs", ".", "--format", "json"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs[0]["run_id"], "fraud-train-fraud-x7k2p");
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    // Only the workflow's run: the local one is in the project's own state.
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
}

/// A repeated step (a resubmitted pod) is a cache hit.
fn a_repeated_step_is_a_cache_hit(
    p: &Path,
    s: Option<&Path>,
    command: &dyn Fn(&str) -> Vec<String>,
) {
    let again = command("step-train");
    let args: Vec<&str> = again.iter().map(String::as_str).collect();
    ok(p, s, &args);
    let run: Value = serde_json::from_str(&ok(p, s, &["runs", ".", "--format", "json"]))
        .unwrap_or_else(|e| panic!("{e}"));
    let step = run[0]["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["step"] == "train").cloned())
        .unwrap_or_default();
    assert_eq!(step["status"], "cached", "{step}");
}

/// The same model as the local runner's, computed again (nothing was in the shared store).
fn the_same_model_as_the_local_runners(p: &Path, state: &Path, local: &Registered) {
    let shared = registered(p, Some(state));
    assert_eq!(shared.1, local.1, "the training sets differ");
    assert_eq!(shared.2, local.2, "the metrics differ");
    same_weights(
        &state.join("registry/blobs").join(&shared.0),
        &p.join(".mlp/registry/blobs").join(&local.0),
    );
}

const SCHEDULED: &str = "project p {
}

pipeline hourly {
  schedule        = cron(\"15 * * * 1-5\")
  catchup         = latest
  max_active_runs = 3

  step a {
    run = \"echo a\"
  }

  step b {
    after = [a]
    run   = \"echo b\"
  }
}

pipeline backfill {
  schedule = cron(\"@daily\")
  catchup  = all

  step a {
    run = \"echo a\"
  }
}

pipeline manual {
  retries = 0

  step a {
    run = \"echo a\"
  }
}
";

#[test]
fn schedules_map_to_cron_workflows_and_what_argo_cannot_do_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("p.mlp"), SCHEDULED).unwrap_or_else(|e| panic!("{e}"));
    ok(p, None, &["apply", ".", "--auto-approve"]);
    let export = |pipeline: &str| {
        mlpc(
            p,
            None,
            &["export", "argo", ".", pipeline, "--image", "i:1"],
        )
    };

    // Three runs at once: a semaphore of three (a ConfigMap); weekday hours: the longest gap
    // is Friday 23:15 to Monday 00:15.
    let (code, yaml, err) = export("hourly");
    assert_eq!(code, Some(0), "{err}");
    let file = p.join("hourly.yaml");
    std::fs::write(&file, &yaml).unwrap_or_else(|e| panic!("{e}"));
    let (valid, said) = validate(&file);
    assert!(valid, "{said}");
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("workflows: '3'"),
        "{yaml}"
    );
    assert!(yaml.contains("concurrencyPolicy: Allow"), "{yaml}");
    assert!(
        yaml.contains(&format!("startingDeadlineSeconds: {}", 49 * 3600)),
        "{yaml}"
    );
    assert!(yaml.contains("semaphores:"), "{yaml}");

    // Every missed run: no Argo equivalent, refused with the reason.
    let (code, yaml, err) = export("backfill");
    assert_eq!(code, Some(1), "{yaml}");
    assert!(
        err.contains("catchup = all") && err.contains("catchup = latest"),
        "{err}"
    );

    // Not scheduled: the Workflow only; no retries: no retryStrategy.
    let (code, yaml, err) = export("manual");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !yaml.contains("CronWorkflow") && !yaml.contains("retryStrategy"),
        "{yaml}"
    );
    let (code, _, err) = export("nope");
    assert_eq!(code, Some(1));
    assert!(err.contains("no pipeline `nope`"), "{err}");
}
