//! Issue 14's editor features through the server in process, on a copy of examples/fraud:
//! completion of resources, built-ins and units by context, hover on built-ins, deployments
//! and models, the "add a missing owner" code action, and rename with its refusals.

use lsp_types::Url;
use mlp_test_support::lsp::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A copy of examples/fraud's `.mlp` files.
fn example() -> tempfile::TempDir {
    mlp_test_support::fixtures::example_specs("fraud")
}

fn start() -> Client {
    Client::start(|conn| mlp_lsp::run(&conn))
}

fn uri(p: PathBuf) -> Url {
    Url::from_file_path(p).unwrap_or_else(|()| panic!("not absolute"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"))
}

/// The protocol position of byte `at` of `text` (ASCII texts).
fn pos(text: &str, at: usize) -> Value {
    let before = &text[..at];
    let line = before.matches('\n').count();
    let col = at - before.rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}

/// The position just after the first `needle` in `text` (or at it, with `at_start`).
fn after(text: &str, needle: &str) -> Value {
    let i = text.find(needle).unwrap_or_else(|| panic!("no `{needle}`"));
    pos(text, i + needle.len())
}

fn at(text: &str, needle: &str) -> Value {
    let i = text.find(needle).unwrap_or_else(|| panic!("no `{needle}`"));
    pos(text, i)
}

/// Opens `path` with `text` and asks for completion at `position`: the items.
fn complete(c: &mut Client, path: &Path, text: &str, position: Value) -> Vec<Value> {
    let u = uri(path.to_path_buf());
    c.open(&u, text);
    let r = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": u}, "position": position}),
    );
    r.as_array().cloned().unwrap_or_default()
}

fn labels(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i["label"].as_str().map(str::to_string))
        .collect()
}

fn item<'a>(items: &'a [Value], label: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["label"] == label)
        .unwrap_or_else(|| panic!("no `{label}` in {:?}", labels(items)))
}

#[test]
fn completion_offers_the_declarations_of_the_kind_an_attribute_names() {
    let dir = example();
    let features = dir.path().join("features.mlp");
    let base = read(&features);
    let mut c = start();

    // A view being typed at the end of the file: `entity = ` wants entities.
    let text = format!("{base}\nfeatures fresh {{\n  entity = ");
    let items = complete(&mut c, &features, &text, pos(&text, text.len()));
    let got = labels(&items);
    assert!(
        got.contains(&"user".into()) && got.contains(&"merchant".into()),
        "{got:?}"
    );
    assert!(!got.contains(&"transactions".into()), "{got:?}");
    assert_eq!(item(&items, "user")["detail"], "entity");

    let text = format!("{base}\nfeatures fresh {{\n  source = tr");
    let got = labels(&complete(&mut c, &features, &text, pos(&text, text.len())));
    assert!(got.contains(&"transactions".into()) && got.contains(&"merchants".into()));
    assert!(!got.contains(&"user".into()), "{got:?}");

    // A deployment's model: models with their aliases, deployments, the graphs.
    let serving = dir.path().join("serving.mlp");
    let base = read(&serving);
    let text = format!("{base}\ndeployment fresh {{\n  model = ");
    let items = complete(&mut c, &serving, &text, pos(&text, text.len()));
    let got = labels(&items);
    for want in [
        "fraud_scorer@production",
        "fraud_deep@staging",
        "fraud_api",
        "chain",
        "combine",
    ] {
        assert!(got.contains(&want.into()), "{want} missing from {got:?}");
    }
    assert!(!got.contains(&"fresh".into()) && !got.contains(&"user_stats".into()));
    // In `combine(` first: the combiners, with their signatures.
    let text = format!("{base}\ndeployment fresh {{\n  model = combine(");
    let items = complete(&mut c, &serving, &text, pos(&text, text.len()));
    assert_eq!(item(&items, "weighted")["detail"], "weighted -> float");
    assert!(!labels(&items).contains(&"fraud_api".into()));

    // A monitor's `on` and a consumer's `uses`: deployments only.
    for stmt in [
        "monitor m {\n  on = ",
        "consumer k {\n  uses = [fraud_api.score, ",
    ] {
        let text = format!("{base}\n{stmt}");
        let got = labels(&complete(&mut c, &serving, &text, pos(&text, text.len())));
        assert!(got.contains(&"fraud_review".into()), "{got:?}");
        assert!(!got.contains(&"fraud_scorer".into()) && !got.contains(&"checkout".into()));
    }
    // After `fraud_api.`: the deployment's outputs.
    let text = format!("{base}\nconsumer k {{\n  uses = fraud_api.");
    let items = complete(&mut c, &serving, &text, pos(&text, text.len()));
    assert_eq!(item(&items, "score")["detail"], "float");

    // A model's inputs: views and requests (then `view.` lists the features).
    let models = dir.path().join("models.mlp");
    let base = read(&models);
    let text = base.replacen("  inputs = [\n", "  inputs = [\n    \n", 1);
    let got = labels(&complete(
        &mut c,
        &models,
        &text,
        after(&text, "inputs = [\n    "),
    ));
    for want in ["user_stats", "checkout", "checkout_derived"] {
        assert!(got.contains(&want.into()), "{want} missing from {got:?}");
    }
    assert!(!got.contains(&"transactions".into()), "{got:?}");
    c.shutdown();
}

