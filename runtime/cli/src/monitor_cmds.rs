//! `mlpc monitor run|status|history|report`: the applied plan's monitors evaluated once (for
//! cron and CI), their alert states, their past evaluations, and an HTML report of one.

use crate::Format;
use clap::{Args, Subcommand};
use mlp_monitoring::monitor::history::{Alert, Entry};
use mlp_monitoring::monitor::{self, report_html, History, MonitorRun, Outcome, Reader};
use mlpc_shared::{applied_plan, fail, print_json, split_dir};
use std::path::Path;
use std::process::ExitCode;

/// `mlpc monitor ...`.
#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Evaluate monitors once over the window ending now (or at --at); store the results,
    /// move the alerts and notify their sinks.
    ///
    /// Exit codes: 0 every check passed; 3 a check failed; 4 none failed but some had no
    /// data (no log yet, too few rows or labels); 1 a check could not be evaluated (a column
    /// or file the spec names is missing) or the monitors could not run.
    Run(RunArgs),
    /// The alert state of every check of every monitor.
    Status(StatusArgs),
    /// Past evaluations of a monitor, oldest first.
    History(HistoryArgs),
    /// Write a self-contained HTML report of a monitor: its checks and states, each
    /// distribution check's baseline and window overlaid, each check's value over its
    /// history with the threshold.
    Report(ReportArgs),
    /// The long-lived evaluator `mlpc serve` starts: one request a line on stdin
    /// (`{"monitor": NAME, "at_us": TIME}`), one reply a line on stdout, keeping what it
    /// read between evaluations.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// `mlpc monitor worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    dir: std::path::PathBuf,
}

/// `mlpc monitor run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `[DIR] [NAME...]`: the project folder (default `.`) and monitors (default: all).
    #[arg(value_name = "[DIR] [NAME...]")]
    args: Vec<String>,
    /// The evaluation time, the end of the window (RFC 3339, e.g. 2026-11-30T12:00:00Z).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// A table for people, or JSON (an array of runs, specs/monitor-run.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print the JSON Schema of the output (specs/monitor-run.schema.json) and exit.
    #[arg(long)]
    schema: bool,
}

/// `mlpc monitor status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    dir: std::path::PathBuf,
    /// A table for people, or JSON (an array of alerts, specs/monitor-status.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print the JSON Schema of the output (specs/monitor-status.schema.json) and exit.
    #[arg(long)]
    schema: bool,
}

/// `mlpc monitor history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// `[DIR] NAME`: the project folder (default `.`) and the monitor.
    #[arg(value_name = "[DIR] NAME", num_args = 1..=2, required_unless_present = "schema")]
    args: Vec<String>,
    /// Only evaluations whose window ends at or after this time (RFC 3339) or this long
    /// ago (`24h`, `7d`).
    #[arg(long, value_name = "TIME|DURATION")]
    since: Option<String>,
    /// A table for people, or JSON (an array, specs/monitor-history.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print the JSON Schema of the output (specs/monitor-history.schema.json) and exit.
    #[arg(long)]
    schema: bool,
}

/// `mlpc monitor report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `[DIR] NAME`: the project folder (default `.`) and the monitor.
    #[arg(value_name = "[DIR] NAME", num_args = 1..=2, required = true)]
    args: Vec<String>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
}

/// Runs `mlpc monitor ...`.
pub fn run(cmd: &MonitorCommand) -> ExitCode {
    match cmd {
        MonitorCommand::Run(a) if a.schema => print_schema::<Vec<MonitorRun>>("monitor-run"),
        MonitorCommand::Status(a) if a.schema => print_schema::<Vec<Alert>>("monitor-status"),
        MonitorCommand::History(a) if a.schema => print_schema::<Vec<Entry>>("monitor-history"),
        MonitorCommand::Run(a) => run_cmd(a),
        MonitorCommand::Status(a) => status(&a.dir, a.format),
        MonitorCommand::History(a) => history(a),
        MonitorCommand::Report(a) => report(a),
        MonitorCommand::Worker(a) => worker(&a.dir),
    }
}

