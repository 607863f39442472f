//! Processes: one wasmi store and instance each, driven as a future.
//!
//! A process owns its [`state::ProcessState`] (the store data: resource tables,
//! scratch message, mailbox, links, WASI context) and is reachable from the
//! outside only through its [`ProcessHandle`], which queues signals.

mod config;
mod driver;
mod handle;
mod idle;
mod mailbox;
mod state;
mod stdio;

pub use config::{Preopen, ProcessConfig, FUEL_UNIT};
pub use handle::ProcessHandle;
pub use stdio::{InheritStdio, Stdio};

pub(crate) use driver::{completion, done, suspend, Completion, Pending, TIMEOUT};
pub(crate) use handle::Signal;
pub(crate) use config::WasiStrings;
pub(crate) use idle::IdleWatch;
pub(crate) use state::{Link, ProcessState};

use crate::engine::Runtime;
use crate::environment::Environment;
use crate::module::ModuleHandle;
use std::sync::Arc;

/// Fuel a module's start section may use during instantiation (~50 ms); it
/// runs before the process is scheduled, so it cannot be preempted.
const START_FUEL: u64 = 100_000_000;

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The entry function returned, or WASI `proc_exit(0)`.
    Returned,
    /// WASI `proc_exit(code)` with a non-zero code.
    Exited(i32),
    /// A trap in guest code or a host call (the text says which).
    Trapped(String),
    /// A kill signal.
    Killed,
    /// A linked process failed and this one did not trap link deaths.
    LinkFailed,
    /// The `max_fuel` budget ran out.
    OutOfFuel,
}

impl Exit {
    /// Whether links see this as a failure.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Exit::Returned)
    }

    /// The exit status the CLI reports when the root process ends this way:
    /// the `proc_exit` code, 0 for a normal return, 101 (Rust's panic status)
    /// for any other failure.
    pub fn status(&self) -> i32 {
        match self {
            Exit::Returned => 0,
            Exit::Exited(code) => *code,
            _ => 101,
        }
    }
}

/// Called once with the exit reason when a process has ended.
pub type OnExit = Box<dyn FnOnce(&Exit) + Send>;

/// Everything needed to start a process.
pub struct SpawnOptions {
    /// The module to instantiate.
    pub module: ModuleHandle,
    /// Its permissions, limits and WASI view.
    pub config: Arc<ProcessConfig>,
    /// Name of the export to call.
    pub entry: String,
    /// Arguments for the entry function.
    pub params: Vec<wasmi::Val>,
    /// Link to a parent: (parent, tag the parent receives if this child dies).
    pub link: Option<(ProcessHandle, i64)>,
    /// Standard streams.
    pub stdio: Arc<dyn Stdio>,
    /// Told how the process ended.
    pub on_exit: Option<OnExit>,
}

/// Instantiates a process and starts running it.
///
/// The process is registered in `env` before this returns, so the caller may
/// send to it at once. Instantiation errors (including a trapping start
/// section or memory above `max_memory`) are returned; a missing entry export
/// is not an error here: the process starts and fails immediately.
pub fn spawn(
    runtime: &Runtime,
    env: &Arc<Environment>,
    options: SpawnOptions,
) -> anyhow::Result<ProcessHandle> {
    let (handle, task) = prepare(runtime, env, options)?;
    runtime.scheduler().spawn(task);
    Ok(handle)
}

/// Instantiates and registers a process and returns the task that runs it,
/// for the caller to start when it sees fit.
pub(crate) fn prepare(
    runtime: &Runtime,
    env: &Arc<Environment>,
    options: SpawnOptions,
) -> anyhow::Result<(ProcessHandle, crate::scheduler::BoxFuture<()>)> {
    let id = env.next_process_id();
    let handle = ProcessHandle::new(id);
    let SpawnOptions { module, config, entry, params, link, stdio, on_exit } = options;
    let state = ProcessState::new(runtime, env, handle.clone(), module.clone(), config, stdio)?;
    let mut store = wasmi::Store::new(runtime.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_fuel(START_FUEL).expect("fuel metering is always on");
    let instance = match runtime.linker().instantiate_and_start(&mut store, module.wasmi()) {
        Ok(instance) => instance,
        Err(error) => {
            let error = crate::errors::one_line(&error);
            store.into_data().abandon(env, &Exit::Trapped(error.clone()));
            anyhow::bail!(error);
        }
    };
    let memory = instance.get_memory(&store, "memory");
    {
        let state = store.data_mut();
        state.instance = Some(instance);
        state.memory = memory;
        state.initialized = true;
        if let Some((parent, tag)) = link {
            state.links.insert(parent.id(), Link { tag, handle: parent });
        }
    }
    env.insert(handle.clone());
    crate::metrics::count(crate::metrics::Counter::ProcessesSpawned, 1);
    let task_env = env.clone();
    let task_handle = handle.clone();
    let task = Box::pin(async move {
        let (exit, state) = driver::run(store, instance, entry, params).await;
        state.finish(&task_env, &task_handle, &exit);
        crate::metrics::count(crate::metrics::Counter::ProcessesFinished, 1);
        if let Some(on_exit) = on_exit {
            on_exit(&exit);
        }
    });
    Ok((handle, task))
}
