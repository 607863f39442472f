;;! # --max-total-memory caps the linear memory of all processes together:
;;! # past it `memory.grow` fails (-1) like any refused growth, and a spawn
;;! # fails with an error instead of instantiating the child.
;;! flags: --max-total-memory 2
;;! stdout: grow 64 pages: refused
;;! stdout: grow 1 page: ok
;;! stdout: spawn past the cap: error
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 16)
  (data (i32.const 64) "grow 64 pages: refused\n")
  (data (i32.const 96) "grow 64 pages: granted\n")
  (data (i32.const 128) "grow 1 page: ok\n")
  (data (i32.const 160) "spawn past the cap: error\n")
  (data (i32.const 192) "spawn past the cap: spawned\n")
  (data (i32.const 224) "child")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "child"))
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
      (then (call $print (i32.const 64) (i32.const 23)))
      (else (call $print (i32.const 96) (i32.const 23))))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1))
      (then (call $print (i32.const 128) (i32.const 16))))
    ;; 17 of the 32 pages the cap allows are taken; a child needs 16 more.
    (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
                     (i32.const 224) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 32))
      (then (call $print (i32.const 160) (i32.const 26)))
      (else (call $print (i32.const 192) (i32.const 28))))))
