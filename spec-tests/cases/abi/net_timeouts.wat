;;! # Timeouts give 9027 and write nothing: the tls_connect timeout also covers
;;! # the handshake (here with a listener that never accepts, so nobody answers
;;! # the ClientHello); a zero read timeout still tries once.
;;! stdout: tcp_bind: 0
;;! stdout: tls_connect to a server that never answers, timeout 100 ms: 9027
;;! stdout: id pointer untouched: 99
;;! stdout: tcp_connect: 0
;;! stdout: tcp_read with a zero timeout and nothing to read: 9027
;;! stdout: still untouched: 99
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "set_read_timeout" (func $set_read_timeout (param i64 i64)))
  (import "lunatic::networking" "tcp_read" (func $tcp_read (param i64 i32 i32 i32) (result i32)))
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
  (data (i32.const 256) "tcp_bind: \00")
  (data (i32.const 267) "tls_connect to a server that never answers, timeout 100 ms: \00")
  (data (i32.const 328) "id pointer untouched: \00")
  (data (i32.const 351) "tcp_connect: \00")
  (data (i32.const 365) "tcp_read with a zero timeout and nothing to read: \00")
  (data (i32.const 416) "still untouched: \00")
  (data (i32.const 434) "127.0.0.1\00")
  (data (i32.const 4096) "\7f\00\00\01")
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_s (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4200))))
    (drop (call $tcp_local_addr (i64.load (i32.const 4200)) (i32.const 4208)))
    (drop (call $resolve_next (i64.load (i32.const 4208)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244)))
    (i64.store (i32.const 4400) (i64.const 99))
    (call $say (i32.const 267) (i64.extend_i32_s (call $tls_connect (i32.const 434) (i32.const 9) (i32.load16_u (i32.const 4236)) (i64.const 100) (i32.const 4400) (i32.const 0) (i32.const 0))))
    (call $say (i32.const 328) (i64.load (i32.const 4400)))
    (call $say (i32.const 351) (i64.extend_i32_s (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 4236)) (i32.const 0) (i32.const 0) (i64.const 1000) (i32.const 4300))))
    (call $set_read_timeout (i64.load (i32.const 4300)) (i64.const 0))
    (call $say (i32.const 365) (i64.extend_i32_s (call $tcp_read (i64.load (i32.const 4300)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $say (i32.const 416) (i64.load (i32.const 4400))))
)
