;;! # --deterministic: sleep_ms(-1) (u64::MAX ms) a thousand times drives
;;! # virtual time past what the clocks can show; reading them saturates
;;! # (u64::MAX ns) instead of panicking the runtime (it aborted, status 134).
;;! flags: --deterministic
;;! stdout: realtime: 0
;;! stdout: realtime is u64::MAX: 1
;;! stdout: monotonic: 0
;;! stdout: monotonic is u64::MAX: 1
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
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
  (data (i32.const 256) "realtime: \00")
  (data (i32.const 267) "realtime is u64::MAX: \00")
  (data (i32.const 290) "monotonic: \00")
  (data (i32.const 302) "monotonic is u64::MAX: \00")
  (data (i32.const 326) "still running\n\00")

  (func (export "_start")
    (local $i i32)
    (loop $again
      (call $sleep (i64.const -1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000))))
    (call $say (i32.const 256) (i64.extend_i32_u (call $clock (i32.const 0) (i64.const 1) (i32.const 1024))))
    (call $say (i32.const 267) (i64.extend_i32_u (i64.eq (i64.load (i32.const 1024)) (i64.const -1))))
    (call $say (i32.const 290) (i64.extend_i32_u (call $clock (i32.const 1) (i64.const 1) (i32.const 1024))))
    (call $say (i32.const 302) (i64.extend_i32_u (i64.eq (i64.load (i32.const 1024)) (i64.const -1))))
    (call $puts (i32.const 326)))
)
