;; The guest of the embedding examples (C and Rust). `main` waits for a
;; message from the app, calls the app's host functions `app::add` and
;; `app::print`, and answers the process registered as "app" with a
;; message tagged with the sum. `bad` passes print a pointer outside its
;; memory: the call traps, and only this process ends.
(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::registry" "get" (func $registry_get (param i32 i32 i32 i32) (result i32)))
  (import "app" "add" (func $add (param i32 i32) (result i32)))
  (import "app" "print" (func $print (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "app")
  (data (i32.const 16) "hello from wasm")
  (data (i32.const 64) "pong")
  (func (export "main") (local $sum i32)
    ;; Wait for the app's message; its tag is the number to add to.
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $sum (call $add (i32.wrap_i64 (call $get_tag)) (i32.const 100)))
    (call $print (i32.const 16) (i32.const 15))
    ;; Find the app's mailbox (node ID at 32, process ID at 40) and answer.
    (if (call $registry_get (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 40))
      (then unreachable))
    (call $create_data (i64.extend_i32_s (local.get $sum)) (i64.const 4))
    (drop (call $write_data (i32.const 64) (i32.const 4)))
    (drop (call $send (i64.load (i32.const 40)))))
  (func (export "bad")
    (call $print (i32.const 65530) (i32.const 100))))
