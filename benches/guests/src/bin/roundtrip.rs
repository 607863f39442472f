//! Message round trips between two processes.
use lunatic::{Mailbox, Process};
use std::time::Instant;

fn echo(parent: Process<u64>, mailbox: Mailbox<u64>) {
    loop {
        parent.send(mailbox.receive());
    }
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let pong = Process::spawn(mailbox.this(), echo);
    for i in 0..n / 10 {
        pong.send(i);
        mailbox.receive();
    }
    let start = Instant::now();
    for i in 0..n {
        pong.send(i);
        assert_eq!(mailbox.receive(), i);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("roundtrip_us {us:.3}");
}
