//! A step's cache key: a hash of its definition, the content of its declared code files, the
//! parameters its command uses, the outputs of the steps it reads, and, for a training set,
//! the labels file, the source files and the definitions of the features it retrieves.

use crate::runner::Ctx;
use crate::store::{sha256_file, sha256_str, tree_hash, CacheKey};
use crate::RunError;
use mlp_ir::{InputRef, Spec, StepAction};
use std::collections::BTreeMap;

/// The features of a training set, as `view.feature` (request fields are columns of the
/// labels file and need no retrieval).
pub(crate) fn training_features(features: &[InputRef]) -> Vec<String> {
    features
        .iter()
        .filter_map(|f| match f {
            InputRef::Feature { view, feature } => Some(format!("{view}.{feature}")),
            _ => None,
        })
        .collect()
}

/// The cache key of step `i`, given the output hashes of the steps it depends on.
pub(crate) fn cache_key(
    ctx: &Ctx,
    i: usize,
    inputs: &BTreeMap<String, String>,
) -> Result<CacheKey, RunError> {
    let step = &ctx.steps[i];
    let fail = |m: String| RunError::Step(format!("step `{}`: {m}", step.name));
    let mut parts = BTreeMap::new();
    let definition = serde_json::json!({
        "action": step.action,
        "code": step.code,
        "registers": step.registers,
        "workdir": step.workdir,
        "env": step.env,
    });
    let mut def_text = definition.to_string();
    for (name, hash) in inputs {
        parts.insert(format!("input:{name}"), hash.clone());
    }
    match &step.action {
        StepAction::Run { command } => {
            if let Some(env) = &step.python {
                let (name, hash) = crate::pyenv::key_part(env, &ctx.project).map_err(fail)?;
                parts.insert(name, hash);
            }
            for c in &step.code {
                let path = ctx.project.join(c);
                if !path.exists() {
                    return Err(fail(format!(
                        "code file `{c}` does not exist (paths in `code` are relative to the project)"
                    )));
                }
                parts.insert(format!("code:{c}"), tree_hash(&path)?);
            }
            for p in crate::interp::placeholders(command) {
                if let Some(name) = p.strip_prefix("params.") {
                    let value = ctx.params.get(name).ok_or_else(|| {
                        fail(format!(
                            "`${{params.{name}}}` names no parameter of the pipeline"
                        ))
                    })?;
                    parts.insert(format!("param:{name}"), sha256_str(value));
                }
            }
        }
        StepAction::TrainingSet {
            labels, features, ..
        } => {
            parts.insert(
                format!("data:{labels}"),
                sha256_file(&ctx.project.join(labels))
                    .map_err(|e| fail(format!("labels file: {e}")))?,
            );
            // The definitions of the features and of the views and sources behind them.
            let mut views = std::collections::BTreeSet::new();
            for f in training_features(features) {
                let res = ctx
                    .plan
                    .feature_at(&f)
                    .ok_or_else(|| fail(format!("feature `{f}` is not in the plan")))?;
                def_text.push_str(&format!("\n{}={}", res.id, res.hash));
                if let Some((view, _)) = f.split_once('.') {
                    views.insert(view.to_string());
                }
            }
            for view in views {
                let Some(res) = ctx.plan.view(&view) else {
                    continue;
                };
                def_text.push_str(&format!("\n{}={}", res.id, res.hash));
                if let Spec::FeatureView {
                    source: Some(source),
                    ..
                } = &res.spec
                {
                    if let Some(src) = ctx.plan.source(source) {
                        def_text.push_str(&format!("\n{}={}", src.id, src.hash));
                    }
                    if let Some(info) = mlp_features::historical::source_info(&ctx.plan, source) {
                        let files = mlp_features::historical::source_files(&ctx.project, &info)
                            .map_err(|e| fail(format!("source `{source}`: {e}")))?;
                        for file in files {
                            let rel = file.strip_prefix(&ctx.project).map_or_else(
                                |_| file.display().to_string(),
                                |r| r.display().to_string(),
                            );
                            parts.insert(format!("data:{rel}"), sha256_file(&file)?);
                        }
                    }
                }
            }
        }
        StepAction::Materialize { .. } | StepAction::Gate { .. } => {}
    }
    parts.insert("definition".into(), sha256_str(&def_text));
    Ok(CacheKey::new(parts))
}
