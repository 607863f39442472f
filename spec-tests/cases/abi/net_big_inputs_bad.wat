;;! # Oversized inputs to networking calls are bounded before the host spends
;;! # memory or time on them: a resolve name or tls_connect host longer than
;;! # 1024 bytes is an error (status 1; the 2 MiB name is not copied); more than
;;! # 256 CA records is an error; a 2 MiB UDP datagram fails to send (status 1)
;;! # without being copied whole; a write of 2000 one-byte I/O vectors takes the
;;! # first 1024 (a write may be partial); and a 2 MiB certificate PEM makes
;;! # tls_bind trap (exit 101 for the root process) instead of being parsed.
;;! stdout: resolve of a 2 MiB name: 1
;;! stdout: tls_connect to a 2 MiB host name: 1
;;! stdout: tls_connect with 300 CA records: 1
;;! stdout: udp_send_to of 2 MiB: 1
;;! stdout: tcp_write_vectored of 2000 one-byte vectors, written: 1024
;;! exit: 101
;;! stderr-contains: TLS certificate or key PEM too long (2097152 and 10 bytes
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "resolve" (func $resolve (param i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_bind" (func $tls_bind (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_send_to" (func $udp_send_to (param i64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  ;; 64 pages = 4 MiB
  (memory (export "memory") 64)

  ;; Memory: 0..8 iovec for fd_write; 64.. digits; 200 TCP listener; 208
  ;; client stream; 224 the listener's port; 232 UDP socket; 248 out value;
  ;; 300.. address parts; 512 texts; 4096 127.0.0.1; 8192.. I/O vectors
  ;; (2000 x 8 bytes) and CA records (300 x 8 bytes, same area);
  ;; 1 MiB..3 MiB: 2 MiB of "a" (a name, a datagram, a "certificate").
  (data (i32.const 4096) "\7f\00\00\01")
  (data (i32.const 4104) "key PEM..\0a")
  (data (i32.const 512)
    "resolve of a 2 MiB name: \00"                                    ;; 0
    "tls_connect to a 2 MiB host name: \00"                           ;; 1
    "tls_connect with 300 CA records: \00"                            ;; 2
    "udp_send_to of 2 MiB: \00"                                       ;; 3
    "tcp_write_vectored of 2000 one-byte vectors, written: \00")      ;; 4

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; $nth(base, i): address of the i-th NUL-terminated text from base
  (func $nth (param $p i32) (param $i i32) (result i32)
    (block $done
      (loop $skip
        (br_if $done (i32.eqz (local.get $i)))
        (loop $scan
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $scan (i32.load8_u (i32.sub (local.get $p) (i32.const 1)))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $skip)))
    (local.get $p))
  (func $puts (param $s i32)
    (local $e i32)
    (local.set $e (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $scan)))
    (call $write (local.get $s) (i32.sub (local.get $e) (local.get $s))))
  ;; $say(i, n): text i, then n in decimal and a newline
  (func $say (param $i i32) (param $n i32)
    (local $p i32)
    (call $puts (call $nth (i32.const 512) (local.get $i)))
    (local.set $p (i32.const 80))
    (i32.store8 (i32.const 80) (i32.const 10))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $write (local.get $p) (i32.sub (i32.const 81) (local.get $p))))

  (func (export "_start")
    (local $i i32)
    (memory.fill (i32.const 0x100000) (i32.const 97) (i32.const 0x200000))
    (call $say (i32.const 0) (call $resolve (i32.const 0x100000) (i32.const 0x200000) (i64.const -1) (i32.const 248)))
    (call $say (i32.const 1) (call $tls_connect (i32.const 0x100000) (i32.const 0x200000) (i32.const 443) (i64.const 5000) (i32.const 248) (i32.const 0) (i32.const 0)))
    (call $say (i32.const 2) (call $tls_connect (i32.const 4096) (i32.const 4) (i32.const 443) (i64.const 5000) (i32.const 248) (i32.const 8192) (i32.const 300)))
    (if (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 232)) (then unreachable))
    (call $say (i32.const 3) (call $udp_send_to (i64.load (i32.const 232)) (i32.const 0x100000) (i32.const 0x200000) (i32.const 4) (i32.const 4096) (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 248)))
    ;; a TCP connection to our own listener; nobody reads, 1024 bytes fit
    (if (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 200)) (then unreachable))
    (if (call $tcp_local_addr (i64.load (i32.const 200)) (i32.const 248)) (then unreachable))
    (if (call $resolve_next (i64.load (i32.const 248)) (i32.const 300) (i32.const 304) (i32.const 224) (i32.const 320) (i32.const 324)) (then unreachable))
    (if (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const 5000) (i32.const 208)) (then unreachable))
    (local.set $i (i32.const 0))
    (loop $vec
      (i32.store (i32.add (i32.const 8192) (i32.mul (local.get $i) (i32.const 8))) (i32.const 0x100000))
      (i32.store (i32.add (i32.const 8196) (i32.mul (local.get $i) (i32.const 8))) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $vec (i32.lt_u (local.get $i) (i32.const 2000))))
    (if (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 8192) (i32.const 2000) (i32.const 248)) (then unreachable))
    (call $say (i32.const 4) (i32.wrap_i64 (i64.load (i32.const 248))))
    ;; a 2 MiB "certificate": trap
    (drop (call $tls_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 248)
      (i32.const 0x100000) (i32.const 0x200000) (i32.const 4104) (i32.const 10))))
)
