//! The HTTP server (actix-web): health and readiness, Prometheus metrics, online features,
//! the registry, predictions and the Open Inference Protocol's routes, with the alias
//! follower, the prediction log writer and the monitor loop beside it.

use crate::deployment::{self, input_name, Deployment};
use crate::error::StartError;
use crate::metrics::Metrics;
use crate::predlog::{PredictionLog, Writer};
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use mlp_ir::Plan;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Largest request body accepted.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What the server serves now: the plan, its online store and deployments. Replaced whole
/// when an apply changes the plan; a request keeps the one it started with.
pub struct Serving {
    /// The plan.
    pub plan: Arc<Plan>,
    /// The online store, when something is materialized.
    pub store: Option<Arc<mlp_features::OnlineStore>>,
    /// Deployments that serve.
    pub deployments: BTreeMap<String, Arc<Deployment>>,
    /// Deployments that cannot serve, with why.
    pub failed: BTreeMap<String, String>,
    /// Every request field the plan declares, with its type (request bodies are checked
    /// against it).
    pub request_fields: BTreeMap<String, mlp_ir::Type>,
}

impl Serving {
    /// The declared type of request field `name`, if a request block declares it.
    pub fn request_field_type(&self, name: &str) -> Option<mlp_ir::Type> {
        self.request_fields.get(name).copied()
    }

    /// The declared request fields, sorted.
    pub fn request_field_names(&self) -> Vec<&str> {
        self.request_fields.keys().map(String::as_str).collect()
    }
}

/// What the server shares between its workers.
pub struct State {
    /// The project folder.
    pub project_dir: PathBuf,
    /// What it serves now.
    pub current: RwLock<Arc<Serving>>,
    /// Reads the plan again after an apply (`None`: the plan is fixed).
    pub reload: Option<crate::reload::Reloader>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The prediction log.
    pub log: PredictionLog,
    /// The bearer token that endpoints changing anything require (`MLP_TOKEN`).
    pub token: Option<String>,
    /// Consumers seen since the last flush.
    pub consumers: std::sync::Mutex<SeenSinceFlush>,
}

/// (consumer, deployment) to (requests, first and last time in µs).
pub type SeenSinceFlush = BTreeMap<(String, String), (u64, i64, i64)>;

impl State {
    /// What is served now.
    pub fn now(&self) -> Arc<Serving> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Counts a request of `consumer` to `deployment`.
    pub fn saw(&self, consumer: &str, deployment: &str, now_us: i64) {
        if let Ok(mut c) = self.consumers.lock() {
            let e = c
                .entry((consumer.to_string(), deployment.to_string()))
                .or_insert((0, now_us, now_us));
            e.0 += 1;
            e.2 = now_us;
        }
    }

    /// Writes the consumers seen since the last flush to `.mlp/consumers.sqlite`.
    pub fn flush_consumers(&self) {
        let taken = match self.consumers.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => return,
        };
        let seen: Vec<mlp_state::consumers::SeenConsumer> = taken
            .into_iter()
            .map(|((consumer, deployment), (requests, first_us, last_us))| {
                mlp_state::consumers::SeenConsumer {
                    consumer,
                    deployment,
                    requests,
                    first_us,
                    last_us,
                }
            })
            .collect();
        if let Err(e) = mlp_state::consumers::record(&self.project_dir, &seen) {
            eprintln!("serve: cannot record consumers: {e}");
        }
    }
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project folder.
    pub project_dir: PathBuf,
    /// Address to bind (`127.0.0.1:8080`; port 0 picks a free one).
    pub bind: String,
    /// Bearer token for endpoints that change anything.
    pub token: Option<String>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Prediction log queue capacity.
    pub log_queue: usize,
    /// Evaluate the applied plan's monitors on their schedule, and where (`monitor_loop.rs`);
    /// `None`: not at all.
    pub monitors: Option<crate::monitor_loop::Evaluator>,
    /// Where the prediction log goes instead of the project's (`mlpc suggest` measures the
    /// log's cost without adding its traffic to the project's log); `None`: the project's.
    pub log_dir: Option<PathBuf>,
    /// Mount the web UI under `/ui` (`mlp-ui`), set up so, with this server's live state;
    /// `None`: no UI.
    pub ui: Option<mlp_ui::Setup>,
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn json_response(status: u16, v: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(v.to_string())
}

