;;! # TLS streams with good and bad input. Good input in the root process: a
;;! # listener with a certificate from the guest survives a plain-TCP client
;;! # whose handshake fails: the host answers it with a TLS alert and closes
;;! # it, and tls_accept never sees it (the original traps in tls_accept, this
;;! # runtime runs handshakes host-side), then accepts a child's client, which
;;! # trusts that certificate and sends its stream back in a message, so the
;;! # root holds both ends: read/write timeouts (u64::MAX = none, 0 is a
;;! # value), a read that times out (9027, nothing written), a vectored write,
;;! # flush (writes 0) and read; later, writes with a zero timeout into a
;;! # connection nobody reads end with 9027, and once the server's last handle
;;! # is dropped the client's writes or flushes fail with status 1 (bounded
;;! # loops).
;;! # Bad input: each probe runs in its own linked child process, which gets
;;! # a clone of the server stream (message index 0) and takes it only when
;;! # needed. Unknown, dropped or moved IDs, IDs of another kind (TCP
;;! # listener, UDP socket) and pointers out of bounds must kill that child
;;! # only (abi.md 1.5): the root, which catches link deaths, sees "killed"
;;! # and goes on; stderr names each failure. Timeouts set through a handle
;;! # that moved into a child are seen by the root (one shared stream).
;;! stdout: tls_bind: 0
;;! stdout: listener id: 0
;;! stdout: tls_local_addr: 0
;;! stdout: port is set: 1
;;! stdout: plain TCP client connects and writes: 0
;;! stdout: tcp_read of the server's answer: 0
;;! stdout: it is a TLS alert (content type 21): 1
;;! stdout: then the server closes the connection, read: 0
;;! stdout: tls_accept: 0
;;! stdout: server stream id: 0
;;! stdout: peer port is set: 1
;;! stdout: receive the client's stream: 0
;;! stdout: take_tls_stream: 1
;;! stdout: read timeout at first: -1
;;! stdout: write timeout at first: -1
;;! stdout: read timeout after set 30: 30
;;! stdout: tls_read with nothing to read: 9027
;;! stdout: out pointer untouched: 99
;;! stdout: read timeout after set u64::MAX: -1
;;! stdout: write timeout after set 0: 0
;;! stdout: write timeout after set 2000: 2000
;;! stdout: tls_write_vectored: 0
;;! stdout: written: 4
;;! stdout: tls_write_vectored of no vectors: 0
;;! stdout: written: 0
;;! stdout: tls_flush: 0
;;! stdout: tls_flush wrote: 0
;;! stdout: tls_read: 0
;;! stdout: read: 4
;;! stdout: ping
;;! stdout: tls_local_addr unknown listener ID: killed
;;! stdout: tls_local_addr id pointer out of bounds: killed
;;! stdout: tls_local_addr of a TCP listener ID: killed
;;! stdout: tls_local_addr after drop_tls_listener: killed
;;! stdout: tls_accept unknown listener ID: killed
;;! stdout: tls_accept id pointer out of bounds: killed
;;! stdout: tls_accept peer pointer out of bounds: killed
;;! stdout: tls_accept of a TCP listener ID: killed
;;! stdout: drop_tls_stream unknown ID: killed
;;! stdout: drop_tls_stream twice: killed
;;! stdout: drop_tls_stream after the stream moved: killed
;;! stdout: drop_tls_stream of a UDP socket ID: killed
;;! stdout: tls_write_vectored unknown ID: killed
;;! stdout: tls_write_vectored vector array out of bounds: killed
;;! stdout: tls_write_vectored vector out of bounds: killed
;;! stdout: tls_write_vectored vector count wraps around: killed
;;! stdout: tls_write_vectored out pointer out of bounds: killed
;;! stdout: tls_write_vectored after the stream moved: killed
;;! stdout: tls_read unknown ID: killed
;;! stdout: tls_read buffer out of bounds: killed
;;! stdout: tls_read out pointer out of bounds: killed
;;! stdout: tls_read after the stream moved: killed
;;! stdout: tls_read of a UDP socket ID: killed
;;! stdout: set_tls_read_timeout unknown ID: killed
;;! stdout: set_tls_read_timeout after the stream moved: killed
;;! stdout: get_tls_read_timeout unknown ID: killed
;;! stdout: get_tls_read_timeout of a UDP socket ID: killed
;;! stdout: set_tls_write_timeout unknown ID: killed
;;! stdout: set_tls_write_timeout after the stream moved: killed
;;! stdout: get_tls_write_timeout unknown ID: killed
;;! stdout: get_tls_write_timeout after drop: killed
;;! stdout: tls_flush unknown ID: killed
;;! stdout: tls_flush error pointer out of bounds: killed
;;! stdout: tls_flush after the stream moved: killed
;;! stdout: timeouts set through a moved-in clone (read * 10000 + write): returned 12344321
;;! stdout: a stream taken from a message writes and flushes (status * 10 + bytes): returned 4
;;! stdout: root sees the read timeout: 1234
;;! stdout: root sees the write timeout: 4321
;;! stdout: the client reads: 0
;;! stdout: read: 4
;;! stdout: pong
;;! stdout: tls_flush with a zero write timeout, nothing pending: 0
;;! stdout: writes with a zero timeout into a full connection, finally: 9027
;;! stdout: some writes went through first: 1
;;! stdout: out pointer untouched: 99
;;! stdout: after the server's last handle is dropped, a write or flush fails, finally: 1
;;! stdout: still running
;;! stderr-contains: Process 3 failed, notifying: 1 links (unknown TLS listener ID 5)
;;! stderr-contains: Process 4 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfffa)
;;! stderr-contains: Process 5 failed, notifying: 1 links (unknown TLS listener ID 0)
;;! stderr-contains: Process 6 failed, notifying: 1 links (unknown TLS listener ID 0)
;;! stderr-contains: Process 7 failed, notifying: 1 links (unknown TLS listener ID 3)
;;! stderr-contains: Process 8 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfff9)
;;! stderr-contains: Process 9 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0x10000)
;;! stderr-contains: Process 10 failed, notifying: 1 links (unknown TLS listener ID 0)
;;! stderr-contains: Process 11 failed, notifying: 1 links (unknown TLS stream ID 9)
;;! stderr-contains: Process 12 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 13 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 14 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 15 failed, notifying: 1 links (unknown TLS stream ID 2)
;;! stderr-contains: Process 16 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfffa)
;;! stderr-contains: Process 17 failed, notifying: 1 links (memory access out of bounds: 1000 bytes at 0xfde8)
;;! stderr-contains: Process 18 failed, notifying: 1 links (I/O vector array too long)
;;! stderr-contains: Process 19 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfffc)
;;! stderr-contains: Process 20 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 21 failed, notifying: 1 links (unknown TLS stream ID 4)
;;! stderr-contains: Process 22 failed, notifying: 1 links (memory access out of bounds: 64 bytes at 0xfff0)
;;! stderr-contains: Process 23 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xffff)
;;! stderr-contains: Process 24 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 25 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 26 failed, notifying: 1 links (unknown TLS stream ID 6)
;;! stderr-contains: Process 27 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 28 failed, notifying: 1 links (unknown TLS stream ID 7)
;;! stderr-contains: Process 29 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 30 failed, notifying: 1 links (unknown TLS stream ID 8)
;;! stderr-contains: Process 31 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 32 failed, notifying: 1 links (unknown TLS stream ID 10)
;;! stderr-contains: Process 33 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-contains: Process 34 failed, notifying: 1 links (unknown TLS stream ID 11)
;;! stderr-contains: Process 35 failed, notifying: 1 links (memory access out of bounds: 8 bytes at 0xfffd)
;;! stderr-contains: Process 36 failed, notifying: 1 links (unknown TLS stream ID 0)
;;! stderr-not-contains: panicked
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_bind" (func $tls_bind (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_tls_listener" (func $drop_tls_listener (param i64)))
  (import "lunatic::networking" "tls_local_addr" (func $tls_local_addr (param i64 i32) (result i32)))
  (import "lunatic::networking" "tls_accept" (func $tls_accept (param i64 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_connect" (func $tls_connect (param i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_tls_stream" (func $drop_tls_stream (param i64)))
  (import "lunatic::networking" "clone_tls_stream" (func $clone_tls_stream (param i64) (result i64)))
  (import "lunatic::networking" "tls_write_vectored" (func $tls_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_read" (func $tls_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tls_flush" (func $tls_flush (param i64 i32) (result i32)))
  (import "lunatic::networking" "set_tls_read_timeout" (func $set_tls_read_timeout (param i64 i64)))
  (import "lunatic::networking" "get_tls_read_timeout" (func $get_tls_read_timeout (param i64) (result i64)))
  (import "lunatic::networking" "set_tls_write_timeout" (func $set_tls_write_timeout (param i64 i64)))
  (import "lunatic::networking" "get_tls_write_timeout" (func $get_tls_write_timeout (param i64) (result i64)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_bind" (func $tcp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_connect" (func $tcp_connect (param i32 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "tcp_write_vectored" (func $tcp_write_vectored (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "tcp_read" (func $tcp_read (param i64 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "set_read_timeout" (func $set_read_timeout (param i64 i64)))
  (import "lunatic::networking" "udp_bind" (func $udp_bind (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep_ms (param i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "push_tls_stream" (func $push_tls_stream (param i64) (result i64)))
  (import "lunatic::message" "take_tls_stream" (func $take_tls_stream (param i64) (result i64)))
  (import "lunatic::error" "string_size" (func $string_size (param i64) (result i32)))
  (import "lunatic::error" "to_string" (func $to_string (param i64 i32)))
  (import "lunatic::error" "drop" (func $error_drop (param i64)))
  (memory (export "memory") 1)

  ;; Memory: 0..64 output helpers; 64..98 spawn parameters; 100 "probe";
  ;; 106 "client"; 128 receive tag; 136 child ID; 144 probe result; 152 its
  ;; kind; 160..512 out values; 512 root texts; 2048 probe labels;
  ;; 4096 127.0.0.1; 4104 "pingpong"; 4112.. I/O vectors; 4160 an HTTP
  ;; request; 4192 "127.0.0.1" (text); 4208 the CA record; 8192 read buffer;
  ;; 12288 error text; 16384 certificate (PEM); 20480 its key (PKCS#8 PEM).

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
  (data (i32.const 100) "probe\00client")
  (data (i32.const 4096) "\7f\00\00\01")
  (data (i32.const 4104) "pingpong")
  ;; I/O vectors: 4112 {"pi"}{"ng"}; 4128 {"pong"}; 4136 one out of bounds;
  ;; 4144 the HTTP request; 4152 the whole memory
  (data (i32.const 4112) "\08\10\00\00\02\00\00\00" "\0a\10\00\00\02\00\00\00")
  (data (i32.const 4128) "\0c\10\00\00\04\00\00\00")
  (data (i32.const 4136) "\e8\fd\00\00\e8\03\00\00")
  (data (i32.const 4144) "\40\10\00\00\12\00\00\00")
  (data (i32.const 4152) "\00\00\00\00\00\00\01\00")
  (data (i32.const 4160) "GET / HTTP/1.0\0d\0a\0d\0a")
  (data (i32.const 4192) "127.0.0.1")
  ;; one CA record {ptr, len}: the certificate below
  (data (i32.const 4208) "\00\40\00\00\63\02\00\00")
  ;; Self-signed for localhost and 127.0.0.1, valid 2000-2999, not a CA
  ;; (the one in spec-tests/rust/src/bin/net_tls.rs): 611 bytes.
  (data (i32.const 16384)
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBlzCCATygAwIBAgIUN4O7cY7OJ5808ARw0BQavXE5TDkwCgYIKoZIzj0EAwIw\n"
    "IjEgMB4GA1UEAwwXbHVuYXRpYy13YXNtaSBzcGVjIHRlc3QwIBcNMDAwMTAxMDAw\n"
    "MDAwWhgPMjk5OTEyMzEwMDAwMDBaMCIxIDAeBgNVBAMMF2x1bmF0aWMtd2FzbWkg\n"
    "c3BlYyB0ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzhQBh406b7M7XdWf\n"
    "YAdMCTf/LN8/Z0i+rpAAQRcpAEmGjAkI/oCWV2B5xFmGURCWAtwvVMS3MUJiqI/N\n"
    "7X+a/KNOMEwwGgYDVR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMB0GA1UdDgQWBBR1\n"
    "IO+BcnUvQEV+tTNFH3Z0/IwLSzAPBgNVHRMBAf8EBTADAQEAMAoGCCqGSM49BAMC\n"
    "A0kAMEYCIQCvUi6p//YLZ+3+mH6k+MWBxJbGv4cK6NVkHUIbwoEn8gIhAPp+cj4M\n"
    "SEXylJPaC2Xibu4pwyp4ZYO5TioAqs0k1NnK\n"
    "-----END CERTIFICATE-----\n")
  ;; 241 bytes
  (data (i32.const 20480)
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMRyI9W4kIPKaroA2\n"
    "dYuT/Ahdzwt+Lym4QWyjCIVeQjOhRANCAATOFAGHjTpvsztd1Z9gB0wJN/8s3z9n\n"
    "SL6ukABBFykASYaMCQj+gJZXYHnEWYZREJYC3C9UxLcxQmKoj83tf5r8\n"
    "-----END PRIVATE KEY-----\n")

  (data (i32.const 512)
    "tls_bind: \00"                                    ;; 0
    "listener id: \00"                                 ;; 1
    "tls_local_addr: \00"                              ;; 2
    "port is set: \00"                                 ;; 3
    "plain TCP client connects and writes: \00"        ;; 4
    "tcp_read of the server's answer: \00"             ;; 5
    "it is a TLS alert (content type 21): \00"         ;; 6
    "then the server closes the connection, read: \00" ;; 7
    "tls_accept: \00"                                  ;; 8
    "server stream id: \00"                            ;; 9
    "peer port is set: \00"                            ;; 10
    "receive the client's stream: \00"                 ;; 11
    "take_tls_stream: \00"                             ;; 12
    "read timeout at first: \00"                       ;; 13
    "write timeout at first: \00"                      ;; 14
    "read timeout after set 30: \00"                   ;; 15
    "tls_read with nothing to read: \00"               ;; 16
    "out pointer untouched: \00"                       ;; 17
    "read timeout after set u64::MAX: \00"             ;; 18
    "write timeout after set 0: \00"                   ;; 19
    "write timeout after set 2000: \00"                ;; 20
    "tls_write_vectored: \00"                          ;; 21
    "written: \00"                                     ;; 22
    "tls_write_vectored of no vectors: \00"            ;; 23
    "tls_flush: \00"                                   ;; 24
    "tls_flush wrote: \00"                             ;; 25
    "tls_read: \00"                                    ;; 26
    "read: \00"                                        ;; 27
    "root sees the read timeout: \00"                  ;; 28
    "root sees the write timeout: \00"                 ;; 29
    "the client reads: \00"                            ;; 30
    ": \00"                                            ;; 31
    "killed\0a\00"                                     ;; 32
    "returned \00"                                     ;; 33
    "no answer\0a\00"                                  ;; 34
    "still running\0a\00"                              ;; 35
    "tls_flush with a zero write timeout, nothing pending: \00"         ;; 36
    "writes with a zero timeout into a full connection, finally: \00"   ;; 37
    "some writes went through first: \00"                               ;; 38
    "after the server's last handle is dropped, a write or flush fails, finally: \00")  ;; 39

  ;; ---- probes: each runs in a child process ----
  (data (i32.const 2048)
    "tls_local_addr unknown listener ID\00"                   ;; 0
    "tls_local_addr id pointer out of bounds\00"              ;; 1
    "tls_local_addr of a TCP listener ID\00"                  ;; 2
    "tls_local_addr after drop_tls_listener\00"               ;; 3
    "tls_accept unknown listener ID\00"                       ;; 4
    "tls_accept id pointer out of bounds\00"                  ;; 5
    "tls_accept peer pointer out of bounds\00"                ;; 6
    "tls_accept of a TCP listener ID\00"                      ;; 7
    "drop_tls_stream unknown ID\00"                           ;; 8
    "drop_tls_stream twice\00"                                ;; 9
    "drop_tls_stream after the stream moved\00"               ;; 10
    "drop_tls_stream of a UDP socket ID\00"                   ;; 11
    "tls_write_vectored unknown ID\00"                        ;; 12
    "tls_write_vectored vector array out of bounds\00"        ;; 13
    "tls_write_vectored vector out of bounds\00"              ;; 14
    "tls_write_vectored vector count wraps around\00"         ;; 15
    "tls_write_vectored out pointer out of bounds\00"         ;; 16
    "tls_write_vectored after the stream moved\00"            ;; 17
    "tls_read unknown ID\00"                                  ;; 18
    "tls_read buffer out of bounds\00"                        ;; 19
    "tls_read out pointer out of bounds\00"                   ;; 20
    "tls_read after the stream moved\00"                      ;; 21
    "tls_read of a UDP socket ID\00"                          ;; 22
    "set_tls_read_timeout unknown ID\00"                      ;; 23
    "set_tls_read_timeout after the stream moved\00"          ;; 24
    "get_tls_read_timeout unknown ID\00"                      ;; 25
    "get_tls_read_timeout of a UDP socket ID\00"              ;; 26
    "set_tls_write_timeout unknown ID\00"                     ;; 27
    "set_tls_write_timeout after the stream moved\00"         ;; 28
    "get_tls_write_timeout unknown ID\00"                     ;; 29
    "get_tls_write_timeout after drop\00"                     ;; 30
    "tls_flush unknown ID\00"                                 ;; 31
    "tls_flush error pointer out of bounds\00"                ;; 32
    "tls_flush after the stream moved\00"                     ;; 33
    "timeouts set through a moved-in clone (read * 10000 + write)\00"  ;; 34
    "a stream taken from a message writes and flushes (status * 10 + bytes)\00")  ;; 35
  (global $probes i32 (i32.const 36))

  (type $probe (func (result i64)))
  (table 36 funcref)
  (elem (i32.const 0) func
    $p0 $p1 $p2 $p3 $p4 $p5 $p6 $p7 $p8 $p9 $p10 $p11 $p12 $p13 $p14 $p15 $p16 $p17
    $p18 $p19 $p20 $p21 $p22 $p23 $p24 $p25 $p26 $p27 $p28 $p29 $p30 $p31 $p32 $p33 $p34 $p35)

  ;; Child helpers. $stream(): the server stream (index 0 of the root's
  ;; message) as an ID in the child's own table.
  (func $stream (result i64) (call $take_tls_stream (i64.const 0)))
  ;; $moved(): the stream's ID after it moved into a new message
  (func $moved (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_tls_stream (local.get $s)))
    (local.get $s))
  ;; $dropped(): the stream's ID after drop_tls_stream
  (func $dropped (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $drop_tls_stream (local.get $s))
    (local.get $s))
  ;; $tls_listener(): a new TLS listener of the child on 127.0.0.1, port 0
  (func $tls_listener (result i64)
    (if (call $tls_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160)
          (i32.const 16384) (i32.const 611) (i32.const 20480) (i32.const 241))
      (then unreachable))
    (i64.load (i32.const 160)))
  ;; $tcp_listener(): a new TCP listener (the child has no TLS listener, so
  ;; this ID is unknown as one)
  (func $tcp_listener (result i64)
    (if (call $tcp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160))
      (then unreachable))
    (i64.load (i32.const 160)))
  ;; $udp_socket(): a new UDP socket (unknown as a TLS stream: the child took none)
  (func $udp_socket (result i64)
    (if (call $udp_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 160))
      (then unreachable))
    (i64.load (i32.const 160)))

  (func $p0 (result i64)
    (i64.extend_i32_u (call $tls_local_addr (i64.const 5) (i32.const 160))))
  (func $p1 (result i64)
    (i64.extend_i32_u (call $tls_local_addr (call $tls_listener) (i32.const 65530))))
  (func $p2 (result i64)
    (i64.extend_i32_u (call $tls_local_addr (call $tcp_listener) (i32.const 160))))
  (func $p3 (result i64)
    (local $l i64)
    (local.set $l (call $tls_listener))
    (call $drop_tls_listener (local.get $l))
    (i64.extend_i32_u (call $tls_local_addr (local.get $l) (i32.const 160))))
  (func $p4 (result i64)
    (i64.extend_i32_u (call $tls_accept (i64.const 3) (i32.const 160) (i32.const 168))))
  (func $p5 (result i64)
    (i64.extend_i32_u (call $tls_accept (call $tls_listener) (i32.const 65529) (i32.const 168))))
  (func $p6 (result i64)
    (i64.extend_i32_u (call $tls_accept (call $tls_listener) (i32.const 160) (i32.const 65536))))
  (func $p7 (result i64)
    (i64.extend_i32_u (call $tls_accept (call $tcp_listener) (i32.const 160) (i32.const 168))))
  (func $p8 (result i64) (call $drop_tls_stream (i64.const 9)) (i64.const 0))
  (func $p9 (result i64) (call $drop_tls_stream (call $dropped)) (i64.const 0))
  (func $p10 (result i64) (call $drop_tls_stream (call $moved)) (i64.const 0))
  (func $p11 (result i64) (call $drop_tls_stream (call $udp_socket)) (i64.const 0))
  (func $p12 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (i64.const 2) (i32.const 4112) (i32.const 2) (i32.const 160))))
  (func $p13 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (call $stream) (i32.const 65530) (i32.const 1) (i32.const 160))))
  (func $p14 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (call $stream) (i32.const 4128) (i32.const 2) (i32.const 160))))
  (func $p15 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (call $stream) (i32.const 4112) (i32.const -1) (i32.const 160))))
  (func $p16 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (call $stream) (i32.const 4112) (i32.const 2) (i32.const 65532))))
  (func $p17 (result i64)
    (i64.extend_i32_u (call $tls_write_vectored (call $moved) (i32.const 4112) (i32.const 2) (i32.const 160))))
  (func $p18 (result i64)
    (i64.extend_i32_u (call $tls_read (i64.const 4) (i32.const 8192) (i32.const 64) (i32.const 160))))
  (func $p19 (result i64)
    (i64.extend_i32_u (call $tls_read (call $stream) (i32.const 65520) (i32.const 64) (i32.const 160))))
  (func $p20 (result i64)
    (i64.extend_i32_u (call $tls_read (call $stream) (i32.const 8192) (i32.const 64) (i32.const 65535))))
  (func $p21 (result i64)
    (i64.extend_i32_u (call $tls_read (call $moved) (i32.const 8192) (i32.const 64) (i32.const 160))))
  (func $p22 (result i64)
    (i64.extend_i32_u (call $tls_read (call $udp_socket) (i32.const 8192) (i32.const 64) (i32.const 160))))
  (func $p23 (result i64) (call $set_tls_read_timeout (i64.const 6) (i64.const 10)) (i64.const 0))
  (func $p24 (result i64) (call $set_tls_read_timeout (call $moved) (i64.const 10)) (i64.const 0))
  (func $p25 (result i64) (call $get_tls_read_timeout (i64.const 7)))
  (func $p26 (result i64) (call $get_tls_read_timeout (call $udp_socket)))
  (func $p27 (result i64) (call $set_tls_write_timeout (i64.const 8) (i64.const 10)) (i64.const 0))
  (func $p28 (result i64) (call $set_tls_write_timeout (call $moved) (i64.const 10)) (i64.const 0))
  (func $p29 (result i64) (call $get_tls_write_timeout (i64.const 10)))
  (func $p30 (result i64) (call $get_tls_write_timeout (call $dropped)))
  (func $p31 (result i64) (i64.extend_i32_u (call $tls_flush (i64.const 11) (i32.const 160))))
  (func $p32 (result i64) (i64.extend_i32_u (call $tls_flush (call $stream) (i32.const 65533))))
  (func $p33 (result i64) (i64.extend_i32_u (call $tls_flush (call $moved) (i32.const 160))))
  ;; Timeouts live in the shared stream: the root sees these.
  (func $p34 (result i64)
    (local $s i64)
    (local.set $s (call $stream))
    (call $set_tls_read_timeout (local.get $s) (i64.const 1234))
    (call $set_tls_write_timeout (local.get $s) (i64.const 4321))
    (i64.add (i64.mul (call $get_tls_read_timeout (local.get $s)) (i64.const 10000))
      (call $get_tls_write_timeout (local.get $s))))
  ;; "pong" from the server side, flushed before the child ends; the root's
  ;; client reads it
  (func $p35 (result i64)
    (local $s i64)
    (local $status i32)
    (local.set $s (call $stream))
    (local.set $status (call $tls_write_vectored (local.get $s) (i32.const 4128) (i32.const 1) (i32.const 160)))
    (local.set $status (i32.add (local.get $status) (call $tls_flush (local.get $s) (i32.const 168))))
    (i64.add (i64.mul (i64.extend_i32_u (local.get $status)) (i64.const 10)) (i64.load (i32.const 160))))

  ;; The child: wait for the root's message, run probe $i, report its result
  ;; (tag 100 + $i). A trap ends the child before it reports.
  (func (export "probe") (param $i i32) (param $parent i64)
    (if (call $receive (i32.const 0) (i32.const 0) (i64.const 5000)) (then unreachable))
    (i64.store (i32.const 144) (call_indirect (type $probe) (local.get $i)))
    (call $create_data (i64.extend_i32_u (i32.add (i32.const 100) (local.get $i))) (i64.const 8))
    (drop (call $write_data (i32.const 144) (i32.const 8)))
    (drop (call $send (local.get $parent))))

  ;; The TLS client (process 2): connects trusting the certificate above and
  ;; sends its stream to the root (tag 7). Failing to connect traps, which
  ;; kills the root through the link, so the case cannot hang.
  (func (export "client") (param $port i32) (param $parent i64)
    (if (call $tls_connect (i32.const 4192) (i32.const 9) (local.get $port) (i64.const 5000) (i32.const 160)
          (i32.const 4208) (i32.const 1))
      (then unreachable))
    (call $create_data (i64.const 7) (i64.const 0))
    (drop (call $push_tls_stream (i64.load (i32.const 160))))
    (drop (call $send (local.get $parent))))

  ;; $spawn_child(link, name, len, i32 param): a child with parameters
  ;; (i32 param, i64 our process ID); its ID is stored at 136
  (func $spawn_child (param $link i64) (param $name i32) (param $len i32) (param $arg i32)
    (i32.store8 (i32.const 64) (i32.const 0x7f))
    (i64.store (i32.const 65) (i64.extend_i32_u (local.get $arg)))
    (i64.store (i32.const 73) (i64.const 0))
    (i32.store8 (i32.const 81) (i32.const 0x7e))
    (i64.store (i32.const 82) (call $process_id))
    (i64.store (i32.const 90) (i64.const 0))
    (if (call $spawn (local.get $link) (i64.const -1) (i64.const -1)
          (local.get $name) (local.get $len) (i32.const 64) (i32.const 34) (i32.const 136))
      (then unreachable)))

  ;; $run_probe(i): spawn a child linked with tag 100 + i, send it a clone of
  ;; the server stream, print how it ended.
  (func $run_probe (param $i i32)
    (local $tag i64)
    (local $kind i32)
    (local.set $tag (i64.extend_i32_u (i32.add (i32.const 100) (local.get $i))))
    (call $spawn_child (local.get $tag) (i32.const 100) (i32.const 5) (local.get $i))
    (call $create_data (i64.const 0) (i64.const 0))
    (drop (call $push_tls_stream (call $clone_tls_stream (i64.load (i32.const 208)))))
    (drop (call $send (i64.load (i32.const 136))))
    (i64.store (i32.const 128) (local.get $tag))
    (local.set $kind (call $receive (i32.const 128) (i32.const 1) (i64.const 5000)))
    (i32.store (i32.const 152) (local.get $kind))
    (call $puts (call $nth (i32.const 2048) (local.get $i)))
    (call $puts (call $nth (i32.const 512) (i32.const 31)))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (call $puts (call $nth (i32.const 512) (i32.const 32)))))
    (if (i32.eqz (local.get $kind))
      (then
        (drop (call $read_data (i32.const 144) (i32.const 8)))
        (call $puts (call $nth (i32.const 512) (i32.const 33)))
        (call $print_i64 (i64.load (i32.const 144)))
        (call $write (i32.const 49) (i32.const 1))))
    (if (i32.eq (local.get $kind) (i32.const 9027))
      (then (call $puts (call $nth (i32.const 512) (i32.const 34))))))

  ;; $port(iterator, at): the port of a one-address DNS iterator, stored at `at`
  (func $port (param $iter i64) (param $at i32)
    (if (call $resolve_next (local.get $iter) (i32.const 300) (i32.const 304) (local.get $at) (i32.const 320) (i32.const 324))
      (then unreachable)))

  ;; Root values: 200 listener L, 208 server stream T, 216 client stream C,
  ;; 224 L's port, 232 peer port, 248 out value, 256 peer iterator,
  ;; 264 plain TCP stream.
  (func (export "_start")
    (local $i i32)
    (local $status i32)
    (call $say (i32.const 0) (i64.extend_i32_u (call $tls_bind (i32.const 4) (i32.const 4096) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 200)
      (i32.const 16384) (i32.const 611) (i32.const 20480) (i32.const 241))))
    (call $say (i32.const 1) (i64.load (i32.const 200)))
    (call $say (i32.const 2) (i64.extend_i32_u (call $tls_local_addr (i64.load (i32.const 200)) (i32.const 248))))
    (call $port (i64.load (i32.const 248)) (i32.const 224))
    (call $say (i32.const 3) (i64.extend_i32_u (i32.ne (i32.load16_u (i32.const 224)) (i32.const 0))))

    ;; a client that does not speak TLS: its handshake fails host-side, the listener stays
    (call $say (i32.const 4) (i64.extend_i32_u (i32.or
      (call $tcp_connect (i32.const 4) (i32.const 4096) (i32.load16_u (i32.const 224)) (i32.const 0) (i32.const 0) (i64.const 5000) (i32.const 264))
      (call $tcp_write_vectored (i64.load (i32.const 264)) (i32.const 4144) (i32.const 1) (i32.const 248)))))
    (call $set_read_timeout (i64.load (i32.const 264)) (i64.const 5000))
    (call $say (i32.const 5) (i64.extend_i32_u (call $tcp_read (i64.load (i32.const 264)) (i32.const 8192) (i32.const 64) (i32.const 248))))
    (call $say (i32.const 6) (i64.extend_i32_u (i32.eq (i32.load8_u (i32.const 8192)) (i32.const 21))))
    (i64.store (i32.const 248) (i64.const 99))
    (drop (call $tcp_read (i64.load (i32.const 264)) (i32.const 8192) (i32.const 64) (i32.const 248)))
    (call $say (i32.const 7) (i64.load (i32.const 248)))

    ;; a real client (linked: if it fails, so does the root)
    (call $spawn_child (i64.const 1) (i32.const 106) (i32.const 6) (i32.load16_u (i32.const 224)))
    (call $say (i32.const 8) (i64.extend_i32_u (call $tls_accept (i64.load (i32.const 200)) (i32.const 208) (i32.const 256))))
    (call $say (i32.const 9) (i64.load (i32.const 208)))
    (call $port (i64.load (i32.const 256)) (i32.const 232))
    (call $say (i32.const 10) (i64.extend_i32_u (i32.ne (i32.load16_u (i32.const 232)) (i32.const 0))))
    (i64.store (i32.const 128) (i64.const 7))
    (call $say (i32.const 11) (i64.extend_i32_u (call $receive (i32.const 128) (i32.const 1) (i64.const 5000))))
    (i64.store (i32.const 216) (call $take_tls_stream (i64.const 0)))
    (call $say (i32.const 12) (i64.load (i32.const 216)))
    (call $die_when_link_dies (i32.const 0))

    ;; timeouts
    (call $say (i32.const 13) (call $get_tls_read_timeout (i64.load (i32.const 208))))
    (call $say (i32.const 14) (call $get_tls_write_timeout (i64.load (i32.const 208))))
    (call $set_tls_read_timeout (i64.load (i32.const 208)) (i64.const 30))
    (call $say (i32.const 15) (call $get_tls_read_timeout (i64.load (i32.const 208))))
    (i64.store (i32.const 248) (i64.const 99))
    (call $say (i32.const 16) (i64.extend_i32_u (call $tls_read (i64.load (i32.const 208)) (i32.const 8192) (i32.const 64) (i32.const 248))))
    (call $say (i32.const 17) (i64.load (i32.const 248)))
    (call $set_tls_read_timeout (i64.load (i32.const 208)) (i64.const -1))
    (call $say (i32.const 18) (call $get_tls_read_timeout (i64.load (i32.const 208))))
    (call $set_tls_write_timeout (i64.load (i32.const 216)) (i64.const 0))
    (call $say (i32.const 19) (call $get_tls_write_timeout (i64.load (i32.const 216))))
    (call $set_tls_write_timeout (i64.load (i32.const 216)) (i64.const 2000))
    (call $say (i32.const 20) (call $get_tls_write_timeout (i64.load (i32.const 216))))

    ;; client -> server
    (call $say (i32.const 21) (i64.extend_i32_u (call $tls_write_vectored (i64.load (i32.const 216)) (i32.const 4112) (i32.const 2) (i32.const 248))))
    (call $say (i32.const 22) (i64.load (i32.const 248)))
    (i64.store (i32.const 248) (i64.const 99))
    (call $say (i32.const 23) (i64.extend_i32_u (call $tls_write_vectored (i64.load (i32.const 216)) (i32.const 4112) (i32.const 0) (i32.const 248))))
    (call $say (i32.const 22) (i64.load (i32.const 248)))
    (i64.store (i32.const 248) (i64.const 99))
    (call $say (i32.const 24) (i64.extend_i32_u (call $tls_flush (i64.load (i32.const 216)) (i32.const 248))))
    (call $say (i32.const 25) (i64.load (i32.const 248)))
    (call $set_tls_read_timeout (i64.load (i32.const 208)) (i64.const 5000))
    (call $say (i32.const 26) (i64.extend_i32_u (call $tls_read (i64.load (i32.const 208)) (i32.const 8192) (i32.const 64) (i32.const 248))))
    (call $say (i32.const 27) (i64.load (i32.const 248)))
    (call $write (i32.const 8192) (i32.wrap_i64 (i64.load (i32.const 248))))
    (call $write (i32.const 49) (i32.const 1))

    ;; bad input, one child per probe
    (local.set $i (i32.const 0))
    (loop $each
      (call $run_probe (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (global.get $probes))))

    ;; probe 34 set the timeouts of T; probe 35 (the last) wrote "pong" to C
    (call $say (i32.const 28) (call $get_tls_read_timeout (i64.load (i32.const 208))))
    (call $say (i32.const 29) (call $get_tls_write_timeout (i64.load (i32.const 208))))
    (call $set_tls_read_timeout (i64.load (i32.const 216)) (i64.const 5000))
    (call $say (i32.const 30) (i64.extend_i32_u (call $tls_read (i64.load (i32.const 216)) (i32.const 8192) (i32.const 64) (i32.const 248))))
    (call $say (i32.const 27) (i64.load (i32.const 248)))
    (call $write (i32.const 8192) (i32.wrap_i64 (i64.load (i32.const 248))))
    (call $write (i32.const 49) (i32.const 1))

    ;; write timeouts are used: fill C -> T (nobody reads T), each write
    ;; trying once; at most 4000 x 64 KiB
    (call $set_tls_write_timeout (i64.load (i32.const 216)) (i64.const 0))
    (call $say (i32.const 36) (i64.extend_i32_u (call $tls_flush (i64.load (i32.const 216)) (i32.const 248))))
    (local.set $i (i32.const 0))
    (block $full
      (loop $more
        (i64.store (i32.const 248) (i64.const 99))
        (local.set $status (call $tls_write_vectored (i64.load (i32.const 216)) (i32.const 4152) (i32.const 1) (i32.const 248)))
        (br_if $full (i32.ne (local.get $status) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 4000)))))
    (call $say (i32.const 37) (i64.extend_i32_u (local.get $status)))
    (call $say (i32.const 38) (i64.extend_i32_u (i32.gt_u (local.get $i) (i32.const 0))))
    (call $say (i32.const 17) (i64.load (i32.const 248)))

    ;; dropping T, the server's last handle (the probes' clones died with
    ;; them), closes the connection: C's writes or flushes then fail with
    ;; an error ID (at most 200 tries, 5 ms apart)
    (call $drop_tls_stream (i64.load (i32.const 208)))
    (call $set_tls_write_timeout (i64.load (i32.const 216)) (i64.const 100))
    (local.set $i (i32.const 0))
    (block $failed
      (loop $again
        (local.set $status (call $tls_write_vectored (i64.load (i32.const 216)) (i32.const 4112) (i32.const 2) (i32.const 248)))
        (br_if $failed (i32.eq (local.get $status) (i32.const 1)))
        (local.set $status (call $tls_flush (i64.load (i32.const 216)) (i32.const 248)))
        (br_if $failed (i32.eq (local.get $status) (i32.const 1)))
        (call $sleep_ms (i64.const 5))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $i) (i32.const 200)))))
    (call $say (i32.const 39) (i64.extend_i32_u (local.get $status)))
    (if (i32.eq (local.get $status) (i32.const 1))
      (then (call $error_drop (i64.load (i32.const 248)))))
    (call $puts (call $nth (i32.const 512) (i32.const 35))))
)
