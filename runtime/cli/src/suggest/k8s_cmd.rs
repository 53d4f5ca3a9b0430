//! `mlpc k8s` and `mlpc export k8s`: Kubernetes YAML for one deployment, or every one, of the
//! applied plan, from their `replicas` and `resources { cpu, memory, workers }` (what
//! `mlpc suggest --write` puts there).

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

/// The manifests' settings for deployment `name` of `plan`, from its `replicas` and
/// `resources { cpu, memory, workers }`; why not when it has none or does not exist.
fn pod_of(
    plan: &mlp_ir::Plan,
    dir: &std::path::Path,
    name: &str,
    image: &str,
    cpu_target: u32,
) -> Result<k8s::Pod, String> {
    let Some(Spec::Deployment {
        replicas,
        resources,
        ..
    }) = plan.deployment(name).map(|r| &r.spec)
    else {
        return Err(format!("no deployment `{name}` in the applied plan"));
    };
    let r = resources.clone().unwrap_or_default();
    let (Some(cpu), Some(memory)) = (r.cpu, r.memory_bytes) else {
        return Err(format!(
            "deployment `{name}` states no `resources {{ cpu  memory }}`: Kubernetes needs them for requests, limits and the autoscaler; run `mlpc suggest {} {name} --write` to measure them, or write them, then `mlpc apply`",
            dir.display()
        ));
    };
    if !(1..=100).contains(&cpu_target) {
        return Err("--cpu-target is a percentage from 1 to 100".into());
    }
    let replicas = replicas.unwrap_or(2);
    let max_replicas = (replicas * 3).max(replicas + 2);
    if let Some(why) = mlpc_shared::replicas_problem(plan, max_replicas) {
        return Err(format!("deployment `{name}`: {why}"));
    }
    Ok(k8s::Pod {
        project: plan.project.clone(),
        deployment: name.to_string(),
        image: image.to_string(),
        replicas,
        max_replicas,
        cpu_millicores: ((cpu * 1000.0).ceil() as u64).max(1),
        memory_mib: memory.div_ceil(1_048_576).max(1),
        workers: r.workers.unwrap_or(2),
        cpu_target_percent: cpu_target,
    })
}

/// Writes `yaml` to `out`, or to stdout.
pub(crate) fn emit(yaml: &str, out: Option<&PathBuf>) -> ExitCode {
    match out {
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
    match pod_of(&plan, &dir, name, &a.image, a.cpu_target).and_then(|p| k8s::render(&p)) {
        Ok(yaml) => emit(&yaml, a.out.as_ref()),
        Err(e) => fail(e),
    }
}

/// `mlpc export k8s`.
#[derive(Debug, clap::Args)]
pub struct ExportK8sArgs {
    /// `[DIR] [DEPLOYMENT...]`: the project folder (default `.`) and deployments (default:
    /// every deployment of the applied plan).
    #[arg(value_name = "[DIR] [DEPLOYMENT...]")]
    pub args: Vec<String>,
    /// The container image (the root Dockerfile's, with the applied project at `/project`).
    #[arg(long)]
    pub image: String,
    /// Write the YAML here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The autoscalers' CPU target, percent of the request.
    #[arg(long, default_value_t = 70)]
    pub cpu_target: u32,
}

/// Runs `mlpc export k8s`: the manifests of every deployment named (default: all), one
/// YAML stream; nothing is written when any of them cannot be (each reason is said).
pub fn export(a: &ExportK8sArgs) -> ExitCode {
    let (dir, names) = export_args(&a.args);
    let plan = match applied_plan(&dir) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let names: Vec<String> = if names.is_empty() {
        plan.resources()
            .filter(|r| matches!(r.spec, Spec::Deployment { .. }))
            .map(|r| r.name.clone())
            .collect()
    } else {
        names
    };
    if names.is_empty() {
        return fail("the applied plan has no deployment");
    }
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for name in &names {
        match pod_of(&plan, &dir, name, &a.image, a.cpu_target).and_then(|p| k8s::render(&p)) {
            Ok(yaml) => docs.push(yaml),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return fail(problems.join("\n"));
    }
    emit(&docs.join("---\n"), a.out.as_ref())
}

/// `[DIR] [DEPLOYMENT...]`: the first argument is the folder when it is one.
fn export_args(args: &[String]) -> (PathBuf, Vec<String>) {
    match args.split_first() {
        Some((first, rest)) if std::path::Path::new(first).is_dir() => {
            (PathBuf::from(first), rest.to_vec())
        }
        _ => (PathBuf::from("."), args.to_vec()),
    }
}
