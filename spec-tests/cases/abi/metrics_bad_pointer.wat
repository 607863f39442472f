;;! # lunatic::metrics: the six functions accept good names (also one longer
;;! # than the exporter keeps, which is ignored with one warning when an
;;! # exporter runs); a name pointer past the end of memory traps the process.
;;! flags: --prometheus --prometheus-http 127.0.0.1:0
;;! stdout: metrics recorded
;;! exit: 101
;;! stderr-contains: Process 1 failed, notifying: 0 links (memory access out of bounds: 10 bytes at 0xfffa)
;;! stderr-contains: guest metric ignored: names are limited to 10000 distinct names
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::metrics" "counter" (func $counter (param i32 i32 i64)))
  (import "lunatic::metrics" "increment_counter" (func $increment_counter (param i32 i32)))
  (import "lunatic::metrics" "gauge" (func $gauge (param i32 i32 f64)))
  (import "lunatic::metrics" "increment_gauge" (func $increment_gauge (param i32 i32 f64)))
  (import "lunatic::metrics" "decrement_gauge" (func $decrement_gauge (param i32 i32 f64)))
  (import "lunatic::metrics" "histogram" (func $histogram (param i32 i32 f64)))
  (memory (export "memory") 1)
  (data (i32.const 100) "case.count")
  (data (i32.const 120) "metrics recorded\n")
  (data (i32.const 200) "\ff")
  (func (export "_start")
    (call $counter (i32.const 100) (i32.const 10) (i64.const 5))
    (call $increment_counter (i32.const 100) (i32.const 10))
    (call $gauge (i32.const 100) (i32.const 4) (f64.const 1.5))
    (call $increment_gauge (i32.const 100) (i32.const 4) (f64.const 2))
    (call $decrement_gauge (i32.const 100) (i32.const 4) (f64.const 1))
    (call $histogram (i32.const 100) (i32.const 6) (f64.const 0.25))
    ;; 300 bytes of zeros from 1000: a valid UTF-8 name, longer than kept.
    (call $increment_counter (i32.const 1000) (i32.const 300))
    (i32.store (i32.const 0) (i32.const 120))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $counter (i32.const 65530) (i32.const 10) (i64.const 1))))
