;;! # spawn an export with (i32, i64, i64) parameters in 17-byte records
;;! # (abi.md 4.2); the child (process 2) sends back a + b and its own ID.
;;! stdout: spawn status: 0
;;! stdout: child id: 2
;;! stdout: receive: 0
;;! stdout: bytes: 16
;;! stdout: a + b from child: 12
;;! stdout: child's own id: 2
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
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
  (data (i32.const 256) "spawn status: \00")
  (data (i32.const 271) "child id: \00")
  (data (i32.const 282) "receive: \00")
  (data (i32.const 292) "bytes: \00")
  (data (i32.const 300) "a + b from child: \00")
  (data (i32.const 319) "child's own id: \00")
  (data (i32.const 512) "\7f\05\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00~\07\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00~\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 600) "child")
  (func (export "child") (param $a i32) (param $b i64) (param $parent i64)
    (i64.store (i32.const 2048) (i64.add (i64.extend_i32_s (local.get $a)) (local.get $b)))
    (i64.store (i32.const 2056) (call $process_id))
    (call $create_data (i64.const 0) (i64.const 16))
    (drop (call $write_data (i32.const 2048) (i32.const 16)))
    (drop (call $send (local.get $parent))))
  (func (export "_start")
    ;; third parameter: our own process ID (value bytes of record 3 start at 512+34+1)
    (i64.store (i32.const 547) (call $process_id))
    (call $say (i32.const 256)
      (i64.extend_i32_u (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
        (i32.const 600) (i32.const 5) (i32.const 512) (i32.const 51) (i32.const 1024))))
    (call $say (i32.const 271) (i64.load (i32.const 1024)))
    (call $say (i32.const 282)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $say (i32.const 292) (i64.extend_i32_u (call $read_data (i32.const 3072) (i32.const 64))))
    (call $say (i32.const 300) (i64.load (i32.const 3072)))
    (call $say (i32.const 319) (i64.load (i32.const 3080))))
)
