//! The web UI in a real browser: Debian's Chromium driven through chromedriver (both
//! installed by `scripts/test.sh`) with fantoccini, on the fraud example trained, served
//! (`mlpc serve` mounts `/ui`) and monitored. It walks overview → `user_stats` →
//! `avg_amount_7d`'s lineage → `fraud_api`; sees `fraud_scorer` version 1 with its auc;
//! opens the last run's DAG and a step's log; watches `fraud_api`'s request rate rise while
//! predictions are sent; counts one point per evaluation on the monitor's chart; moves an
//! alias from the UI (refused without the token, then done with it, and the server serves
//! the new version); evaluates the monitor and starts a pipeline run from their pages. Every page is checked for console errors and failed requests, and
//! captured: into `docs/ui/` with `MLP_UI_SCREENSHOTS=1`, else under the test's temporary
//! folder.
//!
//! Without `chromedriver` on PATH the test fails, unless `MLP_SKIP_BROWSER=1` says to skip.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use mlp_test_support::serving::{call, example, listening, mlpc, post_form, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "ui-test-token";
/// How long any one thing may take to show in the browser.
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver's (Selenium's) log endpoint: the browser console since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// chromedriver on a free loopback port, killed when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver: {e} (scripts/test.sh installs chromium-driver)"));
    let driver = Driver(child, port);
    // Waits for the port to accept connections (a condition, not a fixed sleep).
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::yield_now();
    }
    driver
}

