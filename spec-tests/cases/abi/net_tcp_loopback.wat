;;! # TCP over loopback inside one process: bind on port 0, read the bound
;;! # address from a DNS iterator, connect, accept, vectored write, peek (the
;;! # data stays), read, read/peek timeouts (9027), flush, clone, move the
;;! # accepted stream through a message to ourselves and keep using it, and see
;;! # the end of stream once every handle of the server side is dropped.
;;! stdout: tcp_bind: 0
;;! stdout: listener id: 0
;;! stdout: tcp_local_addr: 0
;;! stdout: resolve_next: 0
;;! stdout: address type: 4
;;! stdout: first address byte: 127
;;! stdout: port is set: 1
;;! stdout: resolve_next at the end: 1
;;! stdout: tcp_connect: 0
;;! stdout: tcp_accept: 0
;;! stdout: client stream id: 0
;;! stdout: server stream id: 1
;;! stdout: tcp_peer_addr: 0
;;! stdout: tcp_write_vectored: 0
;;! stdout: written: 4
;;! stdout: tcp_peek: 0
;;! stdout: peeked: 4
;;! stdout: tcp_read: 0
;;! stdout: read: 4
;;! stdout: ping
;;! stdout: read timeout: 30
;;! stdout: tcp_read with nothing to read: 9027
;;! stdout: tcp_peek with nothing to read: 9027
;;! stdout: read timeout cleared: -1
;;! stdout: tcp_flush: 0
;;! stdout: tcp_flush wrote: 0
;;! stdout: clone_tcp_stream: 2
;;! stdout: push_tcp_stream: 0
;;! stdout: send to self: 0
;;! stdout: receive: 0
;;! stdout: take_tcp_stream: 3
;;! stdout: write through the client: 0
;;! stdout: read through the moved stream: 0
;;! stdout: pong
;;! stdout: client read after the server's last handle is gone: 0
;;! stdout: bytes (0 = end of stream): 0
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_dns_iterator" (func $drop_dns_iterator (param i64)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_accept" (func $tcp_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_peer_addr" (func $tcp_peer_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_peek" (func $tcp_peek (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_read" (func $tcp_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "set_read_timeout" (func $set_read_timeout (param i64 i64)))
  (import "lunatic::networking" "get_read_timeout" (func $get_read_timeout (param i64) (result i64)))
  (import "lunatic::networking" "set_peek_timeout" (func $set_peek_timeout (param i64 i64)))
  (import "lunatic::networking" "tcp_flush" (func $tcp_flush (param i64 i32) (result i32)))
  (import "lunatic::networking" "clone_tcp_stream" (func $clone_tcp_stream (param i64) (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "push_tcp_stream" (func $push_tcp_stream (param i64) (result i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "take_tcp_stream" (func $take_tcp_stream (param i64) (result i64)))
  (import "lunatic::networking" "drop_tcp_stream" (func $drop_tcp_stream (param i64)))
  (import "lunatic::networking" "drop_tcp_listener" (func $drop_tcp_listener (param i64)))
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
  (data (i32.const 267) "listener id: \00")
  (data (i32.const 281) "tcp_local_addr: \00")
  (data (i32.const 298) "resolve_next: \00")
  (data (i32.const 313) "address type: \00")
  (data (i32.const 328) "first address byte: \00")
  (data (i32.const 349) "port is set: \00")
  (data (i32.const 363) "resolve_next at the end: \00")
  (data (i32.const 389) "tcp_connect: \00")
  (data (i32.const 403) "tcp_accept: \00")
  (data (i32.const 416) "client stream id: \00")
  (data (i32.const 435) "server stream id: \00")
  (data (i32.const 454) "tcp_peer_addr: \00")
  (data (i32.const 470) "tcp_write_vectored: \00")
  (data (i32.const 491) "written: \00")
  (data (i32.const 501) "tcp_peek: \00")
  (data (i32.const 512) "peeked: \00")
  (data (i32.const 521) "tcp_read: \00")
  (data (i32.const 532) "read: \00")
  (data (i32.const 539) "read timeout: \00")
  (data (i32.const 554) "tcp_read with nothing to read: \00")
  (data (i32.const 586) "tcp_peek with nothing to read: \00")
  (data (i32.const 618) "read timeout cleared: \00")
  (data (i32.const 641) "tcp_flush: \00")
  (data (i32.const 653) "tcp_flush wrote: \00")
  (data (i32.const 671) "clone_tcp_stream: \00")
  (data (i32.const 690) "push_tcp_stream: \00")
  (data (i32.const 708) "send to self: \00")
  (data (i32.const 723) "receive: \00")
  (data (i32.const 733) "take_tcp_stream: \00")
  (data (i32.const 751) "write through the client: \00")
  (data (i32.const 778) "read through the moved stream: \00")
  (data (i32.const 810) "client read after the server's last handle is gone: \00")
  (data (i32.const 863) "bytes (0 = end of stream): \00")
  (data (i32.const 4096) "\7f\00\00\01")
  ;; two I/O vectors "pi" + "ng", one for "pong"
  (data (i32.const 4500) "\f8\11\00\00\02\00\00\00\fa\11\00\00\02\00\00\00")
  (data (i32.const 4600) "ping")
  (data (i32.const 4700) "\70\12\00\00\04\00\00\00")
  (data (i32.const 4720) "pong")
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_s (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4200))))
    (call $say (i32.const 267) (i64.load (i32.const 4200)))
    (call $say (i32.const 281) (i64.extend_i32_s (call $tcp_local_addr (i64.load (i32.const 4200)) (i32.const 4208))))
    (call $say (i32.const 298) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4208)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $say (i32.const 313) (i64.load32_u (i32.const 4216)))
    (call $say (i32.const 328) (i64.load8_u (i32.const 4220)))
    (call $say (i32.const 349) (i64.extend_i32_u (i32.ne (i32.load16_u (i32.const 4236)) (i32.const 0))))
    (call $say (i32.const 363) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4208)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $drop_dns_iterator (i64.load (i32.const 4208)))
    (call $say (i32.const 389) (i64.extend_i32_s (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 4236)) (i32.const 0) (i32.const 0) (i64.const 5000) (i32.const 4300))))
    (call $say (i32.const 403) (i64.extend_i32_s (call $tcp_accept (i64.load (i32.const 4200)) (i32.const 4308) (i32.const 4316))))
    (call $say (i32.const 416) (i64.load (i32.const 4300)))
    (call $say (i32.const 435) (i64.load (i32.const 4308)))
    (call $say (i32.const 454) (i64.extend_i32_s (call $tcp_peer_addr (i64.load (i32.const 4300)) (i32.const 4400))))
    (call $say (i32.const 470) (i64.extend_i32_s (call $tcp_write_vectored (i64.load (i32.const 4300)) (i32.const 4500) (i32.const 2) (i32.const 4400))))
    (call $say (i32.const 491) (i64.load (i32.const 4400)))
    (call $say (i32.const 501) (i64.extend_i32_s (call $tcp_peek (i64.load (i32.const 4308)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $say (i32.const 512) (i64.load (i32.const 4400)))
    (call $say (i32.const 521) (i64.extend_i32_s (call $tcp_read (i64.load (i32.const 4308)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $say (i32.const 532) (i64.load (i32.const 4400)))
    (call $write (i32.const 8192) (i32.const 4)) (call $write (i32.const 49) (i32.const 1))
    (call $set_read_timeout (i64.load (i32.const 4308)) (i64.const 30))
    (call $say (i32.const 539) (call $get_read_timeout (i64.load (i32.const 4308))))
    (call $say (i32.const 554) (i64.extend_i32_s (call $tcp_read (i64.load (i32.const 4308)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $set_peek_timeout (i64.load (i32.const 4308)) (i64.const 0))
    (call $say (i32.const 586) (i64.extend_i32_s (call $tcp_peek (i64.load (i32.const 4308)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $set_read_timeout (i64.load (i32.const 4308)) (i64.const -1))
    (call $say (i32.const 618) (call $get_read_timeout (i64.load (i32.const 4308))))
    (i64.store (i32.const 4400) (i64.const 99))
    (call $say (i32.const 641) (i64.extend_i32_s (call $tcp_flush (i64.load (i32.const 4300)) (i32.const 4400))))
    (call $say (i32.const 653) (i64.load (i32.const 4400)))
    (call $say (i32.const 671) (call $clone_tcp_stream (i64.load (i32.const 4308))))
    (call $create_data (i64.const 0) (i64.const 0))
    (call $say (i32.const 690) (call $push_tcp_stream (i64.load (i32.const 4308))))
    (call $say (i32.const 708) (i64.extend_i32_s (call $send (call $process_id))))
    (call $say (i32.const 723) (i64.extend_i32_s (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (i64.store (i32.const 4324) (call $take_tcp_stream (i64.const 0)))
    (call $say (i32.const 733) (i64.load (i32.const 4324)))
    (call $say (i32.const 751) (i64.extend_i32_s (call $tcp_write_vectored (i64.load (i32.const 4300)) (i32.const 4700) (i32.const 1) (i32.const 4400))))
    (call $say (i32.const 778) (i64.extend_i32_s (call $tcp_read (i64.load (i32.const 4324)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $write (i32.const 8192) (i32.wrap_i64 (i64.load (i32.const 4400)))) (call $write (i32.const 49) (i32.const 1))
    (call $drop_tcp_stream (i64.const 2)) (call $drop_tcp_stream (i64.load (i32.const 4324)))
    (call $set_read_timeout (i64.load (i32.const 4300)) (i64.const 5000))
    (call $say (i32.const 810) (i64.extend_i32_s (call $tcp_read (i64.load (i32.const 4300)) (i32.const 8192) (i32.const 16) (i32.const 4400))))
    (call $say (i32.const 863) (i64.load (i32.const 4400)))
    (call $drop_tcp_stream (i64.load (i32.const 4300))) (call $drop_tcp_listener (i64.load (i32.const 4200))))
)
