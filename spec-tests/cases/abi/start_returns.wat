;;! # A `_start` that just returns: exit status 0, no output at all.
;;! exit: 0
;;! stdout-raw:
;;! stderr-raw:
(module
  (memory (export "memory") 1)
  (func (export "_start"))
)
