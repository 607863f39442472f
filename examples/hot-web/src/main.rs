//! A small HTTP/1.1 server on raw TCP that answers its version: `hot-web v1` (or `v2` when
//! built with `--features v2`). `hot-web [ADDRESS]`, default 127.0.0.1:3002.
//!
//! Run it with `lunatic run --watch`, rebuild it with the other answer, and new connections
//! get the new answer while open keep-alive connections finish on the old code. It honours
//! `Connection: close` and keep-alive (HTTP/1.1 default), one process per connection.

use lunatic::net::{TcpListener, TcpStream};
use lunatic::{Mailbox, Process};
use std::io::{Read, Write};

/// The answer body; the only difference between the two builds.
const BODY: &str = if cfg!(feature = "v2") { "hot-web v2\n" } else { "hot-web v1\n" };
/// Requests with a larger head are refused (400) so a client cannot grow a process without end.
const MAX_HEAD: usize = 16 * 1024;

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3002".to_string());
    let listener = match TcpListener::bind(addr.as_str()) {
        Ok(l) => l,
        Err(e) => {
            say(&format!("hot-web: cannot listen on {addr}: {e}"));
            std::process::exit(1);
        }
    };
    say(&format!("hot-web: {} listening on {addr}", BODY.trim_end()));
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                Process::spawn(stream, connection);
            }
            Err(e) => say(&format!("hot-web: accept failed: {e}")),
        }
    }
}

/// Prints one line to stderr in a single write (lines of concurrent processes stay whole).
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Serves the requests of one connection until the client closes or asks to.
fn connection(mut stream: TcpStream, _: Mailbox<()>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > MAX_HEAD {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or("");
        let http10 = request_line.ends_with("HTTP/1.0");
        let mut close = http10;
        let mut body_len = 0usize;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("connection") {
                if value.eq_ignore_ascii_case("close") {
                    close = true;
                } else if value.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            } else if name.eq_ignore_ascii_case("content-length") {
                body_len = value.parse().unwrap_or(0);
            }
        }
        // Skip a request body (read it so closing does not reset the connection).
        buf.drain(..head_end);
        while buf.len() < body_len {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..body_len);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{BODY}",
            BODY.len(),
            if close { "close" } else { "keep-alive" }
        );
        if stream.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}
