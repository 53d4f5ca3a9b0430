//! A gate step: its `require` conditions evaluated over the metrics the steps before it
//! wrote, and, when they all hold, the promotion of the model version the run trained.

use crate::runner::Ctx;
use crate::steps::{log_line, Failure};
use mlp_features::ondemand::{eval, Kind, Val};
use mlp_ir::IrExpr;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Evaluates a gate's conditions over the metrics of the steps it reads and, when they all
/// hold, moves the alias to the version this run's training step registered.
pub(crate) async fn gate(
    ctx: &Arc<Ctx>,
    i: usize,
    require: &[mlp_ir::GateCondition],
    promote: Option<&mlp_ir::Promotion>,
    ancestors: &BTreeMap<String, String>,
    log: &Path,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    let metrics = gate_metrics(ctx, require, ancestors)?;
    for c in require {
        let get = |e: &IrExpr| match e {
            IrExpr::Feature { view, feature } => view
                .strip_suffix(".metrics")
                .and_then(|s| metrics.get(s))
                .and_then(|m| m.get(feature))
                .map_or(Val::Null, |v| Val::Float(*v)),
            _ => Val::Null,
        };
        let leaf = |_: &IrExpr| Kind::Float;
        let holds = eval(&c.expr, &get, &leaf) == Val::Bool(true);
        let values: Vec<String> = mlp_features::ondemand::leaves(&c.expr)
            .into_iter()
            .filter_map(|l| match l {
                IrExpr::Feature { view, feature } => Some(match get(l) {
                    Val::Float(v) => format!("{view}.{feature} = {v}"),
                    _ => format!("{view}.{feature} is missing"),
                }),
                _ => None,
            })
            .collect();
        let line = format!(
            "require {}: {} ({})",
            c.text,
            if holds { "holds" } else { "fails" },
            values.join(", ")
        );
        log_line(log, &line).await;
        if ctx.echo {
            println!("[{}] {line}", step.name);
        }
        if !holds {
            return Err(Failure::fatal(format!(
                "gate `{}` failed ({}){}",
                c.text,
                values.join(", "),
                promote
                    .map(|p| format!("; `{}` stays where it was", p.alias))
                    .unwrap_or_default()
            )));
        }
    }
    match promote {
        Some(p) => promote_model(ctx, i, p, ancestors, log).await,
        None => Ok(()),
    }
}

/// The metrics of every step the conditions read (`step.metrics.NAME`), from the
/// `metrics.json` in that step's output.
fn gate_metrics(
    ctx: &Ctx,
    require: &[mlp_ir::GateCondition],
    ancestors: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, BTreeMap<String, f64>>, Failure> {
    let mut metrics: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for c in require {
        for leaf in mlp_features::ondemand::leaves(&c.expr) {
            if let IrExpr::Feature { view, .. } = leaf {
                let Some(s) = view.strip_suffix(".metrics") else {
                    continue;
                };
                if metrics.contains_key(s) {
                    continue;
                }
                let hash = ancestors.get(s).ok_or_else(|| {
                    Failure::fatal(format!(
                        "gate reads `{s}.metrics` but step `{s}` has no output"
                    ))
                })?;
                let file = ctx.store.output_path(hash).join("metrics.json");
                let m = mlp_registry::read_metrics(&file).map_err(|e| {
                    Failure::fatal(format!("step `{s}` wrote no usable metrics.json: {e}"))
                })?;
                metrics.insert(s.to_string(), m);
            }
        }
    }
    Ok(metrics)
}

/// Moves `p.alias` to the registry version of the model the run's training step produced.
async fn promote_model(
    ctx: &Arc<Ctx>,
    i: usize,
    p: &mlp_ir::Promotion,
    ancestors: &BTreeMap<String, String>,
    log: &Path,
) -> Result<(), Failure> {
    let step = &ctx.steps[i];
    let trainer = ctx
        .steps
        .iter()
        .find(|s| s.registers.as_deref() == Some(p.model.as_str()))
        .map(|s| s.name.clone())
        .ok_or_else(|| Failure::fatal(format!("no step registers `{}`", p.model)))?;
    let hash = ancestors.get(&trainer).ok_or_else(|| {
        Failure::fatal(format!(
            "step `{trainer}` registers `{}` but this gate does not run after it",
            p.model
        ))
    })?;
    let model_file = ctx.store.output_path(hash).join("model.pt");
    let project = ctx.project.clone();
    let (model, alias) = (p.model.clone(), p.alias.clone());
    let reason = format!("gate `{}` of run {}", step.name, ctx.run_id);
    let moved = tokio::task::spawn_blocking(move || {
        let sha = mlp_registry::sha256_file(&model_file)?;
        let mut reg = mlp_registry::Registry::open(&project)?;
        let Some(v) = reg.find_by_artifact(&model, &sha)? else {
            return Err(mlp_registry::RegistryError::UnknownRef {
                model: model.clone(),
                reference: format!("artifact {sha}"),
                known: String::new(),
            });
        };
        reg.set_alias(&model, &alias, v.version, &reason)
    })
    .await
    .map_err(|e| Failure::fatal(format!("the promotion task failed: {e}")))?
    .map_err(|e| Failure::fatal(e.to_string()))?;
    let line = format!(
        "promoted {}@{} to version {}{}",
        moved.model,
        moved.alias,
        moved.to,
        moved
            .from
            .map(|f| format!(" (was {f})"))
            .unwrap_or_default()
    );
    log_line(log, &line).await;
    if ctx.echo {
        println!("[{}] {line}", step.name);
    }
    Ok(())
}
