//! `mlpc features ...`: the feature store from the command line (historical retrieval now;
//! online lookups and verification arrive with materialization).

use crate::state_cmds::checked_plan;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `mlpc features` subcommands.
#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Point-in-time correct feature values for every row of an entity file.
    ///
    /// For each row (entity keys and a timestamp t), each feature's value as it was known at
    /// t: the latest source row with event time <= t (within the view's TTL) and, when the
    /// source declares `created`, created at or before t. Aggregations cover their window up
    /// to t. Writes every input row once, in order, with one column per feature named
    /// VIEW__FEATURE (null when nothing is visible). See docs/feature-store.md.
    Historical {
        /// Project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Parquet or CSV file with the entity keys and a timestamp column.
        #[arg(long, value_name = "FILE")]
        entities: PathBuf,
        /// Features to retrieve, as VIEW.FEATURE, comma-separated.
        #[arg(
            long,
            value_name = "REF,REF,...",
            value_delimiter = ',',
            required = true
        )]
        features: Vec<String>,
        /// The timestamp column of the entity file.
        #[arg(long, value_name = "COLUMN", default_value = "event_timestamp")]
        at: String,
        /// Output file: .parquet or .csv.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
}

/// Runs a `mlpc features` subcommand.
pub fn run(cmd: &FeaturesCommand) -> ExitCode {
    match cmd {
        FeaturesCommand::Historical {
            dir,
            entities,
            features,
            at,
            out,
            env,
        } => {
            let plan = match checked_plan(dir, env.as_deref()) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let req = mlp_features::HistoricalRequest {
                project_dir: dir.clone(),
                entities: entities.clone(),
                features: features.iter().map(|f| f.trim().to_string()).collect(),
                at: at.clone(),
                out: out.clone(),
            };
            match mlp_features::historical(&plan, &req) {
                Ok(r) => {
                    eprintln!(
                        "wrote {} rows with {} feature column{} to {}",
                        r.rows,
                        r.columns.len(),
                        if r.columns.len() == 1 { "" } else { "s" },
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
