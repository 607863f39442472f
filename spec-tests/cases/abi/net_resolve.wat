;;! # resolve: LUNATIC_RESOLVE overrides a host name (case-insensitively, all
;;! # listed addresses in order, with the port asked for) without the system
;;! # resolver; IP literals resolve even with a zero timeout; resolve_next writes
;;! # type, address, port (and flow info / scope ID for v6) and returns 1 at the
;;! # end; DNS iterator IDs count from 0.
;;! env: LUNATIC_RESOLVE=net-test.invalid=127.0.0.9, Net-Test.Invalid=::1
;;! stdout: resolve an overridden name: 0
;;! stdout: next: 0
;;! stdout:   type: 4
;;! stdout:   last address byte: 9
;;! stdout:   port: 1234
;;! stdout: next: 0
;;! stdout:   type: 6
;;! stdout:   last address byte: 1
;;! stdout:   port: 1234
;;! stdout:   flow info and scope id: 0
;;! stdout: next at the end: 1
;;! stdout: resolve an IPv6 literal, timeout 0: 0
;;! stdout: next: 0
;;! stdout:   type: 6
;;! stdout:   last address byte: 1
;;! stdout:   port: 7
;;! stdout: resolve an IPv4 literal, timeout 0: 0
;;! stdout: next: 0
;;! stdout:   type: 4
;;! stdout:   last address byte: 1
;;! stdout:   port: 80
;;! stdout: iterator id: 2
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "resolve" (func $resolve (param i32 i32 i64 i32) (result i32)))
  (import "lunatic::networking" "resolve_next" (func $resolve_next (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::networking" "drop_dns_iterator" (func $drop_dns_iterator (param i64)))
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
  (data (i32.const 256) "resolve an overridden name: \00")
  (data (i32.const 285) "next: \00")
  (data (i32.const 292) "  type: \00")
  (data (i32.const 301) "  last address byte: \00")
  (data (i32.const 323) "  port: \00")
  (data (i32.const 332) "next: \00")
  (data (i32.const 339) "  type: \00")
  (data (i32.const 348) "  last address byte: \00")
  (data (i32.const 370) "  port: \00")
  (data (i32.const 379) "  flow info and scope id: \00")
  (data (i32.const 406) "next at the end: \00")
  (data (i32.const 424) "resolve an IPv6 literal, timeout 0: \00")
  (data (i32.const 461) "next: \00")
  (data (i32.const 468) "  type: \00")
  (data (i32.const 477) "  last address byte: \00")
  (data (i32.const 499) "  port: \00")
  (data (i32.const 508) "resolve an IPv4 literal, timeout 0: \00")
  (data (i32.const 545) "next: \00")
  (data (i32.const 552) "  type: \00")
  (data (i32.const 561) "  last address byte: \00")
  (data (i32.const 583) "  port: \00")
  (data (i32.const 592) "iterator id: \00")
  (data (i32.const 606) "NET-test.invalid:1234\00")
  (data (i32.const 628) "[::1]:7\00")
  (data (i32.const 636) "127.0.0.1:80\00")
  (func (export "_start")
    (call $say (i32.const 256) (i64.extend_i32_s (call $resolve (i32.const 606) (i32.const 21) (i64.const -1) (i32.const 4200))))
    (call $say (i32.const 285) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4200)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $say (i32.const 292) (i64.load32_u (i32.const 4216)))
    (call $say (i32.const 301) (i64.load8_u (i32.const 4223)))
    (call $say (i32.const 323) (i64.load16_u (i32.const 4236)))
    (i64.store (i32.const 4240) (i64.const -1))
    (call $say (i32.const 332) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4200)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $say (i32.const 339) (i64.load32_u (i32.const 4216)))
    (call $say (i32.const 348) (i64.load8_u (i32.const 4235)))
    (call $say (i32.const 370) (i64.load16_u (i32.const 4236)))
    (call $say (i32.const 379) (i64.load (i32.const 4240)))
    (call $say (i32.const 406) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4200)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $drop_dns_iterator (i64.load (i32.const 4200)))
    (call $say (i32.const 424) (i64.extend_i32_s (call $resolve (i32.const 628) (i32.const 7) (i64.const 0) (i32.const 4200))))
    (call $say (i32.const 461) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4200)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $say (i32.const 468) (i64.load32_u (i32.const 4216)))
    (call $say (i32.const 477) (i64.load8_u (i32.const 4235)))
    (call $say (i32.const 499) (i64.load16_u (i32.const 4236)))
    (call $drop_dns_iterator (i64.load (i32.const 4200)))
    (call $say (i32.const 508) (i64.extend_i32_s (call $resolve (i32.const 636) (i32.const 12) (i64.const 0) (i32.const 4200))))
    (call $say (i32.const 545) (i64.extend_i32_s (call $resolve_next (i64.load (i32.const 4200)) (i32.const 4216) (i32.const 4220) (i32.const 4236) (i32.const 4240) (i32.const 4244))))
    (call $say (i32.const 552) (i64.load32_u (i32.const 4216)))
    (call $say (i32.const 561) (i64.load8_u (i32.const 4223)))
    (call $say (i32.const 583) (i64.load16_u (i32.const 4236)))
    (call $say (i32.const 592) (i64.load (i32.const 4200))))
)
