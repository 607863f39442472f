//! Spawn a tiny process and wait until it has run, N times in a row.
use lunatic::{Mailbox, Process};
use std::time::Instant;

#[lunatic::main]
fn main(mailbox: Mailbox<()>) {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let me = mailbox.this();
    let run = |count: u32| {
        for _ in 0..count {
            Process::spawn(me.clone(), |parent: Process<()>, _: Mailbox<()>| parent.send(()));
            mailbox.receive();
        }
    };
    run(n / 10 + 1); // warm up allocator and caches
    let start = Instant::now();
    run(n);
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("spawn_join_us {us:.2}");
}
