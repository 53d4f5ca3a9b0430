//! `mlpc plan` and `mlpc apply`: the change set of the specs against the state catalog,
//! printed the way Terraform users expect, and applying it under the project's lock.

use crate::{report_human, Format};
use mlp_state::{render_changes, ChangeSet, SavedPlan};
use mlpc_shared::print_json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// What `--fail-on` fails on.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum FailOn {
    /// Any change with severity breaking.
    Breaking,
}

/// Options of `mlpc plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output for people or the versioned JSON change set (specs/changes.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also save the plan to FILE, for `mlpc apply FILE` to apply exactly these changes.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are (1 stays for errors).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Exit 1 when a change of this severity is present (for CI).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// Print the JSON Schema of the change set instead (no project is read).
    #[arg(long)]
    pub schema: bool,
}

/// Output of `mlpc lineage`.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum LineageFormat {
    /// The resource, then what it reads and what reads it, by distance.
    Text,
    /// specs: the `LineageView` document.
    Json,
    /// Graphviz dot.
    Dot,
}

/// Options of `mlpc lineage`.
#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// A resource id (`model.fraud_scorer`), a feature as VIEW.FEATURE
    /// (`user_stats.avg_amount_7d`), or a name that only one resource has.
    pub reference: String,
    /// Project folder.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Only what it reads, transitively.
    #[arg(long, conflicts_with = "downstream")]
    pub upstream: bool,
    /// Only what reads it, transitively (models, deployments, monitors, consumers).
    #[arg(long)]
    pub downstream: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
    pub format: LineageFormat,
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

