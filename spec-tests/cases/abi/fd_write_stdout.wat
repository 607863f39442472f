;;! # WASI fd_write of "hi\n" to stdout (fd 1) from a bare module.
;;! stdout: hi
;;! stderr-raw:
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hi\n")
  (func (export "_start")
    ;; iovec {ptr 100, len 3} at 0, bytes written stored at 8
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
)
