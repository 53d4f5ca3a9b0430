//! Unit tests of the registry: versions and their immutability, references (numbers,
//! aliases, `latest`), tag search, metrics files, timestamps and the HTTP API.

use super::*;
use std::path::Path;

fn artifact(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn new_version(model: &str, artifact: PathBuf, auc: f64, tags: &[(&str, &str)]) -> NewVersion {
    NewVersion {
        model: model.into(),
        artifact,
        metrics: [("auc".to_string(), auc)].into(),
        params: [("lr".to_string(), serde_json::json!(0.01))].into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        origin: Origin {
            pipeline: Some("train".into()),
            run_id: Some("r1".into()),
            step: Some("fit".into()),
        },
        training_set: Some(TrainingSet {
            sha256: "ab".repeat(32),
            features: vec!["stats.n".into()],
        }),
        signature: None,
    }
}

#[test]
fn versions_count_up_and_the_same_artifact_is_the_same_version() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let a = artifact(dir.path(), "a.pt", b"model a");
    let b = artifact(dir.path(), "b.pt", b"model b");
    let r1 = reg
        .register(&new_version("m", a.clone(), 0.9, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let r2 = reg
        .register(&new_version("m", b, 0.8, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let again = reg
        .register(&new_version("m", a.clone(), 0.9, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r1.version.version, r1.created), (1, true));
    assert_eq!((r2.version.version, r2.created), (2, true));
    assert_eq!((again.version.version, again.created), (1, false));
    // Another model numbers its versions on its own.
    let other = reg
        .register(&new_version("n", a, 0.5, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other.version.version, 1);

    let v1 = reg.get("m", 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        v1.artifact_sha256,
        sha256_file(&dir.path().join("a.pt")).unwrap_or_default()
    );
    assert_eq!(v1.metrics["auc"], 0.9);
    assert_eq!(v1.origin.run_id.as_deref(), Some("r1"));
    assert_eq!(
        v1.training_set.as_ref().map(|t| t.features.clone()),
        Some(vec!["stats.n".to_string()])
    );
    // The stored artifact is a copy: changing the original changes nothing registered.
    std::fs::write(dir.path().join("a.pt"), b"changed").unwrap_or_else(|e| panic!("{e}"));
    let stored = std::fs::read(reg.artifact_path(&v1)).unwrap_or_default();
    assert_eq!(stored, b"model a");
}

#[test]
fn versions_cannot_be_changed_or_deleted_even_with_sql() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let a = artifact(dir.path(), "a.pt", b"x");
    reg.register(&new_version("m", a, 0.9, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let conn = rusqlite::Connection::open(dir.path().join(".mlp/registry.sqlite"))
        .unwrap_or_else(|e| panic!("{e}"));
    let update = conn.execute("UPDATE versions SET metrics = '{}'", []);
    let delete = conn.execute("DELETE FROM versions", []);
    assert!(update.is_err_and(|e| e.to_string().contains("immutable")));
    assert!(delete.is_err_and(|e| e.to_string().contains("immutable")));
}

#[test]
fn references_resolve_to_numbers_aliases_and_latest() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        let a = artifact(dir.path(), &format!("{i}.pt"), format!("m{i}").as_bytes());
        reg.register(&new_version("m", a, 0.5, &[]))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let moved = reg
        .set_alias("m", "production", 2, "by hand")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((moved.from, moved.to), (None, 2));
    let version = |r: &str| {
        reg.resolve("m", r)
            .map(|v| v.version)
            .map_err(|e| e.to_string())
    };
    assert_eq!(version("latest"), Ok(3));
    assert_eq!(version("1"), Ok(1));
    assert_eq!(version("v1"), Ok(1));
    assert_eq!(version("production"), Ok(2));
    let err = version("staging").err().unwrap_or_default();
    assert!(err.contains("no version or alias `staging`"), "{err}");
    assert!(err.contains("versions 1 to 3, latest, production"), "{err}");
    assert!(version("4").is_err());
    assert!(version("0").is_err());
    assert!(reg
        .resolve("nope", "latest")
        .is_err_and(|e| e.to_string().contains("`nope` has no registered version")));

    // Moving the alias records where it came from; the version lists its aliases.
    let moved = reg
        .set_alias("m", "production", 3, "gate")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((moved.from, moved.to), (Some(2), 3));
    assert_eq!(
        reg.get("m", 3).map(|v| v.aliases).unwrap_or_default(),
        vec!["production".to_string()]
    );
    assert!(reg
        .get("m", 2)
        .map(|v| v.aliases.is_empty())
        .unwrap_or(false));
    let history = reg.alias_history("m").unwrap_or_default();
    assert_eq!(
        history.iter().map(|m| (m.from, m.to)).collect::<Vec<_>>(),
        vec![(None, 2), (Some(2), 3)]
    );
}

#[test]
fn bad_aliases_and_missing_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let a = artifact(dir.path(), "a.pt", b"x");
    reg.register(&new_version("m", a, 0.9, &[]))
        .unwrap_or_else(|e| panic!("{e}"));
    let err =
        |r: Result<AliasMove, RegistryError>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(reg.set_alias("m", "latest", 1, ""))
        .contains("`latest` always means the highest version"));
    assert!(err(reg.set_alias("m", "9bad", 1, "")).contains("cannot be an alias"));
    assert!(err(reg.set_alias("m", "prod", 7, "")).contains("it has versions 1 to 1"));
    assert!(err(reg.set_alias("zz", "prod", 1, "")).contains("`zz` has no registered version"));
    assert!(reg
        .aliases("m")
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
}

#[test]
fn search_finds_versions_with_every_tag() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let tagged = [
        &[("team", "risk"), ("data", "v1")][..],
        &[("team", "risk"), ("data", "v2")][..],
        &[("team", "growth")][..],
    ];
    for (i, tags) in tagged.iter().enumerate() {
        let a = artifact(dir.path(), &format!("{i}.pt"), format!("m{i}").as_bytes());
        reg.register(&new_version("m", a, 0.5, tags))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let found = |tags: &[(&str, &str)]| {
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        reg.search(Some("m"), &tags)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(found(&[("team", "risk")]), vec![1, 2]);
    assert_eq!(found(&[("team", "risk"), ("data", "v2")]), vec![2]);
    assert_eq!(found(&[("team", "nobody")]), Vec::<u64>::new());
    assert_eq!(found(&[]), vec![1, 2, 3]);
}

#[test]
fn metrics_files_are_objects_of_numbers_flattened_with_dots() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = artifact(
        dir.path(),
        "m.json",
        br#"{"auc": 0.91, "loss": {"train": 0.2, "val": 0.3}}"#,
    );
    let metrics = read_metrics(&good).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        metrics.keys().collect::<Vec<_>>(),
        ["auc", "loss.train", "loss.val"]
    );
    let bad = artifact(dir.path(), "b.json", br#"{"auc": "high"}"#);
    let e = read_metrics(&bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("metric `auc` must be a number"), "{e}");
    let e = read_metrics(&artifact(dir.path(), "c.json", b"[1]"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("expected a JSON object"), "{e}");
    let e = read_metrics(&artifact(dir.path(), "d.json", b"{"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("not JSON"), "{e}");
}

#[test]
fn timestamps_are_rfc3339_utc() {
    assert_eq!(db_rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(db_rfc3339(1_775_001_600, 5), "2026-04-01T00:00:00.000005Z");
    assert_eq!(db_rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
}

fn db_rfc3339(s: i64, us: u32) -> String {
    db::rfc3339(s, us)
}

#[test]
fn the_http_api_reads_moves_aliases_and_answers_errors_as_json() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut reg = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    for (i, tags) in [[("team", "risk")], [("team", "growth")]]
        .iter()
        .enumerate()
    {
        let a = artifact(dir.path(), &format!("{i}.pt"), format!("m{i}").as_bytes());
        reg.register(&new_version("m", a, 0.5, tags))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mut call = |method: &str, path: &str, query: &str, body: &str| {
        api::handle(&mut reg, method, path, query, body.as_bytes())
    };
    let (s, models) = call("GET", "/v1/registry/models", "", "");
    assert_eq!(
        (s, models[0]["model"].clone(), models[0]["latest"].clone()),
        (200, "m".into(), 2.into())
    );
    let (s, moved) = call(
        "PUT",
        "/v1/registry/models/m/aliases/production",
        "",
        r#"{"version": 1, "reason": "test"}"#,
    );
    assert_eq!(
        (s, moved["to"].clone(), moved["reason"].clone()),
        (200, 1.into(), "test".into())
    );
    let (s, v) = call("GET", "/v1/registry/models/m/versions/production", "", "");
    assert_eq!((s, v["version"].clone()), (200, 1.into()));
    let (s, moved) = call(
        "PUT",
        "/v1/registry/models/m/aliases/production",
        "",
        r#"{"version": "latest"}"#,
    );
    assert_eq!(
        (s, moved["from"].clone(), moved["to"].clone()),
        (200, 1.into(), 2.into())
    );
    let (s, found) = call("GET", "/v1/registry/search", "model=m&tag=team%3Drisk", "");
    assert_eq!((s, found.as_array().map(Vec::len)), (200, Some(1)));
    let (s, a) = call("GET", "/v1/registry/models/m/aliases", "", "");
    assert_eq!(
        (
            s,
            a["aliases"]["production"].clone(),
            a["moves"].as_array().map(Vec::len)
        ),
        (200, 2.into(), Some(2))
    );
    assert_eq!(
        call("GET", "/v1/registry/models/m/versions", "", "")
            .1
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let status =
        |r: (u16, serde_json::Value)| (r.0, r.1["error"].as_str().unwrap_or_default().to_string());
    let (s, e) = status(call("GET", "/v1/registry/models/zz/versions/1", "", ""));
    assert_eq!(s, 404, "{e}");
    assert_eq!(
        call("GET", "/v1/registry/models/zz/versions", "", "").0,
        404
    );
    let (s, e) = status(call(
        "PUT",
        "/v1/registry/models/m/aliases/latest",
        "",
        r#"{"version": 1}"#,
    ));
    assert!(s == 400 && e.contains("`latest` always means"), "{s} {e}");
    let (s, e) = status(call("PUT", "/v1/registry/models/m/aliases/prod", "", "{"));
    assert!(s == 400 && e.contains("invalid request body"), "{s} {e}");
    let (s, e) = status(call("PUT", "/v1/registry/models/m/aliases/prod", "", "{}"));
    assert!(s == 400 && e.contains("`version` is missing"), "{s} {e}");
    assert_eq!(
        call(
            "PUT",
            "/v1/registry/models/m/aliases/prod",
            "",
            r#"{"version": 9}"#
        )
        .0,
        404
    );
    assert_eq!(
        call("DELETE", "/v1/registry/models/m/versions/1", "", "").0,
        405
    );
    assert_eq!(call("GET", "/v1/registry/nothing", "", "").0, 404);
    let (s, e) = status(call("GET", "/v1/registry/search", "tag=team", ""));
    assert!(s == 400 && e.contains("write KEY=VALUE"), "{s} {e}");
    assert_eq!(call("GET", "/v1/registry/search", "x=%ZZ%", "").0, 400);
    assert!(api::is_write("PUT") && !api::is_write("GET"));
}
