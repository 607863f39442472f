//! The runtime embedded in a Rust program: the same as the C example
//! (examples/embed-c): the app's host functions (one async, answered by
//! another thread), a guest loaded from bytes without blocking, spawned
//! with a configuration (memory limit, arguments), messages both ways
//! through a native mailbox, a guest trapping in a host function, the
//! mailbox's byte limit, shutdown. `embed park` instead leaves one guest parked
//! in `receive` for ever (to measure that an idle runtime stays asleep).
//!
//!     cargo run --release --example embed [park]

use lunatic_wasmi::{Exit, Lunatic, Message, ProcessConfig, Reply, Trap, ValType, Value};
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
        // Async: the guest waits (holding no thread) until a thread of the
        // app's answers; the answer is written into its memory at `ptr`.
        .host_function_async("app", "fetch", &[ValType::I32, ValType::I32], &[ValType::I32], |call, args| {
            let [Value::I32(ptr), Value::I32(cap)] = *args else { return Err(Trap::new("fetch: bad arguments")) };
            println!("host: fetch for process {} answered from another thread", call.process_id());
            let (tx, rx) = async_channel::bounded(1);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50)); // stands for real work
                let _ = tx.send_blocking(b"data from the app".to_vec());
            });
            Ok(async move {
                let mut answer = rx.recv().await.map_err(|_| Trap::new("fetch: no answer"))?;
                answer.truncate(cap.max(0) as usize);
                Ok(Reply::then(move |call| {
                    call.write(ptr as u32, &answer)?;
                    Ok(vec![Value::I32(answer.len() as i32)])
                }))
            })
        })
        .build()?;
    // Compiled on the blocking pool: an async caller awaits it.
    let module = futures_lite::future::block_on(lunatic.load_async(GUEST.as_bytes()))?;
    println!("module {:016x} loaded", module.id());

    let mailbox = lunatic.mailbox()?;
    mailbox.register("app")?;
    let mut config = ProcessConfig::default();
    config.max_memory = 1 << 20;
    config.args = vec!["guest".into(), "an argument".into()];
    config.envs = vec![("GREETING".into(), "hi".into())];
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

    // The mailbox's byte limit: each message counts its bytes plus 192.
    mailbox.set_max_size(1024);
    for tag in 1..=3 {
        mailbox.send(mailbox.id(), tag, &[0; 600]);
    }
    let kept = std::iter::from_fn(|| mailbox.try_receive()).count();
    println!("mailbox limit: {kept} kept, {} dropped", mailbox.dropped());

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
