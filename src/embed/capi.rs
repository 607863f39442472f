//! The C API over the embedding API; its header is `src/embed/lunatic.h`
//! (kept in sync with this file by a test).
//!
//! Every function returns an error code (0 on success, else an
//! [`ErrorKind`] number) and leaves a message for `lunatic_last_error` on
//! the calling thread. Every body runs inside `catch_unwind`: no panic
//! crosses into C (one becomes `LUNATIC_INTERNAL`). Handles are boxes given
//! to C as opaque pointers and freed by their `_free` function.
//!
//! Why this file allows `unsafe_code`: `#[no_mangle]` counts as unsafe
//! code for the lint (an exported symbol could clash with another), and the
//! exports must not be mangled for C to find them. There is no `unsafe`
//! block here: every raw pointer is read or written through `crate::os::ffi`.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use super::{Builder, EmbedError, ErrorKind, HostCall, Lunatic, Mailbox, Module, Process, Subscription, Trap, ValType, Value};
use crate::os::ffi;
use crate::protocol::{Exit, Message, ProcessConfig};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::Mutex;
use std::time::Duration;

thread_local! {
    /// The message of the last failed call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// Runs `body`, turning its error or panic into a code and a message.
fn guard(body: impl FnOnce() -> Result<(), EmbedError>) -> i32 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_error("");
            0
        }
        Ok(Err(error)) => {
            set_error(error.message());
            error.kind() as i32
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_error(&format!("internal error (a panic): {what}"));
            ErrorKind::Internal as i32
        }
    }
}

fn invalid(what: &str) -> EmbedError {
    EmbedError::new(ErrorKind::InvalidArgument, what)
}

fn out<T>(ptr: *mut T, value: T) -> Result<(), EmbedError> {
    if ffi::write(ptr, value) {
        Ok(())
    } else {
        Err(invalid("an out-pointer is null"))
    }
}

/// Writes through an optional out-pointer (null: not wanted).
fn maybe_out<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        ffi::write(ptr, value);
    }
}

fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, EmbedError> {
    ffi::text(ptr).ok_or_else(|| invalid(&format!("{what} is null or not UTF-8")))
}

fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, EmbedError> {
    ffi::handle(ptr).ok_or_else(|| invalid(&format!("{what} is null")))
}

/// The builder handle.
pub struct lunatic_builder(Builder);

/// The runtime handle: the runtime and the processes C spawned (by ID, to
/// wait for them).
pub struct lunatic_runtime {
    lunatic: Lunatic,
    processes: Mutex<HashMap<u64, Process>>,
}

/// A compiled module.
pub struct lunatic_module(Module);

/// A native mailbox, its runtime (whose `run` drives a deterministic
/// runtime while C waits), and a channel that closes when C frees the
/// handle (which ends its pending `receive_async`).
pub struct lunatic_mailbox(
    Mailbox,
    Lunatic,
    // Never sent on: only dropped with the handle.
    #[allow(dead_code)] async_channel::Sender<()>,
    async_channel::Receiver<()>,
);

/// A received message.
pub struct lunatic_message(Message);

/// A running `on_message` callback.
pub struct lunatic_subscription(#[allow(dead_code)] Subscription);

/// A guest's call of a C host function, valid during the callback.
pub struct lunatic_call<'r, 'a, 'b> {
    call: &'r mut HostCall<'a, 'b>,
    /// Why a memory access failed: the trap the call ends with.
    trap: Option<Trap>,
}

/// A process configuration for `lunatic_spawn`: limits, permissions,
/// arguments, environment, directories.
pub struct lunatic_config(ProcessConfig);

/// An async host function's pending call: finished once, from any thread.
pub struct lunatic_completion {
    /// Where the outcome goes: the results (or a status), and the bytes to
    /// write into the guest's memory first.
    sender: async_channel::Sender<Finished>,
    writes: Vec<(u32, Vec<u8>)>,
    results_len: usize,
}

/// What `lunatic_completion_finish` sends to the waiting call.
struct Finished {
    status: i32,
    results: Vec<i64>,
    writes: Vec<(u32, Vec<u8>)>,
}

