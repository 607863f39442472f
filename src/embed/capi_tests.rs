//! The C header matches the exports, and the C API refuses bad input with
//! codes and messages instead of crashing.

use super::capi::*;
use std::collections::BTreeMap;


/// Function name -> number of parameters, from C declarations or Rust
/// `extern "C" fn` items.
fn signatures(text: &str, marker: &str) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let after = &rest[at + marker.len()..];
        let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let tail = &after[name.len()..];
        // Only `name(` is a function; `name)(` is a callback typedef.
        let Some(args) = tail.strip_prefix('(') else {
            rest = tail;
            continue;
        };
        let args_end = args.find(')').expect("a closing parenthesis");
        let list = args[..args_end].trim();
        let count = if list == "void" { 0 } else { list.split(',').filter(|p| !p.trim().is_empty()).count() };
        found.insert(format!("lunatic_{name}"), count);
        rest = &args[args_end..];
    }
    found
}

#[test]
fn capi_header_declares_every_export() {
    let header = include_str!("lunatic.h");
    let source = include_str!("capi.rs");
    // Declarations: "int32_t lunatic_x(" and "const char *lunatic_x(".
    let mut declared = signatures(header, "int32_t lunatic_");
    declared.extend(signatures(header, "*lunatic_"));
    let declared: BTreeMap<String, usize> =
        declared.into_iter().map(|(n, c)| (n.trim_start_matches("lunatic_").to_string(), c)).collect();
    let exported: BTreeMap<String, usize> = signatures(source, "pub extern \"C\" fn lunatic_")
        .into_iter()
        .map(|(n, c)| (n.trim_start_matches("lunatic_").to_string(), c))
        .collect();
    assert!(exported.len() >= 30, "found only {exported:?}");
    assert_eq!(declared, exported, "src/embed/lunatic.h and src/embed/capi.rs disagree");
}

fn last_error() -> String {
    // The pointer is this thread's error text, valid until the
    // next call on this thread.
    let ptr = lunatic_last_error();
    crate::os::ffi::text(ptr).unwrap_or("").to_string()
}

