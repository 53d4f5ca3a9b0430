//! Plan and apply on a real catalog: the first apply creates everything, a second apply of
//! the same specs changes nothing, an edit becomes an update with its attribute diff, and a
//! stale saved plan is refused.

use mlp_state::{apply, plan_to_changes, Action, ApplyError, Catalog, Severity};
use std::path::Path;

const BASE: &str = "project p {}

entity user {
  key = user_id: int
}

source tx {
  path      = \"t.parquet\"
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
}

request call {
  amount: float
}

model m {
  inputs = [stats.avg_7d, call.amount]
  output = score: float
}

deployment api {
  model = m@production
}

consumer app {
  uses = api.score
}
";

fn plan_of(src: &str) -> mlp_ir::Plan {
    let checked = mlp_driver::check_sources(&[("p.mlp".into(), src.into())], None);
    let msgs: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    checked
        .plan
        .unwrap_or_else(|| panic!("does not check: {msgs:?}"))
}

fn apply_src(dir: &Path, src: &str) -> mlp_state::ChangeSet {
    let plan = plan_of(src);
    let mut cat = Catalog::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    apply(&mut cat, dir, &plan, &changes, &[]).unwrap_or_else(|e| panic!("{e}"));
    changes
}

/// Applies BASE in a fresh folder, then returns the changes `edited` would make to it.
fn changes_after_base(edited: &str) -> (tempfile::TempDir, mlp_state::ChangeSet) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    apply_src(dir.path(), BASE);
    let plan = plan_of(edited);
    let cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    (dir, changes)
}

/// The change to `id`.
fn change<'a>(changes: &'a mlp_state::ChangeSet, id: &str) -> &'a mlp_state::Change {
    changes
        .changes
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no change to {id}: {changes:#?}"))
}

#[test]
fn apply_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let first = apply_src(dir.path(), BASE);
    assert!(first.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(first.summary.add, first.changes.len());
    let second = apply_src(dir.path(), BASE);
    assert!(second.is_empty(), "{:#?}", second.changes);
    let snap = Catalog::open(dir.path())
        .and_then(|c| c.snapshot())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snap.serial, 1);
    assert_eq!(snap.resources.len(), first.changes.len());
    assert!(snap.resources.values().all(|r| r.version == 1));
}

#[test]
fn a_changed_window_is_a_breaking_update_that_reaches_the_consumer() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    apply_src(dir.path(), BASE);
    let edited = BASE.replace("avg(amount) over 7d", "avg(amount) over 14d");
    let plan = plan_of(&edited);
    let cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    let c = changes
        .changes
        .iter()
        .find(|c| c.id == "feature.stats.avg_7d")
        .unwrap_or_else(|| panic!("{changes:#?}"));
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.severity, Severity::Breaking);
    assert_eq!(
        c.diffs.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
        ["def.window_ms"]
    );
    for id in ["model.m", "deployment.api", "consumer.app"] {
        assert!(
            c.reaches.iter().any(|r| r == id),
            "{id} not in {:?}",
            c.reaches
        );
    }
    drop(cat);
    apply_src(dir.path(), &edited);
    let snap = Catalog::open(dir.path())
        .and_then(|c| c.snapshot())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snap.serial, 2);
    assert_eq!(snap.resources["feature.stats.avg_7d"].version, 2);
}

#[test]
fn a_type_change_is_a_replace() {
    let (_dir, changes) = changes_after_base(&BASE.replace(
        "avg_7d: float = avg(amount) over 7d",
        "avg_7d: int = count(*) over 7d",
    ));
    let c = change(&changes, "feature.stats.avg_7d");
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.actions, ["delete", "create"]);
    assert_eq!(c.severity, Severity::Breaking);
}

#[test]
fn a_stale_saved_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plan = plan_of(BASE);
    let cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let saved = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    drop(cat);
    apply_src(dir.path(), BASE);
    let mut cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    match apply(&mut cat, dir.path(), &plan, &saved, &[]) {
        Err(ApplyError::Stale {
            planned: 0,
            current: 1,
        }) => {}
        other => panic!("expected a stale plan error, got {other:?}"),
    }
}

