//! Distributed benchmarks (run with `lunatic node ... --wasm`): round trips,
//! one-way throughput and spawn + reply, to a process on another node
//! (`remote`) or on this one (`local`, the same work for comparison).
//! Prints `name value` lines, then `done`. Arguments (a reference node
//! cannot pass any: the defaults): `remote|local ROUNDS MESSAGES`. The
//! one-way row runs last: the reference's sender gets stuck in it.
use lunatic::{distributed, host::node_id, Mailbox, Process};
use std::time::{Duration, Instant};

fn echo(parent: Process<u64>, mailbox: Mailbox<u64>) {
    loop {
        parent.send(mailbox.receive());
    }
}

/// Receives `n` numbers, checks they come 0, 1, 2... and reports how many
/// were in order.
fn sink((parent, n): (Process<u64>, u64), mailbox: Mailbox<u64>) {
    let mut in_order = 0;
    for i in 0..n {
        if mailbox.receive() == i {
            in_order += 1;
        }
    }
    parent.send(in_order);
}

fn report(parent: Process<u64>, _: Mailbox<()>) {
    parent.send(7);
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[lunatic::main]
fn main(mailbox: Mailbox<u64>) {
    let remote = std::env::args().nth(1).as_deref() != Some("local");
    let rounds: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let messages: u64 = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let me = node_id();
    let target = if remote {
        let mut waited = 0;
        loop {
            if let Some(n) = distributed::nodes().into_iter().find(|&n| n != me) {
                break n;
            }
            waited += 1;
            assert!(waited < 200, "no other node");
            lunatic::sleep(Duration::from_millis(50));
        }
    } else {
        me
    };
    println!("target {target}");
    let this = mailbox.this();
    // Round trips.
    let pong = if remote { Process::spawn_node(target, this.clone(), echo) } else { Process::spawn(this.clone(), echo) };
    for i in 0..rounds / 10 {
        pong.send(i);
        mailbox.receive();
    }
    println!("warm");
    let mut times = Vec::with_capacity(rounds as usize);
    for i in 0..rounds {
        let start = Instant::now();
        pong.send(i);
        assert_eq!(mailbox.receive(), i);
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    println!("roundtrip_median_us {:.1}", percentile(&times, 0.5));
    println!("roundtrip_p99_us {:.1}", percentile(&times, 0.99));
    // Spawn + reply.
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let start = Instant::now();
        let _child: Process<()> =
            if remote { Process::spawn_node(target, this.clone(), report) } else { Process::spawn(this.clone(), report) };
        assert_eq!(mailbox.receive(), 7);
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    println!("spawn_reply_median_us {:.1}", percentile(&times, 0.5));
    // One way, in order.
    let sink = if remote {
        Process::spawn_node(target, (this.clone(), messages), sink)
    } else {
        Process::spawn((this.clone(), messages), sink)
    };
    let start = Instant::now();
    for i in 0..messages {
        sink.send(i);
    }
    let in_order = mailbox.receive();
    let secs = start.elapsed().as_secs_f64();
    println!("oneway_in_order {in_order}");
    println!("oneway_msgs_per_s {:.0}", messages as f64 / secs);
    println!("done");
}