#[test]
fn bad_input_gets_codes_and_messages() {
    assert_eq!(lunatic_builder_new(std::ptr::null_mut()), 1);
    assert!(last_error().contains("null"), "{}", last_error());
    let mut builder = std::ptr::null_mut();
    assert_eq!(lunatic_builder_new(&mut builder), 0);
    assert_eq!(last_error(), "");
    let bad_types = c"x";
    assert_eq!(
        lunatic_builder_host_function(builder, c"app".as_ptr(), c"f".as_ptr(), bad_types.as_ptr(), c"".as_ptr(), None, std::ptr::null_mut()),
        1
    );
    assert_eq!(lunatic_builder_threads(builder, 1), 0);
    let mut runtime = std::ptr::null_mut();
    assert_eq!(lunatic_builder_build(builder, &mut runtime), 0);
    let mut module = std::ptr::null_mut();
    let junk = b"not wasm";
    assert_eq!(lunatic_load(runtime, junk.as_ptr(), junk.len(), &mut module), 2);
    assert!(last_error().contains("invalid module"), "{}", last_error());
    assert_eq!(lunatic_load(runtime, std::ptr::null(), 5, &mut module), 1);
    assert_eq!(lunatic_kill(runtime, 999), 4);
    assert_eq!(lunatic_wait(runtime, 999, 0, std::ptr::null_mut(), std::ptr::null_mut()), 4);
    let wat = b"(module (func (export \"main\") (param i32)))";
    assert_eq!(lunatic_load(runtime, wat.as_ptr(), wat.len(), &mut module), 0);
    let mut pid = 0u64;
    // The wrong number of parameters is refused before anything starts.
    assert_eq!(lunatic_spawn(runtime, module, c"main".as_ptr(), std::ptr::null(), std::ptr::null(), 0, &mut pid), 1);
    let params = [5i64];
    assert_eq!(lunatic_spawn(runtime, module, c"main".as_ptr(), std::ptr::null(), params.as_ptr(), 1, &mut pid), 0);
    let (mut how, mut code) = (-1, -1);
    assert_eq!(lunatic_wait(runtime, pid, 10_000, &mut how, &mut code), 0);
    assert_eq!((how, code), (0, 0));
    let mut mailbox = std::ptr::null_mut();
    assert_eq!(lunatic_mailbox_new(runtime, &mut mailbox), 0);
    assert_eq!(lunatic_mailbox_send(mailbox, 999, 1, std::ptr::null(), 0), 4);
    let mut message = std::ptr::null_mut();
    assert_eq!(lunatic_mailbox_receive(mailbox, 10, &mut message), 5);
    assert!(message.is_null());
    assert_eq!(lunatic_message_info(std::ptr::null(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()), 1);
    let mut killed = 0u64;
    assert_eq!(lunatic_shutdown(runtime, 5_000, &mut killed), 0);
    assert_eq!(lunatic_mailbox_receive(mailbox, -1, &mut message), 6);
    assert_eq!(lunatic_mailbox_free(mailbox), 0);
    assert_eq!(lunatic_module_free(module), 0);
    assert_eq!(lunatic_runtime_free(runtime), 0);
    assert_eq!(lunatic_runtime_free(std::ptr::null_mut()), 0, "freeing NULL is allowed");
}

#[test]
fn every_new_call_refuses_nulls() {
    let null_config = std::ptr::null_mut::<lunatic_config>();
    assert_eq!(lunatic_config_new(std::ptr::null_mut()), 1);
    assert_eq!(lunatic_config_max_memory(null_config, 1), 1);
    assert_eq!(lunatic_config_max_fuel(null_config, 1), 1);
    assert_eq!(lunatic_config_max_mailbox_size(null_config, 1), 1);
    assert_eq!(lunatic_config_permissions(null_config, 1), 1);
    assert_eq!(lunatic_config_add_arg(null_config, c"a".as_ptr()), 1);
    assert_eq!(lunatic_config_add_env(null_config, c"a".as_ptr(), c"b".as_ptr()), 1);
    assert_eq!(lunatic_config_add_preopen(null_config, c"/tmp".as_ptr(), c"/tmp".as_ptr()), 1);
    assert_eq!(lunatic_config_free(null_config), 0);
    let mut config = std::ptr::null_mut();
    assert_eq!(lunatic_config_new(&mut config), 0);
    assert_eq!(lunatic_config_add_arg(config, std::ptr::null()), 1);
    assert!(last_error().contains("arg is null"), "{}", last_error());
    assert_eq!(lunatic_config_add_env(config, c"A=B".as_ptr(), c"b".as_ptr()), 1);
    assert_eq!(lunatic_config_add_preopen(config, c"/no/such/dir".as_ptr(), c"/x".as_ptr()), 4);
    assert_eq!(lunatic_config_permissions(config, 8), 1);
    assert_eq!(lunatic_config_free(config), 0);
    let null_builder = std::ptr::null_mut::<lunatic_builder>();
    assert_eq!(lunatic_builder_deterministic(null_builder, 1), 1);
    assert_eq!(lunatic_builder_compact_idle_after(null_builder, 1), 1);
    assert_eq!(lunatic_builder_max_total_memory(null_builder, 1), 1);
    assert_eq!(lunatic_builder_max_mailbox_size(null_builder, 1), 1);
    assert_eq!(
        lunatic_builder_async_host_function(null_builder, c"a".as_ptr(), c"b".as_ptr(), c"".as_ptr(), c"".as_ptr(), Some(answer_later), std::ptr::null_mut()),
        1
    );
    assert_eq!(lunatic_completion_write(std::ptr::null_mut(), 0, std::ptr::null(), 0), 1);
    assert_eq!(lunatic_completion_finish(std::ptr::null_mut(), 0, std::ptr::null(), 0), 1);
    let null_mailbox = std::ptr::null::<lunatic_mailbox>();
    assert_eq!(lunatic_mailbox_receive_async(null_mailbox, 0, Some(on_receive), std::ptr::null_mut()), 1);
    assert_eq!(lunatic_mailbox_set_max_size(null_mailbox, 1), 1);
    assert_eq!(lunatic_mailbox_dropped(null_mailbox, std::ptr::null_mut()), 1);
    // Handles of the wrong kind are the C caller's bug and not detectable;
    // misaligned ones are refused.
    assert_eq!(lunatic_mailbox_set_max_size(std::ptr::without_provenance::<lunatic_mailbox>(1), 1), 1);
}

/// `app::later(x) -> i64` (async): a thread of "the app" answers x + 1
/// after 100 ms and writes "done" at guest address 200; x < 0 makes the
/// answer a failure, x == 0 a refusal.
extern "C" fn answer_later(
    _user_data: *mut std::ffi::c_void,
    _call: *mut std::ffi::c_void,
    params: *const i64,
    params_len: usize,
    completion: *mut lunatic_completion,
) -> i32 {
    let x = crate::os::ffi::slice(params, params_len).and_then(|p| p.first().copied()).unwrap_or(0);
    if x == 0 {
        return 7;
    }
    let completion = completion as usize;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let completion = completion as *mut lunatic_completion;
        assert_eq!(lunatic_completion_write(completion, 200, b"done".as_ptr(), 4), 0);
        let results = [x + 1];
        let status = if x < 0 { 3 } else { 0 };
        assert_eq!(lunatic_completion_finish(completion, status, results.as_ptr(), 1), 0);
    });
    0
}

