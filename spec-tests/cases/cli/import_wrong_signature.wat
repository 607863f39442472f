;;! # A known host function imported with the wrong type (process_id returns i64).
;;! # Bad input is reported before anything runs: one line "Error: ..." on
;;! # stderr, exit status 1, never a Rust panic or backtrace.
;;! env: RUST_BACKTRACE=1
;;! exit: 1
;;! stdout-raw:
;;! stderr-starts-with: Error:
;;! stderr-lines: 1
;;! stderr-not-contains: panicked
;;! stderr-contains: process_id
(module
  (import "lunatic::process" "process_id" (func $process_id (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $process_id))))
