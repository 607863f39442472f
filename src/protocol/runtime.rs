//! The runtime every process shares: its engine, scheduler, options, the
//! record/replay world, and the hooks the layers above install (how to make
//! a process's host contexts, how to start a process).

use super::{Contexts, Environment, ProcessConfig, ProcessHandle, ProcessState, SpawnOptions};
use super::version::{Version, Versions};
use crate::engine::{Engine, HostFunctions, ModuleHandle, DEFAULT_FUEL_SLICE};
use crate::errors::LoadError;
use crate::scheduler::{BoxFuture, Scheduler};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Adds one host module's context to a new process's contexts.
pub(crate) type ContextFactory = fn(&ProcessConfig, &mut Contexts) -> anyhow::Result<()>;

/// Instantiates and registers a process; returns the task that runs it.
/// With [`Instantiate::InTask`] the process is registered first and
/// instantiated when its task first runs.
pub(crate) type Launcher =
    fn(&Runtime, &Arc<Environment>, SpawnOptions, Instantiate) -> anyhow::Result<(ProcessHandle, BoxFuture<()>)>;

/// When a prepared process is instantiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instantiate {
    /// Before `prepare` returns: a failure is the spawn's error.
    Now,
    /// When its task first runs: `prepare` only registers it (messages
    /// wait in its mailbox), and a failure ends the process at once, its
    /// links and monitors told. For remote spawns, whose answer can then
    /// leave before the instantiation's tens of microseconds.
    InTask,
}

/// Registers every host function with a [`HostFunctions`]; run once per
/// engine (the shared one, and one per module version).
pub(crate) type Registrar =
    Arc<dyn Fn(&mut HostFunctions<ProcessState>) -> Result<(), String> + Send + Sync>;

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
    /// Bytes of linear memory all processes may hold together (each one is
    /// also bounded by its own `max_memory`); beyond it a `memory.grow`
    /// fails and a spawn fails with an error. `None`: no such cap. A fork
    /// bomb of processes each within its own limit is stopped by this.
    pub max_total_memory: Option<u64>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            fuel_slice: DEFAULT_FUEL_SLICE,
            compact_idle_after: Some(std::time::Duration::from_millis(500)),
            compact_budget: 256 << 20,
            resolve: Vec::new(),
            max_total_memory: None,
        }
    }
}

/// A Lunatic runtime: compiles modules and runs processes. Cheap to clone.
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

struct Inner {
    engine: Engine<ProcessState>,
    /// How to make another engine with the same host functions.
    registrar: Registrar,
    /// Whether engines wrap host functions for `--trace`.
    traced: bool,
    /// Module versions of a hot-reloadable app (none otherwise).
    versions: std::sync::Mutex<Versions>,
    /// Makes the per-process contexts of the host modules.
    contexts: Vec<ContextFactory>,
    /// Instantiates a process (the process driver's `prepare`).
    launcher: Launcher,
    scheduler: Arc<dyn Scheduler>,
    options: RuntimeOptions,
    /// Record/replay (deterministic mode only).
    world: Option<Arc<crate::replay::World>>,
    /// `--trace` (deterministic mode only).
    trace: Option<Arc<crate::replay::Trace>>,
    /// Linear-memory bytes of parked processes waiting to be compacted.
    compact_pending: AtomicUsize,
    /// Runtime-wide state of host modules, one per type (see
    /// [`Runtime::shared`]).
    shared: std::sync::Mutex<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// Linear memory of all processes, against `max_total_memory`.
    memory: Arc<super::limits::MemoryBudget>,
    /// Wakes processes idle long enough to compact (threaded scheduler).
    idle_watch: std::sync::OnceLock<Option<Arc<crate::scheduler::IdleWatch>>>,
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


impl Runtime {
    /// Assembles a runtime from its parts (the runtime facade does, see
    /// `Runtime::new`).
    pub(crate) fn from_parts(
        registrar: Registrar,
        contexts: Vec<ContextFactory>,
        launcher: Launcher,
        scheduler: Arc<dyn Scheduler>,
        options: RuntimeOptions,
        world: Option<Arc<crate::replay::World>>,
        trace: Option<Arc<crate::replay::Trace>>,
    ) -> Result<Self, String> {
        let traced = trace.is_some();
        let engine = new_engine(&registrar, traced, 0)?;
        Ok(Self(Arc::new(Inner {
            engine,
            registrar,
            traced,
            versions: Default::default(),
            contexts,
            launcher,
            scheduler,
            options: options.clone(),
            world,
            trace,
            compact_pending: AtomicUsize::new(0),
            memory: Arc::new(super::limits::MemoryBudget::new(options.max_total_memory)),
            shared: std::sync::Mutex::new(Vec::new()),
            idle_watch: std::sync::OnceLock::new(),
        })))
    }
}

/// A new engine with every host function, compiling for `version`.
fn new_engine(registrar: &Registrar, traced: bool, version: u64) -> Result<Engine<ProcessState>, String> {
    let mut host = HostFunctions::<ProcessState>::new(traced);
    registrar(&mut host)?;
    Ok(host.finish(version))
}

impl Runtime {
    /// Compiles `bytes` as a module version on an engine of its own (or
    /// finds the live version with the same ID). It fails, leaving nothing
    /// behind, if the bytes do not compile or their imports do not resolve.
    pub(crate) fn load_version(&self, bytes: &[u8]) -> Result<Arc<Version>, LoadError> {
        let id = crate::engine::version_id(bytes);
        if let Some(found) = self.versions().get(id) {
            return Ok(found);
        }
        let engine = new_engine(&self.0.registrar, self.0.traced, id).map_err(LoadError)?;
        let module = engine.compile(bytes)?;
        let version = Arc::new(Version::new(engine, module));
        let mut versions = self.versions();
        // Another thread may have loaded the same bytes meanwhile.
        if let Some(found) = versions.get(id) {
            return Ok(found);
        }
        versions.all.insert(id, Arc::downgrade(&version));
        Ok(version)
    }

