//! The language server in process, over `lsp-server`'s in-memory connection (as ty's e2e
//! tests do): on a copy of examples/fraud, opening a file with an error publishes the
//! diagnostic with its code, range and page; fixing it with `didChange` publishes an empty
//! list; `shutdown` ends the server cleanly.

use lsp_server::Message;
use lsp_types::Url;
use mlp_test_support::lsp::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A copy of examples/fraud's `.mlp` files.
fn example() -> tempfile::TempDir {
    mlp_test_support::fixtures::example_specs("fraud")
}

/// The server in process, initialized.
fn start() -> Client {
    Client::start(|conn| mlp_lsp::run(&conn))
}

fn uri(p: PathBuf) -> Url {
    Url::from_file_path(p).unwrap_or_else(|()| panic!("not absolute"))
}

#[test]
fn an_error_is_published_with_its_code_and_range_and_a_fix_clears_it() {
    let dir = example();
    let models = dir.path().join("models.mlp");
    let good = std::fs::read_to_string(&models).unwrap_or_else(|e| panic!("{e}"));
    // A misspelled view in a model's inputs, on a known line.
    let bad = good.replacen("user_stats.txn_count_7d", "user_statz.txn_count_7d", 1);
    let line = bad
        .lines()
        .position(|l| l.contains("user_statz"))
        .unwrap_or_else(|| panic!("no line"));
    let column = bad
        .lines()
        .nth(line)
        .and_then(|l| l.find("user_statz"))
        .unwrap_or(0);
    let u = uri(models.clone());

    let mut c = start();
    c.open(&u, &bad);
    let ds = c.diagnostics_for(&u);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let d = &ds[0];
    assert_eq!(d["code"], "E0101", "{d}");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "mlp");
    assert_eq!(d["range"]["start"]["line"], line, "{d}");
    assert_eq!(d["range"]["start"]["character"], column, "{d}");
    assert_eq!(
        d["codeDescription"]["href"],
        "https://mlp.dev/docs/errors/E0101.md"
    );
    // The command line's text: the message and the help.
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("user_statz") && m.contains("help:")),
        "{d}"
    );

    // Fixed in the buffer (not on disk): the file's list is emptied.
    c.change(&u, 2, &good);
    assert_eq!(c.diagnostics_for(&u), Vec::<Value>::new());

    // A request it does not answer yet is refused, and it keeps serving.
    let r = c.respond("textDocument/hover", json!({}));
    assert!(r.error.is_some(), "{r:?}");
    c.shutdown();
}

#[test]
fn an_error_in_another_file_of_the_project_is_published_for_that_file() {
    let dir = example();
    // The view is renamed in features.mlp, on disk untouched: models.mlp's references break.
    let features = dir.path().join("features.mlp");
    let text = std::fs::read_to_string(&features).unwrap_or_else(|e| panic!("{e}"));
    let renamed = text.replacen("features user_stats {", "features user_statistics {", 1);
    let c = start();
    c.open(uri(features.clone()), &renamed);
    let models = uri(dir.path().join("models.mlp"));
    let ds = c.diagnostics_for(&models);
    assert!(!ds.is_empty());
    assert!(ds.iter().all(|d| d["code"] == "E0101"), "{ds:#?}");
    c.shutdown();
}

#[test]
fn formatting_is_mlpc_fmt_and_a_formatted_document_needs_no_edit() {
    let dir = example();
    let serving = dir.path().join("serving.mlp");
    let formatted = std::fs::read_to_string(&serving).unwrap_or_else(|e| panic!("{e}"));
    // Indentation and alignment lost, a comment kept.
    let messy: String = formatted
        .lines()
        .map(|l| l.trim().replace("  =", " ="))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(messy, formatted);
    let u = uri(serving);
    let mut c = start();
    c.open(&u, &messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1, "{edits:#?}");
    // One edit over the whole buffer, whose text is what `mlpc fmt` writes.
    assert_eq!(
        edits[0]["range"]["start"],
        json!({"line": 0, "character": 0})
    );
    let lines = messy.lines().count();
    assert_eq!(edits[0]["range"]["end"]["line"], lines - 1);
    assert_eq!(
        edits[0]["newText"].as_str(),
        mlp_driver::format_source(&messy).as_deref()
    );
    assert_eq!(edits[0]["newText"].as_str(), Some(formatted.as_str()));
    // Formatted: nothing to do.
    c.change(&u, 2, &formatted);
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, json!([]));
    c.shutdown();
}

