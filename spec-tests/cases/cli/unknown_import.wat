;;! # An import the runtime does not provide; the message names module and field.
;;! # Bad input is reported before anything runs: one line "Error: ..." on
;;! # stderr, exit status 1, never a Rust panic or backtrace.
;;! env: RUST_BACKTRACE=1
;;! exit: 1
;;! stdout-raw:
;;! stderr-starts-with: Error:
;;! stderr-lines: 1
;;! stderr-not-contains: panicked
;;! stderr-contains: lunatic::nope
;;! stderr-contains: frobnicate
(module
  (import "lunatic::nope" "frobnicate" (func $frobnicate (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $frobnicate (i32.const 1))))
