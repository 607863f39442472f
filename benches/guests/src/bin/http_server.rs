//! A minimal HTTP/1.1 server, one process per connection, for the HTTP
//! benchmark: `http_server [ADDRESS]` (default `127.0.0.1:0`), prints
//! `listening <address>` once bound, then serves until killed.
//!
//! Every request, whatever its method and path, gets the same small
//! plain-text response. Connections are kept alive (HTTP/1.1 default) unless
//! the client sends `Connection: close` or speaks HTTP/1.0 without
//! `Connection: keep-alive`; pipelined requests are answered in order, and a
//! `Content-Length` body is read and skipped.

use std::io::{Read, Write};

use lunatic::net::{TcpListener, TcpStream};
use lunatic::{Mailbox, Process};

const BODY: &[u8] = b"Hello, world!\n";

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listener = TcpListener::bind(addr.as_str()).expect("bind");
    println!("listening {}", listener.local_addr().expect("local address"));
    while let Ok((stream, _peer)) = listener.accept() {
        Process::spawn(stream, connection);
    }
}

/// Serves one connection until the client closes it or asks to.
fn connection(mut stream: TcpStream, _: Mailbox<()>) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut close = false;
        // Answer every complete request in the buffer.
        while let Some(request) = parse(&buf) {
            if buf.len() < request.len {
                break; // the body is not all here yet
            }
            buf.drain(..request.len);
            respond(&mut out, request.close);
            if request.close {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        if buf.len() > 64 * 1024 {
            return; // a header this large is not something this server serves
        }
    }
}

struct Request {
    /// Bytes of head and body.
    len: usize,
    /// The connection closes after the response.
    close: bool,
}

/// Parses the head at the start of `buf`, if it is complete.
fn parse(buf: &[u8]) -> Option<Request> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).unwrap_or("");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let http10 = request_line.ends_with("HTTP/1.0");
    let mut close = http10;
    let mut body = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        }
    }
    Some(Request { len: head_end + body, close })
}

fn respond(out: &mut Vec<u8>, close: bool) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ");
    out.extend_from_slice(BODY.len().to_string().as_bytes());
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(BODY);
}