/// The line and character of the first `needle` in `text` (ASCII text), plus `plus`
/// characters.
fn at(text: &str, needle: &str, plus: usize) -> Value {
    let line = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?}"));
    let col = text
        .lines()
        .nth(line)
        .and_then(|l| l.find(needle))
        .unwrap_or(0);
    json!({"line": line, "character": col + plus})
}

#[test]
fn hover_definition_and_completion_work_across_files() {
    let dir = example();
    let models_path = dir.path().join("models.mlp");
    let models = std::fs::read_to_string(&models_path).unwrap_or_else(|e| panic!("{e}"));
    let features =
        std::fs::read_to_string(dir.path().join("features.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let m = uri(models_path);
    let mut c = start();
    c.open(&m, &models);
    assert_eq!(c.diagnostics_for(&m), Vec::<Value>::new());

    hover_shows_the_feature_and_the_view(&mut c, &m, &models);
    definition_jumps_across_files(&mut c, dir.path(), &m, &models, &features);
    completion_lists_the_views_features(&mut c, &m, &models);
    c.shutdown();
}

/// Hover on `avg_amount_7d` of `user_stats.avg_amount_7d` in models.mlp: its type,
/// expression, view, entity and TTL, and its doc, all from features.mlp; hover on the view's
/// name: the view.
fn hover_shows_the_feature_and_the_view(c: &mut Client, m: &Url, models: &str) {
    let pos = at(models, "user_stats.avg_amount_7d", "user_stats.".len() + 2);
    let h = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": m}, "position": pos}),
    );
    let text = h["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for want in [
        "user_stats.avg_amount_7d: float = avg(amount) over 7d",
        "entity `user`",
        "ttl `2d`",
        "Mean amount over the last seven days.",
    ] {
        assert!(text.contains(want), "{want:?} not in {text}");
    }
    // Hover on the view's name: the view.
    let pos = at(models, "user_stats.avg_amount_7d", 2);
    let h = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": m}, "position": pos}),
    );
    let text = h["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("features user_stats") && text.contains("Spending behaviour"),
        "{text}"
    );
}

/// Definition jumps to features.mlp, on the feature's name, and from the model's name in
/// serving.mlp to models.mlp.
fn definition_jumps_across_files(
    c: &mut Client,
    dir: &Path,
    m: &Url,
    models: &str,
    features: &str,
) {
    let pos = at(models, "user_stats.avg_amount_7d", "user_stats.".len() + 2);
    let d = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": m}, "position": pos}),
    );
    assert_eq!(d["uri"], uri(dir.join("features.mlp")).as_str(), "{d}");
    assert_eq!(
        d["range"]["start"],
        at(features, "avg_amount_7d: float", 0),
        "{d}"
    );
    // ... and from the model's name in serving.mlp to models.mlp.
    let serving_path = dir.join("serving.mlp");
    let serving = std::fs::read_to_string(&serving_path).unwrap_or_else(|e| panic!("{e}"));
    let s = uri(serving_path);
    c.open(&s, &serving);
    let pos = at(&serving, "fraud_scorer@production", 3);
    let d = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": s}, "position": pos}),
    );
    assert_eq!(d["uri"], m.as_str(), "{d}");
    assert_eq!(
        d["range"]["start"],
        at(models, "model fraud_scorer", "model ".len()),
        "{d}"
    );
}

