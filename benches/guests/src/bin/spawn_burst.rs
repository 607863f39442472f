//! A burst of N linked processes spawned at once (a fan-out, or connections
//! arriving together): the parent spawns them all, each sends one message
//! back and ends, and the parent waits for every message. Prints the time
//! per process from the first spawn to the last message.
use lunatic::{Mailbox, Process};
use std::time::Instant;

fn child(parent: Process<u32>, _: Mailbox<()>) {
    parent.send(1);
}

fn burst(mailbox: &Mailbox<u32>, n: u32) {
    let me = mailbox.this();
    for _ in 0..n {
        Process::spawn_link(me.clone(), child);
    }
    let mut got = 0;
    for _ in 0..n {
        got += mailbox.receive();
    }
    assert_eq!(got, n);
}

#[lunatic::main]
fn main(mailbox: Mailbox<u32>) {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    burst(&mailbox, 100); // load the module's code and warm caches
    let start = Instant::now();
    burst(&mailbox, n);
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("spawn_burst_us {us:.2}");
}
