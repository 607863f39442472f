;; Run on a node of a two-node cluster: spawns a slow receiver on the other
;; node (it sleeps 3 s before it reads anything) and sends it 16 384
;; messages of 64 KiB (1 GiB) as fast as `send` returns, prints "sent",
;; waits, checks both nodes are still members and prints "done".
;; spec-tests/distributed/run samples both nodes' memory meanwhile: it must
;; stay bounded (the sender's queue per peer, QUIC's flow-control windows
;; and the receiver's mailbox limit bound it), not grow with what was sent.
(module
  (import "lunatic::distributed" "nodes_count" (func $nodes_count (result i32)))
  (import "lunatic::distributed" "get_nodes" (func $get_nodes (param i32 i32) (result i32)))
  (import "lunatic::distributed" "node_id" (func $node_id (result i64)))
  (import "lunatic::distributed" "module_id" (func $module_id (result i64)))
  (import "lunatic::distributed" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::distributed" "send" (func $send (param i64 i64) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 100) "slow")
  (data (i32.const 1000) "sent\n")
  (data (i32.const 1010) "done\n")
  (data (i32.const 1020) "setup-failed\n")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $setup_failed (call $print (i32.const 1020) (i32.const 13)) (call $exit (i32.const 1)))
  (func (export "slow")
    (call $sleep (i64.const 3000))
    (loop $drain
      (br_if $drain (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 1000)) (i32.const 9027)))))
  (func (export "_start")
    (local $me i64) (local $target i64) (local $pid i64) (local $i i32) (local $tries i32)
    (local.set $me (call $node_id))
    (block $found
      (loop $wait
        (br_if $found (i32.eq (call $nodes_count) (i32.const 2)))
        (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
        (if (i32.gt_u (local.get $tries) (i32.const 200)) (then (call $setup_failed)))
        (call $sleep (i64.const 50))
        (br $wait)))
    (drop (call $get_nodes (i32.const 300) (i32.const 2)))
    (local.set $target (i64.load (i32.const 300)))
    (if (i64.eq (local.get $target) (local.get $me)) (then (local.set $target (i64.load (i32.const 308)))))
    (if (call $spawn (local.get $target) (i64.const -1) (call $module_id)
          (i32.const 100) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 500))
      (then (call $setup_failed)))
    (local.set $pid (i64.load (i32.const 500)))
    (loop $push
      (call $create_data (i64.const 1) (i64.const 65536))
      (drop (call $write_data (i32.const 65536) (i32.const 65536)))
      (drop (call $send (local.get $target) (local.get $pid)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $push (i32.lt_u (local.get $i) (i32.const 16384))))
    (call $print (i32.const 1000) (i32.const 5))
    (call $sleep (i64.const 4000))
    (if (i32.ne (call $nodes_count) (i32.const 2)) (then (call $setup_failed)))
    (call $print (i32.const 1010) (i32.const 5))))