#[test]
fn completion_offers_the_built_ins_a_place_accepts_with_signatures_and_docs() {
    let dir = example();
    let features = dir.path().join("features.mlp");
    let base = read(&features);
    let mut c = start();

    // A view with a source: aggregations and scalar functions.
    let text = base.replacen("  last_country:", "  spend: float = \n  last_country:", 1);
    let items = complete(&mut c, &features, &text, after(&text, "spend: float = "));
    let avg = item(&items, "avg");
    assert_eq!(avg["detail"], "avg(x: numeric) -> float");
    assert!(avg["documentation"]["value"]
        .as_str()
        .is_some_and(|d| d.contains("Arithmetic mean")));
    let got = labels(&items);
    assert!(got.contains(&"count_distinct".into()) && got.contains(&"coalesce".into()));
    assert!(!got.contains(&"psi".into()), "{got:?}");

    // On demand: scalar functions and other views, no aggregation.
    let text = base.replacen("  foreign: bool", "  ratio: float = \n  foreign: bool", 1);
    let got = labels(&complete(
        &mut c,
        &features,
        &text,
        after(&text, "ratio: float = "),
    ));
    assert!(got.contains(&"coalesce".into()) && got.contains(&"user_stats".into()));
    assert!(
        !got.contains(&"avg".into()) && !got.contains(&"count".into()),
        "{got:?}"
    );

    // A monitor's check: metrics; its alert: the sinks.
    let serving = dir.path().join("serving.mlp");
    let base = read(&serving);
    let text = base.replacen("  check drift", "  check \n  check drift", 1);
    let items = complete(&mut c, &serving, &text, after(&text, "  check "));
    assert_eq!(
        item(&items, "latency_p99")["detail"],
        "latency_p99 -> duration"
    );
    assert!(labels(&items).contains(&"psi".into()));
    assert!(!labels(&items).contains(&"avg".into()));
    let text = base.replacen("alert = [webhook(env.alert_url), log]", "alert = [", 1);
    let got = labels(&complete(
        &mut c,
        &serving,
        &text,
        after(&text, "alert = ["),
    ));
    assert!(
        got.contains(&"webhook".into())
            && got.contains(&"slack".into())
            && got.contains(&"log".into())
    );
    assert!(!got.contains(&"psi".into()), "{got:?}");

    // The project's stores: only those of the attribute's kind.
    let project = dir.path().join("project.mlp");
    let base = read(&project);
    let text = base.replacen(
        "online  = memory(capacity = env.online_capacity)",
        "online  = ",
        1,
    );
    let got = labels(&complete(
        &mut c,
        &project,
        &text,
        after(&text, "online  = "),
    ));
    assert!(
        got.contains(&"memory".into()) && got.contains(&"redis".into()),
        "{got:?}"
    );
    // An offline store is no online one.
    assert!(!got.contains(&"duckdb".into()), "{got:?}");
    c.shutdown();
}

