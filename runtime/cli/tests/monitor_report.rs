//! `mlpc monitor report`: a monitor's history as one self-contained HTML file. The history is
//! built without a model, from a prediction log written directly (as in monitor_inputs.rs)
//! and `mlpc monitor run --at` at three times: a quiet hour, an hour of server errors, an
//! hour whose `x` and `c` drifted. The report is checked for what it must hold and must not
//! load. `scripts/monitor-report-screenshot.sh` renders the same history in Chromium: set
//! `MLP_MONITOR_REPORT_KEEP=FILE` to keep the report this test writes.

use mlp_test_support::serving::{mlpc, mlpc_bin};
use std::path::Path;
use std::process::{Command, Output};

const SPEC: &str = r#"project p {}
request r {
  x: float
  y: float
  c: string
}
features f {
  has_c: bool = not is_null(r.c)
}
model m {
  inputs = [r.x, r.y, f.has_c]
  output = score: float
}
deployment d {
  model = m@1
  log   = all
}
monitor traffic {
  on       = d
  window   = 1h
  baseline = "base.parquet"
  labels   = "labels.parquet"

  check psi(r.x) < 0.2
  check js(r.c) < 0.1
  check drift(r.y)
  check mean(r.x) < 7
  check auc(score, labels.y) > 0.6
  check error_rate < 1%
}
monitor service {
  on     = d
  window = 1h
  check latency_p95 < 50ms
}
monitor idle {
  on     = d
  window = 1h
  check error_rate < 5%
}
"#;

/// 2026-11-30T12:00:00Z in µs.
const NOON: i64 = 1_796_040_000_000_000;

fn sql(conn: &duckdb::Connection, s: &str) {
    conn.execute_batch(s).unwrap_or_else(|e| panic!("{e}: {s}"));
}

