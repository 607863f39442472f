;;! # Build a data message, send it to ourselves, receive it and read it back in
;;! # two pieces; read_data returns 0 at the end.
;;! stdout: write_data: 4
;;! stdout: send: 0
;;! stdout: receive: 0
;;! stdout: tag: 9
;;! stdout: read: 3
;;! stdout: read: 1
;;! stdout: read at end: 0
;;! stdout: ping
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
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
  (data (i32.const 256) "write_data: \00")
  (data (i32.const 269) "send: \00")
  (data (i32.const 276) "receive: \00")
  (data (i32.const 286) "tag: \00")
  (data (i32.const 292) "read: \00")
  (data (i32.const 299) "read at end: \00")
  (data (i32.const 200) "ping")
  (func (export "_start")
    (call $create_data (i64.const 9) (i64.const 64))
    (call $say (i32.const 256) (i64.extend_i32_u (call $write_data (i32.const 200) (i32.const 4))))
    (call $say (i32.const 269) (i64.extend_i32_u (call $send (call $process_id))))
    (call $say (i32.const 276)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $say (i32.const 286) (call $get_tag))
    (call $say (i32.const 292) (i64.extend_i32_u (call $read_data (i32.const 2048) (i32.const 3))))
    (call $say (i32.const 292) (i64.extend_i32_u (call $read_data (i32.const 2051) (i32.const 100))))
    (call $say (i32.const 299) (i64.extend_i32_u (call $read_data (i32.const 2052) (i32.const 100))))
    (i32.store8 (i32.const 2052) (i32.const 10))
    (call $write (i32.const 2048) (i32.const 5)))
)
