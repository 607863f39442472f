;; Kill storm: WAVES waves (argument 2, default 10) of N processes (argument
;; 1, default 10000), 100 000 in all by default. In each wave a hub process
;; spawns N children linked to it; each child also links itself to the root
;; (which traps link deaths) and tells the root its ID, which the root then
;; monitors. Once all N run, the root kills the hub: the link cascade kills
;; all N at once, and the root must collect N link deaths (kind 1, tag 7) and
;; N + 1 monitor notices (kind 2, the children and the hub).
;; spec-tests/storms/run bounds the peak RSS: memory of dead processes must
;; be reused by the next wave.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "lunatic::process" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::process" "monitor" (func $monitor (param i64)))
  (import "lunatic::process" "link" (func $link (param i64 i64)))
  (import "lunatic::process" "kill" (func $kill (param i64)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  ;; 0..64 output scratch, 256.. strings, 512 spawn params, 1024 id out,
  ;; 1032 message bytes, 2048.. argv. One page: a child costs little.
  (memory (export "memory") 1)

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $puts (param $s i32)
    (local $e i32)
    (local.set $e (local.get $s))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $scan)))
    (call $write (local.get $s) (i32.sub (local.get $e) (local.get $s))))
  (func $print_i64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 48))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p)
        (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 48) (local.get $p))))
  (func $say (param $label i32) (param $n i64)
    (call $puts (local.get $label))
    (call $print_i64 (local.get $n))
    (call $write (i32.const 49) (i32.const 1)))
  (data (i32.const 48) "-\n")
  (data (i32.const 256) "children killed: \00")
  (data (i32.const 280) "link deaths: \00")
  (data (i32.const 296) "monitor notices: \00")
  (data (i32.const 328) "timeout or unexpected message\0a\00")
  (data (i32.const 360) "spawn failed\0a\00")
  (data (i32.const 376) "wrong link tag\0a\00")
  (data (i32.const 600) "child")
  (data (i32.const 608) "hub")

  ;; argv[$index] as a decimal number, or $default
  (func $arg (param $index i32) (param $default i64) (result i64)
    (local $p i32) (local $n i64) (local $c i32)
    (drop (call $args_sizes_get (i32.const 8) (i32.const 12)))
    (if (i32.le_u (i32.load (i32.const 8)) (local.get $index)) (then (return (local.get $default))))
    (drop (call $args_get (i32.const 2048) (i32.const 2304)))
    (local.set $p (i32.load (i32.add (i32.const 2048) (i32.mul (local.get $index) (i32.const 4)))))
    (block $end
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $end (i32.lt_u (local.get $c) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 57)))
        (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10))
                               (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func $fail (param $msg i32)
    (call $puts (local.get $msg))
    (call $proc_exit (i32.const 1)))

  ;; A child: link to the root, send it our ID, wait for ever.
  (func (export "child") (param $root i64)
    (call $link (i64.const 7) (local.get $root))
    (call $create_data (i64.const 0) (i64.const 8))
    (i64.store (i32.const 1032) (call $process_id))
    (drop (call $write_data (i32.const 1032) (i32.const 8)))
    (drop (call $send (local.get $root)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))

  ;; The hub: spawn $n children linked to it, then wait to be killed.
  (func (export "hub") (param $root i64) (param $n i64)
    (local $i i64)
    (i32.store8 (i32.const 512) (i32.const 0x7e))
    (i64.store (i32.const 513) (local.get $root))
    (i64.store (i32.const 521) (i64.const 0))
    (loop $spawning
      (if (call $spawn (i64.const 1) (i64.const -1) (i64.const -1)
            (i32.const 600) (i32.const 5) (i32.const 512) (i32.const 17) (i32.const 1024))
        (then (call $fail (i32.const 360))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $spawning (i64.lt_u (local.get $i) (local.get $n))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))

  (func (export "_start")
    (local $n i64) (local $waves i64) (local $wave i64) (local $i i64) (local $kind i32)
    (local $hub i64) (local $links i64) (local $monitors i64) (local $killed i64)
    (local.set $n (call $arg (i32.const 1) (i64.const 10000)))
    (local.set $waves (call $arg (i32.const 2) (i64.const 10)))
    (call $die_when_link_dies (i32.const 0))
    (loop $waves
      ;; the hub gets (root ID, N)
      (i32.store8 (i32.const 512) (i32.const 0x7e))
      (i64.store (i32.const 513) (call $process_id))
      (i64.store (i32.const 521) (i64.const 0))
      (i32.store8 (i32.const 529) (i32.const 0x7e))
      (i64.store (i32.const 530) (local.get $n))
      (i64.store (i32.const 538) (i64.const 0))
      (if (call $spawn (i64.const 0) (i64.const -1) (i64.const -1)
            (i32.const 608) (i32.const 3) (i32.const 512) (i32.const 34) (i32.const 1024))
        (then (call $fail (i32.const 360))))
      (local.set $hub (i64.load (i32.const 1024)))
      (call $monitor (local.get $hub))
      ;; every child runs and is monitored
      (local.set $i (i64.const 0))
      (loop $ready
        (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 30000)) (i32.const 0))
          (then (call $fail (i32.const 328))))
        (drop (call $read_data (i32.const 1032) (i32.const 8)))
        (call $monitor (i64.load (i32.const 1032)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br_if $ready (i64.lt_u (local.get $i) (local.get $n))))
      ;; the storm: one kill, N + 1 deaths
      (call $kill (local.get $hub))
      (local.set $i (i64.const 0))
      (loop $notices
        (local.set $kind (call $receive (i32.const 0) (i32.const 0) (i64.const 30000)))
        (if (i32.eq (local.get $kind) (i32.const 1))
          (then
            (if (i64.ne (call $get_tag) (i64.const 7)) (then (call $fail (i32.const 376))))
            (local.set $links (i64.add (local.get $links) (i64.const 1))))
          (else
            (if (i32.eq (local.get $kind) (i32.const 2))
              (then (local.set $monitors (i64.add (local.get $monitors) (i64.const 1))))
              (else (call $fail (i32.const 328))))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br_if $notices (i64.lt_u (local.get $i) (i64.add (i64.add (local.get $n) (local.get $n)) (i64.const 1)))))
      (local.set $killed (i64.add (local.get $killed) (local.get $n)))
      (local.set $wave (i64.add (local.get $wave) (i64.const 1)))
      (br_if $waves (i64.lt_u (local.get $wave) (local.get $waves))))
    (call $say (i32.const 256) (local.get $killed))
    (call $say (i32.const 280) (local.get $links))
    (call $say (i32.const 296) (local.get $monitors)))
)
