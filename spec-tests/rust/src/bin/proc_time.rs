//! Time with lunatic processes: `lunatic::sleep`, `send_after` timers,
//! receive timeouts (these guests also use WASI clocks through `Instant`).
//!
//! Usage: `proc_time.wasm sleep|timer`; see `spec-tests/cases/process/`.

use std::time::{Duration, Instant};

use lunatic::{Mailbox, Process};

fn mailbox<M>() -> Mailbox<M>
where
    M: serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    // The root process has exactly one mailbox type per scenario.
    unsafe { Mailbox::new() }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "sleep" => sleep(),
        "timer" => timer(),
        other => {
            eprintln!("proc_time: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// `lunatic::sleep` suspends only the caller.
fn sleep() {
    let m = mailbox::<u32>();
    let start = Instant::now();
    Process::spawn(m.this(), |parent: Process<u32>, _: Mailbox<()>| {
        for i in 0..5 {
            parent.send(i);
        }
    });
    lunatic::sleep(Duration::from_millis(200));
    let elapsed = start.elapsed();
    println!(
        "slept at least 200ms: {}",
        elapsed >= Duration::from_millis(200)
    );
    println!("slept less than 5s: {}", elapsed < Duration::from_secs(5));
    let mut got = Vec::new();
    while let Ok(x) = m.receive_timeout(Duration::ZERO) {
        got.push(x);
    }
    println!("received while sleeping: {got:?}");
}

/// `send_after`, `receive_timeout`, cancelling a timer.
fn timer() {
    let m = mailbox::<String>();
    let this = m.this();
    let start = Instant::now();
    this.send_after("delayed".to_string(), Duration::from_millis(100));
    match m.receive_timeout(Duration::from_millis(10)) {
        Err(e) if e.is_timed_out() => println!("nothing before the delay: timed out"),
        Err(e) => println!("unexpected error {e:?}"),
        Ok(msg) => println!("too early: {msg}"),
    }
    println!("after the delay: {}", m.receive());
    println!(
        "delay respected: {}",
        start.elapsed() >= Duration::from_millis(100)
    );
    let timer = this.send_after("cancelled".to_string(), Duration::from_millis(50));
    println!("cancel returned: {}", timer.cancel());
    match m.receive_timeout(Duration::from_millis(150)) {
        Err(e) if e.is_timed_out() => println!("cancelled message never arrived"),
        Err(e) => println!("unexpected error {e:?}"),
        Ok(msg) => println!("cancelled message arrived anyway: {msg}"),
    }
}
