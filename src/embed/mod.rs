//! Layer 6, the embedding API: the runtime as a library inside an app (an
//! iOS or Android app, a game, a server) rather than behind the `lunatic`
//! command line. See the crate docs for a tour; [`Lunatic`] is the start.
//!
//! It is built only from the layers below: a [`Runtime`] assembled with the
//! app's host functions (`Runtime::assemble`), processes started by the
//! driver ([`crate::process::spawn`]), the process table and registry of
//! one [`Environment`], and [`ProcessHandle`] signals. The native mailbox is
//! a process-table entry with no Wasm behind it. Pausing wraps the
//! scheduler ([`gate`]); nothing below knows about it.

#[cfg(test)]
mod capi_tests;
pub mod capi;
mod gate;
mod host;
mod mailbox;

pub use host::{HostCall, Trap, ValType, Value};
pub use mailbox::{Mailbox, Subscription};

use crate::engine::ModuleHandle;
use crate::protocol::{
    Environment, Exit, InheritStdio, ProcessConfig, ProcessHandle, Runtime, RuntimeOptions,
    SpawnOptions,
};
use crate::scheduler::{Scheduler, SchedulerKind};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// What went wrong, as a number the C API returns too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorKind {
    /// A bad argument: an unknown type, a duplicate host function, a null
    /// pointer or invalid UTF-8 from C.
    InvalidArgument = 1,
    /// The module is not valid Wasm, or imports what the runtime lacks.
    Load = 2,
    /// The process could not be started (instantiation failed, its start
    /// section trapped, memory above its limit).
    Spawn = 3,
    /// No such process or name.
    NotFound = 4,
    /// A wait timed out.
    Timeout = 5,
    /// The runtime has shut down (or a deterministic runtime already ran).
    ShutDown = 6,
    /// Worker threads could not be started, or code panicked (C API).
    Internal = 7,
}

/// An error of the embedding API: a kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedError {
    kind: ErrorKind,
    message: String,
}

impl EmbedError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EmbedError {}

/// Options of a [`Lunatic`] runtime, and the app's own host functions.
///
/// ```
/// use lunatic_wasmi::{Lunatic, ValType, Value};
///
/// let lunatic = Lunatic::builder()
///     .threads(2)
///     .fuel_slice(30_000)
///     .host_function("app", "double", &[ValType::I32], &[ValType::I32], |_call, args| {
///         match args {
///             [Value::I32(x)] => Ok(vec![Value::I32(x.wrapping_mul(2))]),
///             _ => unreachable!("wasmi checks the signature"),
///         }
///     })
///     .build()?;
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
pub struct Builder {
    kind: SchedulerKind,
    options: RuntimeOptions,
    functions: Vec<host::AppFunction>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            kind: SchedulerKind::Threaded { threads: 0 },
            options: RuntimeOptions::default(),
            functions: Vec::new(),
        }
    }
}

impl Builder {
    /// Worker threads that run processes (0, the default: one per core).
    /// These, the `async-io` reactor thread (one per program, shared with
    /// any other async-io user), short-lived blocking-pool threads for file
    /// work, and one thread that compacts the memory of long-idle
    /// processes (unless [`Builder::compact_idle_after`] is `None`) are
    /// all the threads the runtime starts; none of them wakes while every
    /// process waits.
    pub fn threads(mut self, threads: usize) -> Self {
        self.kind = SchedulerKind::Threaded { threads };
        self
    }

    /// Runs everything on one deterministic scheduler instead: every
    /// scheduling decision, virtual time and random byte follows from
    /// `seed`. Processes then run only inside [`Lunatic::run`].
    pub fn deterministic(mut self, seed: u64) -> Self {
        self.kind = SchedulerKind::Deterministic { seed };
        self
    }

    /// Fuel a process runs before others get a turn (see
    /// [`crate::DEFAULT_FUEL_SLICE`]).
    pub fn fuel_slice(mut self, fuel: u64) -> Self {
        self.options.fuel_slice = fuel.max(1);
        self
    }

    /// How long a process waits before its memory's zero pages go back to
    /// the OS (`None`: never, and no compaction thread is started).
    pub fn compact_idle_after(mut self, after: Option<Duration>) -> Self {
        self.options.compact_idle_after = after;
        self
    }

