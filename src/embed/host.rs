//! The app's own host functions: declared with a signature at build time,
//! called with the guest's arguments and a [`HostCall`] that reaches the
//! calling process's memory (bounds-checked) and identity.

use crate::protocol::{completion, guest, suspend, Pending, ProcessState};
use std::sync::Arc;

/// A Wasm value type an app's host function takes or returns.
///
/// ```
/// use lunatic_wasmi::{ValType, Value};
///
/// assert_eq!(Value::I64(7).ty(), ValType::I64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValType {
    /// 32-bit integer (also pointers and lengths into guest memory).
    I32,
    /// 64-bit integer (process IDs, tags).
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl ValType {
    fn wasmi(self) -> wasmi::ValType {
        match self {
            ValType::I32 => wasmi::ValType::I32,
            ValType::I64 => wasmi::ValType::I64,
            ValType::F32 => wasmi::ValType::F32,
            ValType::F64 => wasmi::ValType::F64,
        }
    }
}

/// A Wasm value passed to or returned from an app's host function
/// (see [`crate::Builder::host_function`]).
///
/// ```
/// use lunatic_wasmi::Value;
///
/// let args = [Value::I32(2), Value::I64(3)];
/// let [Value::I32(a), Value::I64(b)] = args else { unreachable!() };
/// assert_eq!(i64::from(a) * b, 6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
}

impl Value {
    /// Its type.
    pub fn ty(&self) -> ValType {
        match self {
            Value::I32(_) => ValType::I32,
            Value::I64(_) => ValType::I64,
            Value::F32(_) => ValType::F32,
            Value::F64(_) => ValType::F64,
        }
    }

    fn from_wasmi(value: &wasmi::Val) -> Option<Self> {
        Some(match value {
            wasmi::Val::I32(v) => Value::I32(*v),
            wasmi::Val::I64(v) => Value::I64(*v),
            wasmi::Val::F32(v) => Value::F32(f32::from(*v)),
            wasmi::Val::F64(v) => Value::F64(f64::from(*v)),
            _ => return None,
        })
    }

    pub(super) fn to_wasmi(self) -> wasmi::Val {
        match self {
            Value::I32(v) => wasmi::Val::I32(v),
            Value::I64(v) => wasmi::Val::I64(v),
            Value::F32(v) => wasmi::Val::F32(v.into()),
            Value::F64(v) => wasmi::Val::F64(v.into()),
        }
    }
}

/// The guest process calling an app's host function, with bounds-checked
/// access to its linear memory. Every error it returns is meant to be
/// passed on with `?`: the call then traps (only that process ends, and
/// whoever is linked to it or monitors it is told).
///
/// ```
/// use lunatic_wasmi::{Exit, Lunatic, ProcessConfig, ValType, Value};
///
/// // app::upper(ptr, len): upper-cases the guest's text in place.
/// let lunatic = Lunatic::builder()
///     .threads(1)
///     .host_function("app", "upper", &[ValType::I32, ValType::I32], &[], |call, args| {
///         let [Value::I32(ptr), Value::I32(len)] = *args else { unreachable!() };
///         let text = call.read_str(ptr as u32, len as u32)?; // a trap if out of bounds
///         call.write(ptr as u32, text.to_uppercase().as_bytes())?;
///         Ok(vec![])
///     })
///     .build()?;
/// let module = lunatic.load(br#"(module
///   (import "app" "upper" (func $upper (param i32 i32)))
///   (memory (export "memory") 1)
///   (data (i32.const 0) "abc")
///   (func (export "main")
///     (call $upper (i32.const 0) (i32.const 3))
///     (if (i32.ne (i32.load8_u (i32.const 0)) (i32.const 65)) (then unreachable)))
///   (func (export "bad") (call $upper (i32.const 65535) (i32.const 9))))"#)?;
/// let good = lunatic.spawn(&module, "main", ProcessConfig::default())?;
/// assert_eq!(good.wait_blocking(None)?, Exit::Returned);
/// let bad = lunatic.spawn(&module, "bad", ProcessConfig::default())?;
/// assert!(matches!(bad.wait_blocking(None)?, Exit::Trapped(why) if why.contains("out of bounds")));
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
pub struct HostCall<'a, 'b> {
    ctx: Ctx<'a, 'b>,
}

