//! `mlpc k8s`: Kubernetes YAML for a deployment of the applied plan, from its `replicas`
//! and `resources { cpu, memory, workers }` (what `mlpc suggest --write` puts there).

use super::k8s;
use mlp_ir::Spec;
use mlpc_shared::{applied_plan, fail, split_dir};
use std::path::PathBuf;
use std::process::ExitCode;

/// `mlpc k8s`.
#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// `[DIR] DEPLOYMENT`: the project folder (default `.`) and the deployment.
    #[arg(value_name = "[DIR] DEPLOYMENT", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// The container image (holding the applied project at `/project`).
    #[arg(long, default_value = "mlp-serve:latest")]
    pub image: String,
    /// Write the YAML here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The autoscaler's CPU target, percent of the request.
    #[arg(long, default_value_t = 70)]
    pub cpu_target: u32,
}

/// Runs `mlpc k8s`.
pub fn k8s(a: &K8sArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 1);
    let Some(name) = rest.first() else {
        return fail("name the deployment: `mlpc k8s [DIR] DEPLOYMENT`");
    };
    let plan = match applied_plan(&dir) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let Some(Spec::Deployment {
        replicas,
        resources,
        ..
    }) = plan.deployment(name).map(|r| &r.spec)
    else {
        return fail(format!("no deployment `{name}` in the applied plan"));
    };
    let r = resources.clone().unwrap_or_default();
    let (Some(cpu), Some(memory)) = (r.cpu, r.memory_bytes) else {
        return fail(format!(
            "deployment `{name}` states no `resources {{ cpu  memory }}`: Kubernetes needs them for requests, limits and the autoscaler; run `mlpc suggest {} {name} --write` to measure them, or write them, then `mlpc apply`",
            dir.display()
        ));
    };
    if !(1..=100).contains(&a.cpu_target) {
        return fail("--cpu-target is a percentage from 1 to 100");
    }
    let replicas = replicas.unwrap_or(2);
    let pod = k8s::Pod {
        project: plan.project.clone(),
        deployment: name.clone(),
        image: a.image.clone(),
        replicas,
        max_replicas: (replicas * 3).max(replicas + 2),
        cpu_millicores: ((cpu * 1000.0).ceil() as u64).max(1),
        memory_mib: memory.div_ceil(1_048_576).max(1),
        workers: r.workers.unwrap_or(2),
        cpu_target_percent: a.cpu_target,
    };
    let yaml = match k8s::render(&pod) {
        Ok(y) => y,
        Err(e) => return fail(e),
    };
    match &a.out {
        Some(path) => match std::fs::write(path, yaml) {
            Ok(()) => {
                eprintln!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot write {}: {e}", path.display())),
        },
        None => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
    }
}