/// Records what `lunatic_mailbox_receive_async` delivered: (status, tag).
extern "C" fn on_receive(user_data: *mut std::ffi::c_void, status: i32, message: *const lunatic_message) {
    let mut tag = -1;
    if status == 0 {
        assert_eq!(lunatic_message_info(message, std::ptr::null_mut(), &mut tag, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut()), 0);
    }
    let sender = crate::os::ffi::handle(user_data as *const std::sync::mpsc::SyncSender<(i32, i64)>).unwrap();
    sender.send((status, tag)).unwrap();
}

/// Calls `app::later` with its argument; sends the result, as a tag, with
/// the 4 bytes at 200, to the process named "app".
const CALLS_LATER: &[u8] = br#"(module
  (import "app" "later" (func $later (param i64) (result i64)))
  (import "lunatic::registry" "get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "create_data" (func $create (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "app")
  (func (export "main") (param $x i64) (local $r i64)
    (local.set $r (call $later (local.get $x)))
    (if (call $get (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 40)) (then unreachable))
    (call $create (local.get $r) (i64.const 4))
    (drop (call $write (i32.const 200) (i32.const 4)))
    (drop (call $send (i64.load (i32.const 40))))))"#;

fn message_tag_and_data(message: *mut lunatic_message) -> (i64, Vec<u8>) {
    let (mut tag, mut data, mut len) = (0i64, std::ptr::null(), 0usize);
    assert_eq!(lunatic_message_info(message, std::ptr::null_mut(), &mut tag, std::ptr::null_mut(), &mut data, &mut len), 0);
    let bytes = crate::os::ffi::bytes(data, len).unwrap().to_vec();
    assert_eq!(lunatic_message_free(message), 0);
    (tag, bytes)
}

/// Builds a runtime with `app::later`, deterministic or with one thread.
fn later_runtime(seed: Option<u64>) -> *mut lunatic_runtime {
    let mut builder = std::ptr::null_mut();
    assert_eq!(lunatic_builder_new(&mut builder), 0);
    match seed {
        Some(seed) => assert_eq!(lunatic_builder_deterministic(builder, seed), 0),
        None => assert_eq!(lunatic_builder_threads(builder, 1), 0),
    }
    assert_eq!(lunatic_builder_compact_idle_after(builder, -1), 0);
    assert_eq!(
        lunatic_builder_async_host_function(builder, c"app".as_ptr(), c"later".as_ptr(), c"I".as_ptr(), c"I".as_ptr(), Some(answer_later), std::ptr::null_mut()),
        0
    );
    let mut runtime = std::ptr::null_mut();
    assert_eq!(lunatic_builder_build(builder, &mut runtime), 0);
    runtime
}

