//! Nothing the language accepts is ignored: every stdlib built-in and every attribute and
//! block of `compiler/sema/src/support.rs` is either implemented by the runtime (checked here
//! against the runtime itself: the SQL generator, the online evaluator, the serving graph,
//! the stores' readers) or rejected by `mlpc check` with its own code (checked here by
//! checking a project that uses it). A built-in declared without either fails this test.

use mlp_ir::{IrExpr, Scalar};
use mlp_sema::support::{self, Support};
use mlp_stdlib::{Builtin, Kind};

/// Checks `src` as a one-file project; the diagnostic codes.
fn codes_of(src: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("p.mlp"), src).unwrap_or_else(|e| panic!("{e}"));
    let checked = mlp_driver::check_dir(dir.path(), None);
    checked
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect()
}

/// The plan of `src`, which must check clean.
fn plan_of(src: &str) -> Result<mlp_ir::Plan, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("p.mlp"), src).map_err(|e| e.to_string())?;
    let checked = mlp_driver::check_dir(dir.path(), None);
    if checked.has_errors() {
        return Err(format!("{:?}", checked.diagnostics));
    }
    checked.plan.ok_or_else(|| "no plan".to_string())
}

const BASE: &str = "request r { x: float  s: string  t: timestamp }
model m { inputs = [r.x]  output = score: float }
deployment d { model = m@1 }
";

