;;! # Fallible networking calls report failures as status 1 + an error ID
;;! # whose text is the OS error (or says what was wrong): a port in use, a
;;! # refused connection (TCP and TLS), CA records without a certificate, an
;;! # invalid TLS server name, names without a valid port; udp_peer_addr says 1
;;! # (not connected) before udp_connect, which writes 0.
;;! stdout-contains: tcp_bind: 0
;;! stdout-contains: tcp_bind on the same port: 1
;;! stdout-contains: error: Address already in use
;;! stdout-contains: tcp_connect to the closed port: 1
;;! stdout-contains: error: Connection refused
;;! stdout-contains: tls_connect to the closed port: 1
;;! stdout-contains: error: Connection refused
;;! stdout-contains: tls_connect with a CA record holding no certificate: 1
;;! stdout-contains: error: none of the 1 CA certificates given holds a usable PEM certificate
;;! stdout-contains: tls_connect to an invalid server name: 1
;;! stdout-contains: error: invalid TLS server name
;;! stdout-contains: resolve without a port: 1
;;! stdout-contains: error: invalid socket address
;;! stdout-contains: resolve with a bad port: 1
;;! stdout-contains: error: invalid port value
;;! stdout-contains: udp_bind: 0
;;! stdout-contains: udp_bind on the same port: 1
;;! stdout-contains: error: Address already in use
;;! stdout-contains: udp_peer_addr before connect: 1
;;! stdout-contains: udp_connect: 0
;;! stdout-contains: udp_connect wrote: 0
;;! stdout-contains: udp_peer_addr after connect: 0
;;! stdout-contains: peer port: 9
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_local_addr" (func $udp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "resolve" (func $resolve (param i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_tcp_listener" (func $drop_tcp_listener (param i64)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_peer_addr" (func $udp_peer_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_connect" (func $udp_connect (param i64 i32 i32 i32 i32 i32 i64 i32) (result i32)))
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
  (data (i32.const 256) "tcp_bind: \00")
  (data (i32.const 267) "tcp_bind on the same port: \00")
  (data (i32.const 295) "error: \00")
  (data (i32.const 303) "tcp_connect to the closed port: \00")
  (data (i32.const 336) "error: \00")
  (data (i32.const 344) "tls_connect to the closed port: \00")
  (data (i32.const 377) "error: \00")
  (data (i32.const 385) "tls_connect with a CA record holding no certificate: \00")
  (data (i32.const 439) "error: \00")
  (data (i32.const 447) "tls_connect to an invalid server name: \00")
  (data (i32.const 487) "error: \00")
  (data (i32.const 495) "resolve without a port: \00")
  (data (i32.const 520) "error: \00")
  (data (i32.const 528) "resolve with a bad port: \00")
  (data (i32.const 554) "error: \00")
  (data (i32.const 562) "udp_bind: \00")
  (data (i32.const 573) "udp_bind on the same port: \00")
  (data (i32.const 601) "error: \00")
  (data (i32.const 609) "udp_peer_addr before connect: \00")
  (data (i32.const 640) "udp_connect: \00")
  (data (i32.const 654) "udp_connect wrote: \00")
  (data (i32.const 674) "udp_peer_addr after connect: \00")
  (data (i32.const 704) "peer port: \00")
  (data (i32.const 716) "localhost\00")
  (data (i32.const 726) "bad name\00")
  (data (i32.const 735) "localhost:65536\00")
  (data (i32.const 4096) "\7f\00\00\01")
  ;; one CA record {ptr, len} pointing at text that holds no certificate
  (data (i32.const 4500) "\00\12\00\00\05\00\00\00")
  (data (i32.const 4608) "hello")
  ;; $print_error(id): the error's text and a newline, then error::drop
  (func $print_error (param $id i64)
    (local $n i32)
    (local.set $n (call $string_size (local.get $id)))
    (call $to_string (local.get $id) (i32.const 8192))
    (call $write (i32.const 8192) (local.get $n))
    (call $write (i32.const 49) (i32.const 1))
    (call $error_drop (local.get $id)))
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_s (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4200))))
    (drop (call $tcp_local_addr (i64.load (i32.const 4200)) (i32.const 4208)))
    (drop (call $resolve_next (i64.load (i32.const 4208)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244)))
    (call $say (i32.const 267) (i64.extend_i32_s (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 4236)) (i32.const 0) (i32.const 0) (i32.const 4400))))
    (call $puts (i32.const 295)) (call $print_error (i64.load (i32.const 4400)))
    (call $drop_tcp_listener (i64.load (i32.const 4200)))
    (call $say (i32.const 303) (i64.extend_i32_s (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 4236)) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 4400))))
    (call $puts (i32.const 336)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 344) (i64.extend_i32_s (call $tls_connect (i32.const 716) (i32.const 9) (i32.load16_u (i32.const 4236)) (i64.const -1) (i32.const 4400) (i32.const 0) (i32.const 0))))
    (call $puts (i32.const 377)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 385) (i64.extend_i32_s (call $tls_connect (i32.const 716) (i32.const 9) (i32.load16_u (i32.const 4236)) (i64.const -1) (i32.const 4400) (i32.const 4500) (i32.const 1))))
    (call $puts (i32.const 439)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 447) (i64.extend_i32_s (call $tls_connect (i32.const 726) (i32.const 8) (i32.load16_u (i32.const 4236)) (i64.const -1) (i32.const 4400) (i32.const 0) (i32.const 0))))
    (call $puts (i32.const 487)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 495) (i64.extend_i32_s (call $resolve (i32.const 716) (i32.const 9) (i64.const -1) (i32.const 4400))))
    (call $puts (i32.const 520)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 528) (i64.extend_i32_s (call $resolve (i32.const 735) (i32.const 15) (i64.const -1) (i32.const 4400))))
    (call $puts (i32.const 554)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 562) (i64.extend_i32_s (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4300))))
    (drop (call $udp_local_addr (i64.load (i32.const 4300)) (i32.const 4208)))
    (drop (call $resolve_next (i64.load (i32.const 4208)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244)))
    (call $say (i32.const 573) (i64.extend_i32_s (call $udp_bind (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 4236)) (i32.const 0) (i32.const 0) (i32.const 4400))))
    (call $puts (i32.const 601)) (call $print_error (i64.load (i32.const 4400)))
    (call $say (i32.const 609) (i64.extend_i32_s (call $udp_peer_addr (i64.load (i32.const 4300)) (i32.const 4400))))
    (i64.store (i32.const 4400) (i64.const 99))
    (call $say (i32.const 640) (i64.extend_i32_s (call $udp_connect (i64.load (i32.const 4300)) (i32.const 4) (i32.const 4096) (i32.const 9) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 4400))))
    (call $say (i32.const 654) (i64.load (i32.const 4400)))
    (call $say (i32.const 674) (i64.extend_i32_s (call $udp_peer_addr (i64.load (i32.const 4300)) (i32.const 4400))))
    (drop (call $resolve_next (i64.load (i32.const 4400)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244)))
    (call $say (i32.const 704) (i64.load16_u (i32.const 4236))))
)
