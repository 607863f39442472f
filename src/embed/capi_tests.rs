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
