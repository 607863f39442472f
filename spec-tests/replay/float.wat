;; Float-heavy work with no host calls, for measuring wasmi's
;; `deterministic` feature (NaN canonicalisation after float operations):
;; 5*10^7 rounds of f64 multiply-add, divide and square root.
(module
  (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (local $x f64) (local $y f64)
    (local.set $x (f64.const 1.5))
    (local.set $y (f64.const 0.25))
    (local.set $i (i32.const 50000000))
    (loop $l
      (local.set $x (f64.add (f64.mul (local.get $x) (f64.const 0.999999)) (local.get $y)))
      (local.set $y (f64.sqrt (f64.div (local.get $x) (f64.const 3.0))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (f64.store (i32.const 0) (local.get $x)))
)
