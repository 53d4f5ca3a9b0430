//! The model registry: immutable model versions (a content-addressed artifact with the run,
//! step, training set, parameters and metrics that made it) and movable aliases, kept in
//! `.mlp/registry.sqlite` so that the CLI and a running server can read and write it at once.
//!
//! SQLite in WAL mode rather than DuckDB: the registry is small transactional metadata that
//! several processes (a pipeline run, `mlpc registry alias`, the server) touch concurrently;
//! DuckDB allows one writing process per file.

pub mod api;
mod db;
mod store;

pub use db::{rfc3339, Registry};
pub use store::{sha256_file, BlobStore};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Errors of the registry, each naming the model, version, alias or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The database failed.
    #[error("registry database `{path}`: {message}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A metrics, params or tags file that is not what it should be.
    #[error("`{path}`: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No such model.
    #[error("model `{0}` has no registered version")]
    UnknownModel(String),
    /// No such version or alias.
    #[error("model `{model}` has no version or alias `{reference}`{known}")]
    UnknownRef {
        /// The model.
        model: String,
        /// What was asked for.
        reference: String,
        /// What exists, for the message.
        known: String,
    },
    /// An alias name that cannot be used.
    #[error("`{0}` cannot be an alias: {1}")]
    BadAlias(String, &'static str),
}

/// Where a version came from: the pipeline run and step that made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Origin {
    /// Pipeline name.
    pub pipeline: Option<String>,
    /// Run id.
    pub run_id: Option<String>,
    /// Step name.
    pub step: Option<String>,
}

/// The training set a version was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrainingSet {
    /// sha256 of the training set's content.
    pub sha256: String,
    /// Features it holds, as `view.feature`.
    pub features: Vec<String>,
}

/// A model's interface: input and output names with their types, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Signature {
    /// Inputs in order, `(name, type)`.
    pub inputs: Vec<(String, String)>,
    /// Outputs in order, `(name, type)`.
    pub outputs: Vec<(String, String)>,
    /// The input tensors `forward` takes, in order, `(name, dtype and shape)`
    /// (`("cat", "int64[batch]")`); empty for a model of one float32 tensor (before typed
    /// inputs, and for a plain list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensors: Vec<(String, String)>,
}

/// What to register.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    /// The model.
    pub model: String,
    /// The artifact file (copied into the registry's store).
    pub artifact: PathBuf,
    /// Metrics, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Training parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Free-form tags.
    pub tags: BTreeMap<String, String>,
    /// The run and step that made it.
    pub origin: Origin,
    /// The training set.
    pub training_set: Option<TrainingSet>,
    /// The interface, checked against the model block by the caller.
    pub signature: Option<Signature>,
}

/// A registered, immutable model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Version {
    /// The model.
    pub model: String,
    /// Version number, from 1.
    pub version: u64,
    /// sha256 of the artifact.
    pub artifact_sha256: String,
    /// The artifact in the registry's store, relative to the project.
    pub artifact: String,
    /// The run and step that made it.
    pub origin: Origin,
    /// The training set.
    pub training_set: Option<TrainingSet>,
    /// Training parameters.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The interface.
    pub signature: Option<Signature>,
    /// When it was registered, RFC 3339 UTC.
    pub created: String,
    /// Aliases pointing at it now.
    pub aliases: Vec<String>,
}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// The version (new, or the existing one with the same artifact).
    pub version: Version,
    /// False when the model already had a version with this exact artifact.
    pub created: bool,
}

/// One alias move, as the alias history records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AliasMove {
    /// The model.
    pub model: String,
    /// The alias.
    pub alias: String,
    /// The version it pointed at before, if any.
    pub from: Option<u64>,
    /// The version it points at now.
    pub to: u64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Why (a gate, a person).
    pub reason: String,
}

/// Splits `MODEL@REF` into the model and the reference (`latest` when none is given).
pub fn parse_ref(s: &str) -> (&str, &str) {
    match s.split_once('@') {
        Some((m, r)) => (m, r),
        None => (s, "latest"),
    }
}

/// Reads `metrics.json`: an object of numbers (nested objects are flattened with `.`).
pub fn read_metrics(path: &std::path::Path) -> Result<BTreeMap<String, f64>, RegistryError> {
    let value = read_json(path)?;
    let mut out = BTreeMap::new();
    flatten(path, "", &value, &mut out)?;
    Ok(out)
}

fn flatten(
    path: &std::path::Path,
    prefix: &str,
    v: &serde_json::Value,
    out: &mut BTreeMap<String, f64>,
) -> Result<(), RegistryError> {
    let bad = |m: String| RegistryError::BadFile {
        path: path.to_path_buf(),
        message: m,
    };
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(path, &key, x, out)?;
            }
            Ok(())
        }
        serde_json::Value::Number(n) if !prefix.is_empty() => {
            let f = n
                .as_f64()
                .ok_or_else(|| bad(format!("metric `{prefix}` is not a finite number")))?;
            out.insert(prefix.to_string(), f);
            Ok(())
        }
        _ if prefix.is_empty() => Err(bad("expected a JSON object of metrics".into())),
        other => Err(bad(format!(
            "metric `{prefix}` must be a number, found {other}"
        ))),
    }
}

/// Reads a JSON object (`params.json`, `tags.json`).
pub fn read_object(
    path: &std::path::Path,
) -> Result<BTreeMap<String, serde_json::Value>, RegistryError> {
    match read_json(path)? {
        serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
        _ => Err(RegistryError::BadFile {
            path: path.to_path_buf(),
            message: "expected a JSON object".into(),
        }),
    }
}

fn read_json(path: &std::path::Path) -> Result<serde_json::Value, RegistryError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| RegistryError::BadFile {
        path: path.to_path_buf(),
        message: format!("not JSON: {e}"),
    })
}

/// Checks an alias name: an identifier, and not `latest` (which always means the highest
/// version).
pub fn check_alias(alias: &str) -> Result<(), RegistryError> {
    if alias == "latest" {
        return Err(RegistryError::BadAlias(
            alias.into(),
            "`latest` always means the highest version",
        ));
    }
    let mut chars = alias.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !ok_first || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(RegistryError::BadAlias(
            alias.into(),
            "use letters, digits, `_` and `-`, starting with a letter",
        ));
    }
    if alias.len() > 64 {
        return Err(RegistryError::BadAlias(
            alias.into(),
            "longer than 64 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