fn async_host_function_and_receive(seed: Option<u64>) {
    let runtime = later_runtime(seed);
    let mut module = std::ptr::null_mut();
    assert_eq!(lunatic_load(runtime, CALLS_LATER.as_ptr(), CALLS_LATER.len(), &mut module), 0);
    let mut mailbox = std::ptr::null_mut();
    assert_eq!(lunatic_mailbox_new(runtime, &mut mailbox), 0);
    assert_eq!(lunatic_mailbox_register(mailbox, c"app".as_ptr()), 0);
    let mut pid = 0u64;
    let spawn = |x: i64, pid: &mut u64| lunatic_spawn(runtime, module, c"main".as_ptr(), std::ptr::null(), [x].as_ptr(), 1, pid);
    assert_eq!(spawn(41, &mut pid), 0);
    let mut message = std::ptr::null_mut();
    assert_eq!(lunatic_mailbox_receive(mailbox, 10_000, &mut message), 0, "{}", last_error());
    assert_eq!(message_tag_and_data(message), (42, b"done".to_vec()));
    let (mut how, mut status) = (-1, -1);
    assert_eq!(lunatic_wait(runtime, pid, 10_000, &mut how, &mut status), 0);
    assert_eq!((how, status), (0, 0));
    // A failure finished later, and a refusal at once: each traps its caller.
    for (x, why) in [(-1, "failed with code 3"), (0, "failed with code 7")] {
        assert_eq!(spawn(x, &mut pid), 0);
        assert_eq!(lunatic_wait(runtime, pid, 10_000, &mut how, &mut status), 0);
        assert_eq!(how, 2);
        assert!(last_error().contains(why), "{}", last_error());
    }
    // Nothing waiting: a look returns at once.
    assert_eq!(lunatic_mailbox_receive(mailbox, 0, &mut message), 5);
    // A receive that calls back: first a timeout, then a message.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(i32, i64)>(4);
    // Leaked: a callback may still be inside `send` when the test ends.
    let user = Box::leak(Box::new(tx)) as *const _ as *mut std::ffi::c_void;
    assert_eq!(lunatic_mailbox_receive_async(mailbox, 50, Some(on_receive), user), 0);
    if seed.is_some() {
        // Deterministic: callbacks run while the app waits in a call.
        assert_eq!(lunatic_mailbox_receive(mailbox, 100, &mut message), 5);
    }
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), (5, -1));
    assert_eq!(lunatic_mailbox_receive_async(mailbox, -1, Some(on_receive), user), 0);
    assert_eq!(spawn(9, &mut pid), 0);
    if seed.is_some() {
        // Waiting on another mailbox runs everything (virtual time jumps to
        // its deadline once nothing else can happen).
        let mut idle = std::ptr::null_mut();
        assert_eq!(lunatic_mailbox_new(runtime, &mut idle), 0);
        assert_eq!(lunatic_mailbox_receive(idle, 2_000, &mut message), 5);
        assert_eq!(lunatic_mailbox_free(idle), 0);
    }
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), (0, 10));
    // Freeing the mailbox ends a pending receive: the callback still comes.
    assert_eq!(lunatic_mailbox_receive_async(mailbox, -1, Some(on_receive), user), 0);
    assert_eq!(lunatic_mailbox_free(mailbox), 0);
    if seed.is_some() {
        let mut idle = std::ptr::null_mut();
        assert_eq!(lunatic_mailbox_new(runtime, &mut idle), 0);
        assert_eq!(lunatic_mailbox_receive(idle, 100, &mut message), 5);
        assert_eq!(lunatic_mailbox_free(idle), 0);
    }
    assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), (6, -1));
    let mut killed = 0;
    assert_eq!(lunatic_shutdown(runtime, 5_000, &mut killed), 0);
    assert_eq!(lunatic_module_free(module), 0);
    assert_eq!(lunatic_runtime_free(runtime), 0);
}

#[test]
fn c_async_host_function_and_receive_threaded() {
    async_host_function_and_receive(None);
}

#[test]
fn c_async_host_function_and_receive_deterministic() {
    async_host_function_and_receive(Some(11));
}

