//! The stdio transport of `mlpc lsp`: lsp-server's framing (`Content-Length` headers, JSON
//! bodies) and its [`Connection`], read so that bad input does not stop the server. A body
//! that is not UTF-8 is read lossily (each bad byte becomes U+FFFD, as editors show it), and
//! a body that is not a JSON-RPC message is reported on stderr and skipped, where
//! lsp-server's own reader would end the connection. Only broken framing (a header line that
//! is not `Name: value`, no `Content-Length`, a body cut short) ends it, since no later
//! message can be found after it.

use crate::Error;
use crossbeam_channel::{bounded, Receiver, Sender};
use lsp_server::{Connection, Message};
use std::io::{self, BufRead, Write};

/// Serves over stdin and stdout until the client says `shutdown` and `exit`, or closes
/// stdin.
pub fn stdio() -> Result<(), Error> {
    let (to_server, from_client) = bounded::<Message>(0);
    let (to_client, from_server) = bounded::<Message>(0);
    let writer = std::thread::Builder::new()
        .name("mlpc-lsp-writer".into())
        .spawn(move || write_all(&from_server, &mut io::stdout().lock()))?;
    let reader = std::thread::Builder::new()
        .name("mlpc-lsp-reader".into())
        .spawn(move || read_all(&mut io::stdin().lock(), &to_server))?;
    let connection = Connection {
        sender: to_client,
        receiver: from_client,
    };
    let served = crate::run(&connection);
    drop(connection);
    let written = writer.join().map_err(|_| "the writer thread panicked")?;
    served?;
    written?;
    // The reader ends at `exit` or at the end of stdin; after a `shutdown` answered and an
    // `exit` it has already stopped. Its framing errors are reported, not waited for.
    if reader.is_finished() {
        reader.join().map_err(|_| "the reader thread panicked")??;
    }
    Ok(())
}

/// Writes each message the server sends until it drops its sender.
fn write_all(from_server: &Receiver<Message>, out: &mut impl Write) -> io::Result<()> {
    for msg in from_server {
        msg.write(out)?;
    }
    Ok(())
}

/// Reads messages from `input` and hands them to the server, until `exit`, the end of the
/// input, or framing that cannot be followed.
fn read_all(input: &mut impl BufRead, to_server: &Sender<Message>) -> io::Result<()> {
    while let Some(body) = read_frame(input)? {
        let text = String::from_utf8_lossy(&body);
        let msg: Message = match serde_json::from_str(&text) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("mlpc lsp: skipped a message that is not JSON-RPC ({e})");
                continue;
            }
        };
        let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
        if to_server.send(msg).is_err() || exit {
            break;
        }
    }
    Ok(())
}

/// One message body: the headers up to an empty line, then `Content-Length` bytes. `None`
/// at the end of the input.
fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut length: Option<usize> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let header = text.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| bad(format!("malformed header {header:?}")))?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|e| bad(format!("Content-Length {value:?}: {e}")))?;
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| bad("a message without Content-Length".into()))?;
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn bad_bodies_are_read_lossily_or_skipped_and_the_next_message_still_arrives() {
        let mut input = Vec::new();
        // Not UTF-8 inside a string: read with U+FFFD.
        input.extend(frame(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"text\":\"x\xff\xfey\"}}",
        ));
        // Not JSON at all: skipped.
        input.extend(frame(b"\xff\xff not json"));
        input.extend(frame(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"b\",\"params\":null}",
        ));
        let (tx, rx) = bounded::<Message>(8);
        read_all(&mut io::Cursor::new(input), &tx).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<Message> = rx.try_iter().collect();
        assert_eq!(got.len(), 2, "{got:?}");
        match &got[0] {
            Message::Notification(n) => {
                assert_eq!(n.method, "a");
                assert_eq!(n.params["text"], "x\u{fffd}\u{fffd}y");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&got[1], Message::Notification(n) if n.method == "b"));
    }

    #[test]
    fn broken_framing_ends_the_connection_with_an_error() {
        let (tx, _rx) = bounded::<Message>(8);
        let mut input = io::Cursor::new(b"Content-Length: x\r\n\r\n{}".to_vec());
        assert!(read_all(&mut input, &tx).is_err());
        let mut input = io::Cursor::new(b"Content-Length: 99\r\n\r\n{}".to_vec());
        assert!(read_all(&mut input, &tx).is_err());
    }
}