/// Loads every deployment of `plan` (those that cannot load are kept with their reason).
pub fn build_state(
    config: &Config,
    plan: Plan,
    reload: Option<crate::reload::Reloader>,
) -> (State, Writer) {
    let metrics = Arc::new(Metrics::default());
    let dir = config
        .log_dir
        .clone()
        .unwrap_or_else(|| crate::predlog::log_dir(&config.project_dir));
    let (log, writer) = PredictionLog::start(dir, config.log_queue, metrics.clone());
    let serving = crate::reload::serving(&config.project_dir, Arc::new(plan), None);
    (
        State {
            project_dir: config.project_dir.clone(),
            current: RwLock::new(Arc::new(serving)),
            reload,
            metrics,
            log,
            token: config.token.clone(),
            consumers: std::sync::Mutex::new(BTreeMap::new()),
        },
        writer,
    )
}

fn authorized(state: &State, req: &HttpRequest) -> Result<(), Box<HttpResponse>> {
    let Some(token) = &state.token else {
        return Err(Box::new(json_response(
            403,
            &json!({"error": "this endpoint changes the registry: start the server with MLP_TOKEN set and send it as a bearer token"}),
        )));
    };
    let given = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        Ok(())
    } else {
        Err(Box::new(json_response(
            401,
            &json!({"error": "missing or wrong bearer token"}),
        )))
    }
}

async fn health() -> HttpResponse {
    json_response(200, &json!({"status": "ok"}))
}

fn readiness(state: &State) -> (u16, Value) {
    let state = state.now();
    let mut deployments = serde_json::Map::new();
    let mut ready = state.failed.is_empty();
    for (name, d) in &state.deployments {
        let mut v = json!({"ready": true, "model_version": d.graph.versions().join(","), "model_versions": d.graph.versions(), "shadow_version": d.shadow.as_ref().map(|s| s.versions().join(","))});
        if let Some(lookup) = &d.lookup {
            // Ready once its table is built.
            let table = lookup.table();
            v["ready"] = json!(table.is_some());
            v["lookup_keys"] = json!(table.map(|t| t.len()));
            ready &= v["ready"] == true;
        }
        deployments.insert(name.clone(), v);
    }
    for (name, e) in &state.failed {
        deployments.insert(name.clone(), json!({"ready": false, "error": e}));
    }
    (
        if ready { 200 } else { 503 },
        json!({"ready": ready, "deployments": deployments}),
    )
}

