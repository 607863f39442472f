//! A real race: two workers increment a counter held by a registered
//! process, each with a read-then-write protocol (get the value, then set
//! value + 1). When their requests interleave, an update is lost.
//!
//! Usage: `race [increments per worker]` (default 3). Exits 0 when no update
//! was lost, 1 when one was: under `--deterministic=SEED` the outcome depends
//! only on the seed, so `lunatic run --seeds 0..1000 race.wasm` finds a
//! losing seed and replays it at will.

use lunatic::{Mailbox, Process};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Request {
    Get(Process<u64>),
    Set(u64),
}

/// Holds the counter; registered as "counter".
fn counter(_: (), mailbox: Mailbox<Request>) {
    let mut value = 0;
    loop {
        match mailbox.receive() {
            Request::Get(reply) => reply.send(value),
            Request::Set(new) => value = new,
        }
    }
}

/// Does `n` rounds of work, each followed by one read-then-write increment
/// of the counter, then reports done. The window between read and write is
/// short, so the two workers only sometimes collide: it depends on where
/// preemption cuts their work.
fn worker((main, n, work): (Process<u64>, u64, u64), mailbox: Mailbox<u64>) {
    let counter = Process::<Request>::lookup(&"counter").expect("counter is registered");
    for _ in 0..n {
        let mut spin = 0u64;
        for i in 0..work {
            spin = std::hint::black_box(spin ^ i.wrapping_mul(31));
        }
        counter.send(Request::Get(mailbox.this()));
        let value = mailbox.receive();
        counter.send(Request::Set(value + 1));
    }
    main.send(n);
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let counter = Process::spawn((), counter);
    counter.register(&"counter");
    for work in [40_000, 55_000] {
        Process::spawn((mailbox.this(), n, work), worker);
    }
    mailbox.receive();
    mailbox.receive();
    // Ask for the final value (the counter handles messages in order, so all
    // Sets sent before the workers reported are applied).
    let probe = Process::<Request>::lookup(&"counter").unwrap();
    probe.send(Request::Get(mailbox.this()));
    let total = mailbox.receive();
    if total == 2 * n {
        println!("counter = {total}: no update lost");
    } else {
        println!("counter = {total}: {} updates lost", 2 * n - total);
        std::process::exit(1);
    }
}