    /// Every tunable at once.
    pub fn options(mut self, options: RuntimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Adds the app's function `namespace::name`, which guests import with
    /// that signature. It runs on a worker thread inside the guest's call:
    /// it must return quickly and never block (hand long work to the app's
    /// own threads and answer through a [`Mailbox`]). An `Err` traps the
    /// calling process only; so does a panic, or results that do not match
    /// `results`. A name defined twice, or one of the runtime's own, makes
    /// [`Builder::build`] fail.
    pub fn host_function<F>(
        mut self,
        namespace: &str,
        name: &str,
        params: &[ValType],
        results: &[ValType],
        func: F,
    ) -> Self
    where
        F: Fn(&mut HostCall<'_, '_>, &[Value]) -> Result<Vec<Value>, Trap> + Send + Sync + 'static,
    {
        self.functions.push(host::AppFunction {
            namespace: namespace.to_string(),
            name: name.to_string(),
            params: params.to_vec(),
            results: results.to_vec(),
            func: Arc::new(func),
        });
        self
    }

    /// Starts the runtime (its worker threads, if threaded).
    pub fn build(self) -> Result<Lunatic, EmbedError> {
        let inner = self
            .kind
            .build()
            .map_err(|e| EmbedError::new(ErrorKind::Internal, format!("cannot start worker threads: {e}")))?;
        let gate = Arc::new(gate::Gate::default());
        let scheduler: Arc<dyn Scheduler> = Arc::new(gate::Gated { inner, gate: gate.clone() });
        let functions = self.functions;
        let runtime = Runtime::assemble(scheduler.clone(), self.options, None, None, Arc::new(move |host| {
            functions.iter().try_for_each(|f| host::define(host, f))
        }))
        .map_err(|e| EmbedError::new(ErrorKind::InvalidArgument, e))?;
        Ok(Lunatic(Arc::new(Shared {
            runtime,
            env: Arc::new(Environment::new(1)),
            gate,
            scheduler,
            deterministic: matches!(self.kind, SchedulerKind::Deterministic { .. }),
            ran: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            mailboxes: Mutex::new(Vec::new()),
        })))
    }
}

/// A compiled module, identified by the hash of its bytes.
///
/// ```
/// let lunatic = lunatic_wasmi::Lunatic::builder().threads(1).build()?;
/// let a = lunatic.load(b"(module (func (export \"main\")))")?;
/// let b = lunatic.load(b"(module (func (export \"main\")))")?;
/// assert_eq!(a.id(), b.id()); // same bytes, same module, compiled once
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Module {
    handle: ModuleHandle,
    hash: u64,
}

impl Module {
    /// The content hash of its bytes (64-bit FNV-1a): equal bytes, equal
    /// IDs, in every runtime and every run.
    pub fn id(&self) -> u64 {
        self.hash
    }

    /// The bytes it was compiled from.
    pub fn bytes(&self) -> &[u8] {
        self.handle.bytes()
    }

