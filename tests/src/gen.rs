//! A generator of large, valid projects for benchmarks and scale tests: `files` files holding
//! `features` features in all, with sources, views, models, deployments and
//! consumers spread across them so that every phase of the checker has work to do.

use std::fmt::Write as _;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Number of `.mlp` files (at least 1).
    pub files: usize,
    /// Number of features across all views.
    pub features: usize,
    /// One model (with a deployment and a consumer) every this many files; 0 for none.
    pub model_every: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            files: 500,
            features: 20_000,
            model_every: 10,
        }
    }
}

impl Shape {
    /// The default shape with its size from the environment, as the benchmarks take it:
    /// `MLP_BENCH_FILES` files (500) and `MLP_BENCH_FEATURES` features (20,000).
    pub fn from_env() -> Shape {
        Shape {
            files: env_usize("MLP_BENCH_FILES", 500),
            features: env_usize("MLP_BENCH_FEATURES", 20_000),
            ..Shape::default()
        }
    }
}

/// The number in environment variable `name`, or `default` when it is unset or not one.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const AGGS: [(&str, &str); 8] = [
    ("int", "count(*) over {w}d"),
    ("float", "sum(amount) over {w}d"),
    ("float", "avg(amount) over {w}d"),
    ("float", "min(amount) over {w}d"),
    ("float", "max(amount) over {w}d"),
    ("int", "count_distinct(country) over {w}d"),
    ("float", "stddev(amount) over {w}d"),
    ("string", "last(country)"),
];

/// The features of view `k` as `(name, type, expression)`.
fn view_features(k: usize, n: usize) -> Vec<(String, &'static str, String)> {
    (0..n)
        .map(|j| {
            let (ty, expr) = AGGS[j % AGGS.len()];
            let w = 1 + (j / AGGS.len()) % 90;
            (format!("f{k}_{j}"), ty, expr.replace("{w}", &w.to_string()))
        })
        .collect()
}

/// Generates the project: `(file name, text)` pairs, file names sorted as the driver reads them.
pub fn generate(shape: Shape) -> Vec<(String, String)> {
    let files = shape.files.max(1);
    let base = shape.features / files;
    let extra = shape.features % files;
    let mut out = Vec::with_capacity(files);
    for k in 0..files {
        let mut s = String::new();
        if k == 0 {
            s.push_str(
                "/// A generated project for benchmarks.\nproject big {\n  offline = duckdb()\n  online  = memory(capacity = 100_000)\n}\n\nentity user {\n  key = user_id: int\n}\n\nrequest call {\n  amount: float\n  country: string\n}\n\n",
            );
        }
        let n = base + usize::from(k < extra);
        let _ = write!(
            s,
            "/// Generated source {k}.\nsource src_{k} {{\n  path      = \"data/src_{k}.parquet\"\n  timestamp = event_ts\n\n  schema {{\n    user_id: int\n    amount: float\n    country: string\n    event_ts: timestamp\n  }}\n}}\n\n"
        );
        if n > 0 {
            let _ = write!(
                s,
                "/// Generated view {k}.\nfeatures view_{k} {{\n  entity = user\n  source = src_{k}\n  ttl    = 30d\n  owner  = \"team-{}\"\n\n",
                k % 7
            );
            for (name, ty, expr) in view_features(k, n) {
                let _ = writeln!(s, "  {name}: {ty} = {expr}");
            }
            s.push_str("}\n");
        }
        if shape.model_every > 0 && k % shape.model_every == 0 && n >= 3 {
            let inputs: Vec<String> = view_features(k, n)
                .into_iter()
                .filter(|(_, ty, _)| *ty != "string")
                .take(4)
                .map(|(name, _, _)| format!("    view_{k}.{name},\n"))
                .collect();
            let _ = write!(
                s,
                "\nfeatures derived_{k} {{\n  ratio_{k}: float = call.amount / coalesce(view_{k}.f{k}_2, 1.0)\n}}\n\nmodel model_{k} {{\n  inputs = [\n{}    derived_{k}.ratio_{k},\n  ]\n  output = score: float\n}}\n\ndeployment serve_{k} {{\n  model = model_{k}@production\n  log   = all\n\n  batching {{\n    max_batch = 32\n    max_delay = 2ms\n  }}\n}}\n\nconsumer app_{k} {{\n  uses  = serve_{k}.score\n  owner = \"team-{}\"\n}}\n",
                inputs.concat(),
                k % 7
            );
        }
        out.push((format!("gen_{k:04}.mlp"), s));
    }
    // One materialization pipeline refreshes every view, as a platform team would schedule.
    let views: Vec<String> = (0..files)
        .filter(|k| base + usize::from(*k < extra) > 0)
        .map(|k| format!("      view_{k},\n"))
        .collect();
    if let Some((_, last)) = out.last_mut() {
        let _ = write!(
            last,
            "\npipeline refresh_all {{\n  schedule = cron(\"0 * * * *\")\n\n  step refresh {{\n    materialize {{\n      views = [\n{}      ]\n    }}\n  }}\n}}\n",
            views.concat()
        );
    }
    out
}

/// Writes the generated project into `dir` (created when missing).
pub fn write(dir: &Path, shape: Shape) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in generate(shape) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
