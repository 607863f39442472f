//! TLS with the `lunatic` crate: a listener with a certificate from the
//! guest, one process per connection, clients trusting that certificate
//! (guest-given CA), a client with the default roots, a plain-TCP client and
//! a silent one: failed handshakes are errors for the clients, while the
//! server's handshakes run host-side, so `accept` never sees the bad clients
//! and serves the good one.

use std::io::{Read, Write};
use std::time::Duration;

use lunatic::net::{TcpStream, TlsListener, TlsStream};
use lunatic::{Mailbox, Process};

#[path = "../test_cert.rs"]
mod test_cert;
use test_cert::{CERT, KEY};

fn handler(main: Process<String>, mailbox: Mailbox<TlsStream>) {
    let mut reader = mailbox.receive();
    let mut writer = reader.clone();
    let mut buf = [0u8; 256];
    let mut total = 0;
    let end = loop {
        match reader.read(&mut buf) {
            Ok(0) => break "end of stream".to_string(),
            Ok(n) => {
                total += n;
                writer.write_all(&buf[..n]).expect("handler write");
                writer.flush().expect("handler flush");
            }
            Err(e) => break format!("error {e}"),
        }
    };
    main.send(format!("handler: echoed {total} bytes, then {end}"));
}

fn good_client((main, port): (Process<String>, u32), _: Mailbox<()>) {
    let certs = vec![CERT.as_bytes().to_vec()];
    let mut stream =
        TlsStream::connect_timeout("localhost", Duration::from_secs(5), port, certs).expect("connect");
    stream.write_all(b"hello over TLS\n").unwrap();
    stream.flush().unwrap();
    let mut echo = vec![0u8; 15];
    stream.read_exact(&mut echo).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut buf = [0u8; 8];
    let timed_out = stream.read(&mut buf).is_err();
    main.send(format!(
        "client with the guest CA: echo {:?}, idle read timed out {timed_out}",
        String::from_utf8_lossy(&echo)
    ));
}

fn default_roots_client((main, port): (Process<String>, u32), _: Mailbox<()>) {
    let text = match TlsStream::connect("localhost", port) {
        Ok(_) => "connected?".to_string(),
        Err(e) => format!("error mentions the unknown issuer: {}", e.to_string().contains("UnknownIssuer")),
    };
    main.send(format!("client with the default roots: {text}"));
}

fn plain_client((main, port): (Process<String>, u32), _: Mailbox<()>) {
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    // A TLS alert record: content type 21.
    main.send(format!("plain TCP client: answered with an alert {}", answer.first() == Some(&21)));
}

/// Connects, never speaks, and stays connected for the rest of the run.
fn silent_client((main, port): (Process<String>, u32), mailbox: Mailbox<()>) {
    let _stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    main.send("silent client: connected".to_string());
    mailbox.receive();
}

#[lunatic::main]
fn main(mailbox: Mailbox<String>) {
    let listener =
        TlsListener::bind("127.0.0.1:0", CERT.as_bytes().to_vec(), KEY.as_bytes().to_vec()).expect("bind");
    let port = listener.local_addr().unwrap().port() as u32;
    // Bad clients first, each to its end, before anyone accepts: the
    // handshakes run host-side from bind on.
    let bad: [fn((Process<String>, u32), Mailbox<()>); 3] =
        [silent_client, default_roots_client, plain_client];
    for client in bad {
        Process::spawn((mailbox.this(), port), client);
        println!("{}", mailbox.receive());
    }
    Process::spawn((mailbox.this(), port), good_client);
    match listener.accept() {
        Ok((stream, _peer)) => {
            println!("accept: ok");
            Process::spawn(mailbox.this(), handler).send(stream);
            // The handler's and the client's reports, in a fixed order.
            let mut two = [mailbox.receive(), mailbox.receive()];
            two.sort();
            println!("{}\n{}", two[0], two[1]);
        }
        Err(e) => println!("accept failed: {e}"),
    }
}
