//! The environment (process table and registry) with real processes.

use crate::protocol::environment::*;
use std::sync::Arc;
use crate::protocol::{ProcessHandle, Runtime, RuntimeOptions};
use crate::process;
use crate::protocol::{Exit, ProcessConfig, SpawnOptions};
use std::time::Duration;

fn reserve(env: &Arc<Environment>, name: &str) -> Reservation {
    match env.reserve_name(name) {
        Ok(Reserve::Reserved(reservation)) => reservation,
        _ => panic!("{name} is not free"),
    }
}

#[test]
fn names_follow_their_process_and_stay_bounded() {
    let env = Arc::new(Environment::new(0));
    let a = ProcessHandle::new(env.next_process_id());
    env.insert(a.clone());
    env.put_name(0, "x", 0, a.id()).unwrap();
    env.put_name(0, "y", 0, a.id()).unwrap();
    env.put_name(0, "remote", 7, 12345).unwrap();
    // A name for a process that does not exist is not kept.
    env.put_name(0, "ghost", 0, 999).unwrap();
    assert_eq!(env.get_name("ghost"), None);
    // Moving a name to another process leaves only the other names.
    let b = ProcessHandle::new(env.next_process_id());
    env.insert(b.clone());
    env.put_name(0, "y", 0, b.id()).unwrap();
    assert_eq!(env.names_of(a.id()), vec!["x".to_string()]);
    env.remove(a.id());
    env.forget_process(a.id());
    assert_eq!(env.get_name("x"), None);
    assert_eq!(env.get_name("y"), Some((0, b.id())));
    assert_eq!(env.get_name("remote"), Some((7, 12345)));
    assert_eq!(env.registered_names(), 2);

    let long = "n".repeat(MAX_NAME_LEN + 1);
    assert_eq!(env.put_name(0, &long, 0, b.id()), Err(RegistryError::NameTooLong(long.len())));
    assert!(matches!(env.reserve_name(&long), Err(RegistryError::NameTooLong(_))));
    let mut stored = 0usize;
    let full = loop {
        match env.put_name(0, &format!("{stored:0>1000}"), 0, b.id()) {
            Ok(()) => stored += 1,
            Err(error) => break error,
        }
    };
    assert_eq!(full, RegistryError::Full);
    assert!(stored * 1000 <= MAX_REGISTRY_BYTES && stored * 1100 > MAX_REGISTRY_BYTES / 2, "{stored}");
    env.remove(b.id());
    env.forget_process(b.id());
    assert_eq!(env.registered_names(), 1, "only the remote name is left");
    let registry = env.registry();
    assert!(registry.by_process.is_empty());
    assert_eq!(registry.bytes, cost("remote"));
}

#[test]
fn a_reservation_is_invisible_and_freed_unless_fulfilled() {
    let env = Arc::new(Environment::new(0));
    let held = reserve(&env, "svc");
    assert_eq!(env.get_name("svc"), None);
    let Ok(Reserve::Busy(released)) = env.reserve_name("svc") else { panic!("not busy") };
    drop(held);
    assert!(released.is_closed(), "waiters are woken");
    assert_eq!(env.registered_names(), 0);
    // A put during the spawn wins over the reservation.
    let p = ProcessHandle::new(env.next_process_id());
    env.insert(p.clone());
    let held = reserve(&env, "svc");
    env.put_name(0, "svc", 7, 1).unwrap();
    held.fulfil(p.id());
    assert_eq!(env.get_name("svc"), Some((7, 1)));
}

/// Waits on nothing for ever: a process to be named.
const IDLE: &str = r#"(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))"#;

