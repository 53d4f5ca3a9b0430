//! The language server of mlp (`mlpc lsp`): the transport, a thin layer over `lsp-server`
//! (stdio for editors, an in-memory connection for tests), and [`workspace`], what to answer.
//! This version publishes diagnostics (on open, change, save and close, for every file of
//! the changed document's project, its folder, from the same `Diagnostic` model as
//! `mlpc check`; edits that arrive together are checked once), formats documents as
//! `mlpc fmt` does, answers hover, go to definition, references and completion
//! (`symbols.rs`, `hover.rs`), completion of names, built-ins and units (`complete.rs`),
//! outlines and workspace symbols, "did you mean" quick fixes and adding a missing `owner`
//! (`actions.rs`), and renames (`rename.rs`).

pub mod actions;
pub mod complete;
pub mod context;
pub mod hover;
pub mod registry;
pub mod rename;
pub mod symbols;
pub mod transport;
pub mod workspace;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _, WorkspaceSymbolRequest,
};
use lsp_types::{
    CompletionOptions, CompletionParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentFormattingParams,
    GotoDefinitionParams, GotoDefinitionResponse, HoverParams, HoverProviderCapability, OneOf,
    Position, PublishDiagnosticsParams, Range, SaveOptions, ServerCapabilities, ServerInfo,
    TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit, Url,
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
        document_formatting_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "@".into()]),
            ..Default::default()
        }),
        rename_provider: Some(OneOf::Right(lsp_types::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        ..Default::default()
    }
}