    /// The parameter types of exported function `entry`, if it has one
    /// whose parameters are all numbers.
    pub fn entry_params(&self, entry: &str) -> Option<Vec<ValType>> {
        let wasmi::ExternType::Func(ty) = self.handle.wasmi().get_export(entry)? else { return None };
        ty.params()
            .iter()
            .map(|t| match t {
                wasmi::ValType::I32 => Some(ValType::I32),
                wasmi::ValType::I64 => Some(ValType::I64),
                wasmi::ValType::F32 => Some(ValType::F32),
                wasmi::ValType::F64 => Some(ValType::F64),
                _ => None,
            })
            .collect()
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How a process ended, filled in once.
#[derive(Default)]
struct ExitCell {
    exit: Mutex<Option<Exit>>,
    event: event_listener::Event,
}

impl ExitCell {
    fn get(&self) -> Option<Exit> {
        self.exit.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A process the app spawned: its ID, a way to kill it, and how it ended.
///
/// ```
/// use lunatic_wasmi::{Exit, Lunatic, ProcessConfig};
///
/// let lunatic = Lunatic::builder().threads(1).build()?;
/// let module = lunatic.load(b"(module (func (export \"main\") (loop (br 0))))")?;
/// let process = lunatic.spawn(&module, "main", ProcessConfig::default())?;
/// process.kill();
/// assert_eq!(process.wait_blocking(None)?, Exit::Killed);
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
#[derive(Clone)]
pub struct Process {
    handle: ProcessHandle,
    exit: Arc<ExitCell>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Process({})", self.handle.id())
    }
}

impl Process {
    /// Its ID (guests address it by this).
    pub fn id(&self) -> u64 {
        self.handle.id()
    }

    /// Stops it at its next suspension point (a host call or the end of a
    /// fuel slice): even a guest in an endless loop ends.
    pub fn kill(&self) {
        self.handle.kill();
    }

    /// How it ended, if it has.
    pub fn try_exit(&self) -> Option<Exit> {
        self.exit.get()
    }

    /// Completes with how it ended.
    pub fn exit(&self) -> impl Future<Output = Exit> + Send + 'static {
        let cell = self.exit.clone();
        async move {
            loop {
                if let Some(exit) = cell.get() {
                    return exit;
                }
                let listener = cell.event.listen();
                if let Some(exit) = cell.get() {
                    return exit;
                }
                listener.await;
            }
        }
    }

    /// Blocks the calling thread until it ends (or `timeout` passes: an
    /// error of kind [`ErrorKind::Timeout`]).
    pub fn wait_blocking(&self, timeout: Option<Duration>) -> Result<Exit, EmbedError> {
        let exit = self.exit();
        futures_lite::future::block_on(async move {
            match timeout {
                None => Ok(exit.await),
                Some(timeout) => {
                    futures_lite::future::or(async move { Ok(exit.await) }, async move {
                        async_io::Timer::after(timeout).await;
                        Err(EmbedError::new(ErrorKind::Timeout, format!("still running after {timeout:?}")))
                    })
                    .await
                }
            }
        })
    }
}

/// A Lunatic runtime inside an app. Cheap to clone; two runtimes in one
/// program are fully separate (threads, modules, processes, registry).
///
/// ```
/// use lunatic_wasmi::{Exit, Lunatic, Message, ProcessConfig};
/// use std::time::Duration;
///
/// // A guest that finds the app's mailbox in the registry and sends it 42.
/// let guest = r#"(module
///   (import "lunatic::registry" "get" (func $get (param i32 i32 i32 i32) (result i32)))
///   (import "lunatic::message" "create_data" (func $create (param i64 i64)))
///   (import "lunatic::message" "write_data" (func $write (param i32 i32) (result i32)))
///   (import "lunatic::message" "send" (func $send (param i64) (result i32)))
///   (memory (export "memory") 1)
///   (data (i32.const 0) "app")
///   (data (i32.const 16) "\2a")
///   (func (export "main")
///     (drop (call $get (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 40)))
///     (call $create (i64.const 5) (i64.const 1))
///     (drop (call $write (i32.const 16) (i32.const 1)))
///     (drop (call $send (i64.load (i32.const 40))))))"#;
///
/// let lunatic = Lunatic::builder().threads(1).build()?;
/// let mailbox = lunatic.mailbox()?;
/// mailbox.register("app")?;
/// let module = lunatic.load(guest.as_bytes())?;
/// let process = lunatic.spawn(&module, "main", ProcessConfig::default())?;
/// match mailbox.receive_blocking(Some(Duration::from_secs(10)))? {
///     Message::Data(data) => assert_eq!((data.tag, data.buffer), (5, vec![42])),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(process.wait_blocking(None)?, Exit::Returned);
/// lunatic.shutdown_blocking(Duration::from_secs(5))?;
/// # Ok::<(), lunatic_wasmi::EmbedError>(())
/// ```
#[derive(Clone)]
pub struct Lunatic(Arc<Shared>);

struct Shared {
    runtime: Runtime,
    env: Arc<Environment>,
    gate: Arc<gate::Gate>,
    scheduler: Arc<dyn Scheduler>,
    deterministic: bool,
    /// A deterministic runtime's one `run` has started.
    ran: AtomicBool,
    stopped: AtomicBool,
    /// Mailboxes to close at shutdown.
    mailboxes: Mutex<Vec<Weak<mailbox::Inner>>>,
}

/// What [`Lunatic::shutdown`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Processes that were still running and were killed.
    pub killed: usize,
}

impl Lunatic {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn check_running(&self) -> Result<(), EmbedError> {
        if self.0.stopped.load(Ordering::SeqCst) {
            return Err(EmbedError::new(ErrorKind::ShutDown, "the runtime has shut down"));
        }
        Ok(())
    }

