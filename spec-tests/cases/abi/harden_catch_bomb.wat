;;! # A catch bomb: every `_lunatic_catch_trap` calls `lunatic::trap::catch`
;;! # again. It used to grow host memory without end (12 GiB in a minute);
;;! # now the 65th nested catch traps, the enclosing catch catches that, and
;;! # everything unwinds. Done twice, to show the process is still usable.
;;! stdout: catch: 1
;;! stdout: deepest nesting: 64
;;! stdout: again: 1
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::trap" "catch" (func $catch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $depth (mut i32) (i32.const 0))
  (global $max (mut i32) (i32.const 0))

  ;; ---- output helpers (memory 0..64 is reserved for them) ----
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
  ;; $say(label, n): "<label><n>\n"
  (func $say (param $label i32) (param $n i64)
    (call $puts (local.get $label))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 256) "catch: \00")
  (data (i32.const 264) "deepest nesting: \00")
  (data (i32.const 282) "again: \00")
  (data (i32.const 290) "still running\n\00")

  (func (export "_lunatic_catch_trap") (param $f i32) (param $p i32) (result i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (if (i32.gt_u (global.get $depth) (global.get $max))
      (then (global.set $max (global.get $depth))))
    (drop (call $catch (i32.const 0) (i32.const 0)))
    (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))
    (i32.const 1))
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_u (call $catch (i32.const 0) (i32.const 0))))
    (call $say (i32.const 264) (i64.extend_i32_u (global.get $max)))
    (global.set $depth (i32.const 0))
    (call $say (i32.const 282) (i64.extend_i32_u (call $catch (i32.const 0) (i32.const 0))))
    (call $puts (i32.const 290)))
)
