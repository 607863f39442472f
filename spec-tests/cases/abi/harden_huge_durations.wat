;;! # Durations of some u64::MAX ms (negative i64 values) on the threaded
;;! # scheduler: a sleep that never ends, a timer that never fires, a receive
;;! # with an enormous timeout; none may overflow `Instant + Duration`.
;;! stdout: spawn: 0
;;! stdout: sleeper alive: 1
;;! stdout: cancel never-firing timer: 1
;;! stdout: receive with huge timeout: 0
;;! stdout: tag: 6
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "exists" (func $exists (param i64) (result i32)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "process_id" (func $pid (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $tag (result i64)))
  (import "lunatic::timer" "send_after" (func $send_after (param i64 i64) (result i64)))
  (import "lunatic::timer" "cancel_timer" (func $cancel (param i64) (result i32)))
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
  (data (i32.const 256) "spawn: \00")
  (data (i32.const 264) "sleeper\00")
  (data (i32.const 272) "sleeper alive: \00")
  (data (i32.const 288) "cancel never-firing timer: \00")
  (data (i32.const 316) "receive with huge timeout: \00")
  (data (i32.const 344) "tag: \00")
  (data (i32.const 350) "still running\n\00")

  (func (export "sleeper") (call $sleep (i64.const -1)))
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_u
      (call $spawn (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 264) (i32.const 7)
        (i32.const 0) (i32.const 0) (i32.const 1024))))
    (call $sleep (i64.const 20))
    (call $say (i32.const 272) (i64.extend_i32_u (call $exists (i64.load (i32.const 1024)))))
    (call $kill (i64.load (i32.const 1024)))
    (call $create_data (i64.const 5) (i64.const 0))
    (call $say (i32.const 288) (i64.extend_i32_u
      (call $cancel (call $send_after (call $pid) (i64.const -1)))))
    (call $create_data (i64.const 6) (i64.const 0))
    (drop (call $send (call $pid)))
    (call $say (i32.const 316) (i64.extend_i32_u
      (call $receive (i32.const 0) (i32.const 0) (i64.const -2))))
    (call $say (i32.const 344) (call $tag))
    (call $puts (i32.const 350)))
)