/// Completion after `user_stats.` lists exactly its features, in order, with types.
fn completion_lists_the_views_features(c: &mut Client, m: &Url, models: &str) {
    let typed = models.replacen("user_stats.txn_count_7d,", "user_stats.", 1);
    c.change(m, 2, &typed);
    let line = typed
        .lines()
        .position(|l| l.trim() == "user_stats.")
        .unwrap_or_else(|| panic!("no bare `user_stats.` line"));
    let col = typed
        .lines()
        .nth(line)
        .and_then(|l| l.find("user_stats."))
        .unwrap_or(0);
    let pos = json!({"line": line, "character": col + "user_stats.".len()});
    let items = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": m}, "position": pos}),
    );
    let labels: Vec<&str> = items
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["label"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        labels,
        [
            "txn_count_7d",
            "avg_amount_7d",
            "max_amount_1d",
            "countries_30d",
            "last_country"
        ]
    );
    assert_eq!(items[1]["detail"], "float");
}

/// Applies protocol edits (single-line, ASCII text) to `text`.
fn apply(text: &str, edits: &[Value]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for e in edits.iter().rev() {
        let line = e["range"]["start"]["line"].as_u64().unwrap_or(0) as usize;
        let (a, b) = (
            e["range"]["start"]["character"].as_u64().unwrap_or(0) as usize,
            e["range"]["end"]["character"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(e["range"]["end"]["line"], line);
        let l = &mut lines[line];
        l.replace_range(a..b, e["newText"].as_str().unwrap_or_default());
    }
    lines.join("\n")
}

#[test]
fn a_did_you_mean_quick_fix_gives_a_project_that_checks_clean() {
    let dir = example();
    let models_path = dir.path().join("models.mlp");
    let good = std::fs::read_to_string(&models_path).unwrap_or_else(|e| panic!("{e}"));
    let bad = good.replacen("user_stats.avg_amount_7d", "user_statz.avg_amount_7d", 1);
    let m = uri(models_path.clone());
    let mut c = start();
    c.open(&m, &bad);
    let ds = c.diagnostics_for(&m);
    assert_eq!(ds.len(), 1, "{ds:#?}");
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": m}, "range": ds[0]["range"], "context": {"diagnostics": ds}}),
    );
    let actions = actions.as_array().cloned().unwrap_or_default();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert_eq!(actions[0]["kind"], "quickfix");
    assert_eq!(
        actions[0]["title"],
        "replace `user_statz` with `user_stats`"
    );
    let edits = actions[0]["edit"]["changes"][m.as_str()]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fixed = apply(&bad, &edits);
    assert_eq!(fixed, good);
    // The project with the fix checks clean.
    std::fs::write(&models_path, &fixed).unwrap_or_else(|e| panic!("{e}"));
    let checked = mlp_driver::check_dir(dir.path(), None);
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    c.shutdown();
}

#[test]
fn outlines_and_workspace_symbols_and_every_changed_document_hears() {
    let dir = example();
    let f = uri(dir.path().join("features.mlp"));
    let m = uri(dir.path().join("models.mlp"));
    let features =
        std::fs::read_to_string(dir.path().join("features.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let models =
        std::fs::read_to_string(dir.path().join("models.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let mut c = start();
    // Two clean documents of one project opened together: each hears an empty list.
    c.open(&f, &features);
    c.open(&m, &models);
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < 2 {
        if let Message::Notification(n) = c.recv() {
            if n.method == "textDocument/publishDiagnostics" {
                assert_eq!(n.params["diagnostics"], json!([]), "{}", n.params);
                heard.insert(n.params["uri"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    assert!(heard.contains(f.as_str()) && heard.contains(m.as_str()));

    // The outline of features.mlp: its declarations in order, user_stats with its features.
    let outline = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": f}}),
    );
    let names: Vec<&str> = outline
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.starts_with(&["merchant_profile", "user_stats"]),
        "{names:?}"
    );
    let user_stats = &outline[1];
    assert_eq!(user_stats["detail"], "features");
    let children: Vec<&str> = user_stats["children"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        children,
        [
            "txn_count_7d",
            "avg_amount_7d",
            "max_amount_1d",
            "countries_30d",
            "last_country"
        ]
    );

    // Workspace symbols: every member named like the query, across files.
    let found = c.request("workspace/symbol", json!({"query": "avg_amount"}));
    let names: Vec<&str> = found
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["user_stats.avg_amount_7d"], "{found}");
    assert_eq!(found[0]["location"]["uri"], f.as_str());
    c.shutdown();
}

#[test]
fn keywords_attributes_and_blocks_complete_where_they_belong() {
    let dir = example();
    let s_path = dir.path().join("serving.mlp");
    let serving = std::fs::read_to_string(&s_path).unwrap_or_else(|e| panic!("{e}"));
    // A half-typed attribute in fraud_api's block, and a half-typed keyword at the top.
    let typed = serving.replacen("  log    = all\n", "  log    = all\n  re\n", 1);
    let s = uri(s_path);
    let mut c = start();
    c.open(&s, &typed);
    let labels = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let line = typed
        .lines()
        .position(|l| l == "  re")
        .unwrap_or_else(|| panic!("no line"));
    let in_block = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": s}, "position": {"line": line, "character": 4}}),
    );
    let got = labels(&in_block);
    for want in [
        "model",
        "shadow",
        "replicas",
        "sla",
        "batching",
        "resources",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
    }
    // Not a top-level keyword, not another block's attribute.
    assert!(
        !got.iter().any(|g| g == "features" || g == "max_batch"),
        "{got:?}"
    );
    // Then a half-typed keyword at the top level instead.
    let typed = format!("{serving}\ndep");
    c.change(&s, 2, &typed);
    let last = typed.lines().count() - 1;
    let top = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": s}, "position": {"line": last, "character": 3}}),
    );
    let got = labels(&top);
    for want in ["deployment", "features", "monitor", "consumer"] {
        assert!(got.iter().any(|g| g == want), "{want} not in {got:?}");
    }
    assert!(!got.iter().any(|g| g == "shadow"), "{got:?}");
    c.shutdown();
}

#[test]
fn references_of_a_feature_span_the_project_and_skip_comments() {
    let dir = example();
    let f_path = dir.path().join("features.mlp");
    let features = std::fs::read_to_string(&f_path).unwrap_or_else(|e| panic!("{e}"));
    // A comment that names the feature must not count.
    let features = features.replacen(
        "features checkout_derived {",
        "// see user_stats.avg_amount_7d\nfeatures checkout_derived {",
        1,
    );
    let f = uri(f_path);
    let mut c = start();
    c.open(&f, &features);
    let pos = at(&features, "avg_amount_7d: float", 1);
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": f}, "position": pos, "context": {"includeDeclaration": true}}),
    );
    let refs = refs.as_array().cloned().unwrap_or_default();
    let mut files: Vec<String> = refs
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .map(|u| u.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    files.sort();
    // The declaration, the on-demand feature that reads it, and both models' inputs; the
    // monitor's `psi(user_stats.avg_amount_7d)` in serving.mlp.
    assert_eq!(
        files,
        [
            "features.mlp",
            "features.mlp",
            "models.mlp",
            "models.mlp",
            "serving.mlp"
        ],
        "{refs:#?}"
    );
    // Each range covers exactly the feature's name.
    for r in &refs {
        let s = r["range"]["start"]["character"].as_u64().unwrap_or(0);
        let e = r["range"]["end"]["character"].as_u64().unwrap_or(0);
        assert_eq!(e - s, "avg_amount_7d".len() as u64, "{r}");
    }
    // Without the declaration: one fewer.
    let without = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": f}, "position": pos, "context": {"includeDeclaration": false}}),
    );
    assert_eq!(without.as_array().map(Vec::len), Some(refs.len() - 1));
    c.shutdown();
}

#[test]
fn an_environments_problems_are_published_in_its_yaml_file() {
    let dir = example();
    let env = dir.path().join("env");
    std::fs::create_dir_all(&env).unwrap_or_else(|e| panic!("{e}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fraud/env/prod.yaml");
    let good = std::fs::read_to_string(src).unwrap_or_else(|e| panic!("{e}"));
    let prod = env.join("prod.yaml");
    std::fs::write(&prod, &good).unwrap_or_else(|e| panic!("{e}"));
    // A number that is not one, and a key the `env` block does not declare.
    let bad = good.replace(
        "online_capacity: 10000000",
        "online_capacity: lots\nonline_capacty: 5",
    );
    let line_of = |needle: &str| {
        bad.lines()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle}"))
    };
    let y = uri(prod);
    let c = start();
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": y, "languageId": "yaml", "version": 1, "text": bad}}),
    );
    let ds = c.diagnostics_for(&y);
    let got: Vec<(String, u64)> = ds
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert!(
        got.contains(&("E0404".into(), line_of("online_capacity:") as u64)),
        "{ds:#?}"
    );
    assert!(
        got.contains(&("E0405".into(), line_of("online_capacty:") as u64)),
        "{ds:#?}"
    );
    // Fixed in the buffer: the YAML's list is emptied.
    c.change(&y, 2, &good);
    assert_eq!(c.diagnostics_for(&y), Vec::<Value>::new());
    c.shutdown();
}

/// The (line, character) of each location, in its file's name.
fn places(refs: &Value) -> Vec<(String, u64, u64)> {
    let mut v: Vec<(String, u64, u64)> = refs
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["uri"]
                    .as_str()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                r["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX),
                r["range"]["start"]["character"]
                    .as_u64()
                    .unwrap_or(u64::MAX),
            )
        })
        .collect();
    v.sort();
    v
}

/// Where `needle` is in `text`, plus `plus` characters, as (line, character).
fn place(text: &str, needle: &str, plus: usize) -> (u64, u64) {
    let p = at(text, needle, plus);
    (
        p["line"].as_u64().unwrap_or(0),
        p["character"].as_u64().unwrap_or(0),
    )
}

#[test]
fn steps_parameters_and_env_values_resolve_in_their_scope_and_inside_strings() {
    let dir = example();
    let m_path = dir.path().join("models.mlp");
    let models = std::fs::read_to_string(&m_path).unwrap_or_else(|e| panic!("{e}"));
    let m = uri(m_path);
    let mut c = start();
    c.open(&m, &models);
    let definition = |c: &mut Client, needle: &str, plus: usize| {
        let d = c.request(
            "textDocument/definition",
            json!({"textDocument": {"uri": m}, "position": at(&models, needle, plus)}),
        );
        (
            d["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX),
            d["range"]["start"]["character"]
                .as_u64()
                .unwrap_or(u64::MAX),
        )
    };
    // `${params.epochs}` in a step's command: the pipeline's parameter.
    assert_eq!(
        definition(&mut c, "${params.epochs}", "${params.".len() + 1),
        place(&models, "epochs: int", 0)
    );
    // A step named by another's `after`, and inside `${dataset.output}`.
    assert_eq!(
        definition(&mut c, "after     = [dataset", "after     = [".len() + 2),
        place(&models, "step dataset", "step ".len())
    );
    assert_eq!(
        definition(&mut c, "${dataset.output}", 3),
        place(&models, "step dataset", "step ".len())
    );
    // Every use of step `train`: its declaration, `after = [train]`, and the gate's
    // `require train.metrics.auc`.
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": m}, "position": at(&models, "step train", "step ".len() + 1), "context": {"includeDeclaration": true}}),
    );
    let want: Vec<(String, u64, u64)> = [
        place(&models, "step train", "step ".len()),
        place(&models, "after = [train]", "after = [".len()),
        place(&models, "require train.metrics", "require ".len()),
    ]
    .into_iter()
    .map(|(l, ch)| ("models.mlp".to_string(), l, ch))
    .collect();
    let mut want = want;
    want.sort();
    assert_eq!(places(&refs), want, "{refs:#}");

    // An env value: its declaration and the `${env.data_dir}` of two sources' paths.
    let p_path = dir.path().join("project.mlp");
    let project = std::fs::read_to_string(&p_path).unwrap_or_else(|e| panic!("{e}"));
    let p = uri(p_path);
    c.open(&p, &project);
    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": p}, "position": at(&project, "data_dir: string", 1), "context": {"includeDeclaration": true}}),
    );
    let in_strings = places(&refs)
        .iter()
        .filter(|(_, l, _)| {
            project
                .lines()
                .nth(*l as usize)
                .is_some_and(|t| t.contains("${env.data_dir}"))
        })
        .count();
    assert_eq!(in_strings, 2, "{refs:#}");
    assert_eq!(places(&refs).len(), 3, "{refs:#}");
    c.shutdown();
}
