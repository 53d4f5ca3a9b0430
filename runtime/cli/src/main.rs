//! `mlpc`, the mlp command line: init, sql, check, fmt, graph, ir, plan, apply, lineage, features,
//! materialize, run, the registry, drift, explain and stdlib. It links no libtorch: `serve`
//! and `score` run the serving binary `mlp-serve` (`serving.rs`). Exit codes: 0 success, 1
//! errors (bad specs and bad arguments alike), 3 dataset drift (`drift`); see
//! specs/exit-codes.md.

mod argo_cmd;
mod drift_cmd;
mod features_cmds;
mod graph;
mod init_cmd;
mod monitor_cmds;
mod registry_cmds;
mod run_cmds;
mod serving;
mod state_cmds;
mod suggest;
mod ui_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use mlp_diagnostics::{render_human, render_json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc, as in the serving binary (glibc's malloc contended under load, perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mlp: one checked spec for features, pipelines, models, deployments, monitors and consumers.
#[derive(Parser, Debug)]
#[command(
    name = "mlpc",
    version,
    about = "mlp: one checked spec for the whole life of a model (features, pipelines, models, deployments, monitors, consumers)",
    long_about = None,
    propagate_version = true,
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "\
A project is every *.mlp file in a folder (DIR, default the current folder).

Examples:
  mlpc check examples/fraud                 check a project
  mlpc check examples/fraud --env prod      ... with values from env/prod.yaml
  mlpc check . --format json                diagnostics for editors and CI
  mlpc fmt --check .                        list unformatted files (CI)
  mlpc plan . --fail-on breaking            what applying would change; fail CI on breaking
  mlpc plan . --out plan.json && mlpc apply plan.json
                                            apply exactly the changes that were shown
  mlpc graph examples/fraud --format mermaid
  mlpc explain E0101                        what a diagnostic means and how to fix it
  mlpc drift --reference ref.parquet --current cur.parquet
                                            drift per column and for the dataset

Exit codes: 0 success, 1 errors (in the specs or the arguments); `plan
--detailed-exitcode` exits 2 when there are changes; `drift` exits 3 on dataset drift;
`suggest` exits 3 when the SLA cannot be met, 5 when its suggestion failed confirmation.
Reference: specs/language.md; diagnostics: specs/error-codes.md.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Start a project: write its specs, a data generator, the training script, its Python
    /// requirements, a .gitignore and a README.
    ///
    /// `--template fraud` (the default) is the card-fraud example: features, on-demand
    /// features, a gated training pipeline, deployments with an SLA, a monitor. `--template
    /// minimal` is one entity, source, view, model, pipeline and deployment. The README's
    /// commands (generate, apply, materialize, run, serve, predict) work from DIR with nothing
    /// else set up; the pipeline's Python environment is built from requirements.txt the
    /// first time it runs. Existing files are never overwritten: nothing is written then.
    Init(init_cmd::InitArgs),
    /// Run a SQL script with DuckDB from its own folder, such as a project's data generator.
    ///
    /// `mlpc sql generate.sql` writes the seeded data of a project made by `mlpc init`, for
    /// the days up to now; `--as-of DATE` ends its timeline on DATE instead (the script's
    /// `as_of` variable), the same rows relative to it.
    Sql(init_cmd::SqlArgs),
    /// Check a project: parse, resolve names, check types, units and graphs.
    ///
    /// Reads every *.mlp file in DIR, reports every problem found (not only the first) and
    /// exits 0 when there is no error (warnings alone pass), 1 otherwise. Human output goes
    /// to stderr; `--format json` prints specs/diagnostics.schema.json on stdout.
    Check {
        /// Project folder (every *.mlp file in it).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Output for people (miette) or for editors (JSON, specs/diagnostics.schema.json).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
    /// Rewrite *.mlp files in the canonical layout, keeping every comment.
    ///
    /// Two-space indentation, aligned `=` in runs of attributes, long lists and calls broken
    /// one item a line. Formatting twice changes nothing, and formatting never changes the
    /// plan. With --check nothing is written: unformatted files are listed and the exit code
    /// is 1 if there are any.
    Fmt {
        /// Project folder, or one .mlp file.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Change nothing; list the files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Print the project's resource graph (features -> models -> deployments -> consumers).
    ///
    /// Graphviz dot (`mlpc graph | dot -Tsvg > graph.svg`) or Mermaid (for Markdown pages).
    /// The project must check without errors.
    Graph {
        /// Project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Graphviz dot or Mermaid.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
    /// Print the plan IR as versioned JSON (specs/plan.schema.json).
    Ir {
        /// Project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Print the JSON Schema of the plan document instead (no project is read).
        #[arg(long)]
        schema: bool,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
    /// Show what applying the specs would change: create, update, replace, delete.
    ///
    /// Compares the checked specs with the state in DIR/.mlp/ and prints each change with
    /// its attribute differences, everything it reaches downstream (features -> models ->
    /// deployments -> monitors -> consumers) and whether it is breaking. Changes nothing.
    Plan(state_cmds::PlanArgs),
    /// Apply the specs (or a saved plan) to the state, in dependency order.
    ///
    /// Shows the plan and asks for confirmation on a terminal (or --auto-approve). A plan saved
    /// with `mlpc plan --out FILE` applies exactly what it showed, or is refused when the state
    /// moved since. One apply at a time: the project is locked while it runs.
    Apply(state_cmds::ApplyArgs),
    /// The feature store: historical retrieval, online lookups, the skew check.
    #[command(subcommand)]
    Features(features_cmds::FeaturesCommand),
    /// Materialize feature views into the online store, incrementally, up to a time.
    ///
    /// Computes the value of every feature for the entity keys that can have changed since
    /// the last watermark, exactly as point-in-time retrieval would at the new watermark, and
    /// stores them in DIR/.mlp/online.duckdb in one transaction per view.
    Materialize(features_cmds::MaterializeArgs),
    /// Run a pipeline: its steps as a DAG, unchanged steps taken from the cache.
    ///
    /// Steps start as soon as the steps they need have finished (at most --concurrency at
    /// once); a failed step stops what depends on it while the rest finish. A step whose
    /// definition, code files, parameters and inputs are unchanged is not re-run: its stored
    /// output is reused and the summary says "cached", or says which part changed. Ctrl-C
    /// stops the running steps and records the run as cancelled (exit 130).
    Run(run_cmds::RunArgs),
    /// List pipeline runs, newest first, with their status and step counts.
    Runs(run_cmds::RunsArgs),
    /// Print the logs of a run's steps (the captured stdout and stderr, with mlp's notes).
    Logs(run_cmds::LogsArgs),
    /// List the scheduled pipelines: cron, catch-up policy, last and next tick.
    Schedules(run_cmds::SchedulesArgs),
    /// Run the project's schedules in the foreground until Ctrl-C (`mlpc serve` runs the
    /// same scheduler).
    ///
    /// A pipeline's `cron(...)` ticks start runs (one after another per pipeline). Ticks
    /// missed while no scheduler ran follow the pipeline's `catchup`: `none` (default) skips
    /// them, `latest` runs the most recent, `all` runs each (at most 100).
    Scheduler(run_cmds::SchedulesArgs),
    /// The model registry: versions, aliases, registration and search.
    #[command(subcommand)]
    Registry(registry_cmds::RegistryCommand),
    /// Monitors: evaluate them once, their alert states, their history, an HTML report.
    ///
    /// `mlpc serve` evaluates every monitor on its `every` schedule; `mlpc monitor run` does
    /// one evaluation (for cron and CI). Definitions of every metric: docs/monitoring.md.
    #[command(subcommand)]
    Monitor(monitor_cmds::MonitorCommand),
    /// Serve the deployments, online features, registry and metrics over HTTP.
    ///
    /// Each deployment loads its model from the registry (CUDA when available and asked
    /// for), warms it up, and answers `POST /v1/deployments/NAME/predict` with online and
    /// on-demand features fetched, dynamic batching on a dedicated inference thread and
    /// every prediction logged to Parquet under DIR/.mlp/predictions/. Alias moves are
    /// picked up without a restart. Also: /healthz, /readyz, /metrics (Prometheus),
    /// /v1/features/online, /v1/registry/..., the Open Inference Protocol's /v2 routes.
    /// Pipeline schedules run beside it. SIGINT or SIGTERM stops it gracefully.
    Serve(mlpc_shared::ServeArgs),
    /// The web UI alone: the project, lineage, features, models, runs and monitors.
    ///
    /// Serves /ui (read-only unless MLP_TOKEN is set) from the applied plan and the stores,
    /// without serving models; `mlpc serve` mounts the same UI with live traffic.
    Ui(ui_cmd::UiArgs),
    /// Score every row of a file with a deployment's model (batch scoring).
    ///
    /// The features are the point-in-time values at each row's timestamp (as training saw
    /// them); request fields are the file's columns of the same names. Writes the file's
    /// columns, the model's inputs and its outputs, in input order.
    Score(mlpc_shared::ScoreArgs),
    /// Size a deployment to its SLA: measure it, search its knobs, confirm, keep the result.
    ///
    /// Serves the applied deployment from a child `mlp-serve` on loopback with traffic built
    /// from the project's rows, finds each configuration's capacity (the highest open-loop
    /// rate at which the SLA holds) by bisection, searches batching, inference and intra-op
    /// threads, HTTP workers (and CUDA on a GPU machine) from the smallest configuration
    /// within --budget, picks the one with the fewest cores for the SLA's throughput, and
    /// runs it for a confirmation period. Exits 0 with a confirmed suggestion, 3 when no
    /// configuration meets the SLA, 5 when the winner failed its confirmation. docs/suggest.md.
    Suggest(suggest::SuggestArgs),
    /// Write Kubernetes YAML for a deployment from its applied `replicas` and `resources`.
    ///
    /// A Deployment (requests = limits, the /readyz and /healthz probes), a Service and an
    /// autoscaling/v2 HorizontalPodAutoscaler on CPU. `mlpc suggest --write` fills the two
    /// in from measurements; `mlpc suggest --k8s FILE` writes the same YAML directly.
    K8s(suggest::k8s_cmd::K8sArgs),
    /// Export the applied plan for another platform to run.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Show what a resource or a single feature reads and what reads it.
    ///
    /// Upstream: sources, views and features it is computed from. Downstream: on-demand
    /// features, models, pipelines, deployments, monitors and consumers that it reaches.
    Lineage(state_cmds::LineageArgs),
    /// Compare a current file with a reference: drift per column and for the dataset.
    ///
    /// Parquet or CSV. Per column: its type (numeric or categorical), the test Evidently 0.7
    /// would choose (KS, chi-square, Z-test, Wasserstein, Jensen-Shannon), the statistic,
    /// the p-value or distance, the threshold and the verdict; then the share of drifted
    /// columns, the dataset drifting at 50% or more. Exits 0 without dataset drift, 3 with
    /// it, 1 on errors. The definitions: docs/monitoring.md.
    Drift(drift_cmd::DriftArgs),
    /// Explain a diagnostic code, e.g. `mlpc explain E0101`.
    ///
    /// Prints what the diagnostic means, an example of the mistake and how to fix it
    /// (docs/errors/CODE.md). Codes are listed in specs/error-codes.md.
    Explain {
        /// The code, such as E0101 (case does not matter).
        code: String,
    },
    /// List the language's built-ins with their signatures (markdown, as docs/stdlib.md).
    Stdlib,
    /// The language server, over stdin and stdout, for editors.
    ///
    /// Diagnostics as you type, from the same checker and with the same codes and text as
    /// `mlpc check`, for every file of the project (a `.mlp` file's folder), with open
    /// buffers over the files on disk. Configure your editor to run `mlpc lsp` for `*.mlp`.
    Lsp,
}

/// `mlpc export`.
#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Kubernetes YAML for every deployment of the applied plan (or those named), one stream.
    ///
    /// For each: a Deployment of `mlpc serve` replicas of IMAGE (the root Dockerfile's, with
    /// the applied project at /project) with the `replicas` and `resources { }` that
    /// `mlpc suggest --write` wrote, a Service and a HorizontalPodAutoscaler. Nothing is
    /// written when a deployment has no `resources { cpu memory }`; each one is named.
    K8s(suggest::k8s_cmd::ExportK8sArgs),
    /// An Argo Workflow for a pipeline of the applied plan, and a CronWorkflow when it is
    /// scheduled.
    ///
    /// Each step is a container of IMAGE running `mlpc run /project PIPELINE --step NAME
    /// --run-id {{workflow.name}}`, one at a time, on the project's state volume
    /// (MLP_STATE_DIR=/state): the step cache and the run history are shared across pods.
    /// Retries and timeouts are Argo's retryStrategy and activeDeadlineSeconds; a schedule's
    /// catch-up and max_active_runs are the CronWorkflow's startingDeadlineSeconds and
    /// concurrencyPolicy.
    Argo(argo_cmd::ExportArgoArgs),
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub(crate) enum Format {
    Human,
    Json,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // When even this write fails there is nowhere left to say so; the exit code does.
            e.print().ok();
            // Help and version are successes; every argument error exits 1, never 2.
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Init(args) => init_cmd::init(&args),
        Command::Sql(args) => init_cmd::sql(&args),
        Command::Check { dir, format, env } => check(&dir, format, env.as_deref()),
        Command::Fmt { dir, check } => fmt(&dir, check),
        Command::Graph { dir, format, env } => graph_cmd(&dir, format, env.as_deref()),
        Command::Ir { schema: true, .. } => {
            let schema = mlp_ir::plan_schema();
            if let Err(code) = mlpc_shared::print_json(serde_json::to_string_pretty(&schema)) {
                return code;
            }
            ExitCode::SUCCESS
        }
        Command::Ir { dir, env, .. } => ir(&dir, env.as_deref()),
        Command::Plan(args) => state_cmds::plan(&args),
        Command::Apply(args) => state_cmds::apply(&args),
        Command::Lineage(args) => state_cmds::lineage(&args),
        Command::Features(cmd) => features_cmds::run(&cmd),
        Command::Materialize(args) => features_cmds::materialize(&args),
        Command::Run(args) => run_cmds::run(&args),
        Command::Runs(args) => run_cmds::runs(&args),
        Command::Logs(args) => run_cmds::logs(&args),
        Command::Schedules(args) => run_cmds::schedules(&args),
        Command::Scheduler(args) => run_cmds::scheduler(&args),
        Command::Registry(cmd) => registry_cmds::run(&cmd),
        Command::Monitor(cmd) => monitor_cmds::run(&cmd),
        // Checked here (help and errors are mlpc's), run by the serving binary.
        Command::Serve(_) | Command::Score(_) => serving::exec_serving(),
        Command::Drift(args) => drift_cmd::drift(&args),
        Command::Ui(args) => ui_cmd::ui(&args),
        Command::Suggest(args) => suggest::suggest(&args),
        Command::Lsp => match mlp_lsp::stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: mlpc lsp: {e}");
                ExitCode::from(1)
            }
        },
        Command::K8s(args) => suggest::k8s_cmd::k8s(&args),
        Command::Export(ExportCommand::K8s(args)) => suggest::k8s_cmd::export(&args),
        Command::Export(ExportCommand::Argo(args)) => argo_cmd::export(&args),
        Command::Explain { code } => match mlp_diagnostics::lookup(&code) {
            Some(info) => {
                print!("{}", info.doc);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: unknown diagnostic code `{code}`; codes look like E0101 (see specs/error-codes.md)");
                ExitCode::from(1)
            }
        },
        Command::Stdlib => {
            print!("{}", mlp_stdlib::markdown());
            ExitCode::SUCCESS
        }
    }
}

/// Prints the diagnostics in `format`; the exit code when the JSON report cannot be made.
fn report(checked: &mlp_driver::Checked, format: Format) -> Result<(), ExitCode> {
    match format {
        Format::Json => {
            let doc = render_json(&checked.diagnostics, &checked.map);
            mlpc_shared::print_json(serde_json::to_string_pretty(&doc))
        }
        Format::Human => {
            report_human(checked);
            Ok(())
        }
    }
}

/// Prints the diagnostics for people, on stderr.
pub(crate) fn report_human(checked: &mlp_driver::Checked) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!(
        "{}",
        render_human(&checked.diagnostics, &checked.map, color)
    );
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = checked.diagnostics.len() - errors;
    if errors > 0 {
        eprintln!(
            "error: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn check(dir: &Path, format: Format, env: Option<&str>) -> ExitCode {
    let checked = mlp_driver::check_dir(dir, env);
    if let Err(code) = report(&checked, format) {
        return code;
    }
    if checked.has_errors() {
        return ExitCode::from(1);
    }
    if let (Format::Human, Some(plan)) = (format, &checked.plan) {
        let warnings = checked.diagnostics.len();
        eprintln!(
            "ok: {} resources in {} file{}{}",
            plan.graph.node_count(),
            checked.files.len(),
            plural(checked.files.len()),
            if warnings > 0 {
                format!(", {warnings} warning{}", plural(warnings))
            } else {
                String::new()
            }
        );
    }
    ExitCode::SUCCESS
}

fn fmt(target: &Path, check: bool) -> ExitCode {
    let files = if target.is_file() {
        vec![target.to_path_buf()]
    } else {
        match mlp_driver::project_files(target) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", target.display());
                return ExitCode::from(1);
            }
        }
    };
    let mut failed = false;
    let mut changed = 0;
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", f.display());
                failed = true;
                continue;
            }
        };
        let Some(out) = mlp_driver::format_source(&text) else {
            let checked = mlp_driver::check_sources(&[(f.display().to_string(), text)], None);
            let syntax: Vec<_> = checked
                .diagnostics
                .into_iter()
                .filter(|d| d.code.starts_with("E00"))
                .collect();
            eprint!(
                "{}",
                render_human(&syntax, &checked.map, std::io::stderr().is_terminal())
            );
            eprintln!("error: `{}` does not parse; not formatted", f.display());
            failed = true;
            continue;
        };
        if out != text {
            changed += 1;
            if check {
                println!("{}", f.display());
            } else if let Err(e) = std::fs::write(&f, out) {
                eprintln!("error: cannot write `{}`: {e}", f.display());
                failed = true;
            }
        }
    }
    if failed || (check && changed > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn clean_plan(dir: &Path, env: Option<&str>) -> Option<mlp_ir::Plan> {
    let checked = mlp_driver::check_dir(dir, env);
    if checked.has_errors() {
        report_human(&checked);
        return None;
    }
    checked.plan
}

fn graph_cmd(dir: &Path, format: GraphFormat, env: Option<&str>) -> ExitCode {
    let Some(plan) = clean_plan(dir, env) else {
        return ExitCode::from(1);
    };
    let out = match format {
        GraphFormat::Dot => graph::dot(&plan),
        GraphFormat::Mermaid => graph::mermaid(&plan),
    };
    print!("{out}");
    ExitCode::SUCCESS
}

fn ir(dir: &Path, env: Option<&str>) -> ExitCode {
    let Some(plan) = clean_plan(dir, env) else {
        return ExitCode::from(1);
    };
    println!("{}", plan.to_json());
    ExitCode::SUCCESS
}
