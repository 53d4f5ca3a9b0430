//! `mlpc export k8s` on the fraud example: every deployment's manifests in one stream,
//! valid against the Kubernetes schema (`scripts/k8s-validate.sh`), or nothing when a
//! deployment has no `resources { }`, each such deployment named, or when the online store is
//! the local one, which replicas cannot share. The pods get the replica count and the shared
//! state volume.

use mlp_test_support::serving::{example, mlpc, mlpc_bin};
use std::path::Path;
use std::process::Command;

fn sized(p: &Path, deployment: &str) {
    let file = p.join("serving.mlp");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let from = format!("deployment {deployment} {{\n");
    let to = format!("{from}  resources {{\n    cpu    = 0.5\n    memory = 256MiB\n  }}\n");
    assert!(text.contains(&from), "{deployment}");
    std::fs::write(&file, text.replacen(&from, &to, 1)).unwrap_or_else(|e| panic!("{e}"));
}

fn export(p: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(mlpc_bin())
        .args(["export", "k8s", "."])
        .args(args)
        .args(["--image", "registry.example/fraud:1"])
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Documents of `kind` (top-level lines only: an autoscaler's target names a kind too).
fn count(yaml: &str, kind: &str) -> usize {
    yaml.lines()
        .filter(|l| *l == format!("kind: {kind}"))
        .count()
}

fn validate(p: &Path, yaml: &str) {
    let file = p.join("all.yaml");
    std::fs::write(&file, yaml).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("bash")
        .arg(mlp_test_support::fixtures::root().join("scripts/k8s-validate.sh"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example's project block with `online` on Redis: the only change a move to a cluster
/// makes to the spec.
fn on_redis(p: &Path) {
    let file = p.join("project.mlp");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let from = "online  = memory(capacity = env.online_capacity)";
    assert!(text.contains(from));
    let text = text.replacen(from, "online  = redis(\"redis://redis.mlp.svc:6379/0\")", 1);
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn every_deployment_exports_or_nothing_does() {
    let dir = example();
    let p = dir.path();
    sized(p, "fraud_api");
    sized(p, "fraud_review");
    mlpc(&["apply", ".", "--auto-approve"], p);

    // The local online store: pods that would refuse to start are not written.
    let (code, yaml, err) = export(p, &["fraud_api"]);
    assert_eq!(code, Some(1), "{yaml}");
    assert!(yaml.is_empty(), "{yaml}");
    assert!(
        err.contains("deployment `fraud_api`: up to 6 servers") && err.contains("online = redis("),
        "{err}"
    );
    on_redis(p);
    mlpc(&["apply", ".", "--auto-approve"], p);

    // fraud_pipeline has no resources: nothing is written, and it is named.
    let (code, yaml, err) = export(p, &[]);
    assert_eq!(code, Some(1), "{yaml}");
    assert!(yaml.is_empty(), "{yaml}");
    assert!(
        err.contains("deployment `fraud_pipeline` states no `resources"),
        "{err}"
    );
    assert!(!err.contains("fraud_api"), "{err}");

    // The two that have them, by name.
    let (code, yaml, err) = export(p, &["fraud_api", "fraud_review"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(count(&yaml, "Deployment"), 2, "{yaml}");
    assert_eq!(count(&yaml, "Service"), 2, "{yaml}");
    assert_eq!(count(&yaml, "HorizontalPodAutoscaler"), 2, "{yaml}");
    assert!(yaml.contains("name: fraud-fraud-api") && yaml.contains("name: fraud-fraud-review"));
    assert_eq!(yaml.matches("image: registry.example/fraud:1").count(), 2);
    // The autoscaler's maximum, and the shared state.
    assert_eq!(yaml.matches("name: MLP_REPLICAS").count(), 2, "{yaml}");
    assert_eq!(yaml.matches("claimName: fraud-state").count(), 2, "{yaml}");
    assert_eq!(yaml.matches("value: /state").count(), 2, "{yaml}");
    validate(p, &yaml);

    // All of them, once each has resources.
    sized(p, "fraud_pipeline");
    mlpc(&["apply", ".", "--auto-approve"], p);
    let (code, yaml, err) = export(p, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(count(&yaml, "Deployment"), 3, "{yaml}");
    validate(p, &yaml);
    let (code, _, err) = export(p, &["nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no deployment `nope`"), "{err}");
}