/// A component that fails on one resource, to show that a failed apply records nothing.
struct FailOn(&'static str);

impl mlp_state::Component for FailOn {
    fn name(&self) -> &str {
        "test component"
    }
    fn apply(&self, change: &mlp_state::Change, _: &mlp_ir::Plan, _: &Path) -> Result<(), String> {
        if change.id == self.0 {
            Err("disk full".into())
        } else {
            Ok(())
        }
    }
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn applies_emit_openlineage_run_events_and_a_failed_component_records_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = BASE.replace(
        "project p {}",
        "project p {\n  lineage = file(\"events.jsonl\")\n}",
    );
    let plan = plan_of(&src);
    let mut cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    // A component fails: FAIL is emitted and the state stays empty.
    let failing = FailOn("model.m");
    match apply(&mut cat, dir.path(), &plan, &changes, &[&failing]) {
        Err(ApplyError::Component { id, .. }) => assert_eq!(id, "model.m"),
        other => panic!("expected a component error, got {other:?}"),
    }
    assert_eq!(cat.snapshot().unwrap_or_else(|e| panic!("{e}")).serial, 0);
    let ev = events(dir.path());
    assert_eq!(
        ev.iter()
            .map(|e| e["eventType"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["START", "FAIL"]
    );
    // Applied for real: START then COMPLETE, one run id, the changes as output datasets.
    let report =
        apply(&mut cat, dir.path(), &plan, &changes, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let ev = events(dir.path());
    assert_eq!(ev.len(), 4);
    let (start, complete) = (&ev[2], &ev[3]);
    assert_eq!(
        (start["eventType"].as_str(), complete["eventType"].as_str()),
        (Some("START"), Some("COMPLETE"))
    );
    assert_eq!(start["run"]["runId"], complete["run"]["runId"]);
    assert_ne!(
        ev[0]["run"]["runId"], start["run"]["runId"],
        "each apply is its own run"
    );
    assert_eq!(complete["job"]["namespace"], "mlp://p");
    assert_eq!(complete["job"]["name"], "mlpc.apply");
    assert_eq!(
        complete["outputs"].as_array().map_or(0, Vec::len),
        changes.changes.len()
    );
    assert!(complete["schemaURL"]
        .as_str()
        .is_some_and(|u| u.contains("openlineage.io")));
    assert!(complete["eventTime"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
}

/// Receives `n` HTTP requests on a loopback port and returns their bodies.
fn receive(listener: std::net::TcpListener, n: usize) -> std::thread::JoinHandle<Vec<String>> {
    use std::io::{BufRead, BufReader, Read, Write};
    std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
            let mut len = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            bodies.push(String::from_utf8_lossy(&body).to_string());
            let _ = stream.write_all(
                b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
        bodies
    })
}

#[test]
fn run_events_are_posted_to_an_http_endpoint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let server = receive(listener, 2);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = BASE.replace(
        "project p {}",
        &format!("project p {{\n  lineage = http(\"http://127.0.0.1:{port}/api/v1/lineage\")\n}}"),
    );
    let plan = plan_of(&src);
    let mut cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    let report =
        apply(&mut cat, dir.path(), &plan, &changes, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let bodies = server.join().unwrap_or_else(|_| panic!("server thread"));
    let types: Vec<String> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b)
                .map(|v| v["eventType"].to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(types, ["\"START\"", "\"COMPLETE\""]);
}

#[test]
fn an_unreachable_lineage_endpoint_warns_but_does_not_fail_the_apply() {
    // Bind then drop: the port is closed when the apply sends.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = BASE.replace(
        "project p {}",
        &format!("project p {{\n  lineage = http(\"http://127.0.0.1:{port}/\")\n}}"),
    );
    let plan = plan_of(&src);
    let mut cat = Catalog::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let changes = plan_to_changes(&plan, &cat.snapshot().unwrap_or_else(|e| panic!("{e}")));
    let report =
        apply(&mut cat, dir.path(), &plan, &changes, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.serial, 1);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("OpenLineage"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_deployment_output_added_is_a_compatible_note_for_its_consumers() {
    let (_dir, changes) = changes_after_base(&BASE.replace(
        "output = score: float",
        "outputs = [score: float, reason: string]",
    ));
    let d = change(&changes, "deployment.api");
    assert_eq!(d.severity, Severity::Compatible, "{d:#?}");
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("consumer `consumer.app` may read them")),
        "{d:#?}"
    );
    let m = change(&changes, "model.m");
    assert_eq!(
        m.severity,
        Severity::Compatible,
        "an added output breaks no reader: {m:#?}"
    );
}