async fn ready(state: web::Data<State>) -> HttpResponse {
    let (s, v) = readiness(&state);
    json_response(s, &v)
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    let now = state.now();
    let (hits, misses) = now.store.as_ref().map_or((0, 0), |s| {
        (
            s.counters.hits.load(Ordering::Relaxed),
            s.counters.misses.load(Ordering::Relaxed),
        )
    });
    let slas: Vec<(String, mlp_ir::Sla)> = now
        .plan
        .resources()
        .filter_map(|r| match &r.spec {
            mlp_ir::Spec::Deployment { sla, .. } => Some((r.name.clone(), sla.clone())),
            _ => None,
        })
        .collect();
    drop(now);
    match state.metrics.render(hits, misses, &slas) {
        Ok(text) => HttpResponse::Ok()
            .content_type(crate::metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => json_response(
            500,
            &json!({"error": format!("rendering the metrics: {e}")}),
        ),
    }
}

async fn online_features(state: web::Data<State>, body: web::Bytes) -> HttpResponse {
    match &state.now().store {
        Some(store) => {
            let (s, v) = mlp_features::api::online_features(store, &body, now_us());
            json_response(s, &v)
        }
        None => json_response(
            503,
            &json!({"error": "nothing is materialized yet: run `mlpc materialize` first"}),
        ),
    }
}

async fn registry(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let method = req.method().as_str().to_string();
    if mlp_registry::api::is_write(&method) {
        if let Err(r) = authorized(&state, &req) {
            return *r;
        }
    }
    let dir = state.project_dir.clone();
    let path = req.path().to_string();
    let query = req.query_string().to_string();
    let answer = web::block(move || match mlp_registry::Registry::open(&dir) {
        Ok(mut reg) => mlp_registry::api::handle(&mut reg, &method, &path, &query, &body),
        Err(e) => (500, json!({"error": e.to_string()})),
    })
    .await;
    match answer {
        Ok((s, v)) => json_response(s, &v),
        Err(e) => json_response(500, &json!({"error": e.to_string()})),
    }
}

async fn predict(
    state: web::Data<State>,
    name: &str,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let start = std::time::Instant::now();
    let consumer = req
        .headers()
        .get("x-mlp-consumer")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let request_id = match req.headers().get("x-request-id").map(|h| h.to_str()) {
        None => None,
        Some(Ok(h)) => match crate::predict::request_id(h) {
            Ok(id) => Some(id),
            Err(e) => return json_response(400, &json!({ "error": e })),
        },
        Some(Err(_)) => {
            return json_response(
                400,
                &json!({ "error": "X-Request-Id must be visible ASCII characters" }),
            )
        }
    };
    let now = now_us();
    if let Some(c) = &consumer {
        if state.now().deployments.contains_key(name) {
            state.saw(c, name, now);
        }
    }
    let (status, v, version) =
        crate::predict::predict(&state, name, &body, consumer, request_id, now).await;
    state
        .metrics
        .request(name, &version, status, start.elapsed().as_secs_f64());
    json_response(status, &v)
}

/// `GET /v2/models/{name}`: Open Inference Protocol model metadata.
async fn v2_model(state: web::Data<State>, name: &str) -> HttpResponse {
    match state.now().deployments.get(name) {
        Some(d) => json_response(
            200,
            &json!({
                "name": d.name,
                "versions": [d.graph.versions().join(",")],
                "platform": "pytorch_torchscript",
                "inputs": match &d.tensors {
                    Some(tensors) => tensors.iter().map(|t| json!({"name": t.name, "datatype": t.dtype.oip(), "shape": if t.vector { json!([-1, t.inputs.len()]) } else { json!([-1]) }})).collect::<Vec<_>>(),
                    None => d.inputs.iter().map(|i| json!({"name": input_name(i), "datatype": "FP32", "shape": [-1]})).collect::<Vec<_>>(),
                },
                "outputs": d.outputs.iter().map(|o| json!({"name": o.name, "datatype": "FP32", "shape": crate::outputs::oip_shape(o, -1)})).collect::<Vec<_>>(),
            }),
        ),
        None => json_response(404, &json!({"error": format!("no model `{name}`")})),
    }
}

async fn v2_model_ready(state: web::Data<State>, name: &str) -> HttpResponse {
    if state.now().deployments.contains_key(name) {
        json_response(200, &json!({"name": name, "ready": true}))
    } else {
        json_response(404, &json!({"error": format!("no ready model `{name}`")}))
    }
}

/// `POST /v2/models/{name}/infer`: raw model inputs, either one `[n, width]` input or one
/// `[n]` input per model input name; no features are fetched.
async fn v2_infer(state: web::Data<State>, name: &str, body: web::Bytes) -> HttpResponse {
    let start = std::time::Instant::now();
    let (status, v, version) = match crate::oip::infer(&state, name, &body).await {
        Ok((v, version)) => (200, v, version),
        Err((s, e)) => (s, json!({"error": e}), String::new()),
    };
    state
        .metrics
        .request(name, &version, status, start.elapsed().as_secs_f64());
    json_response(status, &v)
}

/// The routes with a name in the path, matched here by hand: actix's router matches a
/// dynamic segment with a regex, which perf showed at an eighth of the infer path's time.
async fn named(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let path = req.path().to_string();
    let get = req.method() == actix_web::http::Method::GET;
    let post = req.method() == actix_web::http::Method::POST;
    if let Some(rest) = path.strip_prefix("/v1/deployments/") {
        if let (Some(name), true) = (rest.strip_suffix("/predict"), post) {
            if !name.is_empty() && !name.contains('/') {
                return predict(state, name, req, body).await;
            }
        }
    } else if let Some(rest) = path.strip_prefix("/v2/models/") {
        match rest.split_once('/') {
            None if get && !rest.is_empty() => return v2_model(state, rest).await,
            Some((name, "ready")) if get => return v2_model_ready(state, name).await,
            Some((name, "infer")) if post => return v2_infer(state, name, body).await,
            _ => {}
        }
    } else if path.starts_with("/v1/registry/") {
        return registry(state, req, body).await;
    }
    json_response(
        404,
        &json!({"error": format!("no route for {} {path}", req.method())}),
    )
}

/// Builds the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health))
        .route("/readyz", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/v2/health/live", web::get().to(health))
        .route("/v2/health/ready", web::get().to(ready))
        .route("/v1/features/online", web::post().to(online_features))
        // /v1/deployments/{name}/predict, /v2/models/{name}[/ready|/infer], /v1/registry/...
        .default_service(web::to(named));
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: std::thread::JoinHandle<()>,
    /// The monitor loop (`None` when its thread could not start).
    monitors: Option<crate::monitor_loop::MonitorLoop>,
}

impl Running {
    /// Stops gracefully (requests in flight finish), flushes the prediction log, and stops
    /// the monitor loop (an evaluation in progress gets a few seconds).
    pub fn stop(mut self) {
        // Told first, so that it stops while the server drains.
        if let Some(m) = &mut self.monitors {
            m.signal();
        }
        let h = self.handle.clone();
        let stopped =
            std::thread::spawn(move || actix_web::rt::System::new().block_on(h.stop(true))).join();
        if stopped.is_err() {
            eprintln!("serve: the graceful stop panicked; waiting for the server thread");
        }
        if self.thread.join().is_err() {
            eprintln!("serve: the server thread panicked; the prediction log may not be flushed");
        }
        if let Some(m) = self.monitors {
            m.stop();
        }
    }

    /// Waits until SIGINT or SIGTERM (counted since `watch` was installed, when given), then
    /// stops gracefully and flushes the log.
    pub fn run_until_signal(self, watch: Option<mlp_util::ShutdownWatch>) {
        match watch {
            Some(w) => w.wait(),
            None => {
                if let Err(e) = mlp_util::block_until_shutdown_signal() {
                    eprintln!("serve: cannot wait for signals ({e}); stopping");
                }
            }
        }
        self.stop();
    }
}

pub use mlp_util::is_loopback;

/// Once a second, for ever: picks up applies, alias moves, materializations and lookup
/// tables to rebuild, without a restart, and says what changed on stderr.
async fn follow(state: web::Data<State>) {
    loop {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        let st = state.clone();
        let checked = web::block(move || follow_once(&st)).await;
        // Fails only when the check panicked (or the runtime is going): say so, and try
        // again in a second.
        let (said, builds) = match checked {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "serve: the check for applies, alias moves and materializations failed: {e}"
                );
                continue;
            }
        };
        for s in said {
            eprintln!("serve: {s}");
        }
        for (d, read) in builds {
            if let Some(s) = crate::lookup::build(&d, read).await {
                eprintln!("serve: {s}");
            }
        }
    }
}