/// `mlpc lineage`.
pub fn lineage(args: &LineageArgs) -> ExitCode {
    use mlp_state::lineage::{lineage, resolve, Walk};
    let plan = match checked_plan(&args.dir, args.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let id = match resolve(&plan, &args.reference) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let walk = match (args.upstream, args.downstream) {
        (true, _) => Walk::Upstream,
        (_, true) => Walk::Downstream,
        _ => Walk::Both,
    };
    let Some(view) = lineage(&plan, &id, walk) else {
        return fail(format!("no resource `{id}`"));
    };
    let view = if matches!(walk, Walk::Upstream) {
        view
    } else {
        match mlp_state::consumers::undeclared(&plan, &args.dir) {
            Ok(u) => view.with_undeclared(&u),
            Err(e) => {
                return fail(format!(
                    "cannot read the consumers the server has seen: {e}"
                ))
            }
        }
    };
    match args.format {
        LineageFormat::Text => print!("{}", view.to_text()),
        LineageFormat::Json => {
            if let Err(code) = print_json(serde_json::to_string_pretty(&view)) {
                return code;
            }
        }
        LineageFormat::Dot => print!("{}", view.to_dot()),
    }
    ExitCode::SUCCESS
}

/// Options of `mlpc apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Project folder, or a plan saved with `mlpc plan --out FILE`.
    #[arg(default_value = ".")]
    pub target: PathBuf,
    /// Apply without asking for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for another apply to release the project's lock, e.g. 30s.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// Read environment values from DIR/env/NAME.yaml (not with a saved plan).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The checked plan of `dir`, or the exit code after reporting its errors.
pub(crate) fn checked_plan(dir: &Path, env: Option<&str>) -> Result<mlp_ir::Plan, ExitCode> {
    let checked = mlp_driver::check_dir(dir, env);
    if checked.has_errors() {
        report_human(&checked);
        return Err(ExitCode::from(1));
    }
    checked.plan.ok_or(ExitCode::from(1))
}

pub(crate) use mlpc_shared::fail;

/// `mlpc plan`.
pub fn plan(args: &PlanArgs) -> ExitCode {
    if args.schema {
        return plan_schema();
    }
    let plan = match checked_plan(&args.dir, args.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let state = match mlp_state::Catalog::read_snapshot(&args.dir) {
        Ok(s) => s,
        // DuckDB lets one process write a database file; say who holds it when it is an apply.
        Err(e) => match mlp_state::lock(&args.dir, Duration::ZERO) {
            Err(mlp_state::ApplyError::Locked(_)) => {
                return fail("an `mlpc apply` is running on this project and holds the state; run `mlpc plan` again when it has finished")
            }
            _ => return fail(e),
        },
    };
    let mut changes = mlp_state::plan_to_changes(&plan, &state);
    changes.undeclared_consumers = match mlp_state::consumers::undeclared(&plan, &args.dir) {
        Ok(u) => u,
        Err(e) => {
            return fail(format!(
                "cannot read the consumers the server has seen: {e}"
            ))
        }
    };
    if let Err(code) = print_changes(&changes, args.format) {
        return code;
    }
    // Sizing kept by `mlpc suggest` that the source has moved away from (on stderr with
    // --format json, whose stdout is the change set alone).
    for note in crate::suggest::store::plan_notes(&args.dir, &plan) {
        match args.format {
            Format::Human => println!("\nnote: {note}"),
            Format::Json => eprintln!("note: {note}"),
        }
    }
    if let Some(out) = &args.out {
        if let Err(code) = save_plan(args, out, &changes, &plan) {
            return code;
        }
    }
    if matches!(args.fail_on, Some(FailOn::Breaking)) && changes.has_breaking() {
        eprintln!(
            "error: {} breaking change{} (--fail-on breaking)",
            changes.summary.breaking,
            if changes.summary.breaking == 1 {
                ""
            } else {
                "s"
            }
        );
        return ExitCode::from(1);
    }
    if args.detailed_exitcode && !changes.is_empty() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// `mlpc plan --schema`: the JSON schema of the change set.
fn plan_schema() -> ExitCode {
    let mut schema = schemars::schema_for!(ChangeSet);
    schema.insert(
        "$id".into(),
        "https://mlp.dev/specs/changes.schema.json".into(),
    );
    schema.insert(
        "description".into(),
        "The change set that `mlpc plan --format json` prints: each change with Terraform's `actions`, its attribute differences, what it reaches downstream and its severity.".into(),
    );
    match print_json(serde_json::to_string_pretty(&schema.to_value())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Prints the change set: for people with the consumers `mlpc serve` saw that no `consumer`
/// block declares, or as JSON.
fn print_changes(changes: &ChangeSet, format: Format) -> Result<(), ExitCode> {
    if matches!(format, Format::Json) {
        return print_json(serde_json::to_string_pretty(changes));
    }
    print!("{}", render_changes(changes, color()));
    if !changes.undeclared_consumers.is_empty() {
        println!(
            "\nUndeclared consumers seen by `mlpc serve` (declare them with a `consumer` block):"
        );
        for s in &changes.undeclared_consumers {
            println!(
                "  {} -> {}: {} request(s), last {}",
                s.consumer,
                s.deployment,
                s.requests,
                mlp_registry::rfc3339(
                    s.last_us.div_euclid(1_000_000),
                    (s.last_us.rem_euclid(1_000_000)) as u32
                )
            );
        }
    }
    Ok(())
}

/// `mlpc plan --out FILE`: the change set with the plan it was made from, for `mlpc apply
/// FILE` to apply exactly these changes.
fn save_plan(
    args: &PlanArgs,
    out: &Path,
    changes: &ChangeSet,
    plan: &mlp_ir::Plan,
) -> Result<(), ExitCode> {
    let project_dir = std::fs::canonicalize(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let saved = SavedPlan {
        project_dir,
        changes: changes.clone(),
        plan: plan.to_doc(),
    };
    // An empty file would be no plan at all: say why there is none instead.
    let text = serde_json::to_string_pretty(&saved).map_err(|e| {
        fail(format!(
            "cannot write the plan to `{}`: it cannot be made JSON: {e}",
            out.display()
        ))
    })?;
    std::fs::write(out, text)
        .map_err(|e| fail(format!("cannot write `{}`: {e}", out.display())))?;
    if matches!(args.format, Format::Human) {
        println!(
            "\nSaved the plan to {}; `mlpc apply {}` applies exactly these changes.",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

fn confirm() -> bool {
    print!("\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    // Best effort: the answer is read the same way whether or not the prompt showed.
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim() == "yes"
}

/// The feature store's apply action: a source that is created or changed must have files
/// that match its declared schema.
struct SourceCheck;

impl mlp_state::Component for SourceCheck {
    fn name(&self) -> &str {
        "the feature store"
    }

    fn apply(
        &self,
        change: &mlp_state::Change,
        plan: &mlp_ir::Plan,
        project_dir: &Path,
    ) -> Result<(), String> {
        if change.kind != "source" || change.action == mlp_state::Action::Delete {
            return Ok(());
        }
        let name = change.id.trim_start_matches("source.");
        let Some(source) = mlp_features::historical::source_info(plan, name) else {
            return Ok(());
        };
        mlp_features::schema::check_source(project_dir, name, &source).map_err(|e| e.to_string())
    }
}

/// `mlpc apply`.
pub fn apply(args: &ApplyArgs) -> ExitCode {
    let saved = args.target.is_file();
    let (dir, plan, changes): (PathBuf, mlp_ir::Plan, Option<ChangeSet>) = if saved {
        let text = match std::fs::read_to_string(&args.target) {
            Ok(t) => t,
            Err(e) => return fail(format!("cannot read `{}`: {e}", args.target.display())),
        };
        let saved: SavedPlan = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return fail(format!(
                    "`{}` is not a saved plan: {e}",
                    args.target.display()
                ))
            }
        };
        if saved.changes.format_version.split('.').next()
            != mlp_state::CHANGES_FORMAT_VERSION.split('.').next()
        {
            return fail(format!(
                "saved plan format {} is not supported",
                saved.changes.format_version
            ));
        }
        (
            saved.project_dir,
            mlp_ir::Plan::from_doc(saved.plan),
            Some(saved.changes),
        )
    } else {
        match checked_plan(&args.target, args.env.as_deref()) {
            Ok(p) => (args.target.clone(), p, None),
            Err(code) => return code,
        }
    };
    let _lock = match mlp_state::lock(&dir, args.lock_timeout) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut catalog = match mlp_state::Catalog::open(&dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let changes = match changes {
        Some(c) => c,
        None => match catalog.snapshot() {
            Ok(s) => {
                let changes = mlp_state::plan_to_changes(&plan, &s);
                print!("{}", render_changes(&changes, color()));
                if changes.is_empty() {
                    return ExitCode::SUCCESS;
                }
                if !args.auto_approve {
                    let destroyed: Vec<&str> = changes
                        .changes
                        .iter()
                        .filter(|c| c.action == mlp_state::Action::Delete)
                        .map(|c| c.id.as_str())
                        .collect();
                    if !destroyed.is_empty() {
                        println!(
                            "\nWarning: this apply destroys {} resource{}: {}",
                            destroyed.len(),
                            if destroyed.len() == 1 { "" } else { "s" },
                            destroyed.join(", ")
                        );
                    }
                    if !std::io::stdin().is_terminal() {
                        return fail("stdin is not a terminal: pass --auto-approve to apply without confirmation");
                    }
                    if !confirm() {
                        println!("\nApply cancelled.");
                        return ExitCode::from(1);
                    }
                }
                changes
            }
            Err(e) => return fail(e),
        },
    };
    match mlp_state::apply(&mut catalog, &dir, &plan, &changes, &[&SourceCheck]) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            let s = &r.changes.summary;
            println!(
                "\nApply complete! Resources: {} added, {} changed, {} destroyed. (state serial {})",
                s.add, s.change, s.destroy, r.serial
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
