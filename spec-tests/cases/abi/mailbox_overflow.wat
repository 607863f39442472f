;;! # max_mailbox_size: messages waiting for a process are charged their bytes
;;! # plus 192; the first send over the limit drops the message and kills the
;;! # receiver ("mailbox overflow"), the sender goes on, later messages are
;;! # dropped, monitors are told. A config never gets a limit above its
;;! # creator's own (256 MiB by default).
;;! stdout: default: 268435456
;;! stdout: clamped: 268435456
;;! stdout: set: 10000
;;! stdout: sent: 100
;;! stdout: receive: 2
;;! stdout: receiver ended: 1
;;! stdout: receiver exists: 0
;;! stderr-contains: failed, notifying: 0 links (mailbox overflow: undelivered messages would take 10192 bytes, over its max_mailbox_size of 10000 bytes)
;;! stderr-lines: 1
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "exists" (func $exists (param i64) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::process" "config_set_max_mailbox_size" (func $set_mailbox (param i64 i64)))
  (import "lunatic::process" "config_get_max_mailbox_size" (func $get_mailbox (param i64) (result i64)))
  (memory (export "memory") 1)
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
  (func $print_i64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 48))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
        (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))
  (func $say (param $label i32) (param $n i64)
    (call $puts (local.get $label))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 256) "default: \00")
  (data (i32.const 266) "clamped: \00")
  (data (i32.const 276) "set: \00")
  (data (i32.const 282) "sent: \00")
  (data (i32.const 289) "receive: \00")
  (data (i32.const 299) "receiver ended: \00")
  (data (i32.const 316) "receiver exists: \00")
  (data (i32.const 600) "slow")
  ;; waits for a tag nobody sends: every message stays queued
  (func (export "slow")
    (i64.store (i32.const 1100) (i64.const 99))
    (drop (call $receive (i32.const 1100) (i32.const 1) (i64.const -1))))
  (func (export "_start")
    (local $config i64) (local $receiver i64) (local $i i64)
    (local.set $config (call $create_config))
    (call $say (i32.const 256) (call $get_mailbox (local.get $config)))
    (call $set_mailbox (local.get $config) (i64.const -1))
    (call $say (i32.const 266) (call $get_mailbox (local.get $config)))
    (call $set_mailbox (local.get $config) (i64.const 10000))
    (call $say (i32.const 276) (call $get_mailbox (local.get $config)))
    (drop (call $spawn (i64.const 0) (local.get $config) (i64.const -1)
      (i32.const 600) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 1024)))
    (local.set $receiver (i64.load (i32.const 1024)))
    (call $monitor (local.get $receiver))
    ;; 100 messages of 200 bytes (392 charged each): the 26th overflows
    (loop $sending
      (call $create_data (i64.const 0) (i64.const 0))
      (drop (call $write_data (i32.const 2048) (i32.const 200)))
      (drop (call $send (local.get $receiver)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $sending (i64.lt_u (local.get $i) (i64.const 100))))
    (call $say (i32.const 282) (local.get $i))
    (call $say (i32.const 289)
      (i64.extend_i32_u (call $receive (i32.const 0) (i32.const 0) (i64.const 10000))))
    (call $say (i32.const 299) (i64.extend_i32_u (i64.eq (call $get_process_id) (local.get $receiver))))
    (call $say (i32.const 316) (i64.extend_i32_u (call $exists (local.get $receiver)))))
)