/// One look (blocking, off the workers): what changed, and the lookup tables to rebuild.
fn follow_once(st: &State) -> (Vec<String>, Vec<(Arc<Deployment>, crate::lookup::Read)>) {
    st.flush_consumers();
    let mut said = crate::reload::reload_if_applied(st);
    let now = st.now();
    let mut changed = false;
    if let Some(store) = &now.store {
        // Let `mlpc materialize` write between reads, and drop cached values once it has.
        store.release_if_idle(Duration::from_secs(1));
        changed = store.invalidate_if_changed();
        if changed {
            said.push("the online store changed; cache emptied".into());
        }
    }
    said.extend(deployment::follow_aliases(
        &st.project_dir,
        &now.plan,
        &now.deployments,
    ));
    let builds = crate::lookup::inputs_to_build(&now, changed, now_us());
    (said, builds)
}

/// Starts the server for `plan` on its own thread; answers once it listens. With `reload`,
/// the plan is read again after each `mlpc apply` and changed deployments are swapped in.
pub fn start(
    config: Config,
    plan: Plan,
    reload: Option<crate::reload::Reloader>,
) -> Result<Running, StartError> {
    if !is_loopback(&config.bind) && config.token.is_none() {
        return Err(StartError::NoToken(config.bind));
    }
    let (state, writer) = build_state(&config, plan, reload);
    let state = web::Data::new(state);
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = config.workers.max(1);
    let bind = config.bind.clone();
    let follower_state = state.clone();
    let last_state = state.clone();
    // Weak: the loop must not keep the state (and the log's sender) alive past the server.
    let monitor_state = Arc::downgrade(&state.clone().into_inner());
    let metrics = state.metrics.clone();
    let ui = config.ui.clone();
    let thread = std::thread::spawn(move || {
        let sys = actix_web::rt::System::new();
        let started = tx.clone();
        let result = sys.block_on(async move {
            let tx = started;
            let data = state.clone();
            let ui = ui.map(|setup| {
                let live: Arc<dyn mlp_ui::Live> = Arc::new(crate::ui::Live(state.clone()));
                web::Data::new(mlp_ui::Ui::new(
                    state.project_dir.clone(),
                    state.token.clone(),
                    Some(live),
                    setup,
                ))
            });
            let server = HttpServer::new(move || {
                let app = App::new()
                    .app_data(data.clone())
                    .app_data(web::PayloadConfig::new(MAX_BODY));
                // Registered before the API's routes, whose default service answers the rest.
                match &ui {
                    Some(ui) => app.configure(|c| mlp_ui::configure(c, ui.clone())),
                    None => app,
                }
                .configure(routes)
            })
            .workers(workers)
            .shutdown_timeout(10)
            // The caller decides when to stop (mlpc serve: on SIGINT or SIGTERM).
            .disable_signals()
            .bind(&bind)
            .map_err(|source| StartError::Bind {
                bind: bind.clone(),
                source,
            })?;
            let addr = server.addrs().first().copied();
            let server = server.run();
            // The receiver waits in `start` until this arrives.
            tx.send(Ok((addr, server.handle()))).ok();
            // Applies, alias moves and materializations are picked up every second,
            // without a restart.
            let follower = actix_web::rt::spawn(follow(follower_state));
            let r = server.await.map_err(StartError::Server);
            follower.abort();
            r
        });
        if let Err(e) = result {
            // Received by `start` when it failed before listening; said here otherwise.
            if let Err(std::sync::mpsc::SendError(Err(e))) = tx.send(Err(e)) {
                eprintln!("serve: {e}");
            }
        }
        // With the runtime gone, so are its tasks and every log sender they held: the
        // writer flushes what is queued and ends.
        drop(sys);
        last_state.flush_consumers();
        drop(last_state);
        writer.join();
    });
    match rx.recv() {
        Ok(Ok((Some(addr), handle))) => {
            // Idle (one look a second at the served plan) while the plan has no monitor.
            let monitors = config.monitors.and_then(|how| {
                crate::monitor_loop::MonitorLoop::start(
                    config.project_dir,
                    monitor_state,
                    metrics,
                    how,
                )
                .map_err(|e| eprintln!("serve: the monitor loop did not start: {e}"))
                .ok()
            });
            Ok(Running {
                addr,
                handle,
                thread,
                monitors,
            })
        }
        Ok(Ok((None, _))) => Err(StartError::NoAddress),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StartError::ThreadStopped),
    }
}
