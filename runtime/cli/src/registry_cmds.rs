//! `mlpc registry ...`: model versions and aliases from the command line.

use crate::run_cmds::split_dir;
use crate::state_cmds::{checked_plan, fail};
use crate::Format;
use clap::Subcommand;
use mlp_registry::{NewVersion, Registry, Version};
use mlpc_shared::print_json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `mlpc registry` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// List models, or the versions of one model, with their aliases.
    List {
        /// `[DIR] [MODEL]`: the project folder (default `.`) and a model.
        #[arg(value_name = "[DIR] [MODEL]", num_args = 0..=2)]
        args: Vec<String>,
        /// A table for people, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Print the JSON Schema of one version (specs/model-version.schema.json) instead:
        /// `show --format json` prints one, `list MODEL` and `search` an array of them.
        #[arg(long)]
        schema: bool,
    },
    /// Show one version: MODEL (the latest), MODEL@N, or MODEL@ALIAS.
    Show {
        /// `[DIR] MODEL[@REF]`.
        #[arg(value_name = "[DIR] MODEL[@REF]", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Text for people, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Point an alias (staging, production, any name but `latest`) at a version.
    Alias {
        /// `[DIR] MODEL VERSION ALIAS`.
        #[arg(value_name = "[DIR] MODEL VERSION ALIAS", num_args = 3..=4, required = true)]
        args: Vec<String>,
    },
    /// Register a TorchScript file as the next version of a model declared in the project.
    Register {
        /// `[DIR] MODEL`.
        #[arg(value_name = "[DIR] MODEL", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// The model file.
        #[arg(long, value_name = "PATH")]
        artifact: PathBuf,
        /// metrics.json: an object of numbers.
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
        /// params.json: an object.
        #[arg(long, value_name = "FILE")]
        params: Option<PathBuf>,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Find versions carrying every given tag.
    Search {
        /// Project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Only this model's versions.
        #[arg(long)]
        model: Option<String>,
        /// A tag the versions must carry (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// A table for people, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

fn tags(list: &[String]) -> Result<Vec<(String, String)>, ExitCode> {
    list.iter()
        .map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| fail(format!("--tag {t}: write KEY=VALUE")))
        })
        .collect()
}

fn print_versions(list: &[Version], format: Format) -> ExitCode {
    if matches!(format, Format::Json) {
        if let Err(code) = print_json(serde_json::to_string_pretty(list)) {
            return code;
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<20} {:>7}  {:<14} {:<27} {:<24} metrics",
        "MODEL", "VERSION", "ALIASES", "CREATED", "RUN"
    );
    for v in list {
        let metrics: Vec<String> = v.metrics.iter().map(|(k, m)| format!("{k}={m}")).collect();
        println!(
            "{:<20} {:>7}  {:<14} {:<27} {:<24} {}",
            v.model,
            v.version,
            v.aliases.join(","),
            v.created,
            v.origin.run_id.as_deref().unwrap_or("-"),
            metrics.join(" ")
        );
    }
    ExitCode::SUCCESS
}

