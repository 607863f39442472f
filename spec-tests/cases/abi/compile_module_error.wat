;;! # compile_module of 4 junk bytes fails with status 1 and an error ID (errors
;;! # start at 0) whose text is non-empty; error::drop releases it.
;;! stdout: status: 1
;;! stdout: error id: 0
;;! stdout: message is non-empty: 1
;;! stdout: dropped
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "compile_module" (func $compile_module (param i32 i32 i32) (result i32)))
  (import "lunatic::error" "string_size" (func $string_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $to_string (param i64 i32)))
  (import "lunatic::error" "drop" (func $error_drop (param i64)))
  (memory (export "memory") 1)

  ;; ---- output helpers (memory 0..64 is reserved for them) ----
  ;; $write(ptr, len): fd_write to stdout through the iovec at 0
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; $puts(s): write a NUL-terminated string
  (func $puts (param $s i32)
    (local $e i32)
    (local.set $e (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $scan)))
    (call $write (local.get $s) (i32.sub (local.get $e) (local.get $s))))
  ;; $print_i64(n): signed decimal, digits built downwards from 48
  (func $print_i64 (param $n i64)
    (local $p i32)
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then
        (call $write (i32.const 48) (i32.const 1))
        (local.set $n (i64.sub (i64.const 0) (local.get $n)))))
    (local.set $p (i32.const 48))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
        (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))
  ;; $say(label, n): "<label><n>\n"
  (func $say (param $label i32) (param $n i64)
    (call $puts (local.get $label))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 256) "status: \00")
  (data (i32.const 265) "error id: \00")
  (data (i32.const 276) "message is non-empty: \00")
  (data (i32.const 299) "dropped\0a\00")
  (data (i32.const 200) "junk")
  (func (export "_start")
    (local $id i64)
    (call $say (i32.const 256)
      (i64.extend_i32_s (call $compile_module (i32.const 200) (i32.const 4) (i32.const 1024))))
    (local.set $id (i64.load (i32.const 1024)))
    (call $say (i32.const 265) (local.get $id))
    (call $say (i32.const 276)
      (i64.extend_i32_u (i32.gt_s (call $string_size (local.get $id)) (i32.const 0))))
    (call $to_string (local.get $id) (i32.const 4096))
    (call $error_drop (local.get $id))
    (call $puts (i32.const 299)))
)
