//! The example's data ends when it is generated: right after the demo's steps (generate,
//! apply, materialize), an online lookup of a known user and merchant finds a value for every
//! online feature of the example, none expired by its view's TTL.

use mlp_test_support::serving::{example_at, mlpc_bin};
use serde_json::Value;
use std::process::Command;

/// Every feature the example serves from its online store.
const ONLINE: &[&str] = &[
    "user_stats.txn_count_7d",
    "user_stats.avg_amount_7d",
    "user_stats.max_amount_1d",
    "user_stats.countries_30d",
    "user_stats.last_country",
    "merchant_profile.risk_score",
    "merchant_profile.category",
];

#[test]
fn data_generated_now_gives_online_values_for_every_feature() {
    let dir = example_at(None);
    let p = dir.path();
    let run = |args: &[&str]| {
        let out = Command::new(mlpc_bin())
            .args(args)
            .current_dir(p)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "mlpc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["apply", ".", "--auto-approve"]);
    run(&["materialize", "."]);
    let features = ONLINE.join(",");
    for entity in ["user_id=42,merchant_id=7", "user_id=7,merchant_id=199"] {
        let out = run(&[
            "features",
            "online",
            ".",
            "--entity",
            entity,
            "--features",
            &features,
        ]);
        let answer: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        for f in ONLINE {
            let col = f.replace('.', "__");
            let v = &answer["columns"][&col][0];
            assert!(
                !v.is_null(),
                "{entity}: `{f}` is null online right after the data was generated: {answer}"
            );
        }
    }
}
