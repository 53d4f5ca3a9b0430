//! `mlpc drift`: the drift of a current file against a reference, column by column, with
//! the dataset-level verdict (Evidently's `DataDriftPreset` as a command). The reading and
//! the tests are `mlp_monitoring::table`, the code monitors use; this module prints.

use crate::Format;
use clap::Args;
use mlp_monitoring::report::{ColumnDrift, DriftReport, Verdict};
use mlpc_shared::{fail, print_json};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit code of a dataset that drifted (specs/exit-codes.md).
const DATASET_DRIFT_EXIT: u8 = 3;

/// `mlpc drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The reference: a Parquet (.parquet) or CSV (.csv, .tsv, .csv.gz) file.
    #[arg(long, value_name = "FILE", required_unless_present = "schema")]
    reference: Option<PathBuf>,
    /// The current data, with the reference's columns.
    #[arg(long, value_name = "FILE", required_unless_present = "schema")]
    current: Option<PathBuf>,
    /// Compare only these columns (comma-separated); default every column, and then both
    /// files must have the same ones.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A table for people, or the report as JSON (specs/drift.schema.json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Print the JSON Schema of the report (specs/drift.schema.json) instead.
    #[arg(long)]
    schema: bool,
}

/// `mlpc drift`: exit 0 without dataset drift, 3 with it, 1 on errors.
pub fn drift(a: &DriftArgs) -> ExitCode {
    if a.schema {
        let schema = DriftReport::schema();
        return match print_json(serde_json::to_string_pretty(&schema.to_value())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        };
    }
    let (Some(reference), Some(current)) = (&a.reference, &a.current) else {
        return fail("give both --reference FILE and --current FILE");
    };
    let columns: Option<Vec<String>> = a
        .columns
        .as_ref()
        .map(|c| c.iter().map(|s| s.trim().to_string()).collect());
    if columns
        .as_ref()
        .is_some_and(|c| c.iter().any(String::is_empty))
    {
        return fail("--columns: an empty column name (write --columns a,b)");
    }
    let report = match mlp_monitoring::table::drift_report(reference, current, columns.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match a.format {
        Format::Json => {
            if let Err(code) = print_json(serde_json::to_string_pretty(&report)) {
                return code;
            }
        }
        Format::Human => print_human(&report),
    }
    if report.dataset_drift {
        ExitCode::from(DATASET_DRIFT_EXIT)
    } else {
        ExitCode::SUCCESS
    }
}

/// A number in a few characters: fixed point, or scientific when tiny or huge.
fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if (1e-3..1e6).contains(&x.abs()) {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// The score cell: `p=...` for a test, `d=...` for a distance.
fn score(c: &ColumnDrift) -> String {
    match (c.p_value, c.distance) {
        (Some(p), _) => format!("p={}", num(p)),
        (None, Some(d)) => format!("d={}", num(d)),
        _ => "-".into(),
    }
}

/// The report for people: one line per column, then the dataset's verdict.
fn print_human(r: &DriftReport) {
    println!(
        "reference: {} ({} rows)",
        r.reference.path, r.reference.rows
    );
    println!("current:   {} ({} rows)", r.current.path, r.current.rows);
    println!();
    let width = r
        .columns
        .iter()
        .map(|c| c.column.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    println!(
        "{:<width$}  {:<11}  {:<14}  {:>10}  {:>12}  {:>9}  VERDICT",
        "COLUMN", "TYPE", "METHOD", "STATISTIC", "SCORE", "THRESHOLD"
    );
    for c in &r.columns {
        let kind = match c.kind {
            mlp_monitoring::report::ColumnKind::Numeric => "numeric",
            mlp_monitoring::report::ColumnKind::Categorical => "categorical",
        };
        let verdict = match c.verdict {
            Verdict::Drifted => "DRIFT",
            Verdict::NotDrifted => "ok",
            Verdict::NoData => "no data",
        };
        println!(
            "{:<width$}  {:<11}  {:<14}  {:>10}  {:>12}  {:>9}  {verdict}",
            c.column,
            kind,
            c.method.map_or("-", |m| m.label()),
            c.statistic.map_or("-".into(), num),
            score(c),
            c.threshold.map_or("-".into(), |t| t.to_string()),
        );
    }
    if !r.skipped.is_empty() {
        let list: Vec<String> = r
            .skipped
            .iter()
            .map(|s| format!("{} ({})", s.column, s.source_type))
            .collect();
        println!("not tested: {}", list.join(", "));
    }
    println!();
    match r.drift_share {
        Some(share) => println!(
            "{}: {} of {} columns drifted ({:.1}%; the dataset drifts at {:.0}% or more)",
            if r.dataset_drift {
                "DATASET DRIFT"
            } else {
                "no dataset drift"
            },
            r.drifted_columns,
            r.tested_columns,
            share * 100.0,
            r.drift_share_threshold * 100.0
        ),
        None => println!("no dataset drift: no column has data on both sides"),
    }
}
