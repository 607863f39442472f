//! Layer 1, the engine: wasmi's `Engine`, the configuration every module is
//! compiled with, the linker of host functions and the module cache.
//!
//! Everything here is generic over the store data `T` and names no process
//! type and no host function: the layers above register their functions with
//! a [`HostFunctions`] and get an [`Engine`] that compiles modules and checks
//! their imports against what was registered. One `Engine` is one set of
//! compiled code (a later hot reload keeps one per module version).

pub(crate) mod module;

pub use module::ModuleHandle;
pub(crate) use module::ModuleCache;

use crate::errors::LoadError;
use std::collections::HashMap;
use std::sync::Arc;
use wasmi::{CompilationMode, Config, FuncType, Linker};

/// A module version's ID: the first 8 bytes of the SHA-256 of its bytes,
/// little-endian, shifted right by one and at least 1, so that it is a
/// positive non-zero i64 for guests. The same value is a module's
/// cluster-wide ID (`lunatic::distributed::module_id`). Pure Rust (`sha2`),
/// so it exists on every target, mobile ones included.
pub(crate) fn version_id(bytes: &[u8]) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) >> 1).max(1)
}

/// Default fuel per slice: ~16 µs of plain integer code between preemption
/// points. Chosen with `benches/run --fuel-sweep`: ping-pong p99 latency next
/// to spinning processes grows linearly with the slice (45 µs at 10 000,
/// 97 µs at 30 000, 290 µs at 100 000), while the throughput of processes
/// competing for the cores stays flat down to ~30 000 and drops below
/// (+5-10% at 10 000, +80% at 3 000).
pub const DEFAULT_FUEL_SLICE: u64 = 30_000;

/// What the engine needs of a store's data: a place to note host calls
/// while tracing, and to carry fuel a host call owes beyond what its slice
/// had left (the only things a host-function wrapper touches itself).
pub(crate) trait StoreData: Send + Sized + 'static {
    /// Called before each host function when tracing is on.
    fn note_host_call(&mut self, name: &'static str);
    /// Adds `fuel` to what the process owes; the driver takes it from its
    /// next slices.
    fn owe_fuel(&mut self, fuel: u64);
}

/// Fuel every host call costs before any bytes it moves: about its real
/// cost in units of plain integer code. Measured with a loop of 10 million
/// `process_id` calls (0.29 s, 29 ns a call with the loop) against a loop of
/// 100 million 3-instruction iterations (0.32 s, about 1 ns per unit of
/// fuel). Without it a loop of host calls ran some 30 times longer than its
/// slice before it was preempted, and in deterministic mode (where virtual
/// time follows fuel) its clock nearly stood still while real time passed.
pub(crate) const HOST_CALL_FUEL: u64 = 32;

/// Bytes of guest memory a host call may read or write per unit of fuel:
/// wasmi's own rate for `memory.copy` and `memory.fill`.
pub(crate) const BYTES_PER_FUEL: u64 = 64;

