//! Hot reload: module versions (own engines, freed with their last
//! process), `lunatic::hot` hand-overs with each failure code, and the
//! reload loop of `lunatic run` (src/hot) driven through its request
//! channel.

use crate::protocol::{Environment, Exit, ProcessConfig, ProcessHandle, Runtime, RuntimeOptions, SpawnOptions};
use crate::protocol::version::Version;
use crate::scheduler::{Scheduler, SchedulerKind};
use std::sync::Arc;
use std::time::Duration;

/// v1: subscribes with tag 7, waits for the notice (other messages stay
/// queued), then hands over its 4-byte state (41) to `entry` and exits
/// with 100 + the code `handover` returned. `extra` goes into the module.
fn v1(state_len: u32, entry: &str, extra: &str) -> String {
    format!(
        r#"(module
  (import "lunatic::hot" "subscribe" (func $subscribe (param i64)))
  (import "lunatic::hot" "handover" (func $handover (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\29\00\00\00")
  (data (i32.const 16) "{entry}")
  (data (i32.const 64) "\07\00\00\00\00\00\00\00")
  {extra}
  (func (export "_start")
    (call $subscribe (i64.const 7))
    (drop (call $receive (i32.const 64) (i32.const 1) (i64.const -1)))
    (call $exit (i32.add (i32.const 100)
      (call $handover (i32.const 0) (i32.const {state_len}) (i32.const 16) (i32.const {len}))))))"#,
        len = entry.len()
    )
}

/// v2: `lunatic_hot_entry` runs `body` (it may use the imports below).
fn v2(body: &str, extra: &str) -> String {
    format!(
        r#"(module
  (import "lunatic::hot" "state_size" (func $state_size (result i32)))
  (import "lunatic::hot" "read_state" (func $read_state (param i32 i32) (result i32)))
  (import "lunatic::hot" "commit" (func $commit))
  (import "lunatic::hot" "version" (func $version (result i64)))
  (import "lunatic::hot" "current_version" (func $current_version (result i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  {extra}
  (func (export "_start"))
  (func (export "lunatic_hot_entry") {body}))"#
    )
}

/// The successful entry: restores 41, commits, takes the three queued
/// messages (tags 1, 2, 3 in order) and exits with 42, plus 50 if the
/// order is wrong, plus 60 if `state_size` is not 4, plus 70 if
/// `version` is not `current_version`.
const COUNTER: &str = r#"
    (local $bad i32)
    (if (i32.ne (call $state_size) (i32.const 4)) (then (local.set $bad (i32.const 60))))
    (drop (call $read_state (i32.const 0) (i32.const 100)))
    (call $commit)
    (if (i64.ne (call $version) (call $current_version))
      (then (local.set $bad (i32.add (local.get $bad) (i32.const 70)))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.ne (call $get_tag) (i64.const 1)) (then (local.set $bad (i32.const 50))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.ne (call $get_tag) (i64.const 2)) (then (local.set $bad (i32.const 50))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.ne (call $get_tag) (i64.const 3)) (then (local.set $bad (i32.const 50))))
    (call $exit (i32.add (local.get $bad) (i32.add (i32.load (i32.const 0)) (i32.const 1))))"#;

fn runtime() -> (Arc<dyn Scheduler>, Runtime) {
    let scheduler = SchedulerKind::Deterministic { seed: 1 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    (scheduler, runtime)
}

fn start(runtime: &Runtime, env: &Arc<Environment>, version: &Version, config: ProcessConfig)
    -> (ProcessHandle, async_channel::Receiver<Exit>) {
    let (exits, exited) = async_channel::bounded(1);
    let handle = crate::process::spawn(
        runtime,
        env,
        SpawnOptions::root(version.module().clone(), Arc::new(config), move |exit| {
                let _ = exits.try_send(exit.clone());
            }),
    )
    .unwrap();
    (handle, exited)
}

/// Runs a v1 process, queues messages tagged 1, 2, 3, makes `new` current
/// and returns how the process ended.
fn upgrade(old: &str, new: &str, config: ProcessConfig) -> Exit {
    let (scheduler, runtime) = runtime();
    let env = Arc::new(Environment::new(1));
    let first = runtime.load_version(old.as_bytes()).unwrap();
    runtime.make_current(&first);
    let (handle, exited) = start(&runtime, &env, &first, config);
    drop(first);
    let sched = scheduler.clone();
    let (tx, rx) = async_channel::bounded(1);
    let new = new.to_string();
    scheduler.block_on(Box::pin(async move {
        crate::scheduler::sleep(&*sched, Duration::from_millis(5)).await;
        for tag in 1..=3 {
            handle.send(crate::protocol::Message::Data(crate::protocol::DataMessage { tag, ..Default::default() }));
        }
        let second = runtime.load_version(new.as_bytes()).unwrap();
        runtime.make_current(&second);
        let exit = exited.recv().await.unwrap();
        let _ = tx.try_send(exit);
        0
    }));
    rx.try_recv().unwrap()
}

#[test]
fn a_handover_keeps_the_process_its_mailbox_order_and_state() {
    let exit = upgrade(&v1(4, "lunatic_hot_entry", ""), &v2(COUNTER, ""), ProcessConfig::default());
    assert_eq!(exit, Exit::Exited(42));
}

#[test]
fn handover_failures_leave_the_old_instance_running() {
    let config = ProcessConfig::default;
    let entry = "lunatic_hot_entry";
    // 3: no such export, or one of the wrong type.
    let exit = upgrade(&v1(4, "other_entry", ""), &v2(COUNTER, ""), config());
    assert_eq!(exit, Exit::Exited(103));
    let wrong_type = v2(COUNTER, r#"(func (export "typed_entry") (param i32))"#);
    assert_eq!(upgrade(&v1(4, "typed_entry", ""), &wrong_type, config()), Exit::Exited(103));
    // 2: the new instance's start section traps.
    let trapping_start = v2(COUNTER, "(func $boom unreachable) (start $boom)");
    assert_eq!(upgrade(&v1(4, entry, ""), &trapping_start, config()), Exit::Exited(102));
    // 2: its memory is above the process's limit.
    let mut small = ProcessConfig::default();
    small.max_memory = 2 << 16;
    let big = v2(COUNTER, "").replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 4)");
    let v1_small = v1(4, entry, "");
    assert_eq!(upgrade(&v1_small, &big, small), Exit::Exited(102));
    // 4: the entry traps, or returns, before it commits.
    assert_eq!(upgrade(&v1(4, entry, ""), &v2("unreachable", ""), config()), Exit::Exited(104));
    assert_eq!(upgrade(&v1(4, entry, ""), &v2("", ""), config()), Exit::Exited(104));
    // 5: the state is above max_message_size.
    let mut tight = ProcessConfig::default();
    tight.max_message_size = 3;
    assert_eq!(upgrade(&v1(4, entry, ""), &v2(COUNTER, ""), tight), Exit::Exited(105));
}

#[test]
fn after_commit_a_trap_fails_the_process() {
    let entry = "lunatic_hot_entry";
    let explicit = v2("(call $commit) unreachable", "");
    assert!(matches!(upgrade(&v1(4, entry, ""), &explicit, ProcessConfig::default()), Exit::Trapped(_)));
    // Waiting commits too.
    let implicit = v2("(call $sleep (i64.const 1)) unreachable", "");
    assert!(matches!(upgrade(&v1(4, entry, ""), &implicit, ProcessConfig::default()), Exit::Trapped(_)));
    // After commit, returning ends the process normally.
    assert_eq!(upgrade(&v1(4, entry, ""), &v2("(call $commit)", ""), ProcessConfig::default()), Exit::Returned);
}

#[test]
fn bad_guest_input_traps() {
    // A state pointer past the memory, an entry name that is not UTF-8.
    let bad_pointer = v1(4, "lunatic_hot_entry", "").replace("(i32.const 0) (i32.const 4)", "(i32.const 65535) (i32.const 4)");
    assert!(matches!(upgrade(&bad_pointer, &v2(COUNTER, ""), ProcessConfig::default()), Exit::Trapped(_)));
    let not_utf8 = v1(4, "\\ff", "");
    assert!(matches!(upgrade(&not_utf8, &v2(COUNTER, ""), ProcessConfig::default()), Exit::Trapped(_)));
}

#[test]
fn no_newer_version_is_code_1_and_versions_have_their_own_engines() {
    // Handing over on the current version: 1. No subscription notice
    // comes, so the process is told with a message of tag 7 by hand.
    let (scheduler, runtime) = runtime();
    let env = Arc::new(Environment::new(1));
    let only = runtime.load_version(v1(4, "lunatic_hot_entry", "").as_bytes()).unwrap();
    runtime.make_current(&only);
    let (handle, exited) = start(&runtime, &env, &only, ProcessConfig::default());
    handle.send(crate::protocol::Message::Data(crate::protocol::DataMessage { tag: 7, ..Default::default() }));
    let (tx, rx) = async_channel::bounded(1);
    scheduler.block_on(Box::pin(async move {
        let _ = tx.try_send(exited.recv().await.unwrap());
        0
    }));
    assert_eq!(rx.try_recv().unwrap(), Exit::Exited(101));
    // Same bytes, same live version; other bytes, another engine.
    let again = runtime.load_version(v1(4, "lunatic_hot_entry", "").as_bytes()).unwrap();
    assert!(Arc::ptr_eq(&only, &again));
    let other = runtime.load_version(v2(COUNTER, "").as_bytes()).unwrap();
    assert!(!wasmi::Engine::same(other.module().wasmi().engine(), only.module().wasmi().engine()));
    assert_eq!(only.id(), crate::engine::version_id(v1(4, "lunatic_hot_entry", "").as_bytes()));
    // A version nobody holds is gone.
    let weak = Arc::downgrade(&other);
    drop(other);
    assert!(weak.upgrade().is_none());
    assert!(runtime.load_version(b"(module (import \"x\" \"y\" (func)))").is_err(), "unknown imports are refused");
}

/// The reload loop of `lunatic run`: a bad file is refused with one line
/// and changes nothing; a good one starts its `_start` as the new root,
/// whose exit status becomes the run's.
#[test]
fn the_reload_loop_refuses_bad_files_and_follows_the_new_root() {
    let dir = std::env::temp_dir().join(format!("lunatic-hot-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let idle = r#"(module
      (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))"#;
    let exits_7 = r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (func (export "_start") (call $exit (i32.const 7))))"#;
    let unknown_import = r#"(module (import "lunatic::nope" "nope" (func)) (func (export "_start")))"#;
    let (app, good, bad, junk) = (dir.join("app.wat"), dir.join("v2.wat"), dir.join("bad.wat"), dir.join("junk.wasm"));
    std::fs::write(&app, idle).unwrap();
    std::fs::write(&good, exits_7).unwrap();
    std::fs::write(&bad, unknown_import).unwrap();
    std::fs::write(&junk, b"half a module").unwrap();
    let scheduler = SchedulerKind::Threaded { threads: 1 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let (requests, received) = async_channel::unbounded();
    let options = crate::hot::HotOptions { drain_timeout: Duration::from_millis(50) };
    let config = Arc::new(ProcessConfig::default());
    let path = app.clone();
    let bytes = idle.as_bytes().to_vec();
    let run = std::thread::spawn(move || {
        crate::hot::run(runtime, scheduler, path, bytes, config, options, received, &|_| {}).unwrap()
    });
    let ask = |path: &std::path::Path| {
        let (reply, replied) = async_channel::bounded(1);
        requests.send_blocking(crate::hot::Request { path: Some(path.to_path_buf()), reply: Some(reply) }).unwrap();
        replied.recv_blocking().unwrap()
    };
    let refused = ask(&bad).unwrap_err();
    assert!(refused.starts_with("lunatic: reload refused (bad.wat): ") && refused.contains("lunatic::nope"), "{refused}");
    let refused = ask(&junk).unwrap_err();
    assert!(refused.contains("not a Wasm module; staying on "), "{refused}");
    let unchanged = ask(&app).unwrap();
    assert!(unchanged.contains("unchanged"), "{unchanged}");
    let started = ask(&good).unwrap();
    assert!(started.ends_with("(new): started, 1 processes left on the old version"), "{started}");
    assert_eq!(run.join().unwrap(), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An app reloaded back to code it ran before (v1 -> v2 -> v1) while v1's
/// first root still served a connection: that root runs current code again
/// and finishes its connection, then goes (its listener went to a newer
/// root, so its accept would never complete), while v1's new root serves.
#[test]
fn a_version_made_current_again_still_loses_its_stranded_acceptors() {
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("lunatic-hot-flip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let v1 = include_str!("../../spec-tests/hot/server.wat");
    let v2 = v1.replace("(data (i32.const 512) \"v1\")", "(data (i32.const 512) \"v2\")");
    assert_ne!(v1, v2);
    let (app, second) = (dir.join("app.wat"), dir.join("v2.wat"));
    std::fs::write(&app, v1).unwrap();
    std::fs::write(&second, &v2).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let scheduler = SchedulerKind::Threaded { threads: 2 }.build().unwrap();
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let (requests, received) = async_channel::unbounded();
    let options = crate::hot::HotOptions { drain_timeout: Duration::from_secs(60) };
    let config = Arc::new(ProcessConfig::root(vec!["app".into(), port.to_string()], Vec::new()));
    let (path, bytes, app_runtime) = (app.clone(), v1.as_bytes().to_vec(), runtime.clone());
    let _run = std::thread::spawn(move || {
        crate::hot::run(app_runtime, scheduler, path, bytes, config, options, received, &|_| {})
    });
    let ask = |path: &std::path::Path| {
        let (reply, replied) = async_channel::bounded(1);
        requests.send_blocking(crate::hot::Request { path: Some(path.to_path_buf()), reply: Some(reply) }).unwrap();
        replied.recv_blocking().unwrap()
    };
    let connect = || {
        for _ in 0..200 {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return stream;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the app never listened");
    };
    let get = |mut stream: std::net::TcpStream| {
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let wait_for = |what: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !what() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        what()
    };
    assert!(get(connect()).ends_with("v1"));
    // v1's root takes a connection and waits for its request.
    let held = connect();
    std::thread::sleep(Duration::from_millis(200));
    let line = ask(&second).unwrap();
    assert!(line.ends_with("(new): started, 1 processes left on the old version"), "{line}");
    assert!(get(connect()).ends_with("v2"));
    let v2_version = runtime.current_version().unwrap();
    let line = ask(&app).unwrap();
    assert!(line.contains("(new): started"), "{line}");
    let v1_version = runtime.current_version().unwrap();
    // "started" comes before v1's new root binds: until then v2's root,
    // idle in its accept, may still take a connection (as it should). Once
    // the listener is handed over, v2's drain stops that root.
    assert!(wait_for(&|| v2_version.live() == 0), "v2 kept {} processes", v2_version.live());
    assert!(get(connect()).ends_with("v1"));
    assert_eq!(v1_version.live(), 2, "both roots of v1 run");
    // The first root answers its connection and goes back to its accept,
    // on a listener handed over since: it goes, the new root stays.
    assert!(get(held).ends_with("v1"));
    assert!(wait_for(&|| v1_version.live() == 1), "v1 kept {} processes", v1_version.live());
    assert!(get(connect()).ends_with("v1"));
    assert_eq!(v1_version.live(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
