;;! # A WASI preview1 function that does not exist.
;;! # Bad input is reported before anything runs: one line "Error: ..." on
;;! # stderr, exit status 1, never a Rust panic or backtrace.
;;! env: RUST_BACKTRACE=1
;;! exit: 1
;;! stdout-raw:
;;! stderr-starts-with: Error:
;;! stderr-lines: 1
;;! stderr-not-contains: panicked
;;! stderr-contains: wasi_snapshot_preview1
;;! stderr-contains: fd_frobnicate
(module
  (import "wasi_snapshot_preview1" "fd_frobnicate" (func $f (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $f (i32.const 1)))))