/// Where screenshots go.
fn shots() -> PathBuf {
    let dir = if std::env::var("MLP_UI_SCREENSHOTS").is_ok_and(|v| v == "1") {
        mlp_test_support::fixtures::root().join("docs/ui")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

/// The console's errors since the last read.
async fn severe(c: &Client) -> Vec<Value> {
    let log = c
        .issue_cmd(BrowserLog)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .cloned()
        .collect()
}

/// The page's console errors and failed requests since the last check: none allowed.
async fn assert_clean(c: &Client, page: &str) {
    let severe = severe(c).await;
    assert!(severe.is_empty(), "{page}: console errors {severe:?}");
    let failed = c
        .execute(
            "return performance.getEntries().filter(e => 'responseStatus' in e && (e.responseStatus >= 400 || e.responseStatus === 0) && !(e.name || '').startsWith('data:')).map(e => e.name + ' ' + e.responseStatus)",
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failed, json!([]), "{page}: failed requests");
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap_or_else(|e| panic!("{e}"));
}

/// The element `css` once it shows; on a timeout, the failure shows the page's source.
async fn element(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => {
            let page = c.source().await.unwrap_or_else(|e| e.to_string());
            panic!("{css}: {e}\n{page}")
        }
    }
}

/// The text of `css`, found again when the page replaced it between the find and the read
/// (a navigation or an htmx swap).
async fn text_of(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        match element(c, css).await.text().await {
            Ok(t) => return t,
            // Chromium says "stale element", or, when the swap lands mid-read, that the node
            // "does not belong to the document".
            Err(e)
                if Instant::now() < deadline
                    && ["stale element", "does not belong to the document"]
                        .iter()
                        .any(|m| e.to_string().contains(m)) =>
            {
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// Waits until the text of `css` contains `part`.
async fn wait_text(c: &Client, css: &str, part: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let t = text_of(c, css).await;
        if t.contains(part) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} says {t:?}, never {part:?}"
        );
        tokio::task::yield_now().await;
    }
}

async fn click(c: &Client, css: &str) {
    element(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn wait_url(c: &Client, part: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = c.current_url().await.unwrap_or_else(|e| panic!("{e}"));
        if url.as_str().contains(part) {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {part}; at {url}");
        tokio::task::yield_now().await;
    }
}

fn predict(base: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let body = json!({"entities": {"user_id": 1 + i as i64 % 50}, "request": {"amount": 20.0 + i as f64, "country": "DE", "merchant_id": 7}});
            let (s, v) = call("POST", &format!("{base}/v1/deployments/fraud_api/predict"), Some(body));
            assert_eq!(s, 200, "{v}");
            v
        })
        .collect()
}

/// The example trained twice (versions 1 and 2), version 1 in production, served with the
/// UI and a token, some traffic, and the monitor evaluated `evaluations` times.
fn project(evaluations: usize) -> (tempfile::TempDir, Server) {
    let dir = example();
    let p = dir.path();
    mlpc(&["apply", ".", "--auto-approve"], p);
    mlpc(&["run", ".", "train_fraud", "--quiet"], p);
    mlpc(
        &["run", ".", "train_fraud", "--quiet", "--param", "epochs=3"],
        p,
    );
    mlpc(
        &["registry", "alias", ".", "fraud_scorer", "1", "production"],
        p,
    );
    let server = listening(
        p,
        &[
            "serve",
            ".",
            "--bind",
            "127.0.0.1:0",
            "--no-scheduler",
            "--no-monitors",
        ],
        &[("MLP_TOKEN", TOKEN)],
    );
    predict(&server.base, 30);
    // The log is flushed every second: the monitor reads what is on disk.
    let log_dir = p.join(".mlp/predictions");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_dir(&log_dir).is_ok_and(|mut d| d.next().is_some()) {
        assert!(Instant::now() < deadline, "no prediction log was written");
        std::thread::yield_now();
    }
    for i in 0..evaluations {
        // Some checks fail and the example's webhook is not listening: the exit code says
        // so, and the evaluation is recorded all the same, which is what counts here.
        let out = Command::new(mlp_test_support::serving::mlpc_bin())
            .args(["monitor", "run", "."])
            .current_dir(p)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            evaluations_of(p, "fraud_health"),
            i + 1,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (dir, server)
}

fn evaluations_of(p: &Path, monitor: &str) -> usize {
    let h = mlp_monitoring::monitor::History::open(p).unwrap_or_else(|e| panic!("{e}"));
    let e = h
        .entries(Some(monitor), i64::MIN)
        .unwrap_or_else(|e| panic!("{e}"));
    e.iter().filter(|x| x.result.index == 0).count()
}

#[test]
fn the_ui_in_a_real_browser() {
    if std::env::var("MLP_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("skipped: MLP_SKIP_BROWSER=1");
        return;
    }
    let (dir, server) = project(3);
    let driver = start_driver();
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(drive(dir.path(), &server.base, driver.1));
    drop(driver);
}

async fn drive(p: &Path, base: &str, port: u16) {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("chromium through chromedriver: {e}"));
    let ui = format!("{base}/ui");

    walk(&c, &ui).await;
    model_page(&c, &ui).await;
    run_pages(&c, &ui).await;
    traffic(&c, &ui, base).await;
    monitor_page(&c, &ui, p).await;
    alias_move(&c, &ui, base).await;
    monitor_now(&c, &ui).await;
    pipeline_run(&c, &ui, p).await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Overview → the view → a feature's lineage → the deployment it reaches.
async fn walk(c: &Client, ui: &str) {
    c.goto(ui).await.unwrap_or_else(|e| panic!("{e}"));
    text_of(c, "#source-drift .chip").await;
    assert_clean(c, "overview").await;
    shot(c, "overview").await;
    click(c, r#"[data-testid="node-features.user_stats"]"#).await;
    wait_url(c, "/ui/r/features.user_stats").await;
    assert!(text_of(c, r#"[data-testid="resource-name"]"#)
        .await
        .starts_with("user_stats"));
    // Every numeric feature has a histogram card (at the pipeline's watermark, past the
    // example's data, windowed averages are null: the card says so instead of a chart).
    text_of(c, r#"[data-testid="histogram-txn_count_7d"] svg"#).await;
    text_of(c, r#"[data-testid="histogram-avg_amount_7d"]"#).await;
    assert_clean(c, "feature view").await;
    shot(c, "feature-view").await;
    click(c, r#"[data-testid="lineage-avg_amount_7d"]"#).await;
    assert_eq!(
        text_of(c, r#"[data-testid="lineage-of"]"#).await,
        "feature.user_stats.avg_amount_7d"
    );
    assert_clean(c, "lineage").await;
    shot(c, "lineage").await;
    click(c, r#"[data-testid="node-deployment.fraud_api"]"#).await;
    wait_url(c, "/ui/r/deployment.fraud_api").await;
    assert!(text_of(c, r#"[data-testid="resource-name"]"#)
        .await
        .starts_with("fraud_api"));
}

/// The model: version 1 with its auc.
async fn model_page(c: &Client, ui: &str) {
    c.goto(&format!("{ui}/models"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(
        c,
        r#"[data-testid="models"] a[href="/ui/r/model.fraud_scorer"]"#,
    )
    .await;
    let auc: f64 = text_of(c, r#"[data-testid="metric-1-auc"]"#)
        .await
        .parse()
        .unwrap_or_else(|e| panic!("auc: {e}"));
    assert!((0.5..=1.0).contains(&auc), "auc {auc}");
    assert!(text_of(c, r#"[data-testid="alias-production"]"#)
        .await
        .contains("→ 1"));
    assert_clean(c, "model").await;
    shot(c, "model").await;
}

/// The last run: its DAG and a step's log.
async fn run_pages(c: &Client, ui: &str) {
    c.goto(&format!("{ui}/runs"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_clean(c, "runs").await;
    shot(c, "runs").await;
    click(c, r#"[data-testid="run-link"]"#).await;
    for step in ["dataset", "train", "gate", "refresh"] {
        text_of(
            c,
            &format!(r#"[data-testid="run-dag"] [data-testid="node-{step}"]"#),
        )
        .await;
    }
    assert_clean(c, "run").await;
    shot(c, "run").await;
    click(c, r#"[data-testid="log-train"]"#).await;
    let log = text_of(c, r#"[data-testid="step-log"]"#).await;
    assert!(!log.is_empty());
    assert_clean(c, "step log").await;
    shot(c, "step-log").await;
}

/// The deployment: the request rate rises while predictions are sent.
async fn traffic(c: &Client, ui: &str, base: &str) {
    c.goto(&format!("{ui}/r/deployment.fraud_api"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Read in one script: htmx swaps the fragment every second, so an element found by one
    // command may be gone by the next.
    let rate = || async {
        let v = c
            .execute(
                r#"const e = document.querySelector('[data-testid="request-rate"]'); return e ? e.textContent : null;"#,
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        v.as_str().map(|s| {
            s.trim()
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("rate {s:?}: {e}"))
        })
    };
    element(c, r#"[data-testid="request-rate"]"#).await;
    let mut before = rate().await;
    while before.is_none() {
        before = rate().await;
    }
    let sender = {
        let base = base.to_string();
        std::thread::spawn(move || predict(&base, 200))
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let now = rate().await;
        if now > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the request rate stayed at {now:?}"
        );
        tokio::task::yield_now().await;
    }
    sender
        .join()
        .unwrap_or_else(|_| panic!("the sender panicked"));
    assert_clean(c, "deployment").await;
    shot(c, "deployment").await;
}

/// The monitor: one point per evaluation on its first check's chart.
async fn monitor_page(c: &Client, ui: &str, p: &Path) {
    c.goto(&format!("{ui}/r/monitor.fraud_health"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    text_of(c, r#"[data-testid="history-0"] svg"#).await;
    let points = c
        .find_all(Locator::Css(r#"[data-testid="history-0"] .point"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(points.len(), evaluations_of(p, "fraud_health"));
    assert_eq!(points.len(), 3);
    assert_clean(c, "monitor").await;
    shot(c, "monitor").await;
}

/// Moving an alias: refused without the token, done with it, then served.
async fn alias_move(c: &Client, ui: &str, base: &str) {
    c.goto(&format!("{ui}/r/model.fraud_scorer"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let form = |token: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Css(r#"[data-testid="alias-name"]"#))
                .await?
                .send_keys("production")
                .await?;
            c.find(Locator::Css(
                r#"[data-testid="alias-version"] option[value="2"]"#,
            ))
            .await?
            .click()
            .await?;
            c.find(Locator::Css(r#"[data-testid="alias-token"]"#))
                .await?
                .send_keys(token)
                .await?;
            c.find(Locator::Css(r#"[data-testid="alias-move"]"#))
                .await?
                .click()
                .await
        }
    };
    form("wrong").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(text_of(c, r#"[data-testid="problem"]"#)
        .await
        .starts_with("403"));
    // The console logs that 403 (when it gets to it) and nothing else.
    let deadline = Instant::now() + WAIT;
    loop {
        let severe = severe(c).await;
        assert!(
            severe.iter().all(|e| e["message"]
                .as_str()
                .is_some_and(|m| m.contains("/alias") && m.contains("403"))),
            "{severe:?}"
        );
        if !severe.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the refused form was not logged");
        tokio::task::yield_now().await;
    }
    let (status, _) = post_form(
        &format!("{ui}/models/fraud_scorer/alias"),
        &[("alias", "production"), ("version", "2")],
        &[],
    );
    assert_eq!(status, 403, "no token");
    c.goto(&format!("{ui}/r/model.fraud_scorer"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    form(TOKEN).await.unwrap_or_else(|e| panic!("{e}"));
    // The form posts and comes back to the same page: wait for the new one to say so.
    wait_text(c, r#"[data-testid="alias-production"]"#, "→ 2").await;
    // The server follows the alias within a second or so.
    let deadline = Instant::now() + WAIT;
    loop {
        let v = predict(base, 1).remove(0);
        if v["model_version"] == "fraud_scorer@2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still served by {}",
            v["model_version"]
        );
        std::thread::yield_now();
    }
}

/// Evaluating the monitor now from its page adds one point; without the token, 403.
async fn monitor_now(c: &Client, ui: &str) {
    let (status, _) = post_form(&format!("{ui}/monitors/fraud_health/run"), &[], &[]);
    assert_eq!(status, 403);
    c.goto(&format!("{ui}/r/monitor.fraud_health"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    element(c, r#"[data-testid="run-monitor-token"]"#)
        .await
        .send_keys(TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(c, r#"[data-testid="run-monitor-submit"]"#).await;
    // The form comes back to the same page once the evaluation is recorded: wait for the
    // page with one more point.
    let deadline = Instant::now() + WAIT;
    loop {
        let points = c
            .find_all(Locator::Css(r#"[data-testid="history-0"] .point"#))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len();
        if points == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "{points} points, never 4");
        tokio::task::yield_now().await;
    }
}

/// Starting a run from the pipeline's page: it shows in the history and ends.
async fn pipeline_run(c: &Client, ui: &str, p: &Path) {
    let (status, _) = post_form(
        &format!("{ui}/pipelines/train_fraud/run"),
        &[("token", "wrong")],
        &[],
    );
    assert_eq!(status, 403);
    let runs = |p: &Path| {
        mlp_pipelines::History::open(p)
            .and_then(|h| h.runs(Some("train_fraud"), 100))
            .unwrap_or_else(|e| panic!("{e}"))
            .len()
    };
    let before = runs(p);
    c.goto(&format!("{ui}/r/pipeline.train_fraud"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    element(c, r#"[data-testid="run-pipeline-token"]"#)
        .await
        .send_keys(TOKEN)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    click(c, r#"[data-testid="run-pipeline-submit"]"#).await;
    wait_url(c, "/ui/runs").await;
    let deadline = Instant::now() + WAIT;
    while runs(p) == before {
        assert!(
            Instant::now() < deadline,
            "the run started from the UI never showed"
        );
        tokio::task::yield_now().await;
    }
    assert_clean(c, "runs after a start").await;
    // It ends before the project folder goes (unchanged steps come from the cache).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let last = mlp_pipelines::History::open(p)
            .and_then(|h| h.runs(Some("train_fraud"), 1))
            .unwrap_or_else(|e| panic!("{e}"));
        if last.first().is_some_and(|r| r.status != "running") {
            assert_eq!(last[0].status, "succeeded", "{:?}", last[0]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run started from the UI did not end"
        );
        tokio::task::yield_now().await;
    }
}