/// Where a [`HostCall`] reaches the process: inside the call, or when an
/// async call completes.
enum Ctx<'a, 'b> {
    Caller(&'a mut wasmi::Caller<'b, ProcessState>),
    Store(&'a mut wasmi::StoreContextMut<'b, ProcessState>),
}

/// Ends the calling process with a trap carrying this message: what an
/// app's host function returns to refuse a call.
///
/// ```
/// use lunatic_wasmi::{Lunatic, Trap, ValType, Value};
///
/// let lunatic = Lunatic::builder()
///     .threads(1)
///     .host_function("app", "checked", &[ValType::I32], &[], |_call, args| match args {
///         [Value::I32(x)] if *x >= 0 => Ok(vec![]),
///         _ => Err(Trap::new("app::checked wants a non-negative number")),
///     })
///     .build()?;
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap(pub String);

impl Trap {
    /// A trap with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Trap(message.into())
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Trap {}

impl From<wasmi::Error> for Trap {
    fn from(error: wasmi::Error) -> Self {
        Trap(crate::errors::one_line(&error))
    }
}

impl HostCall<'_, '_> {
    fn memory(&mut self) -> Result<&mut [u8], Trap> {
        let (memory, _) = match &mut self.ctx {
            Ctx::Caller(caller) => guest::memory_and_state(&mut **caller)?,
            Ctx::Store(store) => guest::memory_and_state(&mut **store)?,
        };
        Ok(memory)
    }

    /// The calling process's ID.
    pub fn process_id(&self) -> u64 {
        match &self.ctx {
            Ctx::Caller(caller) => caller.data().handle.id(),
            Ctx::Store(store) => store.data().handle.id(),
        }
    }

    /// Copies `len` bytes at `ptr` out of the caller's memory; a trap if
    /// they are not all inside it.
    pub fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, Trap> {
        Ok(guest::bytes(self.memory()?, ptr, len)?.to_vec())
    }

    /// The UTF-8 text of `len` bytes at `ptr`; a trap if out of bounds or
    /// not UTF-8.
    pub fn read_str(&mut self, ptr: u32, len: u32) -> Result<String, Trap> {
        Ok(guest::str(self.memory()?, ptr, len)?.to_string())
    }

    /// Writes `data` at `ptr` in the caller's memory; a trap if it does not
    /// fit.
    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Trap> {
        Ok(guest::write(self.memory()?, ptr, data)?)
    }
}

/// What an async host function's future ends with: the call's results,
/// or a step that first reaches the caller's memory again (to write what
/// the work produced into the guest's buffer).
///
/// ```
/// use lunatic_wasmi::{Reply, Value};
///
/// // Plain results (a `Vec<Value>` converts into a `Reply`):
/// let now: Reply = vec![Value::I32(0)].into();
/// // Or: write 5 bytes at guest address 1024, then return their length.
/// let later = Reply::then(|call| {
///     call.write(1024, b"hello")?;
///     Ok(vec![Value::I32(5)])
/// });
/// # let _ = (now, later);
/// ```
pub struct Reply(ReplyKind);

/// The rest of a host call that answers later, run when its work is done.
type Finish = Box<dyn FnOnce(&mut HostCall<'_, '_>) -> Result<Vec<Value>, Trap> + Send>;

enum ReplyKind {
    Values(Vec<Value>),
    Then(Finish),
}

impl Reply {
    /// The call returns `values`.
    pub fn values(values: Vec<Value>) -> Self {
        Reply(ReplyKind::Values(values))
    }

    /// The call returns what `finish` returns; it runs with the caller's
    /// memory when the process resumes (an error traps it).
    pub fn then(finish: impl FnOnce(&mut HostCall<'_, '_>) -> Result<Vec<Value>, Trap> + Send + 'static) -> Self {
        Reply(ReplyKind::Then(Box::new(finish)))
    }
}

impl From<Vec<Value>> for Reply {
    fn from(values: Vec<Value>) -> Self {
        Reply::values(values)
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            ReplyKind::Values(values) => write!(f, "Reply({values:?})"),
            ReplyKind::Then(_) => f.write_str("Reply(then ..)"),
        }
    }
}

