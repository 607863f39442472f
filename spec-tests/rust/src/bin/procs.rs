//! Processes and messages through the published `lunatic` 0.14.1 crate: the
//! success paths (spawning, links that end normally, many processes,
//! preemption of busy processes, registry, selective receive). Scenarios that
//! need clocks are in `proc_time`.
//!
//! Usage: `procs.wasm <scenario> [args...]`; see `spec-tests/cases/process/`.
//!
//! Output is printed only by the root process, or by a child at a point where
//! the root is provably waiting for it, so stdout is deterministic.

// Busy loops that never call the host are the point of the spinners.
#![allow(clippy::empty_loop)]

use std::time::Duration;

use lunatic::host::process_id;
use lunatic::{Mailbox, MessageSignal, Process, ProcessDiedSignal, Tag};

fn mailbox<M>() -> Mailbox<M>
where
    M: serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    // The root process has exactly one mailbox type per scenario.
    unsafe { Mailbox::new() }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map(|s| s.parse().expect("number"))
            .unwrap_or(default)
    };
    match args.get(1).map(String::as_str).unwrap_or("") {
        "spawn" => spawn(),
        "link-ok" => link_ok(),
        "many" => many(arg(2, 2000)),
        "chain" => chain(arg(2, 1000)),
        "spinners" => spinners(arg(2, 3)),
        "exit-child" => exit_child(),
        "monitor" => monitor(),
        "kill" => kill(),
        "registry" => registry(),
        "tags" => tags(),
        "catch-panic" => catch_panic(),
        "return-with-children" => return_with_children(),
        other => {
            eprintln!("procs: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// Spawn a child, send it a message, get an answer back.
fn spawn() {
    let m = mailbox::<String>();
    println!("root process id: {}", process_id());
    let child = Process::spawn(m.this(), |parent: Process<String>, mb: Mailbox<String>| {
        let text = mb.receive();
        parent.send(format!("child {} got {text:?}", process_id()));
    });
    println!("child process id: {}", child.id());
    child.send("ping".to_string());
    println!("{}", m.receive());
}

/// A linked child that finishes normally does not affect the parent.
fn link_ok() {
    let m = mailbox::<u32>();
    Process::spawn_link(m.this(), |parent: Process<u32>, _: Mailbox<()>| {
        parent.send(7);
    });
    println!("linked child sent {}", m.receive());
    // Give a (wrong) link-death signal time to arrive.
    lunatic::sleep(Duration::from_millis(50));
    println!("parent still alive");
}

/// Fan out to `n` short-lived processes and sum what they send back.
fn many(n: u64) {
    let m = mailbox::<u64>();
    for i in 1..=n {
        Process::spawn(
            (m.this(), i),
            |(parent, i): (Process<u64>, u64), _: Mailbox<()>| {
                parent.send(i * i);
            },
        );
    }
    let mut sum = 0u64;
    for _ in 0..n {
        sum += m.receive();
    }
    println!("{n} processes, sum of squares = {sum}");
    println!("expected = {}", n * (n + 1) * (2 * n + 1) / 6);
}

/// A chain of `n` live processes; a token travels down the chain, each
/// process adding its position.
fn chain(n: u64) {
    let m = mailbox::<u64>();
    // Build from the end: the last process reports to the root.
    let mut next: Process<u64> = m.this();
    for pos in (1..=n).rev() {
        next = Process::spawn(
            (next, pos),
            |(next, pos): (Process<u64>, u64), mb: Mailbox<u64>| {
                let token = mb.receive();
                next.send(token + pos);
            },
        );
    }
    next.send(0);
    println!("{n} chained processes, token = {}", m.receive());
    println!("expected = {}", n * (n + 1) / 2);
}

/// Busy processes that never call the host must not starve the others.
fn spinners(count: u64) {
    let m = mailbox::<u64>();
    for _ in 0..count {
        Process::spawn((), |_, _: Mailbox<()>| loop {});
    }
    let worker = Process::spawn(m.this(), |parent: Process<u64>, mb: Mailbox<u64>| loop {
        let x = mb.receive();
        parent.send(x + 1);
    });
    let mut x = 0;
    for _ in 0..200 {
        worker.send(x);
        x = m.receive();
    }
    println!("{count} spinners running, ping-pong result = {x}");
    println!("main returns");
}

/// `std::process::exit` in a child ends only that child.
fn exit_child() {
    let m = mailbox::<String>().monitorable();
    let child = Process::spawn(m.this(), |parent: Process<String>, mb: Mailbox<()>| {
        mb.receive();
        parent.send("child exiting with 5".to_string());
        std::process::exit(5);
    });
    m.monitor(child);
    child.send(());
    match m.receive() {
        MessageSignal::Message(text) => println!("{text}"),
        MessageSignal::Signal(_) => println!("died before sending"),
    }
    match m.receive() {
        MessageSignal::Signal(ProcessDiedSignal(id)) => {
            println!("child ended, id matches: {}", id == child.id())
        }
        MessageSignal::Message(text) => println!("unexpected message {text}"),
    }
    println!("root still running");
}

/// Monitoring a child that returns normally yields a process-died signal.
fn monitor() {
    let m = mailbox::<()>().monitorable();
    let child = Process::spawn((), |_, mb: Mailbox<()>| {
        mb.receive();
    });
    m.monitor(child);
    println!("child alive before: {}", child.is_alive());
    child.send(());
    match m.receive() {
        MessageSignal::Signal(ProcessDiedSignal(id)) => {
            println!("process died signal, id matches: {}", id == child.id())
        }
        MessageSignal::Message(()) => println!("unexpected message"),
    }
    println!("child alive after: {}", child.is_alive());
}

/// Killing a busy process.
fn kill() {
    let m = mailbox::<()>().monitorable();
    let spinner = Process::spawn((), |_, _: Mailbox<()>| loop {});
    m.monitor(spinner);
    lunatic::sleep(Duration::from_millis(20));
    println!("spinner alive: {}", spinner.is_alive());
    spinner.kill();
    match m.receive() {
        MessageSignal::Signal(ProcessDiedSignal(id)) => {
            println!("spinner killed, id matches: {}", id == spinner.id())
        }
        MessageSignal::Message(()) => println!("unexpected message"),
    }
    println!("spinner alive after kill: {}", spinner.is_alive());
}

/// Register the root under a name; a child looks it up and answers.
fn registry() {
    let m = mailbox::<String>();
    m.this().register(&"spec-root");
    Process::spawn((), |_, _: Mailbox<()>| {
        let root = Process::<String>::lookup(&"spec-root").expect("lookup spec-root");
        root.send(format!("found root as process {}", root.id()));
        let missing = Process::<String>::lookup(&"no-such-name");
        root.send(format!("lookup of a missing name: {}", missing.is_none()));
    });
    println!("{}", m.receive());
    println!("{}", m.receive());
}

/// Selective receive by tag; untagged messages never match a tag filter.
fn tags() {
    let m = mailbox::<String>();
    let this = m.this();
    let a = Tag::new();
    let b = Tag::new();
    this.tag_send(a, "tagged a".to_string());
    this.send("untagged".to_string());
    this.tag_send(b, "tagged b".to_string());
    println!("tag_receive(b): {}", m.tag_receive(&[b]));
    println!("receive: {}", m.receive());
    println!("receive: {}", m.receive());
    match m.tag_receive_timeout(&[a, b], Duration::from_millis(10)) {
        Err(e) if e.is_timed_out() => println!("tag_receive(a, b) on empty mailbox: timed out"),
        other => println!("unexpected: {:?}", other.map_err(|e| e.to_string())),
    }
}

/// `lunatic::panic::catch_panic` survives a panic (uses `lunatic::trap::catch`).
fn catch_panic() {
    let ok = lunatic::panic::catch_panic(|| 40 + 2);
    println!("no panic: {ok:?}");
    let caught = lunatic::panic::catch_panic(|| {
        if std::hint::black_box(true) {
            panic!("panic inside catch_panic");
        }
        1
    });
    println!("panic caught: {}", caught.is_err());
    println!("process continues");
}

/// The root returns while children are blocked in `receive`: the run ends.
fn return_with_children() {
    for _ in 0..10 {
        Process::spawn((), |_, mb: Mailbox<u32>| {
            mb.receive();
        });
    }
    println!("root returns with 10 children waiting");
}
