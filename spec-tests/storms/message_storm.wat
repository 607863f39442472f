;; Message storm: the root sends M messages (argument 1, default 1 000 000)
;; of S bytes (argument 2, default 1024) as fast as it can to a receiver that
;; takes one message per millisecond. Unbounded, the queue would take over
;; 1 GiB; the receiver's max_mailbox_size (256 MiB by default) must stop it:
;; the first send over the limit kills the receiver ("mailbox overflow") and
;; later messages are dropped. The root then reports whether the receiver
;; still lives (a runtime without the limit: it kills it itself) and waits for
;; its monitor notice. spec-tests/storms/run bounds the peak RSS.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "exists" (func $exists (param i64) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  ;; 0..64 output scratch, 256.. strings, 1024 id out, 2048.. argv,
  ;; 4096.. the payload (up to 60 KiB).
  (memory (export "memory") 1)

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $puts (param $s i32)
    (local $e i32)
    (local.set $e (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $scan)))
    (call $write (local.get $s) (i32.sub (local.get $e) (local.get $s))))
  (func $print_i64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 48))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
        (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))
  (func $say (param $label i32) (param $n i64)
    (call $puts (local.get $label))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 256) "sent: \00")
  (data (i32.const 264) "receiver alive after the storm: \00")
  (data (i32.const 300) "receiver ended: \00")
  (data (i32.const 328) "no notice from the receiver\0a\00")
  (data (i32.const 360) "spawn failed\0a\00")
  (data (i32.const 600) "slow")

  (func $arg (param $index i32) (param $default i64) (result i64)
    (local $p i32) (local $n i64) (local $c i32)
    (drop (call $args_sizes_get (i32.const 8) (i32.const 12)))
    (if (i32.le_u (i32.load (i32.const 8)) (local.get $index)) (then (return (local.get $default))))
    (drop (call $args_get (i32.const 2048) (i32.const 2304)))
    (local.set $p (i32.load (i32.add (i32.const 2048) (i32.mul (local.get $index) (i32.const 4)))))
    (block $end
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $end (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10))
                               (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; The slow receiver: one message per millisecond, for ever.
  (func (export "slow")
    (loop $forever
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (call $sleep_ms (i64.const 1))
      (br $forever)))

  (func (export "_start")
    (local $m i64) (local $size i32) (local $i i64) (local $receiver i64) (local $alive i32)
    (local.set $m (call $arg (i32.const 1) (i64.const 1000000)))
    (local.set $size (i32.wrap_i64 (call $arg (i32.const 2) (i64.const 1024))))
    (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
          (i32.const 600) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 1024))
      (then (call $puts (i32.const 360)) (call $proc_exit (i32.const 1))))
    (local.set $receiver (i64.load (i32.const 1024)))
    (call $monitor (local.get $receiver))
    (loop $storm
      (call $create_data (i64.const 0) (i64.const 0))
      (drop (call $write_data (i32.const 4096) (local.get $size)))
      (drop (call $send (local.get $receiver)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $storm (i64.lt_u (local.get $i) (local.get $m))))
    (call $say (i32.const 256) (local.get $i))
    ;; let a pending overflow kill land
    (call $sleep_ms (i64.const 100))
    (local.set $alive (call $exists (local.get $receiver)))
    (call $say (i32.const 264) (i64.extend_i32_u (local.get $alive)))
    (if (local.get $alive) (then (call $kill (local.get $receiver))))
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 30000)) (i32.const 2))
      (then (call $puts (i32.const 328)) (call $proc_exit (i32.const 1))))
    (call $say (i32.const 300) (i64.extend_i32_u (i64.eq (call $get_process_id) (local.get $receiver)))))
)