/// The future an async host function returns, boxed.
pub(super) type ReplyFuture = crate::scheduler::BoxFuture<Result<Reply, Trap>>;

/// An app's host function as the builder keeps it until the engine is made.
pub(super) struct AppFunction {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) params: Vec<ValType>,
    pub(super) results: Vec<ValType>,
    pub(super) body: Body,
}

/// The body of an app's host function.
pub(super) enum Body {
    /// Returns its results at once.
    Sync(Arc<HostFunc>),
    /// Returns a future; the guest's call waits for it.
    Async(Arc<AsyncHostFunc>),
}

/// The signature of an app's host function body.
pub(super) type HostFunc = dyn Fn(&mut HostCall<'_, '_>, &[Value]) -> Result<Vec<Value>, Trap> + Send + Sync;

/// The signature of an app's async host function body.
pub(super) type AsyncHostFunc =
    dyn Fn(&mut HostCall<'_, '_>, &[Value]) -> Result<ReplyFuture, Trap> + Send + Sync;

/// The values an app's function returned, checked against its signature:
/// a mismatch is the app's bug, reported as a trap of the caller.
fn check(what: &str, returned: Vec<Value>, expected: &[ValType]) -> Result<Vec<wasmi::Val>, wasmi::Error> {
    if returned.len() != expected.len() || returned.iter().zip(expected).any(|(value, ty)| value.ty() != *ty) {
        return Err(wasmi::Error::new(format!(
            "host function {what} returned {returned:?}, but its signature declares {expected:?}"
        )));
    }
    Ok(returned.into_iter().map(Value::to_wasmi).collect())
}

/// Registers `function` with the engine being built.
pub(super) fn define(
    host: &mut crate::engine::HostFunctions<ProcessState>,
    function: &AppFunction,
) -> Result<(), String> {
    let ty = wasmi::FuncType::new(
        function.params.iter().map(|t| t.wasmi()),
        function.results.iter().map(|t| t.wasmi()),
    );
    let expected = function.results.clone();
    let what = format!("{}::{}", function.namespace, function.name);
    match &function.body {
        Body::Sync(func) => {
            let func = func.clone();
            host.func_dynamic(&function.namespace, &function.name, ty, move |caller, params, results| {
                // wasmi checked the arguments against the signature already.
                let args: Vec<Value> = params.iter().filter_map(Value::from_wasmi).collect();
                let mut call = HostCall { ctx: Ctx::Caller(caller) };
                let returned = func(&mut call, &args).map_err(|trap| wasmi::Error::new(trap.0))?;
                for (slot, value) in results.iter_mut().zip(check(&what, returned, &expected)?) {
                    *slot = value;
                }
                Ok(())
            })
        }
        Body::Async(func) => {
            let func = func.clone();
            host.func_dynamic(&function.namespace, &function.name, ty, move |caller, params, _results| {
                let args: Vec<Value> = params.iter().filter_map(Value::from_wasmi).collect();
                let mut call = HostCall { ctx: Ctx::Caller(&mut *caller) };
                let future = func(&mut call, &args).map_err(|trap| wasmi::Error::new(trap.0))?;
                let state = caller.data_mut();
                if !state.initialized {
                    // A start section runs inside `spawn` and cannot wait.
                    return Err(wasmi::Error::new(format!(
                        "async host function {what} called from a start section"
                    )));
                }
                let scheduler = state.runtime.scheduler_arc();
                let (what, expected) = (what.clone(), expected.clone());
                // The app's future waits on the outside world: a
                // deterministic scheduler must not take it for a deadlock.
                let work = crate::scheduler::external(&*scheduler, async move {
                    let reply = future.await;
                    completion(move |store| {
                        let values = match reply.map_err(|trap| wasmi::Error::new(trap.0))?.0 {
                            ReplyKind::Values(values) => values,
                            ReplyKind::Then(finish) => finish(&mut HostCall { ctx: Ctx::Store(store) })
                                .map_err(|trap| wasmi::Error::new(trap.0))?,
                        };
                        check(&what, values, &expected)
                    })
                });
                Err(suspend(state, Pending::Async(work)))
            })
        }
    }
}
