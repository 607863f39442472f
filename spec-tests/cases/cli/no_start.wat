;;! # A module without a _start export cannot be run as a command.
;;! # Bad input is reported before anything runs: one line "Error: ..." on
;;! # stderr, exit status 1, never a Rust panic or backtrace.
;;! env: RUST_BACKTRACE=1
;;! exit: 1
;;! stdout-raw:
;;! stderr-starts-with: Error:
;;! stderr-lines: 1
;;! stderr-not-contains: panicked
;;! stderr-contains: _start
(module
  (memory (export "memory") 1)
  (func (export "main")))
