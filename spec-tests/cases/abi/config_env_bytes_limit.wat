;;! # The bytes of a config's arguments and environment are capped at 1 MiB:
;;! # 16 environment variables with 65 000-byte values fit, the 17th would
;;! # pass the limit and traps the caller.
;;! exit: 101
;;! stdout: 16 added
;;! stderr-contains: a config carries at most 1048576 bytes of arguments and environment
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::wasi" "config_add_environment_variable" (func $env (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 100) "K")
  (data (i32.const 200) "16 added\n")
  (func (export "_start")
    (local $config i64) (local $i i32)
    (local.set $config (call $create_config))
    ;; 16 x (1 + 65 000 + 2) = 1 040 048 bytes: fits; the 17th does not.
    (loop $again
      (call $env (local.get $config) (i32.const 100) (i32.const 1) (i32.const 1000) (i32.const 65000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 16))))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $env (local.get $config) (i32.const 100) (i32.const 1) (i32.const 1000) (i32.const 65000))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
