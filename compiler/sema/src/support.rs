//! What the runtime implements of what the language accepts, in one table: every
//! declaration kind, every attribute and nested block of each, and every stdlib built-in is
//! either run by a named runtime component, descriptive metadata, or rejected by
//! `mlpc check` with its own code ("nothing accepted is ignored"). The checker takes each
//! block's accepted attributes from here, and the conformance test
//! (`runtime/cli/tests/conformance.rs`) walks the table against the stdlib and the runtime.

use mlp_stdlib::Kind;

/// How the runtime treats something the language accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Run by the named runtime component.
    Runtime(&'static str),
    /// Descriptive (owner, description, tags): shown by `mlpc plan`, lineage and docs;
    /// nothing to run.
    Metadata,
    /// Rejected by `mlpc check` with this code.
    Rejected(Rejection),
}

/// A rejection: the code and what the diagnostic says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// `E07xx`.
    pub code: &'static str,
    /// The message.
    pub message: &'static str,
    /// The help line.
    pub help: &'static str,
}

const SINK: Rejection = Rejection {
    code: "E0705",
    message: "`email` alerts need `sendmail`, which this machine does not have",
    help: "install an MTA that provides `sendmail` (e.g. Debian's `msmtp-mta` or `postfix`), or use `webhook(\"http://...\")`, `slack(\"https://hooks.slack.com/...\")` or `log`",
};

const OFFLINE_PATH: Rejection = Rejection {
    code: "E0706",
    message: "an offline database file is not used by this version of mlp",
    help: "write `offline = duckdb()`: offline features are computed in memory over the sources' files",
};

/// A rejection of the arguments (`given` of them) of a built-in that is otherwise run: the
/// offline store's database file, which nothing reads yet.
pub fn rejected_arguments(kind: Kind, name: &str, given: usize) -> Option<Rejection> {
    match (kind, name) {
        (Kind::Store, "duckdb") if given > 0 => Some(OFFLINE_PATH),
        _ => None,
    }
}

/// One kind of block: the attributes and nested blocks it accepts, each with its support.
#[derive(Debug)]
pub struct BlockSchema {
    /// The block's name in diagnostics (`deployment`, `feature view`, `sla`).
    pub block: &'static str,
    /// Attributes (`key = value`).
    pub attrs: &'static [(&'static str, Support)],
    /// Nested blocks (`name { ... }`).
    pub blocks: &'static [(&'static str, Support)],
}

const META: Support = Support::Metadata;
const FEATURES: Support = Support::Runtime("features");
const PIPELINES: Support = Support::Runtime("pipelines");
const SERVING: Support = Support::Runtime("serving");
/// `replicas` and `resources { cpu, memory }`: the Kubernetes export (`mlpc k8s`,
/// `mlpc suggest --k8s`); `mlpc serve` runs one server per project.
const K8S: Support = Support::Runtime("kubernetes export");
const STATE: Support = Support::Runtime("state");
const MONITORING: Support = Support::Runtime("monitoring");

