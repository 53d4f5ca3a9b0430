//! The HTTP API of the registry, independent of any web framework so that the server mounts
//! it as it is. Every answer is an HTTP status and a JSON body; errors are
//! `{"error": "..."}` naming what is wrong.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/registry/models` | `[{"model", "versions", "latest", "aliases"}]` |
//! | `GET /v1/registry/models/{model}/versions` | the versions, oldest first |
//! | `GET /v1/registry/models/{model}/versions/{ref}` | one version (`3`, `v3`, an alias, `latest`) |
//! | `GET /v1/registry/models/{model}/aliases` | `{"aliases": {...}, "moves": [...]}` |
//! | `PUT /v1/registry/models/{model}/aliases/{alias}` with `{"version": 3 or "latest", "reason"?}` | the move |
//! | `GET /v1/registry/search?model=M&tag=K=V&tag=...` | versions carrying every tag |
//!
//! Only the `PUT` changes anything ([`is_write`]): the server requires its bearer token there.

use crate::{Registry, RegistryError};
use serde_json::{json, Value};

/// Whether a request changes the registry (and so needs the server's token).
pub fn is_write(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD")
}

fn error(status: u16, message: impl std::fmt::Display) -> (u16, Value) {
    (status, json!({ "error": message.to_string() }))
}

fn from_registry(e: RegistryError) -> (u16, Value) {
    let status = match e {
        RegistryError::UnknownModel(_) | RegistryError::UnknownRef { .. } => 404,
        RegistryError::BadAlias(..) | RegistryError::BadFile { .. } => 400,
        RegistryError::Db { .. } | RegistryError::Io { .. } => 500,
    };
    error(status, e)
}

fn ok<T: serde::Serialize>(v: &T) -> (u16, Value) {
    match serde_json::to_value(v) {
        Ok(v) => (200, v),
        Err(e) => error(500, e),
    }
}

/// Handles one request under `/v1/registry/`. `query` is the part after `?` (may be empty).
pub fn handle(
    reg: &mut Registry,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> (u16, Value) {
    let parts: Vec<&str> = path
        .trim_start_matches("/v1/registry")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match (method, parts.as_slice()) {
        ("GET", ["models"]) => match reg.models() {
            Ok(models) => {
                let mut rows = Vec::new();
                for (m, n, latest) in models {
                    match reg.aliases(&m) {
                        Ok(aliases) => rows.push(json!({"model": m, "versions": n, "latest": latest, "aliases": aliases})),
                        Err(e) => return from_registry(e),
                    }
                }
                (200, Value::Array(rows))
            }
            Err(e) => from_registry(e),
        },
        ("GET", ["models", model, "versions"]) => match reg.list(Some(model)) {
            Ok(l) if l.is_empty() => from_registry(RegistryError::UnknownModel((*model).into())),
            Ok(l) => ok(&l),
            Err(e) => from_registry(e),
        },
        ("GET", ["models", model, "versions", reference]) => match reg.resolve(model, reference) {
            Ok(v) => ok(&v),
            Err(e) => from_registry(e),
        },
        ("GET", ["models", model, "aliases"]) => {
            match (reg.aliases(model), reg.alias_history(model)) {
                (Ok(a), Ok(m)) => (200, json!({"aliases": a, "moves": m})),
                (Err(e), _) | (_, Err(e)) => from_registry(e),
            }
        }
        ("PUT", ["models", model, "aliases", alias]) => {
            let body: Value = match serde_json::from_slice(body) {
                Ok(b) => b,
                Err(e) => return error(400, format!("invalid request body: {e}")),
            };
            let reference = match &body["version"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                Value::Null => {
                    return error(400, "`version` is missing: give a number or a reference")
                }
                other => {
                    return error(
                        400,
                        format!("`version` must be a number or a reference, found {other}"),
                    )
                }
            };
            let reason = body["reason"].as_str().unwrap_or("HTTP API").to_string();
            let target = match reg.resolve(model, &reference) {
                Ok(v) => v.version,
                Err(e) => return from_registry(e),
            };
            match reg.set_alias(model, alias, target, &reason) {
                Ok(m) => ok(&m),
                Err(e) => from_registry(e),
            }
        }
        ("GET", ["search"]) => {
            let mut model = None;
            let mut tags = Vec::new();
            // application/x-www-form-urlencoded: `%XX` and `+` decoded, `tag` repeated.
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                let v = v.into_owned();
                match k.as_ref() {
                    "model" => model = Some(v),
                    "tag" => match v.split_once('=') {
                        Some((tk, tv)) => tags.push((tk.to_string(), tv.to_string())),
                        None => return error(400, format!("tag `{v}`: write KEY=VALUE")),
                    },
                    other => {
                        return error(
                            400,
                            format!("unknown query parameter `{other}` (use model and tag)"),
                        )
                    }
                }
            }
            match reg.search(model.as_deref(), &tags) {
                Ok(l) => ok(&l),
                Err(e) => from_registry(e),
            }
        }
        (_, ["models", ..] | ["search"]) => {
            error(405, format!("{method} is not allowed on {path}"))
        }
        _ => error(404, format!("no such registry endpoint: {path}")),
    }
}