#[test]
fn c_config_and_mailbox_limit() {
    // The guest reports argc * 100 + env count * 10 + (a preopen at fd 3)
    // as the tag of a message to the process whose ID it is given.
    let guest = br#"(module
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envs (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
      (import "lunatic::message" "create_data" (func $create (param i64 i64)))
      (import "lunatic::message" "send" (func $send (param i64) (result i32)))
      (memory (export "memory") 1)
      (func (export "main") (param $to i64)
        (drop (call $args (i32.const 0) (i32.const 8)))
        (drop (call $envs (i32.const 16) (i32.const 24)))
        (call $create
          (i64.extend_i32_u
            (i32.add
              (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 100))
                       (i32.mul (i32.load (i32.const 16)) (i32.const 10)))
              (i32.eqz (call $prestat (i32.const 3) (i32.const 32)))))
          (i64.const 0))
        (drop (call $send (local.get $to))))
      (func (export "spin") (loop (br 0))))"#;
    let mut builder = std::ptr::null_mut();
    assert_eq!(lunatic_builder_new(&mut builder), 0);
    assert_eq!(lunatic_builder_threads(builder, 1), 0);
    assert_eq!(lunatic_builder_max_mailbox_size(builder, 200), 0);
    let mut runtime = std::ptr::null_mut();
    assert_eq!(lunatic_builder_build(builder, &mut runtime), 0);
    let mut module = std::ptr::null_mut();
    assert_eq!(lunatic_load(runtime, guest.as_ptr(), guest.len(), &mut module), 0);
    let (mut mailbox, mut other) = (std::ptr::null_mut(), std::ptr::null_mut());
    assert_eq!(lunatic_mailbox_new(runtime, &mut mailbox), 0);
    assert_eq!(lunatic_mailbox_new(runtime, &mut other), 0);
    let mut id = 0u64;
    assert_eq!(lunatic_mailbox_id(mailbox, &mut id), 0);
    let mut config = std::ptr::null_mut();
    assert_eq!(lunatic_config_new(&mut config), 0);
    for arg in [c"app", c"one"] {
        assert_eq!(lunatic_config_add_arg(config, arg.as_ptr()), 0);
    }
    assert_eq!(lunatic_config_add_env(config, c"A".as_ptr(), c"1".as_ptr()), 0);
    let tmp = std::ffi::CString::new(std::env::temp_dir().to_string_lossy().into_owned()).unwrap();
    assert_eq!(lunatic_config_add_preopen(config, tmp.as_ptr(), c"/tmp".as_ptr()), 0);
    assert_eq!(lunatic_config_max_memory(config, 1 << 20), 0);
    assert_eq!(lunatic_config_permissions(config, 4), 0);
    let mut pid = 0u64;
    let to = [id as i64];
    assert_eq!(lunatic_spawn(runtime, module, c"main".as_ptr(), config, to.as_ptr(), 1, &mut pid), 0);
    let mut message = std::ptr::null_mut();
    assert_eq!(lunatic_mailbox_receive(mailbox, 10_000, &mut message), 0);
    assert_eq!(message_tag_and_data(message).0, 211);
    // Fuel: a spinning process ends out of fuel.
    assert_eq!(lunatic_config_max_fuel(config, 1), 0);
    assert_eq!(lunatic_spawn(runtime, module, c"spin".as_ptr(), config, std::ptr::null(), 0, &mut pid), 0);
    let mut how = -1;
    assert_eq!(lunatic_wait(runtime, pid, 10_000, &mut how, std::ptr::null_mut()), 0);
    assert_eq!(how, 5);
    assert_eq!(lunatic_config_free(config), 0);
    // The mailbox holds 200 bytes: one 5-byte message (197), not two.
    for _ in 0..3 {
        assert_eq!(lunatic_mailbox_send(other, id, 1, b"hello".as_ptr(), 5), 0);
    }
    let mut dropped = 0u64;
    assert_eq!(lunatic_mailbox_dropped(mailbox, &mut dropped), 0);
    assert_eq!(dropped, 2);
    assert_eq!(lunatic_mailbox_receive(mailbox, 10_000, &mut message), 0);
    assert_eq!(message_tag_and_data(message), (1, b"hello".to_vec()));
    assert_eq!(lunatic_mailbox_receive(mailbox, 0, &mut message), 5);
    assert_eq!(lunatic_mailbox_set_max_size(mailbox, 1000), 0);
    for _ in 0..3 {
        assert_eq!(lunatic_mailbox_send(other, id, 2, b"hello".as_ptr(), 5), 0);
    }
    for _ in 0..3 {
        assert_eq!(lunatic_mailbox_receive(mailbox, 10_000, &mut message), 0);
        assert_eq!(message_tag_and_data(message).0, 2);
    }
    assert_eq!(lunatic_shutdown(runtime, 5_000, std::ptr::null_mut()), 0);
    for handle in [mailbox, other] {
        assert_eq!(lunatic_mailbox_free(handle), 0);
    }
    assert_eq!(lunatic_module_free(module), 0);
    assert_eq!(lunatic_runtime_free(runtime), 0);
}
