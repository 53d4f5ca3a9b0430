//! `mlpc suggest`: sizes a deployment to its SLA by measuring its real serving path (a
//! child `mlp-serve` on loopback, traffic from the project's own rows), searching the
//! knobs that change its cost, confirming the winner, and keeping, writing and exporting
//! the result (`docs/suggest.md`).

mod child;
pub mod k8s;
pub mod k8s_cmd;
mod report;
mod search;
pub mod store;
mod traffic;
mod write;

use crate::Format;
use clap::Args;
use mlp_ir::{Plan, Spec};
use mlpc_shared::{applied_plan, fail, print_json, split_dir};
use report::{Confirmation, GpuChoice, Machine, Report, Suggestion, Unreachable};
use search::{Objectives, Point, SearchConfig};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code when no configuration meets the SLA.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code when the winner did not hold the SLA in its confirmation run.
pub const EXIT_NOT_CONFIRMED: u8 = 5;
/// Memory margin over the measured peak RSS.
const MEMORY_MARGIN: f64 = 0.25;

/// `mlpc suggest`.
#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// `[DIR] DEPLOYMENT`: the project folder (default `.`) and the deployment; with
    /// `--show`, the deployment is optional.
    #[arg(value_name = "[DIR] DEPLOYMENT", num_args = 0..=2)]
    pub args: Vec<String>,
    /// Time the search may take (the confirmation run comes after it).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub budget: Duration,
    /// How long the confirmation run sends traffic.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub confirm: Duration,
    /// A table for people, or the report as JSON (specs/suggest.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write Kubernetes YAML (Deployment, Service, HorizontalPodAutoscaler) for the
    /// confirmed suggestion to FILE.
    #[arg(long, value_name = "FILE")]
    pub k8s: Option<std::path::PathBuf>,
    /// The container image of the Kubernetes Deployment (with --k8s).
    #[arg(long, default_value = "mlp-serve:latest")]
    pub image: String,
    /// Write the confirmed suggestion into the deployment's spec: `batching { }`, `replicas`
    /// and `resources { }`, through the formatter, keeping comments.
    #[arg(long)]
    pub write: bool,
    /// Replicas at least (for availability).
    #[arg(long, default_value_t = 2)]
    pub min_replicas: u64,
    /// List the suggestions kept in DIR/.mlp/suggestions instead of measuring.
    #[arg(long)]
    pub show: bool,
    /// Print the JSON Schema of the report instead (nothing is read).
    #[arg(long)]
    pub schema: bool,
}

