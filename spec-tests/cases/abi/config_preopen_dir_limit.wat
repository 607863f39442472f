;;! # A config holds at most 64 preopened directories: granting `.` 64 times
;;! # works (it reuses the creator's handle), the 65th grant traps the caller.
;;! exit: 101
;;! stdout: granted 64
;;! stderr-contains: config_preopen_dir: a config holds at most 64 preopened directories
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::wasi" "config_preopen_dir" (func $preopen (param i64 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) ".")
  (data (i32.const 200) "granted 64\n")
  (func (export "_start")
    (local $config i64) (local $i i32)
    (local.set $config (call $create_config))
    (loop $again
      (call $preopen (local.get $config) (i32.const 100) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 64))))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 11))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $preopen (local.get $config) (i32.const 100) (i32.const 1))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