/// A use of built-in `b` in the place the language allows it.
fn use_of(b: &Builtin) -> String {
    let args = |b: &Builtin| {
        b.params
            .as_ref()
            .map(|ps| {
                ps.iter()
                    .filter(|p| !p.optional)
                    .map(
                        |p| match p.types.first().map(String::as_str).unwrap_or("") {
                            // A store's URL is checked as one.
                            "string" if b.name == "redis" => {
                                "\"redis://127.0.0.1:6379/0\"".to_string()
                            }
                            "string" => "\"x\"".to_string(),
                            "int" => "1".to_string(),
                            _ => "r.x".to_string(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .map(|a| format!("({a})"))
            .unwrap_or_default()
    };
    match b.kind {
        Kind::Metric => format!(
            "project p {{}}\n{BASE}monitor w {{\n  on = d\n  check {}{} < 1\n}}\n",
            b.name,
            args(b)
        ),
        Kind::Sink => format!(
            "project p {{}}\n{BASE}monitor w {{\n  on = d\n  check latency_p99 < 20ms\n  alert = {}{}\n}}\n",
            b.name,
            args(b)
        ),
        Kind::Store => format!("project p {{\n  {} = {}{}\n}}\n{BASE}", b.returns, b.name, args(b)),
        _ => String::new(),
    }
}

/// Whether the runtime implements built-in `b`; why not when it does not.
fn implemented(b: &Builtin) -> Result<(), String> {
    let x = IrExpr::Request {
        request: "r".into(),
        field: "x".into(),
    };
    let col = |n: &str| format!("\"{n}\"");
    let kind = |_: &IrExpr| mlp_features::ondemand::Kind::Float;
    match b.kind {
        Kind::Aggregate => {
            let arg = if b.name == "count" {
                IrExpr::Star
            } else {
                IrExpr::Column { name: "x".into() }
            };
            let call = IrExpr::Call {
                func: b.name.clone(),
                args: vec![arg],
            };
            mlp_features::sql::aggregate_to_sql(&call, &col, &kind, "ts")
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Kind::Scalar => {
            let s = Scalar::from_name(&b.name).ok_or_else(|| {
                format!(
                    "`{}` is not in mlp_ir::Scalar, so neither evaluator has it",
                    b.name
                )
            })?;
            let call = IrExpr::Call {
                func: s.name().into(),
                args: vec![x; b.max_args()],
            };
            mlp_features::sql::expr_to_sql(&call, &col, &kind)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Kind::Combiner => mlp_serving::graph::Method::parse(&b.name)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Kind::Store => {
            let plan = plan_of(&use_of(b))?;
            match b.returns.as_str() {
                "lineage" => mlp_state::openlineage::sink(&plan, std::path::Path::new("."))
                    .map(|_| ())
                    .ok_or_else(|| format!("no OpenLineage sink for `{}`", b.name)),
                "online" if b.name == "memory" => {
                    let cap = mlp_features::online::capacity(&plan);
                    (cap > 0).then_some(()).ok_or_else(|| "no capacity".into())
                }
                "online" if b.name == "redis" => match mlp_features::online::online_config(&plan) {
                    mlp_features::online::OnlineConfig::Redis { url, .. }
                        if url == "redis://127.0.0.1:6379/0" =>
                    {
                        Ok(())
                    }
                    other => Err(format!("the online store read back is {other:?}")),
                },
                // The offline SQL runs on DuckDB, or on Spark.
                "offline" if b.name == "duckdb" => Ok(()),
                "offline" if b.name == "spark" => {
                    match mlp_features::spark::offline_config(&plan) {
                        mlp_features::spark::OfflineConfig::Spark(_) => Ok(()),
                        other => Err(format!("the offline engine read back is {other:?}")),
                    }
                }
                other => Err(format!("no {other} store `{}` in the runtime", b.name)),
            }
        }
        Kind::Metric => mlp_monitoring::monitor::Metric::from_name(&b.name)
            .map(|_| ())
            .ok_or_else(|| {
                format!(
                    "`{}` is not in mlp_monitoring's Metric, so no monitor evaluates it",
                    b.name
                )
            }),
        Kind::Sink => {
            let plan = plan_of(&use_of(b))?;
            let sinks: Vec<_> = plan
                .resources()
                .filter_map(|r| match &r.spec {
                    mlp_ir::Spec::Monitor { alerts, .. } => Some(alerts.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            match sinks.first() {
                Some(s) if mlp_monitoring::monitor::Sink::from_backend(s).is_some() => Ok(()),
                _ => Err(format!("no monitor delivers to the sink `{}`", b.name)),
            }
        }
    }
}

/// What is wrong with `builtins`: each one that is neither implemented nor rejected.
fn unaccounted(builtins: &[Builtin]) -> Vec<String> {
    let mut out = Vec::new();
    for b in builtins {
        let what = format!("{} `{}`", b.kind.keyword(), b.name);
        match support::builtin(b.kind, &b.name) {
            None => out.push(format!("{what}: no entry in compiler/sema/src/support.rs")),
            Some(Support::Metadata) => out.push(format!("{what}: a built-in is not metadata")),
            Some(Support::Runtime(_)) => {
                if let Err(e) = implemented(b) {
                    out.push(format!("{what}: said implemented, but {e}"));
                }
                // An argument the runtime does not use is rejected when given.
                if let Some(r) = support::rejected_arguments(b.kind, &b.name, 1) {
                    let src = format!("project p {{\n  {} = {}(\"x\")\n}}\n", b.returns, b.name);
                    if !codes_of(&src).iter().any(|c| c == r.code) {
                        out.push(format!(
                            "{what}: its argument is said rejected with {}, but check accepts it",
                            r.code
                        ));
                    }
                }
            }
            Some(Support::Rejected(r)) => {
                let codes = codes_of(&use_of(b));
                if !codes.iter().any(|c| c == r.code) {
                    out.push(format!(
                        "{what}: said rejected with {}, but check gave {codes:?}",
                        r.code
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_builtin_is_implemented_or_rejected() {
    let problems = unaccounted(mlp_stdlib::all());
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(mlp_stdlib::all().len() > 60);
}

#[test]
fn a_new_builtin_without_an_implementation_fails_the_check() {
    for extra in [
        "/// New.\nscalar frobnicate(x: numeric) -> float\n",
        "/// New.\naggregate mode(x: any) -> T\n",
        "/// New.\ncombiner median -> float\n",
        "/// New.\nstore kafka(url: string) -> online\n",
        "/// New.\nmetric kurtosis(x: numeric) -> float\n",
    ] {
        let builtins = mlp_stdlib::parse(&format!("{}\n{extra}", mlp_stdlib::SOURCE))
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = unaccounted(&builtins);
        let name = extra
            .split_whitespace()
            .nth(3)
            .and_then(|n| n.split('(').next())
            .unwrap_or_default();
        assert!(
            problems.len() == 1 && problems[0].contains(&format!("`{name}`")),
            "{extra}: {problems:#?}"
        );
    }
}

#[test]
fn every_rejected_construct_has_a_golden_file_with_its_code() {
    let goldens: String = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/diagnostics"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .filter_map(Result::ok)
    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
    .collect();
    let mut rejected = Vec::new();
    for b in support::BLOCKS {
        for (name, s) in b.attrs.iter().chain(b.blocks) {
            if let Support::Rejected(r) = s {
                rejected.push((format!("{} `{name}`", b.block), r.code));
            }
        }
    }
    for (kw, s) in support::DECLARATIONS {
        if let Support::Rejected(r) = s {
            rejected.push((format!("declaration `{kw}`"), r.code));
        }
    }
    // Rejected built-ins too (every attribute and declaration is run by now), except
    // `email`, rejected only on a machine without `sendmail` (E0705; a golden file would
    // pass on one machine and fail on another).
    for b in mlp_stdlib::all().iter().filter(|b| b.name != "email") {
        if let Some(Support::Rejected(r)) = support::builtin(b.kind, &b.name) {
            rejected.push((format!("{} `{}`", b.kind.keyword(), b.name), r.code));
        }
    }
    // Nothing may be rejected any more: then there is nothing to show.
    for (what, code) in rejected {
        assert!(
            goldens.contains(&format!(" {code}")),
            "{what} is rejected with {code}, which no tests/diagnostics file shows"
        );
    }
    // The schema the checker sorts with holds every block kind the language reference shows.
    for block in [
        "project",
        "source",
        "feature view",
        "model",
        "pipeline",
        "step",
        "deployment",
        "consumer",
    ] {
        assert!(support::block(block).is_some(), "no schema for {block}");
    }
}
