;;! # Huge guest timeouts (u64::MAX - 1, 2^63 and i64::MAX milliseconds: values,
;;! # not "none") on every networking call that takes one, under the
;;! # deterministic scheduler: the deadline arithmetic must not overflow and
;;! # panic (which would abort the whole runtime), and calls that can complete
;;! # do so at once. Each line: the call, the timeout, the status (0 ok; 1 for
;;! # tls_connect, whose closed port refuses the connection).
;;! flags: --deterministic=1
;;! stdout: tcp_bind: 0
;;! stdout: udp_bind: 0
;;! stdout: tcp_connect, timeout u64::MAX - 1: 0
;;! stdout: tcp_accept, timeout u64::MAX - 1: 0
;;! stdout: tcp_write_vectored, timeout u64::MAX - 1: 0
;;! stdout: tcp_peek, timeout u64::MAX - 1: 0
;;! stdout: tcp_read, timeout u64::MAX - 1: 0
;;! stdout: resolve, timeout u64::MAX - 1: 0
;;! stdout: tls_connect to a closed port, timeout u64::MAX - 1: 1
;;! stdout: udp_connect, timeout u64::MAX - 1: 0
;;! stdout: tcp_connect, timeout 2^63: 0
;;! stdout: tcp_accept, timeout 2^63: 0
;;! stdout: tcp_write_vectored, timeout 2^63: 0
;;! stdout: tcp_peek, timeout 2^63: 0
;;! stdout: tcp_read, timeout 2^63: 0
;;! stdout: resolve, timeout 2^63: 0
;;! stdout: tls_connect to a closed port, timeout 2^63: 1
;;! stdout: udp_connect, timeout 2^63: 0
;;! stdout: tcp_connect, timeout i64::MAX: 0
;;! stdout: tcp_accept, timeout i64::MAX: 0
;;! stdout: tcp_write_vectored, timeout i64::MAX: 0
;;! stdout: tcp_peek, timeout i64::MAX: 0
;;! stdout: tcp_read, timeout i64::MAX: 0
;;! stdout: resolve, timeout i64::MAX: 0
;;! stdout: tls_connect to a closed port, timeout i64::MAX: 1
;;! stdout: udp_connect, timeout i64::MAX: 0
;;! stdout: still running
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_local_addr" (func $udp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_accept" (func $tcp_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_read" (func $tcp_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_peek" (func $tcp_peek (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "set_read_timeout" (func $set_read_timeout (param i64 i64)))
  (import "lunatic::networking" "set_peek_timeout" (func $set_peek_timeout (param i64 i64)))
  (import "lunatic::networking" "set_write_timeout" (func $set_write_timeout (param i64 i64)))
  (import "lunatic::networking" "resolve" (func $resolve (param i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_connect" (func $udp_connect (param i64 i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Memory: 0..8 iovec for fd_write; 64.. digits; 200 TCP listener; 208
  ;; client stream; 216 server stream; 224 the listener's port; 232 UDP
  ;; socket; 240 its port; 248 out values; 256 peer iterator; 300.. address
  ;; parts; 2048.. texts; 4096 127.0.0.1; 4112 an I/O vector of "x";
  ;; 4200 "127.0.0.1:80"; 4220 "127.0.0.1"; 4352 "x"; 8192 read buffer.
  (data (i32.const 4096) "\7f\00\00\01")
  (data (i32.const 4112) "\00\11\00\00\01\00\00\00")
  (data (i32.const 4200) "127.0.0.1:80")
  (data (i32.const 4220) "127.0.0.1")
  (data (i32.const 4352) "x")
  (data (i32.const 2048) "tcp_connect\00")
  (data (i32.const 2060) "tcp_accept\00")
  (data (i32.const 2071) "tcp_write_vectored\00")
  (data (i32.const 2090) "tcp_peek\00")
  (data (i32.const 2099) "tcp_read\00")
  (data (i32.const 2108) "resolve\00")
  (data (i32.const 2116) "tls_connect to a closed port\00")
  (data (i32.const 2145) "udp_connect\00")
  (data (i32.const 2157) "tcp_bind\00")
  (data (i32.const 2166) "udp_bind\00")
  (data (i32.const 2175) ", timeout \00")
  (data (i32.const 2186) ": \00")
  (data (i32.const 2189) "still running\0a\00")
  (data (i32.const 2204) "u64::MAX - 1\00")
  (data (i32.const 2217) "2^63\00")
  (data (i32.const 2222) "i64::MAX\00")

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
  ;; $status(n): n in decimal (0..99999) and a newline
  (func $status (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 80))
    (i32.store8 (i32.const 80) (i32.const 10))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (call $write (local.get $p) (i32.sub (i32.const 81) (local.get $p))))
  ;; $say(call, timeout, status): "<call>, timeout <timeout>: <status>"
  (func $say (param $call i32) (param $timeout i32) (param $n i32)
    (call $puts (local.get $call))
    (call $puts (i32.const 2175))
    (call $puts (local.get $timeout))
    (call $puts (i32.const 2186))
    (call $status (local.get $n)))
  ;; $plain(text, status): "<text>: <status>"
  (func $plain (param $text i32) (param $n i32)
    (call $puts (local.get $text))
    (call $puts (i32.const 2186))
    (call $status (local.get $n)))

  (func (export "_start")
    (call $plain (i32.const 2157) (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 200)))
    (if (call $tcp_local_addr (i64.load (i32.const 200)) (i32.const 248)) (then unreachable))
    (if (call $resolve_next (i64.load (i32.const 248)) (i32.const 300) (i32.const 304) (i32.const 224) (i32.const 320) (i32.const 324)) (then unreachable))
    (call $plain (i32.const 2166) (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 232)))
    (if (call $udp_local_addr (i64.load (i32.const 232)) (i32.const 248)) (then unreachable))
    (if (call $resolve_next (i64.load (i32.const 248)) (i32.const 300) (i32.const 304) (i32.const 240) (i32.const 320) (i32.const 324)) (then unreachable))
    (call $say (i32.const 2048) (i32.const 2204) (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const -2) (i32.const 208)))
    (call $say (i32.const 2060) (i32.const 2204) (call $tcp_accept (i64.load (i32.const 200)) (i32.const 216) (i32.const 256)))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const -2))
    (call $say (i32.const 2071) (i32.const 2204) (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 4112) (i32.const 1) (i32.const 248)))
    (call $set_peek_timeout (i64.load (i32.const 216)) (i64.const -2))
    (call $say (i32.const 2090) (i32.const 2204) (call $tcp_peek (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $set_read_timeout (i64.load (i32.const 216)) (i64.const -2))
    (call $say (i32.const 2099) (i32.const 2204) (call $tcp_read (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $say (i32.const 2108) (i32.const 2204) (call $resolve (i32.const 4200) (i32.const 12) (i64.const -2) (i32.const 248)))
    (call $say (i32.const 2116) (i32.const 2204) (call $tls_connect (i32.const 4220) (i32.const 9) (i32.const 1) (i64.const -2) (i32.const 248) (i32.const 0) (i32.const 0)))
    (call $say (i32.const 2145) (i32.const 2204) (call $udp_connect (i64.load (i32.const 232)) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 240)) (i32.const 0) (i32.const 0) (i64.const -2) (i32.const 248)))
    (call $say (i32.const 2048) (i32.const 2217) (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const 0x8000000000000000) (i32.const 208)))
    (call $say (i32.const 2060) (i32.const 2217) (call $tcp_accept (i64.load (i32.const 200)) (i32.const 216) (i32.const 256)))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 0x8000000000000000))
    (call $say (i32.const 2071) (i32.const 2217) (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 4112) (i32.const 1) (i32.const 248)))
    (call $set_peek_timeout (i64.load (i32.const 216)) (i64.const 0x8000000000000000))
    (call $say (i32.const 2090) (i32.const 2217) (call $tcp_peek (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $set_read_timeout (i64.load (i32.const 216)) (i64.const 0x8000000000000000))
    (call $say (i32.const 2099) (i32.const 2217) (call $tcp_read (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $say (i32.const 2108) (i32.const 2217) (call $resolve (i32.const 4200) (i32.const 12) (i64.const 0x8000000000000000) (i32.const 248)))
    (call $say (i32.const 2116) (i32.const 2217) (call $tls_connect (i32.const 4220) (i32.const 9) (i32.const 1) (i64.const 0x8000000000000000) (i32.const 248) (i32.const 0) (i32.const 0)))
    (call $say (i32.const 2145) (i32.const 2217) (call $udp_connect (i64.load (i32.const 232)) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 240)) (i32.const 0) (i32.const 0) (i64.const 0x8000000000000000) (i32.const 248)))
    (call $say (i32.const 2048) (i32.const 2222) (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const 0x7fffffffffffffff) (i32.const 208)))
    (call $say (i32.const 2060) (i32.const 2222) (call $tcp_accept (i64.load (i32.const 200)) (i32.const 216) (i32.const 256)))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 0x7fffffffffffffff))
    (call $say (i32.const 2071) (i32.const 2222) (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 4112) (i32.const 1) (i32.const 248)))
    (call $set_peek_timeout (i64.load (i32.const 216)) (i64.const 0x7fffffffffffffff))
    (call $say (i32.const 2090) (i32.const 2222) (call $tcp_peek (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $set_read_timeout (i64.load (i32.const 216)) (i64.const 0x7fffffffffffffff))
    (call $say (i32.const 2099) (i32.const 2222) (call $tcp_read (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $say (i32.const 2108) (i32.const 2222) (call $resolve (i32.const 4200) (i32.const 12) (i64.const 0x7fffffffffffffff) (i32.const 248)))
    (call $say (i32.const 2116) (i32.const 2222) (call $tls_connect (i32.const 4220) (i32.const 9) (i32.const 1) (i64.const 0x7fffffffffffffff) (i32.const 248) (i32.const 0) (i32.const 0)))
    (call $say (i32.const 2145) (i32.const 2222) (call $udp_connect (i64.load (i32.const 232)) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 240)) (i32.const 0) (i32.const 0) (i64.const 0x7fffffffffffffff) (i32.const 248)))
    (call $puts (i32.const 2189)))
)