/// A C host function (see the header).
pub type lunatic_host_fn = extern "C" fn(
    user_data: *mut c_void,
    call: *mut c_void,
    params: *const i64,
    params_len: usize,
    results: *mut i64,
    results_len: usize,
) -> i32;

/// A C async host function (see the header).
pub type lunatic_async_host_fn = extern "C" fn(
    user_data: *mut c_void,
    call: *mut c_void,
    params: *const i64,
    params_len: usize,
    completion: *mut lunatic_completion,
) -> i32;

/// A C callback for one received message (see the header).
pub type lunatic_receive_fn = extern "C" fn(user_data: *mut c_void, status: i32, message: *const lunatic_message);

/// A C message callback (see the header).
pub type lunatic_message_fn = extern "C" fn(user_data: *mut c_void, message: *const lunatic_message);

/// The message of the last failed call on this thread ("" after a
/// success); valid until the thread's next call.
#[no_mangle]
pub extern "C" fn lunatic_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

/// A builder with the defaults (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_new(out_builder: *mut *mut lunatic_builder) -> i32 {
    guard(|| out(out_builder, Box::into_raw(Box::new(lunatic_builder(Lunatic::builder())))))
}

/// Sets the worker threads (0: one per core).
#[no_mangle]
pub extern "C" fn lunatic_builder_threads(builder: *mut lunatic_builder, threads: u32) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.threads(threads as usize);
        Ok(())
    })
}

/// Sets the fuel slice.
#[no_mangle]
pub extern "C" fn lunatic_builder_fuel_slice(builder: *mut lunatic_builder, fuel: u64) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.fuel_slice(fuel);
        Ok(())
    })
}

fn types(spec: &str) -> Result<Vec<ValType>, EmbedError> {
    spec.chars()
        .map(|c| match c {
            'i' => Ok(ValType::I32),
            'I' => Ok(ValType::I64),
            other => Err(invalid(&format!("unknown type letter {other:?} (use i or I)"))),
        })
        .collect()
}

/// Arguments as C sees them: one `int64_t` each (an i32 sign-extended).
fn to_i64(args: &[Value]) -> Vec<i64> {
    args.iter()
        .map(|v| match v {
            Value::I32(x) => i64::from(*x),
            Value::I64(x) => *x,
            // Only i32 and i64 can be declared from C.
            Value::F32(_) | Value::F64(_) => 0,
        })
        .collect()
}

/// Results from C as the declared types (an i32 takes the low 32 bits, as
/// Wasm's `i32.wrap` would).
fn from_i64(results: &[i64], kinds: &[ValType]) -> Vec<Value> {
    results
        .iter()
        .zip(kinds)
        .map(|(&r, kind)| match kind {
            ValType::I32 => Value::I32(r as i32),
            _ => Value::I64(r),
        })
        .collect()
}

/// Sets a deterministic scheduler with `seed` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_deterministic(builder: *mut lunatic_builder, seed: u64) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.deterministic(seed);
        Ok(())
    })
}

/// Sets when idle processes' memory is compacted (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_compact_idle_after(builder: *mut lunatic_builder, ms: i64) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let after = u64::try_from(ms).ok().map(Duration::from_millis);
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.compact_idle_after(after);
        Ok(())
    })
}

/// Caps the linear memory of all processes together (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_max_total_memory(builder: *mut lunatic_builder, bytes: u64) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.max_total_memory((bytes != 0).then_some(bytes));
        Ok(())
    })
}

/// Sets the byte limit of new mailboxes (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_max_mailbox_size(builder: *mut lunatic_builder, bytes: u64) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.max_mailbox_size(bytes);
        Ok(())
    })
}

/// What a C host function registration names, read from its arguments.
struct Signature<'a> {
    namespace: &'a str,
    name: &'a str,
    params: Vec<ValType>,
    results: Vec<ValType>,
    /// `namespace::name`, for trap messages.
    what: String,
}

/// Reads the name and types of a host function from C strings (shared by
/// the sync and async registrations).
fn signature<'a>(
    namespace: *const c_char,
    name: *const c_char,
    params: *const c_char,
    results: *const c_char,
) -> Result<Signature<'a>, EmbedError> {
    let namespace = text(namespace, "namespace")?;
    let name = text(name, "name")?;
    Ok(Signature {
        namespace,
        name,
        params: types(text(params, "params")?)?,
        results: types(text(results, "results")?)?,
        what: format!("{namespace}::{name}"),
    })
}

