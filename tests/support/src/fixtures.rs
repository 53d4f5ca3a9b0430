//! A sample project (the shop) and temporary project folders holding it.

use std::path::{Path, PathBuf};

/// A small shop project: one entity, source and view (three features), a request, a model
/// served by two deployments and a consumer of both deployments.
pub const SHOP: &str = "project shop {}

entity user {
  key = user_id: int
}

source tx {
  path      = \"t.csv\"
  timestamp = ts

  schema {
    user_id: int
    amount: float
    ts: timestamp
  }
}

features stats {
  entity = user
  source = tx
  ttl    = 2d

  avg_7d: float = avg(amount) over 7d
  max_7d: float = max(amount) over 7d
  count_7d: int = count(*) over 7d
}

request call {
  amount: float
}

model scorer {
  inputs = [stats.avg_7d, stats.count_7d, call.amount]
  output = score: float
}

deployment api {
  model = scorer@production
}

deployment batch {
  model = scorer@3
}

consumer checkout {
  uses = [api.score, batch.score]
}
";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temporary folder holding a copy of the `.mlp` files of `examples/NAME` (its specs only,
/// no data or env folder): a project for the language server's tests.
pub fn example_specs(name: &str) -> tempfile::TempDir {
    let src = root().join("examples").join(name);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for e in std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "mlp") {
            std::fs::copy(e.path(), dir.path().join(e.file_name()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    dir
}

/// A temporary folder holding `proj/p.mlp` with `src`.
pub fn project(src: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("proj")).unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), src);
    dir
}

/// Replaces `proj/p.mlp` under `dir` (and writes the source file `proj/t.csv` that the
/// shop's specs read, which apply checks against the declared schema).
pub fn write(dir: &Path, src: &str) {
    std::fs::write(dir.join("proj/p.mlp"), src).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("proj/t.csv"),
        "user_id,amount,ts\n1,9.5,2026-01-01 10:00:00\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
