;;! # UDP sockets with good and bad input. Good input in the root process:
;;! # TTL and broadcast options (broadcast > 0 enables, so -1 disables), a
;;! # clone shares the socket and outlives a dropped handle, send/receive
;;! # between two sockets; sends the OS refuses give status 1 and the OS
;;! # error: to a closed port ("Connection refused", bounded retries: the ICMP
;;! # answer is asynchronous), on an unconnected socket, a datagram too large.
;;! # Bad input: each probe runs in its own linked child process, which gets
;;! # a clone of the connected socket (message index 0) and of the refused one
;;! # (index 1) and takes only what it needs. Unknown, dropped or moved IDs,
;;! # IDs of another kind, pointers out of bounds and OS errors of the socket
;;! # options must kill that child only (abi.md 1.5): the root, which catches
;;! # link deaths, sees "killed" (a kind-1 message with the probe's tag) and
;;! # goes on; stderr names each failure. Probes that must not trap return a
;;! # number instead.
;;! stdout: udp_bind: 0
;;! stdout: udp_bind (peer): 0
;;! stdout: udp_connect: 0
;;! stdout: ttl after set_udp_socket_ttl 77: 77
;;! stdout: broadcast at first: 0
;;! stdout: broadcast after set 2: 1
;;! stdout: broadcast after set -1: 0
;;! stdout: clone_udp_socket: 2
;;! stdout: ttl through the clone: 77
;;! stdout: ttl after dropping the clone: 77
;;! stdout: udp_send: 0
;;! stdout: sent: 4
;;! stdout: udp_receive_from: 0
;;! stdout: received: 4
;;! stdout: ping
;;! stdout: sender port is the socket's port: 1
;;! stdout: udp_send_to: 0
;;! stdout: udp_receive: 0
;;! stdout: received: 4
;;! stdout: pong
;;! stdout: udp_send to a closed port, finally: 1
;;! stdout: error: Connection refused (os error 111)
;;! stdout: udp_send on a socket that is not connected: 1
;;! stdout: error: Destination address required (os error 89)
;;! stdout: udp_send of 65536 bytes: 1
;;! stdout: error: Message too long (os error 90)
;;! stdout: drop_udp_socket unknown ID: killed
;;! stdout: drop_udp_socket twice: killed
;;! stdout: drop_udp_socket after the socket moved: killed
;;! stdout: drop_udp_socket of a TCP listener ID: killed
;;! stdout: udp_send unknown ID: killed
;;! stdout: udp_send buffer out of bounds: killed
;;! stdout: udp_send out pointer out of bounds: killed
;;! stdout: udp_send after the socket moved: killed
;;! stdout: udp_receive unknown ID: killed
;;! stdout: udp_receive buffer out of bounds: killed
;;! stdout: udp_receive buffer length wraps around: killed
;;! stdout: udp_receive out pointer out of bounds: killed
;;! stdout: udp_receive of a TCP listener ID: killed
;;! stdout: udp_receive_from unknown ID: killed
;;! stdout: udp_receive_from buffer out of bounds: killed
;;! stdout: udp_receive_from out pointer out of bounds: killed
;;! stdout: udp_receive_from peer pointer out of bounds: killed
;;! stdout: udp_receive_from after the socket moved: killed
;;! stdout: set_udp_socket_ttl unknown ID: killed
;;! stdout: set_udp_socket_ttl after the socket moved: killed
;;! stdout: set_udp_socket_ttl 0 (OS error): killed
;;! stdout: set_udp_socket_ttl 256 (OS error): killed
;;! stdout: get_udp_socket_ttl after drop: killed
;;! stdout: get_udp_socket_ttl after the socket moved: killed
;;! stdout: set_udp_socket_broadcast unknown ID: killed
;;! stdout: set_udp_socket_broadcast after the socket moved: killed
;;! stdout: get_udp_socket_broadcast unknown ID: killed
;;! stdout: get_udp_socket_broadcast after drop: killed
;;! stdout: clone_udp_socket unknown ID: killed
;;! stdout: clone_udp_socket after the socket moved: killed
;;! stdout: clone_udp_socket after drop: killed
;;! stdout: udp_receive on the refused socket (10 * send status + receive status): returned 1
;;! stdout: udp_receive_from on the refused socket (receive status + 10 if the peer pointer is untouched): returned 11
;;! stdout: ttl through a clone after the original moved: returned 77
;;! stdout: a socket taken from a message sends (status * 10 + bytes): returned 4
;;! stdout: udp_receive after the socket moved: killed
;;! stdout: the peer got it: 4
;;! stdout: ttl of the root's socket after all probes: 77
;;! stdout: still running
;;! stderr-contains: Process 2 failed, notifying: 1 links (unknown UDP socket ID 7)
;;! stderr-contains: Process 3 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 4 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 5 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 6 failed, notifying: 1 links (unknown UDP socket ID 9)
;;! stderr-contains: Process 7 failed, notifying: 1 links (memory access out of bounds: 100 bytes at 0xffdc)
;;! stderr-contains: Process 8 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfffc)
;;! stderr-contains: Process 9 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 10 failed, notifying: 1 links (unknown UDP socket ID 3)
;;! stderr-contains: Process 11 failed, notifying: 1 links (memory access out of bounds: 1000 bytes at 0xfde8)
;;! stderr-contains: Process 12 failed, notifying: 1 links (memory access out of bounds: 4294967295 bytes at 0x2000)
;;! stderr-contains: Process 13 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xffff)
;;! stderr-contains: Process 14 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 15 failed, notifying: 1 links (unknown UDP socket ID 12)
;;! stderr-contains: Process 16 failed, notifying: 1 links (memory access out of bounds: 64 bytes at 0xfff0)
;;! stderr-contains: Process 17 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0x10000)
;;! stderr-contains: Process 18 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfff9)
;;! stderr-contains: Process 19 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 20 failed, notifying: 1 links (unknown UDP socket ID 4)
;;! stderr-contains: Process 21 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 22 failed, notifying: 1 links (UDP socket option: Invalid argument (os error 22))
;;! stderr-contains: Process 23 failed, notifying: 1 links (UDP socket option: Invalid argument (os error 22))
;;! stderr-contains: Process 24 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 25 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 26 failed, notifying: 1 links (unknown UDP socket ID 5)
;;! stderr-contains: Process 27 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 28 failed, notifying: 1 links (unknown UDP socket ID 6)
;;! stderr-contains: Process 29 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 30 failed, notifying: 1 links (unknown UDP socket ID 8)
;;! stderr-contains: Process 31 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 32 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-contains: Process 37 failed, notifying: 1 links (unknown UDP socket ID 0)
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_local_addr" (func $udp_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "udp_connect" (func $udp_connect (param i64 i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "udp_send" (func $udp_send (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_send_to" (func $udp_send_to (param i64 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_receive" (func $udp_receive (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "udp_receive_from" (func $udp_receive_from (param i64 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_udp_socket" (func $drop_udp_socket (param i64)))
  (import "lunatic::networking" "clone_udp_socket" (func $clone_udp_socket (param i64) (result i64)))
  (import "lunatic::networking" "set_udp_socket_ttl" (func $set_udp_socket_ttl (param i64 i32)))
  (import "lunatic::networking" "get_udp_socket_ttl" (func $get_udp_socket_ttl (param i64) (result i32)))
  (import "lunatic::networking" "set_udp_socket_broadcast" (func $set_udp_socket_broadcast (param i64 i32)))
  (import "lunatic::networking" "get_udp_socket_broadcast" (func $get_udp_socket_broadcast (param i64) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "push_udp_socket" (func $push_udp_socket (param i64) (result i64)))
  (import "lunatic::message" "take_udp_socket" (func $take_udp_socket (param i64) (result i64)))
  (import "lunatic::error" "string_size" (func $string_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $to_string (param i64 i32)))
  (import "lunatic::error" "drop" (func $error_drop (param i64)))
  (memory (export "memory") 1)

  ;; Memory: 0..64 output helpers; 64..98 spawn parameters; 100 "probe";
  ;; 128 receive tag; 136 child ID; 144 probe result; 160..512 out values;
  ;; 512 root texts; 2048 probe labels; 4096 127.0.0.1; 4104 "ping";
  ;; 4108 "pong"; 6144 probe 34's result; 8192 receive buffer; 12288 error
  ;; text.

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
  ;; $print_error(id): "error: <text>\n", then error::drop
  (func $print_error (param $id i64)
    (local $n i32)
    (local.set $n (call $string_size (local.get $id)))
    (call $to_string (local.get $id) (i32.const 12288))
    (call $write (i32.const 12281) (i32.add (local.get $n) (i32.const 7)))
    (call $write (i32.const 49) (i32.const 1))
    (call $error_drop (local.get $id)))
  (data (i32.const 48) "-\n")
  (data (i32.const 12281) "error: ")
  (data (i32.const 100) "probe")
  (data (i32.const 4096) "\7f\00\00\01")
  (data (i32.const 4104) "pingpong")

  (data (i32.const 512)
    "udp_bind: \00"                                    ;; 0
    "udp_bind (peer): \00"                             ;; 1
    "udp_connect: \00"                                 ;; 2
    "ttl after set_udp_socket_ttl 77: \00"             ;; 3
    "broadcast at first: \00"                          ;; 4
    "broadcast after set 2: \00"                       ;; 5
    "broadcast after set -1: \00"                      ;; 6
    "clone_udp_socket: \00"                            ;; 7
    "ttl through the clone: \00"                       ;; 8
    "ttl after dropping the clone: \00"                ;; 9
    "udp_send: \00"                                    ;; 10
    "sent: \00"                                        ;; 11
    "udp_receive_from: \00"                            ;; 12
    "received: \00"                                    ;; 13
    "sender port is the socket's port: \00"            ;; 14
    "udp_send_to: \00"                                 ;; 15
    "udp_receive: \00"                                 ;; 16
    "udp_send to a closed port, finally: \00"          ;; 17
    "the peer got it: \00"                             ;; 18
    "ttl of the root's socket after all probes: \00"   ;; 19
    ": \00"                                            ;; 20
    "killed\0a\00"                                     ;; 21
    "returned \00"                                     ;; 22
    "no answer\0a\00"                                  ;; 23
    "still running\0a\00"                              ;; 24
    "udp_send on a socket that is not connected: \00"  ;; 25
    "udp_send of 65536 bytes: \00")                    ;; 26

  ;; ---- probes: each runs in a child process ----
  (data (i32.const 2048)
    "drop_udp_socket unknown ID\00"                                   ;; 0
    "drop_udp_socket twice\00"                                        ;; 1
    "drop_udp_socket after the socket moved\00"                       ;; 2
    "drop_udp_socket of a TCP listener ID\00"                         ;; 3
    "udp_send unknown ID\00"                                          ;; 4
    "udp_send buffer out of bounds\00"                                ;; 5
    "udp_send out pointer out of bounds\00"                           ;; 6
    "udp_send after the socket moved\00"                              ;; 7
    "udp_receive unknown ID\00"                                       ;; 8
    "udp_receive buffer out of bounds\00"                             ;; 9
    "udp_receive buffer length wraps around\00"                       ;; 10
    "udp_receive out pointer out of bounds\00"                        ;; 11
    "udp_receive of a TCP listener ID\00"                             ;; 12
    "udp_receive_from unknown ID\00"                                  ;; 13
    "udp_receive_from buffer out of bounds\00"                        ;; 14
    "udp_receive_from out pointer out of bounds\00"                   ;; 15
    "udp_receive_from peer pointer out of bounds\00"                  ;; 16
    "udp_receive_from after the socket moved\00"                      ;; 17
    "set_udp_socket_ttl unknown ID\00"                                ;; 18
    "set_udp_socket_ttl after the socket moved\00"                    ;; 19
    "set_udp_socket_ttl 0 (OS error)\00"                              ;; 20
    "set_udp_socket_ttl 256 (OS error)\00"                            ;; 21
    "get_udp_socket_ttl after drop\00"                                ;; 22
    "get_udp_socket_ttl after the socket moved\00"                    ;; 23
    "set_udp_socket_broadcast unknown ID\00"                          ;; 24
    "set_udp_socket_broadcast after the socket moved\00"              ;; 25
    "get_udp_socket_broadcast unknown ID\00"                          ;; 26
    "get_udp_socket_broadcast after drop\00"                          ;; 27
    "clone_udp_socket unknown ID\00"                                  ;; 28
    "clone_udp_socket after the socket moved\00"                      ;; 29
    "clone_udp_socket after drop\00"                                  ;; 30
    "udp_receive on the refused socket (10 * send status + receive status)\00"  ;; 31
    "udp_receive_from on the refused socket (receive status + 10 if the peer pointer is untouched)\00"  ;; 32
    "ttl through a clone after the original moved\00"                 ;; 33
    "a socket taken from a message sends (status * 10 + bytes)\00"    ;; 34
    "udp_receive after the socket moved\00")                          ;; 35
  (global $probes i32 (i32.const 36))

  (type $probe (func (result i64)))
  (table 36 funcref)
  (elem (i32.const 0) func
    $p0 $p1 $p2 $p3 $p4 $p5 $p6 $p7 $p8 $p9 $p10 $p11 $p12 $p13 $p14 $p15 $p16 $p17
    $p18 $p19 $p20 $p21 $p22 $p23 $p24 $p25 $p26 $p27 $p28 $p29 $p30 $p31 $p32 $p33 $p34 $p35)

  ;; Child helpers: the connected socket (index 0 of the root's message) and
  ;; the refused one (index 1) as IDs in the child's own table.
  (func $sock (result i64) (call $take_udp_socket (i64.const 0)))
  (func $refused (result i64) (call $take_udp_socket (i64.const 1)))
  ;; $moved(): the connected socket's ID after it moved into a new message
  (func $moved (result i64)
    (local $s i64)
    (local.set $s (call $sock))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_udp_socket (local.get $s)))
    (local.get $s))
  ;; $dropped(): the connected socket's ID after drop_udp_socket
  (func $dropped (result i64)
    (local $s i64)
    (local.set $s (call $sock))
    (call $drop_udp_socket (local.get $s))
    (local.get $s))
  ;; $tcp_listener(): the ID of a new TCP listener (the child has no UDP
  ;; socket, so this ID is unknown as a UDP socket)
  (func $tcp_listener (result i64)
    (if (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160))
      (then unreachable))
    (i64.load (i32.const 160)))

  (func $p0 (result i64) (call $drop_udp_socket (i64.const 7)) (i64.const 0))
  (func $p1 (result i64) (call $drop_udp_socket (call $dropped)) (i64.const 0))
  (func $p2 (result i64) (call $drop_udp_socket (call $moved)) (i64.const 0))
  (func $p3 (result i64) (call $drop_udp_socket (call $tcp_listener)) (i64.const 0))
  (func $p4 (result i64)
    (i64.extend_i32_u (call $udp_send (i64.const 9) (i32.const 4104) (i32.const 4) (i32.const 160))))
  (func $p5 (result i64)
    (i64.extend_i32_u (call $udp_send (call $sock) (i32.const 65500) (i32.const 100) (i32.const 160))))
  (func $p6 (result i64)
    (i64.extend_i32_u (call $udp_send (call $sock) (i32.const 4104) (i32.const 4) (i32.const 65532))))
  (func $p7 (result i64)
    (i64.extend_i32_u (call $udp_send (call $moved) (i32.const 4104) (i32.const 4) (i32.const 160))))
  (func $p8 (result i64)
    (i64.extend_i32_u (call $udp_receive (i64.const 3) (i32.const 8192) (i32.const 64) (i32.const 160))))
  (func $p9 (result i64)
    (i64.extend_i32_u (call $udp_receive (call $sock) (i32.const 65000) (i32.const 1000) (i32.const 160))))
  (func $p10 (result i64)
    (i64.extend_i32_u (call $udp_receive (call $sock) (i32.const 8192) (i32.const -1) (i32.const 160))))
  (func $p11 (result i64)
    (i64.extend_i32_u (call $udp_receive (call $sock) (i32.const 8192) (i32.const 64) (i32.const 65535))))
  (func $p12 (result i64)
    (i64.extend_i32_u (call $udp_receive (call $tcp_listener) (i32.const 8192) (i32.const 64) (i32.const 160))))
  (func $p13 (result i64)
    (i64.extend_i32_u (call $udp_receive_from (i64.const 12) (i32.const 8192) (i32.const 64) (i32.const 160) (i32.const 168))))
  (func $p14 (result i64)
    (i64.extend_i32_u (call $udp_receive_from (call $sock) (i32.const 65520) (i32.const 64) (i32.const 160) (i32.const 168))))
  (func $p15 (result i64)
    (i64.extend_i32_u (call $udp_receive_from (call $sock) (i32.const 8192) (i32.const 64) (i32.const 65536) (i32.const 168))))
  (func $p16 (result i64)
    (i64.extend_i32_u (call $udp_receive_from (call $sock) (i32.const 8192) (i32.const 64) (i32.const 160) (i32.const 65529))))
  (func $p17 (result i64)
    (i64.extend_i32_u (call $udp_receive_from (call $moved) (i32.const 8192) (i32.const 64) (i32.const 160) (i32.const 168))))
  (func $p18 (result i64) (call $set_udp_socket_ttl (i64.const 4) (i32.const 64)) (i64.const 0))
  (func $p19 (result i64) (call $set_udp_socket_ttl (call $moved) (i32.const 64)) (i64.const 0))
  (func $p20 (result i64) (call $set_udp_socket_ttl (call $sock) (i32.const 0)) (i64.const 0))
  (func $p21 (result i64) (call $set_udp_socket_ttl (call $sock) (i32.const 256)) (i64.const 0))
  (func $p22 (result i64) (i64.extend_i32_u (call $get_udp_socket_ttl (call $dropped))))
  (func $p23 (result i64) (i64.extend_i32_u (call $get_udp_socket_ttl (call $moved))))
  (func $p24 (result i64) (call $set_udp_socket_broadcast (i64.const 5) (i32.const 1)) (i64.const 0))
  (func $p25 (result i64) (call $set_udp_socket_broadcast (call $moved) (i32.const 1)) (i64.const 0))
  (func $p26 (result i64) (i64.extend_i32_u (call $get_udp_socket_broadcast (i64.const 6))))
  (func $p27 (result i64) (i64.extend_i32_u (call $get_udp_socket_broadcast (call $dropped))))
  (func $p28 (result i64) (call $clone_udp_socket (i64.const 8)))
  (func $p29 (result i64) (call $clone_udp_socket (call $moved)))
  (func $p30 (result i64) (call $clone_udp_socket (call $dropped)))
  ;; The refused socket: a send succeeds, the port's "unreachable" answer
  ;; then fails the receive (the socket is connected, so it gets the error).
  (func $p31 (result i64)
    (local $s i64)
    (local $sent i32)
    (local.set $s (call $refused))
    (local.set $sent (call $udp_send (local.get $s) (i32.const 4104) (i32.const 4) (i32.const 160)))
    (i64.extend_i32_u
      (i32.add (i32.mul (local.get $sent) (i32.const 10))
        (call $udp_receive (local.get $s) (i32.const 8192) (i32.const 64) (i32.const 160)))))
  (func $p32 (result i64)
    (local $s i64)
    (local $status i32)
    (local.set $s (call $refused))
    (drop (call $udp_send (local.get $s) (i32.const 4104) (i32.const 4) (i32.const 160)))
    (i64.store (i32.const 168) (i64.const 99))
    (local.set $status
      (call $udp_receive_from (local.get $s) (i32.const 8192) (i32.const 64) (i32.const 160) (i32.const 168)))
    (i64.extend_i32_u
      (i32.add (local.get $status)
        (i32.mul (i64.eq (i64.load (i32.const 168)) (i64.const 99)) (i32.const 10)))))
  ;; Moving one handle leaves its clone usable.
  (func $p33 (result i64)
    (local $s i64)
    (local $c i64)
    (local.set $s (call $sock))
    (local.set $c (call $clone_udp_socket (local.get $s)))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_udp_socket (local.get $s)))
    (i64.extend_i32_u (call $get_udp_socket_ttl (local.get $c))))
  (func $p34 (result i64)
    (i64.add
      (i64.mul (i64.extend_i32_u (call $udp_send (call $sock) (i32.const 4104) (i32.const 4) (i32.const 160)))
        (i64.const 10))
      (i64.load (i32.const 160))))
  (func $p35 (result i64)
    (i64.extend_i32_u (call $udp_receive (call $moved) (i32.const 8192) (i32.const 64) (i32.const 160))))

  ;; The child: wait for the root's message, run probe $i, report its result
  ;; (tag 100 + $i). A trap ends the child before it reports.
  (func (export "probe") (param $i i32) (param $parent i64)
    (if (call $receive (i32.const 0) (i32.const 0) (i64.const 5000)) (then unreachable))
    (i64.store (i32.const 144) (call_indirect (type $probe) (local.get $i)))
    (call $create_data (i64.extend_i32_u (i32.add (i32.const 100) (local.get $i))) (i64.const 8))
    (drop (call $write_data (i32.const 144) (i32.const 8)))
    (drop (call $send (local.get $parent))))

  ;; $run_probe(i): spawn a child linked with tag 100 + i, send it clones of
  ;; both sockets, print how it ended.
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
    (drop (call $push_udp_socket (call $clone_udp_socket (i64.load (i32.const 200)))))
    (drop (call $push_udp_socket (call $clone_udp_socket (i64.load (i32.const 216)))))
    (drop (call $send (i64.load (i32.const 136))))
    (i64.store (i32.const 128) (local.get $tag))
    (local.set $kind (call $receive (i32.const 128) (i32.const 1) (i64.const 5000)))
    (i64.store (i32.const 144) (i64.const -1))
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
    ;; probe 34's result (-1 unless it returned) for the root
    (if (i32.eq (local.get $i) (i32.const 34))
      (then (i64.store (i32.const 6144) (i64.load (i32.const 144)))))
    (if (i32.eq (local.get $kind) (i32.const 9027))
      (then (call $puts (call $nth (i32.const 512) (i32.const 23))))))

  ;; $port(iterator, at): the port of a one-address DNS iterator, stored at `at`
  (func $port (param $iter i64) (param $at i32)
    (if (call $resolve_next (local.get $iter) (i32.const 300) (i32.const 304) (local.get $at) (i32.const 320) (i32.const 324))
      (then unreachable)))

  ;; Root values: 200 socket S, 208 peer P, 216 refused socket C, 224..240
  ;; ports of S, P and the closed port, 248 out value, 256 peer iterator.
  (func (export "_start")
    (local $i i32)
    (local $status i32)
    (call $die_when_link_dies (i32.const 0))
    (call $say (i32.const 0) (i64.extend_i32_u (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 200))))
    (call $say (i32.const 1) (i64.extend_i32_u (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 208))))
    (drop (call $udp_local_addr (i64.load (i32.const 200)) (i32.const 248)))
    (call $port (i64.load (i32.const 248)) (i32.const 224))
    (drop (call $udp_local_addr (i64.load (i32.const 208)) (i32.const 248)))
    (call $port (i64.load (i32.const 248)) (i32.const 232))
    (call $say (i32.const 2) (i64.extend_i32_u (call $udp_connect (i64.load (i32.const 200)) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 232)) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 248))))

    ;; socket options, clones
    (call $set_udp_socket_ttl (i64.load (i32.const 200)) (i32.const 77))
    (call $say (i32.const 3) (i64.extend_i32_u (call $get_udp_socket_ttl (i64.load (i32.const 200)))))
    (call $say (i32.const 4) (i64.extend_i32_u (call $get_udp_socket_broadcast (i64.load (i32.const 200)))))
    (call $set_udp_socket_broadcast (i64.load (i32.const 200)) (i32.const 2))
    (call $say (i32.const 5) (i64.extend_i32_u (call $get_udp_socket_broadcast (i64.load (i32.const 200)))))
    (call $set_udp_socket_broadcast (i64.load (i32.const 200)) (i32.const -1))
    (call $say (i32.const 6) (i64.extend_i32_u (call $get_udp_socket_broadcast (i64.load (i32.const 200)))))
    (i64.store (i32.const 264) (call $clone_udp_socket (i64.load (i32.const 200))))
    (call $say (i32.const 7) (i64.load (i32.const 264)))
    (call $say (i32.const 8) (i64.extend_i32_u (call $get_udp_socket_ttl (i64.load (i32.const 264)))))
    (call $drop_udp_socket (i64.load (i32.const 264)))
    (call $say (i32.const 9) (i64.extend_i32_u (call $get_udp_socket_ttl (i64.load (i32.const 200)))))

    ;; S -> P with udp_send, P -> S with udp_send_to
    (call $say (i32.const 10) (i64.extend_i32_u (call $udp_send (i64.load (i32.const 200)) (i32.const 4104) (i32.const 4) (i32.const 248))))
    (call $say (i32.const 11) (i64.load (i32.const 248)))
    (call $say (i32.const 12) (i64.extend_i32_u (call $udp_receive_from (i64.load (i32.const 208)) (i32.const 8192) (i32.const 64) (i32.const 248) (i32.const 256))))
    (call $say (i32.const 13) (i64.load (i32.const 248)))
    (call $write (i32.const 8192) (i32.wrap_i64 (i64.load (i32.const 248))))
    (call $write (i32.const 49) (i32.const 1))
    (call $port (i64.load (i32.const 256)) (i32.const 240))
    (call $say (i32.const 14) (i64.extend_i32_u (i32.eq (i32.load16_u (i32.const 240)) (i32.load16_u (i32.const 224)))))
    (call $say (i32.const 15) (i64.extend_i32_u (call $udp_send_to (i64.load (i32.const 208)) (i32.const 4108) (i32.const 4) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i32.const 248))))
    (call $say (i32.const 16) (i64.extend_i32_u (call $udp_receive (i64.load (i32.const 200)) (i32.const 8192) (i32.const 64) (i32.const 248))))
    (call $say (i32.const 13) (i64.load (i32.const 248)))
    (call $write (i32.const 8192) (i32.wrap_i64 (i64.load (i32.const 248))))
    (call $write (i32.const 49) (i32.const 1))

    ;; C: connected to a port nobody listens on (bound, then dropped)
    (drop (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 248)))
    (drop (call $udp_local_addr (i64.load (i32.const 248)) (i32.const 256)))
    (call $port (i64.load (i32.const 256)) (i32.const 240))
    (call $drop_udp_socket (i64.load (i32.const 248)))
    (drop (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 216)))
    (drop (call $udp_connect (i64.load (i32.const 216)) (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 240)) (i32.const 0) (i32.const 0) (i64.const -1) (i32.const 248)))
    ;; the first send goes out; a later one reports the ICMP answer
    (local.set $i (i32.const 0))
    (block $refused
      (loop $retry
        (local.set $status (call $udp_send (i64.load (i32.const 216)) (i32.const 4104) (i32.const 4) (i32.const 248)))
        (br_if $refused (i32.ne (local.get $status) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $refused (i32.eq (local.get $i) (i32.const 200)))
        (call $sleep_ms (i64.const 5))
        (br $retry)))
    (call $say (i32.const 17) (i64.extend_i32_u (local.get $status)))
    (if (i32.eq (local.get $status) (i32.const 1))
      (then (call $print_error (i64.load (i32.const 248)))))

    ;; sends the OS refuses: no peer to send to, a datagram too large
    (local.set $status (call $udp_send (i64.load (i32.const 208)) (i32.const 4104) (i32.const 4) (i32.const 248)))
    (call $say (i32.const 25) (i64.extend_i32_u (local.get $status)))
    (if (i32.eq (local.get $status) (i32.const 1))
      (then (call $print_error (i64.load (i32.const 248)))))
    (local.set $status (call $udp_send (i64.load (i32.const 200)) (i32.const 0) (i32.const 65536) (i32.const 248)))
    (call $say (i32.const 26) (i64.extend_i32_u (local.get $status)))
    (if (i32.eq (local.get $status) (i32.const 1))
      (then (call $print_error (i64.load (i32.const 248)))))

    ;; bad input, one child per probe
    (local.set $i (i32.const 0))
    (loop $each
      (call $run_probe (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (global.get $probes))))

    ;; probe 34 sent "ping" from the shared socket S to P; only wait for it
    ;; if it says so
    (i64.store (i32.const 248) (i64.const 0))
    (if (i64.eq (i64.load (i32.const 6144)) (i64.const 4))
      (then (drop (call $udp_receive (i64.load (i32.const 208)) (i32.const 8192) (i32.const 64) (i32.const 248)))))
    (call $say (i32.const 18) (i64.load (i32.const 248)))
    (call $say (i32.const 19) (i64.extend_i32_u (call $get_udp_socket_ttl (i64.load (i32.const 200)))))
    (call $puts (call $nth (i32.const 512) (i32.const 24))))
)
