;;! # Well-formed text, but it does not validate: _start leaves a value on the stack.
;;! # Bad input is reported before anything runs: one line "Error: ..." on
;;! # stderr, exit status 1, never a Rust panic or backtrace.
;;! env: RUST_BACKTRACE=1
;;! exit: 1
;;! stdout-raw:
;;! stderr-starts-with: Error:
;;! stderr-lines: 1
;;! stderr-not-contains: panicked
(module
  (memory (export "memory") 1)
  (func (export "_start")
    i32.const 1))
