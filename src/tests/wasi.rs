//! End-to-end checks: small WebAssembly text programs run by the real
//! runtime (`lunatic run` with one `--dir`), reporting through their exit
//! status. They cover the suspension paths (blocking pool, sleeps) as well
//! as the sandbox.

use crate::runner::{run, RunOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory `<tmp>/…/box` that the program gets as fd 4 (fd 3 is
/// the working directory), next to a `secret.txt` outside it.
struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "lunatic-wasi-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("box")).unwrap();
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        Self { root }
    }

    fn dir(&self) -> PathBuf {
        self.root.join("box")
    }

    /// Runs `body` (the inside of `_start`) and returns the exit status.
    fn run(&self, body: &str) -> i32 {
        self.run_with_start("", body)
    }

    /// Like [`Sandbox::run`], with a module start function running `start`.
    fn run_with_start(&self, start: &str, body: &str) -> i32 {
        let wat = format!(
            "{PRELUDE}\n(func $init (local $fd i32)\n{start})\n(start $init)\n\
             (func (export \"_start\") (local $fd i32) (local $t i64)\n{body})\n{DATA})"
        );
        let path = self.root.join("prog.wat");
        std::fs::write(&path, wat).unwrap();
        let mut options = RunOptions::new(path);
        options.dirs = vec![self.dir()];
        options.scheduler = crate::scheduler::SchedulerKind::Threaded { threads: 1 };
        run(options).unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const PRELUDE: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 1)"#;

/// 0: "../secret.txt", 16: "f.txt", 32: iovec {64, 5}, 64: "hello",
/// 128: a 30 ms relative monotonic clock subscription; 256.. scratch.
const DATA: &str = r#"
  (data (i32.const 0) "../secret.txt")
  (data (i32.const 16) "f.txt")
  (data (i32.const 32) "\40\00\00\00\05\00\00\00")
  (data (i32.const 64) "hello")
  (data (i32.const 128) "\07\00\00\00\00\00\00\00" "\00\00\00\00\00\00\00\00"
                        "\01\00\00\00\00\00\00\00" "\80\c3\c9\01\00\00\00\00"
                        "\00\00\00\00\00\00\00\00" "\00\00\00\00\00\00\00\00")"#;

/// Rights for reading and writing (`fd_read` | `fd_write`).
const RW: &str = "(i64.const 66)";

#[test]
fn escaping_the_preopen_is_notcapable() {
    let s = Sandbox::new();
    let status = s.run(&format!(
        "(call $exit (call $open (i32.const 4) (i32.const 1) (i32.const 0) (i32.const 13)
           (i32.const 0) {RW} {RW} (i32.const 0) (i32.const 256)))"
    ));
    assert_eq!(status, 76);
}

#[test]
fn a_file_is_created_written_and_stated() {
    let s = Sandbox::new();
    // Create f.txt (CREAT|TRUNC), write "hello", close, exit with its size.
    let status = s.run(&format!(
        "(if (call $open (i32.const 4) (i32.const 1) (i32.const 16) (i32.const 5)
              (i32.const 9) {RW} {RW} (i32.const 0) (i32.const 256))
           (then (call $exit (i32.const 200))))
         (local.set $fd (i32.load (i32.const 256)))
         (if (call $write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 260))
           (then (call $exit (i32.const 201))))
         (if (i32.ne (i32.load (i32.const 260)) (i32.const 5)) (then (call $exit (i32.const 202))))
         (if (call $close (local.get $fd)) (then (call $exit (i32.const 203))))
         (if (i32.eqz (call $close (local.get $fd))) (then (call $exit (i32.const 204))))
         (if (call $stat (i32.const 4) (i32.const 1) (i32.const 16) (i32.const 5) (i32.const 512))
           (then (call $exit (i32.const 205))))
         (call $exit (i32.wrap_i64 (i64.load (i32.const 544))))"
    ));
    assert_eq!(status, 5);
    assert_eq!(std::fs::read_to_string(s.dir().join("f.txt")).unwrap(), "hello");
}

#[test]
fn poll_oneoff_sleeps_on_the_scheduler_clock() {
    let s = Sandbox::new();
    // Exit 0 if at least 30 ms of monotonic time passed during the poll.
    let status = s.run(
        "(drop (call $time (i32.const 1) (i64.const 0) (i32.const 256)))
         (local.set $t (i64.load (i32.const 256)))
         (if (call $poll (i32.const 128) (i32.const 512) (i32.const 1) (i32.const 600))
           (then (call $exit (i32.const 200))))
         (if (i32.ne (i32.load (i32.const 600)) (i32.const 1)) (then (call $exit (i32.const 201))))
         (if (i64.ne (i64.load (i32.const 512)) (i64.const 7)) (then (call $exit (i32.const 202))))
         (drop (call $time (i32.const 1) (i64.const 0) (i32.const 256)))
         (call $exit (i64.lt_u (i64.sub (i64.load (i32.const 256)) (local.get $t))
                               (i64.const 30000000)))",
    );
    assert_eq!(status, 0);
}

