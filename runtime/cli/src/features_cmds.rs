//! `mlpc features ...` and `mlpc materialize`: the feature store from the command line:
//! historical retrieval, materialization, online lookups and the skew check.

use crate::state_cmds::{checked_plan, fail};
use crate::Format;
use clap::Subcommand;
use mlpc_shared::print_json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// Online values for entities, as JSON columns (the materialized values, TTL enforced).
    ///
    /// Each --entity is one entity row: KEY=VALUE, with several keys separated by commas
    /// (`--entity user_id=42,region=eu`). Prints {"columns": {"user_id": [42], "view__feature": [...]}}.
    Online {
        /// Project folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// One entity row: KEY=VALUE[,KEY=VALUE...]; repeat for several rows.
        #[arg(long = "entity", value_name = "KEY=VALUE", required = true)]
        entities: Vec<String>,
        /// Features to read, as VIEW.FEATURE, comma-separated.
        #[arg(
            long,
            value_name = "REF,REF,...",
            value_delimiter = ',',
            required = true
        )]
        features: Vec<String>,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
    /// Check for training-serving skew: online values against offline values at the watermark.
    ///
    /// For every entity key of VIEW, compares the materialized online value of each feature
    /// with the point-in-time value at the materialization watermark. Exits 1 on any mismatch.
    Verify {
        /// `[DIR] VIEW`: the project folder (default `.`) and the feature view.
        #[arg(value_name = "[DIR] VIEW", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Output for people or JSON.
        #[arg(long, value_enum, default_value_t = crate::Format::Human)]
        format: crate::Format,
        /// Read environment values from DIR/env/NAME.yaml.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
    },
}

/// Options of `mlpc materialize`.
#[derive(Debug, clap::Args)]
pub struct MaterializeArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Views to materialize (every online view with a source when none is named).
    pub views: Vec<String>,
    /// Materialize up to this time (YYYY-MM-DD HH:MM:SS, UTC); now when absent.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Read environment values from DIR/env/NAME.yaml.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

/// `mlpc materialize`.
pub fn materialize(args: &MaterializeArgs) -> ExitCode {
    let plan = match checked_plan(&args.dir, args.env.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match mlp_features::materialize(&plan, &args.dir, &args.views, args.until.as_deref()) {
        Ok(done) => {
            for m in done {
                let from = m
                    .from
                    .map_or_else(|| "the beginning".to_string(), |f| f.to_string());
                println!(
                    "{}: {} key{} updated, from {from} to {}",
                    m.view,
                    m.keys,
                    if m.keys == 1 { "" } else { "s" },
                    m.until
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `user_id=42,region=eu` as key/value pairs; numbers become numbers.
fn parse_entity(s: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
    s.split(',')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("`{kv}` is not KEY=VALUE"))?;
            let v = v.trim();
            let value = v
                .parse::<i64>()
                .map(serde_json::Value::from)
                .or_else(|_| v.parse::<f64>().map(serde_json::Value::from))
                .unwrap_or_else(|_| serde_json::Value::from(v));
            Ok((k.trim().to_string(), value))
        })
        .collect()
}

/// Runs a `mlpc features` subcommand.
pub fn run(cmd: &FeaturesCommand) -> ExitCode {
    match cmd {
        FeaturesCommand::Online {
            dir,
            entities,
            features,
            env,
        } => online(dir, entities, features, env.as_deref()),
        FeaturesCommand::Verify { args, format, env } => {
            let (dir, view) = match args.as_slice() {
                [view] => (PathBuf::from("."), view.as_str()),
                [dir, view, ..] => (PathBuf::from(dir), view.as_str()),
                [] => return fail("name the feature view to verify"),
            };
            verify(&dir, view, *format, env.as_deref())
        }
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

fn online(dir: &Path, entities: &[String], features: &[String], env: Option<&str>) -> ExitCode {
    let plan = match checked_plan(dir, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut columns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, e) in entities.iter().enumerate() {
        let pairs = match parse_entity(e) {
            Ok(p) => p,
            Err(m) => return fail(format!("--entity {e}: {m}")),
        };
        for (k, v) in pairs {
            let col = columns.entry(k).or_default();
            col.resize(i, Value::Null);
            col.push(v);
        }
    }
    if columns.values().any(|c| c.len() != entities.len()) {
        return fail("every --entity must name the same key columns");
    }
    let store = match mlp_features::OnlineStore::open(dir, &plan) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let features: Vec<String> = features.iter().map(|f| f.trim().to_string()).collect();
    match store.lookup(&features, &columns, now_us) {
        Ok(cols) => {
            let doc = serde_json::json!({ "columns": cols });
            match print_json(serde_json::to_string_pretty(&doc)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(code) => code,
            }
        }
        Err(e) => fail(e),
    }
}

fn verify(dir: &Path, view: &str, format: Format, env: Option<&str>) -> ExitCode {
    let plan = match checked_plan(dir, env) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let r = match mlp_features::verify(&plan, dir, view) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match format {
        Format::Json => {
            if let Err(code) = print_json(serde_json::to_string_pretty(&r)) {
                return code;
            }
        }
        Format::Human => {
            for m in &r.mismatches {
                let key = match serde_json::to_string(&m.key) {
                    Ok(k) => k,
                    Err(e) => return fail(format!("cannot write the key of a mismatch: {e}")),
                };
                println!(
                    "mismatch: {} at {key}: online {} offline {}",
                    m.feature, m.online, m.offline
                );
            }
            let verdict = if r.mismatches.is_empty() {
                "no skew".to_string()
            } else {
                format!("{} mismatches", r.mismatches.len())
            };
            println!(
                "{}: {} keys, {} values compared at {}: {verdict}",
                r.view, r.keys, r.values, r.watermark
            );
        }
    }
    if r.mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
