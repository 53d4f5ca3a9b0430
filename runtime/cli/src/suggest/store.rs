//! Suggestions kept under `.mlp/suggestions/DEPLOYMENT/`, one JSON report per machine
//! fingerprint and set of model versions (a new run on the same ones replaces it):
//! `mlpc suggest --show` lists them, and `mlpc plan` notes when a deployment's SLA or model
//! versions moved since its last one.

use super::report::Report;
use crate::Format;
use mlp_ir::{Plan, Spec};
use mlpc_shared::{fail, print_json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The first 12 hex digits of `text`'s sha256.
pub fn fingerprint(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn folder(dir: &Path) -> PathBuf {
    mlp_ir::host::state_dir(dir).join("suggestions")
}

/// Keeps `r` (replacing the one for the same machine and model versions), and the traffic it
/// sent beside it (`traffic.jsonl`, one body a line: `mlp-load --bodies` takes it).
pub fn save(dir: &Path, r: &Report, bodies: &[String]) -> Result<PathBuf, String> {
    let d = folder(dir).join(&r.deployment);
    std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    let name = format!(
        "{}-{}.json",
        r.machine.fingerprint,
        fingerprint(&r.model_versions.join(","))
    );
    let path = d.join(name);
    let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    // Written whole, then renamed, so that a reader never sees half a report.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let traffic = d.join("traffic.jsonl");
    let mut lines = bodies.join("\n");
    lines.push('\n');
    std::fs::write(&traffic, lines)
        .map_err(|e| format!("cannot write {}: {e}", traffic.display()))?;
    Ok(path)
}

/// Every kept report (of `deployment`, when given), oldest first; unreadable files are
/// named on stderr and skipped.
pub fn load(dir: &Path, deployment: Option<&str>) -> Vec<Report> {
    let mut out = Vec::new();
    let Ok(deps) = std::fs::read_dir(folder(dir)) else {
        return out;
    };
    for d in deps.filter_map(Result::ok) {
        let name = d.file_name().to_string_lossy().to_string();
        if deployment.is_some_and(|x| x != name) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for f in files.filter_map(Result::ok) {
            let p = f.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Report>(&t).map_err(|e| e.to_string()))
            {
                Ok(r) => out.push(r),
                Err(e) => eprintln!("warning: skipping {}: {e}", p.display()),
            }
        }
    }
    out.sort_by(|a, b| (&a.created_at, &a.deployment).cmp(&(&b.created_at, &b.deployment)));
    out
}

/// `mlpc suggest --show`.
pub fn show(dir: &Path, deployment: Option<&str>, format: Format) -> ExitCode {
    let reports = load(dir, deployment);
    if let Format::Json = format {
        return match print_json(serde_json::to_string_pretty(&reports)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(c) => c,
        };
    }
    if reports.is_empty() {
        if let Some(d) = deployment {
            return fail(format!(
                "no suggestion kept for `{d}`: run `mlpc suggest {} {d}`",
                dir.display()
            ));
        }
        println!("no suggestion kept yet: run `mlpc suggest [DIR] DEPLOYMENT`");
        return ExitCode::SUCCESS;
    }
    println!("created               deployment        models                  machine       outcome              suggestion");
    for r in &reports {
        let s = r.suggestion.as_ref().map_or("-".to_string(), |s| {
            format!(
                "{} replicas × {}m, {}Mi; {}",
                s.sizing.replicas,
                s.sizing.cpu_millicores,
                s.sizing.memory_mib,
                s.knobs.label()
            )
        });
        println!(
            "{:<21} {:<17} {:<23} {:<13} {:<20} {s}",
            r.created_at,
            r.deployment,
            r.model_versions.join(","),
            r.machine.fingerprint,
            r.outcome
        );
    }
    ExitCode::SUCCESS
}

/// `mlpc plan`'s notes: each deployment whose SLA differs from its newest suggestion's, or
/// whose model references now resolve to other versions.
pub fn plan_notes(dir: &Path, plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    for r in plan.resources() {
        let Spec::Deployment { sla, .. } = &r.spec else {
            continue;
        };
        let Some(last) = load(dir, Some(&r.name)).pop() else {
            continue;
        };
        let mut why = Vec::new();
        let error_rate = sla.error_rate.unwrap_or(super::search::DEFAULT_ERROR_RATE);
        if sla.latency_ms != last.objectives.latency_ms
            || sla.throughput_per_s != Some(last.objectives.throughput_per_s)
            || error_rate != last.objectives.error_rate
        {
            why.push("its SLA changed".to_string());
        }
        if let Ok(now) = super::model_versions(dir, plan, &r.name) {
            if now != last.model_versions {
                why.push(format!(
                    "its models are now {} (were {})",
                    now.join(", "),
                    last.model_versions.join(", ")
                ));
            }
        }
        if !why.is_empty() {
            notes.push(format!(
                "deployment `{}`: {} since its last suggestion ({}); run `mlpc suggest {} {}` again",
                r.name,
                why.join(" and "),
                last.created_at,
                dir.display(),
                r.name
            ));
        }
    }
    notes
}
