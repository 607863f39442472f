;; The HTTPS twin of server.wat for spec-tests/hot/handover --tls: binds
;; 127.0.0.1 on the port given as its first argument with the certificate
;; and key the script puts in place of CERT and KEY (their lengths in place
;; of CERT_LEN and KEY_LEN), answers every request with the body at 512.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "lunatic::networking" "tls_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_accept" (func $tcp_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_read" (func $tcp_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_tls_stream" (func $drop_tcp_stream (param i64)))
  (memory (export "memory") 1)
  ;; 0..16: scratch; 16..20: 127.0.0.1; 32..64: argv pointers; 64..256: argv
  ;; bytes; 256..: the response; 1024..: request buffer.
  (data (i32.const 16) "\7f\00\00\01")
  (data (i32.const 256) "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
  (data (i32.const 512) "v1")
  (data (i32.const 16384) "CERT")
  (data (i32.const 20480) "KEY")
  (func $port (result i32)
    (local $p i32) (local $n i32) (local $c i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 32) (i32.const 64)))
    ;; argv[1]
    (local.set $p (i32.load (i32.const 36)))
    (block $done
      (loop $digits
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digits)))
    (local.get $n))
  (func (export "_start")
    (local $listener i64) (local $stream i64)
    (if (call $tcp_bind (i32.const 4) (i32.const 16) (call $port) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16384) (i32.const CERT_LEN) (i32.const 20480) (i32.const KEY_LEN))
      (then unreachable))
    (local.set $listener (i64.load (i32.const 0)))
    (loop $serve
      (if (i32.eqz (call $tcp_accept (local.get $listener) (i32.const 0) (i32.const 8)))
        (then
          (local.set $stream (i64.load (i32.const 0)))
          (drop (call $tcp_read (local.get $stream) (i32.const 1024) (i32.const 4096) (i32.const 0)))
          ;; iovecs at 0: the header (57 bytes at 256), then the body.
          (i32.store (i32.const 0) (i32.const 256))
          (i32.store (i32.const 4) (i32.const 57))
          (i32.store (i32.const 8) (i32.const 512))
          (i32.store (i32.const 12) (i32.const 2))
          (drop (call $tcp_write_vectored (local.get $stream) (i32.const 0) (i32.const 2) (i32.const 24)))
          (call $drop_tcp_stream (local.get $stream))))
      (br $serve)))
)