/// Prints the JSON Schema of `T` with the `$id` of `specs/NAME.schema.json`.
fn print_schema<T: schemars::JsonSchema>(name: &str) -> ExitCode {
    let mut schema = schemars::schema_for!(T);
    schema.insert(
        "$id".into(),
        format!("https://mlp.dev/specs/{name}.schema.json").into(),
    );
    match print_json(serde_json::to_string_pretty(&schema.to_value())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(c) => c,
    }
}

/// A time as µs since the epoch: RFC 3339, or a duration ago.
fn parse_time(s: &str, ago_ok: bool) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    if ago_ok {
        if let Ok(d) = humantime::parse_duration(s) {
            let d = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            return Ok(monitor::now_us().saturating_sub(d));
        }
    }
    Err(format!(
        "`{s}` is not a time: use RFC 3339 such as 2026-11-30T12:00:00Z{}",
        if ago_ok {
            " or a duration such as 24h"
        } else {
            ""
        }
    ))
}

fn run_cmd(a: &RunArgs) -> ExitCode {
    // `[DIR] [NAME...]`: the first argument is the folder when it is one.
    let (dir, names) = split_dir(&a.args, 0, usize::MAX);
    let dir = dir.as_path();
    let at = match a.at.as_deref().map(|s| parse_time(s, false)).transpose() {
        Ok(t) => t.unwrap_or_else(monitor::now_us),
        Err(e) => return fail(e),
    };
    let plan = match applied_plan(dir) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let names = if names.is_empty() {
        monitor::monitors(&plan)
    } else {
        names
    };
    if names.is_empty() {
        return fail("the applied plan has no monitor");
    }
    let mut reader = match Reader::new(0) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut runs = Vec::new();
    for n in &names {
        match monitor::run_monitor(&mut reader, &plan, dir, n, at) {
            Ok(r) => runs.push(r),
            Err(e) => return fail(e),
        }
    }
    match a.format {
        Format::Json => {
            if let Err(c) = print_json(serde_json::to_string_pretty(&runs)) {
                return c;
            }
        }
        Format::Human => runs.iter().for_each(print_run),
    }
    let worst = |o: Outcome| runs.iter().any(|r| r.worst() == o);
    ExitCode::from(if worst(Outcome::Error) {
        1
    } else if worst(Outcome::Fail) {
        3
    } else if worst(Outcome::NoData) {
        4
    } else {
        0
    })
}

/// `mlpc monitor worker DIR`: evaluations on request until stdin ends, with one DuckDB
/// thread (it runs beside a server). The applied plan is read again only when the state
/// catalog's files changed.
fn worker(dir: &Path) -> ExitCode {
    let mut reader = match Reader::new(1) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let state = ["state.duckdb", "state.duckdb.wal"].map(|f| mlp_ir::host::state_dir(dir).join(f));
    let stamp = || {
        state
            .iter()
            .map(|f| {
                std::fs::metadata(f)
                    .ok()
                    .map(|m| (m.len(), m.modified().ok()))
            })
            .collect::<Vec<_>>()
    };
    let mut kept: Option<(Vec<_>, std::sync::Arc<mlp_ir::Plan>)> = None;
    let mut plan = || {
        let now = stamp();
        if let Some((_, p)) = kept.as_ref().filter(|(s, _)| *s == now) {
            return Ok(std::sync::Arc::clone(p));
        }
        match mlp_state::Catalog::read_applied_plan(dir) {
            Ok(Some(p)) => {
                let p = std::sync::Arc::new(p);
                kept = Some((now, std::sync::Arc::clone(&p)));
                Ok(p)
            }
            Ok(None) => Err(format!("nothing is applied in `{}`", dir.display())),
            Err(e) => Err(e.to_string()),
        }
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match monitor::worker::serve(stdin, stdout, dir, &mut reader, &mut plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("monitor worker: {e}")),
    }
}

fn fmt_value(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| {
        if x.is_infinite() || x.abs() >= 1e4 || (x != 0.0 && x.abs() < 1e-3) {
            format!("{x:.3e}")
        } else {
            format!("{x:.4}")
        }
    })
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "FAIL",
        Outcome::NoData => "no data",
        Outcome::Error => "ERROR",
    }
}