/// Adds a C async host function `namespace::name` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_async_host_function(
    builder: *mut lunatic_builder,
    namespace: *const c_char,
    name: *const c_char,
    params: *const c_char,
    results: *const c_char,
    func: Option<lunatic_async_host_fn>,
    user_data: *mut c_void,
) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let Signature { namespace, name, params: param_types, results: result_types, what } =
            signature(namespace, name, params, results)?;
        let func = func.ok_or_else(|| invalid("func is null"))?;
        let user_data = ffi::UserData(user_data);
        let kinds = result_types.clone();
        let body = move |call: &mut HostCall<'_, '_>, args: &[Value]| {
            let params = to_i64(args);
            let (sender, receiver) = async_channel::bounded::<Finished>(1);
            let completion = Box::into_raw(Box::new(lunatic_completion {
                sender,
                writes: Vec::new(),
                results_len: kinds.len(),
            }));
            let mut ctx = lunatic_call { call, trap: None };
            let user = user_data;
            let status = func(
                user.0,
                &mut ctx as *mut lunatic_call<'_, '_, '_> as *mut c_void,
                params.as_ptr(),
                params.len(),
                completion,
            );
            if status != 0 {
                // The header: after a refusal the completion is ours again.
                drop(ffi::take(completion));
                return Err(ctx.trap.unwrap_or_else(|| Trap::new(format!("host function {what} failed with code {status}"))));
            }
            if let Some(trap) = ctx.trap {
                // C owns the completion now and will finish it; with the
                // receiver gone, that only frees it.
                return Err(trap);
            }
            let (what, kinds) = (what.clone(), kinds.clone());
            Ok(async move {
                let Ok(finished) = receiver.recv().await else {
                    return Err(Trap::new(format!("host function {what}: its completion was dropped unfinished")));
                };
                if finished.status != 0 {
                    return Err(Trap::new(format!("host function {what} failed with code {}", finished.status)));
                }
                let values = from_i64(&finished.results, &kinds);
                Ok(super::Reply::then(move |call| {
                    for (ptr, bytes) in &finished.writes {
                        call.write(*ptr, bytes)?;
                    }
                    Ok(values)
                }))
            })
        };
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.host_function_async(namespace, name, &param_types, &result_types, body);
        Ok(())
    })
}

/// Queues bytes to write into the guest's memory when the call finishes.
#[no_mangle]
pub extern "C" fn lunatic_completion_write(
    completion: *mut lunatic_completion,
    ptr: u32,
    buf: *const u8,
    len: u32,
) -> i32 {
    guard(|| {
        let completion = ffi::handle_mut(completion).ok_or_else(|| invalid("completion is null"))?;
        let data = ffi::bytes(buf, len as usize).ok_or_else(|| invalid("buf is null"))?;
        completion.writes.push((ptr, data.to_vec()));
        Ok(())
    })
}

/// Finishes an async host call and frees the completion (see the header).
#[no_mangle]
pub extern "C" fn lunatic_completion_finish(
    completion: *mut lunatic_completion,
    status: i32,
    results: *const i64,
    results_len: usize,
) -> i32 {
    guard(|| {
        let completion = ffi::take(completion).ok_or_else(|| invalid("completion is null"))?;
        let results = ffi::slice(results, results_len);
        let (status, results, outcome) = match results {
            Some(r) if r.len() == completion.results_len || status != 0 => (status, r.to_vec(), Ok(())),
            // The call cannot return what it was not given: it traps.
            Some(r) => (-1, Vec::new(), Err(invalid(&format!("{} results given, {} declared", r.len(), completion.results_len)))),
            None => (-1, Vec::new(), Err(invalid("results is null"))),
        };
        // A process killed meanwhile no longer listens: that is no error.
        let _ = completion.sender.try_send(Finished { status, results, writes: completion.writes });
        outcome
    })
}