#[test]
fn completion_after_a_number_offers_the_units_the_place_takes() {
    let dir = example();
    let features = dir.path().join("features.mlp");
    let base = read(&features);
    let mut c = start();
    let text = base.replacen("ttl    = 30d", "ttl    = 7", 1);
    let items = complete(&mut c, &features, &text, after(&text, "ttl    = 7"));
    let got = labels(&items);
    for u in ["ms", "s", "m", "h", "d", "w"] {
        assert!(got.contains(&u.into()), "{u} missing from {got:?}");
    }
    assert!(
        !got.contains(&"KiB".into()) && !got.contains(&"%".into()),
        "{got:?}"
    );
    // The edit replaces the unit typed so far, right after the number.
    let text = base.replacen("ttl    = 30d", "ttl    = 30m", 1);
    let items = complete(&mut c, &features, &text, after(&text, "ttl    = 30m"));
    let edit = &item(&items, "ms")["textEdit"];
    assert_eq!(edit["range"]["start"], after(&text, "ttl    = 30"));
    assert_eq!(edit["newText"], "ms");
    // A window after `over`.
    let text = base.replacen("over 7d", "over 7", 1);
    let got = labels(&complete(&mut c, &features, &text, after(&text, "over 7")));
    assert!(got.contains(&"d".into()) && !got.contains(&"MiB".into()));

    let serving = dir.path().join("serving.mlp");
    let base = read(&serving);
    // An SLA's error rate: a percentage; its throughput: a rate; a size for memory.
    let text = base.replacen("error_rate  = 0.1%", "error_rate  = 0.1", 1);
    let got = labels(&complete(
        &mut c,
        &serving,
        &text,
        after(&text, "error_rate  = 0.1"),
    ));
    assert_eq!(got, vec!["%".to_string()]);
    let text = base.replacen("throughput  = 2000/s", "throughput  = 2000/", 1);
    let got = labels(&complete(
        &mut c,
        &serving,
        &text,
        after(&text, "throughput  = 2000/"),
    ));
    assert!(
        got.contains(&"/s".into()) && !got.contains(&"ms".into()),
        "{got:?}"
    );
    let text = base.replacen(
        "  sla {",
        "  resources {\n    memory = 512\n  }\n  sla {",
        1,
    );
    let got = labels(&complete(
        &mut c,
        &serving,
        &text,
        after(&text, "memory = 512"),
    ));
    assert!(
        got.contains(&"MiB".into()) && !got.contains(&"ms".into()),
        "{got:?}"
    );
    // A check on a latency metric: durations.
    let got = labels(&complete(
        &mut c,
        &serving,
        &base,
        after(&base, "latency_p99 < 2"),
    ));
    assert!(
        got.contains(&"ms".into()) && !got.contains(&"%".into()),
        "{got:?}"
    );
    c.shutdown();
}

fn hover(c: &mut Client, path: &Path, position: Value) -> String {
    let u = uri(path.to_path_buf());
    let r = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": u}, "position": position}),
    );
    r["contents"]["value"].as_str().unwrap_or("").to_string()
}

