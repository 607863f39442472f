;;! # TCP stream write and peek timeouts with good and bad input. Good input
;;! # in the root process: timeouts start as u64::MAX (none, -1 as i64); 0 and
;;! # u64::MAX - 1 are values, not "none"; the peek timeout is separate from
;;! # the read timeout; a peek with nothing to read times out (9027, nothing
;;! # written); with a zero write timeout, writes into a connection nobody
;;! # reads eventually time out, and so do writes with a 50 ms one (bounded
;;! # loops; nothing is written on 9027), and a huge timeout does not stop a
;;! # write that can go through.
;;! # Bad input: each probe runs in its own linked child process, which gets
;;! # a clone of the client stream (message index 0) and takes it only when
;;! # needed. Unknown, dropped or moved IDs and IDs of another kind (TCP
;;! # listener, UDP socket) must kill that child only (abi.md 1.5); the root,
;;! # which catches link deaths, sees "killed" and goes on; stderr names each
;;! # failure. Timeouts are shared by every handle of a stream, also by one
;;! # that moved into another process.
;;! stdout: tcp_bind: 0
;;! stdout: tcp_connect: 0
;;! stdout: tcp_accept: 0
;;! stdout: write timeout at first: -1
;;! stdout: write timeout after set 250: 250
;;! stdout: write timeout after set 0: 0
;;! stdout: write timeout after set u64::MAX - 1: -2
;;! stdout: write timeout after set u64::MAX: -1
;;! stdout: peek timeout at first: -1
;;! stdout: peek timeout after set 30: 30
;;! stdout: read timeout is separate: -1
;;! stdout: tcp_peek with nothing to read: 9027
;;! stdout: out pointer untouched: 99
;;! stdout: peek timeout after set u64::MAX: -1
;;! stdout: writes with a zero timeout into a full connection, finally: 9027
;;! stdout: some writes went through first: 1
;;! stdout: out pointer untouched: 99
;;! stdout: writes with a 50 ms timeout into the full connection, finally: 9027
;;! stdout: out pointer untouched: 99
;;! stdout: write with a u64::MAX - 1 timeout the other way: 0
;;! stdout: written: 4
;;! stdout: set_write_timeout unknown ID: killed
;;! stdout: set_write_timeout after the stream moved: killed
;;! stdout: set_write_timeout of a TCP listener ID: killed
;;! stdout: set_write_timeout after drop: killed
;;! stdout: get_write_timeout unknown ID: killed
;;! stdout: get_write_timeout after drop: killed
;;! stdout: get_write_timeout after the stream moved: killed
;;! stdout: get_write_timeout of a UDP socket ID: killed
;;! stdout: get_peek_timeout unknown ID: killed
;;! stdout: get_peek_timeout after the stream moved: killed
;;! stdout: get_peek_timeout of a TCP listener ID: killed
;;! stdout: get_peek_timeout after drop: killed
;;! stdout: set_write_timeout 777 through a moved-in clone: returned 777
;;! stdout: get_peek_timeout through a moved-in clone: returned 55
;;! stdout: root sees the write timeout: 777
;;! stdout: still running
;;! stderr-contains: Process 2 failed, notifying: 1 links (unknown TCP stream ID 5)
;;! stderr-contains: Process 3 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 4 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 5 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 6 failed, notifying: 1 links (unknown TCP stream ID 6)
;;! stderr-contains: Process 7 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 8 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 9 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 10 failed, notifying: 1 links (unknown TCP stream ID 7)
;;! stderr-contains: Process 11 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 12 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-contains: Process 13 failed, notifying: 1 links (unknown TCP stream ID 0)
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_local_addr" (func $tcp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_accept" (func $tcp_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_peek" (func $tcp_peek (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_tcp_stream" (func $drop_tcp_stream (param i64)))
  (import "lunatic::networking" "clone_tcp_stream" (func $clone_tcp_stream (param i64) (result i64)))
  (import "lunatic::networking" "set_write_timeout" (func $set_write_timeout (param i64 i64)))
  (import "lunatic::networking" "get_write_timeout" (func $get_write_timeout (param i64) (result i64)))
  (import "lunatic::networking" "set_peek_timeout" (func $set_peek_timeout (param i64 i64)))
  (import "lunatic::networking" "get_peek_timeout" (func $get_peek_timeout (param i64) (result i64)))
  (import "lunatic::networking" "get_read_timeout" (func $get_read_timeout (param i64) (result i64)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "push_tcp_stream" (func $push_tcp_stream (param i64) (result i64)))
  (import "lunatic::message" "take_tcp_stream" (func $take_tcp_stream (param i64) (result i64)))
  (memory (export "memory") 1)

  ;; Memory: 0..64 output helpers; 64..98 spawn parameters; 100 "probe";
  ;; 128 receive tag; 136 child ID; 144 probe result; 160..512 out values;
  ;; 512 root texts; 2048 probe labels; 4096 127.0.0.1; 4104 "ping";
  ;; 4112 I/O vectors; 8192 read buffer. Writes into the full connection
  ;; send the whole memory (one vector {0, 65536}).

  ;; ---- output helpers ----
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
  ;; $nth(list, i): the i-th string of a list of NUL-terminated strings
  (func $nth (param $p i32) (param $i i32) (result i32)
    (block $found
      (loop $next
        (br_if $found (i32.eqz (local.get $i)))
        (loop $scan
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $scan (i32.load8_u (i32.sub (local.get $p) (i32.const 1)))))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $p))
  ;; $say(i, n): "<root text i><n>\n"
  (func $say (param $i i32) (param $n i64)
    (call $puts (call $nth (i32.const 512) (local.get $i)))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 100) "probe")
  (data (i32.const 4096) "\7f\00\00\01")
  (data (i32.const 4104) "ping")
  ;; I/O vectors: 4112 {"ping"}; 4120 the whole memory
  (data (i32.const 4112) "\08\10\00\00\04\00\00\00" "\00\00\00\00\00\00\01\00")

  (data (i32.const 512)
    "tcp_bind: \00"                                                   ;; 0
    "tcp_connect: \00"                                                ;; 1
    "tcp_accept: \00"                                                 ;; 2
    "write timeout at first: \00"                                     ;; 3
    "write timeout after set 250: \00"                                ;; 4
    "write timeout after set 0: \00"                                  ;; 5
    "write timeout after set u64::MAX - 1: \00"                       ;; 6
    "write timeout after set u64::MAX: \00"                           ;; 7
    "peek timeout at first: \00"                                      ;; 8
    "peek timeout after set 30: \00"                                  ;; 9
    "read timeout is separate: \00"                                   ;; 10
    "tcp_peek with nothing to read: \00"                              ;; 11
    "out pointer untouched: \00"                                      ;; 12
    "peek timeout after set u64::MAX: \00"                            ;; 13
    "writes with a zero timeout into a full connection, finally: \00" ;; 14
    "some writes went through first: \00"                             ;; 15
    "writes with a 50 ms timeout into the full connection, finally: \00" ;; 16
    "write with a u64::MAX - 1 timeout the other way: \00"            ;; 17
    "written: \00"                                                    ;; 18
    "root sees the write timeout: \00"                                ;; 19
    ": \00"                                                           ;; 20
    "killed\0a\00"                                                    ;; 21
    "returned \00"                                                    ;; 22
    "no answer\0a\00"                                                 ;; 23
    "still running\0a\00")                                            ;; 24

  ;; ---- probes: each runs in a child process ----
  (data (i32.const 2048)
    "set_write_timeout unknown ID\00"                          ;; 0
    "set_write_timeout after the stream moved\00"              ;; 1
    "set_write_timeout of a TCP listener ID\00"                ;; 2
    "set_write_timeout after drop\00"                          ;; 3
    "get_write_timeout unknown ID\00"                          ;; 4
    "get_write_timeout after drop\00"                          ;; 5
    "get_write_timeout after the stream moved\00"              ;; 6
    "get_write_timeout of a UDP socket ID\00"                  ;; 7
    "get_peek_timeout unknown ID\00"                           ;; 8
    "get_peek_timeout after the stream moved\00"               ;; 9
    "get_peek_timeout of a TCP listener ID\00"                 ;; 10
    "get_peek_timeout after drop\00"                           ;; 11
    "set_write_timeout 777 through a moved-in clone\00"        ;; 12
    "get_peek_timeout through a moved-in clone\00")            ;; 13
  (global $probes i32 (i32.const 14))

  (type $probe (func (result i64)))
  (table 14 funcref)
  (elem (i32.const 0) func $p0 $p1 $p2 $p3 $p4 $p5 $p6 $p7 $p8 $p9 $p10 $p11 $p12 $p13)

  ;; Child helpers. $stream(): the client stream (index 0 of the root's
  ;; message) as an ID in the child's own table.
  (func $stream (result i64) (call $take_tcp_stream (i64.const 0)))
  ;; $moved(): the stream's ID after it moved into a new message
  (func $moved (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_tcp_stream (local.get $s)))
    (local.get $s))
  ;; $dropped(): the stream's ID after drop_tcp_stream
  (func $dropped (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $drop_tcp_stream (local.get $s))
    (local.get $s))
  ;; $tcp_listener(): a new TCP listener (the child took no stream, so this
  ;; ID is unknown as a stream)
  (func $tcp_listener (result i64)
    (if (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160))
      (then unreachable))
    (i64.load (i32.const 160)))
  ;; $udp_socket(): a new UDP socket
  (func $udp_socket (result i64)
    (if (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160))
      (then unreachable))
    (i64.load (i32.const 160)))

  (func $p0 (result i64) (call $set_write_timeout (i64.const 5) (i64.const 10)) (i64.const 0))
  (func $p1 (result i64) (call $set_write_timeout (call $moved) (i64.const 10)) (i64.const 0))
  (func $p2 (result i64) (call $set_write_timeout (call $tcp_listener) (i64.const 10)) (i64.const 0))
  (func $p3 (result i64) (call $set_write_timeout (call $dropped) (i64.const -1)) (i64.const 0))
  (func $p4 (result i64) (call $get_write_timeout (i64.const 6)))
  (func $p5 (result i64) (call $get_write_timeout (call $dropped)))
  (func $p6 (result i64) (call $get_write_timeout (call $moved)))
  (func $p7 (result i64) (call $get_write_timeout (call $udp_socket)))
  (func $p8 (result i64) (call $get_peek_timeout (i64.const 7)))
  (func $p9 (result i64) (call $get_peek_timeout (call $moved)))
  (func $p10 (result i64) (call $get_peek_timeout (call $tcp_listener)))
  (func $p11 (result i64) (call $get_peek_timeout (call $dropped)))
  (func $p12 (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $set_write_timeout (local.get $s) (i64.const 777))
    (call $get_write_timeout (local.get $s)))
  (func $p13 (result i64) (call $get_peek_timeout (call $stream)))

  ;; The child: wait for the root's message, run probe $i, report its result
  ;; (tag 100 + $i). A trap ends the child before it reports.
  (func (export "probe") (param $i i32) (param $parent i64)
    (if (call $receive (i32.const 0) (i32.const 0) (i64.const 5000)) (then unreachable))
    (i64.store (i32.const 144) (call_indirect (type $probe) (local.get $i)))
    (call $create_data (i64.extend_i32_u (i32.add (i32.const 100) (local.get $i))) (i64.const 8))
    (drop (call $write_data (i32.const 144) (i32.const 8)))
    (drop (call $send (local.get $parent))))

  ;; $run_probe(i): spawn a child linked with tag 100 + i, send it a clone of
  ;; the client stream, print how it ended.
  (func $run_probe (param $i i32)
    (local $tag i64)
    (local $kind i32)
    (local.set $tag (i64.extend_i32_u (i32.add (i32.const 100) (local.get $i))))
    ;; parameters: i32 $i, i64 our process ID (17-byte records)
    (i32.store8 (i32.const 64) (i32.const 0x7f))
    (i64.store (i32.const 65) (i64.extend_i32_u (local.get $i)))
    (i64.store (i32.const 73) (i64.const 0))
    (i32.store8 (i32.const 81) (i32.const 0x7e))
    (i64.store (i32.const 82) (call $process_id))
    (i64.store (i32.const 90) (i64.const 0))
    (if (call $spawn (local.get $tag) (i64.const -1) (i64.const -1)
          (i32.const 100) (i32.const 5) (i32.const 64) (i32.const 34) (i32.const 136))
      (then unreachable))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_tcp_stream (call $clone_tcp_stream (i64.load (i32.const 208)))))
    (drop (call $send (i64.load (i32.const 136))))
    (i64.store (i32.const 128) (local.get $tag))
    (local.set $kind (call $receive (i32.const 128) (i32.const 1) (i64.const 5000)))
    (call $puts (call $nth (i32.const 2048) (local.get $i)))
    (call $puts (call $nth (i32.const 512) (i32.const 20)))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (call $puts (call $nth (i32.const 512) (i32.const 21)))))
    (if (i32.eqz (local.get $kind))
      (then
        (drop (call $read_data (i32.const 144) (i32.const 8)))
        (call $puts (call $nth (i32.const 512) (i32.const 22)))
        (call $print_i64 (i64.load (i32.const 144)))
        (call $write (i32.const 49) (i32.const 1))))
    (if (i32.eq (local.get $kind) (i32.const 9027))
      (then (call $puts (call $nth (i32.const 512) (i32.const 23))))))

  ;; Root values: 200 listener, 208 client stream C, 216 server stream S,
  ;; 224 its port, 248 out value, 256 iterators.
  (func (export "_start")
    (local $i i32)
    (local $status i32)
    (call $die_when_link_dies (i32.const 0))
    (call $say (i32.const 0) (i64.extend_i32_u (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 200))))
    (drop (call $tcp_local_addr (i64.load (i32.const 200)) (i32.const 256)))
    (if (call $resolve_next (i64.load (i32.const 256)) (i32.const 300) (i32.const 304) (i32.const 224) (i32.const 320) (i32.const 324))
      (then unreachable))
    (call $say (i32.const 1) (i64.extend_i32_u (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const 5000) (i32.const 208))))
    (call $say (i32.const 2) (i64.extend_i32_u (call $tcp_accept (i64.load (i32.const 200)) (i32.const 216) (i32.const 256))))

    ;; write timeout of C
    (call $say (i32.const 3) (call $get_write_timeout (i64.load (i32.const 208))))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 250))
    (call $say (i32.const 4) (call $get_write_timeout (i64.load (i32.const 208))))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 0))
    (call $say (i32.const 5) (call $get_write_timeout (i64.load (i32.const 208))))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const -2))
    (call $say (i32.const 6) (call $get_write_timeout (i64.load (i32.const 208))))
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const -1))
    (call $say (i32.const 7) (call $get_write_timeout (i64.load (i32.const 208))))

    ;; peek timeout of S
    (call $say (i32.const 8) (call $get_peek_timeout (i64.load (i32.const 216))))
    (call $set_peek_timeout (i64.load (i32.const 216)) (i64.const 30))
    (call $say (i32.const 9) (call $get_peek_timeout (i64.load (i32.const 216))))
    (call $say (i32.const 10) (call $get_read_timeout (i64.load (i32.const 216))))
    (i64.store (i32.const 248) (i64.const 99))
    (call $say (i32.const 11) (i64.extend_i32_u (call $tcp_peek (i64.load (i32.const 216)) (i32.const 8192) (i32.const 16) (i32.const 248))))
    (call $say (i32.const 12) (i64.load (i32.const 248)))
    (call $set_peek_timeout (i64.load (i32.const 216)) (i64.const -1))
    (call $say (i32.const 13) (call $get_peek_timeout (i64.load (i32.const 216))))

    ;; fill C -> S (nobody reads S) with a zero write timeout: each write
    ;; tries once; at most 4000 x 64 KiB
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 0))
    (local.set $i (i32.const 0))
    (block $full
      (loop $more
        (i64.store (i32.const 248) (i64.const 99))
        (local.set $status (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 4120) (i32.const 1) (i32.const 248)))
        (br_if $full (i32.ne (local.get $status) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 4000)))))
    (call $say (i32.const 14) (i64.extend_i32_u (local.get $status)))
    (call $say (i32.const 15) (i64.extend_i32_u (i32.gt_u (local.get $i) (i32.const 0))))
    (call $say (i32.const 12) (i64.load (i32.const 248)))
    ;; the kernel may still make room (buffers grow), so a 50 ms timeout may
    ;; let a few more writes through before one times out; at most 200
    (call $set_write_timeout (i64.load (i32.const 208)) (i64.const 50))
    (local.set $i (i32.const 0))
    (block $full
      (loop $more
        (i64.store (i32.const 248) (i64.const 99))
        (local.set $status (call $tcp_write_vectored (i64.load (i32.const 208)) (i32.const 4120) (i32.const 1) (i32.const 248)))
        (br_if $full (i32.ne (local.get $status) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 200)))))
    (call $say (i32.const 16) (i64.extend_i32_u (local.get $status)))
    (call $say (i32.const 12) (i64.load (i32.const 248)))
    ;; S -> C is empty: a huge timeout is just a timeout
    (call $set_write_timeout (i64.load (i32.const 216)) (i64.const -2))
    (call $say (i32.const 17) (i64.extend_i32_u (call $tcp_write_vectored (i64.load (i32.const 216)) (i32.const 4112) (i32.const 1) (i32.const 248))))
    (call $say (i32.const 18) (i64.load (i32.const 248)))

    ;; bad input, one child per probe; probe 13 reads this peek timeout
    (call $set_peek_timeout (i64.load (i32.const 208)) (i64.const 55))
    (local.set $i (i32.const 0))
    (loop $each
      (call $run_probe (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (global.get $probes))))

    ;; probe 12 set the write timeout through its handle
    (call $say (i32.const 19) (call $get_write_timeout (i64.load (i32.const 208))))
    (call $puts (call $nth (i32.const 512) (i32.const 24))))
)