/// Adds a C host function `namespace::name` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_builder_host_function(
    builder: *mut lunatic_builder,
    namespace: *const c_char,
    name: *const c_char,
    params: *const c_char,
    results: *const c_char,
    func: Option<lunatic_host_fn>,
    user_data: *mut c_void,
) -> i32 {
    guard(|| {
        let b = ffi::handle_mut(builder).ok_or_else(|| invalid("builder is null"))?;
        let Signature { namespace, name, params: param_types, results: result_types, what } =
            signature(namespace, name, params, results)?;
        let func = func.ok_or_else(|| invalid("func is null"))?;
        let user_data = ffi::UserData(user_data);
        let results_len = result_types.len();
        let kinds = result_types.clone();
        let body = move |call: &mut HostCall<'_, '_>, args: &[Value]| -> Result<Vec<Value>, Trap> {
            let params = to_i64(args);
            let mut results = vec![0i64; results_len];
            let mut ctx = lunatic_call { call, trap: None };
            let user = user_data;
            let status = func(
                user.0,
                &mut ctx as *mut lunatic_call<'_, '_, '_> as *mut c_void,
                params.as_ptr(),
                params.len(),
                results.as_mut_ptr(),
                results.len(),
            );
            if let Some(trap) = ctx.trap {
                return Err(trap);
            }
            if status != 0 {
                return Err(Trap::new(format!("host function {what} failed with code {status}")));
            }
            Ok(from_i64(&results, &kinds))
        };
        let taken = std::mem::take(&mut b.0);
        b.0 = taken.host_function(namespace, name, &param_types, &result_types, body);
        Ok(())
    })
}

/// Frees a builder that was not built.
#[no_mangle]
pub extern "C" fn lunatic_builder_free(builder: *mut lunatic_builder) -> i32 {
    guard(|| {
        drop(ffi::take(builder));
        Ok(())
    })
}

/// Builds the runtime; the builder is consumed (freed) either way.
#[no_mangle]
pub extern "C" fn lunatic_builder_build(builder: *mut lunatic_builder, out_runtime: *mut *mut lunatic_runtime) -> i32 {
    guard(|| {
        let builder = ffi::take(builder).ok_or_else(|| invalid("builder is null"))?;
        let lunatic = builder.0.build()?;
        let runtime = lunatic_runtime { lunatic, processes: Mutex::default() };
        out(out_runtime, Box::into_raw(Box::new(runtime)))
    })
}

fn call<'x, 'r, 'a, 'b>(ptr: *mut c_void) -> Result<&'x mut lunatic_call<'r, 'a, 'b>, EmbedError> {
    ffi::handle_mut(ptr as *mut lunatic_call<'r, 'a, 'b>).ok_or_else(|| invalid("call is null"))
}

/// The ID of the process calling a host function.
#[no_mangle]
pub extern "C" fn lunatic_call_process_id(call_ptr: *mut c_void, out_id: *mut u64) -> i32 {
    guard(|| {
        let ctx = call(call_ptr)?;
        out(out_id, ctx.call.process_id())
    })
}

/// Copies `len` bytes at guest address `ptr` into `buf` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_call_read(call_ptr: *mut c_void, ptr: u32, buf: *mut u8, len: u32) -> i32 {
    guard(|| {
        let ctx = call(call_ptr)?;
        let buf = ffi::bytes_mut(buf, len as usize).ok_or_else(|| invalid("buf is null"))?;
        match ctx.call.read(ptr, len) {
            Ok(bytes) => {
                buf.copy_from_slice(&bytes);
                Ok(())
            }
            Err(trap) => {
                let error = invalid(&trap.0);
                ctx.trap = Some(trap);
                Err(error)
            }
        }
    })
}

/// Copies `len` bytes from `buf` to guest address `ptr` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_call_write(call_ptr: *mut c_void, ptr: u32, buf: *const u8, len: u32) -> i32 {
    guard(|| {
        let ctx = call(call_ptr)?;
        let data = ffi::bytes(buf, len as usize).ok_or_else(|| invalid("buf is null"))?;
        ctx.call.write(ptr, data).map_err(|trap| {
            let error = invalid(&trap.0);
            ctx.trap = Some(trap);
            error
        })
    })
}

