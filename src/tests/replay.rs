//! Record and replay end to end, with small WebAssembly text programs run
//! by the real runtime, and the divergence messages.

use crate::replay::log::{Call, Entry};
use crate::replay::{digest, mismatch, DIVERGED};
use crate::runner::{run, RunOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Reads the realtime clock, then asks for 4..=7 random bytes (how many
/// depends on the clock reading), then exits with the first byte & 63: the
/// exit status and the calls both depend on what the outside world said.
const PROGRAM: &str = r#"(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $time (i32.const 0) (i64.const 1) (i32.const 0)))
    (drop (call $random (i32.const 16)
      (i32.add (i32.const 4)
        (i32.wrap_i64 (i64.rem_u (i64.load (i32.const 0)) (i64.const 4))))))
    (call $exit (i32.and (i32.load8_u (i32.const 16)) (i32.const 63)))))"#;

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lunatic-replay-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record(module: &Path, log: &Path, seed: u64) -> i32 {
    let mut options = RunOptions::new(module);
    options.scheduler = crate::scheduler::SchedulerKind::Deterministic { seed };
    options.record = Some(log.to_path_buf());
    run(options).unwrap()
}

fn replay(module: &Path, log: &Path) -> i32 {
    let mut options = RunOptions::new(module);
    options.replay = Some(log.to_path_buf());
    run(options).unwrap()
}

/// The recording's lines after the header.
fn entries(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines().skip_while(|l| *l != "start").skip(1).map(str::to_string).collect()
}

/// Rewrites the recording line starting with `prefix` through `edit`.
fn edit(log: &Path, prefix: &str, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(log).unwrap();
    let mut found = false;
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with(prefix) && !found {
                found = true;
                edit(line)
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(found, "no line starts with {prefix:?} in\n{text}");
    std::fs::write(log, edited.join("\n") + "\n").unwrap();
}

#[test]
fn a_replay_reproduces_the_recorded_run() {
    let dir = Scratch::new();
    let module = dir.file("prog.wat", PROGRAM);
    let log = dir.0.join("run.log");
    let status = record(&module, &log, 7);
    let lines = entries(&log);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("S 1 1 clock_time_get 0 = some "), "{lines:?}");
    assert!(lines[1].starts_with("S 1 2 random_get "), "{lines:?}");
    assert_eq!(lines[2], format!("E {status}"));
    assert_eq!(replay(&module, &log), status);
    assert_eq!(replay(&module, &log), status, "a recording replays any number of times");
}

#[test]
fn a_changed_answer_that_changes_a_later_call_is_a_divergence() {
    let dir = Scratch::new();
    let module = dir.file("prog.wat", PROGRAM);
    let log = dir.0.join("run.log");
    record(&module, &log, 1);
    // One nanosecond later on the clock: random_get asks for another length.
    edit(&log, "S 1 1 clock_time_get", |line| {
        let (head, value) = line.rsplit_once(' ').unwrap();
        format!("{head} {}", value.parse::<u64>().unwrap() + 1)
    });
    assert_eq!(replay(&module, &log), DIVERGED);
}

#[test]
fn a_changed_answer_that_changes_the_outcome_is_a_divergence() {
    let dir = Scratch::new();
    let module = dir.file("prog.wat", PROGRAM);
    let log = dir.0.join("run.log");
    let status = record(&module, &log, 2);
    // Another first random byte: another exit status than the recorded one.
    edit(&log, "S 1 2 random_get", |line| {
        let (head, bytes) = line.rsplit_once(' ').unwrap();
        let mut bytes = crate::replay::log::untoken(bytes).unwrap();
        bytes[0] ^= 1;
        format!("{head} {}", crate::replay::log::token(&bytes))
    });
    assert_ne!(status, DIVERGED);
    assert_eq!(replay(&module, &log), DIVERGED);
}

#[test]
fn another_module_or_a_cut_recording_is_refused() {
    let dir = Scratch::new();
    let module = dir.file("prog.wat", PROGRAM);
    let other = dir.file("other.wat", &PROGRAM.replace("i32.const 63", "i32.const 31"));
    let log = dir.0.join("run.log");
    record(&module, &log, 3);
    assert_eq!(replay(&other, &log), DIVERGED);
    // Without its last call and end, the replay runs past the recording.
    let text = std::fs::read_to_string(&log).unwrap();
    let cut: Vec<&str> =
        text.lines().filter(|l| !l.starts_with("S 1 2") && !l.starts_with("E ")).collect();
    std::fs::write(&log, cut.join("\n") + "\n").unwrap();
    assert_eq!(replay(&module, &log), DIVERGED);
    // Not a recording at all.
    std::fs::write(&log, "hello\n").unwrap();
    let mut options = RunOptions::new(&module);
    options.replay = Some(log.clone());
    let err = run(options).unwrap_err().to_string();
    assert!(err.contains("not a lunatic recording"), "{err}");
}

#[test]
fn divergence_messages_name_the_process_the_call_and_the_difference() {
    let recorded = Entry::Async {
        pid: 3,
        seq: 7,
        call: Call::new("tcp_write").arg(0u64).arg(b"hello world\n".to_vec()),
    };
    let made = Call::new("tcp_write").arg(0u64).arg(b"hello wurld\n".to_vec());
    let message = mismatch(3, 7, &made, Some(&recorded));
    assert!(message.starts_with("replay diverged at process 3 call #7: expected tcp_write(0, hello%20world%0A), got tcp_write(0, hello%20wurld%0A)"), "{message}");
    assert!(message.contains("argument 2 differs from character 9"), "{message}");

    let other =
        Entry::Sync { pid: 2, seq: 1, call: Call::new("clock_time_get").arg(1u32), result: vec![] };
    let message = mismatch(3, 7, &made, Some(&other));
    assert!(
        message.contains("expected process 2 call #1: clock_time_get(1), got tcp_write("),
        "{message}"
    );

    let message = mismatch(3, 7, &made, None);
    assert!(
        message.contains("process 3 call #7 is tcp_write(") && message.contains("recording ends"),
        "{message}"
    );

    let delivered = Entry::Delivered { step: 12, pid: 3, seq: 6, result: vec![] };
    let message = mismatch(3, 7, &made, Some(&delivered));
    assert!(message.contains("expected the answer to process 3 call #6 at step 12"), "{message}");
}

#[test]
fn digests_tell_contents_and_their_split_apart() {
    let a = digest(&[b"cert", b"key"]);
    assert!(a.starts_with("fnv1a64:") && a.len() == 24, "{a}");
    assert_eq!(a, digest(&[b"cert", b"key"]));
    assert_ne!(a, digest(&[b"cert", b"kez"]));
    assert_ne!(a, digest(&[b"cer", b"tkey"]));
    assert_ne!(a, digest(&[b"certkey"]));
    assert_ne!(digest(&[]), digest(&[b""]));
}
