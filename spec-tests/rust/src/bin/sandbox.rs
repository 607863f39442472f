//! Configs created by guests grant no more than their creator holds.
//!
//! Usage:
//! * `sandbox.wasm grant SPEC... --do OP...`: a chain of processes. The root
//!   spawns level 1 with its own config; each level creates a config (that
//!   may create configs and spawn), grants it the next SPEC with
//!   `lunatic::wasi::config_preopen_dir` (`DIR` or `SOURCE::GUEST`) and
//!   spawns the next level with it. The last level runs the OPs
//!   (`read:PATH`, `list:PATH`, `write:PATH`) and the lines travel back up
//!   to the root, which prints them. A level whose grant is refused traps:
//!   its parent reports `grant SPEC: refused`.
//! * `sandbox.wasm caps`: a middle process with small limits and no
//!   `can_compile_modules` creates a config asking for more (default 4 GiB
//!   memory, compiling allowed) and spawns a grandchild with it; the
//!   grandchild gets the middle's limits.
//! * `sandbox.wasm fuel-cap`: the same for `max_fuel`.

use std::hint::black_box;
use std::time::Duration;

use lunatic::serializer::Bincode;
use lunatic::{Mailbox, MessageSignal, Process, ProcessConfig, ProcessDiedSignal};

#[link(wasm_import_module = "lunatic::wasi")]
extern "C" {
    /// The raw host function: the 0.14.1 crate only offers it to old compilers.
    fn config_preopen_dir(config_id: i64, dir_ptr: *const u8, dir_len: u32);
}

#[link(wasm_import_module = "lunatic::process")]
extern "C" {
    #[link_name = "compile_module"]
    fn raw_compile_module(data_ptr: *const u8, data_len: u32, id_ptr: *mut u64) -> i32;
}