/// Compiles a module (see the header).
#[no_mangle]
pub extern "C" fn lunatic_load(
    runtime: *const lunatic_runtime,
    bytes: *const u8,
    len: usize,
    out_module: *mut *mut lunatic_module,
) -> i32 {
    guard(|| {
        let runtime = handle(runtime, "runtime")?;
        let bytes = ffi::bytes(bytes, len).ok_or_else(|| invalid("bytes is null"))?;
        let module = runtime.lunatic.load(bytes)?;
        out(out_module, Box::into_raw(Box::new(lunatic_module(module))))
    })
}

/// The module's content hash.
#[no_mangle]
pub extern "C" fn lunatic_module_id(module: *const lunatic_module, out_id: *mut u64) -> i32 {
    guard(|| out(out_id, handle(module, "module")?.0.id()))
}

/// Frees a module handle (processes keep what they run).
#[no_mangle]
pub extern "C" fn lunatic_module_free(module: *mut lunatic_module) -> i32 {
    guard(|| {
        drop(ffi::take(module));
        Ok(())
    })
}

fn config<'a>(ptr: *mut lunatic_config) -> Result<&'a mut ProcessConfig, EmbedError> {
    ffi::handle_mut(ptr).map(|c| &mut c.0).ok_or_else(|| invalid("config is null"))
}

/// A process configuration that denies everything (see the header).
#[no_mangle]
pub extern "C" fn lunatic_config_new(out_config: *mut *mut lunatic_config) -> i32 {
    guard(|| out(out_config, Box::into_raw(Box::new(lunatic_config(ProcessConfig::default())))))
}

/// Sets the most bytes of linear memory (0: 4 GiB).
#[no_mangle]
pub extern "C" fn lunatic_config_max_memory(config_ptr: *mut lunatic_config, bytes: u64) -> i32 {
    guard(|| {
        config(config_ptr)?.max_memory = if bytes == 0 { u64::from(u32::MAX) } else { bytes };
        Ok(())
    })
}

/// Sets the fuel budget in units of 100 000 (0: unlimited).
#[no_mangle]
pub extern "C" fn lunatic_config_max_fuel(config_ptr: *mut lunatic_config, units: u64) -> i32 {
    guard(|| {
        config(config_ptr)?.max_fuel = (units != 0).then_some(units);
        Ok(())
    })
}

/// Sets the byte limit of the process's mailbox (see the header).
#[no_mangle]
pub extern "C" fn lunatic_config_max_mailbox_size(config_ptr: *mut lunatic_config, bytes: u64) -> i32 {
    guard(|| {
        config(config_ptr)?.max_mailbox_size = bytes;
        Ok(())
    })
}

/// Sets the `LUNATIC_CAN_*` permission bits.
#[no_mangle]
pub extern "C" fn lunatic_config_permissions(config_ptr: *mut lunatic_config, bits: u32) -> i32 {
    guard(|| {
        if bits & !7 != 0 {
            return Err(invalid(&format!("unknown permission bits {:#x}", bits & !7)));
        }
        let c = config(config_ptr)?;
        c.can_compile_modules = bits & 1 != 0;
        c.can_create_configs = bits & 2 != 0;
        c.can_spawn_processes = bits & 4 != 0;
        Ok(())
    })
}

/// Appends a WASI command-line argument.
#[no_mangle]
pub extern "C" fn lunatic_config_add_arg(config_ptr: *mut lunatic_config, arg: *const c_char) -> i32 {
    guard(|| {
        let arg = text(arg, "arg")?.to_string();
        config(config_ptr)?.args.push(arg);
        Ok(())
    })
}

/// Appends a WASI environment variable.
#[no_mangle]
pub extern "C" fn lunatic_config_add_env(
    config_ptr: *mut lunatic_config,
    name: *const c_char,
    value: *const c_char,
) -> i32 {
    guard(|| {
        let name = text(name, "name")?;
        if name.is_empty() || name.contains('=') {
            return Err(invalid("an environment variable name is empty or contains '='"));
        }
        let value = text(value, "value")?.to_string();
        config(config_ptr)?.envs.push((name.to_string(), value));
        Ok(())
    })
}

