//! The project generator makes valid projects: a small one checks clean with every kind of
//! resource present, so the benchmark measures the checker on good input, not error paths.

use mlp_tests::gen::{generate, Shape};

#[test]
fn generated_project_checks_clean() {
    let files = generate(Shape {
        files: 12,
        features: 300,
        model_every: 5,
    });
    assert_eq!(files.len(), 12);
    let checked = mlp_driver::check_sources(&files, None);
    let msgs: Vec<String> = checked
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    assert!(msgs.is_empty(), "diagnostics: {msgs:#?}");
    let plan = checked.plan.unwrap_or_else(|| panic!("no plan"));
    let features = plan.resources().filter(|r| r.kind() == "feature").count();
    // 300 batch features plus one on-demand feature per model (files 0, 5, 10).
    assert_eq!(features, 303);
    for kind in ["model", "deployment", "consumer", "source", "feature_view"] {
        assert!(
            plan.resources().any(|r| r.kind() == kind),
            "no {kind} in the plan"
        );
    }
}
