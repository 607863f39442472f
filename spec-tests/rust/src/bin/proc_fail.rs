//! Failing processes: every way a child can trap, links that propagate (or
//! are caught), resource limits.
//!
//! Usage: `proc_fail.wasm <scenario> [args...]`; see `spec-tests/cases/process/`.

use std::hint::black_box;
use std::time::Duration;

use lunatic::{
    LinkDiedSignal, Mailbox, MessageSignal, Process, ProcessConfig, ProcessDiedSignal, Tag,
};

#[link(wasm_import_module = "lunatic::message")]
extern "C" {
    /// The raw host function, declared here so a deliberately bad pointer can
    /// be passed (the crate's safe API never does that).
    #[link_name = "write_data"]
    fn raw_write_data(ptr: u32, len: u32) -> u32;
    #[link_name = "create_data"]
    fn raw_create_data(tag: i64, capacity: u64);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kinds: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "child-traps" => child_traps(&kinds),
        "limits" => limits(),
        "link-kills-parent" => link_kills_parent(),
        "link-cascade" => link_cascade(),
        "link-caught" => link_caught(),
        "killed-by-child" => killed_by_child(),
        "trap-in-main" => {
            println!("root traps now");
            trap(&args[2]);
        }
        other => {
            eprintln!("proc_fail: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    // A stack frame the optimiser cannot remove, and no tail call.
    let frame = black_box([depth; 32]);
    recurse(black_box(depth + 1)).wrapping_add(frame[7])
}

/// Make the calling process fail in the way named by `kind`.
fn trap(kind: &str) {
    match kind {
        "panic" => panic!("child panics on purpose"),
        "oob-write" => unsafe {
            // Far beyond the end of linear memory: a Wasm out-of-bounds trap.
            std::ptr::write_volatile(black_box(0xFFFF_FFF0usize) as *mut u64, 1);
        },
        "host-bad-pointer" => unsafe {
            raw_create_data(0, 0);
            raw_write_data(black_box(0xFFFF_FFF0), 100);
        },
        "host-bad-resource" => unsafe {
            lunatic::host::api::error::drop(black_box(12345));
        },
        "stack-overflow" => {
            black_box(recurse(0));
        }
        "div-by-zero" => {
            let divisor = black_box(0i32);
            // Lets the optimiser drop Rust's own zero check, so the Wasm
            // `i32.div_s` instruction itself traps. (Were the check kept,
            // the process would still die, through a panic.)
            unsafe { std::hint::assert_unchecked(divisor != 0 && divisor != -1) };
            black_box(black_box(7i32) / divisor);
        }
        "spawn-without-permission" => {
            // Only meaningful in a process spawned with a config that may not
            // spawn: the host traps.
            Process::spawn((), |_, _: Mailbox<()>| {});
        }
        "exit-nonzero" => std::process::exit(9),
        other => panic!("unknown trap kind {other:?}"),
    }
    println!("{kind}: the process survived (this line must not be printed)");
}

fn spawn_trapping_child(config: Option<&ProcessConfig>, kind: &str) -> Process<()> {
    let entry = |kind: String, mb: Mailbox<()>| {
        mb.receive();
        trap(&kind);
    };
    match config {
        Some(config) => Process::spawn_config(config, kind.to_string(), entry),
        None => Process::spawn(kind.to_string(), entry),
    }
}

/// Each child fails in its own way while a sibling keeps answering; the root
/// observes every death through a monitor and exits normally.
fn child_traps(kinds: &[&str]) {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    let sibling = Process::spawn(m.this(), |root: Process<u64>, mb: Mailbox<u64>| loop {
        let x = mb.receive();
        root.send(x + 1000);
    });
    let mut no_spawn = ProcessConfig::new().expect("create_config");
    no_spawn.set_can_spawn_processes(false);
    for (i, &kind) in kinds.iter().enumerate() {
        let config = (kind == "spawn-without-permission").then_some(&no_spawn);
        let child = spawn_trapping_child(config, kind);
        m.monitor(child);
        // Only now let the child fail, so the monitor cannot miss it.
        child.send(());
        let died = match m.receive() {
            MessageSignal::Signal(ProcessDiedSignal(id)) => id == child.id(),
            MessageSignal::Message(x) => {
                println!("{kind}: unexpected message {x}");
                false
            }
        };
        sibling.send(i as u64);
        let answer = m.receive_timeout(Duration::from_secs(10));
        let alive = matches!(answer, Ok(MessageSignal::Message(x)) if x == i as u64 + 1000);
        println!("{kind}: child died: {died}, sibling answers: {alive}");
    }
    println!("root done");
}

/// Memory and fuel limits from a `ProcessConfig` make the child fail.
fn limits() {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();

    let mut small_memory = ProcessConfig::new().unwrap();
    small_memory.set_max_memory(4 * 1024 * 1024);
    let child = Process::spawn_config(
        &small_memory,
        m.this(),
        |root: Process<u64>, mb: Mailbox<()>| {
            mb.receive();
            let small = vec![1u8; 64 * 1024];
            root.send(black_box(&small).len() as u64);
            // Needs memory.grow far beyond 4 MiB: the allocation fails and the
            // guest aborts.
            let big = vec![1u8; 32 * 1024 * 1024];
            root.send(black_box(&big).len() as u64);
        },
    );
    m.monitor(child);
    child.send(());
    let mut report = Vec::new();
    let died = loop {
        match m.receive_timeout(Duration::from_secs(10)) {
            Ok(MessageSignal::Message(n)) => report.push(n.to_string()),
            Ok(MessageSignal::Signal(_)) => break true,
            Err(_) => break false,
        }
    };
    println!(
        "max_memory 4 MiB: child sent [{}], died: {died}",
        report.join(", ")
    );

    let mut little_fuel = ProcessConfig::new().unwrap();
    little_fuel.set_max_fuel(1);
    let child = Process::spawn_config(&little_fuel, (), |_, mb: Mailbox<()>| {
        mb.receive();
        let mut x = 0u64;
        loop {
            x = black_box(x.wrapping_add(1));
        }
    });
    m.monitor(child);
    child.send(());
    // (A timeout instead of a signal means the child ran out of fuel before
    // the monitor was set up, which is also a failure of this case.)
    let died = matches!(
        m.receive_timeout(Duration::from_secs(10)),
        Ok(MessageSignal::Signal(_))
    );
    println!("max_fuel 1: busy child died: {died}");
}

/// A linked child panics: the root is killed with it (exit status 101).
fn link_kills_parent() {
    let m = unsafe { Mailbox::<()>::new() };
    Process::spawn_link((), |_, _: Mailbox<()>| {
        panic!("linked child panics");
    });
    println!("waiting for the linked child");
    m.receive();
    println!("root survived a failing link (this line must not be printed)");
}

/// A failure travels along a chain of links: grandchild -> child -> root.
fn link_cascade() {
    let m = unsafe { Mailbox::<()>::new() };
    Process::spawn_link((), |_, mb: Mailbox<()>| {
        Process::spawn_link((), |_, _: Mailbox<()>| {
            lunatic::sleep(Duration::from_millis(20));
            panic!("grandchild panics");
        });
        mb.receive();
    });
    println!("waiting for the chain");
    m.receive();
    println!("root survived a failing chain (this line must not be printed)");
}

/// With `catch_link_failure` the link death arrives as a message instead.
fn link_caught() {
    let m = unsafe { Mailbox::<()>::new() }.catch_link_failure();
    let tag = Tag::new();
    Process::spawn_link_tag((), tag, |_, _: Mailbox<()>| {
        panic!("linked child panics");
    });
    match m.receive() {
        MessageSignal::Signal(LinkDiedSignal(t)) => {
            println!("link died signal, tag matches: {}", t == tag)
        }
        MessageSignal::Message(()) => println!("unexpected message"),
    }
    // A linked child that ends normally sends no signal at all.
    Process::spawn_link((), |_, _: Mailbox<()>| {});
    match m.receive_timeout(Duration::from_millis(100)) {
        Err(e) if e.is_timed_out() => println!("normal exit of a linked child: no signal"),
        _ => println!("normal exit of a linked child: unexpected signal"),
    }
    println!("root survived");
}

/// A child kills the root: the run ends with status 101.
fn killed_by_child() {
    let m = unsafe { Mailbox::<()>::new() };
    Process::spawn(m.this(), |root: Process<()>, _: Mailbox<()>| {
        lunatic::sleep(Duration::from_millis(20));
        root.kill();
    });
    println!("waiting to be killed");
    m.receive();
    println!("root survived kill (this line must not be printed)");
}