/// Lets the process see host directory `host_path` as `guest_path`.
#[no_mangle]
pub extern "C" fn lunatic_config_add_preopen(
    config_ptr: *mut lunatic_config,
    host_path: *const c_char,
    guest_path: *const c_char,
) -> i32 {
    guard(|| {
        let host = text(host_path, "host_path")?;
        let guest = text(guest_path, "guest_path")?.to_string();
        if !std::path::Path::new(host).is_dir() {
            return Err(EmbedError::new(ErrorKind::NotFound, format!("{host} is not a directory")));
        }
        config(config_ptr)?.preopens.push(crate::protocol::Preopen::new(host, guest));
        Ok(())
    })
}

/// Frees a configuration (processes spawned with it keep a copy).
#[no_mangle]
pub extern "C" fn lunatic_config_free(config_ptr: *mut lunatic_config) -> i32 {
    guard(|| {
        drop(ffi::take(config_ptr));
        Ok(())
    })
}

/// Spawns a process (see the header).
#[no_mangle]
pub extern "C" fn lunatic_spawn(
    runtime: *const lunatic_runtime,
    module: *const lunatic_module,
    entry: *const c_char,
    config: *const lunatic_config,
    params: *const i64,
    params_len: usize,
    out_id: *mut u64,
) -> i32 {
    guard(|| {
        let runtime = handle(runtime, "runtime")?;
        let module = &handle(module, "module")?.0;
        let entry = text(entry, "entry")?;
        let raw = ffi::slice(params, params_len).ok_or_else(|| invalid("params is null"))?;
        let process_config = ffi::handle(config).map(|c| c.0.clone()).unwrap_or_default();
        let types = module.entry_params(entry).unwrap_or_default();
        if types.len() != raw.len() {
            return Err(invalid(&format!(
                "export '{entry}' takes {} parameters, {} given",
                types.len(),
                raw.len()
            )));
        }
        let values: Vec<Value> = raw
            .iter()
            .zip(&types)
            .map(|(&v, ty)| match ty {
                ValType::I32 => Ok(Value::I32(v as i32)),
                ValType::I64 => Ok(Value::I64(v)),
                _ => Err(invalid("only i32 and i64 parameters can be passed from C")),
            })
            .collect::<Result<_, _>>()?;
        let process = runtime.lunatic.spawn_with(module, entry, &values, process_config)?;
        let id = process.id();
        let mut processes = runtime.processes.lock().unwrap_or_else(|e| e.into_inner());
        processes.retain(|_, p| p.try_exit().is_none());
        processes.insert(id, process);
        out(out_id, id)
    })
}

/// Kills a process.
#[no_mangle]
pub extern "C" fn lunatic_kill(runtime: *const lunatic_runtime, id: u64) -> i32 {
    guard(|| {
        if handle(runtime, "runtime")?.lunatic.kill(id) {
            Ok(())
        } else {
            Err(EmbedError::new(ErrorKind::NotFound, format!("no process {id}")))
        }
    })
}

/// Waits for a process C spawned to end (see the header).
#[no_mangle]
pub extern "C" fn lunatic_wait(
    runtime: *const lunatic_runtime,
    id: u64,
    timeout_ms: i64,
    out_how: *mut i32,
    out_code: *mut i32,
) -> i32 {
    let mut trap = None;
    let code = guard(|| {
        let runtime = handle(runtime, "runtime")?;
        let process = runtime
            .processes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .ok_or_else(|| {
                EmbedError::new(ErrorKind::NotFound, format!("process {id} was not spawned by lunatic_spawn, or was waited for"))
            })?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let exiting = process.exit();
        let exit = runtime.lunatic.run_timeout(async move { Ok(exiting.await) }, timeout)?;
        runtime.processes.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        let how = match &exit {
            Exit::Returned => 0,
            Exit::Exited(_) => 1,
            Exit::Trapped(why) => {
                trap = Some(why.clone());
                2
            }
            Exit::Killed => 3,
            Exit::LinkFailed => 4,
            Exit::OutOfFuel => 5,
        };
        maybe_out(out_how, how);
        maybe_out(out_code, exit.status());
        Ok(())
    });
    // A trap's text is left for `lunatic_last_error`, though the call worked.
    if let Some(why) = trap {
        set_error(&why);
    }
    code
}

