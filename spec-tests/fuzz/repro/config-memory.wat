;; Found by lunatic-fuzz (host memory past 2 GiB; runtime stacks in spawn_from_guest and
;; memory_grow, both in memset): a process limited to 64 MiB cannot grow its own memory to
;; 128 MiB, but create_config gives it a fresh config (default limit 4 GiB) and a child spawned
;; with it grows to 1 GiB, all of it resident. Expected: a config grants at most the memory
;; its creator may use, so "b" prints "grow failed". Run: lunatic run config-memory.wat
(module
  (import "lunatic::process" "create_config" (func $cc (result i64)))
  (import "lunatic::process" "config_set_max_memory" (func $smm (param i64 i64)))
  (import "lunatic::process" "config_get_max_memory" (func $gmm (param i64) (result i64)))
  (import "lunatic::process" "config_set_can_spawn_processes" (func $ssp (param i64 i32)))
  (import "lunatic::process" "config_set_can_create_configs" (func $scc (param i64 i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "a")
  (data (i32.const 104) "b")
  (data (i32.const 200) "grow ok\n")
  (data (i32.const 220) "grow failed\n")
  (func $say (param i32 i32) (i32.store (i32.const 0) (local.get 0)) (i32.store (i32.const 4) (local.get 1)) (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (local $c i64)
    (local.set $c (call $cc))
    (call $smm (local.get $c) (i64.const 67108864))
    (call $ssp (local.get $c) (i32.const 1))
    (call $scc (local.get $c) (i32.const 1))
    (drop (call $spawn (i64.const 0) (local.get $c) (i64.const -1) (i32.const 100) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 16)))
    (call $sleep (i64.const 2000)))
  (func (export "a") (local $c i64)
    ;; limited to 64 MiB itself
    (if (i32.ne (memory.grow (i32.const 2048)) (i32.const -1)) (then (call $say (i32.const 200) (i32.const 8))) (else (call $say (i32.const 220) (i32.const 12))))
    (local.set $c (call $cc))
    (drop (call $spawn (i64.const 0) (local.get $c) (i64.const -1) (i32.const 104) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 16))))
  (func (export "b")
    ;; 1 GiB under a config its 64 MiB creator made
    (if (i32.ne (memory.grow (i32.const 16384)) (i32.const -1)) (then (call $say (i32.const 200) (i32.const 8))) (else (call $say (i32.const 220) (i32.const 12))))
    (call $sleep (i64.const 1000))))
