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

/// Writes `path` (Parquet): card transactions of `users` users with skewed row counts (every
/// 7th user has 40 rows, the others 1 to 4), 5% null amounts, event times on 5-minute marks
/// over 60 days from 2026-01-01 (ties), and every 9th row created three days late. Columns:
/// `user_id` (int), `region` (`eu`, `us`, `apac`), `amount`, `event_ts`, `created_ts`.
pub fn skewed_transactions(path: &Path, users: i64) {
    let sql = format!(
        "COPY (
  SELECT user_id,
    ['eu', 'us', 'apac'][1 + ((user_id * 7 + k) % 3)] AS region,
    CASE WHEN (user_id + k) % 20 = 0 THEN NULL
         ELSE round(((user_id * 37 + k * 11) % 1000) / 10.0, 1) END AS amount,
    TIMESTAMP '2026-01-01' + to_minutes(((user_id * 131 + k * 977) % (60 * 24 * 60)) // 5 * 5) AS event_ts,
    event_ts + to_hours(CASE WHEN k % 9 = 8 THEN 72 ELSE 0 END) AS created_ts
  FROM (SELECT user_id, unnest(range(CASE WHEN user_id % 7 = 0 THEN 40 ELSE 1 + user_id % 4 END)) AS k
        FROM range({users}) t(user_id))
) TO '{}' (FORMAT parquet);",
        path.display().to_string().replace('\'', "''")
    );
    duckdb::Connection::open_in_memory()
        .and_then(|c| c.execute_batch(&sql))
        .unwrap_or_else(|e| panic!("skewed transactions: {e}"));
}
