//! Throughput under preemption: `crunch [WORKERS] [ITERATIONS]` spawns
//! WORKERS processes (default 8) that each run the same integer loop and
//! report back; prints the wall time until all are done. With more workers
//! than cores every slice boundary is a real switch, so this shows what a
//! smaller fuel slice costs.
use lunatic::{Mailbox, Process};
use std::time::Instant;

fn work((parent, iterations): (Process<u64>, u64), _: Mailbox<()>) {
    let mut x = 0u64;
    for i in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    parent.send(x);
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let mut args = std::env::args().skip(1);
    let workers: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let iterations: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000_000);
    let start = Instant::now();
    for _ in 0..workers {
        Process::spawn((mailbox.this(), iterations), work);
    }
    let mut results = Vec::new();
    for _ in 0..workers {
        results.push(mailbox.receive());
    }
    // Every worker computed the same value.
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    println!("crunch_s {:.4}", start.elapsed().as_secs_f64());
}
