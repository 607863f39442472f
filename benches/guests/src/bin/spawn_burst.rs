//! A burst of N linked processes spawned at once (a fan-out, or connections
//! arriving together): the parent spawns them all, each sends one message
//! back, and the parent waits for every message. Prints the time per process
//! from the first spawn to the last message.
//!
//! `spawn_burst N alive`: each child then waits until the parent has heard
//! from all N, so all N are alive at the same time (N fresh linear memories).
use lunatic::{Mailbox, Process};
use std::time::Instant;

fn child(parent: Process<u32>, _: Mailbox<()>) {
    parent.send(1);
}

fn waiting_child(parent: Process<u32>, mailbox: Mailbox<()>) {
    parent.send(1);
    mailbox.receive();
}

fn burst(mailbox: &Mailbox<u32>, n: u32, alive: bool) -> f64 {
    let me = mailbox.this();
    let entry = if alive { waiting_child } else { child };
    let start = Instant::now();
    let children: Vec<Process<()>> = (0..n).map(|_| Process::spawn_link(me.clone(), entry)).collect();
    let mut running = 0;
    for _ in 0..n {
        running += mailbox.receive();
    }
    assert_eq!(running, n);
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    if alive {
        for child in &children {
            child.send(());
        }
    }
    us
}

#[lunatic::main]
fn main(mailbox: Mailbox<u32>) {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let alive = std::env::args().nth(2).is_some_and(|a| a == "alive");
    burst(&mailbox, 100, alive); // load the module's code and warm caches
    println!("spawn_burst_us {:.2}", burst(&mailbox, n, alive));
}