#[test]
fn hover_shows_built_ins_deployments_and_models() {
    let dir = example();
    let typed = dir.path().join("typed.mlp");
    std::fs::write(
        &typed,
        "model ranked {\n  inputs {\n    dense: float32 = [user_stats.txn_count_7d, user_stats.avg_amount_7d]\n    cat: int64 in 0..100 = checkout.merchant_id\n  }\n  output = score: float\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut c = start();
    let features = dir.path().join("features.mlp");
    let text = read(&features);
    let h = hover(&mut c, &features, at(&text, "avg(amount)"));
    assert!(
        h.contains("avg(x: numeric) -> float") && h.contains("Arithmetic mean"),
        "{h}"
    );
    let h = hover(&mut c, &features, at(&text, "coalesce("));
    assert!(
        h.contains("scalar coalesce(x: any, fallback: any) -> T"),
        "{h}"
    );

    let serving = dir.path().join("serving.mlp");
    let text = read(&serving);
    // `mean` as a combiner in a graph, and as nothing else.
    let h = hover(&mut c, &serving, at(&text, "mean, fraud_scorer"));
    assert!(h.contains("combiner mean -> float"), "{h}");
    let h = hover(&mut c, &serving, at(&text, "latency_p99 < 20ms"));
    assert!(h.contains("metric latency_p99 -> duration"), "{h}");
    let h = hover(&mut c, &serving, at(&text, "webhook("));
    assert!(h.contains("sink webhook(url: string) -> sink"), "{h}");

    // A deployment: graph, shadow, outputs, SLA, consumers and monitors.
    let h = hover(&mut c, &serving, after(&text, "deployment fraud_a"));
    for want in [
        "model = fraud_scorer@production",
        "shadow = fraud_scorer@staging",
        "`score: float`",
        "`latency_p99 = 20ms`",
        "`throughput = 2000/s`",
        "`checkout_service`",
        "`fraud_health`",
    ] {
        assert!(h.contains(want), "{want} missing from {h}");
    }
    let h = hover(&mut c, &serving, after(&text, "deployment fraud_re"));
    assert!(
        h.contains("route(") && h.contains("**sla**: none declared"),
        "{h}"
    );
    assert!(h.contains("Unsure scores"), "{h}");

    // A model: inputs with their types, outputs, who serves it.
    let models = dir.path().join("models.mlp");
    let text = read(&models);
    let h = hover(&mut c, &models, after(&text, "model fraud_s"));
    for want in [
        "`user_stats.txn_count_7d: int`",
        "`checkout_derived.foreign: bool`",
        "**outputs**: `score: float`",
        "`fraud_api`",
        "`fraud_review`",
        "`torchscript`",
    ] {
        assert!(h.contains(want), "{want} missing from {h}");
    }
    // A model with input tensors: each with its type, range and inputs.
    let text = read(&typed);
    let h = hover(&mut c, &typed, after(&text, "model ran"));
    for want in [
        "**input tensors**, in `forward`'s order",
        "- `dense: float32`: `user_stats.txn_count_7d: int`, `user_stats.avg_amount_7d: float`",
        "- `cat: int64 in 0..100`: `checkout.merchant_id: int`",
    ] {
        assert!(h.contains(want), "{want} missing from {h}");
    }
    c.shutdown();
}

/// Applies a `WorkspaceEdit`'s changes for `u` to `text`.
fn apply(edit: &Value, u: &Url, text: &str) -> String {
    let edits: Vec<lsp_types::TextEdit> =
        serde_json::from_value(edit["changes"][u.as_str()].clone()).unwrap_or_default();
    mlp_lsp::rename::apply(text, &edits)
}

#[test]
fn a_missing_owner_is_added_as_the_first_attribute_with_the_blocks_indentation() {
    let dir = example();
    let features = dir.path().join("features.mlp");
    let text = read(&features);
    let u = uri(features.clone());
    let mut c = start();
    c.open(&u, &text);
    let before = c.diagnostics_for(&u);
    let range = json!({"start": after(&text, "features user_hist"), "end": after(&text, "features user_hist")});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": u}, "range": range, "context": {"diagnostics": []}}),
    );
    let actions = actions.as_array().cloned().unwrap_or_default();
    let add = actions
        .iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.contains("owner")))
        .unwrap_or_else(|| panic!("{actions:#?}"));
    // The project's owner, not a placeholder.
    assert!(add["title"]
        .as_str()
        .is_some_and(|t| t.contains("\"risk-team\"") && t.contains("user_history")));
    let fixed = apply(&add["edit"], &u, &text);
    assert!(
        fixed.contains("features user_history {\n  owner = \"risk-team\"\n  entity = user\n"),
        "{fixed}"
    );
    c.change(&u, 2, &fixed);
    // The project checks as before (no new problem), and the action is gone.
    assert_eq!(c.diagnostics_for(&u), before);
    let again = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": u}, "range": range, "context": {"diagnostics": []}}),
    );
    assert!(
        again.as_array().is_some_and(|a| a
            .iter()
            .all(|x| !x["title"].as_str().unwrap_or("").contains("user_history"))),
        "{again}"
    );
    // A view with an owner gets none.
    let range = json!({"start": after(&fixed, "features user_st"), "end": after(&fixed, "features user_st")});
    let none = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": u}, "range": range, "context": {"diagnostics": []}}),
    );
    assert_eq!(none, json!([]));
    let checked = mlp_driver::check_sources(&[("features.mlp".into(), fixed)], None);
    assert!(!checked
        .diagnostics
        .iter()
        .any(|d| d.message.contains("owner")));
    c.shutdown();
}

