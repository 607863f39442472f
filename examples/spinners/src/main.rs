//! Preemption: a few processes spin in `loop {}` forever and never call the
//! host, yet the main process still gets its work done and exits cleanly.
//!
//! Usage: `spinners [SPINNERS] [JOBS]` (defaults: 4 spinners, 20 jobs).

// Busy loops that never call the host are the point of the spinners.
#![allow(clippy::empty_loop)]

use std::time::Instant;

use lunatic::{Mailbox, Process};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
enum Job {
    /// Count the primes below the limit and answer to `reply_to`.
    CountPrimes {
        below: u32,
        reply_to: Process<Answer>,
    },
}

#[derive(Serialize, Deserialize)]
struct Answer {
    below: u32,
    primes: u32,
}

fn count_primes(below: u32) -> u32 {
    (2..below)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u32
}

fn worker(_: (), mailbox: Mailbox<Job>) {
    loop {
        let Job::CountPrimes { below, reply_to } = mailbox.receive();
        reply_to.send(Answer {
            below,
            primes: count_primes(below),
        });
    }
}

fn arg(args: &[String], index: usize, default: u32) -> u32 {
    args.get(index)
        .map(|text| {
            text.parse().unwrap_or_else(|_| {
                eprintln!("usage: spinners [SPINNERS] [JOBS]");
                std::process::exit(2);
            })
        })
        .unwrap_or(default)
}

#[lunatic::main]
fn main(mailbox: Mailbox<Answer>) {
    let args: Vec<String> = std::env::args().collect();
    let spinner_count = arg(&args, 1, 4);
    let jobs = arg(&args, 2, 20);
    let start = Instant::now();

    let spinners: Vec<Process<()>> = (0..spinner_count)
        .map(|_| Process::spawn((), |_, _: Mailbox<()>| loop {}))
        .collect();
    println!("started {spinner_count} processes spinning in `loop {{}}`");

    let workers: Vec<Process<Job>> = (0..2).map(|_| Process::spawn((), worker)).collect();
    for job in 0..jobs {
        let below = 1_000 + job * 500;
        workers[job as usize % workers.len()].send(Job::CountPrimes {
            below,
            reply_to: mailbox.this(),
        });
    }
    let mut answers: Vec<Answer> = (0..jobs).map(|_| mailbox.receive()).collect();
    answers.sort_by_key(|a| a.below);
    for answer in &answers {
        println!("{:>6} primes below {}", answer.primes, answer.below);
    }

    let alive = spinners.iter().filter(|p| p.is_alive()).count();
    println!(
        "done in {:.2?} while {alive} of {spinner_count} spinners were still spinning; exiting",
        start.elapsed()
    );
}
