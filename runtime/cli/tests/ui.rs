//! `mlpc ui` on the fraud example, applied (no model trained): every page answers, unknown
//! resources get a 404 page, hostile text from the spec (a doc comment and an owner with
//! `<script>`, `<img onerror>` and quotes) and from requests (paths and queries) comes back
//! escaped on every page, and the UI is read-only without a token.

use mlp_test_support::serving::{example, get_text, listening, mlpc, post_form};

const DOC: &str = r#"<script>alert("doc")</script> it's "quoted""#;
const OWNER: &str = "<img src=x onerror=alert('owner')>";

/// Text that must never reach a page unescaped.
const RAW: [&str; 4] = [
    "<script>alert",
    "<img src=x",
    "onerror=alert('owner')>",
    "</script> it",
];

fn assert_escaped(url: &str, body: &str) {
    for raw in RAW {
        assert!(
            !body.contains(raw),
            "{url} shows `{raw}` unescaped:\n{body}"
        );
    }
}

#[test]
fn pages_answer_unknown_names_are_404_and_hostile_text_is_escaped_everywhere() {
    let dir = example();
    let p = dir.path();
    let serving = std::fs::read_to_string(p.join("serving.mlp")).unwrap_or_else(|e| panic!("{e}"));
    let hostile = format!(
        "{serving}\n/// {DOC}\nconsumer evil_consumer {{\n  uses  = fraud_api.score\n  owner = \"{OWNER}\"\n}}\n"
    );
    std::fs::write(p.join("serving.mlp"), hostile).unwrap_or_else(|e| panic!("{e}"));
    mlpc(&["apply", ".", "--auto-approve"], p);
    let ui = listening(
        p,
        &["ui", ".", "--bind", "127.0.0.1:0"],
        &[("MLP_TOKEN", "")],
    );
    let base = format!("{}/ui", ui.base);

    let pages = [
        "".to_string(),
        "/r/consumer.evil_consumer".into(),
        "/r/features.user_stats".into(),
        "/r/feature.user_stats.avg_amount_7d".into(),
        "/r/deployment.fraud_api".into(),
        "/r/model.fraud_scorer".into(),
        "/r/monitor.fraud_health".into(),
        "/r/source.transactions".into(),
        "/lineage/deployment.fraud_api".into(),
        "/lineage/user_stats.avg_amount_7d".into(),
        "/models".into(),
        "/runs".into(),
        "/search?q=quoted".into(),
        "/source-drift".into(),
        "/r/features.user_stats/histograms".into(),
    ];
    for page in &pages {
        let url = format!("{base}{page}");
        let (status, body) = get_text(&url);
        assert_eq!(status, 200, "{url}:\n{body}");
        assert_escaped(&url, &body);
    }
    // The hostile doc and owner are shown, escaped.
    let (_, consumer) = get_text(&format!("{base}/r/consumer.evil_consumer"));
    assert!(
        consumer.contains("&lt;script&gt;alert(&quot;doc&quot;)&lt;/script&gt;"),
        "{consumer}"
    );
    assert!(
        consumer.contains("&lt;img src=x onerror=alert('owner')&gt;"),
        "{consumer}"
    );
    let (_, search) = get_text(&format!("{base}/search?q=quoted"));
    assert!(search.contains("consumer.evil_consumer"), "{search}");
    // The lineage of the view reaches the consumer through the deployment.
    let (_, lineage) = get_text(&format!("{base}/lineage/features.user_stats"));
    assert!(
        lineage.contains("data-testid=\"node-consumer.evil_consumer\""),
        "{lineage}"
    );

    // Unknown names and hostile requests: a 404 page, the name escaped.
    for (path, status) in [
        ("/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),
        ("/r/nope", 404),
        ("/lineage/%3Cimg%20src=x%20onerror=alert('owner')%3E", 404),
        ("/runs/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),
        ("/runs/x/logs/y", 404),
        ("/models/fraud_scorer/compare?a=1&b=2", 404),
        ("/no/such/page", 404),
        ("/assets/%3Cscript%3E", 404),
        ("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200),
        ("/models/fraud_scorer/compare?a=x", 400),
        ("/models/fraud_scorer/alias", 405),
    ] {
        let url = format!("{base}{path}");
        let (got, body) = get_text(&url);
        assert_eq!(got, status, "{url}:\n{body}");
        assert_escaped(&url, &body);
        if status == 404 {
            assert!(
                body.contains("data-testid=\"problem\""),
                "{url}: not the 404 page:\n{body}"
            );
        }
    }
    let (_, body) = get_text(&format!("{base}/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E"));
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );

    // Read-only without MLP_TOKEN: a write action is refused and changes nothing.
    let (status, _) = post_form(
        &format!("{base}/models/fraud_scorer/alias"),
        &[
            ("alias", "production"),
            ("version", "1"),
            ("token", "guess"),
        ],
        &[],
    );
    assert_eq!(status, 403);
    let (status, js) = get_text(&format!("{base}/assets/htmx.min.js"));
    assert_eq!(status, 200);
    assert!(js.contains("htmx"), "the embedded htmx");
}
