//! TCP with the `lunatic` crate: an echo server with one process per
//! connection (each accepted stream travels to its handler in a message and
//! is cloned there), clients in their own processes using connect with a
//! timeout, peek and a read timeout. Loopback only; prints a fixed report.

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use lunatic::net::{TcpListener, TcpStream};
use lunatic::{Mailbox, Process};

const CLIENTS: usize = 3;

fn handler(main: Process<String>, mailbox: Mailbox<TcpStream>) {
    let mut reader = mailbox.receive();
    let mut writer = reader.clone();
    let mut buf = [0u8; 256];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).expect("handler read");
        if n == 0 {
            break;
        }
        total += n;
        writer.write_all(&buf[..n]).expect("handler write");
    }
    main.send(format!("handler: echoed {total} bytes"));
}

fn client((main, addr, index): (Process<String>, String, usize), _: Mailbox<()>) {
    let mut stream = TcpStream::connect_timeout(addr.as_str(), Duration::from_secs(5)).expect("connect");
    let line = format!("line from client {index}\n");
    stream.write_all(line.as_bytes()).expect("client write");
    stream.set_peek_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let mut peeked = 0;
    for _ in 0..500 {
        peeked = stream.peek(&mut buf).expect("peek");
        if peeked >= line.len() {
            break;
        }
        lunatic::sleep(Duration::from_millis(2));
    }
    let mut echo = vec![0u8; line.len()];
    stream.read_exact(&mut echo).expect("read echo");
    stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let timed_out = matches!(stream.read(&mut buf), Err(e) if e.kind() == ErrorKind::TimedOut);
    main.send(format!(
        "client {index}: peeked whole line {}, echo matches {}, idle read timed out {timed_out}",
        peeked == line.len(),
        echo == line.as_bytes()
    ));
}

#[lunatic::main]
fn main(mailbox: Mailbox<String>) {
    match TcpStream::connect("127.0.0.1:1") {
        Ok(_) => println!("port 1: connected?"),
        Err(e) => println!("port 1: refused {}", e.to_string().contains("refused")),
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    for index in 0..CLIENTS {
        Process::spawn((mailbox.this(), addr.clone(), index), client);
    }
    for _ in 0..CLIENTS {
        let (stream, peer) = listener.accept().expect("accept");
        assert!(peer.ip().is_loopback());
        let handler = Process::spawn(mailbox.this(), handler);
        handler.send(stream);
    }
    let mut report: Vec<String> = (0..2 * CLIENTS).map(|_| mailbox.receive()).collect();
    report.sort();
    for line in report {
        println!("{line}");
    }
}