/// Serves over stdin and stdout until the client says `shutdown` and `exit` (see
/// [`transport`]: bad input is skipped rather than ending the server).
pub fn stdio() -> Result<(), Error> {
    transport::stdio()
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
    // Documents whose projects are to be checked, once the messages already waiting are in.
    let mut pending: Vec<PathBuf> = Vec::new();
    loop {
        // Block only when nothing is pending; otherwise take what has already arrived (a
        // burst of keystrokes) and check once.
        let msg = if pending.is_empty() {
            match connection.receiver.recv() {
                Ok(m) => Some(m),
                Err(_) => return Ok(()),
            }
        } else {
            connection.receiver.try_recv().ok()
        };
        let Some(msg) = msg else {
            // One check per project, for all its changed documents.
            let mut by_project: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
            for doc in std::mem::take(&mut pending) {
                let Some(dir) = Workspace::project_of(&doc) else {
                    continue;
                };
                match by_project.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, docs)) => docs.push(doc),
                    None => by_project.push((dir, vec![doc])),
                }
            }
            for (dir, docs) in by_project {
                publish(connection, &mut ws, &dir, &docs)?;
            }
            continue;
        };
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                let resp = on_request(&ws, req);
                connection.sender.send(Message::Response(resp))?;
            }
            Message::Notification(n) => {
                if let Some(path) = on_notification(&mut ws, n) {
                    if !pending.contains(&path) {
                        pending.push(path);
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
}

/// The answer to a request.
fn on_request(ws: &Workspace, req: Request) -> Response {
    match req.method.as_str() {
        Formatting::METHOD => match params::<DocumentFormattingParams>(req) {
            Ok((id, p)) => match format(ws, &p.text_document.uri) {
                Ok(edits) => Response::new_ok(id, edits),
                Err(e) => Response::new_err(id, ErrorCode::RequestFailed as i32, e),
            },
            Err(r) => r,
        },
        CodeActionRequest::METHOD => answer(req, |p: lsp_types::CodeActionParams| {
            code_actions(ws, &p.text_document.uri, p.range)
        }),
        Rename::METHOD => match params::<lsp_types::RenameParams>(req) {
            Ok((id, p)) => {
                let new = p.new_name.trim().to_string();
                let r = target(ws, &p.text_document_position, |checked, dir, t| {
                    rename::rename(checked, dir, t, &new)
                });
                respond(id, r)
            }
            Err(r) => r,
        },
        PrepareRenameRequest::METHOD => match params::<TextDocumentPositionParams>(req) {
            Ok((id, p)) => {
                let r = target(ws, &p, |checked, dir, t| {
                    let (_, name) = rename::prepare(checked, dir, t)?;
                    let path = p
                        .text_document
                        .uri
                        .to_file_path()
                        .map_err(|()| "not a file")?;
                    let text = ws.text(&path).map_err(|e| e.to_string())?;
                    let offset = symbols::offset(&text, p.position);
                    let range = rename::range_at(&text, offset).ok_or("no name here")?;
                    Ok(lsp_types::PrepareRenameResponse::RangeWithPlaceholder {
                        range,
                        placeholder: name,
                    })
                });
                respond(id, r)
            }
            Err(r) => r,
        },
        DocumentSymbolRequest::METHOD => answer(req, |p: lsp_types::DocumentSymbolParams| {
            let path = p.text_document.uri.to_file_path().ok();
            path.and_then(|path| {
                let dir = Workspace::project_of(&path)?;
                Some(symbols::document_symbols(&ws.load(&dir), &path))
            })
            .unwrap_or_default()
        }),
        // The projects of the open documents.
        WorkspaceSymbolRequest::METHOD => answer(req, |p: lsp_types::WorkspaceSymbolParams| {
            ws.projects()
                .iter()
                .flat_map(|dir| symbols::workspace_symbols(&ws.load(dir), dir, &p.query))
                .collect::<Vec<_>>()
        }),
        HoverRequest::METHOD => answer(req, |p: HoverParams| {
            let at = &p.text_document_position_params;
            builtin_hover(ws, at)
                .or_else(|| at_name(ws, at, |checked, _, t| Some(symbols::hover(checked, t))))
        }),
        References::METHOD => answer(req, |p: lsp_types::ReferenceParams| {
            let include = p.context.include_declaration;
            at_name(ws, &p.text_document_position, |checked, dir, t| {
                let def = symbols::definition(checked, dir, t)?;
                Some(symbols::references(checked, dir, &def, include))
            })
            .unwrap_or_default()
        }),
        GotoDefinition::METHOD => answer(req, |p: GotoDefinitionParams| {
            at_name(ws, &p.text_document_position_params, |checked, dir, t| {
                symbols::definition(checked, dir, t).map(GotoDefinitionResponse::Scalar)
            })
        }),
        Completion::METHOD => answer(req, |p: CompletionParams| {
            completion(ws, &p.text_document_position)
        }),
        _ => Response::new_err(
            req.id,
            ErrorCode::MethodNotFound as i32,
            format!("mlpc lsp does not answer `{}` yet", req.method),
        ),
    }
}

/// A request's parameters read as `P`, or the error answer when they do not read.
fn params<P: serde::de::DeserializeOwned>(
    req: Request,
) -> Result<(lsp_server::RequestId, P), Response> {
    match serde_json::from_value(req.params) {
        Ok(p) => Ok((req.id, p)),
        Err(e) => Err(invalid(req.id, e)),
    }
}

/// The answer `f` gives to a request's parameters.
fn answer<P: serde::de::DeserializeOwned, R: serde::Serialize>(
    req: Request,
    f: impl FnOnce(P) -> R,
) -> Response {
    match params::<P>(req) {
        Ok((id, p)) => Response::new_ok(id, f(p)),
        Err(r) => r,
    }
}

fn invalid(id: lsp_server::RequestId, e: serde_json::Error) -> Response {
    Response::new_err(id, ErrorCode::InvalidParams as i32, e.to_string())
}

/// Resolves the name at a document position in its project and answers `f` of it; `None`
/// off a name, for a name that resolves to nothing, or for a document that is not a file.
fn at_name<T>(
    ws: &Workspace,
    at: &TextDocumentPositionParams,
    f: impl Fn(&mlp_driver::Checked, &std::path::Path, &symbols::Target) -> Option<T>,
) -> Option<T> {
    let path = at.text_document.uri.to_file_path().ok()?;
    let dir = Workspace::project_of(&path)?;
    let text = ws.text(&path).ok()?;
    let offset = symbols::offset(&text, at.position);
    let (parts, part) = symbols::name_at(&text, offset)?;
    let checked = ws.load(&dir);
    // A reference, else a step or parameter of the pipeline around, else a member where it
    // is declared (`avg_amount_7d: float = ...`).
    let target = symbols::resolve(&checked, &parts, part)
        .or_else(|| {
            let file = symbols::file_of(&checked, &path)?;
            symbols::resolve_scoped(&checked, file, offset, &parts, part)
        })
        .or_else(|| symbols::member_declared_at(&checked, &path, offset))?;
    f(&checked, &dir, &target)
}

/// Completion at a position (`complete.rs`).
fn completion(ws: &Workspace, at: &TextDocumentPositionParams) -> Vec<lsp_types::CompletionItem> {
    let Ok(path) = at.text_document.uri.to_file_path() else {
        return Vec::new();
    };
    let (Some(dir), Ok(text)) = (Workspace::project_of(&path), ws.text(&path)) else {
        return Vec::new();
    };
    let offset = symbols::offset(&text, at.position);
    complete::completion(&ws.load(&dir), &dir, &path, &text, offset)
}

/// The hover of a built-in at a position, if one is named there.
fn builtin_hover(ws: &Workspace, at: &TextDocumentPositionParams) -> Option<lsp_types::Hover> {
    let path = at.text_document.uri.to_file_path().ok()?;
    let dir = Workspace::project_of(&path)?;
    let text = ws.text(&path).ok()?;
    let offset = symbols::offset(&text, at.position);
    hover::builtin(&ws.load(&dir), &text, offset)
}

/// The code actions for a range of a document: "did you mean" fixes of its diagnostics,
/// and adding a missing `owner` to the declarations it meets.
fn code_actions(ws: &Workspace, uri: &Url, range: Range) -> Vec<lsp_types::CodeAction> {
    let Ok(path) = uri.to_file_path() else {
        return Vec::new();
    };
    let mut out = ws.quick_fixes(&path, range);
    if let (Some(dir), Ok(text)) = (Workspace::project_of(&path), ws.text(&path)) {
        out.extend(actions::add_owner(&ws.load(&dir), &path, &text, range));
    }
    out
}

/// As [`at_name`], for requests that answer an error: `f`'s answer, or why there is none.
fn target<T>(
    ws: &Workspace,
    at: &TextDocumentPositionParams,
    f: impl Fn(&mlp_driver::Checked, &std::path::Path, &symbols::Target) -> Result<T, String>,
) -> Result<T, String> {
    let path = at
        .text_document
        .uri
        .to_file_path()
        .map_err(|()| format!("`{}` is not a file", at.text_document.uri))?;
    let dir = Workspace::project_of(&path).ok_or("the document has no project folder")?;
    let text = ws
        .text(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let offset = symbols::offset(&text, at.position);
    let (parts, part) = symbols::name_at(&text, offset).ok_or("there is no name here")?;
    let checked = ws.load(&dir);
    let t = symbols::resolve(&checked, &parts, part)
        .or_else(|| symbols::member_declared_at(&checked, &path, offset))
        .ok_or_else(|| {
            format!(
                "`{}` is not a declaration or a feature of this project",
                parts.get(part).map_or("", String::as_str)
            )
        })?;
    f(&checked, &dir, &t)
}

/// The answer to request `id`: its result, or a `RequestFailed` error with the message.
fn respond<T: serde::Serialize>(id: lsp_server::RequestId, r: Result<T, String>) -> Response {
    match r {
        Ok(v) => Response::new_ok(id, v),
        Err(e) => Response::new_err(id, ErrorCode::RequestFailed as i32, e),
    }
}

/// The edits that format document `uri` as `mlpc fmt` would: none when it is formatted,
/// else one that replaces the whole text.
fn format(ws: &Workspace, uri: &Url) -> Result<Vec<TextEdit>, String> {
    let path = uri
        .to_file_path()
        .map_err(|()| format!("`{uri}` is not a file"))?;
    let text = ws
        .text(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Some(formatted) = mlp_driver::format_source(&text) else {
        return Err("the document does not parse; fix its syntax errors first".into());
    };
    if formatted == text {
        return Ok(Vec::new());
    }
    let file = mlp_diagnostics::SourceFile::new(path.display().to_string(), text.as_str());
    let end = workspace::position(&file, text.len());
    Ok(vec![TextEdit::new(
        Range::new(Position::new(0, 0), end),
        formatted,
    )])
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

/// Publishes the diagnostics of the project in `dir`, whose `documents` changed: first the
/// check without environment (its `.mlp` files), then each environment's YAML file.
fn publish(
    connection: &Connection,
    ws: &mut Workspace,
    dir: &std::path::Path,
    documents: &[PathBuf],
) -> Result<(), Error> {
    let mut files = ws.check(dir);
    // A changed document always hears: an empty list says it is clean.
    let heard =
        |files: &[workspace::FileDiagnostics], uri: &Url| files.iter().any(|f| f.uri == *uri);
    for document in documents
        .iter()
        .filter(|d| workspace::env_name(d).is_none())
    {
        if let Ok(uri) = Url::from_file_path(document) {
            if !heard(&files, &uri) {
                files.push(workspace::FileDiagnostics {
                    uri,
                    diagnostics: Vec::new(),
                });
            }
        }
    }
    send_diagnostics(connection, files)?;
    let mut files = ws.check_envs(dir);
    for document in documents
        .iter()
        .filter(|d| workspace::env_name(d).is_some())
    {
        if let Ok(uri) = Url::from_file_path(document) {
            if !heard(&files, &uri) {
                files.push(workspace::FileDiagnostics {
                    uri,
                    diagnostics: Vec::new(),
                });
            }
        }
    }
    send_diagnostics(connection, files)
}

/// Sends one `textDocument/publishDiagnostics` per file.
fn send_diagnostics(
    connection: &Connection,
    files: Vec<workspace::FileDiagnostics>,
) -> Result<(), Error> {
    for f in files {
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
