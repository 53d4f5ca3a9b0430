//! Kubernetes YAML for a deployment: a `Deployment` of `mlpc serve` replicas with CPU and
//! memory requests equal to their limits and the server's readiness (`/readyz`) and
//! liveness (`/healthz`) probes, a `Service` in front, and an `autoscaling/v2`
//! `HorizontalPodAutoscaler` on CPU. Written by `mlpc suggest --k8s` from a confirmed
//! suggestion and by `mlpc k8s` from the applied spec's `replicas` and `resources { }`;
//! every pod gets `MLP_REPLICAS` (the autoscaler's maximum: a server refuses to start as one
//! of several on a local-only online store) and `MLP_STATE_DIR=/state`, the project's state
//! on the `PROJECT-state` volume claim that the servers, `mlpc apply` and the pipeline steps
//! share (docs/scale-out.md);
//! emitted with `yaml_serde` (the YAML organisation's maintained continuation of the
//! deprecated `serde_yaml`).

use serde_json::{json, Value};

/// Where the pods mount the project's shared state (`MLP_STATE_DIR`).
pub const STATE_MOUNT: &str = "/state";

/// The container port `mlpc serve` listens on in the pod.
pub const PORT: u16 = 8080;
/// Seconds the autoscaler waits before removing replicas: Kubernetes' default, stated.
pub const SCALE_DOWN_STABILIZATION_S: u32 = 300;

/// What the manifests say.
#[derive(Debug, Clone)]
pub struct Pod {
    /// The project's name.
    pub project: String,
    /// The deployment.
    pub deployment: String,
    /// The container image (holding the applied project at `/project`).
    pub image: String,
    /// Replicas, also the autoscaler's minimum.
    pub replicas: u64,
    /// The autoscaler's maximum.
    pub max_replicas: u64,
    /// CPU per replica in millicores (request = limit).
    pub cpu_millicores: u64,
    /// Memory per replica in MiB (request = limit).
    pub memory_mib: u64,
    /// HTTP workers.
    pub workers: u64,
    /// The autoscaler's CPU target, percent of the request.
    pub cpu_target_percent: u32,
}

/// A DNS-1123 name: lower case, `-` for anything else, at most 63 characters.
pub fn dns_name(parts: &[&str]) -> String {
    let raw = parts.join("-").to_lowercase();
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s: String = s.chars().take(63).collect();
    s.trim_end_matches('-').to_string()
}

/// The volume claim holding a project's state: `PROJECT-state`, created once per project
/// (ReadWriteMany: every replica reads it, the prediction log is written to it).
pub fn state_claim(project: &str) -> String {
    dns_name(&[project, "state"])
}

/// The three manifests as one multi-document YAML text.
pub fn render(p: &Pod) -> Result<String, String> {
    let name = dns_name(&[&p.project, &p.deployment]);
    let labels = json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "mlp",
        "mlp.dev/deployment": dns_name(&[&p.deployment]),
    });
    let resources = json!({
        "cpu": format!("{}m", p.cpu_millicores),
        "memory": format!("{}Mi", p.memory_mib),
    });
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": p.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "mlp-serve",
                        "image": p.image,
                        // Schedules and monitors run once, elsewhere, not in every replica.
                        "args": [
                            "serve", "/project",
                            "--bind", format!("0.0.0.0:{PORT}"),
                            "--workers", p.workers.to_string(),
                            "--no-scheduler", "--no-monitors",
                        ],
                        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                        // A non-loopback address needs a token for the endpoints that change
                        // anything; it comes from a Secret.
                        "env": [
                            {
                                "name": "MLP_TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": format!("{name}-token"), "key": "token"}},
                            },
                            {"name": "MLP_REPLICAS", "value": p.max_replicas.max(p.replicas).to_string()},
                            {"name": "MLP_STATE_DIR", "value": STATE_MOUNT},
                        ],
                        "volumeMounts": [{"name": "state", "mountPath": STATE_MOUNT}],
                        "resources": {"requests": resources, "limits": resources},
                        "readinessProbe": {
                            "httpGet": {"path": "/readyz", "port": "http"},
                            "periodSeconds": 5,
                            "failureThreshold": 3,
                        },
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "initialDelaySeconds": 10,
                            "periodSeconds": 10,
                            "failureThreshold": 3,
                        },
                    }],
                    "volumes": [{
                        "name": "state",
                        "persistentVolumeClaim": {"claimName": state_claim(&p.project)},
                    }],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    });
    let hpa = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": p.replicas,
            "maxReplicas": p.max_replicas.max(p.replicas),
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": p.cpu_target_percent}},
            }],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": SCALE_DOWN_STABILIZATION_S}},
        },
    });
    let mut out = String::new();
    for (i, doc) in [deployment, service, hpa].iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(doc)?);
    }
    Ok(out)
}

fn to_yaml(v: &Value) -> Result<String, String> {
    serde_yaml::to_string(v).map_err(|e| format!("cannot write YAML: {e}"))
}

/// The autoscaler's CPU target: the CPU a replica measured at its share of the SLA
/// throughput, as a percentage of its request (10 to 95).
pub fn cpu_target_percent(cpu_ms_per_request: f64, share_per_s: f64, cpu_millicores: u64) -> u32 {
    let used = cpu_ms_per_request * share_per_s; // millicores
    let pct = 100.0 * used / cpu_millicores.max(1) as f64;
    pct.round().clamp(10.0, 95.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_1123() {
        assert_eq!(dns_name(&["fraud", "fraud_api"]), "fraud-fraud-api");
        assert_eq!(dns_name(&["My__Proj", "x."]), "my-proj-x");
        assert_eq!(dns_name(&[&"a".repeat(80)]).len(), 63);
    }

    #[test]
    fn the_target_is_the_measured_share_of_the_request() {
        // 0.2 ms a request at 1,000/s is 200 millicores of a 400m request: 50 %.
        assert_eq!(cpu_target_percent(0.2, 1000.0, 400), 50);
        assert_eq!(cpu_target_percent(0.0, 1000.0, 400), 10);
        assert_eq!(cpu_target_percent(5.0, 1000.0, 400), 95);
    }
}