fn rename(c: &mut Client, path: &Path, position: Value, new: &str) -> lsp_server::Response {
    let u = uri(path.to_path_buf());
    c.respond(
        "textDocument/rename",
        json!({"textDocument": {"uri": u}, "position": position, "newName": new}),
    )
}

/// Applies a rename's edits to every `.mlp` file of `dir` and checks the result.
fn renamed_project(dir: &Path, edit: &Value) -> (Vec<(String, String)>, mlp_driver::Checked) {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "mlp") {
            let text = apply(edit, &uri(p.clone()), &read(&p));
            files.push((p.display().to_string(), text));
        }
    }
    // In name order, as `mlpc check` reads a folder.
    files.sort();
    let checked = mlp_driver::check_sources(&files, None);
    (files, checked)
}

#[test]
fn rename_of_a_view_and_of_a_feature_edits_every_file_and_checks_clean() {
    let dir = example();
    let models = dir.path().join("models.mlp");
    let text = read(&models);
    let mut c = start();
    c.open(uri(models.clone()), &text);
    // prepareRename: the name under the cursor.
    let p = c.request(
        "textDocument/prepareRename",
        json!({"textDocument": {"uri": uri(models.clone())}, "position": after(&text, "user_st")}),
    );
    assert_eq!(p["placeholder"], "user_stats");
    assert_eq!(p["range"]["start"], at(&text, "user_stats"));

    let r = rename(&mut c, &models, after(&text, "user_st"), "spend_stats");
    assert!(r.error.is_none(), "{:?}", r.error);
    let edit = r.result.unwrap_or_default();
    let changed: Vec<&String> = edit["changes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(changed.len(), 3, "{changed:?}"); // features, models (and the pipeline), serving
    let (files, checked) = renamed_project(dir.path(), &edit);
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    assert!(!all.contains("user_stats") && all.contains("features spend_stats {"));
    assert!(all.contains("psi(spend_stats.avg_amount_7d)"));

    // A feature, from its declaration.
    let features = dir.path().join("features.mlp");
    let ftext = read(&features);
    let r = rename(
        &mut c,
        &features,
        after(&ftext, "  avg_amo"),
        "mean_amount_7d",
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    let edit = r.result.unwrap_or_default();
    let (files, checked) = renamed_project(dir.path(), &edit);
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    assert!(!all.contains("avg_amount_7d") && all.contains("user_stats.mean_amount_7d"));
    c.shutdown();
}

fn refused(r: &lsp_server::Response) -> String {
    assert!(r.result.is_none(), "{r:?}");
    r.error
        .as_ref()
        .map_or(String::new(), |e| e.message.clone())
}

#[test]
fn rename_is_refused_for_bad_or_taken_names_consumers_and_registered_inputs() {
    let dir = example();
    let models = dir.path().join("models.mlp");
    let text = read(&models);
    let mut c = start();
    let here = after(&text, "user_st");
    let e = refused(&rename(&mut c, &models, here.clone(), "9lives"));
    assert!(e.contains("not a valid name"), "{e}");
    let e = refused(&rename(&mut c, &models, here.clone(), "merchant_profile"));
    assert!(e.contains("already the name of a feature view"), "{e}");
    let e = refused(&rename(&mut c, &models, here.clone(), "latest"));
    assert!(e.contains("reserved"), "{e}");
    // A step: named inside strings, not renamed.
    let e = refused(&rename(&mut c, &models, after(&text, "step datas"), "ds"));
    assert!(e.contains("only features and request fields"), "{e}");

    // A deployment with consumers.
    let serving = dir.path().join("serving.mlp");
    let stext = read(&serving);
    let e = refused(&rename(
        &mut c,
        &serving,
        after(&stext, "deployment fraud_a"),
        "scoring",
    ));
    assert!(
        e.contains("checkout_service") && e.contains("/v1/deployments/fraud_api/predict"),
        "{e}"
    );
    // One without consumers is renamed (the monitor and graphs follow).
    let stext2 = stext.replace("consumer review_queue {\n  uses  = [fraud_review.score, fraud_pipeline.score]\n  owner = \"ops-team\"\n}\n", "");
    assert_ne!(stext, stext2);
    std::fs::write(&serving, &stext2).unwrap_or_else(|e| panic!("{e}"));
    let r = rename(
        &mut c,
        &serving,
        after(&stext2, "deployment fraud_re"),
        "review",
    );
    assert!(r.error.is_none(), "{:?}", r.error);

    // A model version registered with `user_stats.txn_count_7d` among its inputs.
    let artifact = dir.path().join("model.pt");
    std::fs::write(&artifact, b"PK\x03\x04 not really").unwrap_or_else(|e| panic!("{e}"));
    let mut reg = mlp_registry::Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    reg.register(&mlp_registry::NewVersion {
        model: "fraud_scorer".into(),
        artifact,
        signature: Some(mlp_registry::Signature {
            inputs: vec![("user_stats.txn_count_7d".into(), "int".into())],
            outputs: vec![("score".into(), "float".into())],
            tensors: Vec::new(),
        }),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    reg.set_alias("fraud_scorer", "canary", 1, "test")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(reg);
    let e = refused(&rename(
        &mut c,
        &models,
        after(&text, "user_stats.txn_co"),
        "n_7d",
    ));
    assert!(
        e.contains("`fraud_scorer` version 1") && e.contains("user_stats.txn_count_7d"),
        "{e}"
    );
    let e = refused(&rename(&mut c, &models, here, "spend"));
    assert!(e.contains("fraud_scorer"), "{e}");
    let e = refused(&rename(
        &mut c,
        &models,
        after(&text, "model fraud_sc"),
        "scorer",
    ));
    assert!(e.contains("registered"), "{e}");
    // Another feature is free to go.
    let r = rename(
        &mut c,
        &models,
        after(&text, "user_stats.avg_am"),
        "mean_7d",
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    // The registry's alias is offered after `fraud_scorer@`.
    let t = format!("{stext2}\ndeployment fresh {{\n  model = fraud_scorer@");
    let items = complete(&mut c, &serving, &t, pos(&t, t.len()));
    assert_eq!(item(&items, "canary")["detail"], "alias of version 1");
    assert_eq!(item(&items, "1")["detail"], "registered version");
    c.shutdown();
}

#[test]
fn the_capabilities_announce_rename_and_the_completion_triggers() {
    let caps = serde_json::to_value(mlp_lsp::capabilities()).unwrap_or_default();
    assert_eq!(caps["renameProvider"]["prepareProvider"], true);
    assert_eq!(
        caps["completionProvider"]["triggerCharacters"],
        json!([".", "@"])
    );
    assert_eq!(caps["codeActionProvider"], true);
}

#[test]
fn completion_and_hover_answer_anywhere_in_broken_text() {
    let dir = example();
    let serving = dir.path().join("serving.mlp");
    let base = read(&serving);
    // Cut in the middle, with multi-byte characters, unclosed strings and brackets.
    let text = format!(
        "{}é😀 \"open ( [ @ 7/ .{}",
        &base[..base.len() / 2],
        "\n}}} model = combine("
    );
    let mut c = start();
    let u = uri(serving.clone());
    c.open(&u, &text);
    let lines: Vec<&str> = text.split('\n').collect();
    for (line, l) in lines.iter().enumerate() {
        let units: usize = l.chars().map(char::len_utf16).sum();
        for ch in 0..=units + 1 {
            let p =
                json!({"textDocument": {"uri": u}, "position": {"line": line, "character": ch}});
            for m in [
                "textDocument/completion",
                "textDocument/hover",
                "textDocument/prepareRename",
            ] {
                let r = c.respond(m, p.clone());
                assert!(
                    r.error.is_none() || m == "textDocument/prepareRename",
                    "{m} {r:?}"
                );
            }
        }
    }
    c.shutdown();
}