/// The baseline (`x` spread over 0..10, `y` five values, `c` three categories, one of them
/// `<b>&co`), 10 labels (too few for AUC: no data), and a log of three hours before noon,
/// one request every 15 s: the second hour has 5% server errors, the third a shifted `x` and
/// mostly `<b>&co`.
fn write_inputs(p: &Path) {
    let conn = duckdb::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let base = p.join("base.parquet").display().to_string();
    let labels = p.join("labels.parquet").display().to_string();
    sql(&conn, &format!(
        "COPY (SELECT (i * 7919 % 1000) / 100.0 AS x, (i % 5) * 1.0 AS y,
                ['a', 'b', '<b>&co'][i % 3 + 1] AS c FROM range(600) t(i)) TO '{base}' (FORMAT parquet)"
    ));
    sql(&conn, &format!(
        "COPY (SELECT 'id' || i AS request_id, i % 2 = 0 AS y FROM range(10) t(i)) TO '{labels}' (FORMAT parquet)"
    ));
    let dir = p.join(".mlp/predictions");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    // One file per hour, named after its first record as the server names them.
    for hour in 0..3i64 {
        let first = NOON - 10_800_000_000 + hour * 3_600_000_000;
        let file = dir
            .join(format!("part-{first}-1-{:06}.parquet", hour + 1))
            .display()
            .to_string();
        sql(&conn, &format!(
        "COPY (SELECT 'id' || i AS request_id, make_timestamp({NOON} - 10800000000 + i * 15000000) AS time,
                'd' AS deployment, 'm@1' AS model_version, NULL::VARCHAR AS shadow_version, NULL::VARCHAR AS consumer,
                (CASE WHEN i // 240 = 1 AND i % 20 = 0 THEN 500 ELSE 200 END)::USMALLINT AS status,
                NULL::VARCHAR AS error, 1::UINTEGER AS rows, true AS sampled, '{{}}'::JSON AS entities,
                json_object('x', [x], 'y', [y], 'c', [c]) AS request,
                json_object('r.x', [x], 'r.y', [y], 'r.c', [c]) AS features,
                json_object('score', [(i % 10) / 10.0]) AS outputs,
                NULL::JSON AS shadow_outputs, 3.0 + i % 7 AS latency_ms
         FROM (SELECT i,
                 (i * 7919 % 1000) / 100.0 + (CASE WHEN i // 240 = 2 THEN 4 ELSE 0 END) AS x,
                 (i % 5) * 1.0 AS y,
                 CASE WHEN i // 240 = 2 AND i % 4 <> 0 THEN '<b>&co' ELSE ['a', 'b', '<b>&co'][i % 3 + 1] END AS c
               FROM range(720) t(i)) WHERE i // 240 = {hour}) TO '{file}' (FORMAT parquet)"
    ));
    }
}

fn mlpc_in(p: &Path, args: &[&str]) -> Output {
    Command::new(mlpc_bin())
        .args(args)
        .current_dir(p)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A project with the history of three evaluations of `traffic` and `service`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path();
    std::fs::write(p.join("p.mlp"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    write_inputs(p);
    for at in ["10:00", "11:00", "12:00"] {
        let at = format!("2026-11-30T{at}:00Z");
        let out = mlpc_in(
            p,
            &["monitor", "run", ".", "traffic", "service", "--at", &at],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3 | 4)),
            "{at}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The text between `<table` and `</table>`: the checks table.
fn table(html: &str) -> &str {
    let start = html.find("<table").unwrap_or(0);
    let end = html.find("</table>").unwrap_or(html.len());
    &html[start..end]
}

#[test]
fn the_report_is_one_self_contained_file_with_every_check_chart_and_state() {
    let dir = project();
    let p = dir.path();
    let out = mlpc_in(
        p,
        &["monitor", "report", ".", "traffic", "--out", "report.html"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: Vec<_> = std::fs::read_dir(p)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("report"))
        .collect();
    assert_eq!(entries, vec!["report.html"], "one file, nothing beside it");
    let html = std::fs::read_to_string(p.join("report.html")).unwrap_or_else(|e| panic!("{e}"));
    if let Some(keep) = std::env::var_os("MLP_MONITOR_REPORT_KEEP") {
        std::fs::write(&keep, &html).unwrap_or_else(|e| panic!("{e}"));
    }

    // Nothing to fetch: no URL, no external resource, no script.
    for banned in [
        "http://", "https://", "src=", "href=", "<script", "<link", "@import", "url(",
    ] {
        assert!(!html.contains(banned), "the report holds `{banned}`");
    }
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);

    // The header: monitor, deployment, latest window, baseline, model version.
    for want in [
        "Monitor traffic",
        "2026-11-30 11:00:00 .. 2026-11-30 12:00:00 UTC",
        "file:",
        "m@1",
    ] {
        assert!(html.contains(want), "no `{want}`");
    }
    // Check texts and data are escaped: the check `<` and the category `<b>&co`.
    assert!(html.contains("psi(r.x) &lt; 0.2"), "check text not escaped");
    assert!(!html.contains("psi(r.x) < 0.2"), "raw check text");
    assert!(html.contains("&lt;b&gt;&amp;co"), "category not escaped");
    assert!(!html.contains("<b>&co"), "raw category");

    // States: the drifted columns fail, AUC has no data (never 0), error_rate resolved.
    let t = table(&html);
    assert_eq!(t.matches("<tr>").count(), 7, "a header and six checks");
    for state in ["firing", "no data", "resolved", "ok"] {
        assert!(
            t.contains(&format!(">{state}</span>")),
            "no `{state}` in {t}"
        );
    }
    assert!(
        t.contains("labelled rows in the window; at least 30 needed"),
        "{t}"
    );

    // An <svg> per distribution check (psi, js, drift) and per check's history.
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, 3 + 6, "{svgs} charts");
    let distributions = &html[html.find("<h2 id=\"distributions\">").unwrap_or(0)
        ..html.find("<h2 id=\"history\">").unwrap_or(0)];
    assert_eq!(distributions.matches("<svg").count(), 3);
    // Bars are labelled: equal-width intervals for x, values for y, categories for c.
    for label in ["[0.0, 1.3)", ">4</text>", ">a</text>"] {
        assert!(distributions.contains(label), "no bar label `{label}`");
    }
    // History: three windows, dashed thresholds, hollow squares for no data.
    let history = &html[html.find("<h2 id=\"history\">").unwrap_or(0)..];
    assert!(history.contains("3 evaluations"));
    assert_eq!(history.matches("class=\"threshold\"").count(), 6);
    assert_eq!(
        history.matches("no value (no data)").count(),
        3,
        "AUC's three windows"
    );
}

#[test]
fn a_monitor_never_evaluated_or_unknown_is_a_clear_error() {
    let dir = project();
    let p = dir.path();
    let out = mlpc_in(p, &["monitor", "report", ".", "idle", "--out", "idle.html"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("`idle` has never been evaluated"), "{err}");
    assert!(!p.join("idle.html").exists());

    let out = mlpc_in(p, &["monitor", "report", ".", "nope", "--out", "nope.html"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no monitor `nope`: the history has service, traffic"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = mlpc_in(
        empty.path(),
        &["monitor", "report", "traffic", "--out", "r.html"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no monitor has been evaluated"), "{err}");
}
