//! The runtime: one wasmi `Engine`, the module cache, one `Linker` with every
//! host function, and the scheduler processes run on.

use crate::errors::LoadError;
use crate::module::{ModuleCache, ModuleHandle};
use crate::process::ProcessState;
use crate::scheduler::Scheduler;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wasmi::{CompilationMode, Config, Engine, FuncType, Linker};

/// Default fuel per slice: ~16 µs of plain integer code between preemption
/// points. Chosen with `benches/run --fuel-sweep`: ping-pong p99 latency next
/// to spinning processes grows linearly with the slice (45 µs at 10 000,
/// 97 µs at 30 000, 290 µs at 100 000), while the throughput of processes
/// competing for the cores stays flat down to ~30 000 and drops below
/// (+5-10% at 10 000, +80% at 3 000).
pub const DEFAULT_FUEL_SLICE: u64 = 30_000;

/// Tunables of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Fuel a process runs before it yields to others.
    pub fuel_slice: u64,
    /// How long a process waits (in `receive`, on a socket, a timer, a
    /// file, a child...) before the all-zero pages of its linear memory are
    /// given back to the OS (`None`: never; zero: at once). Each wait that
    /// lasts this long compacts again, looking only at pages still resident.
    pub compact_idle_after: Option<std::time::Duration>,
    /// How many bytes of linear memory may sit in new processes that wait
    /// out `compact_idle_after` (a process counts its whole memory until its
    /// first compaction; afterwards it holds only what it touched since and
    /// is not counted); a new process that parks beyond this budget is
    /// compacted at once. Bounds the memory of a burst of new idle processes
    /// (spawning at ~2 000/s, half a second of delay is a gigabyte) without
    /// making short waits pay for compaction in small programs.
    pub compact_budget: usize,
    /// Host names whose DNS lookups (`lunatic::networking::resolve`,
    /// `tls_connect`) answer with these addresses instead of asking the
    /// system resolver, like curl's `--resolve`; a name may appear several
    /// times. Matched case-insensitively; the port comes from the lookup.
    /// Entries from the `LUNATIC_RESOLVE` environment variable
    /// (`host=ip[,host=ip...]`) are consulted after these.
    pub resolve: Vec<(String, std::net::IpAddr)>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            fuel_slice: DEFAULT_FUEL_SLICE,
            compact_idle_after: Some(std::time::Duration::from_millis(500)),
            compact_budget: 256 << 20,
            resolve: Vec::new(),
        }
    }
}

/// A Lunatic runtime: compiles modules and runs processes. Cheap to clone.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    engine: Engine,
    linker: Linker<ProcessState>,
    /// Signature of every host function, to check a module's imports when it
    /// is compiled rather than when a process is spawned.
    host_functions: HashMap<(String, String), FuncType>,
    modules: ModuleCache,
    scheduler: Arc<dyn Scheduler>,
    options: RuntimeOptions,
    /// Record/replay (deterministic mode only).
    world: Option<Arc<crate::replay::World>>,
    /// `--trace` (deterministic mode only).
    trace: Option<Arc<crate::replay::Trace>>,
    /// Linear-memory bytes of parked processes waiting to be compacted.
    compact_pending: AtomicUsize,
    /// Wakes processes idle long enough to compact (threaded scheduler).
    idle_watch: std::sync::OnceLock<Option<Arc<crate::process::IdleWatch>>>,
    /// Edge-triggered readiness for TCP reads, made at the first read.
    edge: std::sync::OnceLock<Option<Arc<crate::api::networking::EdgeReactor>>>,
}

/// A parked process's share of [`RuntimeOptions::compact_budget`], given back
/// when it is dropped (compacted or woken).
pub(crate) struct CompactCharge {
    runtime: Runtime,
    bytes: usize,
}

