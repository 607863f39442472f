;;! # Host-side limits: a registry name longer than 4096 bytes makes
;;! # get_or_spawn fail with an error and `put` trap (that process only); a
;;! # process may have 65536 pending timers, the next send_after traps. The
;;! # root sees each child fail through its link and carries on.
;;! stdout: long-name get_or_spawn: 1
;;! stdout: long-name put, link died: 1
;;! stdout: timers set: 65536
;;! stdout: one more timer, link died: 1
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "get_or_spawn" (func $get_or_spawn (param i32 i32 i64 i64 i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "die_when_link_dies" (func $trap_links (param i32)))
  (import "lunatic::process" "process_id" (func $pid (result i64)))
  (import "lunatic::registry" "put" (func $put (param i32 i32 i64 i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::timer" "send_after" (func $send_after (param i64 i64) (result i64)))
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
  (data (i32.const 256) "long-name get_or_spawn: \00")
  (data (i32.const 281) "long_put\00")
  (data (i32.const 290) "long-name put, link died: \00")
  (data (i32.const 317) "timers\00")
  (data (i32.const 324) "timers set: \00")
  (data (i32.const 337) "one more timer, link died: \00")
  (data (i32.const 365) "still running\n\00")

  (func (export "long_put")
    (call $put (i32.const 8192) (i32.const 5000) (i64.const 0) (call $pid)))
  (func (export "timers")
    (local $i i32)
    (loop $more
      (call $create_data (i64.const 0) (i64.const 0))
      (drop (call $send_after (i64.const 1) (i64.const -1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (local.get $i) (i32.const 65536))
        (then (call $say (i32.const 324) (i64.extend_i32_u (local.get $i)))))
      (br $more)))
  (func (export "_start")
    (call $trap_links (i32.const 0))
    (call $say (i32.const 256) (i64.extend_i32_u
      (call $get_or_spawn (i32.const 8192) (i32.const 5000) (i64.const 0) (i64.const -1) (i64.const -1)
        (i32.const 281) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 1032))))
    (drop (call $spawn (i64.const 3) (i64.const -1) (i64.const -1) (i32.const 281) (i32.const 8)
      (i32.const 0) (i32.const 0) (i32.const 1024)))
    (call $say (i32.const 290) (i64.extend_i32_u
      (call $receive (i32.const 0) (i32.const 0) (i64.const 5000))))
    (drop (call $spawn (i64.const 4) (i64.const -1) (i64.const -1) (i32.const 317) (i32.const 6)
      (i32.const 0) (i32.const 0) (i32.const 1024)))
    (call $say (i32.const 337) (i64.extend_i32_u
      (call $receive (i32.const 0) (i32.const 0) (i64.const 20000))))
    (call $puts (i32.const 365)))
)
