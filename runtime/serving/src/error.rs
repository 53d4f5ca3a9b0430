//! The crate's errors, typed so that callers (and the HTTP layer, through `status()`) tell
//! them apart without reading message text. Each operation has its own enum: answering a
//! request ([`ServingError`]), loading a deployment ([`LoadError`]), building a lookup
//! table ([`LookupError`]), batch scoring ([`ScoreError`]), writing the prediction log
//! ([`LogError`]) and starting the server ([`StartError`]). The messages are the ones users
//! read (CLI output, `/readyz`, response bodies); a variant that wraps another error and
//! shows it in its message also gives it as `source()`.

use mlp_features::FeatureError;
use mlp_registry::RegistryError;
use std::path::PathBuf;

/// Why rows could not be run through a deployment's models, or a request's values taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServingError {
    /// The model's inference queue is full.
    #[error("overloaded: the inference queue is full")]
    Overloaded,
    /// The model's inference thread is gone.
    #[error("the inference thread stopped")]
    Stopped,
    /// The model failed, panicked or answered a shape its block does not declare.
    #[error("{0}")]
    Model(String),
    /// The rows do not fit the graph (a missing input column, a combine that cannot merge).
    #[error("{0}")]
    Graph(String),
    /// The request is malformed or carries a value a model cannot take.
    #[error("{0}")]
    BadRequest(String),
}

impl ServingError {
    /// The HTTP status a request that met this error answers.
    pub fn status(&self) -> u16 {
        match self {
            ServingError::BadRequest(_) => 400,
            ServingError::Overloaded | ServingError::Stopped => 503,
            ServingError::Model(_) | ServingError::Graph(_) => 500,
        }
    }
}

/// Why a deployment (or one model of its graph) cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan has no such deployment.
    #[error("no deployment `{0}`")]
    UnknownDeployment(String),
    /// The graph names a model the plan has no block for.
    #[error("model `{0}` is not declared")]
    UndeclaredModel(String),
    /// The registry cannot be opened or has no version for the reference.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The deployment asks for CUDA on a machine without it.
    #[error("the deployment asks for `cuda` but CUDA is not available")]
    NoCuda,
    /// libtorch cannot load the TorchScript artifact.
    #[error("cannot load `{}`: {message}", path.display())]
    TorchScript {
        /// The artifact.
        path: PathBuf,
        /// libtorch's first line about it.
        message: String,
    },
    /// The model failed while warming up.
    #[error("{0}")]
    WarmUp(String),
    /// The model answers another number of outputs than its block declares.
    #[error("{version} answers {got} values per row; the model block declares {declared} (the outputs it returns, side by side)")]
    OutputCount {
        /// `MODEL@VERSION`.
        version: String,
        /// Values per row it answered.
        got: usize,
        /// Outputs its block declares.
        declared: usize,
    },
    /// The model's inference thread cannot be started.
    #[error("cannot start the inference thread of `{name}`: {source}")]
    Thread {
        /// The thread's deployment and model.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A `combine` names a method the runtime does not have.
    #[error("unknown combine method `{0}`")]
    UnknownCombine(String),
    /// The graph cannot be built (too deep, branches or members that do not agree).
    #[error("{0}")]
    Graph(String),
    /// A `mode = lookup` deployment whose inputs are not a finite input space.
    #[error("{0}")]
    Lookup(String),
    /// Loading one model of the graph failed.
    #[error("{reference}: {source}")]
    Model {
        /// The model reference (`fraud_scorer@production`).
        reference: String,
        /// Why.
        source: Box<LoadError>,
    },
    /// The shadow model cannot be loaded.
    #[error("shadow {0}")]
    Shadow(#[source] Box<LoadError>),
}

impl LoadError {
    /// The HTTP status for a request to a deployment that met this error: 404 for what the
    /// plan does not have, 503 while the registry has no version to serve (registering one
    /// fixes it without a restart), 500 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            LoadError::UnknownDeployment(_) => 404,
            LoadError::Registry(
                RegistryError::UnknownModel(_) | RegistryError::UnknownRef { .. },
            ) => 503,
            LoadError::Model { source, .. } | LoadError::Shadow(source) => source.status(),
            _ => 500,
        }
    }
}

