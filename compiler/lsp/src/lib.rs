//! The language server of mlp (`mlpc lsp`): the transport, a thin layer over `lsp-server`
//! (stdio for editors, an in-memory connection for tests), and [`workspace`], what to answer.
//! This version publishes diagnostics: on open, change, save and close, for every file of
//! the changed document's project (its folder), from the same `Diagnostic` model as
//! `mlpc check`.

pub mod workspace;

use lsp_server::{Connection, ErrorCode, Message, Notification, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams, PublishDiagnosticsParams, SaveOptions, ServerCapabilities,
    ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions, Url,
};
use std::path::PathBuf;
use workspace::Workspace;

/// Why the server stopped other than by `shutdown` and `exit`.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the server can do, as `initialize` answers it.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Serves over stdin and stdout until the client says `shutdown` and `exit`.
pub fn stdio() -> Result<(), Error> {
    let (connection, io) = Connection::stdio();
    run(&connection)?;
    drop(connection);
    io.join()?;
    Ok(())
}

/// Serves `connection`: the `initialize` handshake, then messages until `shutdown`.
pub fn run(connection: &Connection) -> Result<(), Error> {
    let init = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "mlpc lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    let (id, _params) = connection.initialize_start()?;
    connection.initialize_finish(id, init)?;
    let mut ws = Workspace::new();
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                let resp = Response::new_err(
                    req.id,
                    ErrorCode::MethodNotFound as i32,
                    format!("mlpc lsp does not answer `{}` yet", req.method),
                );
                connection.sender.send(Message::Response(resp))?;
            }
            Message::Notification(n) => {
                if let Some(path) = on_notification(&mut ws, n) {
                    publish(connection, &mut ws, &path)?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Applies a document notification to `ws`; answers the document's path when its project's
/// diagnostics are to be published again. Malformed parameters and documents that are not
/// files are ignored (the protocol has no answer to a notification).
fn on_notification(ws: &mut Workspace, n: Notification) -> Option<PathBuf> {
    let path = |uri: &Url| uri.to_file_path().ok();
    match n.method.as_str() {
        DidOpenTextDocument::METHOD => {
            let p: DidOpenTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let file = path(&p.text_document.uri)?;
            ws.set(file.clone(), p.text_document.text);
            Some(file)
        }
        DidChangeTextDocument::METHOD => {
            let p: DidChangeTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let file = path(&p.text_document.uri)?;
            // Full sync: the last change holds the whole text.
            let text = p.content_changes.into_iter().last()?.text;
            ws.set(file.clone(), text);
            Some(file)
        }
        DidSaveTextDocument::METHOD => {
            let p: DidSaveTextDocumentParams = serde_json::from_value(n.params).ok()?;
            path(&p.text_document.uri)
        }
        DidCloseTextDocument::METHOD => {
            let p: DidCloseTextDocumentParams = serde_json::from_value(n.params).ok()?;
            let file = path(&p.text_document.uri)?;
            ws.close(&file);
            Some(file)
        }
        _ => None,
    }
}

/// Publishes the diagnostics of the project `document` belongs to.
fn publish(
    connection: &Connection,
    ws: &mut Workspace,
    document: &std::path::Path,
) -> Result<(), Error> {
    let Some(dir) = Workspace::project_of(document) else {
        return Ok(());
    };
    for f in ws.check(&dir) {
        let params = PublishDiagnosticsParams {
            uri: f.uri,
            diagnostics: f.diagnostics,
            version: None,
        };
        let n = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
        connection.sender.send(Message::Notification(n))?;
    }
    Ok(())
}
