//! A TLS conversation for `--record` / `--replay` (spec-tests/replay/run):
//! the main process listens with TLS on 127.0.0.1 (an ephemeral port),
//! accepts one connection and moves the stream to a handler process in a
//! message; a client process connects, trusting the certificate it was
//! given, and they exchange four messages each way. Every message depends
//! on the one received before it, so a changed answer in a recording
//! changes the next write. The handler takes 20 ms to answer the first
//! message, so the client's first read (5 ms timeout) times out. Everything
//! learned from outside (ports, messages, the timeout) is printed.
//!
//! The certificate and its key (PEM) come from the environment variables
//! `REPLAY_TLS_CERT` and `REPLAY_TLS_KEY` (a recording holds the
//! environment, so a replay needs neither them nor any file).

use lunatic::net::{TlsListener, TlsStream};
use lunatic::{Mailbox, Process};
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

const MESSAGES: usize = 4;

fn pem(var: &str) -> Vec<u8> {
    match std::env::var(var) {
        Ok(text) if !text.is_empty() => text.into_bytes(),
        _ => {
            eprintln!("set {var} to a PEM text (see the module's documentation)");
            std::process::exit(2);
        }
    }
}

/// One line without its end; `None` at the end of the stream.
fn read_line(reader: &mut BufReader<TlsStream>) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line).expect("read a line") {
        0 => None,
        _ => Some(line.trim_end().to_string()),
    }
}

fn send(writer: &mut TlsStream, line: &str) {
    writer.write_all(format!("{line}\n").as_bytes()).expect("write a line");
    writer.flush().expect("flush");
}

/// Answers each line until the client closes the stream.
fn handler(main: Process<String>, mailbox: Mailbox<TlsStream>) {
    let stream = mailbox.receive();
    let mut writer = stream.clone();
    let mut reader = BufReader::new(stream);
    let mut count = 0;
    while let Some(line) = read_line(&mut reader) {
        count += 1;
        println!("server: received {line:?}");
        if count == 1 {
            // Think a little: the client's first, impatient read times out.
            lunatic::sleep(Duration::from_millis(20));
        }
        send(&mut writer, &format!("pong {count} ({} bytes) to: {line}", line.len()));
    }
    main.send(format!("server: answered {count} messages, then the stream ended"));
}

fn client((main, port, ca): (Process<String>, u16, Vec<u8>), _: Mailbox<()>) {
    let stream =
        TlsStream::connect_timeout("127.0.0.1", Duration::from_secs(10), port as u32, vec![ca])
            .expect("TLS connect to 127.0.0.1");
    let mut writer = stream.clone();
    let mut reader = BufReader::new(stream);
    let mut last = "nothing yet".to_string();
    for i in 1..=MESSAGES {
        send(&mut writer, &format!("ping {i} after: {last}"));
        if i == 1 {
            reader.get_mut().set_read_timeout(Some(Duration::from_millis(5))).unwrap();
            match reader.fill_buf() {
                Ok(_) => println!("client: the first answer came within 5 ms"),
                Err(e) => println!("client: no answer within 5 ms ({:?})", e.kind()),
            }
            reader.get_mut().set_read_timeout(None).unwrap();
        }
        last = read_line(&mut reader).expect("an answer");
        println!("client: received {last:?}");
    }
    // The last handles: the handler sees a clean end of the stream.
    drop(writer);
    drop(reader);
    main.send(format!("client: done after {MESSAGES} answers"));
}

#[lunatic::main]
fn main(mailbox: Mailbox<String>) {
    let cert = pem("REPLAY_TLS_CERT");
    let key = pem("REPLAY_TLS_KEY");
    let listener = TlsListener::bind("127.0.0.1:0", cert.clone(), key).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    println!("main: listening with TLS on 127.0.0.1:{port}");
    // Linked: if the client fails (no network), the main process ends too
    // instead of waiting for a connection for ever.
    Process::spawn_link((mailbox.this(), port, cert), client);
    let (stream, peer) = listener.accept().expect("accept");
    println!("main: accepted a TLS connection from {peer}, moving it to a handler");
    Process::spawn_link(mailbox.this(), handler).send(stream);
    let mut reports = [mailbox.receive(), mailbox.receive()];
    reports.sort();
    for report in reports {
        println!("{report}");
    }
}
