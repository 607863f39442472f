;; The guest of the embedding examples (C and Rust). `main` waits for a
;; message from the app, calls the app's host functions `app::add` and
;; `app::print`, asks the app for data with `app::fetch` (an async host
;; function: this process waits, without holding a thread, until the app
;; answers from another thread), prints its own argv[1], and answers the
;; process registered as "app" with a message tagged with the sum. `bad`
;; passes print a pointer outside its memory: the call traps, and only this
;; process ends.
(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (import "lunatic::registry" "get" (func $registry_get (param i32 i32 i32 i32) (result i32)))
  (import "app" "add" (func $add (param i32 i32) (result i32)))
  (import "app" "print" (func $print (param i32 i32)))
  (import "app" "fetch" (func $fetch (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "app")
  (data (i32.const 16) "hello from wasm")
  (data (i32.const 64) "pong")
  (func (export "main") (local $sum i32)
    ;; Wait for the app's message; its tag is the number to add to.
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $sum (call $add (i32.wrap_i64 (call $get_tag)) (i32.const 100)))
    (call $print (i32.const 16) (i32.const 15))
    ;; Up to 64 bytes from the app at 256, then print them.
    (call $print (i32.const 256) (call $fetch (i32.const 256) (i32.const 64)))
    ;; argv: count at 512, size at 516, pointers from 520, strings from 600.
    (drop (call $args_sizes (i32.const 512) (i32.const 516)))
    (drop (call $args_get (i32.const 520) (i32.const 600)))
    (if (i32.ge_u (i32.load (i32.const 512)) (i32.const 2))
      (then
        ;; argv[1] runs from its pointer to the end, if it is the last.
        (call $print (i32.load (i32.const 524))
          (i32.sub (i32.sub (i32.add (i32.const 600) (i32.load (i32.const 516)))
                            (i32.load (i32.const 524)))
                   (i32.const 1)))))
    ;; Find the app's mailbox (node ID at 32, process ID at 40) and answer.
    (if (call $registry_get (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 40))
      (then unreachable))
    (call $create_data (i64.extend_i32_s (local.get $sum)) (i64.const 4))
    (drop (call $write_data (i32.const 64) (i32.const 4)))
    (drop (call $send (i64.load (i32.const 40)))))
  (func (export "bad")
    (call $print (i32.const 65530) (i32.const 100))))
