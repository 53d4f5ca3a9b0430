//! `mlpc ui [DIR]`: the web UI alone, for someone who only wants to look: the applied plan,
//! lineage, the registry, run history and monitor history, without serving any model (the
//! live traffic shows under `mlpc serve`, which mounts the same UI on its own port).

use clap::Args;
use mlpc_shared::fail;
use std::path::PathBuf;
use std::process::ExitCode;

/// `mlpc ui`.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Project folder.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Address to listen on. A non-loopback address needs MLP_TOKEN.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub bind: String,
    /// The environment the source is compared in (DIR/env/NAME.yaml).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

/// Serves the UI until SIGINT or SIGTERM.
pub fn ui(a: &UiArgs) -> ExitCode {
    let token = std::env::var("MLP_TOKEN").ok().filter(|t| !t.is_empty());
    if !mlp_util::is_loopback(&a.bind) && token.is_none() {
        return fail(format!(
            "`{}` is not a loopback address: set MLP_TOKEN so that changes need it",
            a.bind
        ));
    }
    let watch = match mlp_util::ShutdownWatch::install() {
        Ok(w) => w,
        Err(e) => return fail(format!("cannot watch signals: {e}")),
    };
    let ui = actix_web::web::Data::new(mlp_ui::Ui::new(
        a.dir.clone(),
        token,
        None,
        mlpc_shared::ui_setup(a.env.clone()),
    ));
    let sys = actix_web::rt::System::new();
    let started = sys.block_on(async {
        let server = actix_web::HttpServer::new(move || {
            let ui = ui.clone();
            actix_web::App::new()
                .configure(move |c| mlp_ui::configure(c, ui))
                .default_service(actix_web::web::to(|| async {
                    actix_web::HttpResponse::Found()
                        .insert_header(("Location", "/ui"))
                        .finish()
                }))
        })
        .workers(2)
        .disable_signals()
        .bind(&a.bind)?;
        let addr = server.addrs().first().copied();
        Ok::<_, std::io::Error>((server.run(), addr))
    });
    let (server, addr) = match started {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot listen on {}: {e}", a.bind)),
    };
    match addr {
        Some(addr) => eprintln!("the UI of {} on http://{addr}/ui", a.dir.display()),
        None => return fail("the server has no address"),
    }
    let handle = server.handle();
    let thread = std::thread::spawn(move || {
        watch.wait();
        actix_web::rt::System::new().block_on(handle.stop(true));
    });
    if let Err(e) = sys.block_on(server) {
        return fail(format!("the UI server stopped: {e}"));
    }
    if thread.join().is_err() {
        eprintln!("ui: the signal thread panicked");
    }
    ExitCode::SUCCESS
}
