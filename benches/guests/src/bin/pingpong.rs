//! Ping-pong latency while other processes spin in `loop {}`.
use lunatic::{Mailbox, Process};
use std::time::{Duration, Instant};

fn spin(_: (), _: Mailbox<()>) {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn echo(parent: Process<u64>, mailbox: Mailbox<u64>) {
    loop {
        parent.send(mailbox.receive());
    }
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let spinners: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    for _ in 0..spinners {
        Process::spawn((), spin);
    }
    let pong = Process::spawn(mailbox.this(), echo);
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds as u64 {
        let start = Instant::now();
        pong.send(i);
        mailbox.receive();
        samples.push(start.elapsed());
        lunatic::sleep(Duration::from_millis(1));
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!("pingpong_p50_us {:.1}", pct(0.50));
    println!("pingpong_p99_us {:.1}", pct(0.99));
    // The spinners never end: the program ends with its first process.
}
