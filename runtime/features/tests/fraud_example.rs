//! examples/fraud end to end through the feature store: its seeded generator makes the data,
//! the example materializes with no skew against the offline values, and a point-in-time
//! training set over the labelled checkouts has every row once with its on-demand features.

use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fraud")
}

/// A copy of the example's specs with its data generated inside the copy.
fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(example())
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "mlp") {
            std::fs::copy(&p, dir.path().join(entry.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    std::fs::create_dir_all(dir.path().join("data")).unwrap_or_else(|e| panic!("{e}"));
    let sql =
        std::fs::read_to_string(example().join("generate.sql")).unwrap_or_else(|e| panic!("{e}"));
    // The timeline pinned to end on 2026-04-01, as in every test.
    let sql = mlp_test_support::serving::EXAMPLE_AS_OF.to_string()
        + &sql.replace("'data/", &format!("'{}/data/", dir.path().display()));
    duckdb::Connection::open_in_memory()
        .and_then(|c| c.execute_batch(&sql))
        .unwrap_or_else(|e| panic!("generate.sql: {e}"));
    dir
}

#[test]
fn the_fraud_example_materializes_without_skew_and_builds_a_training_set() {
    let dir = generated();
    let p = dir.path();
    let checked = mlp_driver::check_dir(p, None);
    let plan = checked
        .plan
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let done = mlp_features::materialize(&plan, p, &[], Some("2026-03-31 00:00:00"))
        .unwrap_or_else(|e| panic!("{e}"));
    let views: Vec<&str> = done.iter().map(|m| m.view.as_str()).collect();
    assert_eq!(
        views,
        ["merchant_profile", "user_stats"],
        "the online views with a source"
    );
    for view in ["user_stats", "merchant_profile"] {
        let r = mlp_features::verify(&plan, p, view).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.keys > 100, "{view}: {} keys", r.keys);
        assert!(
            r.mismatches.is_empty(),
            "{view}: {:#?}",
            &r.mismatches[..r.mismatches.len().min(5)]
        );
    }
    let req = mlp_features::HistoricalRequest {
        project_dir: p.to_path_buf(),
        entities: p.join("data/labels.parquet"),
        features: [
            "user_stats.txn_count_7d",
            "user_stats.avg_amount_7d",
            "merchant_profile.risk_score",
            "checkout_derived.amount_vs_avg",
            "checkout_derived.big_and_foreign",
        ]
        .iter()
        .map(|f| f.to_string())
        .collect(),
        at: "event_timestamp".into(),
        out: p.join("training.csv"),
    };
    let report = mlp_features::historical(&plan, &req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows, 10_000);
    let text = std::fs::read_to_string(p.join("training.csv")).unwrap_or_default();
    let header = text.lines().next().unwrap_or("");
    assert!(
        header.ends_with("checkout_derived__amount_vs_avg,checkout_derived__big_and_foreign"),
        "{header}"
    );
    // Each user makes about 7.8 payments a week; a payment becomes visible only once created
    // (up to 10 minutes after it happened), so some labels see none of their own yet.
    let counts: Vec<u64> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(6)
                .and_then(|c| c.parse().ok())
                .unwrap_or(u64::MAX)
        })
        .collect();
    assert_eq!(counts.len(), 10_000);
    assert!(
        counts.iter().all(|c| *c < 100),
        "a count is missing or absurd"
    );
    let mean = counts.iter().sum::<u64>() as f64 / counts.len() as f64;
    assert!((5.0..11.0).contains(&mean), "mean 7-day count {mean}");
    assert!(
        counts.contains(&0),
        "the leak-free rule hides payments not yet created"
    );
}
