//! N processes alive at once, each parked in `receive`; then all answer one
//! message and the program exits. Peak RSS / N is the per-process cost.
use lunatic::{Mailbox, Process};
use std::time::Instant;

fn idle(parent: Process<u64>, mailbox: Mailbox<u64>) {
    let x = mailbox.receive();
    parent.send(x);
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let start = Instant::now();
    let children: Vec<Process<u64>> = (0..n).map(|_| Process::spawn(mailbox.this(), idle)).collect();
    let spawned = start.elapsed();
    // Let every process reach its `receive` and settle there.
    lunatic::sleep(std::time::Duration::from_millis(1500));
    for (i, child) in children.iter().enumerate() {
        child.send(i as u64);
    }
    let mut sum = 0;
    for _ in 0..n {
        sum += mailbox.receive();
    }
    assert_eq!(sum, n * (n - 1) / 2);
    println!("idle_processes {n}");
    println!("idle_spawn_us {:.2}", spawned.as_secs_f64() * 1e6 / n as f64);
}
