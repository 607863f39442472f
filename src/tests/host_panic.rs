//! A panic in a host function or a suspended host call traps only the
//! calling process (see `engine::HostFn`): tested through a runtime with
//! two deliberately panicking host functions, registered only in tests.

use crate::engine::HostFunctions;
use crate::process;
use crate::protocol::{Exit, ProcessConfig, SpawnOptions};
use crate::protocol::{Environment, ProcessState, Runtime, RuntimeOptions};
use std::sync::Arc;
use wasmi::Caller;

/// A host function that panics, only in unit tests: no guest-callable
/// panic exists in a real build, and every known panic is fixed.
pub(crate) fn add_to_linker(host: &mut HostFunctions<ProcessState>) {
    host.func("lunatic::test", "panic", |_: Caller<'_, ProcessState>, code: i32| -> i32 {
        if code != 0 {
            panic!("test panic {code}");
        }
        0
    });
    // Suspends; then the awaited work (1) or the completion (2) panics.
    host.func("lunatic::test", "panic_later", |mut c: Caller<'_, ProcessState>, code: i32| {
        let work = Box::pin(async move {
            futures_lite::future::yield_now().await;
            if code == 1 {
                panic!("test async panic");
            }
            crate::protocol::completion(move |_| -> Result<Vec<wasmi::Val>, wasmi::Error> {
                panic!("test completion panic")
            })
        });
        Err::<(), _>(crate::protocol::suspend(c.data_mut(), crate::protocol::Pending::Async(work)))
    });
}

/// Waits on the child's link death (tag 7) and exits with the kind of
/// the message received: 1 for "link died".
const WATCHER: &str = r#"(module
  (import "lunatic::process" "die_when_link_dies" (func $trap_links (param i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $tag (result i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $trap_links (i32.const 0))
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 1))
      (then (call $exit (i32.const 90))))
    (call $exit (i32.wrap_i64 (call $tag)))))"#;

/// Calls the panicking host function with a harmless, then a panicking
/// argument.
const PANICKER: &str = r#"(module
  (import "lunatic::test" "panic" (func $panic (param i32) (result i32)))
  (func (export "_start")
    (drop (call $panic (i32.const 0)))
    (drop (call $panic (i32.const 3)))))"#;

/// A host call whose asynchronous part panics (argument 1), or whose
/// completion does (2).
fn later(code: i32) -> String {
    format!(
        r#"(module
          (import "lunatic::test" "panic_later" (func $later (param i32)))
          (func (export "_start") (call $later (i32.const {code}))))"#
    )
}

fn start(
    runtime: &Runtime,
    env: &Arc<Environment>,
    wat: &str,
    link: Option<(crate::protocol::ProcessHandle, i64)>,
    exits: &async_channel::Sender<(usize, Exit)>,
    n: usize,
) -> crate::protocol::ProcessHandle {
    let exits = exits.clone();
    process::spawn(
        runtime,
        env,
        SpawnOptions {
            link,
            ..SpawnOptions::root(runtime.compile(wat.as_bytes()).unwrap(), Arc::new(ProcessConfig::default()), move |exit| {
                let _ = exits.try_send((n, exit.clone()));
            })
        },
    )
    .unwrap()
}

/// A panic in a host function traps only the calling process, with a
/// message naming the function, and its link is told; the runtime and
/// the other processes carry on. Without the wrapper the panic could not
/// unwind through wasmi's frames and the test binary would abort (tried).
/// The same for a panic in the asynchronous part of a host call and in
/// its completion, which run in the driver.
#[test]
fn a_panicking_host_function_traps_only_its_process() {
    for scheduler in [
        crate::scheduler::SchedulerKind::Deterministic { seed: 5 },
        crate::scheduler::SchedulerKind::Threaded { threads: 2 },
    ] {
        let scheduler = scheduler.build().unwrap();
        let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
        let env = Arc::new(Environment::new(0));
        let (exits, exited) = async_channel::unbounded();
        let watcher = start(&runtime, &env, WATCHER, None, &exits, 0);
        start(&runtime, &env, PANICKER, Some((watcher, 7)), &exits, 1);
        start(&runtime, &env, &later(1), None, &exits, 2);
        start(&runtime, &env, &later(2), None, &exits, 3);
        let ends = Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = ends.clone();
        scheduler.block_on(Box::pin(async move {
            for _ in 0..4 {
                let end = exited.recv().await.unwrap();
                collected.lock().unwrap().push(end);
            }
            0
        }));
        let mut ends = ends.lock().unwrap().clone();
        ends.sort_by_key(|(n, _)| *n);
        assert_eq!(ends[0].1, Exit::Exited(7), "the watcher saw the link die");
        match &ends[1].1 {
            Exit::Trapped(why) => assert!(
                why.contains("host function lunatic::test::panic panicked: test panic 3"),
                "{why}"
            ),
            other => panic!("the panicking process ended as {other:?}"),
        }
        for (end, message) in ends[2..].iter().zip(["test async panic", "test completion panic"]) {
            match &end.1 {
                Exit::Trapped(why) => assert!(
                    why.contains(&format!("a suspended host call panicked: {message}")),
                    "{why}"
                ),
                other => panic!("process {} ended as {other:?}", end.0),
            }
        }
    }
}