/// A new native mailbox.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_new(runtime: *const lunatic_runtime, out_mailbox: *mut *mut lunatic_mailbox) -> i32 {
    guard(|| {
        let mailbox = handle(runtime, "runtime")?.lunatic.mailbox()?;
        let lunatic = handle(runtime, "runtime")?.lunatic.clone();
        let (alive, freed) = async_channel::bounded(1);
        out(out_mailbox, Box::into_raw(Box::new(lunatic_mailbox(mailbox, lunatic, alive, freed))))
    })
}

/// The mailbox's process ID.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_id(mailbox: *const lunatic_mailbox, out_id: *mut u64) -> i32 {
    guard(|| out(out_id, handle(mailbox, "mailbox")?.0.id()))
}

/// Registers the mailbox under `name`.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_register(mailbox: *const lunatic_mailbox, name: *const c_char) -> i32 {
    guard(|| handle(mailbox, "mailbox")?.0.register(text(name, "name")?))
}

/// Sends tagged bytes to process `to` (see the header).
#[no_mangle]
pub extern "C" fn lunatic_mailbox_send(
    mailbox: *const lunatic_mailbox,
    to: u64,
    tag: i64,
    data: *const u8,
    len: usize,
) -> i32 {
    guard(|| {
        let mailbox = handle(mailbox, "mailbox")?;
        let data = ffi::bytes(data, len).ok_or_else(|| invalid("data is null"))?;
        if mailbox.0.send(to, tag, data) {
            Ok(())
        } else {
            Err(EmbedError::new(ErrorKind::NotFound, format!("no process {to}")))
        }
    })
}

/// Waits for a message (see the header).
#[no_mangle]
pub extern "C" fn lunatic_mailbox_receive(
    mailbox: *const lunatic_mailbox,
    timeout_ms: i64,
    out_message: *mut *mut lunatic_message,
) -> i32 {
    guard(|| {
        let mailbox = handle(mailbox, "mailbox")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let message = if timeout == Some(Duration::ZERO) {
            mailbox.0.try_receive().ok_or_else(|| EmbedError::new(ErrorKind::Timeout, "no message waiting"))?
        } else {
            mailbox.1.run_timeout(mailbox.0.receive(), timeout)?
        };
        out(out_message, Box::into_raw(Box::new(lunatic_message(message))))
    })
}

/// Calls `func` once with the next message, or a timeout (see the header).
#[no_mangle]
pub extern "C" fn lunatic_mailbox_receive_async(
    mailbox: *const lunatic_mailbox,
    timeout_ms: i64,
    func: Option<lunatic_receive_fn>,
    user_data: *mut c_void,
) -> i32 {
    guard(|| {
        let mailbox = handle(mailbox, "mailbox")?;
        let func = func.ok_or_else(|| invalid("func is null"))?;
        let user = ffi::UserData(user_data);
        let receive: crate::scheduler::BoxFuture<Result<Message, EmbedError>> =
            match u64::try_from(timeout_ms).ok().map(Duration::from_millis) {
                Some(timeout) => Box::pin(mailbox.0.receive_timeout(timeout)),
                None => Box::pin(mailbox.0.receive()),
            };
        let freed = mailbox.3.clone();
        let receive = futures_lite::future::or(receive, async move {
            let _ = freed.recv().await;
            Err(EmbedError::new(ErrorKind::ShutDown, "the mailbox was freed"))
        });
        mailbox.1.spawn_task(async move {
            let user = user;
            match receive.await {
                Ok(message) => func(user.0, 0, &lunatic_message(message)),
                Err(error) => {
                    // The callback may read why with lunatic_last_error().
                    set_error(error.message());
                    func(user.0, error.kind() as i32, std::ptr::null())
                }
            }
        });
        Ok(())
    })
}

/// Sets the mailbox's byte limit (see the header).
#[no_mangle]
pub extern "C" fn lunatic_mailbox_set_max_size(mailbox: *const lunatic_mailbox, bytes: u64) -> i32 {
    guard(|| {
        handle(mailbox, "mailbox")?.0.set_max_size(bytes);
        Ok(())
    })
}

/// Messages dropped because the mailbox was full.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_dropped(mailbox: *const lunatic_mailbox, out_count: *mut u64) -> i32 {
    guard(|| out(out_count, handle(mailbox, "mailbox")?.0.dropped()))
}

