;;! # A module's start section runs guest code while a process is
;;! # instantiated (up to 100 million fuel). It runs on the blocking pool
;;! # while the spawning process waits, not on an executor thread: with one
;;! # executor thread, the ticker spawned first prints while the second
;;! # child's start section (about 20 ms) runs. Instantiated in place, the
;;! # root would print "spawned" before the ticker ever ran.
;;! flags: --threads 1
;;! stdout: tick
;;! stdout: spawned
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "ticker")
  (data (i32.const 80) "tick\n")
  (data (i32.const 96) "spawned\n")
  (data (i32.const 112) "idle")
  (global $spins (mut i32) (i32.const 0))
  (func $burn
    (loop $l
      (global.set $spins (i32.add (global.get $spins) (i32.const 1)))
      (br_if $l (i32.lt_u (global.get $spins) (i32.const 7000000)))))
  (start $burn)
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "ticker") (call $print (i32.const 80) (i32.const 5)))
  (func (export "idle"))
  (func (export "_start")
    (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
                     (i32.const 64) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const 32))
      (then (unreachable)))
    (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
                     (i32.const 112) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 32))
      (then (unreachable)))
    (call $print (i32.const 96) (i32.const 8))))
