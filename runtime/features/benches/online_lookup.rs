//! Benchmark: in-process online lookup of one cached entity (two features), the path a
//! prediction request takes. Prints p50, p99 and p99.9 in microseconds.
//!
//! Run: `cargo bench -p mlp-features --bench online_lookup`.

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

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
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
    let store = match mlp_features::OnlineStore::open(p, &plan) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let features = vec!["stats.amount".to_string(), "stats.n_7d".to_string()];
    let entities: BTreeMap<String, Vec<Value>> =
        [("user_id".to_string(), vec![Value::from(42)])].into();
    let now = 1_768_003_200_000_000; // 2026-01-10
    let n = if quick { 1_000 } else { 200_000 };
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = store.lookup(&features, &entities, now);
        times.push(t.elapsed().as_nanos() as f64 / 1000.0);
        if r.is_err() {
            eprintln!("lookup failed");
            std::process::exit(1);
        }
    }
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((times.len() as f64 * f) as usize).min(times.len() - 1)];
    println!(
        "online_lookup (1 cached entity, 2 features): n={n} p50={:.2} us p99={:.2} us p99.9={:.2} us",
        q(0.5),
        q(0.99),
        q(0.999)
    );
}