thread_local! {
    /// Guest-memory bytes host code on this thread moved since last asked.
    /// The process driver clears it before it runs a process and collects
    /// it afterwards; a host call settles it when it starts.
    static MOVED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Notes that host code read or wrote `bytes` of the running process's
/// memory (every bounds check of guest memory calls this).
pub(crate) fn note_moved(bytes: u64) {
    MOVED.with(|moved| moved.set(moved.get().saturating_add(bytes)));
}

/// The bytes noted since the last call, as fuel; clears the count.
pub(crate) fn take_moved_fuel() -> u64 {
    MOVED.with(|moved| moved.replace(0)) / BYTES_PER_FUEL
}

/// Takes `fuel` from the store's remaining fuel; what it does not have is
/// owed (see [`StoreData::owe_fuel`]). With no fuel left, the guest is
/// preempted at its next instruction.
pub(crate) fn charge<T: StoreData>(caller: &mut wasmi::Caller<'_, T>, fuel: u64) {
    if let Ok(left) = caller.get_fuel() {
        let paid = left.min(fuel);
        let _ = caller.set_fuel(left - paid);
        if paid < fuel {
            caller.data_mut().owe_fuel(fuel - paid);
        }
    }
}

/// Collects host functions into a linker and remembers their signatures;
/// [`HostFunctions::finish`] turns them into an [`Engine`].
pub(crate) struct HostFunctions<T> {
    engine: wasmi::Engine,
    linker: Linker<T>,
    signatures: HashMap<(String, String), FuncType>,
    /// Wrap every function so the trace can name the calls a process made.
    traced: bool,
}

impl<T: StoreData> HostFunctions<T> {
    /// An empty set on a new wasmi engine; `traced` wraps every function so
    /// that it notes its name (see [`StoreData::note_host_call`]).
    pub(crate) fn new(traced: bool) -> Self {
        let engine = wasmi::Engine::new(&engine_config());
        let linker = Linker::new(&engine);
        Self { engine, linker, signatures: HashMap::new(), traced }
    }

    /// Adds `module::name` implemented by `func`, wrapped so that a panic in
    /// it traps the calling process instead of aborting the runtime (see
    /// [`HostFn`]).
    pub(crate) fn func<Params, Results, F>(&mut self, module: &str, name: &'static str, func: F)
    where
        F: wasmi::IntoFunc<T, Params, Results> + HostFn<T, Params, Results>,
    {
        use wasmi::WasmTyList;
        let ty = FuncType::new(
            <F::Params as WasmTyList>::types().as_ref().iter().copied(),
            <F::Results as WasmTyList>::types().as_ref().iter().copied(),
        );
        func.define(&mut self.linker, module, name, self.traced)
            .unwrap_or_else(|e| panic!("host function {module}::{name} defined twice: {e}"));
        self.signatures.insert((module.to_string(), name.to_string()), ty);
    }

    /// Adds `module::name` with a signature known only at run time (an
    /// embedding app's function), wrapped like [`HostFunctions::func`]:
    /// charged fuel, traced, and a panic in it traps only the caller. An
    /// error (not a panic) when the name is taken: the app chose it.
    pub(crate) fn func_dynamic<F>(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        func: F,
    ) -> Result<(), String>
    where
        F: Fn(&mut wasmi::Caller<'_, T>, &[wasmi::Val], &mut [wasmi::Val]) -> Result<(), wasmi::Error>
            + Send
            + Sync
            + 'static,
    {
        let key = (module.to_string(), name.to_string());
        if self.signatures.contains_key(&key) {
            return Err(format!("host function {module}::{name} is already defined"));
        }
        let what: Box<str> = format!("host function {module}::{name}").into();
        // Trace lines name calls by a `&'static str`: one leak per app
        // function, made once when the runtime is built.
        let traced_name: Option<&'static str> =
            self.traced.then(|| &*Box::leak(name.to_string().into_boxed_str()));
        self.linker
            .func_new(module, name, ty.clone(), move |mut caller, params, results| {
                if let Some(name) = traced_name {
                    caller.data_mut().note_host_call(name);
                }
                charge(&mut caller, HOST_CALL_FUEL + take_moved_fuel());
                let call = std::panic::AssertUnwindSafe(|| func(&mut caller, params, results));
                match std::panic::catch_unwind(call) {
                    Ok(result) => result,
                    Err(payload) => Err(host_panicked(&what, &*payload)),
                }
            })
            .map_err(|e| format!("cannot define host function {module}::{name}: {e}"))?;
        self.signatures.insert(key, ty);
        Ok(())
    }

    /// The engine that compiles modules against these functions. `version`
    /// is the ID of the module version it compiles for (0: none, the
    /// runtime's shared engine); every module it compiles carries it.
    pub(crate) fn finish(self, version: u64) -> Engine<T>
    where
        T: 'static,
    {
        Engine {
            engine: self.engine,
            linker: Arc::new(self.linker),
            signatures: self.signatures,
            modules: ModuleCache::default(),
            version,
        }
    }
}

/// Compiles modules (once per distinct bytes) and links them against the
/// host functions it was built with.
pub(crate) struct Engine<T> {
    engine: wasmi::Engine,
    /// Shared with every module compiled here, so that a module is always
    /// instantiated with the linker of the engine that compiled it.
    linker: Arc<Linker<T>>,
    /// Signature of every host function, to check a module's imports when it
    /// is compiled rather than when a process is spawned.
    signatures: HashMap<(String, String), FuncType>,
    modules: ModuleCache,
    /// The module version this engine compiles for (0: none).
    version: u64,
}

impl<T: 'static> Engine<T>
where
    Linker<T>: Send + Sync,
{
    /// Compiles (or finds in the cache) a module from Wasm binary or text,
    /// checking that every import is a host function of the right type.
    pub(crate) fn compile(&self, bytes: &[u8]) -> Result<ModuleHandle, LoadError> {
        self.modules
            .get_or_compile(bytes, self.version, &self.linker, |bytes| {
                let module = wasmi::Module::new(&self.engine, bytes)
                    .map_err(|e| anyhow::anyhow!("invalid module: {}", crate::errors::one_line(&e)))?;
                self.check_imports(&module)?;
                Ok(module)
            })
            .map_err(|e| LoadError(format!("{e:#}")))
    }

    fn check_imports(&self, module: &wasmi::Module) -> anyhow::Result<()> {
        for import in module.imports() {
            let (m, n) = (import.module(), import.name());
            let Some(provided) = self.signatures.get(&(m.to_string(), n.to_string())) else {
                anyhow::bail!("unknown import `{m}::{n}`: the runtime provides no such function");
            };
            match import.ty() {
                wasmi::ExternType::Func(wanted) if wanted == provided => {}
                wasmi::ExternType::Func(wanted) => anyhow::bail!(
                    "import `{m}::{n}` has type {wanted:?}, but the runtime's function has type {provided:?}"
                ),
                other => anyhow::bail!(
                    "import `{m}::{n}` is a {other:?}, but the runtime only provides functions"
                ),
            }
        }
        Ok(())
    }

    /// The module version this engine compiles for (0: none).
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Names of all host functions, as `(module, name)`.
    pub(crate) fn host_functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.signatures.keys().map(|(m, n)| (m.as_str(), n.as_str()))
    }
}

/// A host function as the linker gets it: wrapped in `catch_unwind`, and,
/// when tracing, noting its name in the calling process's trace.
///
/// wasmi calls host functions through `extern "sysv64"` frames on x86-64, so
/// a panic unwinding out of one cannot be caught further up: it aborts the
/// whole runtime. Caught here, at the only place every host call passes, a
/// panic becomes a trap of the calling process alone (its links and monitors
/// are told as for any trap). Host code is meant never to panic on guest
/// input; this is the backstop for the cases it still does.
pub(crate) trait HostFn<T, Params, Results> {
    /// Defines `module::name` in `linker` as this function, wrapped.
    fn define(
        self,
        linker: &mut Linker<T>,
        module: &str,
        name: &'static str,
        traced: bool,
    ) -> Result<(), wasmi::errors::LinkerError>;
}

/// The trap a panic in host function `what` becomes.
fn host_panicked(what: &str, payload: &(dyn std::any::Any + Send)) -> wasmi::Error {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    log::error!(target: "lunatic::process", "{what} panicked: {message}");
    wasmi::Error::new(format!("{what} panicked: {message}"))
}

/// Runs the host side of a suspended host call (its awaited work, then its
/// completion) so that a panic in it becomes a trap of the process, as for
/// host functions (see [`HostFn`]), rather than unwinding through the
/// executor and losing the process without telling its links.
pub(crate) fn contain<T>(work: impl FnOnce() -> T) -> Result<T, wasmi::Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .map_err(|payload| host_panicked("a suspended host call", &*payload))
}

macro_rules! host_fn {
    ($($arg:ident)*) => {
        impl<'c, T: StoreData, F, $($arg,)* R> HostFn<T, (wasmi::Caller<'c, T>, $($arg,)*), R> for F
        where
            F: Fn(wasmi::Caller<'_, T>, $($arg),*) -> R + Send + Sync + 'static,
            $($arg: wasmi::WasmTy,)*
            R: wasmi::WasmRet,
            Result<<R as wasmi::WasmRet>::Ok, wasmi::Error>: wasmi::WasmRet,
        {
            #[allow(non_snake_case)]
            fn define(
                self,
                linker: &mut Linker<T>,
                module: &str,
                name: &'static str,
                traced: bool,
            ) -> Result<(), wasmi::errors::LinkerError> {
                let what: Box<str> = format!("host function {module}::{name}").into();
                linker
                    .func_wrap(
                        module,
                        name,
                        move |mut caller: wasmi::Caller<'_, T>, $($arg: $arg),*|
                              -> Result<<R as wasmi::WasmRet>::Ok, wasmi::Error> {
                            if traced {
                                caller.data_mut().note_host_call(name);
                            }
                            // This call, and the bytes the calls before it
                            // moved in this run of the process.
                            charge(&mut caller, HOST_CALL_FUEL + take_moved_fuel());
                            // Nothing observes the closure's state after a
                            // panic but the trap: the process is ended.
                            let call = std::panic::AssertUnwindSafe(|| {
                                wasmi::WasmRet::into_fallible((self)(caller, $($arg),*))
                            });
                            match std::panic::catch_unwind(call) {
                                Ok(result) => result,
                                Err(payload) => Err(host_panicked(&what, &*payload)),
                            }
                        },
                    )
                    .map(drop)
            }
        }
    };
}

host_fn!();
host_fn!(A1);
host_fn!(A1 A2);
host_fn!(A1 A2 A3);
host_fn!(A1 A2 A3 A4);
host_fn!(A1 A2 A3 A4 A5);
host_fn!(A1 A2 A3 A4 A5 A6);
host_fn!(A1 A2 A3 A4 A5 A6 A7);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8 A9);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11);
host_fn!(A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12);

/// The wasmi configuration every module is compiled with (public so that
/// benchmarks can compare against bare wasmi with identical settings).
pub fn engine_config() -> Config {
    let mut config = Config::default();
    config
        .consume_fuel(true)
        // Lazy translation can run out of fuel mid-translation, which is not
        // resumable; eager also makes fuel use independent of call order.
        .compilation_mode(CompilationMode::Eager)
        .wasm_simd(true)
        .wasm_multi_memory(true)
        .wasm_tail_call(true);
    config
}