#[test]
fn exit_codes_and_bad_pointers() {
    let s = Sandbox::new();
    assert_eq!(s.run("(call $exit (i32.const 3))"), 3);
    assert_eq!(s.run("(call $exit (i32.const 0)) (unreachable)"), 0);
    // A buffer past the end of memory traps: the run fails with 101.
    assert_eq!(s.run("(drop (call $random (i32.const 65530) (i32.const 7)))"), 101);
    // A bad descriptor is an errno, not a trap.
    assert_eq!(s.run("(call $exit (call $close (i32.const 77)))"), 8);
    // Reading from a directory.
    assert_eq!(
        s.run(
            "(call $exit (call $read (i32.const 4) (i32.const 32) (i32.const 1) (i32.const 256)))"
        ),
        31
    );
}

#[test]
fn file_calls_work_in_a_start_section() {
    let s = Sandbox::new();
    // The start function creates f.txt and writes "hello" (no suspension is
    // possible there); `_start` exits with the file's size.
    let status = s.run_with_start(
        &format!(
            "(drop (call $open (i32.const 4) (i32.const 1) (i32.const 16) (i32.const 5)
               (i32.const 9) {RW} {RW} (i32.const 0) (i32.const 256)))
             (local.set $fd (i32.load (i32.const 256)))
             (drop (call $write (local.get $fd) (i32.const 32) (i32.const 1) (i32.const 260)))
             (drop (call $close (local.get $fd)))"
        ),
        "(if (call $stat (i32.const 4) (i32.const 1) (i32.const 16) (i32.const 5) (i32.const 512))
           (then (call $exit (i32.const 205))))
         (call $exit (i32.wrap_i64 (i64.load (i32.const 544))))",
    );
    assert_eq!(status, 5);
}

/// Runs a WebAssembly text program's `_start` on `scheduler` (no preopens)
/// and returns its exit status.
fn run_on(scheduler: std::sync::Arc<dyn crate::scheduler::Scheduler>, wat: &str) -> i32 {
    use crate::process::spawn;
use crate::protocol::{ProcessConfig, SpawnOptions};
    use std::sync::Arc;
    let runtime = crate::protocol::Runtime::new(scheduler.clone(), Default::default());
    let module = runtime.compile(wat.as_bytes()).unwrap();
    let env = Arc::new(crate::protocol::Environment::new(1));
    let (done, exited) = async_channel::bounded(1);
    spawn(
        &runtime,
        &env,
        SpawnOptions::root(module, Arc::new(ProcessConfig::root(vec!["prog".into()], Vec::new())), move |exit| {
                let _ = done.try_send(exit.status());
            }),
    )
    .unwrap();
    scheduler.block_on(Box::pin(async move { exited.recv().await.unwrap_or(-1) }))
}

#[test]
fn clocks_sleeps_and_randomness_come_from_the_scheduler() {
    // Sleep 1000 s of virtual time; exit 0 if both clocks moved by at least
    // that much, then a random byte decides the status.
    let wat = format!(
        r#"{PRELUDE}
        (func (export "_start") (local $t0 i64) (local $w0 i64)
          (drop (call $time (i32.const 1) (i64.const 0) (i32.const 256)))
          (local.set $t0 (i64.load (i32.const 256)))
          (drop (call $time (i32.const 0) (i64.const 0) (i32.const 256)))
          (local.set $w0 (i64.load (i32.const 256)))
          ;; timeout of the subscription at 128: 1000 s
          (i64.store (i32.const 152) (i64.const 1000000000000))
          (if (call $poll (i32.const 128) (i32.const 512) (i32.const 1) (i32.const 600))
            (then (call $exit (i32.const 200))))
          (drop (call $time (i32.const 1) (i64.const 0) (i32.const 256)))
          (if (i64.lt_u (i64.sub (i64.load (i32.const 256)) (local.get $t0)) (i64.const 1000000000000))
            (then (call $exit (i32.const 201))))
          (drop (call $time (i32.const 0) (i64.const 0) (i32.const 256)))
          (if (i64.lt_u (i64.sub (i64.load (i32.const 256)) (local.get $w0)) (i64.const 1000000000000))
            (then (call $exit (i32.const 202))))
          (drop (call $random (i32.const 256) (i32.const 1)))
          (call $exit (i32.and (i32.load8_u (i32.const 256)) (i32.const 127))))
        {DATA})"#
    );
    let started = std::time::Instant::now();
    let a = run_on(std::sync::Arc::new(crate::scheduler::Deterministic::new(7)), &wat);
    let b = run_on(std::sync::Arc::new(crate::scheduler::Deterministic::new(7)), &wat);
    assert!(a < 128, "status {a}");
    assert_eq!(a, b, "the same seed gives the same random bytes");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the sleep was virtual");
}
