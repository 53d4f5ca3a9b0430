//! The example with `offline = spark(master = "local[2]")` through `mlpc`: checked, applied,
//! and its training set (`mlpc features historical` over the labelled checkouts, every
//! feature) equal cell by cell to the one the example builds on DuckDB. A Spark that cannot
//! start is a clear error, never a panic. Needs `pyspark` in the venv and Java
//! (`scripts/test.sh` installs them); `MLP_SKIP_SPARK=1` skips.

use mlp_test_support::serving::{example, mlpc, mlpc_bin, venv};
use std::path::Path;
use std::process::Command;

const FEATURES: &str = "merchant_profile.risk_score,merchant_profile.category,\
user_stats.txn_count_7d,user_stats.avg_amount_7d,user_stats.max_amount_1d,\
user_stats.countries_30d,user_stats.last_country,user_history.spend_90d,\
checkout_derived.amount_vs_avg,checkout_derived.foreign,checkout_derived.big_and_foreign";

fn on_spark(p: &Path) {
    let file = p.join("project.mlp");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let from = "offline = duckdb()";
    assert!(text.contains(from));
    let text = text.replacen(from, "offline = spark(master = \"local[2]\")", 1);
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
}

fn historical(p: &Path, out: &str) -> Vec<Vec<String>> {
    mlpc(
        &[
            "features",
            "historical",
            ".",
            "--entities",
            "data/labels.parquet",
            "--features",
            FEATURES,
            "--out",
            out,
        ],
        p,
    );
    let text = std::fs::read_to_string(p.join(out)).unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Equal text, or numbers within a relative 1e-12 (sums of doubles in another order).
fn agree(a: &str, b: &str) -> bool {
    a == b
        || match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        }
}

#[test]
fn the_example_on_spark_builds_the_training_set_it_builds_on_duckdb() {
    if std::env::var("MLP_SKIP_SPARK").is_ok_and(|v| v == "1") {
        eprintln!("skipped: MLP_SKIP_SPARK=1");
        return;
    }
    let (duck, spark) = (example(), example());
    on_spark(spark.path());
    for p in [duck.path(), spark.path()] {
        mlpc(&["check", "."], p);
        mlpc(&["apply", ".", "--auto-approve"], p);
    }
    let want = historical(duck.path(), "training.csv");
    let got = historical(spark.path(), "training.csv");
    assert_eq!(want[0], got[0], "the header");
    assert_eq!(want.len(), got.len());
    assert!(want.len() > 1000, "{}", want.len());
    for (i, (w, g)) in want.iter().zip(&got).enumerate().skip(1) {
        for (c, (a, b)) in w.iter().zip(g).enumerate() {
            assert!(
                agree(a, b),
                "row {i}, `{}`: DuckDB {a}, Spark {b}",
                want[0][c]
            );
        }
    }
    let valued = want
        .iter()
        .skip(1)
        .filter(|r| r.last().is_some_and(|v| !v.is_empty()))
        .count();
    assert!(valued > want.len() / 2, "{valued}");

    // A Python without pyspark: the reason, a failure status, and no output.
    let out = Command::new(mlpc_bin())
        .args([
            "features",
            "historical",
            ".",
            "--entities",
            "data/labels.parquet",
            "--features",
            "user_stats.txn_count_7d",
            "--out",
            "none.csv",
        ])
        .current_dir(spark.path())
        .env("MLP_VENV", venv())
        .env("MLP_SPARK_PYTHON", "/nonexistent/python")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot run the Spark job with `/nonexistent/python`"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!spark.path().join("none.csv").exists());
}
