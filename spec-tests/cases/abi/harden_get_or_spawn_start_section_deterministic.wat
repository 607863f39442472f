;;! # The same as harden_get_or_spawn_start_section, on the deterministic scheduler.
;;! flags: --deterministic=3

;;! timeout: 20
;;! stdout: first get_or_spawn: 0
;;! stdout: second get_or_spawn: 2
;;! stdout: same process: 1
;;! stdout: start section named the child: 1
;;! stdout: child died: 2
;;! stdout: get svc after death: 1
;;! stdout: get started after death: 1
;;! stdout: get_or_spawn after death: 0
;;! stdout: a new process: 1
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "get_or_spawn" (func $get_or_spawn (param i32 i32 i64 i64 i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $pid (result i64)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::registry" "put" (func $put (param i32 i32 i64 i64)))
  (import "lunatic::registry" "get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

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
  (data (i32.const 256) "svc\00")
  (data (i32.const 260) "child\00")
  (data (i32.const 266) "started\00")
  (data (i32.const 274) "first get_or_spawn: \00")
  (data (i32.const 295) "second get_or_spawn: \00")
  (data (i32.const 317) "same process: \00")
  (data (i32.const 332) "start section named the child: \00")
  (data (i32.const 364) "child died: \00")
  (data (i32.const 377) "get svc after death: \00")
  (data (i32.const 399) "get started after death: \00")
  (data (i32.const 425) "get_or_spawn after death: \00")
  (data (i32.const 452) "a new process: \00")
  (data (i32.const 468) "still running\n\00")

  ;; Every instance's start section uses the registry: the child's runs while
  ;; its parent's get_or_spawn is spawning it under "svc".
  (func $init
    (call $put (i32.const 266) (i32.const 7) (i64.const 0) (call $pid))
    (drop (call $get (i32.const 256) (i32.const 3) (i32.const 2000) (i32.const 2008))))
  (start $init)
  (func (export "child")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (call $say (i32.const 274) (i64.extend_i32_u (call $get_or_spawn (i32.const 256) (i32.const 3) (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 260) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 1032))))
    (call $say (i32.const 295) (i64.extend_i32_u (call $get_or_spawn (i32.const 256) (i32.const 3) (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 260) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 1040) (i32.const 1048))))
    (call $say (i32.const 317) (i64.extend_i32_u
      (i64.eq (i64.load (i32.const 1048)) (i64.load (i32.const 1032)))))
    (drop (call $get (i32.const 266) (i32.const 7) (i32.const 1056) (i32.const 1064)))
    (call $say (i32.const 332) (i64.extend_i32_u
      (i64.eq (i64.load (i32.const 1064)) (i64.load (i32.const 1032)))))
    (call $monitor (i64.load (i32.const 1032)))
    (call $kill (i64.load (i32.const 1032)))
    (call $say (i32.const 364) (i64.extend_i32_u
      (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
    (call $say (i32.const 377) (i64.extend_i32_u
      (call $get (i32.const 256) (i32.const 3) (i32.const 1056) (i32.const 1064))))
    (call $say (i32.const 399) (i64.extend_i32_u
      (call $get (i32.const 266) (i32.const 7) (i32.const 1056) (i32.const 1064))))
    (call $say (i32.const 425) (i64.extend_i32_u (call $get_or_spawn (i32.const 256) (i32.const 3) (i64.const 0) (i64.const -1) (i64.const -1) (i32.const 260) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 1072) (i32.const 1080))))
    (call $say (i32.const 452) (i64.extend_i32_u
      (i64.ne (i64.load (i32.const 1080)) (i64.load (i32.const 1032)))))
    (call $kill (i64.load (i32.const 1080)))
    (call $puts (i32.const 468)))
)