/// Every block kind the checker sorts with a fixed schema.
pub const BLOCKS: &[BlockSchema] = &[
    BlockSchema {
        block: "project",
        attrs: &[
            ("offline", FEATURES),
            ("online", FEATURES),
            ("lineage", STATE),
            ("owner", META),
            ("description", META),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "env block",
        attrs: &[],
        blocks: &[],
    },
    BlockSchema {
        block: "entity",
        attrs: &[("key", FEATURES), ("owner", META), ("description", META)],
        blocks: &[],
    },
    BlockSchema {
        block: "source",
        attrs: &[
            ("path", FEATURES),
            ("format", FEATURES),
            ("timestamp", FEATURES),
            ("created", FEATURES),
            ("owner", META),
            ("description", META),
        ],
        blocks: &[("schema", FEATURES)],
    },
    BlockSchema {
        block: "schema",
        attrs: &[],
        blocks: &[],
    },
    BlockSchema {
        block: "request",
        attrs: &[("description", META)],
        blocks: &[],
    },
    BlockSchema {
        block: "feature view",
        attrs: &[
            ("entity", FEATURES),
            ("source", FEATURES),
            ("ttl", FEATURES),
            ("owner", META),
            ("online", FEATURES),
            ("description", META),
            ("tags", META),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "model",
        attrs: &[
            ("format", SERVING),
            ("inputs", SERVING),
            ("output", SERVING),
            ("outputs", SERVING),
            ("owner", META),
            ("description", META),
        ],
        blocks: &[("inputs", SERVING), ("outputs", SERVING)],
    },
    BlockSchema {
        block: "model inputs",
        attrs: &[],
        blocks: &[],
    },
    BlockSchema {
        block: "model outputs",
        attrs: &[],
        blocks: &[],
    },
    BlockSchema {
        block: "pipeline",
        attrs: &[
            ("schedule", PIPELINES),
            ("catchup", PIPELINES),
            ("retries", PIPELINES),
            ("retry_delay", PIPELINES),
            ("timeout", PIPELINES),
            ("max_active_runs", PIPELINES),
            ("python", PIPELINES),
            ("owner", META),
            ("description", META),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "step",
        attrs: &[
            ("after", PIPELINES),
            ("run", PIPELINES),
            ("code", PIPELINES),
            ("registers", PIPELINES),
            ("retries", PIPELINES),
            ("timeout", PIPELINES),
            ("workdir", PIPELINES),
            ("promote", PIPELINES),
            ("python", PIPELINES),
        ],
        blocks: &[
            ("training_set", PIPELINES),
            ("materialize", PIPELINES),
            ("env", PIPELINES),
        ],
    },
    BlockSchema {
        block: "training_set",
        attrs: &[
            ("labels", PIPELINES),
            ("features", PIPELINES),
            ("at", PIPELINES),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "materialize",
        attrs: &[("views", PIPELINES)],
        blocks: &[],
    },
    BlockSchema {
        block: "deployment",
        attrs: &[
            ("model", SERVING),
            ("log", SERVING),
            ("shadow", SERVING),
            ("device", SERVING),
            ("mode", SERVING),
            ("replicas", K8S),
            ("owner", META),
            ("description", META),
        ],
        // `mlpc serve` shows the targets beside the measured quantiles on /metrics (sla.rs).
        blocks: &[
            ("sla", SERVING),
            ("batching", SERVING),
            ("resources", SERVING),
        ],
    },
    BlockSchema {
        block: "resources",
        attrs: &[
            ("cpu", K8S),
            ("memory", K8S),
            ("workers", SERVING),
            ("threads", SERVING),
            ("intra_op_threads", SERVING),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "sla",
        attrs: &[
            ("latency_p50", SERVING),
            ("latency_p90", SERVING),
            ("latency_p95", SERVING),
            ("latency_p99", SERVING),
            ("latency_p999", SERVING),
            ("throughput", SERVING),
            ("error_rate", SERVING),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "batching",
        attrs: &[("max_batch", SERVING), ("max_delay", SERVING)],
        blocks: &[],
    },
    BlockSchema {
        block: "monitor",
        attrs: &[
            ("on", MONITORING),
            ("every", MONITORING),
            ("window", MONITORING),
            ("baseline", MONITORING),
            ("labels", MONITORING),
            ("alert", MONITORING),
            ("for", MONITORING),
            ("owner", META),
            ("description", META),
        ],
        blocks: &[],
    },
    BlockSchema {
        block: "consumer",
        attrs: &[
            ("uses", STATE),
            ("owner", META),
            ("contact", META),
            ("description", META),
        ],
        blocks: &[],
    },
];

/// The schema of block kind `block`.
pub fn block(block: &str) -> Option<&'static BlockSchema> {
    BLOCKS.iter().find(|b| b.block == block)
}

/// The declaration keywords and their support.
pub const DECLARATIONS: &[(&str, Support)] = &[
    ("project", FEATURES),
    ("env", FEATURES),
    ("entity", FEATURES),
    ("source", FEATURES),
    ("features", FEATURES),
    ("request", SERVING),
    ("model", SERVING),
    ("pipeline", PIPELINES),
    ("deployment", SERVING),
    ("monitor", MONITORING),
    ("consumer", STATE),
];

/// The support of stdlib built-in `name` of `kind`; `None` for one this table does not
/// know (the conformance test fails on it).
pub fn builtin(kind: Kind, name: &str) -> Option<Support> {
    Some(match (kind, name) {
        (
            Kind::Aggregate,
            "count" | "count_distinct" | "sum" | "avg" | "min" | "max" | "first" | "last"
            | "stddev" | "variance" | "median",
        ) => Support::Runtime("features: offline SQL, materialized online"),
        (
            Kind::Scalar,
            "coalesce" | "abs" | "round" | "floor" | "ceil" | "ln" | "sqrt" | "least" | "greatest"
            | "lower" | "upper" | "length" | "is_null" | "if_else" | "hour" | "day_of_week"
            | "to_float",
        ) => Support::Runtime("features: offline SQL and the online evaluator"),
        (
            Kind::Metric,
            "psi" | "ks" | "js" | "wasserstein" | "chi2" | "drift" | "null_share" | "mean" | "auc"
            | "precision" | "recall" | "f1" | "accuracy" | "rmse" | "mae" | "latency_p50"
            | "latency_p90" | "latency_p95" | "latency_p99" | "latency_p999" | "error_rate"
            | "throughput" | "row_count",
        ) => MONITORING,
        (Kind::Sink, "webhook" | "log") => MONITORING,
        (Kind::Sink, "slack") => MONITORING,
        // Delivered through the local `sendmail`; rejected where there is none.
        (Kind::Sink, "email") if mlp_ir::host::sendmail().is_some() => MONITORING,
        (Kind::Sink, "email") => Support::Rejected(SINK),
        // `duckdb()` without a database file (`rejected_arguments`).
        (Kind::Store, "duckdb" | "memory") => FEATURES,
        (Kind::Store, "redis") => Support::Runtime("features: the Redis online store"),
        (Kind::Store, "spark") => Support::Runtime("features: offline retrieval on Spark"),
        (Kind::Store, "file" | "http") => Support::Runtime("state: OpenLineage events"),
        (Kind::Combiner, "mean" | "max" | "min" | "weighted" | "vote") => {
            Support::Runtime("serving: combine")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stdlib_builtin_has_a_support_entry() {
        for b in mlp_stdlib::all() {
            assert!(
                builtin(b.kind, &b.name).is_some(),
                "{:?} `{}` is neither implemented nor rejected",
                b.kind,
                b.name
            );
        }
    }

    #[test]
    fn block_names_are_unique() {
        for (i, b) in BLOCKS.iter().enumerate() {
            assert!(
                BLOCKS[i + 1..].iter().all(|o| o.block != b.block),
                "{} twice",
                b.block
            );
        }
    }
}