    /// Makes `version` the app's current one and returns the one it
    /// replaces; processes subscribed on other versions are told.
    pub(crate) fn make_current(&self, version: &Arc<Version>) -> Option<Arc<Version>> {
        let (previous, live) = {
            let mut versions = self.versions();
            versions.promoted += 1;
            version.set_seq(versions.promoted);
            version.begin_term();
            let previous = versions.current.replace(version.clone());
            (previous, versions.live())
        };
        for other in live {
            other.notify(version.id());
            other.notify_changed();
        }
        previous
    }

    /// Makes `version` the newest (the one listeners go to) without making
    /// it current yet: a new version's root may bind before it is current.
    pub(crate) fn promote(&self, version: &Arc<Version>) {
        let mut versions = self.versions();
        versions.promoted += 1;
        version.set_seq(versions.promoted);
        // Its new root joins in a term of its own (see `Version::term`).
        version.begin_term();
    }

    /// The app's current version (`None`: not a hot-reloadable app).
    pub(crate) fn current_version(&self) -> Option<Arc<Version>> {
        self.versions().current.clone()
    }

    /// The version whose engine compiled `module` (`None`: the shared
    /// engine did, or that version is gone).
    pub(crate) fn version_of(&self, module: &ModuleHandle) -> Option<Arc<Version>> {
        match module.version() {
            0 => None,
            id => self.versions().get(id),
        }
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, Versions> {
        self.0.versions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Runtime {
    /// The record/replay layer, when one is active.
    pub(crate) fn world(&self) -> Option<&Arc<crate::replay::World>> {
        self.0.world.as_ref()
    }

    /// The `--trace` output, when tracing.
    pub(crate) fn trace(&self) -> Option<&Arc<crate::replay::Trace>> {
        self.0.trace.as_ref()
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
    pub(crate) fn idle_watch(&self) -> Option<&Arc<crate::scheduler::IdleWatch>> {
        self.0
            .idle_watch
            .get_or_init(|| {
                let delay = self.0.options.compact_idle_after.filter(|d| !d.is_zero())?;
                if self.0.scheduler.inline_blocking() {
                    return None;
                }
                crate::scheduler::IdleWatch::start(delay).ok()
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

    /// The runtime-wide state of type `T` a host module keeps (networking's
    /// epoll instance), made by `make` at first use. Looked up under a lock:
    /// callers keep what they get rather than ask per call.
    pub(crate) fn shared<T: std::any::Any + Send + Sync>(&self, make: impl FnOnce(&Runtime) -> T) -> Arc<T> {
        let mut shared = self.0.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = shared.iter().find_map(|s| s.clone().downcast::<T>().ok()) {
            return found;
        }
        let made = Arc::new(make(self));
        shared.push(made.clone());
        made
    }

    /// The runtime-wide linear-memory budget (see
    /// [`RuntimeOptions::max_total_memory`]).
    pub(crate) fn memory_budget(&self) -> &Arc<super::limits::MemoryBudget> {
        &self.0.memory
    }

    /// See [`RuntimeOptions::resolve`].
    pub(crate) fn resolve_overrides(&self) -> &[(String, std::net::IpAddr)] {
        &self.0.options.resolve
    }

    /// Names of all host functions, as `(module, name)`.
    pub fn host_functions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.engine.host_functions()
    }

    /// Compiles (or finds in the cache) a module from Wasm binary or text,
    /// checking that every import is a host function of the right type.
    pub fn compile(&self, bytes: &[u8]) -> Result<ModuleHandle, LoadError> {
        self.0.engine.compile(bytes)
    }


    /// Builds the per-process contexts of every host module for a process
    /// with `config`.
    pub(crate) fn new_contexts(&self, config: &ProcessConfig) -> anyhow::Result<Contexts> {
        let mut contexts = Contexts::default();
        for make in &self.0.contexts {
            make(config, &mut contexts)?;
        }
        Ok(contexts)
    }

    /// Instantiates a process and starts running it; it is registered in
    /// `env` when this returns (see [`Runtime::prepare`]).
    pub fn spawn(&self, env: &Arc<Environment>, options: SpawnOptions) -> anyhow::Result<ProcessHandle> {
        let (handle, task) = self.prepare(env, options)?;
        self.scheduler().spawn(task);
        Ok(handle)
    }

    /// Instantiates and registers a process and returns the task that runs
    /// it (the process driver's, installed by the layer above).
    pub(crate) fn prepare(
        &self,
        env: &Arc<Environment>,
        options: SpawnOptions,
    ) -> anyhow::Result<(ProcessHandle, BoxFuture<()>)> {
        (self.0.launcher)(self, env, options, Instantiate::Now)
    }

    /// Registers a process and returns the task that instantiates and
    /// runs it (see [`Instantiate::InTask`]).
    pub(crate) fn prepare_in_task(
        &self,
        env: &Arc<Environment>,
        options: SpawnOptions,
    ) -> anyhow::Result<(ProcessHandle, BoxFuture<()>)> {
        (self.0.launcher)(self, env, options, Instantiate::InTask)
    }
}