/// Calls `func` with every message on the runtime's threads (see the header).
#[no_mangle]
pub extern "C" fn lunatic_mailbox_on_message(
    mailbox: *const lunatic_mailbox,
    func: Option<lunatic_message_fn>,
    user_data: *mut c_void,
    out_subscription: *mut *mut lunatic_subscription,
) -> i32 {
    guard(|| {
        let mailbox = handle(mailbox, "mailbox")?.0.clone();
        let func = func.ok_or_else(|| invalid("func is null"))?;
        let user = ffi::UserData(user_data);
        let subscription = mailbox.on_message(move |message| {
            let user = user;
            let message = lunatic_message(message);
            // A panic cannot come from C; the message lives for the call.
            func(user.0, &message);
        });
        out(out_subscription, Box::into_raw(Box::new(lunatic_subscription(subscription))))
    })
}

/// Stops an `on_message` callback.
#[no_mangle]
pub extern "C" fn lunatic_subscription_free(subscription: *mut lunatic_subscription) -> i32 {
    guard(|| {
        drop(ffi::take(subscription));
        Ok(())
    })
}

/// Links the mailbox with process `id` under `tag`.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_link(mailbox: *const lunatic_mailbox, id: u64, tag: i64) -> i32 {
    guard(|| {
        handle(mailbox, "mailbox")?.0.link(id, tag);
        Ok(())
    })
}

/// Asks for a "process died" message when process `id` ends.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_monitor(mailbox: *const lunatic_mailbox, id: u64) -> i32 {
    guard(|| {
        handle(mailbox, "mailbox")?.0.monitor(id);
        Ok(())
    })
}

/// Frees a mailbox: its process ends.
#[no_mangle]
pub extern "C" fn lunatic_mailbox_free(mailbox: *mut lunatic_mailbox) -> i32 {
    guard(|| {
        drop(ffi::take(mailbox));
        Ok(())
    })
}

/// What a message holds (see the header); every out-pointer may be null.
#[no_mangle]
pub extern "C" fn lunatic_message_info(
    message: *const lunatic_message,
    out_kind: *mut i32,
    out_tag: *mut i64,
    out_process_id: *mut u64,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> i32 {
    guard(|| {
        let message = &handle(message, "message")?.0;
        maybe_out(out_kind, message.kind());
        maybe_out(out_tag, message.tag());
        let (process_id, data): (u64, &[u8]) = match message {
            Message::Data(data) => (0, &data.buffer),
            Message::LinkDied { .. } => (0, &[]),
            Message::ProcessDied { process_id } => (*process_id, &[]),
        };
        maybe_out(out_process_id, process_id);
        maybe_out(out_data, data.as_ptr());
        maybe_out(out_len, data.len());
        Ok(())
    })
}

/// Frees a received message.
#[no_mangle]
pub extern "C" fn lunatic_message_free(message: *mut lunatic_message) -> i32 {
    guard(|| {
        drop(ffi::take(message));
        Ok(())
    })
}

/// Holds every process (see `Lunatic::pause`).
#[no_mangle]
pub extern "C" fn lunatic_pause(runtime: *const lunatic_runtime) -> i32 {
    guard(|| {
        handle(runtime, "runtime")?.lunatic.pause();
        Ok(())
    })
}

/// Lets held processes run again.
#[no_mangle]
pub extern "C" fn lunatic_resume(runtime: *const lunatic_runtime) -> i32 {
    guard(|| {
        handle(runtime, "runtime")?.lunatic.resume();
        Ok(())
    })
}

/// Kills every process and closes every mailbox (see the header).
#[no_mangle]
pub extern "C" fn lunatic_shutdown(runtime: *const lunatic_runtime, timeout_ms: u64, out_killed: *mut u64) -> i32 {
    guard(|| {
        let report = handle(runtime, "runtime")?.lunatic.shutdown_blocking(Duration::from_millis(timeout_ms))?;
        maybe_out(out_killed, report.killed as u64);
        Ok(())
    })
}

/// Frees the runtime handle.
#[no_mangle]
pub extern "C" fn lunatic_runtime_free(runtime: *mut lunatic_runtime) -> i32 {
    guard(|| {
        drop(ffi::take(runtime));
        Ok(())
    })
}
