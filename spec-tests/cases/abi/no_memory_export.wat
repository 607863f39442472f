;;! # Host calls that touch no memory work in a module without a memory export:
;;! # process_id() is 1, so _start returns normally (a wrong answer traps).
;;! exit: 0
;;! stdout-raw:
(module
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (func (export "_start")
    (if (i64.ne (call $process_id) (i64.const 1)) (then unreachable)))
)