fn print_run(r: &MonitorRun) {
    println!(
        "monitor {} on {}: window {} .. {}, {} requests, baseline {}{}",
        r.monitor,
        r.deployment,
        r.window_start,
        r.window_end,
        r.requests.map_or("no".into(), |n| n.to_string()),
        r.baseline,
        r.model_version
            .as_ref()
            .map_or(String::new(), |v| format!(", served by {v}")),
    );
    for c in &r.checks {
        let x = &c.result;
        println!(
            "  {:<8} {:<40} value {:<10} threshold {:<10} {}{}{}",
            outcome_word(x.outcome),
            x.check,
            fmt_value(x.value),
            fmt_value(x.threshold),
            c.alert.name(),
            x.method
                .as_ref()
                .map_or(String::new(), |m| format!(" ({m})")),
            x.message
                .as_ref()
                .map_or(String::new(), |m| format!(": {m}")),
        );
    }
    for n in &r.notifications {
        println!(
            "  notified {} ({}): {}",
            n.sink,
            n.status,
            if n.delivered {
                "delivered"
            } else {
                "NOT delivered (see history)"
            }
        );
    }
}

fn status(dir: &Path, format: Format) -> ExitCode {
    let alerts: Vec<Alert> = match History::open(dir).and_then(|h| h.alerts(None)) {
        Ok(a) => a,
        Err(e) => return fail(format!("monitor history: {e}")),
    };
    match format {
        Format::Json => match print_json(serde_json::to_string_pretty(&alerts)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(c) => c,
        },
        Format::Human => {
            if alerts.is_empty() {
                println!("no monitor has been evaluated yet (mlpc monitor run, or mlpc serve)");
            }
            for a in &alerts {
                println!(
                    "{:<20} {:<40} {:<9} value {:<10} since {}{}",
                    a.monitor,
                    a.check,
                    a.state.name(),
                    fmt_value(a.value),
                    monitor::alert::rfc3339(a.since_us),
                    a.message
                        .as_ref()
                        .map_or(String::new(), |m| format!(": {m}")),
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn history(a: &HistoryArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 1);
    let Some(name) = rest.into_iter().next() else {
        return fail("name the monitor: mlpc monitor history [DIR] NAME");
    };
    let since = match a.since.as_deref().map(|s| parse_time(s, true)).transpose() {
        Ok(t) => t.unwrap_or(i64::MIN),
        Err(e) => return fail(e),
    };
    let entries: Vec<Entry> = match History::open(&dir).and_then(|h| h.entries(Some(&name), since))
    {
        Ok(e) => e,
        Err(e) => return fail(format!("monitor history: {e}")),
    };
    match a.format {
        Format::Json => match print_json(serde_json::to_string_pretty(&entries)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(c) => c,
        },
        Format::Human => {
            if entries.is_empty() {
                println!("no evaluation of `{name}` in the history");
            }
            for e in &entries {
                println!(
                    "{}  {:<40} {:<8} value {:<10} threshold {:<10} {}",
                    monitor::alert::rfc3339(e.window_end_us),
                    e.result.check,
                    outcome_word(e.result.outcome),
                    fmt_value(e.result.value),
                    fmt_value(e.result.threshold),
                    e.alert_state.name(),
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn report(a: &ReportArgs) -> ExitCode {
    let (dir, rest) = split_dir(&a.args, 1, 1);
    let Some(name) = rest.into_iter().next() else {
        return fail("name the monitor: mlpc monitor report [DIR] NAME --out FILE");
    };
    if !monitor::history::path(&dir).exists() {
        return fail(format!(
            "no monitor has been evaluated in `{}` yet (no .mlp/monitors.sqlite): run `mlpc monitor run` first",
            dir.display()
        ));
    }
    // The applied plan only tells a declared monitor never evaluated from an unknown name.
    let declared = mlp_state::Catalog::read_applied_plan(&dir)
        .ok()
        .flatten()
        .map(|p| monitor::monitors(&p))
        .unwrap_or_default();
    let html = match History::open(&dir)
        .map_err(report_html::ReportError::from)
        .and_then(|h| report_html::report(&h, &name, &declared, monitor::now_us()))
    {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    if let Err(e) = std::fs::write(&a.out, html) {
        return fail(format!("cannot write `{}`: {e}", a.out.display()));
    }
    eprintln!("wrote {}", a.out.display());
    ExitCode::SUCCESS
}
