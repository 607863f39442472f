;;! # --deterministic: virtual time follows work, and host calls are work.
;;! # A child loops through `trap::catch` (each one a nested guest call,
;;! # about half a microsecond of real time) while the root sleeps 500 ms of
;;! # virtual time. Host calls cost almost no fuel before, so the virtual
;;! # clock advanced some 50 times slower than real time and the root's
;;! # sleep took half a minute (the fuzzer's "hang"); now each call is
;;! # charged fuel for its work and the run ends in about a second.
;;! flags: --deterministic
;;! timeout: 15
;;! stdout: woke
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "lunatic::process" "process_id" (func $pid (result i64)))
  (import "lunatic::trap" "catch" (func $catch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "child")
  (data (i32.const 80) "woke\n")
  (func (export "_lunatic_catch_trap") (param i32 i32) (result i32)
    (drop (call $pid))
    (i32.const 1))
  (func (export "child")
    (loop $forever
      (drop (call $catch (i32.const 0) (i32.const 0)))
      (br $forever)))
  (func (export "_start")
    (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
                     (i32.const 64) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 32))
      (then (unreachable)))
    (call $sleep (i64.const 500))
    (i32.store (i32.const 0) (i32.const 80))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