    /// Compiles a module from Wasm bytes (or text), once per distinct
    /// bytes. Compiling takes time in proportion to the module's size: an
    /// async caller with big modules may want to call it on a blocking
    /// thread.
    pub fn load(&self, bytes: &[u8]) -> Result<Module, EmbedError> {
        self.check_running()?;
        let handle =
            self.0.runtime.compile(bytes).map_err(|e| EmbedError::new(ErrorKind::Load, e.to_string()))?;
        Ok(Module { handle, hash: content_hash(bytes) })
    }

    /// Hot reload: loads `bytes` as a new version of the app and makes it
    /// current. A version has an engine of its own (its compiled code is
    /// freed when its last process ends); processes spawned from the
    /// returned module run it, and processes of older versions that
    /// subscribed through `lunatic::hot` are told and may hand over to it
    /// (README "Hot reload"). Nothing is stopped: the app decides what
    /// happens to processes of older versions.
    pub fn load_version(&self, bytes: &[u8]) -> Result<Module, EmbedError> {
        self.check_running()?;
        let version =
            self.0.runtime.load_version(bytes).map_err(|e| EmbedError::new(ErrorKind::Load, e.to_string()))?;
        self.0.runtime.make_current(&version);
        Ok(Module { handle: version.module().clone(), hash: content_hash(bytes) })
    }

    /// Starts a process running export `entry` of `module` (with no
    /// arguments), with the limits, permissions, arguments, environment
    /// and directories of `config` ([`ProcessConfig::default`] denies
    /// everything: no spawning, no compiling, no files). Its standard
    /// streams are the app's. A module with a start section runs it here,
    /// on the calling thread (bounded by fuel, about 50 ms).
    pub fn spawn(&self, module: &Module, entry: &str, config: ProcessConfig) -> Result<Process, EmbedError> {
        self.spawn_with(module, entry, &[], config)
    }

    /// [`Lunatic::spawn`], calling `entry` with `params`.
    pub fn spawn_with(
        &self,
        module: &Module,
        entry: &str,
        params: &[Value],
        config: ProcessConfig,
    ) -> Result<Process, EmbedError> {
        self.check_running()?;
        let exit = Arc::new(ExitCell::default());
        let told = exit.clone();
        let options = SpawnOptions {
            module: module.handle.clone(),
            config: Arc::new(config),
            entry: entry.to_string(),
            params: params.iter().map(|v| v.to_wasmi()).collect(),
            link: None,
            stdio: Arc::new(InheritStdio),
            on_exit: Some(Box::new(move |how: &Exit| {
                *told.exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(how.clone());
                told.event.notify(usize::MAX);
            })),
        };
        let handle = crate::process::spawn(&self.0.runtime, &self.0.env, options)
            .map_err(|e| EmbedError::new(ErrorKind::Spawn, format!("{e:#}")))?;
        Ok(Process { handle, exit })
    }

    /// A new native mailbox: a process ID owned by the app.
    pub fn mailbox(&self) -> Result<Mailbox, EmbedError> {
        self.check_running()?;
        let inner = mailbox::Inner::new(&self.0.env, self.0.scheduler.clone());
        let mut all = self.0.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|m| m.strong_count() > 0);
        all.push(Arc::downgrade(&inner));
        Ok(Mailbox(inner))
    }

    /// Kills process `id` (any process of this runtime, not only those the
    /// app spawned); false if there is none. Mailboxes cannot be killed.
    pub fn kill(&self, id: u64) -> bool {
        self.0.env.get(id).map(|p| p.kill()).is_some()
    }

    /// The process `name` refers to in the registry, if any.
    pub fn lookup(&self, name: &str) -> Option<u64> {
        match self.0.env.get_name(name)? {
            (0, id) => Some(id),
            _ => None,
        }
    }

    /// Live processes, mailboxes included.
    pub fn processes(&self) -> usize {
        self.0.env.len()
    }

