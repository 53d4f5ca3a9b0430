//! A language client for tests and benchmarks of `mlpc lsp` in process, over `lsp-server`'s
//! in-memory connection (as ty's e2e tests do): requests with their answers, document
//! notifications, and the diagnostics published for one document.

use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The error a server's run ends with.
pub type ServerError = Box<dyn std::error::Error + Send + Sync>;

/// A client talking to a server that runs on its own thread.
pub struct Client {
    /// The client's end of the connection.
    pub conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
    next: i32,
}

impl Client {
    /// Starts `serve` on a thread with the server's end of a new connection, then does the
    /// `initialize` handshake; checks that the server asks for full-text sync.
    pub fn start(
        serve: impl FnOnce(Connection) -> Result<(), ServerError> + Send + 'static,
    ) -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || serve(server));
        let mut c = Client {
            conn: client,
            server: Some(handle),
            next: 0,
        };
        let caps = c.request(
            "initialize",
            json!({"capabilities": {}, "processId": null, "rootUri": null}),
        );
        assert_eq!(
            caps["capabilities"]["textDocumentSync"]["change"], 1,
            "{caps}"
        );
        c.notify("initialized", json!({}));
        c
    }

    /// Sends request `method` and answers its response (skipping notifications meanwhile).
    pub fn respond(&mut self, method: &str, params: Value) -> Response {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.into(),
                params,
            )))
            .unwrap_or_else(|e| panic!("{e}"));
        loop {
            match self.recv() {
                Message::Response(r) if r.id == id => return r,
                _ => continue,
            }
        }
    }

    /// Sends request `method` and answers its result; panics on an error answer.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let r = self.respond(method, params);
        assert!(r.error.is_none(), "{:?}", r.error);
        r.result.unwrap_or(Value::Null)
    }

    /// Sends notification `method`.
    pub fn notify(&self, method: &str, params: Value) {
        self.conn
            .sender
            .send(Message::Notification(Notification::new(
                method.into(),
                params,
            )))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// `didOpen` of `uri` with `text`.
    pub fn open(&self, uri: impl AsRef<str>, text: &str) {
        let uri = uri.as_ref();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "mlp", "version": 1, "text": text}}),
        );
    }

    /// `didChange` of `uri` to `text` (full sync).
    pub fn change(&self, uri: impl AsRef<str>, version: i32, text: &str) {
        let uri = uri.as_ref();
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// `didClose` of `uri`.
    pub fn close(&self, uri: impl AsRef<str>) {
        let uri = uri.as_ref();
        self.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
    }

    /// The next message from the server; panics after a minute without one.
    pub fn recv(&self) -> Message {
        self.conn
            .receiver
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no message from the server: {e}"))
    }

    /// The next diagnostics published for `uri` (those for other files are skipped).
    pub fn diagnostics_for(&self, uri: impl AsRef<str>) -> Vec<Value> {
        let uri = uri.as_ref();
        loop {
            if let Message::Notification(n) = self.recv() {
                if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri {
                    return n.params["diagnostics"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                }
            }
        }
    }

    /// Waits until the server has handled everything sent so far, dropping what it published
    /// meanwhile: a request is answered after the notifications of earlier messages.
    pub fn sync(&mut self) {
        self.respond("workspace/symbol", json!({"query": "\u{0}"}));
    }

    /// `shutdown` then `exit`; checks that the server's run ended without an error.
    pub fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let handle = self.server.take().unwrap_or_else(|| panic!("no server"));
        let ended = handle
            .join()
            .unwrap_or_else(|_| panic!("the server panicked"));
        assert!(ended.is_ok(), "{ended:?}");
    }
}

/// The `file://` URI of an absolute path.
pub fn uri(path: impl Into<PathBuf>) -> String {
    let path = path.into();
    assert!(path.is_absolute(), "{} is not absolute", path.display());
    format!("file://{}", path.display())
}
