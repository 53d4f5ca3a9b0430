//! Benchmark: in-process online lookup of one cached entity (two features), the path a
//! prediction request takes. Prints p50, p99 and p99.9 in microseconds.
//!
//! Run: `cargo bench -p mlp-features --bench online_lookup`. With `MLP_BENCH_DIR` set to an
//! already materialized project, it looks up `MLP_BENCH_FEATURES` (comma-separated) for the
//! entity `MLP_BENCH_ENTITY` (`key=integer`) there instead, at `MLP_BENCH_NOW_US` if set (scripts/bench-features.sh does
//! this on the data Feast is measured on).

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

const SPEC: &str = "project bench {
  online = memory(capacity = 100000)
}

entity user {
  key = user_id: int
}

source tx {
  path      = \"tx.csv\"
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
  ttl    = 3650d

  amount: float
  n_7d: int = count(*) over 7d
}

pipeline refresh {
  step m {
    materialize {
      views = [stats]
    }
  }
}
";

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("online_lookup: {msg}");
    std::process::exit(1);
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    if let Ok(dir) = std::env::var("MLP_BENCH_DIR") {
        let features: Vec<String> = std::env::var("MLP_BENCH_FEATURES")
            .unwrap_or_default()
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        let entity = std::env::var("MLP_BENCH_ENTITY").unwrap_or_default();
        let Some((key, value)) = entity.split_once('=') else {
            fail("MLP_BENCH_ENTITY must be key=integer");
        };
        let Ok(value) = value.parse::<i64>() else {
            fail("MLP_BENCH_ENTITY must be key=integer");
        };
        let p = std::path::Path::new(&dir);
        let checked = mlp_driver::check_dir(p, None);
        let Some(plan) = checked.plan else {
            fail(format!("{:?}", checked.diagnostics));
        };
        let entities: BTreeMap<String, Vec<Value>> =
            [(key.to_string(), vec![Value::from(value)])].into();
        // The lookup's clock (for the TTL), microseconds since the epoch: now unless
        // MLP_BENCH_NOW_US says otherwise.
        let now = match std::env::var("MLP_BENCH_NOW_US") {
            Ok(v) => v
                .parse::<i64>()
                .unwrap_or_else(|_| fail("MLP_BENCH_NOW_US: not an integer")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64),
        };
        measure(p, &plan, &features, &entities, now, quick);
        return;
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let p = dir.path();
    let mut csv = String::from("user_id,amount,ts\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "{},{}.5,2026-01-0{} 10:00:00\n",
            i % 1000,
            i % 97,
            1 + i % 9
        ));
    }
    if std::fs::write(p.join("p.mlp"), SPEC)
        .and_then(|()| std::fs::write(p.join("tx.csv"), csv))
        .is_err()
    {
        std::process::exit(1);
    }
    let checked = mlp_driver::check_dir(p, None);
    let Some(plan) = checked.plan else {
        eprintln!("{:?}", checked.diagnostics);
        std::process::exit(1);
    };
    if let Err(e) = mlp_features::materialize(&plan, p, &[], Some("2026-01-10 00:00:00")) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let features = vec!["stats.amount".to_string(), "stats.n_7d".to_string()];
    let entities: BTreeMap<String, Vec<Value>> =
        [("user_id".to_string(), vec![Value::from(42)])].into();
    let now = 1_768_003_200_000_000; // 2026-01-10
    measure(p, &plan, &features, &entities, now, quick);
}

/// Looks the entity up again and again and prints the latency quantiles.
fn measure(
    p: &std::path::Path,
    plan: &mlp_ir::Plan,
    features: &[String],
    entities: &BTreeMap<String, Vec<Value>>,
    now: i64,
    quick: bool,
) {
    let store = match mlp_features::OnlineStore::open(p, plan) {
        Ok(s) => s,
        Err(e) => fail(e),
    };
    // The values the timed loop returns: a lookup of expired or missing values would not
    // measure the path a prediction takes.
    let non_null = match store.lookup(features, entities, now) {
        Ok(r) => r
            .iter()
            .filter(|(k, _)| k.contains("__"))
            .flat_map(|(_, v)| v)
            .filter(|v| !v.is_null())
            .count(),
        Err(e) => fail(format!("lookup failed: {e}")),
    };
    let n = if quick { 1_000 } else { 200_000 };
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = store.lookup(features, entities, now);
        times.push(t.elapsed().as_nanos() as f64 / 1000.0);
        if let Err(e) = r {
            fail(format!("lookup failed: {e}"));
        }
    }
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((times.len() as f64 * f) as usize).min(times.len() - 1)];
    println!(
        "online_lookup (1 cached entity, {} features, {non_null} not null): n={n} p50={:.2} us p99={:.2} us p99.9={:.2} us",
        features.len(),
        q(0.5),
        q(0.99),
        q(0.999)
    );
}
