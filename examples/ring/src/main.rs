//! A ring of N processes passes a token around M times.
//!
//! Usage: `ring [N] [M]` (defaults: 10000 processes, 10 rounds).
//! Every hop is one message between two processes, so the ring measures
//! spawn cost and message-passing throughput of the runtime.

use std::time::{Duration, Instant};

use lunatic::{Mailbox, Process};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Msg {
    /// Tells a ring member who comes after it.
    Next(Process<Msg>),
    /// The token, with the number of hops still to go.
    Token(u64),
    /// Sent to the main process when the last hop is done.
    Done { last: u64 },
}

fn member((main, index): (Process<Msg>, u64), mailbox: Mailbox<Msg>) {
    let next = match mailbox.receive() {
        Msg::Next(next) => next,
        _ => panic!("ring member {index}: expected its neighbour first"),
    };
    loop {
        match mailbox.receive() {
            Msg::Token(0) => main.send(Msg::Done { last: index }),
            Msg::Token(hops) => next.send(Msg::Token(hops - 1)),
            _ => panic!("ring member {index}: unexpected message"),
        }
    }
}

fn rate(count: u64, time: Duration) -> String {
    let secs = time.as_secs_f64();
    if secs > 0.0 {
        format!("{:.0}/s", count as f64 / secs)
    } else {
        "n/a".to_string()
    }
}

fn arg(args: &[String], index: usize, default: u64, name: &str) -> u64 {
    match args.get(index) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("usage: ring [N] [M]: {name} must be a positive integer, got {text:?}");
            std::process::exit(2);
        }),
    }
}

#[lunatic::main]
fn main(mailbox: Mailbox<Msg>) {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, 1, 10_000, "N").max(1);
    let m = arg(&args, 2, 10, "M");

    let start = Instant::now();
    let members: Vec<Process<Msg>> = (0..n)
        .map(|index| Process::spawn((mailbox.this(), index), member))
        .collect();
    for (index, process) in members.iter().enumerate() {
        let next = members[(index + 1) % members.len()];
        process.send(Msg::Next(next));
    }
    let spawned = start.elapsed();
    println!(
        "spawned a ring of {n} processes in {spawned:.2?} ({})",
        rate(n, spawned)
    );

    let hops = n * m;
    let start = Instant::now();
    members[0].send(Msg::Token(hops));
    let last = match mailbox.receive() {
        Msg::Done { last } => last,
        _ => panic!("main: unexpected message"),
    };
    let passed = start.elapsed();
    println!(
        "the token went {m} times around the ring: {hops} hops in {passed:.2?} ({} messages), \
         it stopped at member {last}",
        rate(hops, passed)
    );
}
