//! A process prepared with its instantiation left to its task (how a node
//! serves a remote spawn, so that the answer does not wait for it): it is
//! registered at once, messages sent before it runs wait in its mailbox,
//! and a failed instantiation ends it as a failure its link is told of.

use crate::protocol::{DataMessage, Environment, Exit, Message, ProcessConfig, Runtime, RuntimeOptions, SpawnOptions};
use std::sync::Arc;

/// Exits with the tag of the first message it receives.
const RECEIVER: &str = r#"(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $tag (result i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $exit (i32.wrap_i64 (call $tag)))))"#;

/// Its start section traps.
const TRAPS_AT_START: &str = r#"(module
  (memory (export "memory") 1)
  (func $start unreachable)
  (start $start)
  (func (export "_start")))"#;

/// Asks for 8 pages of memory to start with.
const BIG: &str = r#"(module
  (memory (export "memory") 8)
  (func (export "_start")))"#;

fn options(runtime: &Runtime, wat: &str, config: ProcessConfig, exits: &async_channel::Sender<Exit>) -> SpawnOptions {
    let exits = exits.clone();
    SpawnOptions::root(runtime.compile(wat.as_bytes()).unwrap(), Arc::new(config), move |exit| {
        let _ = exits.try_send(exit.clone());
    })
}

#[test]
fn a_process_instantiated_in_its_task_is_registered_first_and_fails_as_a_process() {
    let scheduler = crate::scheduler::SchedulerKind::Threaded { threads: 2 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let env = Arc::new(Environment::new(0));
    let (exits, exited) = async_channel::unbounded();

    // Registered before it is instantiated; the message waits for it.
    let (handle, task) = runtime.prepare_in_task(&env, options(&runtime, RECEIVER, ProcessConfig::default(), &exits)).unwrap();
    let found = env.get(handle.id()).expect("registered before its task runs");
    found.send(Message::Data(DataMessage::new(42, 0)));
    runtime.scheduler().spawn(task);
    let exit = scheduler.block_on(Box::pin({
        let exited = exited.clone();
        async move { exited.recv().await.map(|e| if let Exit::Exited(code) = e { code } else { -1 }).unwrap_or(-2) }
    }));
    assert_eq!(exit, 42, "the message sent before it ran was received");

    // A start section that traps: the spawn succeeded, the process fails
    // at once, its watcher (linked) is told, and it is unregistered.
    let (watcher, watcher_task) =
        runtime.prepare_in_task(&env, options(&runtime, RECEIVER, ProcessConfig::default(), &exits)).unwrap();
    let mut trapping = options(&runtime, TRAPS_AT_START, ProcessConfig::default(), &exits);
    trapping.link = Some((watcher.clone(), 7));
    let (child, child_task) = runtime.prepare_in_task(&env, trapping).unwrap();
    assert!(env.get(child.id()).is_some());
    runtime.scheduler().spawn(watcher_task);
    runtime.scheduler().spawn(child_task);
    let ends = scheduler.block_on(Box::pin({
        let exited = exited.clone();
        async move {
            let mut trapped = 0;
            let mut link_failed = 0;
            for _ in 0..2 {
                match exited.recv().await {
                    Ok(Exit::Trapped(_)) => trapped += 1,
                    Ok(Exit::LinkFailed) => link_failed += 1,
                    _ => {}
                }
            }
            trapped * 10 + link_failed
        }
    }));
    assert_eq!(ends, 11, "the child trapped and its linked watcher was killed with it");
    assert!(env.get(child.id()).is_none(), "unregistered");

    // Memory above the limit is still the spawn's error, and nothing is
    // registered.
    let before = env.next_process_id();
    let mut small = ProcessConfig::default();
    small.max_memory = 4 * 65_536;
    let error = runtime.prepare_in_task(&env, options(&runtime, BIG, small, &exits)).err().expect("refused");
    assert!(error.to_string().contains("initial memory"), "{error}");
    assert!(env.get(before + 1).is_none());
}