type Lines = Vec<String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "grant" => {
            let rest = &args[2..];
            let split = rest.iter().position(|a| a == "--do").unwrap_or(rest.len());
            let specs = rest[..split].to_vec();
            let ops = rest.get(split + 1..).unwrap_or_default().to_vec();
            let first = specs.first().cloned().unwrap_or_default();
            let m = unsafe { Mailbox::<Lines>::new() }.monitorable();
            let child = Process::spawn((m.this(), specs, ops), level);
            m.monitor(child);
            for line in wait(&m, &first) {
                println!("{line}");
            }
        }
        "caps" => caps(),
        "fuel-cap" => fuel_cap(),
        other => {
            eprintln!("sandbox: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// What a monitored child sends, or `grant SPEC: refused` if it dies first.
fn wait(m: &Mailbox<Lines, Bincode, ProcessDiedSignal>, spec: &str) -> Lines {
    match m.receive_timeout(Duration::from_secs(20)) {
        Ok(MessageSignal::Message(lines)) => lines,
        Ok(MessageSignal::Signal(_)) => vec![format!("grant {spec}: refused")],
        Err(_) => vec!["timeout".into()],
    }
}

/// One level of the chain (see the module docs).
fn level((reply, specs, ops): (Process<Lines>, Vec<String>, Vec<String>), mb: Mailbox<Lines>) {
    let Some((spec, rest)) = specs.split_first() else {
        reply.send(run_ops(&ops));
        return;
    };
    let Ok(mut config) = ProcessConfig::new() else {
        reply.send(vec!["create_config: refused".into()]);
        return;
    };
    config.set_can_create_configs(true);
    config.set_can_spawn_processes(true);
    // Traps if refused.
    unsafe { config_preopen_dir(config.id(), spec.as_ptr(), spec.len() as u32) };
    let mut lines = vec![format!("grant {spec}: ok")];
    let m = mb.monitorable();
    let next = rest.first().cloned().unwrap_or_default();
    let child = Process::spawn_config(&config, (m.this(), rest.to_vec(), ops), level);
    m.monitor(child);
    lines.extend(wait(&m, &next));
    reply.send(lines);
}

fn run_ops(ops: &[String]) -> Lines {
    ops.iter()
        .map(|op| {
            let (kind, path) = op.split_once(':').unwrap_or((op, ""));
            let result = match kind {
                "read" => std::fs::read_to_string(path).map(|s| format!("{s:?}")),
                "list" => std::fs::read_dir(path).map(|entries| {
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    format!("[{}]", names.join(", "))
                }),
                "write" => std::fs::write(path, "written by the sandboxed child\n").map(|()| "ok".into()),
                _ => Ok("unknown op".into()),
            };
            format!("{kind} {path}: {}", result.unwrap_or_else(|_| "error".into()))
        })
        .collect()
}

/// A minimal valid module for `compile_module`.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// Limits and permissions of a config are capped by its creator's.
fn caps() {
    let m = unsafe { Mailbox::<Lines>::new() }.monitorable();
    let mut middle = ProcessConfig::new().unwrap();
    middle.set_max_memory(8 * 1024 * 1024);
    middle.set_can_compile_modules(false);
    middle.set_can_create_configs(true);
    middle.set_can_spawn_processes(true);
    let child = Process::spawn_config(&middle, m.this(), |root: Process<Lines>, mb: Mailbox<Lines>| {
        let mut lines = Vec::new();
        let mut id = 0u64;
        let own = unsafe { raw_compile_module(EMPTY_MODULE.as_ptr(), EMPTY_MODULE.len() as u32, &mut id) };
        lines.push(format!("middle compile_module: {own}"));
        // Asks for more than the middle holds.
        let mut wide = ProcessConfig::new().unwrap();
        wide.set_can_compile_modules(true);
        lines.push(format!(
            "config asks: max_memory {} compile {}",
            wide.get_max_memory(),
            wide.can_compile_modules()
        ));
        let m = mb.monitorable();
        let grandchild = Process::spawn_config(&wide, m.this(), |parent: Process<Lines>, _: Mailbox<()>| {
            let mut id = 0u64;
            let r = unsafe { raw_compile_module(EMPTY_MODULE.as_ptr(), EMPTY_MODULE.len() as u32, &mut id) };
            parent.send(vec![format!("grandchild compile_module: {r}")]);
            let small = vec![1u8; 1024 * 1024];
            parent.send(vec![format!("grandchild 1 MiB: {}", black_box(&small).len() == 1024 * 1024)]);
            // Beyond the middle's 8 MiB: the allocation fails, the process dies.
            let big = vec![1u8; 64 * 1024 * 1024];
            parent.send(vec![format!("grandchild 64 MiB: {}", black_box(&big).len())]);
        });
        m.monitor(grandchild);
        loop {
            match m.receive_timeout(Duration::from_secs(20)) {
                Ok(MessageSignal::Message(more)) => lines.extend(more),
                Ok(MessageSignal::Signal(_)) => {
                    lines.push("grandchild died".into());
                    break;
                }
                Err(_) => {
                    lines.push("timeout".into());
                    break;
                }
            }
        }
        root.send(lines);
    });
    m.monitor(child);
    for line in wait(&m, "caps") {
        println!("{line}");
    }
}

/// `max_fuel` is capped by the creator's: a busy grandchild whose config
/// asks for unlimited fuel dies when the middle's budget would.
fn fuel_cap() {
    let m = unsafe { Mailbox::<Lines>::new() }.monitorable();
    let mut middle = ProcessConfig::new().unwrap();
    middle.set_max_fuel(100);
    middle.set_can_create_configs(true);
    middle.set_can_spawn_processes(true);
    let child = Process::spawn_config(&middle, m.this(), |root: Process<Lines>, mb: Mailbox<()>| {
        let unlimited = ProcessConfig::new().unwrap();
        let asks = unlimited.get_max_fuel();
        let m = mb.monitorable();
        let grandchild = Process::spawn_config(&unlimited, (), |_, _: Mailbox<()>| {
            let mut x = 0u64;
            loop {
                x = black_box(x.wrapping_add(1));
            }
        });
        m.monitor(grandchild);
        let died = matches!(m.receive_timeout(Duration::from_secs(20)), Ok(MessageSignal::Signal(_)));
        root.send(vec![format!("config asks max_fuel {asks}; busy grandchild died: {died}")]);
    });
    m.monitor(child);
    for line in wait(&m, "fuel-cap") {
        println!("{line}");
    }
}
