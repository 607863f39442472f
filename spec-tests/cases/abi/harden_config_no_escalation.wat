;;! # A config grants no more than its creator holds: a child allowed to
;;! # create configs and spawn, but not to compile modules and with 2 pages of
;;! # memory, spawns a grandchild with a config asking for compiling and 4 GiB.
;;! # The grandchild can neither compile nor grow past 2 pages (it used to do
;;! # both), then traps; the failure travels up the links to the root.
;;! stdout: leaf compile_module: -1
;;! stdout: leaf memory.grow: -1
;;! stdout: link died: 1
;;! stdout: still running
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "die_when_link_dies" (func $trap_links (param i32)))
  (import "lunatic::process" "create_config" (func $create_config (result i64)))
  (import "lunatic::process" "config_set_max_memory" (func $set_memory (param i64 i64)))
  (import "lunatic::process" "config_set_can_compile_modules" (func $set_compile (param i64 i32)))
  (import "lunatic::process" "config_set_can_create_configs" (func $set_configs (param i64 i32)))
  (import "lunatic::process" "config_set_can_spawn_processes" (func $set_spawn (param i64 i32)))
  (import "lunatic::process" "compile_module" (func $compile (param i32 i32 i32) (result i32)))
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
  (data (i32.const 256) "leaf compile_module: \00")
  (data (i32.const 278) "leaf memory.grow: \00")
  (data (i32.const 297) "leaf\00")
  (data (i32.const 302) "middle\00")
  (data (i32.const 309) "link died: \00")
  (data (i32.const 321) "still running\n\00")

  (data (i32.const 4000) "\00asm\01\00\00\00")
  (func (export "leaf")
    (call $say (i32.const 256) (i64.extend_i32_s
      (call $compile (i32.const 4000) (i32.const 8) (i32.const 1024))))
    (call $say (i32.const 278) (i64.extend_i32_s (memory.grow (i32.const 10))))
    unreachable)
  (func (export "middle")
    (local $config i64)
    (local.set $config (call $create_config))
    (call $set_memory (local.get $config) (i64.const 4294967296))
    (call $set_compile (local.get $config) (i32.const 1))
    (drop (call $spawn (i64.const 1) (local.get $config) (i64.const -1) (i32.const 297) (i32.const 4)
      (i32.const 0) (i32.const 0) (i32.const 1024)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func (export "_start")
    (local $config i64)
    (call $trap_links (i32.const 0))
    (local.set $config (call $create_config))
    (call $set_memory (local.get $config) (i64.const 131072))
    (call $set_configs (local.get $config) (i32.const 1))
    (call $set_spawn (local.get $config) (i32.const 1))
    (drop (call $spawn (i64.const 1) (local.get $config) (i64.const -1) (i32.const 302) (i32.const 6)
      (i32.const 0) (i32.const 0) (i32.const 1024)))
    (call $say (i32.const 309) (i64.extend_i32_u
      (call $receive (i32.const 0) (i32.const 0) (i64.const 10000))))
    (call $puts (i32.const 321)))
)
