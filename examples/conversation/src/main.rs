//! A program that talks to the outside world, for `--record` / `--replay`:
//! a TCP server process and a client (the main process) hold a short
//! conversation over loopback. Everything either side learns from outside
//! is printed: the line read from stdin, the DNS answer, the connection's
//! ports, the bytes exchanged, the clocks and random numbers. The server
//! takes 20 ms to answer, so the client's first read (5 ms timeout) times
//! out: timeouts and time spent waiting for the network are replayed too.
//!
//! Usage: `echo hi | lunatic run --record talk.log conversation.wasm`, then
//! `lunatic run --replay talk.log conversation.wasm` prints the same without
//! any network (and without reading stdin).

use lunatic::net::{resolve, TcpListener, TcpStream};
use lunatic::{Mailbox, Process};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A random number (from WASI `random_get`, through std's hash seeds).
fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

fn read_line(stream: &TcpStream) -> String {
    let mut line = String::new();
    BufReader::new(stream.clone()).read_line(&mut line).expect("read a line");
    line.trim_end().to_string()
}

/// Listens on an ephemeral port, tells `parent` which, answers one client.
fn server(parent: Process<u16>, _: Mailbox<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    parent.send(listener.local_addr().expect("local address").port());
    let (mut stream, peer) = listener.accept().expect("accept");
    println!("server: accepted a connection from {peer}");
    let request = read_line(&stream);
    println!("server: received {request:?}");
    // Think a little: the client's first, impatient read times out.
    lunatic::sleep(Duration::from_millis(20));
    let reply = format!("{} (token {:016x})\n", request.to_uppercase(), random());
    stream.write_all(reply.as_bytes()).expect("write the reply");
    stream.flush().expect("flush");
}

#[lunatic::main]
fn main(mailbox: Mailbox<u16>) {
    let started = Instant::now();
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let mut input = String::new();
    std::io::stdin().read_line(&mut input).expect("read stdin");
    let input = input.trim_end();
    println!("client: stdin said {input:?}");

    Process::spawn(mailbox.this(), server);
    let port = mailbox.receive();
    let addr = resolve(&format!("localhost:{port}"))
        .expect("resolve localhost")
        .find(|addr| addr.is_ipv4())
        .expect("localhost has an IPv4 address");
    println!("client: localhost:{port} resolved to {addr}");
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!("hello from the client, who read {input:?}\n");
    stream.write_all(request.as_bytes()).expect("write the request");
    stream.flush().expect("flush");
    println!("client: sent {:?}", request.trim_end());
    stream.set_peek_timeout(Some(Duration::from_millis(5))).expect("set a peek timeout");
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(_) => println!("client: the reply came within 5 ms"),
        Err(e) => println!("client: no reply within 5 ms ({:?})", e.kind()),
    }
    stream.set_peek_timeout(None).expect("clear the peek timeout");
    let reply = read_line(&stream);
    println!("client: received {reply:?}");
    println!("client: random number {:016x}", random());
    println!("client: wall clock at start {wall} ns since the epoch");
    println!("client: the conversation took {} ns", started.elapsed().as_nanos());
}