fn show(v: &Version) {
    println!("{} version {}", v.model, v.version);
    let line = |k: &str, val: String| println!("  {k:<13} {val}");
    if !v.aliases.is_empty() {
        line("aliases", v.aliases.join(", "));
    }
    line(
        "artifact",
        format!("{} (sha256 {})", v.artifact, v.artifact_sha256),
    );
    line("created", v.created.clone());
    if let Some(run) = &v.origin.run_id {
        line(
            "made by",
            format!(
                "run {run}, pipeline {}, step {}",
                v.origin.pipeline.as_deref().unwrap_or("?"),
                v.origin.step.as_deref().unwrap_or("?")
            ),
        );
    }
    if let Some(t) = &v.training_set {
        line("training set", format!("sha256 {}", t.sha256));
        line("features", t.features.join(", "));
    }
    for (k, m) in &v.metrics {
        line("metric", format!("{k} = {m}"));
    }
    for (k, p) in &v.params {
        line("param", format!("{k} = {p}"));
    }
    for (k, t) in &v.tags {
        line("tag", format!("{k} = {t}"));
    }
    if let Some(s) = &v.signature {
        let cols = |c: &[(String, String)]| {
            c.iter()
                .map(|(n, t)| format!("{n}: {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        line("inputs", cols(&s.inputs));
        line("outputs", cols(&s.outputs));
    }
}

/// Runs a `mlpc registry` subcommand.
pub fn run(cmd: &RegistryCommand) -> ExitCode {
    match cmd {
        RegistryCommand::List { schema: true, .. } => list_schema(),
        RegistryCommand::List { args, format, .. } => list(args, *format),
        RegistryCommand::Show { args, format } => show_version(args, *format),
        RegistryCommand::Alias { args } => alias(args),
        RegistryCommand::Register {
            args,
            artifact,
            metrics,
            params,
            tags: tag_args,
        } => register(
            args,
            artifact,
            metrics.as_deref(),
            params.as_deref(),
            tag_args,
        ),
        RegistryCommand::Search {
            dir,
            model,
            tags: tag_args,
            format,
        } => search(dir, model.as_deref(), tag_args, *format),
    }
}

/// `mlpc registry list --schema`: the JSON schema of a listed version.
fn list_schema() -> ExitCode {
    let mut schema = schemars::schema_for!(Version);
    schema.insert(
        "$id".into(),
        "https://mlp.dev/specs/model-version.schema.json".into(),
    );
    if let Err(code) = print_json(serde_json::to_string_pretty(&schema.to_value())) {
        return code;
    }
    ExitCode::SUCCESS
}

/// `mlpc registry list [DIR] [MODEL]`: one model's versions, or every model with its count,
/// latest version and aliases.
fn list(args: &[String], format: Format) -> ExitCode {
    let (dir, rest) = split_dir(args, 0, 1);
    let reg = match Registry::open(&dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if let Some(model) = rest.first() {
        return match reg.list(Some(model)) {
            Ok(l) if l.is_empty() => fail(format!("model `{model}` has no registered version")),
            Ok(l) => print_versions(&l, format),
            Err(e) => fail(e),
        };
    }
    let models = match reg.models() {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    if matches!(format, Format::Json) {
        let rows: Result<Vec<serde_json::Value>, _> = models
            .iter()
            .map(|(m, n, latest)| {
                reg.aliases(m).map(|aliases| serde_json::json!({"model": m, "versions": n, "latest": latest, "aliases": aliases}))
            })
            .collect();
        let rows = match rows {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        if let Err(code) = print_json(serde_json::to_string_pretty(&rows)) {
            return code;
        }
    } else if models.is_empty() {
        println!("no registered models");
    } else {
        println!("{:<20} {:>8} {:>7}  aliases", "MODEL", "VERSIONS", "LATEST");
        for (m, n, latest) in &models {
            let aliases: Vec<String> = match reg.aliases(m) {
                Ok(a) => a.iter().map(|(a, v)| format!("{a}={v}")).collect(),
                Err(e) => return fail(e),
            };
            println!("{m:<20} {n:>8} {latest:>7}  {}", aliases.join(" "));
        }
    }
    ExitCode::SUCCESS
}

/// `mlpc registry show [DIR] MODEL[@N|@ALIAS]`.
fn show_version(args: &[String], format: Format) -> ExitCode {
    let (dir, rest) = split_dir(args, 1, 1);
    let Some(r) = rest.first() else {
        return fail("name the model: MODEL, MODEL@N or MODEL@ALIAS");
    };
    let (model, reference) = mlp_registry::parse_ref(r);
    let reg = match Registry::open(&dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let v = match reg.resolve(model, reference) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    match format {
        Format::Json => {
            if let Err(code) = print_json(serde_json::to_string_pretty(&v)) {
                return code;
            }
        }
        Format::Human => show(&v),
    }
    ExitCode::SUCCESS
}

/// `mlpc registry alias [DIR] MODEL VERSION ALIAS`.
fn alias(args: &[String]) -> ExitCode {
    let (dir, rest) = split_dir(args, 3, 3);
    let [model, version, alias] = rest.as_slice() else {
        return fail("write MODEL VERSION ALIAS");
    };
    let mut reg = match Registry::open(&dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // VERSION may be a number or another reference (`latest`, an alias).
    let target = match reg.resolve(model, version) {
        Ok(v) => v.version,
        Err(e) => return fail(e),
    };
    match reg.set_alias(model, alias, target, "mlpc registry alias") {
        Ok(m) => {
            match m.from {
                Some(f) if f == m.to => {
                    println!("{model}@{alias} already is version {}", m.to)
                }
                Some(f) => println!("{model}@{alias}: version {f} -> {}", m.to),
                None => println!("{model}@{alias}: version {}", m.to),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `mlpc registry register [DIR] MODEL --artifact FILE`: checks the artifact against the
/// applied plan's model block (with the project's PyTorch where it has one), then records it.
fn register(
    args: &[String],
    artifact: &Path,
    metrics: Option<&Path>,
    params: Option<&Path>,
    tag_args: &[String],
) -> ExitCode {
    let (dir, rest) = split_dir(args, 1, 1);
    let Some(model) = rest.first() else {
        return fail("name the model");
    };
    let plan = match checked_plan(&dir, None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if plan.model(model).is_none() {
        return fail(format!(
            "the project declares no model `{model}`; declare it in a `model` block first"
        ));
    }
    let tags = match tags(tag_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let metrics = match metrics.map(mlp_registry::read_metrics).transpose() {
        Ok(m) => m.unwrap_or_default(),
        Err(e) => return fail(e),
    };
    let params = match params.map(mlp_registry::read_object).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => return fail(e),
    };
    let mut reg = match Registry::open(&dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let new = NewVersion {
        model: model.clone(),
        artifact: artifact.to_path_buf(),
        metrics,
        params,
        tags: tags.into_iter().collect::<BTreeMap<_, _>>(),
        signature: mlp_pipelines::signature(&plan, model),
        ..NewVersion::default()
    };
    if let Err(e) = mlp_pipelines::check_torchscript(artifact) {
        return fail(e);
    }
    if let (Some(_), Some(venv)) = (&new.signature, mlp_pipelines::find_venv(&dir)) {
        if let Err(e) = mlp_pipelines::check_with_torch(
            artifact,
            &plan,
            model,
            &venv.join("bin").join("python"),
        ) {
            return fail(e);
        }
    }
    match reg.register(&new) {
        Ok(r) if r.created => {
            println!("registered {model} version {}", r.version.version);
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!(
                "{model} version {} already has this artifact; nothing registered",
                r.version.version
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `mlpc registry search DIR [--model M] [--tag K=V]...`.
fn search(dir: &Path, model: Option<&str>, tag_args: &[String], format: Format) -> ExitCode {
    let tags = match tags(tag_args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let reg = match Registry::open(dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match reg.search(model, &tags) {
        Ok(l) => print_versions(&l, format),
        Err(e) => fail(e),
    }
}