/// `get_or_spawn("svc")` of an idle child; exits with the status, plus
/// 10 if the process ID it got is `1`.
const GET_OR_SPAWN: &str = r#"(module
  (import "lunatic::process" "get_or_spawn" (func $get_or_spawn (param i32 i32 i64 i64 i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "svc")
  (data (i32.const 8) "idle")
  (func (export "idle") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (local $status i32)
    (local.set $status (call $get_or_spawn (i32.const 0) (i32.const 3) (i64.const 0) (i64.const -1)
      (i64.const -1) (i32.const 8) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 24)))
    (call $exit (i32.add (local.get $status)
      (select (i32.const 10) (i32.const 0) (i64.eq (i64.load (i32.const 24)) (i64.const 1)))))))"#;

fn start(runtime: &Runtime, env: &Arc<Environment>, wat: &str) -> (ProcessHandle, async_channel::Receiver<Exit>) {
    let (exits, exited) = async_channel::bounded(1);
    let mut config = ProcessConfig::default();
    config.can_spawn_processes = true;
    let handle = process::spawn(
        runtime,
        env,
        SpawnOptions::root(runtime.compile(wat.as_bytes()).unwrap(), Arc::new(config), move |exit| {
                let _ = exits.try_send(exit.clone());
            }),
    )
    .unwrap();
    (handle, exited)
}

/// A process that ends withdraws the monitors it placed, so a long-lived
/// target does not keep one entry per monitor that ever lived.
#[test]
fn monitors_are_withdrawn_when_the_monitoring_process_ends() {
    let scheduler = crate::scheduler::SchedulerKind::Deterministic { seed: 2 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let env = Arc::new(Environment::new(0));
    // A target that is only a handle: its signal queue shows what it got.
    let target = ProcessHandle::new(env.next_process_id());
    env.insert(target.clone());
    let (monitor, ended) = start(
        &runtime,
        &env,
        r#"(module
          (import "lunatic::process" "monitor" (func $monitor (param i64)))
          (func (export "_start") (call $monitor (i64.const 1))))"#,
    );
    assert_eq!(target.id(), 1);
    let exit = scheduler.block_on(Box::pin(async move { (ended.recv().await.unwrap() == Exit::Returned) as i32 }));
    assert_eq!(exit, 1);
    let signals: Vec<String> = target.take_signals().iter().map(|s| format!("{s:?}")).collect();
    let id = monitor.id();
    assert_eq!(
        signals,
        [format!("Monitor {{ from: Process({id}) }}"), format!("StopMonitoring {{ from: {id} }}")]
    );
}

/// A `get_or_spawn` that finds the name reserved waits (without
/// blocking its thread) and then takes what the reservation became:
/// the named process, or, if the spawn behind it failed, a spawn of its
/// own.
#[test]
fn get_or_spawn_waits_for_a_reservation() {
    let scheduler = crate::scheduler::SchedulerKind::Deterministic { seed: 9 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let env = Arc::new(Environment::new(0));
    let (named, _) = start(&runtime, &env, IDLE);
    assert_eq!(named.id(), 1);
    let held = reserve(&env, "svc");
    let (_, found) = start(&runtime, &env, GET_OR_SPAWN);
    let (env2, sched) = (env.clone(), scheduler.clone());
    let status = scheduler.block_on(Box::pin(async move {
        crate::scheduler::sleep(&*sched, Duration::from_millis(10)).await;
        assert!(found.try_recv().is_err(), "get_or_spawn waits for the reservation");
        held.fulfil(1);
        let first = found.recv().await.unwrap();
        // Now with a reservation that is given up.
        env2.remove_name("svc");
        let held = reserve(&env2, "svc");
        let (_, spawned) = start(&runtime, &env2, GET_OR_SPAWN);
        crate::scheduler::sleep(&*sched, Duration::from_millis(10)).await;
        assert!(spawned.try_recv().is_err(), "get_or_spawn waits for the reservation");
        drop(held);
        let second = spawned.recv().await.unwrap();
        assert_eq!((first, second), (Exit::Exited(12), Exit::Returned), "found 1, then spawned");
        1
    }));
    assert_eq!(status, 1);
    let (node, child) = env.get_name("svc").expect("the spawned child is named");
    assert!(node == 0 && child > 3 && env.get(child).is_some(), "{child}");
}
