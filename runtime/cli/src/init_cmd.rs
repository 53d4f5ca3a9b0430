//! `mlpc init [DIR] [--template fraud|minimal]`, which writes a working project, and `mlpc sql
//! FILE [--as-of DATE]`, which runs its seeded data generator. A project made by `mlpc init`
//! has its specs, a data generator, the training script, the requirements of the Python
//! environment its pipeline declares, a `.gitignore` and a README whose commands run it from
//! its folder with nothing else set up. `fraud` is examples/fraud itself (its pipeline given
//! `python = requirements("requirements.txt")`); `minimal` is one entity, source, view, model,
//! pipeline and deployment. Existing files are never overwritten.

use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `mlpc init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Folder to write the project into (made when missing; no existing file is overwritten).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// What to start from: the fraud example (features, on-demand features, a gated training
    /// pipeline, deployments with an SLA, a monitor) or a minimal project.
    #[arg(long, value_enum, default_value_t = Template::Fraud)]
    template: Template,
}

/// `mlpc sql`.
#[derive(Debug, Args)]
pub(crate) struct SqlArgs {
    /// The SQL script (run by DuckDB from its own folder, so relative paths land beside it).
    file: PathBuf,
    /// End the generator's timeline here (`2026-04-01`, `2026-04-01 12:00:00`, UTC) instead
    /// of now: the script's `as_of` variable.
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
}

/// The projects `mlpc init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Template {
    /// examples/fraud: card-payment fraud scoring.
    Fraud,
    /// One entity, source, view, model, pipeline and deployment.
    Minimal,
}

/// The requirements of both templates' training: the file scripts/bootstrap.sh builds the
/// repository's venv from, so that its cached venv serves both.
const REQUIREMENTS: &str = include_str!("../../../examples/fraud/requirements.txt");
const GITIGNORE: &str = include_str!("../templates/gitignore");
/// The line that gives the fraud example's pipeline its own Python environment.
const FRAUD_PIPELINE: &str = "pipeline train_fraud {\n";

/// The files of `template`, by path in the project, with their text.
pub(crate) fn template_files(template: Template) -> Vec<(&'static str, String)> {
    let common = [
        ("requirements.txt", REQUIREMENTS.to_string()),
        (".gitignore", GITIGNORE.to_string()),
    ];
    let own: Vec<(&'static str, String)> = match template {
        Template::Fraud => vec![
            (
                "project.mlp",
                include_str!("../../../examples/fraud/project.mlp").into(),
            ),
            (
                "features.mlp",
                include_str!("../../../examples/fraud/features.mlp").into(),
            ),
            (
                "models.mlp",
                include_str!("../../../examples/fraud/models.mlp").replacen(
                    FRAUD_PIPELINE,
                    &format!("{FRAUD_PIPELINE}  python = requirements(\"requirements.txt\")\n\n"),
                    1,
                ),
            ),
            (
                "serving.mlp",
                include_str!("../../../examples/fraud/serving.mlp").into(),
            ),
            (
                "generate.sql",
                include_str!("../../../examples/fraud/generate.sql").into(),
            ),
            (
                "train.py",
                include_str!("../../../examples/fraud/train.py").into(),
            ),
            (
                "env/dev.yaml",
                include_str!("../../../examples/fraud/env/dev.yaml").into(),
            ),
            (
                "env/prod.yaml",
                include_str!("../../../examples/fraud/env/prod.yaml").into(),
            ),
            (
                "README.md",
                include_str!("../templates/fraud/README.md").into(),
            ),
        ],
        Template::Minimal => vec![
            (
                "project.mlp",
                include_str!("../templates/minimal/project.mlp").into(),
            ),
            (
                "generate.sql",
                include_str!("../templates/minimal/generate.sql").into(),
            ),
            (
                "train.py",
                include_str!("../templates/minimal/train.py").into(),
            ),
            (
                "README.md",
                include_str!("../templates/minimal/README.md").into(),
            ),
        ],
    };
    own.into_iter().chain(common).collect()
}

/// Writes `files` under `dir` (and an empty `data/` for the generator), refusing before
/// writing anything when one of them exists; the paths written.
fn write_project(dir: &Path, files: &[(&str, String)]) -> Result<Vec<PathBuf>, String> {
    let taken: Vec<String> = files
        .iter()
        .map(|(p, _)| dir.join(p))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "not overwriting what is there: {}; choose an empty folder",
            taken.join(", ")
        ));
    }
    let mut written = Vec::with_capacity(files.len());
    for (path, text) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        // `create_new`: a file that appeared since the check above is not overwritten either.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
        written.push(target);
    }
    let data = dir.join("data");
    std::fs::create_dir_all(&data)
        .map_err(|e| format!("cannot create `{}`: {e}", data.display()))?;
    Ok(written)
}

/// `mlpc init`.
pub(crate) fn init(args: &InitArgs) -> ExitCode {
    let files = template_files(args.template);
    match write_project(&args.dir, &files) {
        Ok(written) => {
            let name = match args.template {
                Template::Fraud => "fraud",
                Template::Minimal => "minimal",
            };
            println!(
                "wrote a `{name}` project in {} ({} files); its README.md runs it:",
                args.dir.display(),
                written.len()
            );
            println!(
                "  cd {} && mlpc sql generate.sql && mlpc check",
                args.dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: mlpc init: {e}");
            ExitCode::from(1)
        }
    }
}

/// `mlpc sql`.
pub(crate) fn sql(args: &SqlArgs) -> ExitCode {
    match mlp_features::script::run_file(&args.file, args.as_of.as_deref()) {
        Ok(()) => {
            eprintln!("ran {}", args.file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: mlpc sql: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fraud_template_gives_its_pipeline_the_requirements() {
        let files = template_files(Template::Fraud);
        let models = files
            .iter()
            .find(|(p, _)| *p == "models.mlp")
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        assert!(
            models.contains(
                "pipeline train_fraud {\n  python = requirements(\"requirements.txt\")\n"
            ),
            "{models}"
        );
    }

    #[test]
    fn nothing_is_written_over_an_existing_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("train.py"), "mine").unwrap_or_else(|e| panic!("{e}"));
        let err = write_project(dir.path(), &template_files(Template::Minimal))
            .err()
            .unwrap_or_default();
        assert!(err.contains("not overwriting"), "{err}");
        assert!(err.contains("train.py"), "{err}");
        assert!(!dir.path().join("project.mlp").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("train.py")).unwrap_or_default(),
            "mine"
        );
    }
}