impl Drop for CompactCharge {
    fn drop(&mut self) {
        self.runtime.0.compact_pending.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Registers host functions in the linker and remembers their signatures.
pub(crate) struct HostFunctions<'a> {
    linker: &'a mut Linker<ProcessState>,
    signatures: &'a mut HashMap<(String, String), FuncType>,
    /// Wrap every function so the trace can name the calls a process made.
    traced: bool,
}

impl HostFunctions<'_> {
    /// Adds `module::name` implemented by `func`, wrapped so that a panic in
    /// it traps the calling process instead of aborting the runtime (see
    /// [`HostFn`]).
    pub(crate) fn func<Params, Results, F>(&mut self, module: &str, name: &'static str, func: F)
    where
        F: wasmi::IntoFunc<ProcessState, Params, Results> + HostFn<Params, Results>,
    {
        use wasmi::WasmTyList;
        let ty = FuncType::new(
            <F::Params as WasmTyList>::types().as_ref().iter().copied(),
            <F::Results as WasmTyList>::types().as_ref().iter().copied(),
        );
        func.define(self.linker, module, name, self.traced)
            .unwrap_or_else(|e| panic!("host function {module}::{name} defined twice: {e}"));
        self.signatures.insert((module.to_string(), name.to_string()), ty);
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
pub(crate) trait HostFn<Params, Results> {
    /// Defines `module::name` in `linker` as this function, wrapped.
    fn define(
        self,
        linker: &mut Linker<ProcessState>,
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
        impl<'c, F, $($arg,)* R> HostFn<(wasmi::Caller<'c, ProcessState>, $($arg,)*), R> for F
        where
            F: Fn(wasmi::Caller<'_, ProcessState>, $($arg),*) -> R + Send + Sync + 'static,
            $($arg: wasmi::WasmTy,)*
            R: wasmi::WasmRet,
            Result<<R as wasmi::WasmRet>::Ok, wasmi::Error>: wasmi::WasmRet,
        {
            #[allow(non_snake_case)]
            fn define(
                self,
                linker: &mut Linker<ProcessState>,
                module: &str,
                name: &'static str,
                traced: bool,
            ) -> Result<(), wasmi::errors::LinkerError> {
                let what: Box<str> = format!("host function {module}::{name}").into();
                linker
                    .func_wrap(
                        module,
                        name,
                        move |mut caller: wasmi::Caller<'_, ProcessState>, $($arg: $arg),*|
                              -> Result<<R as wasmi::WasmRet>::Ok, wasmi::Error> {
                            if traced {
                                caller.data_mut().traced_calls.push(name);
                            }
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

impl Runtime {
    /// Creates a runtime whose processes run on `scheduler`.
    pub fn new(scheduler: Arc<dyn Scheduler>, options: RuntimeOptions) -> Self {
        Self::with_world(scheduler, options, None, None)
    }

    /// A runtime whose outside world is recorded or replayed by `world`,
    /// and whose schedule is traced to `trace` (deterministic mode).
    pub(crate) fn with_world(
        scheduler: Arc<dyn Scheduler>,
        options: RuntimeOptions,
        world: Option<Arc<crate::replay::World>>,
        trace: Option<Arc<crate::replay::Trace>>,
    ) -> Self {
        let engine = Engine::new(&engine_config());
        let mut linker = Linker::new(&engine);
        let mut signatures = HashMap::new();
        let mut host = HostFunctions {
            linker: &mut linker,
            signatures: &mut signatures,
            traced: trace.is_some(),
        };
        crate::api::register(&mut host);
        crate::wasi::register(&mut host);
        #[cfg(test)]
        tests::register(&mut host);
        Self(Arc::new(Inner {
            engine,
            linker,
            host_functions: signatures,
            modules: ModuleCache::default(),
            scheduler,
            options,
            world,
            trace,
            compact_pending: AtomicUsize::new(0),
            idle_watch: std::sync::OnceLock::new(),
            edge: std::sync::OnceLock::new(),
        }))
    }

    /// The record/replay layer, when one is active.
    pub(crate) fn world(&self) -> Option<&Arc<crate::replay::World>> {
        self.0.world.as_ref()
    }

    /// The `--trace` output, when tracing.
    pub(crate) fn trace(&self) -> Option<&Arc<crate::replay::Trace>> {
        self.0.trace.as_ref()
    }

    /// Compiles (or finds in the cache) a module from Wasm binary or text,
    /// checking that every import is a host function of the right type.
    pub fn compile(&self, bytes: &[u8]) -> Result<ModuleHandle, LoadError> {
        self.0
            .modules
            .get_or_compile(bytes, |bytes| {
                let module = wasmi::Module::new(&self.0.engine, bytes)
                    .map_err(|e| anyhow::anyhow!("invalid module: {}", crate::errors::one_line(&e)))?;
                self.check_imports(&module)?;
                Ok(module)
            })
            .map_err(|e| LoadError(format!("{e:#}")))
    }

    fn check_imports(&self, module: &wasmi::Module) -> anyhow::Result<()> {
        for import in module.imports() {
            let (m, n) = (import.module(), import.name());
            let Some(provided) = self.0.host_functions.get(&(m.to_string(), n.to_string())) else {
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

    pub(crate) fn engine(&self) -> &Engine {
        &self.0.engine
    }

    pub(crate) fn linker(&self) -> &Linker<ProcessState> {
        &self.0.linker
    }

    /// The scheduler processes run on.
    pub fn scheduler(&self) -> &dyn Scheduler {
        &*self.0.scheduler
    }

    pub(crate) fn scheduler_arc(&self) -> Arc<dyn Scheduler> {
        self.0.scheduler.clone()
    }

    /// Fuel per preemption slice.
    pub fn fuel_slice(&self) -> u64 {
        self.0.options.fuel_slice
    }

    /// See [`RuntimeOptions::compact_idle_after`].
    pub fn compact_idle_after(&self) -> Option<std::time::Duration> {
        self.0.options.compact_idle_after
    }

    /// The watch that wakes processes idle for `compact_idle_after`; none
    /// in deterministic mode, whose timers follow virtual time.
    pub(crate) fn idle_watch(&self) -> Option<&Arc<crate::process::IdleWatch>> {
        self.0
            .idle_watch
            .get_or_init(|| {
                let delay = self.0.options.compact_idle_after.filter(|d| !d.is_zero())?;
                if self.0.scheduler.inline_blocking() {
                    return None;
                }
                crate::process::IdleWatch::start(delay).ok()
            })
            .as_ref()
    }

    /// Charges `bytes` of uncompacted idle memory against the compaction
    /// budget; `None` when it is spent (then compact at once).
    pub(crate) fn charge_idle_memory(&self, bytes: usize) -> Option<CompactCharge> {
        let pending = &self.0.compact_pending;
        let limit = self.0.options.compact_budget;
        pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                now.checked_add(bytes).filter(|&total| total <= limit)
            })
            .ok()
            .map(|_| CompactCharge { runtime: self.clone(), bytes })
    }

    /// The epoll instance TCP reads wait in (threaded scheduler only).
    pub(crate) fn edge_reactor(&self) -> Option<&Arc<crate::api::networking::EdgeReactor>> {
        self.0
            .edge
            .get_or_init(|| crate::api::networking::EdgeReactor::start(&*self.0.scheduler))
            .as_ref()
    }

    /// See [`RuntimeOptions::resolve`].
    pub(crate) fn resolve_overrides(&self) -> &[(String, std::net::IpAddr)] {
        &self.0.options.resolve
    }

    /// Names of all host functions, as `(module, name)`.
    pub fn host_functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.host_functions.keys().map(|(m, n)| (m.as_str(), n.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Environment;
    use crate::process::{self, Exit, InheritStdio, ProcessConfig, SpawnOptions};
    use wasmi::Caller;

    /// A host function that panics, only in unit tests: no guest-callable
    /// panic exists in a real build, and every known panic is fixed.
    pub(super) fn register(host: &mut HostFunctions<'_>) {
        host.func("lunatic::test", "panic", |_: Caller<'_, ProcessState>, code: i32| -> i32 {
            if code != 0 {
                panic!("test panic {code}");
            }
            0
        });
        // Suspends; then the awaited work (1) or the completion (2) panics.
        host.func("lunatic::test", "panic_later", |mut c: Caller<'_, ProcessState>, code: i32| {
            let work = Box::pin(async move {
                futures_lite::future::yield_now().await;
                if code == 1 {
                    panic!("test async panic");
                }
                crate::process::completion(move |_| -> Result<Vec<wasmi::Val>, wasmi::Error> {
                    panic!("test completion panic")
                })
            });
            Err::<(), _>(crate::process::suspend(c.data_mut(), crate::process::Pending::Async(work)))
        });
    }

    /// Waits on the child's link death (tag 7) and exits with the kind of
    /// the message received: 1 for "link died".
    const WATCHER: &str = r#"(module
      (import "lunatic::process" "die_when_link_dies" (func $trap_links (param i32)))
      (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
      (import "lunatic::message" "get_tag" (func $tag (result i64)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (call $trap_links (i32.const 0))
        (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 1))
          (then (call $exit (i32.const 90))))
        (call $exit (i32.wrap_i64 (call $tag)))))"#;

    /// Calls the panicking host function with a harmless, then a panicking
    /// argument.
    const PANICKER: &str = r#"(module
      (import "lunatic::test" "panic" (func $panic (param i32) (result i32)))
      (func (export "_start")
        (drop (call $panic (i32.const 0)))
        (drop (call $panic (i32.const 3)))))"#;

    /// A host call whose asynchronous part panics (argument 1), or whose
    /// completion does (2).
    fn later(code: i32) -> String {
        format!(
            r#"(module
              (import "lunatic::test" "panic_later" (func $later (param i32)))
              (func (export "_start") (call $later (i32.const {code}))))"#
        )
    }

    fn start(
        runtime: &Runtime,
        env: &Arc<Environment>,
        wat: &str,
        link: Option<(crate::process::ProcessHandle, i64)>,
        exits: &async_channel::Sender<(usize, Exit)>,
        n: usize,
    ) -> crate::process::ProcessHandle {
        let exits = exits.clone();
        process::spawn(
            runtime,
            env,
            SpawnOptions {
                module: runtime.compile(wat.as_bytes()).unwrap(),
                config: Arc::new(ProcessConfig::default()),
                entry: "_start".into(),
                params: Vec::new(),
                link,
                stdio: Arc::new(InheritStdio),
                on_exit: Some(Box::new(move |exit| {
                    let _ = exits.try_send((n, exit.clone()));
                })),
            },
        )
        .unwrap()
    }

    /// A panic in a host function traps only the calling process, with a
    /// message naming the function, and its link is told; the runtime and
    /// the other processes carry on. Without the wrapper the panic could not
    /// unwind through wasmi's frames and the test binary would abort (tried).
    /// The same for a panic in the asynchronous part of a host call and in
    /// its completion, which run in the driver.
    #[test]
    fn a_panicking_host_function_traps_only_its_process() {
        for scheduler in [
            crate::scheduler::SchedulerKind::Deterministic { seed: 5 },
            crate::scheduler::SchedulerKind::Threaded { threads: 2 },
        ] {
            let scheduler = scheduler.build().unwrap();
            let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
            let env = Arc::new(Environment::new(0));
            let (exits, exited) = async_channel::unbounded();
            let watcher = start(&runtime, &env, WATCHER, None, &exits, 0);
            start(&runtime, &env, PANICKER, Some((watcher, 7)), &exits, 1);
            start(&runtime, &env, &later(1), None, &exits, 2);
            start(&runtime, &env, &later(2), None, &exits, 3);
            let ends = Arc::new(std::sync::Mutex::new(Vec::new()));
            let collected = ends.clone();
            scheduler.block_on(Box::pin(async move {
                for _ in 0..4 {
                    let end = exited.recv().await.unwrap();
                    collected.lock().unwrap().push(end);
                }
                0
            }));
            let mut ends = ends.lock().unwrap().clone();
            ends.sort_by_key(|(n, _)| *n);
            assert_eq!(ends[0].1, Exit::Exited(7), "the watcher saw the link die");
            match &ends[1].1 {
                Exit::Trapped(why) => assert!(
                    why.contains("host function lunatic::test::panic panicked: test panic 3"),
                    "{why}"
                ),
                other => panic!("the panicking process ended as {other:?}"),
            }
            for (end, message) in ends[2..].iter().zip(["test async panic", "test completion panic"]) {
                match &end.1 {
                    Exit::Trapped(why) => assert!(
                        why.contains(&format!("a suspended host call panicked: {message}")),
                        "{why}"
                    ),
                    other => panic!("process {} ended as {other:?}", end.0),
                }
            }
        }
    }
}