/// Why a lookup deployment's table cannot be built now.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No online store yet.
    #[error("nothing is materialized yet: run `mlpc materialize` first")]
    NotMaterialized,
    /// The online store failed.
    #[error(transparent)]
    Store(#[from] FeatureError),
    /// The store holds more keys than a table may.
    #[error("more than {max} `{entity}` keys: too many for mode = lookup")]
    TooManyKeys {
        /// The limit.
        max: usize,
        /// The entity.
        entity: String,
    },
    /// A key read from the store cannot be read back.
    #[error("cannot read back the store key {key}: {source}")]
    StoreKey {
        /// The key, as a JSON array.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A value is not a model input, or the graph failed.
    #[error(transparent)]
    Run(#[from] ServingError),
}

impl LookupError {
    /// The HTTP status: 503 until something is materialized and while the online store is
    /// unreachable, 500 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            LookupError::NotMaterialized | LookupError::Store(FeatureError::Unavailable(_)) => 503,
            _ => 500,
        }
    }
}

/// Why `mlpc score` failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The deployment or one of its models cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The output file's extension is neither `.parquet` nor `.csv`.
    #[error("cannot write `{}`: the output must end in .parquet or .csv", .0.display())]
    OutputFormat(PathBuf),
    /// The entity file's extension is neither `.parquet` nor `.csv`.
    #[error("`{}`: expected a .parquet or .csv file", .0.display())]
    InputFormat(PathBuf),
    /// Historical retrieval failed.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// DuckDB failed.
    #[error(transparent)]
    Db(#[from] duckdb::Error),
    /// The entity file has no column for a model input.
    #[error("the entity file lacks a model input: {0}")]
    MissingInput(#[source] duckdb::Error),
    /// A value read back as JSON is not JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A temporary file or the runtime cannot be made.
    #[error("cannot {action}: {source}")]
    Io {
        /// What was being done (`create a temporary file`).
        action: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A row's value is not a model input.
    #[error("row {row}, `{column}`: {source}")]
    BadValue {
        /// The row, from 0.
        row: usize,
        /// The column.
        column: String,
        /// Why.
        source: ServingError,
    },
    /// The graph failed.
    #[error(transparent)]
    Run(#[from] ServingError),
    /// The graph answered another number of values than the deployment declares.
    #[error("the graph answered {got} values for {rows} rows; the deployment declares {declared} outputs")]
    OutputCount {
        /// Values answered.
        got: usize,
        /// Rows scored.
        rows: usize,
        /// Outputs declared.
        declared: usize,
    },
}

/// Why a batch of the prediction log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The folder or file cannot be made.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// DuckDB failed.
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A non-loopback address without a token.
    #[error("refusing to bind {0} without a token: set MLP_TOKEN (endpoints that change anything need it), or bind to 127.0.0.1")]
    NoToken(String),
    /// The address cannot be bound.
    #[error("cannot bind {bind}: {source}")]
    Bind {
        /// The address.
        bind: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed before it listened.
    #[error(transparent)]
    Server(#[from] std::io::Error),
    /// The server listens on no address.
    #[error("the server bound no address")]
    NoAddress,
    /// The server thread ended before listening.
    #[error("the server thread stopped before listening")]
    ThreadStopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_is_retryable_and_a_failing_model_is_a_server_error() {
        assert_eq!(ServingError::Overloaded.status(), 503);
        assert_eq!(ServingError::Stopped.status(), 503);
        assert_eq!(ServingError::Model("boom".into()).status(), 500);
        assert_eq!(ServingError::Graph("no column".into()).status(), 500);
        assert_eq!(
            ServingError::BadRequest("not a number".into()).status(),
            400
        );
        assert_eq!(
            ServingError::Overloaded.to_string(),
            "overloaded: the inference queue is full"
        );
    }

    #[test]
    fn load_errors_keep_their_messages_and_map_to_a_status() {
        let missing = LoadError::Registry(RegistryError::UnknownModel("m".into()));
        assert_eq!(missing.status(), 503);
        let wrapped = LoadError::Shadow(Box::new(LoadError::Model {
            reference: "m@production".into(),
            source: Box::new(missing),
        }));
        assert_eq!(wrapped.status(), 503);
        assert_eq!(
            wrapped.to_string(),
            "shadow m@production: model `m` has no registered version"
        );
        assert!(std::error::Error::source(&wrapped).is_some());
        assert_eq!(LoadError::UnknownDeployment("d".into()).status(), 404);
        assert_eq!(
            LoadError::UnknownDeployment("d".into()).to_string(),
            "no deployment `d`"
        );
        let torch = LoadError::TorchScript {
            path: "/a/m.pt".into(),
            message: "bad file".into(),
        };
        assert_eq!(torch.to_string(), "cannot load `/a/m.pt`: bad file");
        assert_eq!(torch.status(), 500);
        assert_eq!(LookupError::NotMaterialized.status(), 503);
        assert_eq!(
            LookupError::Store(FeatureError::Unavailable("down".into())).status(),
            503
        );
    }
}