    /// Holds every process at its next suspension point (the end of its
    /// current fuel slice at the latest), for an app going to the
    /// background. Messages, timers and I/O still arrive; nothing runs
    /// until [`Lunatic::resume`]. Native mailboxes keep working.
    pub fn pause(&self) {
        self.0.gate.pause();
    }

    /// Lets paused processes run again.
    pub fn resume(&self) {
        self.0.gate.resume();
    }

    /// Kills every process, waits up to `timeout` for them to end, and
    /// closes every mailbox (pending receives fail with
    /// [`ErrorKind::ShutDown`]). Later calls that start anything fail.
    /// Worker threads end when the last clone of the runtime, its
    /// mailboxes and processes are dropped.
    pub async fn shutdown(&self, timeout: Duration) -> Result<ShutdownReport, EmbedError> {
        self.0.stopped.store(true, Ordering::SeqCst);
        // Paused processes could not take their kill signal.
        self.0.gate.resume();
        let mailboxes: Vec<Arc<mailbox::Inner>> = {
            let all = self.0.mailboxes.lock().unwrap_or_else(|e| e.into_inner());
            all.iter().filter_map(Weak::upgrade).collect()
        };
        let is_mailbox = |id: u64| mailboxes.iter().any(|m| m.handle.id() == id);
        let running: Vec<ProcessHandle> =
            self.0.env.handles().into_iter().filter(|p| !is_mailbox(p.id())).collect();
        running.iter().for_each(ProcessHandle::kill);
        let deadline = self.0.scheduler.now().saturating_add(timeout);
        // Only while shutting down: a short poll until the table empties
        // (processes spawned by guests have no exit hook to await).
        let left = loop {
            let left = self.0.env.handles().into_iter().filter(|p| !is_mailbox(p.id())).count();
            if left == 0 || self.0.scheduler.now() >= deadline {
                break left;
            }
            // Children spawned meanwhile are killed too.
            self.0.env.handles().iter().filter(|p| !is_mailbox(p.id())).for_each(ProcessHandle::kill);
            crate::scheduler::sleep(&*self.0.scheduler, Duration::from_millis(2)).await;
        };
        mailboxes.iter().for_each(|m| m.close());
        if left > 0 {
            return Err(EmbedError::new(
                ErrorKind::Timeout,
                format!("{left} processes still running after {timeout:?}"),
            ));
        }
        Ok(ShutdownReport { killed: running.len() })
    }

    /// [`Lunatic::shutdown`], blocking the calling thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<ShutdownReport, EmbedError> {
        if self.0.deterministic {
            let this = self.clone();
            return self.run(async move { this.shutdown(timeout).await })?;
        }
        futures_lite::future::block_on(self.shutdown(timeout))
    }

    /// Runs `main` to completion on the calling thread and returns its
    /// output. With a threaded runtime, processes run on the worker
    /// threads meanwhile (and before and after); with a `deterministic`
    /// one, they run only inside this call, which can be made once.
    ///
    /// ```
    /// use lunatic_wasmi::{Exit, Lunatic, ProcessConfig};
    ///
    /// let lunatic = Lunatic::builder().deterministic(7).build()?;
    /// let module = lunatic.load(b"(module (func (export \"main\")))")?;
    /// let process = lunatic.spawn(&module, "main", ProcessConfig::default())?;
    /// assert_eq!(lunatic.run(process.exit())?, Exit::Returned);
    /// # Ok::<(), lunatic_wasmi::EmbedError>(())
    /// ```
    pub fn run<F>(&self, main: F) -> Result<F::Output, EmbedError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if !self.0.deterministic {
            return Ok(futures_lite::future::block_on(main));
        }
        if self.0.ran.swap(true, Ordering::SeqCst) {
            return Err(EmbedError::new(ErrorKind::ShutDown, "a deterministic runtime runs once"));
        }
        let out = Arc::new(Mutex::new(None));
        let slot = out.clone();
        self.0.scheduler.block_on(Box::pin(async move {
            let value = main.await;
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            0
        }));
        let value = out.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| EmbedError::new(ErrorKind::ShutDown, "the deterministic run stopped early"))
    }
}

#[cfg(test)]
mod tests;
