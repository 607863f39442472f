//! The runtime embedded in a Rust program: the same as the C example
//! (examples/embed-c): the app's host functions, a guest loaded from
//! bytes, messages both ways through a native mailbox, a guest trapping in
//! a host function, shutdown. `embed park` instead leaves one guest parked
//! in `receive` for ever (to measure that an idle runtime stays asleep).
//!
//!     cargo run --release --example embed [park]

use lunatic_wasmi::{Exit, Lunatic, Message, ProcessConfig, Trap, ValType, Value};
use std::time::Duration;

const GUEST: &str = include_str!("../embed-c/guest.wat");
const PARK: &str = r#"(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "main") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))"#;
const WAIT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("park") {
        return park();
    }
    let lunatic = Lunatic::builder()
        .threads(2)
        .host_function("app", "add", &[ValType::I32, ValType::I32], &[ValType::I32], |call, args| {
            let [Value::I32(a), Value::I32(b)] = args else { return Err(Trap::new("add: bad arguments")) };
            println!("host: add({a}, {b}) called by process {}", call.process_id());
            Ok(vec![Value::I32(a.wrapping_add(*b))])
        })
        .host_function("app", "print", &[ValType::I32, ValType::I32], &[], |call, args| {
            let [Value::I32(ptr), Value::I32(len)] = args else { return Err(Trap::new("print: bad arguments")) };
            // Out of bounds: `?` makes the guest trap.
            let text = call.read_str(*ptr as u32, *len as u32)?;
            println!("host: guest says \"{text}\"");
            Ok(vec![])
        })
        .build()?;
    let module = lunatic.load(GUEST.as_bytes())?;
    println!("module {:016x} loaded", module.id());

    let mailbox = lunatic.mailbox()?;
    mailbox.register("app")?;
    let mut config = ProcessConfig::default();
    config.max_memory = 1 << 20;
    let process = lunatic.spawn(&module, "main", config.clone())?;
    println!("spawned process {}", process.id());
    mailbox.monitor(process.id());
    mailbox.send(process.id(), 41, b"go");
    for _ in 0..2 {
        match mailbox.receive_blocking(Some(WAIT))? {
            Message::Data(data) => {
                println!("app received tag {}: {}", data.tag, String::from_utf8_lossy(&data.buffer))
            }
            Message::ProcessDied { process_id } => println!("app told: process {process_id} ended"),
            other => println!("app received {other:?}"),
        }
    }
    let exit = process.wait_blocking(Some(WAIT))?;
    println!("process {} returned: {exit:?}", process.id());

    let bad = lunatic.spawn(&module, "bad", config.clone())?;
    match bad.wait_blocking(Some(WAIT))? {
        Exit::Trapped(why) if why.contains("out of bounds") => {
            println!("process {} trapped: out of bounds", bad.id())
        }
        other => println!("process {} ended unexpectedly: {other:?}", bad.id()),
    }

    // An async caller awaits instead of blocking (here on futures-lite's
    // executor; any executor works).
    let waiting = lunatic.spawn(&module, "main", config)?;
    let report = futures_lite::future::block_on(lunatic.shutdown(Duration::from_secs(5)))?;
    println!("shut down: {} process killed ({:?})", report.killed, waiting.try_exit());
    Ok(())
}

/// One guest parked in `receive`, and the app's thread parked in its
/// mailbox's: nothing should run until killed.
fn park() -> Result<(), Box<dyn std::error::Error>> {
    let lunatic = Lunatic::builder().threads(2).build()?;
    let module = lunatic.load(PARK.as_bytes())?;
    let process = lunatic.spawn(&module, "main", ProcessConfig::default())?;
    let mailbox = lunatic.mailbox()?;
    println!("parked: process {} and mailbox {}", process.id(), mailbox.id());
    let _ = mailbox.receive_blocking(None);
    Ok(())
}