/// Runs `mlpc suggest`.
pub fn suggest(a: &SuggestArgs) -> ExitCode {
    if a.schema {
        let mut schema = schemars::schema_for!(Report);
        schema.insert(
            "$id".into(),
            "https://mlp.dev/specs/suggest.schema.json".into(),
        );
        schema.insert(
            "description".into(),
            "The report of `mlpc suggest --format json` (and each of `mlpc suggest --show --format json`'s array): the machine, every configuration tried with its capacity, latency, CPU and memory, and the confirmed suggestion, or why the SLA cannot be met.".into(),
        );
        return match print_json(serde_json::to_string_pretty(&schema.to_value())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(c) => c,
        };
    }
    let (dir, rest) = if a.show {
        split_dir(&a.args, 0, 1)
    } else {
        split_dir(&a.args, 1, 1)
    };
    if a.show {
        return store::show(&dir, rest.first().map(String::as_str), a.format);
    }
    let Some(deployment) = rest.first() else {
        return fail("name the deployment: `mlpc suggest [DIR] DEPLOYMENT`");
    };
    let plan = match applied_plan(&dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let done = measure(&dir, &plan, deployment, a)
        .and_then(|(report, bodies)| finish(&dir, &plan, &report, &bodies, a));
    match done {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// The deployment's objectives: its SLA's latency targets and throughput (both needed).
fn objectives(plan: &Plan, deployment: &str) -> Result<Objectives, String> {
    let Some(Spec::Deployment { sla, .. }) = plan.deployment(deployment).map(|r| &r.spec) else {
        return Err(format!("no deployment `{deployment}` in the applied plan"));
    };
    let Some(t) = sla.throughput_per_s else {
        return Err(format!(
            "deployment `{deployment}` declares no `sla {{ throughput = ... }}`: a suggestion sizes a deployment to a throughput; add one (e.g. `throughput = 2000/s`) and `mlpc apply`"
        ));
    };
    if sla.latency_ms.is_empty() {
        return Err(format!(
            "deployment `{deployment}` declares no latency target in its `sla {{ }}` (e.g. `latency_p99 = 20ms`)"
        ));
    }
    Ok(Objectives {
        latency_ms: sla.latency_ms.clone(),
        throughput_per_s: t,
        error_rate: sla.error_rate.unwrap_or(search::DEFAULT_ERROR_RATE),
    })
}

/// The versions the deployment's model references resolve to now.
fn model_versions(dir: &Path, plan: &Plan, deployment: &str) -> Result<Vec<String>, String> {
    let reg = mlp_registry::Registry::open(dir).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in traffic::model_refs(plan, deployment)? {
        let sel = match &r.version {
            mlp_ir::VersionSel::Version(v) => v.to_string(),
            mlp_ir::VersionSel::Alias(a) => a.clone(),
        };
        let v = reg
            .resolve(&r.model, &sel)
            .map_err(|e| format!("`{}@{sel}`: {e}", r.model))?;
        let text = format!("{}@{}", r.model, v.version);
        if !out.contains(&text) {
            out.push(text);
        }
    }
    Ok(out)
}

/// This machine: cores, CPU model, GPU, and a fingerprint of the three.
fn machine() -> Machine {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, m)| m.trim().to_string());
    let gpu = std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .map(|v| v.lines().next().unwrap_or("NVIDIA").trim().to_string());
    let fingerprint = store::fingerprint(&format!("{cores}|{cpu_model}|{gpu:?}"));
    Machine {
        cores,
        cpu_model,
        gpu,
        fingerprint,
        note: "the load generator runs on the same cores as the server, so each capacity is a lower bound of what a replica alone reaches".into(),
    }
}

/// Whether CUDA points are tried, and the GPU answer when they are not.
fn cuda_choice(plan: &Plan, deployment: &str, m: &Machine) -> (bool, Option<GpuChoice>) {
    let device = match plan.deployment(deployment).map(|r| &r.spec) {
        Some(Spec::Deployment { device, .. }) => device.clone(),
        _ => "auto".into(),
    };
    if device == "cpu" {
        return (
            false,
            Some(GpuChoice {
                use_gpu: false,
                reason: "the deployment says `device = cpu`".into(),
            }),
        );
    }
    if m.gpu.is_none() {
        return (
            false,
            Some(GpuChoice {
                use_gpu: false,
                reason: "this machine has no GPU, so CUDA was not measured; run `mlpc suggest` on a GPU machine to compare".into(),
            }),
        );
    }
    (true, None)
}

/// Measures `deployment`: the search, then the winner's confirmation or, without one, why
/// the SLA cannot be met. Answers the report and the traffic it sent.
fn measure(
    dir: &Path,
    plan: &Plan,
    deployment: &str,
    a: &SuggestArgs,
) -> Result<(Report, Vec<String>), String> {
    let objectives = objectives(plan, deployment)?;
    let model_versions = model_versions(dir, plan, deployment)?;
    let traffic = traffic::build(dir, plan, deployment)?;
    let machine = machine();
    let (cuda, gpu_fixed) = cuda_choice(plan, deployment, &machine);
    let budget = a.budget.as_secs_f64();
    let cfg = SearchConfig {
        dir,
        deployment,
        objectives: &objectives,
        bodies: &traffic.bodies,
        // Two seconds a run at the default budget; more when there is time.
        probe_seconds: (budget / 60.0).clamp(1.0, 5.0),
        cuda,
        cores: machine.cores,
        min_replicas: a.min_replicas.max(1),
        memory_margin: MEMORY_MARGIN,
    };
    let bar = progress(a.format, budget);
    let started = Instant::now();
    let outcome = search::search(&cfg, budget, &|p: &Point| {
        if let Some(b) = &bar {
            b.set_position(started.elapsed().as_secs().min(budget as u64));
            b.println(format!(
                "  {}: capacity {:.0}/s",
                p.knobs.label(),
                p.capacity_per_s
            ));
        }
    });
    let search_s = started.elapsed().as_secs_f64();
    let mut report = Report {
        format_version: report::FORMAT_VERSION.into(),
        deployment: deployment.to_string(),
        model_versions,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine,
        objectives: objectives.clone(),
        traffic: traffic.source.clone(),
        budget_s: budget,
        search_s: (search_s * 10.0).round() / 10.0,
        budget_exhausted: outcome.budget_exhausted,
        target_utilization: search::TARGET_UTILIZATION,
        min_replicas: cfg.min_replicas,
        memory_margin: MEMORY_MARGIN,
        outcome: String::new(),
        points: outcome.points.clone(),
        suggestion: None,
        unreachable: None,
        confirmation: None,
    };
    match outcome.winner {
        Some(w) => {
            let p = &outcome.points[w];
            let Some(sizing) = p.sizing.clone() else {
                return Err("the winner has no sizing".into());
            };
            if let Some(b) = &bar {
                b.set_message("confirming");
            }
            let confirmation = confirm(&cfg, p, &sizing, a.confirm.as_secs_f64())?;
            let cuda_tried = outcome.points.iter().any(|x| x.knobs.device == "cuda");
            let gpu = gpu_fixed.clone().unwrap_or_else(|| GpuChoice {
                use_gpu: p.knobs.device == "cuda",
                reason: match (p.knobs.device == "cuda", cuda_tried) {
                    (true, _) => "CUDA needed fewer cores for the throughput than the CPU".into(),
                    (false, true) => {
                        "CUDA did not need fewer cores for the throughput than the CPU".into()
                    }
                    (false, false) => "the budget ended the search before CUDA was measured; give it a larger --budget".into(),
                },
            });
            report.outcome = if confirmation.holds {
                "suggested".into()
            } else {
                "confirmation_failed".into()
            };
            report.suggestion = Some(Suggestion {
                knobs: p.knobs.clone(),
                capacity_per_s: p.capacity_per_s,
                sizing,
                gpu,
                why: outcome.why.clone(),
            });
            report.confirmation = Some(confirmation);
        }
        None => {
            report.outcome = "unreachable".into();
            report.unreachable = Some(unreachable(&cfg, &outcome.points, &traffic));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok((report, traffic.bodies))
}

/// Keeps, prints, and (for a confirmed suggestion) exports and writes `report`; answers the
/// exit code.
fn finish(
    dir: &Path,
    plan: &Plan,
    report: &Report,
    bodies: &[String],
    a: &SuggestArgs,
) -> Result<ExitCode, String> {
    let deployment = report.deployment.as_str();
    store::save(dir, report, bodies)?;
    match a.format {
        Format::Json => {
            if let Err(c) = print_json(serde_json::to_string_pretty(report)) {
                return Ok(c);
            }
        }
        Format::Human => print!("{}", report::human(report)),
    }
    match report.outcome.as_str() {
        "suggested" => {
            if let (Some(path), Some(s)) = (&a.k8s, &report.suggestion) {
                let pod = pod_of(plan, report, s, &a.image);
                let yaml = k8s::render(&pod)?;
                std::fs::write(path, yaml)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!("wrote {}", path.display());
                // A sizing report, written anyway; the pods themselves would refuse.
                if let Some(why) = mlpc_shared::replicas_problem(plan, pod.max_replicas) {
                    eprintln!("warning: these pods will refuse to start: {why}");
                }
                if !a.write && !spec_has(plan, deployment, s) {
                    eprintln!(
                        "note: the pods serve the applied spec's batching and threads, which differ from the suggestion's; run with --write and `mlpc apply` so that they serve the suggested ones"
                    );
                }
            }
            if a.write {
                if let Some(s) = &report.suggestion {
                    let file = write::write_suggestion(dir, plan, deployment, s)?;
                    eprintln!(
                        "wrote the suggestion into {} (run `mlpc plan` and `mlpc apply` to serve with it)",
                        file.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        "unreachable" => Ok(ExitCode::from(EXIT_UNREACHABLE)),
        _ => Ok(ExitCode::from(EXIT_NOT_CONFIRMED)),
    }
}

/// The pods of a confirmed suggestion: its replicas, resources and workers, and an
/// autoscaler CPU target from the CPU the winner measured at one replica's share.
fn pod_of(plan: &Plan, r: &Report, s: &Suggestion, image: &str) -> k8s::Pod {
    let cpu_ms = r
        .points
        .iter()
        .find(|p| p.knobs == s.knobs)
        .and_then(|p| p.cpu_ms_per_request)
        .unwrap_or(0.0);
    let share = r.objectives.throughput_per_s / s.sizing.replicas.max(1) as f64;
    k8s::Pod {
        project: plan.project.clone(),
        deployment: r.deployment.clone(),
        image: image.to_string(),
        replicas: s.sizing.replicas,
        max_replicas: (s.sizing.replicas * 3).max(s.sizing.replicas + 2),
        cpu_millicores: s.sizing.cpu_millicores,
        memory_mib: s.sizing.memory_mib,
        workers: s.knobs.workers as u64,
        cpu_target_percent: k8s::cpu_target_percent(cpu_ms, share, s.sizing.cpu_millicores),
    }
}

/// Whether the applied spec of `deployment` already states the suggestion's batching,
/// threads and workers.
fn spec_has(plan: &Plan, deployment: &str, s: &Suggestion) -> bool {
    let Some(Spec::Deployment {
        batching,
        resources,
        ..
    }) = plan.deployment(deployment).map(|r| &r.spec)
    else {
        return false;
    };
    let b = batching.as_ref();
    let r = resources.clone().unwrap_or_default();
    b.map(|b| b.max_batch) == Some(s.knobs.max_batch)
        && b.map(|b| b.max_delay_ms) == Some(s.knobs.max_delay_ms)
        && r.threads == Some(s.knobs.threads)
        && r.intra_op_threads == Some(s.knobs.intra_op_threads)
        && r.workers == Some(s.knobs.workers as u64)
}

/// A progress bar over the budget on a terminal; none in CI or with `--format json`.
fn progress(format: Format, budget: f64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal()
        || std::env::var_os("CI").is_some()
        || matches!(format, Format::Json)
    {
        return None;
    }
    let bar = indicatif::ProgressBar::new(budget as u64);
    let style =
        indicatif::ProgressStyle::with_template("{spinner} searching {bar:30} {pos}/{len} s {msg}")
            .ok()?;
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// Runs the winner at one replica's share of the SLA throughput for `seconds`.
fn confirm(
    cfg: &SearchConfig,
    p: &Point,
    sizing: &search::Sizing,
    seconds: f64,
) -> Result<Confirmation, String> {
    let server = child::ChildServer::start(
        cfg.dir,
        p.knobs.workers,
        &search::tuning_of(&p.knobs, cfg.deployment),
    )?;
    let rate = cfg.objectives.throughput_per_s / sizing.replicas as f64;
    let r = mlp_loadgen::run(&mlp_loadgen::LoadSpec {
        url: format!("{}/v1/deployments/{}/predict", server.base, cfg.deployment),
        bodies: cfg.bodies.to_vec(),
        clients: 64,
        seconds,
        rate,
        // Past the server's first prediction-log flushes (one a second), which open the
        // writer, and the online store's first reads.
        warmup: 3.0,
    });
    server.stop();
    let probe = cfg.probe(&r, rate);
    Ok(Confirmation {
        seconds,
        holds: probe.holds,
        probe,
    })
}

/// Why nothing met the SLA: on the nearest point, one request at a time, the HTTP round
/// trip, online features alone and the whole prediction; the blocker is the first that
/// alone is over the target, or queueing when a lone request meets it.
fn unreachable(cfg: &SearchConfig, points: &[Point], t: &traffic::Traffic) -> Unreachable {
    // The nearest: the lowest ratio of a latency percentile to its target, over its probes.
    let ratio = |p: &Point| {
        p.probes
            .iter()
            .filter_map(|pr| {
                cfg.objectives
                    .latency_ms
                    .iter()
                    .filter_map(|(k, target)| pr.latency_ms.get(k).map(|v| v / target))
                    .reduce(f64::max)
            })
            .reduce(f64::min)
            .unwrap_or(f64::INFINITY)
    };
    let nearest = (0..points.len())
        .min_by(|a, b| ratio(&points[*a]).total_cmp(&ratio(&points[*b])))
        .unwrap_or(0);
    let (name, target) = cfg
        .objectives
        .latency_ms
        .iter()
        .next()
        .map_or(("p99".to_string(), 0.0), |(k, v)| (k.clone(), *v));
    let mut breakdown = BTreeMap::new();
    let lone = |url: String, bodies: Vec<String>| {
        let r = mlp_loadgen::run(&mlp_loadgen::LoadSpec {
            url,
            bodies,
            clients: 1,
            seconds: 1.0,
            rate: 0.0,
            warmup: 0.3,
        });
        (r.quantile_ms(0.5) * 1000.0).round() / 1000.0
    };
    if let Some(p) = points.get(nearest) {
        if let Ok(server) = child::ChildServer::start(
            cfg.dir,
            p.knobs.workers,
            &search::tuning_of(&p.knobs, cfg.deployment),
        ) {
            breakdown.insert("http".to_string(), lone_get(&server.base));
            if let Some(fb) = &t.features_body {
                breakdown.insert(
                    "features".to_string(),
                    lone(
                        format!("{}/v1/features/online", server.base),
                        vec![fb.clone()],
                    ),
                );
            }
            breakdown.insert(
                "predict".to_string(),
                lone(
                    format!("{}/v1/deployments/{}/predict", server.base, cfg.deployment),
                    cfg.bodies.to_vec(),
                ),
            );
            server.stop();
        }
    }
    let get = |k: &str| breakdown.get(k).copied().unwrap_or(f64::NAN);
    let (blocker, explanation) = if get("http") >= target {
        (
            "http",
            format!(
                "one HTTP round trip alone takes {:.3} ms (p50, one request at a time), over the {name} target of {target} ms: no configuration of the server can answer faster than the network stack",
                get("http")
            ),
        )
    } else if get("features") >= target {
        (
            "features",
            format!(
                "online features alone take {:.3} ms (p50, one request at a time), over the {name} target of {target} ms",
                get("features")
            ),
        )
    } else if get("predict") >= target {
        (
            "compute",
            format!(
                "one prediction takes {:.3} ms (p50, one request at a time: features, the model graph and the log), over the {name} target of {target} ms",
                get("predict")
            ),
        )
    } else {
        (
            "queueing",
            format!(
                "a lone prediction takes {:.3} ms (p50), under the {name} target of {target} ms, but under load the {name} was over it at every rate tried: requests wait in queues (batching, workers) longer than the target allows",
                get("predict")
            ),
        )
    };
    Unreachable {
        nearest,
        blocker: blocker.into(),
        breakdown_ms: breakdown,
        explanation,
    }
}

/// The p50 of `GET /healthz`, one request at a time for a second, in ms.
fn lone_get(base: &str) -> f64 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}/healthz");
    let start = Instant::now();
    let mut lat = Vec::new();
    while start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        if agent.get(&url).call().is_ok() {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    lat.get(lat.len() / 2)
        .map_or(f64::NAN, |v| (v * 1000.0).round() / 1000.0)
}
