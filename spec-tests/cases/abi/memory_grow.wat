;;! # memory.grow through every allocator path: within the initial block,
;;! # into bigger pooled blocks, past the pool's largest class (64 MiB) to
;;! # the system allocator, and refused beyond 4 GiB. Contents survive each
;;! # move and new pages read as zeros; the old size is returned.
;;! exit: 0
;;! stdout: grow 1 from 17: 17
;;! stdout: grow 100 from 18: 18
;;! stdout: grow 1000 from 118: 118
;;! stdout: size 1118
;;! stdout: markers intact: 1
;;! stdout: new pages zero: 1
;;! stdout: grow 70000: -1
;;! stdout: size still 1118
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 17)

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
  ;; $print_i64(n): signed decimal then a newline, digits built downwards from 48
  (func $print_i64 (param $n i64)
    (local $p i32) (local $neg i32)
    (local.set $neg (i64.lt_s (local.get $n) (i64.const 0)))
    (if (local.get $neg) (then (local.set $n (i64.sub (i64.const 0) (local.get $n)))))
    (local.set $p (i32.const 48))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $n) (i64.const 10)))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (if (local.get $neg)
      (then
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.const 45))))
    (call $write (local.get $p) (i32.sub (i32.const 49) (local.get $p))))
  (func $say (param $s i32) (param $n i32)
    (call $puts (local.get $s))
    (call $print_i64 (i64.extend_i32_s (local.get $n))))

  (data (i32.const 64) "grow 1 from 17: \00")
  (data (i32.const 96) "grow 100 from 18: \00")
  (data (i32.const 128) "grow 1000 from 118: \00")
  (data (i32.const 160) "size \00")
  (data (i32.const 176) "markers intact: \00")
  (data (i32.const 208) "new pages zero: \00")
  (data (i32.const 240) "grow 70000: \00")
  (data (i32.const 272) "size still \00")

  ;; A marker at the end of each of the first 17 pages.
  (func $mark
    (local $i i32)
    (loop $l
      (i64.store (i32.sub (i32.mul (i32.add (local.get $i) (i32.const 1)) (i32.const 65536)) (i32.const 8))
        (i64.add (i64.const 0x5A5A000000000000) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 17)))))
  (func $marks_ok (result i32)
    (local $i i32)
    (loop $l
      (if (i64.ne
            (i64.load (i32.sub (i32.mul (i32.add (local.get $i) (i32.const 1)) (i32.const 65536)) (i32.const 8)))
            (i64.add (i64.const 0x5A5A000000000000) (i64.extend_i32_u (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 17))))
    (i32.const 1))
  ;; Every 8-byte word from page 17 to the end is zero, except where the
  ;; test wrote (one word at the start of pages 17 and 117 before growing).
  (func $tail_zero (result i32)
    (local $a i32) (local $end i32)
    (local.set $a (i32.const 1114112))
    (local.set $end (i32.mul (memory.size) (i32.const 65536)))
    (loop $l
      (if (i32.and
            (i64.ne (i64.load (local.get $a)) (i64.const 0))
            (i32.and (i32.ne (local.get $a) (i32.const 1114112))
                     (i32.ne (local.get $a) (i32.const 7667712))))
        (then (return (i32.const 0))))
      (local.set $a (i32.add (local.get $a) (i32.const 8)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $end))))
    (i32.const 1))

  (func (export "_start")
    (call $mark)
    (call $say (i32.const 64) (memory.grow (i32.const 1)))
    (i64.store (i32.const 1114112) (i64.const 1))          ;; page 17
    (call $say (i32.const 96) (memory.grow (i32.const 100)))
    (i64.store (i32.const 7667712) (i64.const 2))          ;; page 117
    (call $say (i32.const 128) (memory.grow (i32.const 1000)))
    (call $say (i32.const 160) (memory.size))
    (call $say (i32.const 176) (i32.and (call $marks_ok)
      (i32.and (i64.eq (i64.load (i32.const 1114112)) (i64.const 1))
               (i64.eq (i64.load (i32.const 7667712)) (i64.const 2)))))
    (call $say (i32.const 208) (call $tail_zero))
    (call $say (i32.const 240) (memory.grow (i32.const 70000)))
    (call $say (i32.const 272) (memory.size)))
)
