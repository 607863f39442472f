;;! # A config carries at most 16 384 arguments and environment variables and
;;! # 1 MiB of their bytes (they live on the host, outside max_memory): 16 384
;;! # one-byte arguments are accepted, the next one traps the caller; so does
;;! # an environment variable that would pass the byte limit.
;;! exit: 101
;;! stdout: added 16384
;;! stderr-contains: a config carries at most 16384 arguments and environment variables
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::wasi" "config_add_command_line_argument" (func $arg (param i64 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "x")
  (data (i32.const 200) "added 16384\n")
  (func (export "_start")
    (local $config i64) (local $i i32)
    (local.set $config (call $create_config))
    (loop $again
      (call $arg (local.get $config) (i32.const 100) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 16384))))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $arg (local.get $config) (i32.const 100) (i32.const 1))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
